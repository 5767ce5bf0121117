/**
 * bpf/xdp_lb.c end to end through BPF_PROG_TEST_RUN, driven by bpftool only
 * (no TypeScript host layer): build with scripts/build-bpf.mjs, load with
 * `bpftool prog loadall` (the verifier must accept it), write the maps with
 * `bpftool map update` / `bpftool batch`, run crafted frames with
 * `bpftool prog run`, and compare verdicts and output frames byte for byte
 * with frames built independently (test/fixtures/bpf/packets.ts). Backends
 * are predicted with the TypeScript flow-hash model
 * (test/fixtures/bpf/flow-hash.ts) and Maglev tables from createMaglev().
 *
 * Runs need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN), clang, bpftool,
 * iproute2 and nsenter. Without them the suite is skipped with the reason;
 * with CI=true that is a failure. Frames run inside network namespaces the
 * suite creates, so bpf_fib_lookup() answers are deterministic: "empty" has
 * forwarding disabled (every lookup falls back to the configured MAC),
 * "routed" has a veth device, routes and permanent neighbours.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createMaglev, decodeHashSeed, DEFAULT_TABLE_SIZE } from "../src/index.js";
import { buildBpf } from "../scripts/build-bpf.mjs";
import { fileURLToPath } from "node:url";
import { flowHash, jhash, jhash2words, jhash3words, maglevSlot, type Flow, type FlowSeeds } from "./fixtures/bpf/flow-hash.js";
import {
  crc32c, describeDifference, internetChecksum as checksum16, ethernet, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, icmpFragNeeded, icmpv4,
  icmpv6PacketTooBig, ip, ip16, ipv4, ipv6, ipv6FragmentHeader, ipv6OptionsHeader, IPPROTO, sctp, tcp, TCP_FLAGS, udp,
} from "./fixtures/bpf/packets.js";

// ---- Stable numbers (bpf/include/wasmplane/drop_reasons.h, linux/bpf.h) ------------

const DROP = {
  NO_BACKEND: 1, MALFORMED: 2, UNSUPPORTED_PROTOCOL: 3, FIB_LOOKUP_FAILED: 4, ENCAP_FAILED: 5,
  NO_SERVICE: 6, FRAGMENT_UNKNOWN: 7, FRAG_NEEDED: 8, UNKNOWN_ALGORITHM: 9, EXT_HDR_LIMIT: 10,
} as const;
const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
/** sizeof(struct wp_next_hop_entry), abi.h. */
const NEXT_HOP_ENTRY_SIZE = 48;

// ---- The scenario ------------------------------------------------------------------

const LB_MAC = "02:00:00:00:00:10"; // the interface the program runs on (frames' destination)
const CLIENT_MAC = "02:00:00:00:00:20";
const FALLBACK_MAC = "02:00:00:00:00:fe";
const ROUTED_DEV_MAC = "02:00:00:00:00:aa";
const ENCAP_SRC_V4 = "10.0.0.254";
const ENCAP_SRC_V6 = "fd00:1::fe";
/** 12 bytes, not Cilium's default: proves the jhash knobs reach the program. */
const HASH_SEED = Buffer.from("wasmplane-12").toString("base64");

const VIP4 = "192.0.2.10";
const VIP4_MIXED = "192.0.2.20";
const VIP4_AFFINITY = "192.0.2.30";
const VIP6 = "2001:db8::10";
const NOT_A_VIP4 = "198.51.100.1";
const NOT_A_VIP6 = "2001:db8::99";

interface Backend { id: number; address: string; port: number }
const BACKENDS: Backend[] = [
  { id: 1, address: "10.0.0.1", port: 8080 },
  { id: 2, address: "10.0.0.2", port: 8080 },
  { id: 3, address: "10.0.0.3", port: 8080 },
  { id: 4, address: "fd00:1::1", port: 8080 },
  { id: 5, address: "fd00:1::2", port: 8080 },
  { id: 6, address: "fd00:1::3", port: 8080 },
  { id: 7, address: "10.0.0.7", port: 8080 }, // in no table: reached only through a flow entry
  { id: 9, address: "10.9.0.9", port: 8080 }, // blackholed in the routed namespace
];
const backend = (id: number): Backend => BACKENDS.find((b) => b.id === id) ?? assert.fail(`no backend ${id}`);

const ALG = { MAGLEV: 1, RANDOM: 2 } as const;
const AFFINITY_TIMEOUT_SEC = 60;

interface Service { id: number; vip: string; port: number; protocol: number; algorithm: number; backends: number[]; table?: "v4" | "v6"; affinity?: boolean }
const SERVICES: Service[] = [
  { id: 1, vip: VIP4, port: 80, protocol: IPPROTO.TCP, algorithm: ALG.MAGLEV, backends: [1, 2, 3], table: "v4" },
  { id: 2, vip: VIP6, port: 53, protocol: IPPROTO.UDP, algorithm: ALG.MAGLEV, backends: [4, 5, 6], table: "v6" },
  { id: 3, vip: VIP4, port: 9999, protocol: IPPROTO.SCTP, algorithm: ALG.RANDOM, backends: [1, 2, 3] },
  { id: 4, vip: VIP4, port: 443, protocol: IPPROTO.TCP, algorithm: ALG.MAGLEV, backends: [] },
  { id: 5, vip: VIP4_MIXED, port: 80, protocol: IPPROTO.TCP, algorithm: ALG.MAGLEV, backends: [4, 5, 6], table: "v6" },
  { id: 6, vip: VIP4_AFFINITY, port: 80, protocol: IPPROTO.TCP, algorithm: ALG.MAGLEV, backends: [1, 2, 3], table: "v4", affinity: true },
  { id: 7, vip: VIP4, port: 53, protocol: IPPROTO.UDP, algorithm: ALG.MAGLEV, backends: [1, 2, 3], table: "v4" },
  { id: 8, vip: VIP6, port: 9999, protocol: IPPROTO.SCTP, algorithm: ALG.MAGLEV, backends: [4, 5, 6], table: "v6" },
  { id: 10, vip: VIP4, port: 7777, protocol: IPPROTO.TCP, algorithm: 7, backends: [1] }, // unknown algorithm
  { id: 11, vip: VIP6, port: 80, protocol: IPPROTO.TCP, algorithm: ALG.MAGLEV, backends: [1, 2, 3], table: "v4" },
];
const service = (id: number): Service => SERVICES.find((s) => s.id === id) ?? assert.fail(`no service ${id}`);
const VIPS = [VIP4, VIP4_MIXED, VIP4_AFFINITY, VIP6];

// ---- Map encoders: the TypeScript side of bpf/include/wasmplane/abi.h ------------------
// Checked against the BTF clang emits (see "map layouts match abi.h").

const family = (addr: string) => (ip(addr).length === 4 ? 4 : 6);
const u16be = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u16le = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const u32le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const u64le = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const u8 = (...n: number[]) => Buffer.from(n);

