/**
 * Per-packet cost of the endpoint policy program (bpf/tc_endpoint.c,
 * wasmplane_to_endpoint: the endpoint's ingress) with 16,384 entries in the
 * subject's policy map, against a tc program that only returns TC_ACT_OK
 * (bench/tc/noop.c), both compiled and timed in the same run through
 * BPF_PROG_TEST_RUN.
 *
 *   node --import tsx bench/tc-policy.bench.ts           Markdown on stdout
 *   node --import tsx bench/tc-policy.bench.ts --json    JSON on stdout
 *   node --import tsx bench/tc-policy.bench.ts --quick   fewer rounds (smoke test)
 *
 * Timing: one test-run call with repeat = N is one sample (the kernel's mean
 * ns per run). Valid because the program never rewrites the packet: every
 * run sees the input (checked: the output equals the input). Rounds rotate
 * the cases; inside a round the policy program and the no-op alternate
 * block by block. Reported: the median of per-round medians, and the delta
 * (policy minus no-op) with its spread over rounds. Goal: under 80 ns.
 *
 * What each case costs the program: endpoint lookup, parse, conntrack
 * reply lookup, ipcache lookup (exact hash, then the trie for CIDR peers), policy lookups (exact hash first, the trie only behind a marker), the counter;
 * then an allowed packet finds its conntrack entry (established after the
 * first run) and a dropped one counts the drop and writes a flow event into
 * the ring buffer (once the ring is full, the loss counter instead).
 *
 * Service translation (wasmplane_from_endpoint: the endpoint's egress to a
 * ClusterIP, the datapath opened on a load balancer's maps, src/lb synced
 * with one Maglev service of three backends): a new connection (a SYN from
 * a new source port each run: service lookup, Maglev pick, flow LRU and
 * reverse-NAT writes, destination and checksums rewritten, policy on the
 * backend, conntrack entry, flow event, counters) and an established one
 * (an ACK of the same flow: the flow LRU and the reverse entry are found,
 * the conntrack entry refreshed). These rewrite the packet, so repeat = N
 * would time the already translated output: they are timed one run per
 * call (repeat = 1), the no-op alike, so both rows are cold single-packet
 * costs (the kernel's timer around one run; no syscall in it). The flow
 * event ring is drained between blocks so that new connections always
 * write their event.
 *
 * Needs root (CAP_BPF), clang and libbpf headers; without them it says so
 * and exits 0 (exit 1 with CI=true).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canUseBpf, loadObject, testRun, type BpfProgram } from "../src/bpf/index.js";
import { openEndpointDatapath } from "../src/endpoint/index.js";
import { openFlowEventReader } from "../src/events/index.js";
import { openDatapath, unpinDatapath } from "../src/lb/index.js";
import type { PolicyMapEntry } from "../src/policy/resolver-host.js";
import { buildBpf } from "../scripts/build-bpf.mjs";
import { frame, skbContext, TC_ACT } from "../test/support/endpoint-packets.js";
import { summarize } from "./lib/stats.js";

const args = new Set(process.argv.slice(2));
const quick = args.has("--quick");
const ROUNDS = quick ? 3 : 15;
const BLOCKS = quick ? 3 : 10;
const REPEAT = quick ? 20_000 : 100_000;
const ENTRIES = 16_384;
const SUBJECT = 300;

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

const availability = await canUseBpf();
if (!availability.ok) {
  say(`bench:tc needs eBPF: ${availability.reason}`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "wasmplane-bench-tc-"));
const [noopObject] = buildBpf({ outDir: work, sources: [new URL("./tc/noop.c", import.meta.url).pathname] });
const noopObj = await loadObject(noopObject!, { pin: false });
const noop = noopObj.program("wasmplane_tc_noop");
const pinRoot = `/sys/fs/bpf/wasmplane-bench-tc-${process.pid}`;
unpinDatapath(pinRoot);
const lb = await openDatapath({ pinRoot });
const VIP = "10.96.0.10";
const BACKENDS = ["10.98.0.1", "10.98.0.2", "10.98.0.3"];
lb.sync([{ name: "web", vip: VIP, port: 80, protocol: "TCP", algorithm: "maglev", backends: BACKENDS.map((address, i) => ({ id: i + 1, address, port: 8080 })) }]);
const dp = await openEndpointDatapath({ loadBalancer: lb });
const reader = await openFlowEventReader(dp.object, () => {});

// ---- 16,384 entries: 4,094 peers × 4 entries, and identity 0's ------------------------------
const entry = (identity: number, protocol: number, port: number, prefixLength: number, precedence: number): PolicyMapEntry => {
  const portBits = Math.max(0, prefixLength - 8);
  return {
    identity, direction: "ingress", protocol, port, endPort: prefixLength < 8 ? 65535 : port + (1 << (16 - portBits)) - 1,
    prefixLength, deny: precedence === 4, proxy: precedence === 2, precedence,
  };
};
const PEER_BASE = 1000;
const entries: PolicyMapEntry[] = [
  entry(0, 17, 53, 24, 3),        // any peer: DNS
  entry(0, 1, 8, 24, 3),          // any peer: echo
  { ...entry(0, 0, 0, 0, 1), direction: "egress" }, // egress not enforced
];
const CIDR_ID = (1 << 24) | 1;
for (let p = 0; entries.length < ENTRIES - 1; p++) {
  const id = PEER_BASE + p;
  entries.push(entry(id, 6, 80, 24, 3), entry(id, 6, 8192, 16, 3), entry(id, 17, 5000, 24, 3), entry(id, 132, 9000, 20, 3));
}
entries.length = ENTRIES - 2;
const DENY_PEER = 900;
entries.push(entry(DENY_PEER, 0, 0, 0, 4), entry(CIDR_ID, 6, 443, 24, 3));
dp.writePolicyMap(SUBJECT, entries);
const peers = Math.ceil((ENTRIES - 5) / 4);
const ipcache = [
  ...Array.from({ length: peers }, (_, p) => ({ prefix: `10.${100 + (p >> 16)}.${(p >> 8) & 255}.${p & 255}/32`, identity: PEER_BASE + p })),
  { prefix: "10.99.0.1/32", identity: DENY_PEER },
  { prefix: "10.99.0.2/32", identity: 950 },           // a pod without entries: default deny
  { prefix: "10.99.0.10/32", identity: SUBJECT },
  { prefix: "192.0.2.0/24", identity: CIDR_ID },
];
dp.setIpcache(ipcache);
dp.registerEndpoint(1, SUBJECT);
say(`policy map: ${dp.policyEntries(SUBJECT).length} entries; ipcache: ${ipcache.length} prefixes`);

const hitPeer = `10.100.${(2000 >> 8) & 255}.${2000 & 255}`; // peer identity 3000: its L3+L4 entry on TCP 80
const CASES = [
  { name: "L3+L4 allow (TCP 80 from a pod)", data: frame({ src: hitPeer, dst: "10.99.0.10", protocol: "TCP", sport: 40000, dport: 80, flags: 0x10 }), retval: TC_ACT.OK },
  { name: "deny (L3 deny of the peer)", data: frame({ src: "10.99.0.1", dst: "10.99.0.10", protocol: "TCP", sport: 40000, dport: 80 }), retval: TC_ACT.SHOT },
  { name: "default deny (a pod without entries)", data: frame({ src: "10.99.0.2", dst: "10.99.0.10", protocol: "TCP", sport: 40000, dport: 80 }), retval: TC_ACT.SHOT },
  { name: "CIDR peer (192.0.2.0/24, TCP 443)", data: frame({ src: "192.0.2.7", dst: "10.99.0.10", protocol: "TCP", sport: 40000, dport: 443, flags: 0x10 }), retval: TC_ACT.OK },
];

const ctxIn = skbContext(1);
function sample(program: BpfProgram, data: Uint8Array): number {
  return testRun(program, { data, repeat: REPEAT, ctxIn }).durationNs;
}

for (const c of CASES) {
  const r = testRun(dp.toEndpoint, { data: c.data, ctxIn });
  if (r.retval !== c.retval) throw new Error(`${c.name}: retval ${r.retval}, expected ${c.retval}`);
  if (Buffer.compare(Buffer.from(r.dataOut), c.data) !== 0) throw new Error(`${c.name}: the program changed the packet; repeat=N timing would be invalid`);
}

const perRound = CASES.map(() => ({ policy: [] as number[], noop: [] as number[], delta: [] as number[] }));
for (let round = 0; round < ROUNDS; round++) {
  say(`round ${round + 1}/${ROUNDS}`);
  for (let k = 0; k < CASES.length; k++) {
    const i = (k + round) % CASES.length;
    const c = CASES[i]!;
    const p: number[] = [];
    const n: number[] = [];
    for (let b = 0; b < BLOCKS; b++) {
      p.push(sample(dp.toEndpoint, c.data));
      n.push(sample(noop, c.data));
    }
    const pm = summarize(p).median;
    const nm = summarize(n).median;
    perRound[i]!.policy.push(pm);
    perRound[i]!.noop.push(nm);
    perRound[i]!.delta.push(pm - nm);
  }
}

// ---- Service translation (from_endpoint), one run per call ------------------------------------
const SINGLE = quick ? 50 : 200;
const POD = "10.99.0.10";
let flows = 0;
/** A new client tuple per call: source port, then the third address byte (the policy subject comes from the interface, not the address). */
const newFlow = () => {
  const n = flows++;
  return frame({ src: `10.97.${1 + Math.floor(n / 60_000)}.10`, dst: VIP, protocol: "TCP", sport: 1024 + (n % 60_000), dport: 80, flags: 0x02 });
};
const established = frame({ src: POD, dst: VIP, protocol: "TCP", sport: 9999, dport: 80, flags: 0x10 });
const TRANSLATE = [
  { name: "ClusterIP, new connection (SYN, new flow each run)", data: newFlow },
  { name: "ClusterIP, established (ACK of an open flow)", data: () => established },
];
const single = (program: BpfProgram, data: Uint8Array): number => testRun(program, { data, ctxIn }).durationNs;
{
  const r = testRun(dp.fromEndpoint, { data: established, ctxIn });
  const dst = [...r.dataOut.subarray(30, 34)].join(".");
  if (r.retval !== TC_ACT.OK || !BACKENDS.includes(dst)) throw new Error(`translation check: retval ${r.retval}, destination ${dst}; expected TC_ACT_OK to a backend`);
}
const translateRounds = TRANSLATE.map(() => ({ prog: [] as number[], noop: [] as number[], delta: [] as number[] }));
for (let round = 0; round < ROUNDS; round++) {
  say(`translation round ${round + 1}/${ROUNDS}`);
  for (let k = 0; k < TRANSLATE.length; k++) {
    const i = (k + round) % TRANSLATE.length;
    const c = TRANSLATE[i]!;
    const p: number[] = [];
    const n: number[] = [];
    for (let b = 0; b < BLOCKS; b++) {
      reader.consume(Number.MAX_SAFE_INTEGER);
      for (let j = 0; j < SINGLE; j++) p.push(single(dp.fromEndpoint, c.data()));
      const first = c.data();
      for (let j = 0; j < SINGLE; j++) n.push(single(noop, first));
    }
    const pm = summarize(p).median;
    const nm = summarize(n).median;
    translateRounds[i]!.prog.push(pm);
    translateRounds[i]!.noop.push(nm);
    translateRounds[i]!.delta.push(pm - nm);
  }
}
const translation = TRANSLATE.map((c, i) => {
  const r = translateRounds[i]!;
  const prog = summarize(r.prog).median;
  const base = summarize(r.noop).median;
  const delta = summarize(r.delta);
  return { case: c.name, programNs: prog, noopNs: base, deltaNs: delta.median, deltaMin: delta.min, deltaMax: delta.max, ratio: prog / base };
});

