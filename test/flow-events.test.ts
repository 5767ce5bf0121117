/**
 * Flow events end to end: the record layout against the BTF of
 * bpf/test/events_test.c, the decoder on hand-built records, and the ring
 * buffer path through the kernel (BPF_PROG_TEST_RUN → wp_emit_flow_event →
 * ring → libbpf consumer → decoder), including a ring that overflows on
 * purpose, where received + lost must equal emitted exactly.
 *
 * Kernel tests skip locally without root, clang or libbpf and fail under
 * CI=true (test/support/privileges.ts). Costs are printed as diagnostics,
 * never asserted.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import {
  assertLayoutMatchesBtf, BpfError, createMap, interfaceIndex, isOnBpffs, LayoutMismatchError, loadObject, testRun,
  type BpfObject, type StructLayout,
} from "../src/bpf/index.js";
import { openRingBuffer } from "../src/bpf/ringbuf.js";
import { InvalidInputError } from "../src/errors.js";
import {
  decodeFlowEvent, FLOW_EVENT_LAYOUT, FLOW_EVENT_RING_BYTES, FLOW_EVENT_SIZE, FLOW_EVENTS_DEFAULT_BYTES, FLOW_EVENTS_MAP,
  FLOW_EVENT_LOSSES_MAP, openFlowEventReader, WP_DIR, WP_EVENT_F, WP_VERDICT, type FlowEvent,
} from "../src/events/index.js";
import { parseIp } from "../src/net/ip.js";
import { requireBpf, requireTools, skipOrFail } from "./support/privileges.js";

const repo = new URL("../", import.meta.url).pathname;
const ABI = readFileSync(join(repo, "bpf/include/wasmplane/abi.h"), "utf8");
const EVENTS_H = readFileSync(join(repo, "bpf/lib/events.h"), "utf8");

let build = "";
before(() => {
  build = mkdtempSync(join(tmpdir(), "wasmplane-events-"));
});
after(() => {
  rmSync(build, { recursive: true, force: true });
});

/** Compiles bpf/test/events_test.c with extra -D flags into the temporary directory. */
function compile(tag: string, defines: string[] = []): string {
  const out = join(build, `events_test-${tag}.o`);
  execFileSync("clang", ["-O2", "-g", "-target", "bpf", "-DWASMPLANE_PIN_MAPS=0", ...defines, "-I/usr/include/x86_64-linux-gnu",
    "-c", join(repo, "bpf/test/events_test.c"), "-o", out], { stdio: "pipe" });
  return out;
}

const objects = new Map<string, string>();
function compiled(tag: string, defines: string[] = []): string {
  let path = objects.get(tag);
  if (!path) {
    path = compile(tag, defines);
    objects.set(tag, path);
  }
  return path;
}

// ---- records built by hand, at abi.h's offsets (the diagram, not the layout under test) ----

interface RawRecord {
  timeNs?: bigint; ifindex?: number; endpoint?: number; peer?: number; service?: number;
  saddr: string; daddr: string; sport?: number; dport?: number; protocol: number;
  direction: number; verdict: number; reason?: number; tcpFlags?: number; flags?: number;
}

function record(r: RawRecord): Uint8Array {
  const bytes = new Uint8Array(72);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0, r.timeNs ?? 0n, true);
  v.setUint32(8, r.ifindex ?? 0, true);
  v.setUint32(12, r.endpoint ?? 0, true);
  v.setUint32(16, r.peer ?? 0, true);
  v.setUint32(20, r.service ?? 0, true);
  const s = parseIp(r.saddr)!;
  const d = parseIp(r.daddr)!;
  bytes.set(s.bytes, 24);
  bytes.set(d.bytes, 40);
  v.setUint16(56, r.sport ?? 0, false);
  v.setUint16(58, r.dport ?? 0, false);
  bytes[60] = r.protocol;
  bytes[61] = s.family;
  bytes[62] = r.direction;
  bytes[63] = r.verdict;
  v.setUint16(64, r.reason ?? 0, true);
  bytes[66] = r.tcpFlags ?? 0;
  bytes[67] = r.flags ?? 0;
  return bytes;
}