const enc = {
  vipKey: (vip: string) => Buffer.concat([ip16(vip), u8(family(vip), 0, 0, 0)]),
  vipValue: () => u32le(0),
  serviceKey: (vip: string, port: number, protocol: number) => Buffer.concat([ip16(vip), u16be(port), u8(protocol, family(vip))]),
  serviceValue: (id: number, affinityTimeout: number, count: number, algorithm: number, flags: number, tableSlot = 0) =>
    Buffer.concat([u32le(id), u32le(affinityTimeout), u16le(count), u8(algorithm, flags, tableSlot, 0, 0, 0)]),
  backend: (b: Backend, flags = 0) => Buffer.concat([ip16(b.address), u16be(b.port), u8(family(b.address), flags)]),
  randomSlotKey: (serviceId: number, slot: number) => Buffer.concat([u32le(serviceId), u32le(slot)]),
  flowKey: (f: { src: string; dst: string; sport: number; dport: number; protocol: number }) =>
    Buffer.concat([ip16(f.src), ip16(f.dst), u16be(f.sport), u16be(f.dport), u8(f.protocol, family(f.dst), 0, 0)]),
  flowValue: (backendId: number, serviceId: number, lastSeenNs: bigint) => Buffer.concat([u32le(backendId), u32le(serviceId), u64le(lastSeenNs)]),
  affinityKey: (serviceId: number, client: string) => Buffer.concat([u32le(serviceId), u8(family(client), 0, 0, 0), ip16(client)]),
  affinityValue: (backendId: number, lastUsedNs: bigint) => Buffer.concat([u32le(backendId), u32le(0), u64le(lastUsedNs)]),
  config: (o: { srcV4: string | null; srcV6: string | null; fallbackMac: string | null }) => Buffer.concat([
    o.srcV6 ? ip(o.srcV6) : Buffer.alloc(16),
    o.srcV4 ? ip(o.srcV4) : Buffer.alloc(4),
    o.fallbackMac ? Buffer.from(o.fallbackMac.split(":").map((h) => parseInt(h, 16))) : Buffer.alloc(6),
    Buffer.alloc(6),
  ]),
};

/** Member offsets (bytes) and sizes the encoders above assume. */
const LAYOUT: Record<string, { size: number; members: Record<string, number> }> = {
  wp_vip_key: { size: 20, members: { vip: 0, family: 16, pad: 17 } },
  wp_service_key: { size: 20, members: { vip: 0, port: 16, protocol: 18, family: 19 } },
  wp_service_value: { size: 16, members: { service_id: 0, affinity_timeout_sec: 4, backend_count: 8, algorithm: 10, flags: 11, table_slot: 12, pad: 13 } },
  wp_backend: { size: 20, members: { addr: 0, port: 16, family: 18, flags: 19 } },
  wp_random_slot_key: { size: 8, members: { service_id: 0, slot: 4 } },
  wp_flow_key: { size: 40, members: { saddr: 0, daddr: 16, sport: 32, dport: 34, protocol: 36, family: 37, pad: 38 } },
  wp_flow_value: { size: 16, members: { backend_id: 0, service_id: 4, last_seen_ns: 8 } },
  wp_affinity_key: { size: 24, members: { service_id: 0, family: 4, pad: 5, client: 8 } },
  wp_affinity_value: { size: 16, members: { backend_id: 0, pad: 4, last_used_ns: 8 } },
  wp_counter: { size: 16, members: { packets: 0, bytes: 8 } },
  wp_config: { size: 32, members: { encap_src_v6: 0, encap_src_v4: 16, fallback_mac: 20, pad: 26 } },
};

// ---- Requirements -------------------------------------------------------------------

const strict = process.env.CI === "true";

function missingRequirement(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN) to load XDP programs and create network namespaces";
  const missing = ["clang", "bpftool", "ip", "nsenter", "taskset"].filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) return `needs ${missing.join(", ")} on PATH (Debian: apt-get install -y clang llvm libbpf-dev bpftool iproute2 util-linux)`;
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return "needs libbpf headers (/usr/include/bpf; Debian: libbpf-dev)";
  return undefined;
}

// ---- Process helpers ------------------------------------------------------------------

function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").replace(/(..)(?!$)/g, "$1 ");

interface Lab {
  work: string; // scratch directory for frames and batch files
  pins: string; // bpffs directory holding progs/ and maps/
  prog: string;
  maps: string;
  nsEmpty: string;
  nsRouted: string;
  routedIfindex: number;
  seeds: FlowSeeds;
  tableSize: number;
  tables: { v4: Uint32Array; v6: Uint32Array };
  verifierLog: string;
}

let lab: Lab;

function mapPath(name: string): string {
  return join(lab.maps, name);
}

function batch(lines: string[]): void {
  const file = join(lab.work, "batch.txt");
  writeFileSync(file, lines.join("\n") + "\n");
  sh("bpftool", ["batch", "file", file]);
}

function updateLine(map: string, key: Uint8Array, value: Uint8Array): string {
  return `map update pinned ${mapPath(map)} key hex ${hex(key)} value hex ${hex(value)}`;
}

function mapUpdate(map: string, key: Uint8Array, value: Uint8Array): void {
  batch([updateLine(map, key, value)]);
}

