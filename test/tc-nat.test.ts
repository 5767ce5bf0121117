/**
 * East-west service translation (bpf/lib/nat.h) through BPF_PROG_TEST_RUN,
 * with the tc test programs of bpf/test/nat_test.c loaded on the maps of a
 * load balancer written by src/lb (openDatapath + sync): ClusterIP DNAT
 * (IPv4 and IPv6; TCP, UDP, SCTP) to the backend the Maglev model predicts,
 * output frames compared byte for byte with frames built from scratch, and
 * every checksum recomputed here (RFC 1071 with the pseudo-header; CRC32c
 * for SCTP); reverse NAT back to VIP:port; flows keeping their backend when
 * the table changes; untouched non-service traffic; drops with their
 * counters; the shared pinned maps; src/lb/nat.ts (layout against BTF,
 * reading and flushing wp_rev_nat); and a differential of thousands of
 * seeded random flows against the model.
 *
 * Needs root (CAP_BPF), libbpf.so.1, clang and the libbpf headers: skipped
 * with the reason without them, a failure with CI=true. Pins live under a
 * per-process directory of /sys/fs/bpf, removed in `after`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";

import { buildBpf } from "../scripts/build-bpf.mjs";
import { assertLayoutMatchesBtf, testRun, type BpfObject } from "../src/bpf/index.js";
import { createMaglev, decodeHashSeed, type MaglevBuilder } from "../src/index.js";
import {
  DEFAULT_REV_NAT_ENTRIES, loadWithDatapath, REV_NAT_VALUE_LAYOUT, openDatapath, openReverseNat, ReverseNat, REV_NAT_MAP, unpinDatapath,
  type Datapath, type DropReasonName, type LbService,
} from "../src/lb/index.js";
import { LAYOUTS } from "../src/lb/layouts.js";
import { flowHash, maglevSlot, type FlowSeeds } from "./fixtures/bpf/flow-hash.js";
import { canonical, clientFrame, isV6, randomClient, seededRandom, type FlowSpec, type LbFrameSetup } from "./fixtures/bpf/lb-frames.js";
import { crc32c, describeDifference, ETH_P_IP, ETH_P_IPV6, ethernet, internetChecksum, ip, IPPROTO, ipv4 } from "./fixtures/bpf/packets.js";
import { requireBpfBuild } from "./support/privileges.js";

const TC = { OK: 0, SHOT: 2 } as const;
const WP_EVENT_F_TRANSLATED = 0x02;
/** Pod-side MACs: from_endpoint frames come from the pod to its host veth. */
const SETUP: LbFrameSetup = {
  lbMac: "02:00:00:00:01:01", clientMac: "02:00:00:00:01:02", fallbackMac: "02:00:00:00:00:fe",
  encapSource4: "10.0.0.254", encapSource6: "fd00:1::fe",
};
/** Not Cilium's default: proves the datapath's seed reaches the tc object's knobs. */
const HASH_SEED = Buffer.from("wasmplane-ew").toString("base64");
const be = (id: number, address: string, port: number) => ({ id, address, port });

