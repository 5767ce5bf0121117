/**
 * A private network namespace for bench/xdp.bench.ts, so that the
 * bpf_fib_lookup() calls inside BPF_PROG_TEST_RUN give the same answer on
 * every machine (test/xdp-lb-bpftool.test.ts does the same with two
 * namespaces).
 *
 * BPF_PROG_TEST_RUN runs an XDP program in the network namespace of the
 * calling thread: the default ingress device is that namespace's loopback,
 * and `ingress_ifindex` in the context is looked up there. Rather than
 * re-executing itself under `nsenter`, the bench moves its own main thread
 * (the one that issues the syscalls) into the namespace with setns(2),
 * through koffi, and back out at the end.
 *
 * Inside the namespace:
 *   - lo: IPv4 and IPv6 forwarding off. A frame "received" on lo (test run
 *     without a context) gets BPF_FIB_LKUP_RET_FWD_DISABLED from the FIB,
 *     and the program uses the configured fallback MAC: the fallback path.
 *   - wp0 (veth, peer wp1): forwarding on for this device only, addresses
 *     from the encapsulation sources, a /24 and a /64 towards the backends,
 *     permanent neighbour entries for each backend. A frame received on wp0
 *     gets BPF_FIB_LKUP_RET_SUCCESS with MACs from the neighbour table,
 *     egress = ingress, so XDP_TX: the FIB path.
 * Forwarding is a per-device check in bpf_fib_lookup() (IN_DEV_FORWARD,
 * idev->cnf.forwarding of the ingress device), so both paths coexist.
 *   - wp1: wp0's peer, where frames a live-frames test run transmits with
 *     XDP_TX arrive; the bench attaches bench/xdp/peer.c to it (a veth
 *     takes XDP frames only when its peer has an XDP program).
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";

const CLONE_NEWNET = 0x40000000;

/** What goes into the namespace. */
export interface NetnsSpec {
  /** The routed device's MAC (source MAC of FIB-resolved frames). */
  deviceMac: string;
  /** Addresses of the routed device, with prefix: the encapsulation sources. */
  addresses: string[];
  /** Permanent neighbour entries on the routed device. */
  neighbours: { address: string; mac: string }[];
}

/** The namespace, entered or not. */
export interface BenchNetns {
  readonly name: string;
  /** ifindex of wp0, for the XDP context's ingress_ifindex. */
  readonly routedIfindex: number;
  /** ifindex of wp1, wp0's veth peer: where XDP_TX frames of live-frames runs arrive. */
  readonly peerIfindex: number;
  /** Moves the calling (main) thread into the namespace. */
  enter(): Promise<void>;
  /** Moves the calling thread back to the namespace it came from. Idempotent. */
  leave(): void;
  /** leave(), then deletes the namespace. Idempotent, never throws. */
  destroy(): void;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}${r.stdout}`.trim());
  return r.stdout;
}

let setnsFn: ((fd: number, nstype: number) => number) | undefined;
let errnoFn: (() => number) | undefined;

async function setns(fd: number, what: string): Promise<void> {
  if (!setnsFn) {
    // No casts on koffi's types: its function objects are typed (...args: any[]) => any.
    const { default: koffi } = await import("koffi");
    const fn = koffi.load("libc.so.6").func("int setns(int fd, int nstype)");
    setnsFn = (nsFd, nstype) => Number(fn(nsFd, nstype));
    errnoFn = () => koffi.errno();
  }
  if (setnsFn(fd, CLONE_NEWNET) !== 0) throw new Error(`setns(${what}) failed: errno ${errnoFn!()}`);
}

/** Creates and configures the namespace (needs root and iproute2); does not enter it. */
export function createNetns(name: string, spec: NetnsSpec): BenchNetns {
  const run = (...args: string[]) => sh("ip", ["-n", name, ...args]);
  sh("ip", ["netns", "add", name]);
  let routedIfindex: number;
  let peerIfindex: number;
  try {
    // Forwarding off everywhere first (a new namespace may inherit IPv4 settings from the host's).
    sh("ip", ["netns", "exec", name, "sysctl", "-qw",
      "net.ipv4.conf.all.forwarding=0", "net.ipv4.conf.default.forwarding=0", "net.ipv4.conf.lo.forwarding=0",
      "net.ipv6.conf.all.forwarding=0", "net.ipv6.conf.default.forwarding=0"]);
    run("link", "set", "lo", "up");
    run("link", "add", "wp0", "type", "veth", "peer", "name", "wp1");
    run("link", "set", "wp0", "address", spec.deviceMac, "up");
    run("link", "set", "wp1", "up");
    for (const a of spec.addresses) run(...(a.includes(":") ? ["-6", "addr", "add", a, "dev", "wp0", "nodad"] : ["addr", "add", a, "dev", "wp0"]));
    for (const n of spec.neighbours) run("neigh", "add", n.address, "lladdr", n.mac, "dev", "wp0", "nud", "permanent");
    sh("ip", ["netns", "exec", name, "sysctl", "-qw", "net.ipv4.conf.wp0.forwarding=1", "net.ipv6.conf.wp0.forwarding=1"]);
    const ifindexOf = (dev: string) => (JSON.parse(run("-j", "link", "show", dev)) as { ifindex: number }[])[0]!.ifindex;
    routedIfindex = ifindexOf("wp0");
    peerIfindex = ifindexOf("wp1");
  } catch (error) {
    spawnSync("ip", ["netns", "del", name]);
    throw error;
  }

  let origin: number | undefined; // our thread's namespace while we are inside the bench's
  let destroyed = false;
  const ns: BenchNetns = {
    name,
    routedIfindex,
    peerIfindex,
    async enter() {
      if (origin !== undefined) return;
      // setns(2) moves only the calling thread: the main thread, which issues every test run.
      const back = openSync("/proc/thread-self/ns/net", "r");
      const target = openSync(`/run/netns/${name}`, "r");
      try {
        await setns(target, name);
        origin = back;
      } catch (error) {
        closeSync(back);
        throw error;
      } finally {
        closeSync(target);
      }
    },
    leave() {
      if (origin === undefined) return;
      if (setnsFn!(origin, CLONE_NEWNET) !== 0) throw new Error(`setns(back) failed: errno ${errnoFn!()}`);
      closeSync(origin);
      origin = undefined;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        ns.leave();
      } catch (error) {
        process.stderr.write(`warning: ${(error as Error).message}\n`);
      }
      spawnSync("ip", ["netns", "del", name]);
    },
  };
  return ns;
}
