// Turns transmit checksum offload of a network interface off (or on), as
// `ethtool -K <iface> tx off` does, for machines without ethtool:
//
//   ip netns exec <ns> node test/support/netns/tx-checksum.mjs <iface> off|on
//
// Why test/lb-e2e.test.ts needs it: a veth "offloads" TCP/UDP checksums by
// never computing them (the skb stays CHECKSUM_PARTIAL and the receiving
// namespace trusts it). A frame that the load balancer sends back with XDP_TX
// loses that metadata: it leaves as raw bytes with a checksum field holding
// only the pseudo-header sum, and the backend drops it (TcpInCsumErrors).
// A real client's NIC puts complete checksums on the wire; turning the
// offload off on the client's veth makes its stack do the same.
//
// Legacy ethtool ioctl through koffi (a dependency of the project):
// SIOCETHTOOL with ETHTOOL_STXCSUM, then ETHTOOL_GTXCSUM to read it back.
// Prints `tx-checksum <iface> off|on` (the state read back) and exits 0.
import koffi from "koffi";

const [iface, state] = process.argv.slice(2);
if (!iface || iface.length > 15 || (state !== "off" && state !== "on")) {
  process.stderr.write("usage: tx-checksum.mjs <iface> off|on\n");
  process.exit(2);
}

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCETHTOOL = 0x8946;
const ETHTOOL_GTXCSUM = 0x16;
const ETHTOOL_STXCSUM = 0x17;

const libc = koffi.load("libc.so.6");
const socket = libc.func("int socket(int domain, int type, int protocol)");
const ioctl = libc.func("int ioctl(int fd, unsigned long request, void *arg)");
const close = libc.func("int close(int fd)");
const errnoLocation = libc.func("int *__errno_location(void)");
const errno = () => koffi.decode(errnoLocation(), "int");

/** SIOCETHTOOL with a struct ethtool_value { u32 cmd; u32 data; }; returns data. */
function ethtool(fd, cmd, data) {
  const value = koffi.alloc("uint32_t", 2);
  try {
    koffi.encode(value, koffi.array("uint32_t", 2), [cmd, data]);
    // struct ifreq: char ifr_name[16]; union { ...; void *ifr_data; } (40 bytes on 64-bit).
    const ifreq = Buffer.alloc(40);
    ifreq.write(iface, 0, "latin1");
    ifreq.writeBigUInt64LE(koffi.address(value), 16);
    if (ioctl(fd, SIOCETHTOOL, ifreq) < 0) throw new Error(`SIOCETHTOOL ${cmd.toString(16)} on ${iface}: errno ${errno()}`);
    return koffi.decode(value, koffi.array("uint32_t", 2))[1];
  } finally {
    koffi.free(value);
  }
}

const fd = socket(AF_INET, SOCK_DGRAM, 0);
if (fd < 0) throw new Error(`socket: errno ${errno()}`);
try {
  ethtool(fd, ETHTOOL_STXCSUM, state === "on" ? 1 : 0);
  const now = ethtool(fd, ETHTOOL_GTXCSUM, 0) ? "on" : "off";
  process.stdout.write(`tx-checksum ${iface} ${now}\n`);
  process.exit(now === state ? 0 : 1);
} finally {
  close(fd);
}