const SERVICES: LbService[] = [
  { name: "web4", vip: "10.96.0.10", port: 80, protocol: "TCP", algorithm: "maglev", backends: [be(1, "10.1.0.1", 8080), be(2, "10.1.0.2", 8080), be(3, "10.1.0.3", 8080), be(4, "10.1.0.4", 8080)] },
  { name: "dns4", vip: "10.96.0.11", port: 53, protocol: "UDP", algorithm: "maglev", backends: [be(11, "10.1.1.1", 5353), be(12, "10.1.1.2", 5353), be(13, "10.1.1.3", 5353)] },
  { name: "web6", vip: "fd00:96::10", port: 80, protocol: "TCP", algorithm: "maglev", backends: [be(21, "fd00:1::1", 8080), be(22, "fd00:1::2", 8080), be(23, "fd00:1::3", 8080)] },
  { name: "dns6", vip: "fd00:96::11", port: 53, protocol: "UDP", algorithm: "maglev", backends: [be(31, "fd00:2::1", 5353), be(32, "fd00:2::2", 5353)] },
  // The port changes: the CRC32c must be updated.
  { name: "sctp4", vip: "10.96.0.12", port: 9999, protocol: "SCTP", algorithm: "maglev", backends: [be(41, "10.1.2.1", 7777), be(42, "10.1.2.2", 7777), be(43, "10.1.2.3", 7777)] },
  { name: "sctp6", vip: "fd00:96::12", port: 9999, protocol: "SCTP", algorithm: "maglev", backends: [be(51, "fd00:3::1", 7777), be(52, "fd00:3::2", 7777)] },
  // Same port: only the address changes, which SCTP's CRC does not cover.
  { name: "sctp4same", vip: "10.96.0.13", port: 9999, protocol: "SCTP", algorithm: "maglev", backends: [be(61, "10.1.3.1", 9999), be(62, "10.1.3.2", 9999)] },
  { name: "random4", vip: "10.96.0.14", port: 53, protocol: "UDP", algorithm: "random", backends: [be(71, "10.1.4.1", 53), be(72, "10.1.4.2", 53)] },
  { name: "mixed", vip: "10.96.0.15", port: 80, protocol: "TCP", algorithm: "maglev", backends: [be(81, "fd00:4::1", 80)] },
  { name: "empty", vip: "10.96.0.10", port: 443, protocol: "TCP", algorithm: "maglev", backends: [] },
];
const service = (name: string, list = SERVICES) => list.find((s) => s.name === name) ?? assert.fail(`no service ${name}`);
const protocolOf = (s: LbService): number => IPPROTO[s.protocol as "TCP" | "UDP" | "SCTP"];

// ---- Packets and checksums, computed here ----------------------------------------------------

const l3Of = (frame: Buffer) => (frame.readUInt16BE(12) === ETH_P_IP ? 4 : 6);
const l4OffsetOf = (frame: Buffer) => (l3Of(frame) === 4 ? 14 + (frame[14]! & 0x0f) * 4 : 14 + 40);

/** Source, destination, ports of an IPv4/IPv6 TCP/UDP/SCTP frame (no extension headers). */
function tupleOf(frame: Buffer): { src: string; dst: string; sport: number; dport: number; protocol: number } {
  const v4 = l3Of(frame) === 4;
  const l4 = l4OffsetOf(frame);
  const text = (o: number, n: number) => canonical(v4 ? [...frame.subarray(o, o + n)].join(".") : (frame.subarray(o, o + n).toString("hex").match(/..../g) ?? []).join(":"));
  return {
    src: v4 ? text(26, 4) : text(22, 16), dst: v4 ? text(30, 4) : text(38, 16),
    sport: frame.readUInt16BE(l4), dport: frame.readUInt16BE(l4 + 2), protocol: v4 ? frame[23]! : frame[20]!,
  };
}

/**
 * Every checksum of the frame checked as a receiver would: the IPv4 header
 * and the TCP/UDP segment (with its pseudo-header) sum to all ones; UDP
 * over IPv4 may carry 0 (none) only when `udpZeroAllowed`; SCTP's stored
 * CRC32c equals the CRC32c of the packet with the field zeroed.
 */
function checksumProblems(frame: Buffer, udpZeroAllowed = false): string[] {
  const problems: string[] = [];
  const v4 = l3Of(frame) === 4;
  const l4 = l4OffsetOf(frame);
  const end = v4 ? 14 + frame.readUInt16BE(16) : 54 + frame.readUInt16BE(18);
  const t = tupleOf(frame);
  if (v4 && internetChecksum(frame.subarray(14, l4)) !== 0) problems.push("IPv4 header checksum");
  const segment = frame.subarray(l4, end);
  if (t.protocol === IPPROTO.TCP || t.protocol === IPPROTO.UDP) {
    const stored = segment.readUInt16BE(t.protocol === IPPROTO.TCP ? 16 : 6);
    if (t.protocol === IPPROTO.UDP && stored === 0) {
      if (!(v4 && udpZeroAllowed)) problems.push("UDP checksum is zero");
      return problems;
    }
    const pseudo = v4 ? Buffer.alloc(12) : Buffer.alloc(40);
    if (v4) {
      frame.copy(pseudo, 0, 26, 34);
      pseudo[9] = t.protocol;
      pseudo.writeUInt16BE(segment.length, 10);
    } else {
      frame.copy(pseudo, 0, 22, 54);
      pseudo.writeUInt32BE(segment.length, 32);
      pseudo[39] = t.protocol;
    }
    if (internetChecksum(pseudo, segment) !== 0) problems.push(`${t.protocol === IPPROTO.TCP ? "TCP" : "UDP"} checksum`);
  } else if (t.protocol === IPPROTO.SCTP) {
    const copy = Buffer.from(segment);
    const stored = copy.readUInt32LE(8);
    copy.writeUInt32LE(0, 8);
    if (crc32c(copy) !== stored) problems.push(`SCTP CRC32c: stored ${stored.toString(16)}, computed ${crc32c(copy).toString(16)}`);
  }
  return problems;
}

