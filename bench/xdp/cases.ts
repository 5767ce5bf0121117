/**
 * What bench/xdp.bench.ts measures: the load balancer's scenario (one
 * configuration, three services, six backends), the packets of each path,
 * and the checks that a packet really takes the path its row names.
 *
 * Every case is verified before it is timed: the verdict, the output frame
 * (encapsulated to one of the service's backends with the expected MACs, or
 * untouched), the flow LRU state (a new-flow packet must insert an entry, an
 * established one must find it) and the drop counter. A case that does not
 * take its path aborts the bench rather than time the wrong thing.
 */
import { DROP_REASON } from "../../src/bpf/drop-reasons.js";
import { ethernet, ETH_P_IP, ETH_P_IPV6, ip, IPPROTO, ipv4, ipv6, mac, tcp, udp } from "../../test/fixtures/bpf/packets.js";
import type { Flow, LbBackend, LbScenario, LbService } from "./lb-maps.js";
import type { Method } from "./measure.js";

export const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
const VERDICT_NAME: Record<number, string> = { 0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT" };

// ---- The scenario ---------------------------------------------------------------------

export const LB_MAC = "02:00:00:00:00:10"; // destination MAC of client frames (the LB's interface)
const CLIENT_MAC = "02:00:00:00:00:20";
export const FALLBACK_MAC = "02:00:00:00:00:fe";
export const DEVICE_MAC = "02:00:00:00:00:aa"; // wp0 in the bench's namespace
export const ENCAP_SRC_V4 = "10.0.0.254";
export const ENCAP_SRC_V6 = "fd00:1::fe";
const VIP4 = "192.0.2.10";
const VIP6 = "2001:db8::10";
const NOT_A_VIP4 = "198.51.100.1";

export const BACKENDS: LbBackend[] = [
  { id: 1, address: "10.0.0.1", port: 8080 },
  { id: 2, address: "10.0.0.2", port: 8080 },
  { id: 3, address: "10.0.0.3", port: 8080 },
  { id: 4, address: "fd00:1::1", port: 8080 },
  { id: 5, address: "fd00:1::2", port: 8080 },
  { id: 6, address: "fd00:1::3", port: 8080 },
];
/** MAC of each backend in the namespace's neighbour table. */
export const neighbourMac = (b: LbBackend): string => `02:00:00:00:01:0${b.id}`;
const byId = (ids: number[]) => ids.map((id) => BACKENDS.find((b) => b.id === id)!);

/** Services without their Maglev tables (the bench builds those with createMaglev()). */
export const SERVICES: Omit<LbService, "maglevTable">[] = [
  { id: 1, vip: VIP4, port: 80, protocol: IPPROTO.TCP, algorithm: "maglev", backends: [1, 2, 3] },
  { id: 2, vip: VIP6, port: 53, protocol: IPPROTO.UDP, algorithm: "maglev", backends: [4, 5, 6] },
  { id: 3, vip: VIP4, port: 8080, protocol: IPPROTO.TCP, algorithm: "random", backends: [1, 2, 3] },
];

export function scenario(tables: ReadonlyMap<number, Uint32Array>): LbScenario {
  return {
    encapSrcV4: ENCAP_SRC_V4, encapSrcV6: ENCAP_SRC_V6, fallbackMac: FALLBACK_MAC,
    vips: [VIP4, VIP6], backends: BACKENDS,
    services: SERVICES.map((s) => (s.algorithm === "maglev" ? { ...s, maglevTable: tables.get(s.id)! } : s)),
  };
}

// ---- Packets -----------------------------------------------------------------------------

/** Distinct flows per case, used in turn: spreads the hash over Maglev slots and LRU buckets. */
export const FLOWS_PER_CASE = 254;
const PAYLOAD = Buffer.alloc(64, 0x61);

/** FLOWS_PER_CASE client flows; `set` keeps the flows of different cases apart (no shared LRU entries). */
function clientFlows(set: number, v6: boolean, dst: string, dport: number, protocol: number): Flow[] {
  return Array.from({ length: FLOWS_PER_CASE }, (_, i) => ({
    // RFC 2544 / RFC 5180 benchmarking ranges for the clients.
    src: v6 ? `2001:2:0:${set.toString(16)}::${(i + 1).toString(16)}` : `198.18.${set}.${i + 1}`,
    dst, sport: 10_000 + i, dport, protocol,
  }));
}

function frameOf(f: Flow): Buffer {
  const l4 = f.protocol === IPPROTO.TCP ? tcp({ ...f, flags: 0x10 }, PAYLOAD) : udp(f, PAYLOAD);
  return ip(f.src).length === 4
    ? ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: f.dst, protocol: f.protocol, df: true }, l4))
    : ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6, ipv6({ src: f.src, dst: f.dst, nextHeader: f.protocol }, l4));
}

// ---- Cases -------------------------------------------------------------------------------