/** An Ethernet frame whose payload is `payload` (EtherType IPv4, unused by events_raw). */
function frameAround(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(14 + payload.byteLength);
  frame[12] = 0x08;
  frame.set(payload, 14);
  return frame;
}

function define(text: string, name: string): number {
  const m = new RegExp(`^#define ${name}\\s+\\(?\\s*(0x[0-9a-fA-F]+|\\d+)(?:\\s*<<\\s*(\\d+))?\\s*\\)?`, "m").exec(text) ?? assert.fail(`${name} not defined`);
  return Number(m[1]) * 2 ** Number(m[2] ?? 0);
}

describe("layout and constants (no kernel)", () => {
  it("FLOW_EVENT_LAYOUT equals the BTF clang emits for struct wp_flow_event", (t) => {
    if (!requireTools(t, "clang")) return;
    const obj = compiled("default");
    assertLayoutMatchesBtf(obj, "wp_flow_event", FLOW_EVENT_LAYOUT);
    // The check can fail: a layout with two fields swapped is refused.
    const drifted: StructLayout = { size: 72, fields: { ...FLOW_EVENT_LAYOUT.fields, sport: { offset: 58, size: 2 }, dport: { offset: 56, size: 2 } } };
    assert.throws(() => assertLayoutMatchesBtf(obj, "wp_flow_event", drifted), (e: unknown) => {
      assert.ok(e instanceof LayoutMismatchError);
      assert.ok(e.differences.some((d) => d.includes("sport")), e.message);
      return true;
    });
  });

  it("every byte of the record belongs to one field (padding spelled out), 8-byte multiple", () => {
    const covered = new Uint8Array(FLOW_EVENT_LAYOUT.size);
    for (const [name, f] of Object.entries(FLOW_EVENT_LAYOUT.fields)) {
      for (let i = f.offset; i < f.offset + f.size; i++) {
        assert.equal(covered[i], 0, `${name} overlaps at ${i}`);
        covered[i] = 1;
      }
    }
    assert.ok(covered.every((b) => b === 1));
    assert.equal(FLOW_EVENT_SIZE % 8, 0);
    assert.equal(FLOW_EVENT_RING_BYTES, 80);
  });

  it("WP_DIR_*, WP_VERDICT_*, WP_EVENT_F_* and the ring's default size equal the C headers'", () => {
    assert.equal(WP_DIR.INGRESS, define(ABI, "WP_DIR_INGRESS"));
    assert.equal(WP_DIR.EGRESS, define(ABI, "WP_DIR_EGRESS"));
    assert.equal(WP_VERDICT.FORWARDED, define(ABI, "WP_VERDICT_FORWARDED"));
    assert.equal(WP_VERDICT.DROPPED, define(ABI, "WP_VERDICT_DROPPED"));
    assert.equal(WP_EVENT_F.REPLY, define(ABI, "WP_EVENT_F_REPLY"));
    assert.equal(WP_EVENT_F.TRANSLATED, define(ABI, "WP_EVENT_F_TRANSLATED"));
    assert.equal(FLOW_EVENTS_DEFAULT_BYTES, define(EVENTS_H, "WASMPLANE_FLOW_EVENTS_BYTES"));
    assert.match(EVENTS_H, new RegExp(`\\} ${FLOW_EVENTS_MAP} SEC\\("\\.maps"\\);`));
    assert.match(EVENTS_H, new RegExp(`\\} ${FLOW_EVENT_LOSSES_MAP} SEC\\("\\.maps"\\);`));
  });
});