/** UDP over IPv4 without a checksum (RFC 768: zero). */
function withoutUdpChecksum(frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  out.writeUInt16BE(0, l4OffsetOf(out) + 6);
  return out;
}

// ---- The kernel side ------------------------------------------------------------------------

interface Env {
  dp: Datapath;
  nat: BpfObject;
  objectPath: string;
  maglev: MaglevBuilder;
  seeds: FlowSeeds;
  /** Maglev tables predicted independently of the datapath's builder, by service name. */
  tables: Map<string, Uint32Array>;
}

const pinRoot = `/sys/fs/bpf/wasmplane-nattest-${process.pid}`;
let work: string | undefined;
let envPromise: Promise<Env> | undefined;

function predictTables(env: Env, list: LbService[]): void {
  for (const s of list) {
    if (s.algorithm !== "maglev" || s.backends.length === 0) continue;
    env.tables.set(s.name, env.maglev.build(s.backends.map((b) => ({ id: b.id, address: b.address, port: b.port, protocol: s.protocol }))));
  }
}

async function setup(): Promise<Env> {
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!mounts.split("\n").some((l) => l.split(" ")[1] === "/sys/fs/bpf" && l.split(" ")[2] === "bpf")) spawnSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  unpinDatapath(pinRoot);
  rmSync(pinRoot, { recursive: true, force: true });
  work = mkdtempSync(join(tmpdir(), "wasmplane-tc-nat-"));
  const [objectPath] = buildBpf({ outDir: work, sources: [new URL("../bpf/test/nat_test.c", import.meta.url).pathname] });
  const dp = await openDatapath({ pinRoot, hashSeed: HASH_SEED });
  dp.sync(SERVICES);
  const nat = await loadWithDatapath(objectPath!, dp);
  const env: Env = { dp, nat, objectPath: objectPath!, maglev: await createMaglev({ hashSeed: HASH_SEED }), seeds: decodeHashSeed(HASH_SEED), tables: new Map() };
  predictTables(env, SERVICES);
  return env;
}

/** The environment, or undefined when this machine cannot run it (skipped, or failed in CI). */
async function kernel(t: TestContext): Promise<Env | undefined> {
  if (!(await requireBpfBuild(t))) return undefined;
  envPromise ??= setup();
  return envPromise;
}

after(async () => {
  const env = await envPromise?.catch(() => undefined);
  try {
    env?.nat.close();
    env?.dp.close();
  } finally {
    if (envPromise) {
      unpinDatapath(pinRoot);
      rmSync(pinRoot, { recursive: true, force: true });
    }
    if (work) rmSync(work, { recursive: true, force: true });
  }
});

interface Run {
  verdict: number;
  out: Buffer;
  serviceId: number;
  backendId: number;
  flags: number;
  reason: number;
  /** Port pkt->flow names afterwards. */
  port: number;
  /** 4 bytes of the address pkt->flow names afterwards (IPv6: bytes 12-15). */
  mark: number;
}

function run(env: Env, program: "nat_from_endpoint" | "nat_to_endpoint", frame: Buffer): Run {
  const r = testRun(env.nat.program(program), { data: frame, ctxIn: new Uint8Array(192) });
  const ctx = Buffer.from(r.ctxOut!);
  return {
    verdict: r.retval, out: Buffer.from(r.dataOut), mark: ctx.readUInt32LE(8),
    serviceId: ctx.readUInt32LE(48), backendId: ctx.readUInt32LE(52), flags: ctx.readUInt32LE(56), reason: ctx.readUInt32LE(60), port: ctx.readUInt32LE(64),
  };
}

const flowOf = (svc: LbService, src: string, sport: number): FlowSpec => ({ src, dst: svc.vip, sport, dport: svc.port, protocol: protocolOf(svc) });