/** Every CPU's value of a per-CPU map entry (empty when the key is absent). */
function perCpuValues(map: string, key: Uint8Array): Buffer[] {
  const r = spawnSync("bpftool", ["-j", "map", "lookup", "pinned", mapPath(map), "key", "hex", ...hex(key).split(" ")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bpftool map lookup ${map}: ${r.stderr}${r.stdout}`);
  const parsed = JSON.parse(r.stdout) as { values?: { value: string[] }[] };
  return (parsed.values ?? []).map((v) => Buffer.from(v.value.map((x) => parseInt(x, 16))));
}

/** Empties the next-hop cache entries of the scenario's backends (every CPU), as a control plane does after a route change. */
function flushNextHops(): void {
  batch(BACKENDS.map((b) => updateLine("wp_next_hops", u32le(b.id), Buffer.alloc(NEXT_HOP_ENTRY_SIZE))));
}

/** The value bytes, or undefined when the key is absent. Per-CPU maps: summed per 8-byte word. */
function mapLookup(map: string, key: Uint8Array): Buffer | undefined {
  const r = spawnSync("bpftool", ["-j", "map", "lookup", "pinned", mapPath(map), "key", "hex", ...hex(key).split(" ")], { encoding: "utf8" });
  if (r.status !== 0) {
    // bpftool 7 prints `null` (with -j) or "Not found" for an absent key.
    if (r.stdout.trim() === "null" || /No such file or directory|not found/i.test(r.stderr + r.stdout)) return undefined;
    throw new Error(`bpftool map lookup ${map}: ${r.stderr}${r.stdout}`);
  }
  const parsed = JSON.parse(r.stdout) as { value?: string[]; values?: { value: string[] }[] };
  const bytes = (v: string[]) => Buffer.from(v.map((x) => parseInt(x, 16)));
  if (parsed.value) return bytes(parsed.value);
  const perCpu = (parsed.values ?? []).map((v) => bytes(v.value));
  const sum = Buffer.alloc(perCpu[0]?.length ?? 0);
  for (let off = 0; off + 8 <= sum.length; off += 8) {
    sum.writeBigUInt64LE(perCpu.reduce((acc, b) => acc + b.readBigUInt64LE(off), 0n), off);
  }
  return sum;
}

function counter(map: "wp_drop_counters" | "wp_service_counters" | "wp_backend_counters", index: number): { packets: bigint; bytes: bigint } {
  const v = mapLookup(map, u32le(index)) ?? assert.fail(`${map}[${index}] missing`);
  return { packets: v.readBigUInt64LE(0), bytes: v.readBigUInt64LE(8) };
}

const drops = (reason: number) => counter("wp_drop_counters", reason).packets;

interface RunResult { verdict: number; out: Buffer }

/**
 * Runs one frame through the program, inside network namespace `ns`,
 * optionally with an ingress device, and optionally on one CPU (`cpu`: the
 * next-hop cache is per CPU, so a test of what it keeps must run every
 * packet on the same one; a test run does not migrate while it runs).
 */
function run(frame: Buffer, opts: { ns?: string; ingressIfindex?: number; cpu?: number } = {}): RunResult {
  const input = join(lab.work, "in.bin");
  const output = join(lab.work, "out.bin");
  writeFileSync(input, frame);
  rmSync(output, { force: true });
  const args = ["-j", "prog", "run", "pinned", lab.prog, "data_in", input, "data_out", output, "data_size_out", String(frame.length + 128)];
  if (opts.ingressIfindex !== undefined) {
    const ctx = Buffer.alloc(24); // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    ctx.writeUInt32LE(frame.length, 4);
    ctx.writeUInt32LE(opts.ingressIfindex, 12);
    const ctxFile = join(lab.work, "ctx.bin");
    writeFileSync(ctxFile, ctx);
    args.push("ctx_in", ctxFile);
  }
  args.push("repeat", "1");
  const command = ["nsenter", `--net=/run/netns/${opts.ns ?? lab.nsEmpty}`, "bpftool", ...args];
  if (opts.cpu !== undefined) command.unshift("taskset", "-c", String(opts.cpu));
  const stdout = sh(command[0]!, command.slice(1));
  const { retval } = JSON.parse(stdout) as { retval: number };
  return { verdict: retval, out: existsSync(output) ? readFileSync(output) : Buffer.alloc(0) };
}

function assertFrame(actual: Buffer, expected: Buffer, what: string): void {
  assert.ok(actual.equals(expected), `${what}: output frame differs\n${describeDifference(actual, expected)}`);
}

// ---- Frames and predictions --------------------------------------------------------------

interface FlowSpec { src: string; dst: string; sport: number; dport: number; protocol: number }

function l4(f: FlowSpec, payload = Buffer.from("wasmplane payload")): Buffer {
  if (f.protocol === IPPROTO.TCP) return tcp({ src: f.src, dst: f.dst, sport: f.sport, dport: f.dport }, payload);
  if (f.protocol === IPPROTO.UDP) return udp({ src: f.src, dst: f.dst, sport: f.sport, dport: f.dport }, payload);
  if (f.protocol === IPPROTO.SCTP) return sctp({ sport: f.sport, dport: f.dport });
  throw new Error(`no L4 builder for protocol ${f.protocol}`);
}

/** A client frame for `f`, with IP header options `opts` applied. */
function frameOf(f: FlowSpec, opts: { tos?: number; df?: boolean; options?: Uint8Array } = {}): Buffer {
  const payload = l4(f);
  if (family(f.src) === 4) {
    return ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: f.dst, protocol: f.protocol, tos: opts.tos ?? 0, df: opts.df ?? true, options: opts.options }, payload));
  }
  return ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6, ipv6({ src: f.src, dst: f.dst, nextHeader: f.protocol, trafficClass: opts.tos ?? 0 }, payload));
}

function modelFlow(f: FlowSpec): Flow {
  return { saddr: ip(f.src), sport: f.sport, dport: f.dport, protocol: f.protocol };
}

/** The backend the datapath must choose for a new flow of Maglev service `svc`, and the hash. */
function predict(f: FlowSpec, svc: Service): { hash: number; backend: Backend } {
  const hash = flowHash(modelFlow(f), lab.seeds, svc.affinity ?? false);
  const table = lab.tables[svc.table ?? assert.fail(`service ${svc.id} has no Maglev table`)];
  return { hash, backend: backend(table[maglevSlot(hash, lab.tableSize)]!) };
}

/** The frame the datapath must emit for `frame` sent to `be`. */
function encapsulated(frame: Buffer, be: Backend, hash: number, macs: { dst: string; src: string } = { dst: FALLBACK_MAC, src: LB_MAC }): Buffer {
  const inner = frame.subarray(14);
  const innerV4 = frame.readUInt16BE(12) === ETH_P_IP;
  const tos = innerV4 ? inner[1]! : (inner.readUInt32BE(0) >>> 20) & 0xff;
  const protocol = innerV4 ? IPPROTO.IPIP : IPPROTO.IPV6;
  if (family(be.address) === 4) {
    const df = innerV4 ? (inner.readUInt16BE(6) & 0x4000) !== 0 : true;
    return ethernet(macs.dst, macs.src, ETH_P_IP, ipv4({ src: ENCAP_SRC_V4, dst: be.address, protocol, ttl: 64, tos, id: 0, df }, inner));
  }
  return ethernet(macs.dst, macs.src, ETH_P_IPV6,
    ipv6({ src: ENCAP_SRC_V6, dst: be.address, nextHeader: protocol, hopLimit: 64, trafficClass: tos, flowLabel: hash & 0xfffff }, inner));
}

/** Varied client flows: addresses and ports spread so all backends get some. */
function clientFlows(n: number, v6: boolean, dst: string, dport: number, protocol: number, seed: number): FlowSpec[] {
  return Array.from({ length: n }, (_, i) => {
    const k = seed * 1000 + i;
    const src = v6 ? `2001:db8:c::${(k * 7919 % 65521).toString(16)}:${(k * 104729 % 65521).toString(16)}` : `203.0.${(k * 37) % 250}.${(k * 101) % 250 + 1}`;
    return { src, dst, sport: 1024 + ((k * 7477) % 60000), dport, protocol };
  });
}

function expectForwarded(f: FlowSpec, svc: Service, opts: { tos?: number; options?: Uint8Array } = {}): Backend {
  const frame = frameOf(f, opts);
  const { hash, backend: be } = predict(f, svc);
  const { verdict, out } = run(frame);
  assert.equal(verdict, XDP.TX, `${f.src}:${f.sport} → ${f.dst}:${f.dport}/${f.protocol}: verdict`);
  assertFrame(out, encapsulated(frame, be, hash), `${f.src}:${f.sport} → backend ${be.id}`);
  return be;
}

function expectDropped(frame: Buffer, reason: number, what: string): void {
  const before = drops(reason);
  const { verdict } = run(frame);
  assert.equal(verdict, XDP.DROP, `${what}: verdict`);
  assert.equal(drops(reason), before + 1n, `${what}: drop counter ${reason}`);
}

function expectPassedUntouched(frame: Buffer, what: string): void {
  const { verdict, out } = run(frame);
  assert.equal(verdict, XDP.PASS, `${what}: verdict`);
  assertFrame(out, frame, `${what} (XDP_PASS must not modify the frame)`);
}

// ---- Setup --------------------------------------------------------------------------------

function ensureBpffs(): void {
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!mounts.split("\n").some((l) => l.split(" ")[1] === "/sys/fs/bpf" && l.split(" ")[2] === "bpf")) {
    sh("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  }
}

function setUpNamespaces(): void {
  sh("ip", ["netns", "add", lab.nsEmpty]);
  sh("ip", ["netns", "add", lab.nsRouted]);
  const ns = (...args: string[]) => sh("ip", ["-n", lab.nsRouted, ...args]);
  ns("link", "set", "lo", "up");
  ns("link", "add", "wp0", "type", "veth", "peer", "name", "wp1");
  ns("link", "set", "wp0", "address", ROUTED_DEV_MAC, "up");
  ns("link", "set", "wp1", "up");
  ns("addr", "add", `${ENCAP_SRC_V4}/24`, "dev", "wp0");
  ns("-6", "addr", "add", `${ENCAP_SRC_V6}/64`, "dev", "wp0", "nodad");
  for (const b of BACKENDS.filter((x) => x.address.startsWith("10.0.0.") || x.address.startsWith("fd00:1::"))) {
    ns("neigh", "add", b.address, "lladdr", `02:00:00:00:01:0${b.id}`, "dev", "wp0", "nud", "permanent");
  }
  ns("route", "add", "blackhole", "10.9.0.0/16");
  sh("ip", ["netns", "exec", lab.nsRouted, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
  const links = JSON.parse(sh("ip", ["-n", lab.nsRouted, "-j", "link", "show", "wp0"])) as { ifindex: number }[];
  lab.routedIfindex = links[0]!.ifindex;
}

async function setUp(): Promise<void> {
  const maglev = await createMaglev({ hashSeed: HASH_SEED });
  const seeds = decodeHashSeed(HASH_SEED);
  const tag = `wasmplane-xdp-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), `${tag}-`));
  lab = {
    work,
    pins: `/sys/fs/bpf/${tag}`,
    prog: `/sys/fs/bpf/${tag}/progs/wasmplane_xdp_lb`,
    maps: `/sys/fs/bpf/${tag}/maps`,
    nsEmpty: `${tag}-empty`,
    nsRouted: `${tag}-routed`,
    routedIfindex: 0,
    seeds,
    tableSize: maglev.tableSize,
    tables: { v4: new Uint32Array(0), v6: new Uint32Array(0) },
    verifierLog: "",
  };
  assert.equal(maglev.tableSize, DEFAULT_TABLE_SIZE, "the object is built with the default WASMPLANE_MAGLEV_M");

  ensureBpffs();
  // bpftool pins into its own directory (pinmaps): no pin-by-name attributes.
  const [object] = buildBpf({
    outDir: join(work, "build"),
    sources: [fileURLToPath(new URL("../bpf/xdp_lb.c", import.meta.url))],
    defines: [`WASMPLANE_JHASH0=${seeds.jhash0}u`, `WASMPLANE_JHASH1=${seeds.jhash1}u`, "WASMPLANE_PIN_MAPS=0"],
  });
  mkdirSync(lab.pins, { recursive: true });
  const load = spawnSync("bpftool", ["-d", "prog", "loadall", object!, join(lab.pins, "progs"), "type", "xdp", "pinmaps", lab.maps], { encoding: "utf8", maxBuffer: 256 << 20 });
  lab.verifierLog = `${load.stdout}${load.stderr}`;
  assert.equal(load.status, 0, `the verifier must accept xdp_lb.o:\n${lab.verifierLog.split("\n").slice(-40).join("\n")}`);
  setUpNamespaces();

  const asMaglev = (ids: number[]) => ids.map((id) => ({ id, address: backend(id).address, port: backend(id).port, protocol: "TCP" }));
  lab.tables.v4 = maglev.build(asMaglev([1, 2, 3]));
  lab.tables.v6 = maglev.build(asMaglev([4, 5, 6]));

  const lines: string[] = [
    updateLine("wp_config", u32le(0), enc.config({ srcV4: ENCAP_SRC_V4, srcV6: ENCAP_SRC_V6, fallbackMac: FALLBACK_MAC })),
    ...VIPS.map((v) => updateLine("wp_vips", enc.vipKey(v), enc.vipValue())),
    ...BACKENDS.map((b) => updateLine("wp_backends", u32le(b.id), enc.backend(b))),
  ];
  // Inner maps (abi.h, wp_maglev_outer): two table buffers of M backend IDs;
  // services point at buffer 0 (table_slot 0). A whole table is one value,
  // too long for a bpftool batch line: one command each.
  for (const [name, table] of Object.entries(lab.tables)) {
    const inner = join(lab.pins, `maglev-${name}`);
    sh("bpftool", ["map", "create", inner, "type", "array", "key", "4", "value", String(4 * lab.tableSize), "entries", "2", "name", `wp_test_${name}`]);
    const bytes = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
    sh("bpftool", ["map", "update", "pinned", inner, "key", "hex", ...hex(u32le(0)).split(" "), "value", "hex", ...hex(bytes).split(" ")]);
  }
  for (const s of SERVICES) {
    lines.push(updateLine("wp_services", enc.serviceKey(s.vip, s.port, s.protocol),
      enc.serviceValue(s.id, s.affinity ? AFFINITY_TIMEOUT_SEC : 0, s.backends.length, s.algorithm, s.affinity ? 1 : 0)));
    if (s.table) lines.push(`map update pinned ${mapPath("wp_maglev_outer")} key hex ${hex(u32le(s.id))} value pinned ${join(lab.pins, `maglev-${s.table}`)}`);
    if (s.algorithm === ALG.RANDOM) s.backends.forEach((id, slot) => lines.push(updateLine("wp_random_slots", enc.randomSlotKey(s.id, slot), u32le(id))));
  }
  batch(lines);
}