/** What the program must do with every packet of a case. */
export type Expectation =
  | { kind: "tx"; backends: LbBackend[]; macs: "fallback" | "fib" }
  | { kind: "pass" }
  | { kind: "drop"; reason: number };

export interface Case {
  id: string;
  /** The row's name. */
  path: string;
  method: Method;
  frames: Buffer[];
  flows: Flow[];
  /** new: the bench deletes each packet's flow entry after it ran; established: entries exist before. */
  flowState?: "new" | "established";
  /** Received on the namespace's routed device (FIB path) instead of lo (fallback MAC path). */
  routed?: boolean;
  expect: Expectation;
  /** A cross-check row: the same packets as case `crossCheckOf`, timed with the other method. */
  crossCheckOf?: string;
  /** The no-op timed against: noop.c's XDP_PASS program (default) or its XDP_TX one. */
  baseline?: "pass" | "tx";
  /**
   * Live frames, new flows: offsets in the frame of the client address's last
   * two bytes and of the client port, which the peer rewrites on every
   * recycled frame (bench/xdp/peer.c).
   */
  vary?: { saddr: number; sport: number };
}

export function cases(): Case[] {
  const frames = (flows: Flow[]) => flows.map(frameOf);
  const tx = (serviceId: number, macs: "fallback" | "fib" = "fallback"): Expectation =>
    ({ kind: "tx", backends: byId(SERVICES.find((s) => s.id === serviceId)!.backends), macs });
  const forwarded = (id: string, path: string, set: number, v6: boolean, dst: string, dport: number, protocol: number, flowState: "new" | "established", expect: Expectation, routed = false): Case => {
    const flows = clientFlows(set, v6, dst, dport, protocol);
    return { id, path, method: "loop1", frames: frames(flows), flows, flowState, expect, ...(routed ? { routed } : {}) };
  };
  const notVip = clientFlows(7, false, NOT_A_VIP4, 80, IPPROTO.TCP);
  const malformed = clientFlows(8, false, VIP4, 80, IPPROTO.TCP);
  const pass: Case = { id: "pass-not-a-vip", path: "IPv4 TCP to an address that is no VIP", method: "repeatN", frames: frames(notVip), flows: notVip, expect: { kind: "pass" } };
  const drop: Case = {
    id: "drop-malformed", path: "IPv4 TCP to a VIP, total length beyond the frame", method: "repeatN",
    // The IPv4 total length says 10 bytes more than the frame holds: WP_DROP_MALFORMED (the destination is a VIP).
    frames: frames(malformed).map((f) => f.subarray(0, f.length - 10)), flows: malformed,
    expect: { kind: "drop", reason: DROP_REASON.MALFORMED },
  };
  return [
    forwarded("v4-tcp-maglev-new", "IPv4 TCP → Maglev service, new flow (LRU miss + insert)", 1, false, VIP4, 80, IPPROTO.TCP, "new", tx(1)),
    forwarded("v4-tcp-maglev-established", "IPv4 TCP → Maglev service, established flow (LRU hit)", 2, false, VIP4, 80, IPPROTO.TCP, "established", tx(1)),
    forwarded("v6-udp-maglev-new", "IPv6 UDP → Maglev service, new flow", 3, true, VIP6, 53, IPPROTO.UDP, "new", tx(2)),
    forwarded("v6-udp-maglev-established", "IPv6 UDP → Maglev service, established flow", 4, true, VIP6, 53, IPPROTO.UDP, "established", tx(2)),
    forwarded("v4-tcp-random-new", "IPv4 TCP → random service, new flow", 5, false, VIP4, 8080, IPPROTO.TCP, "new", tx(3)),
    forwarded("v4-tcp-maglev-established-fib", "IPv4 TCP → Maglev service, established, next hop from the FIB", 6, false, VIP4, 80, IPPROTO.TCP, "established", tx(1, "fib"), true),
    pass,
    drop,
    { ...pass, id: `${pass.id}-loop1`, method: "loop1", crossCheckOf: pass.id },
    { ...drop, id: `${drop.id}-loop1`, method: "loop1", crossCheckOf: drop.id },
  ];
}

/**
 * The live-frames cases: the fast path (XDP_TX with encapsulation, next hop
 * from the FIB, received on wp0) with every run starting from the input,
 * hot. One packet per case: the kernel repeats the one frame, so after its
 * first run a flow is established; new flows come from the peer rewriting
 * the client address and port of every recycled frame (case.vary).
 */