describe("decodeFlowEvent (no kernel)", () => {
  const offset = 1_700_000_000_000_000_000n - 5_000_000_000n; // wall = mono + offset

  it("an IPv4 TCP drop by policy, every field", () => {
    const ev = decodeFlowEvent(record({
      timeNs: 5_000_000_000n + 123_456_789n, ifindex: 7, endpoint: 1001, peer: 2, service: 0, saddr: "10.0.0.1", daddr: "192.0.2.10",
      sport: 40000, dport: 443, protocol: 6, direction: 1, verdict: 2, reason: 11, tcpFlags: 0x12, flags: 0,
    }), { wallClockOffsetNs: offset });
    assert.deepEqual(ev, {
      timeNs: 5_123_456_789n, time: "2023-11-14T22:13:20.123Z", ifindex: 7, endpointIdentity: 1001, peerIdentity: 2, serviceId: undefined,
      family: 4, source: "10.0.0.1", destination: "192.0.2.10", sourcePort: 40000, destinationPort: 443, protocol: "TCP", protocolNumber: 6,
      direction: "egress", verdict: "DROPPED", reason: "policy-deny", reasonCode: 11, tcpFlags: "SYN|ACK", tcpFlagsByte: 0x12,
      reply: false, translated: false, flags: 0,
    } satisfies FlowEvent);
  });

  it("an IPv6 UDP reply, forwarded and translated; default-deny; other protocols; all TCP flags", () => {
    const v6 = decodeFlowEvent(record({
      saddr: "fd00:1::10", daddr: "2001:db8::1", sport: 53, dport: 61000, protocol: 17, direction: 0, verdict: 1, service: 42,
      flags: WP_EVENT_F.REPLY | WP_EVENT_F.TRANSLATED | 0x80,
    }), { wallClockOffsetNs: 0n });
    assert.equal(v6.source, "fd00:1::10");
    assert.equal(v6.destination, "2001:db8::1");
    assert.equal(v6.family, 6);
    assert.deepEqual([v6.sourcePort, v6.destinationPort, v6.protocol, v6.direction, v6.verdict], [53, 61000, "UDP", "ingress", "FORWARDED"]);
    assert.deepEqual([v6.reply, v6.translated, v6.flags, v6.serviceId, v6.reason, v6.reasonCode, v6.tcpFlags], [true, true, 0x83, 42, undefined, 0, ""]);
    assert.equal(v6.time, "1970-01-01T00:00:00.000Z");

    const dd = decodeFlowEvent(record({ saddr: "10.1.0.1", daddr: "10.1.0.2", protocol: 132, direction: 0, verdict: 2, reason: 12, flags: WP_EVENT_F.TRANSLATED }), { wallClockOffsetNs: 0n });
    assert.deepEqual([dd.protocol, dd.reason, dd.reasonCode, dd.reply, dd.translated], ["SCTP", "default-deny", 12, false, true]);
    const names = (protocol: number, family: "4" | "6") => decodeFlowEvent(record({
      saddr: family === "4" ? "10.0.0.1" : "::1", daddr: family === "4" ? "10.0.0.2" : "::2", protocol, direction: 0, verdict: 1,
    }), { wallClockOffsetNs: 0n }).protocol;
    assert.deepEqual([names(1, "4"), names(58, "6"), names(47, "4")], ["ICMP", "ICMPv6", 47]);
    const all = decodeFlowEvent(record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 2, reason: 99, tcpFlags: 0xff }), { wallClockOffsetNs: 0n });
    assert.equal(all.tcpFlags, "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR");
    assert.equal(all.reason, "reason-99");
  });

  it("time is Date's ISO text of time_ns + offset, for instants across seconds, days and years", () => {
    const base = record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 1 });
    const samples = [0n, 999_999_999n, 1_000_000_000n, 86_399_999_000_000n, 1_700_000_000_999_000_000n, 253_402_300_799_999_000_000n];
    let x = 12345n;
    for (let i = 0; i < 200; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) % (1n << 63n);
      samples.push(x % 4_000_000_000_000_000_000n);
    }
    for (const wall of samples) {
      const ev = decodeFlowEvent(base, { wallClockOffsetNs: wall });
      assert.equal(ev.time, new Date(Number(wall / 1_000_000n)).toISOString(), `${wall}`);
    }
  });

  it("refuses records of another size or with values abi.h does not define, naming the field", () => {
    const good = record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 1 });
    const refused = (bytes: Uint8Array, field: string) => assert.throws(() => decodeFlowEvent(bytes, { wallClockOffsetNs: 0n }),
      (e: unknown) => e instanceof InvalidInputError && e.field === field);
    refused(good.subarray(0, 64), "record");
    refused(new Uint8Array(80), "record");
    const bad = (index: number, value: number) => Object.assign(good.slice(), { [index]: value });
    refused(bad(61, 5), "record.family");
    refused(bad(62, 2), "record.direction");
    refused(bad(63, 0), "record.verdict");
  });
});