function tearDown(): void {
  if (!lab) return;
  for (const ns of [lab.nsEmpty, lab.nsRouted]) spawnSync("ip", ["netns", "del", ns]);
  rmSync(lab.pins, { recursive: true, force: true });
  rmSync(lab.work, { recursive: true, force: true });
}

// ---- Tests without root ------------------------------------------------------------------

describe("flow-hash model (test/fixtures/bpf/flow-hash.ts)", () => {
  it("matches Cilium's jhash_3words known answers (bpf/tests/jhash_test.c)", () => {
    assert.equal(jhash3words(123, 234, 345, 456), 2698615579);
    assert.equal(jhash3words(0, 0, 0, 0), 459859287);
  });

  it("matches the kernel selftest's jhash answers, which exercise mix()", () => {
    // tools/testing/selftests/bpf/progs/test_xdp_noinline.c (Katran's balancer): hashes of the all-zero test flows.
    assert.equal(jhash2words(0, 0, 24), 0x358459b7);
    assert.equal(jhash2words(jhash(new Uint8Array(16), 12), 0, 24), 0x2f4bc6bb);
  });

  it("puts Cilium's session-affinity Maglev test clients in the slots that test expects", () => {
    // Cilium bpf/tests (PKTGEN "session_affinity_maglev_client_*"): LUT size 20, table[i] = i + 1,
    // seed HASH_INIT4_SEED 0xcafe, VIP port 80/TCP, affinity (source port 0);
    // client 110.0.11.1 → backend 13, client 130.0.13.3 → backend 14.
    const seeds = { jhash0: 0xcafe, jhash1: 0xeb9f };
    for (const [client, expected] of [["110.0.11.1", 13], ["130.0.13.3", 14]] as const) {
      for (const sport of [111, 222, 333]) {
        const h = flowHash({ saddr: ip(client), sport, dport: 80, protocol: IPPROTO.TCP }, seeds, true);
        assert.equal(maglevSlot(h, 20) + 1, expected, `${client}:${sport}`);
      }
    }
  });

  it("this test's drop reasons are drop_reasons.h's", () => {
    const header = readFileSync(new URL("../bpf/include/wasmplane/drop_reasons.h", import.meta.url), "utf8");
    const declared = new Map([...header.matchAll(/^#define WP_DROP_(\w+)\s+(\d+)\s*$/gm)].map((m) => [m[1]!, Number(m[2])]));
    // The load balancer's reasons; the tc programs add their own after them.
    for (const [name, code] of Object.entries(DROP)) assert.equal(declared.get(name), code, `WP_DROP_${name}`);
  });

  it("packet fixtures compute CRC32c as RFC 9260 does", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283); // the CRC-32C check value
  });
});

// ---- Tests through the kernel ----------------------------------------------------------------

const missing = missingRequirement();

describe("xdp_lb.c through BPF_PROG_TEST_RUN (bpftool)", { skip: missing && !strict ? missing : false }, () => {
  before(async () => {
    if (missing) assert.fail(`${missing} (CI=true: a skipped datapath test is a failure)`);
    await setUp();
  });
  after(tearDown);

  it("verifier accepts the object; map layouts match abi.h (BTF)", (t) => {
    const processed = /processed (\d+) insns/.exec(lab.verifierLog);
    assert.ok(processed, "verifier log has the instruction count");
    t.diagnostic(`verifier: ${processed[0]}`);
    const btf = JSON.parse(sh("bpftool", ["-j", "btf", "dump", "file", join(lab.work, "build", "xdp_lb.o")])) as {
      types: { kind: string; name: string; size?: number; members?: { name: string; bits_offset: number }[] }[];
    };
    for (const [name, layout] of Object.entries(LAYOUT)) {
      const type = btf.types.find((x) => x.kind === "STRUCT" && x.name === name) ?? assert.fail(`struct ${name} not in BTF`);
      assert.equal(type.size, layout.size, `sizeof(struct ${name})`);
      const offsets = Object.fromEntries((type.members ?? []).map((m) => [m.name, m.bits_offset / 8]));
      assert.deepEqual(offsets, layout.members, `member offsets of struct ${name}`);
    }
  });

  it("IPv4 TCP to a VIP: XDP_TX, IPIP to the Maglev backend, outer header byte for byte", () => {
    const svc = service(1);
    const flows = clientFlows(24, false, VIP4, 80, IPPROTO.TCP, 1);
    const before = counter("wp_service_counters", 1).packets;
    const seen = new Set(flows.map((f) => expectForwarded(f, svc, { tos: 0x28 }).id));
    assert.deepEqual([...seen].sort(), [1, 2, 3], "24 flows reach every backend (else the test proves little)");
    assert.equal(counter("wp_service_counters", 1).packets, before + 24n);
  });

  it("IPv4 with header options is balanced on its ports", () => {
    const options = Buffer.from([0x01, 0x01, 0x01, 0x00]); // NOP NOP NOP EOL
    for (const f of clientFlows(6, false, VIP4, 80, IPPROTO.TCP, 2)) expectForwarded(f, service(1), { options });
  });

  it("IPv6 UDP to a VIP: IP6IP6 with traffic class and flow label", () => {
    const flows = clientFlows(24, true, VIP6, 53, IPPROTO.UDP, 3);
    const seen = new Set(flows.map((f) => expectForwarded(f, service(2), { tos: 0xb8 }).id));
    assert.deepEqual([...seen].sort(), [4, 5, 6]);
  });

  it("SCTP over IPv6 (Maglev) is balanced like TCP and UDP; the CRC32c is untouched", () => {
    for (const f of clientFlows(8, true, VIP6, 9999, IPPROTO.SCTP, 4)) expectForwarded(f, service(8));
  });

  it("SCTP over IPv4 (random): a flow stays on its backend through the flow LRU", () => {
    const f: FlowSpec = { src: "203.0.113.7", dst: VIP4, sport: 5000, dport: 9999, protocol: IPPROTO.SCTP };
    const frame = frameOf(f);
    const first = run(frame);
    assert.equal(first.verdict, XDP.TX);
    const chosen = BACKENDS.find((b) => first.out.equals(encapsulated(frame, b, 0))) ?? assert.fail("output is no backend's encapsulation");
    assert.ok([1, 2, 3].includes(chosen.id));
    for (let i = 0; i < 6; i++) assertFrame(run(frame).out, encapsulated(frame, chosen, 0), `repeat ${i}`);
    const entry = mapLookup("wp_flows", enc.flowKey(f)) ?? assert.fail("flow entry written");
    assert.equal(entry.readUInt32LE(0), chosen.id);
    assert.equal(entry.readUInt32LE(4), 3);
  });

  it("mixed families: IPv4 in IPv6 (next header 4), IPv6 in IPv4 (protocol 41)", () => {
    for (const f of clientFlows(6, false, VIP4_MIXED, 80, IPPROTO.TCP, 5)) expectForwarded(f, service(5));
    for (const f of clientFlows(6, true, VIP6, 80, IPPROTO.TCP, 6)) expectForwarded(f, service(11));
  });

  it("traffic that is not for a service passes untouched", () => {
    const tcpTo = (dst: string) => frameOf({ src: "203.0.113.1", dst, sport: 40000, dport: 80, protocol: IPPROTO.TCP });
    expectPassedUntouched(tcpTo(NOT_A_VIP4), "IPv4 TCP to another address");
    expectPassedUntouched(frameOf({ src: "2001:db8:c::1", dst: NOT_A_VIP6, sport: 40000, dport: 53, protocol: IPPROTO.UDP }), "IPv6 UDP to another address");
    expectPassedUntouched(ethernet("ff:ff:ff:ff:ff:ff", CLIENT_MAC, ETH_P_ARP, Buffer.alloc(28, 1)), "ARP");
    const tagged = tcpTo(VIP4);
    const vlan = Buffer.concat([tagged.subarray(0, 12), Buffer.from([ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, 0x00, 0x64]), tagged.subarray(12)]);
    expectPassedUntouched(vlan, "802.1Q-tagged frame (this datapath serves untagged traffic)");
    expectPassedUntouched(ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: "203.0.113.1", dst: NOT_A_VIP4, protocol: IPPROTO.GRE }, Buffer.alloc(8))), "GRE to another address");
    const cut = tcpTo(NOT_A_VIP4);
    expectPassedUntouched(cut.subarray(0, cut.length - 30), "truncated TCP to another address (left to the kernel)");
    expectPassedUntouched(ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: "203.0.113.1", dst: VIP4, protocol: IPPROTO.ICMP }, icmpv4(8, 0, Buffer.from([0, 1, 0, 1]), Buffer.alloc(16)))), "ICMP echo to a VIP (the stack answers)");
  });

  it("truncated and malformed packets are dropped as malformed", () => {
    const good = frameOf({ src: "203.0.113.2", dst: VIP4, sport: 40001, dport: 80, protocol: IPPROTO.TCP });
    expectDropped(good.subarray(0, 14 + 12), DROP.MALFORMED, "IPv4 header cut at 12 bytes");
    expectDropped(good.subarray(0, good.length - 10), DROP.MALFORMED, "frame shorter than the IPv4 total length");
    const shortTcp = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: "203.0.113.2", dst: VIP4, protocol: IPPROTO.TCP }, tcp({ src: "203.0.113.2", dst: VIP4, sport: 40001, dport: 80 }).subarray(0, 12)));
    expectDropped(shortTcp, DROP.MALFORMED, "TCP header of 12 bytes (total length consistent)");
    const badIhl = Buffer.from(good);
    badIhl[14] = 0x44; // IHL 4
    expectDropped(badIhl, DROP.MALFORMED, "IPv4 IHL < 5");
    const v6 = frameOf({ src: "2001:db8:c::2", dst: VIP6, sport: 40001, dport: 53, protocol: IPPROTO.UDP });
    const v6Long = Buffer.from(v6);
    v6Long.writeUInt16BE(v6.length, 14 + 4); // payload length beyond the frame
    expectDropped(v6Long, DROP.MALFORMED, "IPv6 payload length beyond the frame");
  });

  it("an unknown protocol to a VIP is dropped as unsupported", () => {
    expectDropped(ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: "203.0.113.3", dst: VIP4, protocol: IPPROTO.GRE }, Buffer.alloc(8))), DROP.UNSUPPORTED_PROTOCOL, "GRE to VIP4");
    expectDropped(ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6, ipv6({ src: "2001:db8:c::3", dst: VIP6, nextHeader: IPPROTO.GRE }, Buffer.alloc(8))), DROP.UNSUPPORTED_PROTOCOL, "GRE to VIP6");
  });

  it("a service without backends drops no-backend; a VIP port without a service drops no-service", () => {
    expectDropped(frameOf({ src: "203.0.113.4", dst: VIP4, sport: 40002, dport: 443, protocol: IPPROTO.TCP }), DROP.NO_BACKEND, "VIP4:443 (0 backends)");
    expectDropped(frameOf({ src: "203.0.113.4", dst: VIP4, sport: 40002, dport: 8081, protocol: IPPROTO.TCP }), DROP.NO_SERVICE, "VIP4:8081");
    expectDropped(frameOf({ src: "203.0.113.4", dst: VIP4, sport: 40002, dport: 7777, protocol: IPPROTO.TCP }), DROP.UNKNOWN_ALGORITHM, "VIP4:7777 (algorithm 7)");
  });

  it("flow LRU: an established flow keeps its backend while it exists, then is balanced again", () => {
    const f: FlowSpec = { src: "203.0.113.50", dst: VIP4, sport: 41000, dport: 80, protocol: IPPROTO.TCP };
    const frame = frameOf(f);
    const { hash, backend: predicted } = predict(f, service(1));
    mapUpdate("wp_flows", enc.flowKey(f), enc.flowValue(7, 1, 0n));
    assertFrame(run(frame).out, encapsulated(frame, backend(7), hash), "flow entry → backend 7 (in no table)");

    mapUpdate("wp_flows", enc.flowKey(f), enc.flowValue(7, 99, 0n));
    assertFrame(run(frame).out, encapsulated(frame, predicted, hash), "entry of another service → re-selected");

    mapUpdate("wp_flows", enc.flowKey(f), enc.flowValue(7, 1, 0n));
    mapUpdate("wp_backends", u32le(7), Buffer.alloc(20)); // an array: the all-zero entry is "no backend"
    try {
      assertFrame(run(frame).out, encapsulated(frame, predicted, hash), "backend 7 removed → re-selected");
      assert.equal(mapLookup("wp_flows", enc.flowKey(f))!.readUInt32LE(0), predicted.id, "flow entry now points at the new backend");
    } finally {
      mapUpdate("wp_backends", u32le(7), enc.backend(backend(7)));
    }
  });

  it("session affinity (ClientIP): source port ignored, sticky entry honoured until it expires", () => {
    const svc = service(6);
    const client = "203.0.113.60";
    const flows = [41001, 41002, 41003].map((sport): FlowSpec => ({ src: client, dst: VIP4_AFFINITY, sport, dport: 80, protocol: IPPROTO.TCP }));
    const expected = predict(flows[0]!, svc).backend;
    for (const f of flows) assert.equal(expectForwarded(f, svc).id, expected.id, "every port of the client → one backend");
    const entry = mapLookup("wp_affinity", enc.affinityKey(6, client)) ?? assert.fail("affinity entry written");
    assert.equal(entry.readUInt32LE(0), expected.id);

    // A sticky entry wins over the hash; an expired one does not.
    const other = "203.0.113.61";
    const g: FlowSpec = { src: other, dst: VIP4_AFFINITY, sport: 42000, dport: 80, protocol: IPPROTO.TCP };
    const { hash, backend: hashed } = predict(g, svc);
    const sticky = [1, 2, 3].find((id) => id !== hashed.id)!;
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
    mapUpdate("wp_affinity", enc.affinityKey(6, other), enc.affinityValue(sticky, now));
    assertFrame(run(frameOf(g)).out, encapsulated(frameOf(g), backend(sticky), hash), "fresh affinity entry");

    const h: FlowSpec = { ...g, sport: 42001 };
    mapUpdate("wp_affinity", enc.affinityKey(6, other), enc.affinityValue(sticky, now - BigInt(AFFINITY_TIMEOUT_SEC + 1) * 1_000_000_000n));
    assertFrame(run(frameOf(h)).out, encapsulated(frameOf(h), hashed, hash), "expired affinity entry → hash");

    // A draining backend keeps its flows but is not chosen through affinity.
    const k: FlowSpec = { ...g, sport: 42002 };
    mapUpdate("wp_affinity", enc.affinityKey(6, other), enc.affinityValue(sticky, process.hrtime.bigint()));
    mapUpdate("wp_backends", u32le(sticky), enc.backend(backend(sticky), 1));
    try {
      assertFrame(run(frameOf(k)).out, encapsulated(frameOf(k), hashed, hash), "draining sticky backend → hash");
      assertFrame(run(frameOf(g)).out, encapsulated(frameOf(g), backend(sticky), hash), "its established flow stays");
    } finally {
      mapUpdate("wp_backends", u32le(sticky), enc.backend(backend(sticky)));
    }
  });

  it("ICMP fragmentation-needed about a VIP's reply follows the flow (hash or flow entry), creating no state", () => {
    /** A router's error about the backend's reply VIP:sport → client (the flow reversed). */
    const fragNeeded = (f: FlowSpec, quotedSrc = f.dst, protocol: number = IPPROTO.TCP) => {
      const reply = protocol === IPPROTO.TCP
        ? ipv4({ src: quotedSrc, dst: f.src, protocol, df: true }, tcp({ src: quotedSrc, dst: f.src, sport: f.dport, dport: f.sport, flags: TCP_FLAGS.ACK }, Buffer.alloc(64)))
        : ipv4({ src: quotedSrc, dst: f.src, protocol, df: true }, icmpv4(0, 0, Buffer.from([0, 1, 0, 1]), Buffer.alloc(64)));
      return ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: "198.51.100.254", dst: f.dst, protocol: IPPROTO.ICMP }, icmpFragNeeded(1400, reply.subarray(0, 28))));
    };
    for (const f of clientFlows(6, false, VIP4, 80, IPPROTO.TCP, 14)) {
      const { backend: be } = predict(f, service(1));
      const icmp = fragNeeded(f);
      const { verdict, out } = run(icmp);
      assert.equal(verdict, XDP.TX);
      assertFrame(out, encapsulated(icmp, be, 0), `ICMP about ${f.src}:${f.sport} → backend ${be.id}`);
      assert.equal(mapLookup("wp_flows", enc.flowKey(f)), undefined, "no flow entry from an ICMP error");
    }

    const pinned: FlowSpec = { src: "203.0.113.71", dst: VIP4, sport: 43100, dport: 80, protocol: IPPROTO.TCP };
    mapUpdate("wp_flows", enc.flowKey(pinned), enc.flowValue(7, 1, 5n));
    assertFrame(run(fragNeeded(pinned)).out, encapsulated(fragNeeded(pinned), backend(7), 0), "ICMP follows the flow entry (backend 7)");
    assert.equal(mapLookup("wp_flows", enc.flowKey(pinned))!.readBigUInt64LE(8), 5n, "an ICMP error does not refresh the flow");

    const f: FlowSpec = { src: "203.0.113.72", dst: VIP4, sport: 43200, dport: 80, protocol: IPPROTO.TCP };
    expectDropped(fragNeeded(f, "192.0.2.99"), DROP.MALFORMED, "quote not sent by the VIP it is addressed to");
    expectPassedUntouched(fragNeeded({ ...f, dport: 8081 }), "error about VIP:8081 (no service): the stack's traffic");
    expectPassedUntouched(fragNeeded(f, VIP4, IPPROTO.ICMP), "error about an echo reply from the VIP");
  });

  it("ICMPv6 packet-too-big about a VIP's reply reaches the flow's backend", () => {
    const router = "2001:db8:ffff::1";
    for (const f of clientFlows(4, true, VIP6, 53, IPPROTO.UDP, 15)) {
      const { hash, backend: be } = predict(f, service(2));
      const reply = ipv6({ src: VIP6, dst: f.src, nextHeader: IPPROTO.UDP }, udp({ src: VIP6, dst: f.src, sport: 53, dport: f.sport }, Buffer.alloc(1400)));
      const icmp = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6, ipv6({ src: router, dst: VIP6, nextHeader: IPPROTO.ICMPV6 }, icmpv6PacketTooBig({ src: router, dst: VIP6 }, 1280, reply.subarray(0, 1232))));
      const { verdict, out } = run(icmp);
      assert.equal(verdict, XDP.TX);
      // The outer flow label hashes the ICMP's flow, the reversed quote: the client's own flow.
      assertFrame(out, encapsulated(icmp, be, hash), `ICMPv6 about ${f.src}:${f.sport} → backend ${be.id}`);
    }
  });

  it("Ethernet padding of a minimum-size frame stays outside the declared lengths", () => {
    const f: FlowSpec = { src: "203.0.113.90", dst: VIP4, sport: 48000, dport: 53, protocol: IPPROTO.UDP };
    const { hash, backend: be } = predict(f, service(7));
    const ipPacket = ipv4({ src: f.src, dst: f.dst, protocol: IPPROTO.UDP, df: true }, udp(f, Buffer.from("hi")));
    const frame = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, Buffer.concat([ipPacket, Buffer.alloc(60 - 14 - ipPacket.length)]));
    const { verdict, out } = run(frame);
    assert.equal(verdict, XDP.TX);
    const expected = encapsulated(frame, be, hash);
    expected.writeUInt16BE(20 + ipPacket.length, 14 + 2); // outer total length from the inner header, not the frame
    expected.writeUInt16BE(0, 14 + 10);
    expected.writeUInt16BE(checksum16(expected.subarray(14, 34)), 14 + 10);
    assertFrame(out, expected, "padded frame");
  });

  it("IPv4 fragments: later fragments follow the first; unknown ones to a VIP are dropped", () => {
    const f: FlowSpec = { src: "203.0.113.80", dst: VIP4, sport: 44000, dport: 53, protocol: IPPROTO.UDP };
    const { hash, backend: be } = predict(f, service(7));
    const dgram = udp(f, Buffer.alloc(2000, 7));
    const first = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: f.dst, protocol: IPPROTO.UDP, id: 0x1234, mf: true }, dgram.subarray(0, 1480)));
    const second = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: f.dst, protocol: IPPROTO.UDP, id: 0x1234, fragOffset: 1480 }, dgram.subarray(1480)));
    for (const [name, frame] of [["first", first], ["second", second]] as const) {
      const { verdict, out } = run(frame);
      assert.equal(verdict, XDP.TX, `${name} fragment`);
      assertFrame(out, encapsulated(frame, be, hash), `${name} fragment → backend ${be.id}`);
    }
    const orphan = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: f.dst, protocol: IPPROTO.UDP, id: 0x9999, fragOffset: 1480 }, dgram.subarray(1480)));
    expectDropped(orphan, DROP.FRAGMENT_UNKNOWN, "later fragment without its first");
    const elsewhere = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: NOT_A_VIP4, protocol: IPPROTO.UDP, id: 0x9999, fragOffset: 1480 }, dgram.subarray(1480)));
    expectPassedUntouched(elsewhere, "later fragment to another address");
  });

  it("IPv6 extension headers are walked; fragments follow the first; too long a chain is dropped", () => {
    const svc = service(2);
    const f: FlowSpec = { src: "2001:db8:c::90", dst: VIP6, sport: 45000, dport: 53, protocol: IPPROTO.UDP };
    const { hash, backend: be } = predict(f, svc);
    const withHbh = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6, ipv6({ src: f.src, dst: f.dst, nextHeader: IPPROTO.HOPOPTS }, ipv6OptionsHeader(IPPROTO.UDP, udp(f, Buffer.from("hop-by-hop")), 1)));
    assertFrame(run(withHbh).out, encapsulated(withHbh, be, hash), "hop-by-hop options header");

    const g: FlowSpec = { ...f, sport: 45001 };
    const gp = predict(g, svc);
    const dgram = udp(g, Buffer.alloc(1600, 9));
    const frag = (offset: number, more: boolean, body: Uint8Array) => ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6,
      ipv6({ src: g.src, dst: g.dst, nextHeader: IPPROTO.FRAGMENT }, ipv6FragmentHeader(IPPROTO.UDP, offset, more, 0xabcdef, body)));
    const first = frag(0, true, dgram.subarray(0, 1232));
    const second = frag(1232, false, dgram.subarray(1232));
    assertFrame(run(first).out, encapsulated(first, gp.backend, gp.hash), "first IPv6 fragment");
    assertFrame(run(second).out, encapsulated(second, gp.backend, gp.hash), "second IPv6 fragment");

    let chain: Buffer = udp(f);
    let next: number = IPPROTO.UDP;
    for (let i = 0; i < 5; i++) { chain = ipv6OptionsHeader(next, chain); next = 60; }
    expectDropped(ethernet(LB_MAC, CLIENT_MAC, ETH_P_IPV6, ipv6({ src: f.src, dst: f.dst, nextHeader: next }, chain)), DROP.EXT_HDR_LIMIT, "5 destination-options headers");
  });

  it("FIB: MACs from the kernel's neighbour table; XDP_TX on the ingress device, XDP_REDIRECT elsewhere", (t) => {
    // Both namespaces have an lo with ifindex 1, which the next-hop cache
    // cannot tell apart: start and end with it empty.
    flushNextHops();
    t.after(flushNextHops);
    const f: FlowSpec = { src: "203.0.113.100", dst: VIP4, sport: 46000, dport: 80, protocol: IPPROTO.TCP };
    const frame = frameOf(f);
    const { hash, backend: be } = predict(f, service(1));
    const macs = { dst: `02:00:00:00:01:0${be.id}`, src: ROUTED_DEV_MAC };
    const onDevice = run(frame, { ns: lab.nsRouted, ingressIfindex: lab.routedIfindex });
    assert.equal(onDevice.verdict, XDP.TX, "egress device = ingress device");
    assertFrame(onDevice.out, encapsulated(frame, be, hash, macs), "MACs from bpf_fib_lookup");
    flushNextHops(); // the entry names the ingress device; lo's run must not need it to
    const fromLo = run(frame, { ns: lab.nsRouted });
    assert.equal(fromLo.verdict, XDP.REDIRECT, "egress device ≠ ingress device (lo)");
    assertFrame(fromLo.out, encapsulated(frame, be, hash, macs), "redirected frame");

    const g: FlowSpec = { src: "2001:db8:c::100", dst: VIP6, sport: 46001, dport: 53, protocol: IPPROTO.UDP };
    const gp = predict(g, service(2));
    const v6 = frameOf(g);
    const r6 = run(v6, { ns: lab.nsRouted, ingressIfindex: lab.routedIfindex });
    assert.equal(r6.verdict, XDP.TX);
    assertFrame(r6.out, encapsulated(v6, gp.backend, gp.hash, { dst: `02:00:00:00:01:0${gp.backend.id}`, src: ROUTED_DEV_MAC }), "IPv6 FIB");

    // A blackholed backend (via a flow entry): the routing table says no.
    const h: FlowSpec = { ...f, sport: 46002 };
    mapUpdate("wp_flows", enc.flowKey(h), enc.flowValue(9, 1, 0n));
    const before = drops(DROP.FIB_LOOKUP_FAILED);
    assert.equal(run(frameOf(h), { ns: lab.nsRouted, ingressIfindex: lab.routedIfindex }).verdict, XDP.DROP);
    assert.equal(drops(DROP.FIB_LOOKUP_FAILED), before + 1n);

    // Outer packet larger than the egress MTU.
    sh("ip", ["-n", lab.nsRouted, "link", "set", "wp0", "mtu", "1280"]);
    flushNextHops(); // a route change reaches cached next hops when they expire, or at once when flushed
    try {
      const bigFrame = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: VIP4, protocol: IPPROTO.TCP, df: true },
        tcp({ src: f.src, dst: VIP4, sport: 46003, dport: 80 }, Buffer.alloc(1270 - 40))));
      const beforeMtu = drops(DROP.FRAG_NEEDED);
      assert.equal(run(bigFrame, { ns: lab.nsRouted, ingressIfindex: lab.routedIfindex }).verdict, XDP.DROP, "1270 + 20 > 1280");
      assert.equal(drops(DROP.FRAG_NEEDED), beforeMtu + 1n);
    } finally {
      sh("ip", ["-n", lab.nsRouted, "link", "set", "wp0", "mtu", "1500"]);
    }
  });

  it("next-hop cache: a FIB answer is kept per backend with its route MTU, and reused until flushed", (t) => {
    flushNextHops();
    t.after(flushNextHops);
    const f: FlowSpec = { src: "203.0.113.120", dst: VIP4, sport: 46100, dport: 80, protocol: IPPROTO.TCP };
    const frame = frameOf(f);
    const { hash, backend: be } = predict(f, service(1));
    const routed = { ns: lab.nsRouted, ingressIfindex: lab.routedIfindex, cpu: 0 };
    const neighbourMac = `02:00:00:00:01:0${be.id}`;
    assertFrame(run(frame, routed).out, encapsulated(frame, be, hash, { dst: neighbourMac, src: ROUTED_DEV_MAC }), "first packet: FIB");

    // The entry: the backend's address, the MACs, the device, the MTU, not expired.
    const perCpu = perCpuValues("wp_next_hops", u32le(be.id));
    assert.deepEqual(perCpu.map((v) => v[39] !== 0), perCpu.map((_, cpu) => cpu === 0), "CPU 0 ran the packet and filled its entry, no other CPU did");
    const e = perCpu[0]!;
    assert.deepEqual([...e.subarray(0, 4)], be.address.split(".").map(Number), "backend_addr");
    assert.equal(hex(e.subarray(16, 22)).replaceAll(" ", ":"), neighbourMac, "dmac");
    assert.equal(hex(e.subarray(22, 28)).replaceAll(" ", ":"), ROUTED_DEV_MAC, "smac");
    assert.equal(e.readUInt32LE(28), lab.routedIfindex, "egress ifindex");
    assert.equal(e.readUInt32LE(32), lab.routedIfindex, "ingress ifindex");
    assert.equal(e.readUInt16LE(36), 1500, "route MTU (wp0)");
    assert.equal(e[39], 4, "family");
    assert.ok(e.readBigUInt64LE(40) > 0n, "expiry set");

    // While the entry lives, a neighbour change is not seen (that is the
    // cache's contract); after a flush it is.
    const moved = "02:00:00:00:02:99";
    sh("ip", ["-n", lab.nsRouted, "neigh", "replace", be.address, "lladdr", moved, "dev", "wp0", "nud", "permanent"]);
    try {
      assertFrame(run(frame, routed).out, encapsulated(frame, be, hash, { dst: neighbourMac, src: ROUTED_DEV_MAC }), "cached next hop");
      flushNextHops();
      assertFrame(run(frame, routed).out, encapsulated(frame, be, hash, { dst: moved, src: ROUTED_DEV_MAC }), "flushed: the new neighbour");
    } finally {
      sh("ip", ["-n", lab.nsRouted, "neigh", "replace", be.address, "lladdr", neighbourMac, "dev", "wp0", "nud", "permanent"]);
    }

    // The cached MTU still refuses an outer packet above it.
    flushNextHops();
    sh("ip", ["-n", lab.nsRouted, "link", "set", "wp0", "mtu", "1280"]);
    try {
      assert.equal(run(frame, routed).verdict, XDP.TX, "small packet fills the entry");
      assert.equal(perCpuValues("wp_next_hops", u32le(be.id))[0]!.readUInt16LE(36), 1280, "CPU 0's entry holds the route MTU");
      const big = ethernet(LB_MAC, CLIENT_MAC, ETH_P_IP, ipv4({ src: f.src, dst: VIP4, protocol: IPPROTO.TCP, df: true },
        tcp({ src: f.src, dst: VIP4, sport: f.sport, dport: 80 }, Buffer.alloc(1270 - 40))));
      const before = drops(DROP.FRAG_NEEDED);
      assert.equal(run(big, routed).verdict, XDP.DROP, "1270 + 20 > 1280, answered from the entry");
      assert.equal(drops(DROP.FRAG_NEEDED), before + 1n);
    } finally {
      sh("ip", ["-n", lab.nsRouted, "link", "set", "wp0", "mtu", "1500"]);
    }
  });

  it("without an encapsulation source or a fallback MAC, packets are dropped with their reason", () => {
    const setConfig = (c: Parameters<typeof enc.config>[0]) => mapUpdate("wp_config", u32le(0), enc.config(c));
    try {
      setConfig({ srcV4: ENCAP_SRC_V4, srcV6: null, fallbackMac: FALLBACK_MAC });
      expectDropped(frameOf({ src: "2001:db8:c::110", dst: VIP6, sport: 47000, dport: 53, protocol: IPPROTO.UDP }), DROP.ENCAP_FAILED, "IPv6 backend, no IPv6 source");
      setConfig({ srcV4: ENCAP_SRC_V4, srcV6: ENCAP_SRC_V6, fallbackMac: null });
      expectDropped(frameOf({ src: "203.0.113.110", dst: VIP4, sport: 47001, dport: 80, protocol: IPPROTO.TCP }), DROP.FIB_LOOKUP_FAILED, "FIB cannot answer, no fallback MAC");
    } finally {
      setConfig({ srcV4: ENCAP_SRC_V4, srcV6: ENCAP_SRC_V6, fallbackMac: FALLBACK_MAC });
    }
  });

  it("per-backend counters add up to the per-service counters of Maglev services", () => {
    const svc = service(1);
    const before = counter("wp_service_counters", 1);
    const beBefore = [1, 2, 3].map((id) => counter("wp_backend_counters", id).packets);
    const flows = clientFlows(9, false, VIP4, 80, IPPROTO.TCP, 9);
    let bytes = 0n;
    const perBackend = new Map<number, bigint>();
    for (const f of flows) {
      const be = expectForwarded(f, svc);
      bytes += BigInt(frameOf(f).length);
      perBackend.set(be.id, (perBackend.get(be.id) ?? 0n) + 1n);
    }
    const after = counter("wp_service_counters", 1);
    assert.equal(after.packets - before.packets, 9n);
    assert.equal(after.bytes - before.bytes, bytes, "bytes count the frame as received");
    [1, 2, 3].forEach((id, i) => assert.equal(counter("wp_backend_counters", id).packets - beBefore[i]!, perBackend.get(id) ?? 0n, `backend ${id}`));
  });
});