export function liveCases(): Case[] {
  const flow = (v6: boolean, set: number): Flow => v6
    ? { src: `2001:2:0:${set.toString(16)}::1`, dst: VIP6, sport: 10_000, dport: 53, protocol: IPPROTO.UDP }
    : { src: `198.18.${set}.1`, dst: VIP4, sport: 10_000, dport: 80, protocol: IPPROTO.TCP };
  const tx = (serviceId: number): Expectation => ({ kind: "tx", backends: byId(SERVICES.find((s) => s.id === serviceId)!.backends), macs: "fib" });
  // Offsets in the frame: the last two bytes of the client address, the client port.
  const VARY = { v4: { saddr: 14 + 12 + 2, sport: 14 + 20 }, v6: { saddr: 14 + 8 + 14, sport: 14 + 40 } };
  const make = (id: string, path: string, v6: boolean, set: number, flowState: "new" | "established", method: Method, baseline: "pass" | "tx"): Case => {
    const f = flow(v6, set);
    return {
      id, path, method, frames: [frameOf(f)], flows: [f], flowState, routed: true, expect: tx(v6 ? 2 : 1), baseline,
      ...(flowState === "new" ? { vary: VARY[v6 ? "v6" : "v4"] } : {}),
    };
  };
  const v4est = "IPv4 TCP → Maglev service, established flow (LRU hit), next hop from the FIB";
  const v6est = "IPv6 UDP → Maglev service, established flow (LRU hit), next hop from the FIB";
  const v4new = "IPv4 TCP → Maglev service, new flow every packet (LRU full: insert evicts), next hop from the FIB";
  const v6new = "IPv6 UDP → Maglev service, new flow every packet (LRU full: insert evicts), next hop from the FIB";
  return [
    make("live-v4-tcp-maglev-established", v4est, false, 9, "established", "live", "tx"),
    make("live-v6-udp-maglev-established", v6est, true, 10, "established", "live", "tx"),
    make("live-v4-tcp-maglev-new", v4new, false, 11, "new", "live", "tx"),
    make("live-v6-udp-maglev-new", v6new, true, 12, "new", "live", "tx"),
    make("live-v4-tcp-maglev-established-vs-pass", v4est, false, 9, "established", "live", "pass"),
    make("live-v6-udp-maglev-established-vs-pass", v6est, true, 10, "established", "live", "pass"),
    make("runtime-v4-tcp-maglev-established", v4est, false, 9, "established", "liveStats", "pass"),
    make("runtime-v6-udp-maglev-established", v6est, true, 10, "established", "liveStats", "pass"),
    make("runtime-v4-tcp-maglev-new", v4new, false, 11, "new", "liveStats", "pass"),
    make("runtime-v6-udp-maglev-new", v6new, true, 12, "new", "liveStats", "pass"),
  ];
}

// ---- Checks ----------------------------------------------------------------------------------

const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/**
 * Checks one run's verdict and output frame against `expect`; returns the
 * backend a forwarded packet went to. Throws with the case and packet named.
 */
export function checkRun(c: Case, frameIndex: number, retval: number, out: Uint8Array): LbBackend | undefined {
  const frame = c.frames[frameIndex]!;
  const where = `case ${c.id}, packet ${frameIndex} (${c.flows[frameIndex]!.src}:${c.flows[frameIndex]!.sport})`;
  const fail = (why: string): never => { throw new Error(`${where}: ${why}`); };
  const e = c.expect;
  if (e.kind === "pass" || e.kind === "drop") {
    const want = e.kind === "pass" ? XDP.PASS : XDP.DROP;
    if (retval !== want) fail(`verdict ${VERDICT_NAME[retval] ?? retval}, expected ${VERDICT_NAME[want]}`);
    // The precondition of timing with repeat > 1: the output is the input.
    if (!equal(out, frame)) fail("the program changed the packet; repeat > 1 would not rerun the same input");
    return undefined;
  }
  if (retval !== XDP.TX) fail(`verdict ${VERDICT_NAME[retval] ?? retval}, expected XDP_TX`);
  const o = Buffer.from(out);
  const outerV4 = o.readUInt16BE(12) === ETH_P_IP;
  const outerLen = outerV4 ? 20 : 40;
  if (o.length !== frame.length + outerLen) fail(`output is ${o.length} bytes, expected ${frame.length} + ${outerLen}`);
  if (!equal(o.subarray(14 + outerLen), frame.subarray(14))) fail("the inner packet is not the input packet");
  const dst = outerV4 ? o.subarray(14 + 16, 14 + 20) : o.subarray(14 + 24, 14 + 40);
  const src = outerV4 ? o.subarray(14 + 12, 14 + 16) : o.subarray(14 + 8, 14 + 24);
  if (!equal(src, ip(outerV4 ? ENCAP_SRC_V4 : ENCAP_SRC_V6))) fail("outer source is not the configured encapsulation source");
  const backend = e.backends.find((b) => equal(ip(b.address), dst)) ?? fail(`outer destination ${Buffer.from(dst).toString("hex")} is none of the service's backends`);
  const macs = e.macs === "fallback" ? { dst: FALLBACK_MAC, src: LB_MAC } : { dst: neighbourMac(backend), src: DEVICE_MAC };
  if (!equal(o.subarray(0, 6), mac(macs.dst)) || !equal(o.subarray(6, 12), mac(macs.src))) {
    fail(`MACs ${o.subarray(0, 12).toString("hex")}, expected ${macs.dst} ← ${macs.src} (${e.macs === "fallback" ? "fallback MAC path" : "FIB path"})`);
  }
  return backend;
}