const results = CASES.map((c, i) => {
  const r = perRound[i]!;
  const policy = summarize(r.policy).median;
  const base = summarize(r.noop).median;
  const delta = summarize(r.delta);
  return { case: c.name, policyNs: policy, noopNs: base, deltaNs: delta.median, deltaMin: delta.min, deltaMax: delta.max, ratio: policy / base };
});

if (args.has("--json")) {
  console.log(JSON.stringify({ entries: ENTRIES, repeat: REPEAT, rounds: ROUNDS, results, translation: { runsPerSample: 1, samplesPerBlock: SINGLE, results: translation } }, null, 2));
} else {
  console.log(`## tc endpoint policy: ns per packet (${ENTRIES} policy entries, BPF_PROG_TEST_RUN repeat=${REPEAT}, ${ROUNDS} rounds)\n`);
  console.log("| case | policy | no-op | delta (min–max over rounds) | ratio | goal < 80 ns |");
  console.log("|---|---:|---:|---:|---:|:---:|");
  for (const r of results) {
    console.log(`| ${r.case} | ${r.policyNs.toFixed(1)} | ${r.noopNs.toFixed(1)} | ${r.deltaNs.toFixed(1)} (${r.deltaMin.toFixed(1)}–${r.deltaMax.toFixed(1)}) | ${r.ratio.toFixed(2)}× | ${r.deltaNs < 80 ? "yes" : "no"} |`);
  }
  console.log(`\n## tc endpoint service translation (from_endpoint): ns per packet, one run per call (repeat=1), median of ${SINGLE} per block, ${ROUNDS} rounds\n`);
  console.log("| case | tc_endpoint | no-op | delta (min–max over rounds) | ratio |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of translation) {
    console.log(`| ${r.case} | ${r.programNs.toFixed(1)} | ${r.noopNs.toFixed(1)} | ${r.deltaNs.toFixed(1)} (${r.deltaMin.toFixed(1)}–${r.deltaMax.toFixed(1)}) | ${r.ratio.toFixed(2)}× |`);
  }
}
reader.close();
dp.unpin();
dp.close();
lb.close();
unpinDatapath(pinRoot);
noopObj.close();
rmSync(work, { recursive: true, force: true });