// ---- through the kernel ----------------------------------------------------------------

/** struct __sk_buff for BPF_PROG_TEST_RUN with cb[0..4] set (cb at offset 48). */
function skbWithCb(cb: number[]): Uint8Array {
  const skb = new Uint8Array(192);
  const v = new DataView(skb.buffer);
  cb.forEach((value, i) => v.setUint32(48 + 4 * i, value, true));
  return skb;
}

/** An Ethernet + IPv4/IPv6 + TCP/UDP/ICMP frame. */
function packet(p: { saddr: string; daddr: string; protocol: number; sport?: number; dport?: number; tcpFlags?: number }): Uint8Array {
  const s = parseIp(p.saddr)!;
  const d = parseIp(p.daddr)!;
  const l3 = s.family === 4 ? 20 : 40;
  const frame = new Uint8Array(14 + l3 + 20 + 16);
  const v = new DataView(frame.buffer);
  v.setUint16(12, s.family === 4 ? 0x0800 : 0x86dd, false);
  if (s.family === 4) {
    frame[14] = 0x45;
    v.setUint16(16, l3 + 36, false);
    frame[14 + 8] = 64;
    frame[14 + 9] = p.protocol;
    frame.set(s.bytes, 14 + 12);
    frame.set(d.bytes, 14 + 16);
  } else {
    frame[14] = 0x60;
    v.setUint16(14 + 4, 36, false);
    frame[14 + 6] = p.protocol;
    frame[14 + 7] = 64;
    frame.set(s.bytes, 14 + 8);
    frame.set(d.bytes, 14 + 24);
  }
  const l4 = 14 + l3;
  v.setUint16(l4, p.sport ?? 0, false);
  v.setUint16(l4 + 2, p.dport ?? 0, false);
  if (p.protocol === 6) {
    frame[l4 + 12] = 0x50;
    frame[l4 + 13] = p.tcpFlags ?? 0;
  }
  return frame;
}

async function loaded(t: import("node:test").TestContext, tag: string, defines: string[] = []): Promise<BpfObject | undefined> {
  if (!requireTools(t, "clang")) return undefined;
  if (!(await requireBpf(t))) return undefined;
  return loadObject(compiled(tag, defines), { pin: false });
}

