// Turns transmit checksum offload of an interface off, as
// `ethtool -K <iface> tx off` would, for machines without ethtool:
//
//   node tx-checksum.mjs <iface>       (inside the interface's namespace)
//
// Why `wasmplane demo` needs it on the client: a veth "offloads" TCP
// checksums by not computing them, and the receiving namespace trusts the
// skb's metadata. The load balancer sends the client's packets on with
// XDP_TX, which keeps only the bytes, so the backend would see checksum
// fields holding the pseudo-header sum alone and drop every segment. A
// real NIC puts full checksums on the wire; with the offload off, the
// client's stack does the same.
//
// SIOCETHTOOL with ETHTOOL_STXCSUM, read back with ETHTOOL_GTXCSUM, through
// koffi (a dependency of wasmplane). Prints `tx-checksum <iface> off` and
// exits 0, or exits 1 with the reason.
import koffi from "koffi";

const [iface] = process.argv.slice(2);
if (!iface || iface.length > 15) {
  process.stderr.write("usage: tx-checksum.mjs <iface>\n");
  process.exit(2);
}

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCETHTOOL = 0x8946;
const ETHTOOL_GTXCSUM = 0x16;
const ETHTOOL_STXCSUM = 0x17;
/** struct ifreq on 64-bit Linux: name[16], then the union holding ifr_data. */
const IFREQ_SIZE = 40;

const libc = koffi.load("libc.so.6");
const socket = libc.func("int socket(int domain, int type, int protocol)");
const ioctl = libc.func("int ioctl(int fd, unsigned long request, void *arg)");
const close = libc.func("int close(int fd)");
const errnoLocation = libc.func("int *__errno_location(void)");
const errno = () => koffi.decode(errnoLocation(), "int");

/** One SIOCETHTOOL call with a struct ethtool_value { u32 cmd; u32 data; }; returns data. */
function ethtool(fd, cmd, data) {
  const value = koffi.alloc("uint32_t", 2);
  try {
    koffi.encode(value, koffi.array("uint32_t", 2), [cmd, data]);
    const ifreq = Buffer.alloc(IFREQ_SIZE);
    ifreq.write(iface, 0, "latin1");
    ifreq.writeBigUInt64LE(BigInt(koffi.address(value)), 16);
    if (ioctl(fd, SIOCETHTOOL, ifreq) < 0) throw new Error(`SIOCETHTOOL 0x${cmd.toString(16)} on ${iface}: errno ${errno()}`);
    return koffi.decode(value, koffi.array("uint32_t", 2))[1];
  } finally {
    koffi.free(value);
  }
}

const fd = socket(AF_INET, SOCK_DGRAM, 0);
if (fd < 0) {
  process.stderr.write(`tx-checksum: socket: errno ${errno()}\n`);
  process.exit(1);
}
try {
  ethtool(fd, ETHTOOL_STXCSUM, 0);
  const on = ethtool(fd, ETHTOOL_GTXCSUM, 0) !== 0;
  process.stdout.write(`tx-checksum ${iface} ${on ? "on" : "off"}\n`);
  process.exitCode = on ? 1 : 0;
} catch (error) {
  process.stderr.write(`tx-checksum: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  close(fd);
}