/** The backend the datapath must choose for a new flow of Maglev service `svc`. */
function predict(env: Env, f: FlowSpec, svc: LbService): { id: number; address: string; port: number } {
  const hash = flowHash({ saddr: ip(f.src), sport: f.sport, dport: f.dport, protocol: f.protocol }, env.seeds, svc.sessionAffinity !== undefined);
  const table = env.tables.get(svc.name) ?? assert.fail(`no table for ${svc.name}`);
  const id = table[maglevSlot(hash, env.maglev.tableSize)]!;
  const b = svc.backends.find((x) => x.id === id) ?? assert.fail(`slot holds unknown backend ${id}`);
  return { id, address: canonical(b.address), port: b.port };
}

/** The 4 address bytes nat_test.c reports in skb->mark. */
const markOf = (address: string) => {
  const bytes = ip(address);
  return (bytes.length === 4 ? bytes : bytes.subarray(12)).readUInt32LE(0);
};

const serviceId = (env: Env, name: string) => env.dp.services().find((s) => s.name === name)?.id ?? assert.fail(`no ID for ${name}`);
const drops = (env: Env, reason: DropReasonName) => env.dp.counters().drops[reason].packets;

/** Translates `f` and checks the whole result; returns the backend. */
function translateChecked(env: Env, svc: LbService, f: FlowSpec, frame = clientFrame(SETUP, f), udpZero = false): { id: number; address: string; port: number } {
  const want = svc.algorithm === "maglev" ? predict(env, f, svc) : undefined;
  const r = run(env, "nat_from_endpoint", frame);
  const label = `${f.src}:${f.sport} → ${svc.name}`;
  assert.equal(r.verdict, TC.OK, `${label}: verdict (reason ${r.reason})`);
  assert.equal(r.flags, WP_EVENT_F_TRANSLATED, `${label}: translated`);
  assert.equal(r.serviceId, serviceId(env, svc.name), `${label}: service ID`);
  const chosen = svc.backends.find((b) => b.id === r.backendId) ?? assert.fail(`${label}: backend ID ${r.backendId} is not the service's`);
  if (want) assert.equal(r.backendId, want.id, `${label}: the backend the Maglev model predicts`);
  const address = canonical(chosen.address);
  let expected = clientFrame(SETUP, { ...f, dst: address, dport: chosen.port });
  if (udpZero) expected = withoutUdpChecksum(expected);
  assert.ok(r.out.equals(expected), `${label}: output frame\n${describeDifference(r.out, expected)}`);
  assert.deepEqual(checksumProblems(r.out, udpZero), [], `${label}: checksums`);
  assert.equal(r.port, chosen.port, `${label}: pkt->flow names the backend's port for the policy step`);
  assert.equal(r.mark, markOf(address), `${label}: pkt->flow names the backend's address for the policy step`);
  return { id: chosen.id, address, port: chosen.port };
}

/** The reply of backend `b` to flow `f` (of service `svc`), as it leaves the backend. */
const replyFrame = (f: FlowSpec, b: { address: string; port: number }) => clientFrame(SETUP, { src: b.address, dst: f.src, sport: b.port, dport: f.sport, protocol: f.protocol });

function reverseChecked(env: Env, svc: LbService, f: FlowSpec, b: { id: number; address: string; port: number }, udpZero = false): void {
  const label = `reply ${b.address}:${b.port} → ${f.src}:${f.sport} (${svc.name})`;
  let frame = replyFrame(f, b);
  if (udpZero) frame = withoutUdpChecksum(frame);
  const r = run(env, "nat_to_endpoint", frame);
  assert.equal(r.verdict, TC.OK, `${label}: verdict (reason ${r.reason})`);
  assert.equal(r.flags, WP_EVENT_F_TRANSLATED, `${label}: translated`);
  assert.equal(r.serviceId, serviceId(env, svc.name), `${label}: service ID`);
  assert.equal(r.backendId, b.id, `${label}: backend ID`);
  let expected = clientFrame(SETUP, { src: svc.vip, dst: f.src, sport: svc.port, dport: f.sport, protocol: f.protocol });
  if (udpZero) expected = withoutUdpChecksum(expected);
  assert.ok(r.out.equals(expected), `${label}: source back to VIP:port\n${describeDifference(r.out, expected)}`);
  assert.deepEqual(checksumProblems(r.out, udpZero), [], `${label}: checksums`);
  assert.equal(r.port, b.port, `${label}: pkt->flow still names the backend (the policy's peer)`);
  assert.equal(r.mark, markOf(b.address), `${label}: pkt->flow still names the backend's address`);
}