describe("flow events through the kernel", () => {
  it("events_from_packet: every field of IPv4 TCP, IPv6 UDP and ICMP events decodes right", async (t) => {
    const obj = await loaded(t, "default");
    if (!obj) return;
    const events: FlowEvent[] = [];
    const reader = await openFlowEventReader(obj, (e) => events.push(e));
    try {
      const lo = await interfaceIndex("lo");
      const cases = [
        { pkt: { saddr: "10.0.0.1", daddr: "192.0.2.10", protocol: 6, sport: 40000, dport: 443, tcpFlags: 0x02 }, cb: [1001, 2, 0, 11, 1 | (2 << 8)] },
        { pkt: { saddr: "fd00::10", daddr: "2001:db8::1", protocol: 17, sport: 53, dport: 61000 }, cb: [7, 0xfffffff0, 42, 0, 0 | (1 << 8) | (3 << 16)] },
        { pkt: { saddr: "10.9.0.1", daddr: "10.9.0.2", protocol: 1 }, cb: [5, 6, 0, 12, 0 | (2 << 8) | (1 << 16)] },
      ];
      for (const c of cases) {
        const start = process.hrtime.bigint();
        const run = testRun(obj.program("events_from_packet"), { data: packet(c.pkt), ctxIn: skbWithCb(c.cb) });
        const end = process.hrtime.bigint();
        assert.equal(run.retval, 0);
        assert.equal(reader.consume(), 1);
        const e = events.pop()!;
        // The program's clock is the host's CLOCK_MONOTONIC: the stamp lies between two reads of it.
        assert.ok(e.timeNs >= start && e.timeNs <= end, `${e.timeNs} in [${start}, ${end}]`);
        const [endpoint, peer, service, reason, packed] = c.cb as [number, number, number, number, number];
        assert.deepEqual({ ...e, timeNs: 0n, time: "" }, {
          timeNs: 0n, time: "", ifindex: lo, endpointIdentity: endpoint, peerIdentity: peer, serviceId: service === 0 ? undefined : service,
          family: c.pkt.saddr.includes(":") ? 6 : 4, source: c.pkt.saddr, destination: c.pkt.daddr,
          sourcePort: c.pkt.sport ?? 0, destinationPort: c.pkt.dport ?? 0,
          protocol: ({ 6: "TCP", 17: "UDP", 1: "ICMP" } as Record<number, string>)[c.pkt.protocol], protocolNumber: c.pkt.protocol,
          direction: (packed & 0xff) === 0 ? "ingress" : "egress", verdict: ((packed >> 8) & 0xff) === 1 ? "FORWARDED" : "DROPPED",
          reason: reason === 0 ? undefined : ({ 11: "policy-deny", 12: "default-deny" } as Record<number, string>)[reason], reasonCode: reason,
          tcpFlags: c.pkt.tcpFlags === 0x02 ? "SYN" : "", tcpFlagsByte: c.pkt.tcpFlags ?? 0,
          reply: ((packed >> 16) & 1) !== 0, translated: ((packed >> 16) & 2) !== 0, flags: (packed >> 16) & 0xff,
        });
        assert.ok(!Number.isNaN(Date.parse(e.time)), e.time);
      }
      assert.deepEqual(reader.stats(), { received: 3, lost: 0n, lostAtOpen: 0n, malformed: 0 });
    } finally {
      reader.close();
      obj.close();
    }
  });

  it("a reader that keeps up loses nothing: 100,000 records in order, consumed between runs", async (t) => {
    const obj = await loaded(t, "default");
    if (!obj) return;
    const template = record({ ifindex: 3, endpoint: 100, peer: 200, service: 9, saddr: "10.0.0.1", daddr: "10.0.0.2", sport: 1234, dport: 80, protocol: 6, direction: 1, verdict: 1, tcpFlags: 0x02 });
    const frame = frameAround(template);
    let expected = 1n;
    let wrong = 0;
    const reader = await openFlowEventReader(obj, (e) => {
      // events_raw writes a running sequence number into time_ns.
      if (e.timeNs !== expected || e.source !== "10.0.0.1" || e.destinationPort !== 80 || e.serviceId !== 9 || e.tcpFlags !== "SYN") wrong++;
      expected = e.timeNs + 1n;
    }, { maxRecordsPerCall: Infinity });
    try {
      const rounds = 100;
      const repeat = 1000; // 80,000 ring bytes per round, well under 1 MiB
      let consumeNs = 0n;
      for (let i = 0; i < rounds; i++) {
        testRun(obj.program("events_raw"), { data: frame, repeat });
        const t0 = process.hrtime.bigint();
        assert.equal(reader.consume(), repeat);
        consumeNs += process.hrtime.bigint() - t0;
      }
      assert.equal(wrong, 0);
      assert.deepEqual(reader.stats(), { received: rounds * repeat, lost: 0n, lostAtOpen: 0n, malformed: 0 });
      assert.equal(expected, BigInt(rounds * repeat + 1));
      t.diagnostic(`consume + decode: ${(Number(consumeNs) / (rounds * repeat)).toFixed(0)} ns per record`);
    } finally {
      reader.close();
      obj.close();
    }
  });

  it("started from the event loop (readable and interval), the reader consumes by itself and loses nothing", async (t) => {
    const obj = await loaded(t, "default");
    if (!obj) return;
    const frame = frameAround(record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 17, direction: 0, verdict: 2, reason: 12 }));
    let received = 0;
    const reader = await openFlowEventReader(obj, () => { received++; });
    try {
      for (const start of [{ mode: "readable" as const }, { mode: "interval" as const, intervalMs: 1 }]) {
        const before = received;
        reader.start(start);
        const rounds = 50;
        const repeat = 2000;
        for (let i = 0; i < rounds; i++) {
          testRun(obj.program("events_raw"), { data: frame, repeat });
          // Let the event loop run until the reader has caught up (bounded).
          for (let spins = 0; received - before < (i + 1) * repeat && spins < 10_000; spins++) await tick();
        }
        reader.stop();
        assert.equal(received - before, rounds * repeat, `${start.mode}: every record arrived`);
      }
      assert.equal(reader.stats().lost, 0n);
      // Stopped: records stay in the ring until consumed by hand.
      testRun(obj.program("events_raw"), { data: frame, repeat: 10 });
      for (let i = 0; i < 20; i++) await tick();
      assert.equal(reader.consume(), 10);
    } finally {
      reader.close();
      obj.close();
    }
  });

  it("an overflowing ring: received + lost == emitted exactly, and the ring holds floor(bytes / 80) records", async (t) => {
    const bytes = 4096;
    const obj = await loaded(t, "small", [`-DWASMPLANE_FLOW_EVENTS_BYTES=${bytes}`]);
    if (!obj) return;
    const frame = frameAround(record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 2, reason: 11 }));
    const seqs: bigint[] = [];
    const reader = await openFlowEventReader(obj, (e) => seqs.push(e.timeNs));
    try {
      assert.equal(obj.map(FLOW_EVENTS_MAP).maxEntries, bytes);
      let emitted = 0;
      for (const repeat of [200, 7, 1000]) {
        testRun(obj.program("events_raw"), { data: frame, repeat });
        emitted += repeat;
        const got = reader.consume(Infinity);
        // Nothing consumed during the run: the ring keeps exactly what fits.
        assert.equal(got, Math.min(repeat, Math.floor(bytes / FLOW_EVENT_RING_BYTES)));
        const { received, lost } = reader.stats();
        assert.equal(BigInt(received) + lost, BigInt(emitted), `after ${emitted} emitted`);
      }
      assert.ok(reader.stats().lost > 0n);
      assert.equal(reader.lost(), reader.stats().lost);
      // What arrived is the first records of each run, in order.
      assert.deepEqual(seqs.slice(0, 3), [1n, 2n, 3n]);
      assert.equal(seqs[51], 201n);
    } finally {
      reader.close();
      obj.close();
    }
  });

  it("the bpf_ringbuf_output variant emits the same records; its cost is printed beside wp_emit_flow_event's", async (t) => {
    const obj = await loaded(t, "default");
    if (!obj) return;
    const frame = frameAround(record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 1 }));
    const got: string[] = [];
    const ring = await openRingBuffer(obj.map(FLOW_EVENTS_MAP), (b) => got.push(Buffer.from(b.subarray(8)).toString("hex")));
    try {
      testRun(obj.program("events_raw"), { data: frame, repeat: 1 });
      testRun(obj.program("events_raw_output"), { data: frame, repeat: 1 });
      assert.equal(ring.consume(), 2);
      assert.equal(got[0], got[1]);
      const repeat = 5000;
      const cost = { reserve: [] as number[], output: [] as number[] };
      for (let i = 0; i < 20; i++) {
        cost.reserve.push(testRun(obj.program("events_raw"), { data: frame, repeat }).durationNs);
        ring.consume(Infinity);
        cost.output.push(testRun(obj.program("events_raw_output"), { data: frame, repeat }).durationNs);
        ring.consume(Infinity);
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
      t.diagnostic(`per run: wp_emit_flow_event (reserve+copy+submit) ${median(cost.reserve)} ns, bpf_ringbuf_output ${median(cost.output)} ns (ratio ${(median(cost.reserve) / median(cost.output)).toFixed(2)})`);
    } finally {
      ring.close();
      obj.close();
    }
  });

  it("errors name the map and errno; a handler's throw reaches consume()", async (t) => {
    const obj = await loaded(t, "default");
    if (!obj) return;
    try {
      await assert.rejects(openRingBuffer(obj.map(FLOW_EVENT_LOSSES_MAP), () => {}), (e: unknown) =>
        e instanceof LayoutMismatchError && e.message.includes(`"${FLOW_EVENT_LOSSES_MAP}"`) && e.message.includes("expected ringbuf"));
      await assert.rejects(openRingBuffer("/sys/fs/bpf/wasmplane-no-such-ring", () => {}), (e: unknown) =>
        e instanceof BpfError && e.errnoName === "ENOENT" && e.message.includes("wasmplane-no-such-ring"));
      const hash = await createMap({ type: "hash", keySize: 4, valueSize: 4, maxEntries: 1 }, "not_a_ring");
      try {
        await assert.rejects(openFlowEventReader({ events: obj.map(FLOW_EVENTS_MAP), losses: hash }, () => {}), LayoutMismatchError);
      } finally {
        hash.close();
      }
      await assert.rejects(openRingBuffer(obj.map(FLOW_EVENTS_MAP), () => {}, { maxRecordsPerCall: 0 }), InvalidInputError);

      const frame = frameAround(record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 1 }));
      let calls = 0;
      const ring = await openRingBuffer(obj.map(FLOW_EVENTS_MAP), () => {
        calls++;
        if (calls === 2) throw new Error("handler failed");
      });
      try {
        testRun(obj.program("events_raw"), { data: frame, repeat: 5 });
        assert.throws(() => ring.consume(), /handler failed/);
        assert.equal(calls, 2, "consumption stopped at the throw");
        assert.equal(ring.consume(), 3, "the rest is still there, the failed record is not");
        assert.equal(ring.consume(), 0);
      } finally {
        ring.close();
      }
      assert.throws(() => ring.consume(), InvalidInputError);

      // A record that does not decode is counted, handed to onMalformed, and the next one still arrives.
      const seen: string[] = [];
      const malformed: string[] = [];
      const reader = await openFlowEventReader(obj, (e) => seen.push(e.source), { onMalformed: (e, bytes) => malformed.push(`${e.field}:${bytes[61]}`) });
      try {
        const bad = record({ saddr: "10.0.0.1", daddr: "10.0.0.2", protocol: 6, direction: 0, verdict: 1 });
        bad[61] = 5;
        testRun(obj.program("events_raw"), { data: frameAround(bad) });
        testRun(obj.program("events_raw"), { data: frame });
        assert.equal(reader.consume(), 2);
        assert.deepEqual([seen, malformed], [["10.0.0.1"], ["record.family:5"]]);
        assert.deepEqual(reader.stats(), { received: 2, lost: 0n, lostAtOpen: 0n, malformed: 1 });
      } finally {
        reader.close();
      }
    } finally {
      obj.close();
    }
  });

  it("a reader opens the ring and the loss counter from their pin directory", async (t) => {
    if (!requireTools(t, "clang")) return;
    if (!(await requireBpf(t))) return;
    if (!isOnBpffs("/sys/fs/bpf")) {
      skipOrFail(t, "/sys/fs/bpf is not a bpffs (mount -t bpf bpf /sys/fs/bpf)");
      return;
    }
    const pinRoot = mkdtempSync("/sys/fs/bpf/wasmplane-events-test-");
    const obj = await loadObject(compiled("pinned", ["-UWASMPLANE_PIN_MAPS", "-DWASMPLANE_PIN_MAPS=1"]), { pinRoot });
    try {
      assert.deepEqual([...obj.pinPaths.keys()].sort(), [FLOW_EVENT_LOSSES_MAP, FLOW_EVENTS_MAP].sort());
      const sources: string[] = [];
      const reader = await openFlowEventReader(pinRoot, (e) => sources.push(e.source));
      try {
        testRun(obj.program("events_raw"), { data: frameAround(record({ saddr: "fd00::7", daddr: "fd00::8", protocol: 17, direction: 1, verdict: 1 })), repeat: 3 });
        assert.equal(reader.consume(), 3);
        assert.deepEqual(sources, ["fd00::7", "fd00::7", "fd00::7"]);
        assert.equal(reader.lost(), 0n);
      } finally {
        reader.close();
      }
    } finally {
      obj.close();
      rmSync(pinRoot, { recursive: true, force: true });
    }
  });
});