// ---- Tests --------------------------------------------------------------------------------

describe("tc service translation (lib/nat.h) on the load balancer's maps", () => {
  it("the tc object shares the pinned maps src/lb wrote, and its wp_rev_nat_value is abi.h's", async (t) => {
    const env = await kernel(t);
    if (!env) return;
    for (const [role, map] of Object.entries(env.dp.maps)) {
      if (!env.nat.maps.has(map.name)) continue;
      assert.equal(env.nat.map(map.name).id(), map.id(), `${map.name} (${role}) is the datapath's map`);
    }
    for (const name of ["wp_services", "wp_backends", "wp_maglev_outer", "wp_flows", "wp_affinity", "wp_random_slots", "wp_drop_counters"]) {
      assert.ok(env.nat.maps.has(name), `the tc object uses ${name}`);
    }
    assert.ok(existsSync(join(pinRoot, REV_NAT_MAP)), "wp_rev_nat is pinned next to the load balancer's maps");
    assertLayoutMatchesBtf(env.objectPath, "wp_rev_nat_value", REV_NAT_VALUE_LAYOUT);
    assertLayoutMatchesBtf(env.objectPath, "wp_flow_key", LAYOUTS.wp_flow_key);
    const rev = env.nat.map(REV_NAT_MAP);
    assert.deepEqual([rev.keySize, rev.valueSize, rev.maxEntries], [40, 28, DEFAULT_REV_NAT_ENTRIES]);
    const abi = readFileSync(new URL("../bpf/include/wasmplane/abi.h", import.meta.url), "utf8");
    assert.match(abi, new RegExp(`#define WASMPLANE_REV_NAT_LRU_SIZE\\s+${DEFAULT_REV_NAT_ENTRIES}\\b`));
  });

  describe("translation: the predicted backend, rewritten frames, checksums recomputed here", () => {
    const CASES: { name: string; svc: string; src: string; sport: number; udpZero?: boolean }[] = [
      { name: "IPv4 TCP, port 80 → 8080", svc: "web4", src: "10.2.0.5", sport: 40001 },
      { name: "IPv4 UDP, port 53 → 5353", svc: "dns4", src: "10.2.0.6", sport: 40002 },
      { name: "IPv4 UDP without a checksum stays without one", svc: "dns4", src: "10.2.0.7", sport: 40003, udpZero: true },
      { name: "IPv6 TCP", svc: "web6", src: "fd00:10::5", sport: 40004 },
      { name: "IPv6 UDP", svc: "dns6", src: "fd00:10::6", sport: 40005 },
      { name: "IPv4 SCTP, port 9999 → 7777 (CRC32c updated)", svc: "sctp4", src: "10.2.0.8", sport: 5000 },
      { name: "IPv6 SCTP, port 9999 → 7777 (CRC32c updated)", svc: "sctp6", src: "fd00:10::8", sport: 5001 },
      { name: "IPv4 SCTP, same port (address only, CRC32c unchanged)", svc: "sctp4same", src: "10.2.0.9", sport: 5002 },
      { name: "IPv4 UDP, random algorithm: one of the service's backends", svc: "random4", src: "10.2.0.10", sport: 40006 },
    ];
    for (const c of CASES) {
      it(`${c.name}; the reply gets VIP:port back`, async (t) => {
        const env = await kernel(t);
        if (!env) return;
        const svc = service(c.svc);
        const f = flowOf(svc, c.src, c.sport);
        const frame = c.udpZero ? withoutUdpChecksum(clientFrame(SETUP, f)) : clientFrame(SETUP, f);
        const b = translateChecked(env, svc, f, frame, c.udpZero);
        reverseChecked(env, svc, f, b, c.udpZero);
        const again = translateChecked(env, svc, f, frame, c.udpZero);
        assert.equal(again.id, b.id, "the next packet of the flow reaches the same backend");
      });
    }

    it("the SCTP CRC update holds for every packet length (1 to 1,500 bytes of chunks)", async (t) => {
      const env = await kernel(t);
      if (!env) return;
      const svc = service("sctp4");
      for (const chunk of [4, 8, 20, 64, 100, 508, 1000, 1452]) {
        const f = flowOf(svc, "10.2.0.11", 6000 + chunk);
        const chunks = Buffer.alloc(chunk);
        for (let i = 0; i < chunk; i++) chunks[i] = (i * 37 + chunk) & 0xff;
        const { sctp } = await import("./fixtures/bpf/packets.js");
        const frame = ethernet(SETUP.lbMac, SETUP.clientMac, ETH_P_IP, ipv4({ src: f.src, dst: f.dst, protocol: IPPROTO.SCTP, df: true }, sctp({ sport: f.sport, dport: f.dport }, chunks)));
        const r = run(env, "nat_from_endpoint", frame);
        assert.equal(r.verdict, TC.OK);
        assert.deepEqual(checksumProblems(r.out), [], `${chunk} bytes of chunks`);
        assert.equal(tupleOf(r.out).dport, 7777);
      }
    });
  });

  describe("what is left alone, and what is dropped", () => {
    it("traffic to no service is untouched: another address, ICMP, a reply with no reverse entry", async (t) => {
      const env = await kernel(t);
      if (!env) return;
      const frames = [
        clientFrame(SETUP, { src: "10.2.0.20", dst: "10.1.0.1", sport: 1234, dport: 8080, protocol: IPPROTO.TCP }),
        clientFrame(SETUP, { src: "fd00:10::20", dst: "fd00:1::1", sport: 1234, dport: 53, protocol: IPPROTO.UDP }),
        ethernet(SETUP.lbMac, SETUP.clientMac, ETH_P_IP, ipv4({ src: "10.2.0.20", dst: "10.96.0.10", protocol: IPPROTO.ICMP }, Buffer.from("0800f7ff00000000", "hex"))),
      ];
      for (const frame of frames) {
        for (const program of ["nat_from_endpoint", "nat_to_endpoint"] as const) {
          const r = run(env, program, frame);
          assert.equal(r.verdict, TC.OK, program);
          assert.ok(r.out.equals(frame), `${program} leaves it untouched\n${describeDifference(r.out, frame)}`);
          assert.deepEqual([r.flags, r.serviceId, r.backendId], [0, 0, 0xffffffff], `${program}: nothing translated`);
        }
      }
      const stray = clientFrame(SETUP, { src: "10.1.0.1", dst: "10.2.0.21", sport: 8080, dport: 999, protocol: IPPROTO.TCP });
      const r = run(env, "nat_to_endpoint", stray);
      assert.ok(r.out.equals(stray) && r.flags === 0, "a backend's packet to a client that never used the service");
      const v6frame = clientFrame(SETUP, { src: "fd00:10::21", dst: "fd00:96::10", sport: 1, dport: 80, protocol: IPPROTO.TCP });
      const v6 = run(env, "nat_to_endpoint", v6frame);
      assert.ok(v6.out.equals(v6frame) && v6.flags === 0, "to_endpoint never translates destinations");
    });

    it("a service with no backend drops NO_BACKEND; a VIP port without a service NO_SERVICE; a backend of another family NAT_FAMILY", async (t) => {
      const env = await kernel(t);
      if (!env) return;
      const cases: [Buffer, DropReasonName, number][] = [
        [clientFrame(SETUP, flowOf(service("empty"), "10.2.0.30", 1000)), "NO_BACKEND", 1],
        [clientFrame(SETUP, { src: "10.2.0.30", dst: "10.96.0.10", sport: 1000, dport: 8081, protocol: IPPROTO.TCP }), "NO_SERVICE", 6],
        [clientFrame(SETUP, flowOf(service("mixed"), "10.2.0.30", 1000)), "NAT_FAMILY", 13],
      ];
      for (const [frame, reason, code] of cases) {
        const before = drops(env, reason);
        const r = run(env, "nat_from_endpoint", frame);
        assert.equal(r.verdict, TC.SHOT, `${reason}: TC_ACT_SHOT`);
        assert.equal(r.reason, code, `${reason}: the helper's reason`);
        assert.equal(r.flags, 0, `${reason}: not translated`);
        assert.equal(drops(env, reason), before + 1n, `${reason}: counted once`);
      }
    });
  });

  describe("flows, table changes and the host API", () => {
    const random = seededRandom(0x7c_4a7);
    const flows: { svc: string; flow: FlowSpec; backend: number }[] = [];

    it("differential: 3,000 seeded random flows reach the backend the model predicts, with valid checksums", async (t) => {
      const env = await kernel(t);
      if (!env) return;
      const names = ["web4", "dns4", "web6", "dns6", "sctp4", "sctp6"];
      const reached = new Set<number>();
      for (let i = 0; i < 3000; i++) {
        const svc = service(names[i % names.length]!);
        const f = flowOf(svc, randomClient(random, isV6(svc.vip)), 1024 + Math.floor(random() * 64000));
        const r = run(env, "nat_from_endpoint", clientFrame(SETUP, f));
        const label = `${f.src}:${f.sport} → ${svc.name}`;
        assert.equal(r.verdict, TC.OK, label);
        const want = predict(env, f, svc);
        assert.equal(r.backendId, want.id, label);
        const out = tupleOf(r.out);
        assert.deepEqual([out.dst, out.dport, out.src, out.sport], [want.address, want.port, canonical(f.src), f.sport], label);
        const problems = checksumProblems(r.out);
        assert.deepEqual(problems, [], label);
        flows.push({ svc: svc.name, flow: f, backend: want.id });
        reached.add(want.id);
      }
      assert.equal(reached.size, 4 + 3 + 3 + 2 + 3 + 2, "every backend is reached");
    });

    it("a changed Maglev table (a backend added) leaves established flows on their backends; new flows follow it", async (t) => {
      const env = await kernel(t);
      if (!env) return;
      assert.ok(flows.length > 0, "the differential ran first");
      const web = service("web4");
      const grown: LbService = { ...web, backends: [...web.backends, be(5, "10.1.0.5", 8080)] };
      const result = env.dp.upsertService(grown);
      assert.equal(result.tablesWritten, 1);
      const next = SERVICES.map((s) => (s.name === "web4" ? grown : s));
      predictTables(env, next);
      let keptAgainstTable = 0;
      for (const { svc, flow, backend } of flows) {
        if (svc !== "web4") continue;
        const r = run(env, "nat_from_endpoint", clientFrame(SETUP, flow));
        assert.equal(r.backendId, backend, `${flow.src}:${flow.sport} keeps backend ${backend}`);
        if (predict(env, flow, grown).id !== backend) keptAgainstTable++;
      }
      assert.ok(keptAgainstTable > 0, "the new table would move some flows: only the flow LRU kept them");
      const fresh = Array.from({ length: 200 }, () => flowOf(grown, randomClient(random, false), 1024 + Math.floor(random() * 64000)));
      const reached = new Set<number>();
      for (const f of fresh) reached.add(translateChecked(env, grown, f).id);
      assert.ok(reached.has(5), "new flows reach the added backend");
      t.diagnostic(`${keptAgainstTable} web4 flows kept a backend the new table would not give them`);
    });

    it("src/lb/nat.ts reads the reverse entries from the pin, and a flush ends the reverse translation of a service", async (t) => {
      const env = await kernel(t);
      if (!env) return;
      const rev = await openReverseNat(pinRoot);
      try {
        const svc = service("dns6");
        const f = flowOf(svc, "fd00:10::40", 41000);
        const b = translateChecked(env, svc, f);
        const id = serviceId(env, "dns6");
        const entries = rev.entries();
        const entry = entries.find((e) => e.client === canonical(f.src) && e.clientPort === f.sport);
        assert.deepEqual(entry, {
          protocol: "UDP", family: 6, client: canonical(f.src), clientPort: f.sport, backend: b.address, backendPort: b.port,
          frontend: canonical(svc.vip), frontendPort: svc.port, serviceId: id, backendId: b.id,
        });
        const ofService = entries.filter((e) => e.serviceId === id).length;
        const others = entries.length - ofService;
        assert.equal(rev.flush({ serviceId: id }), ofService, "every entry of the service deleted");
        assert.equal(rev.entries().length, others, "the other services' entries stay");
        const reply = replyFrame(f, b);
        const r = run(env, "nat_to_endpoint", reply);
        assert.ok(r.out.equals(reply) && r.flags === 0, "no entry, no reverse translation");
        translateChecked(env, svc, f);
        reverseChecked(env, svc, f, b);
        assert.throws(() => rev.flush({ backendId: -1 }), /filter\.backendId/);
        assert.throws(() => new ReverseNat(env.dp.maps.flows), (e: unknown) => e instanceof Error && /wp_rev_nat/.test(e.message));
      } finally {
        rev.map.close();
      }
    });
  });
});
