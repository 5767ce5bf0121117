/**
 * Per-packet cost of east-west service translation (bpf/lib/nat.h, through
 * the tc programs of bpf/test/nat_test.c) against a tc program that only
 * returns TC_ACT_OK (nat_noop, same object), both timed in the same run
 * through BPF_PROG_TEST_RUN on the maps of a load balancer written by
 * src/lb (openDatapath + sync, loadWithDatapath).
 *
 *   node --import tsx bench/tc-nat.bench.ts           Markdown on stdout, progress on stderr
 *   node --import tsx bench/tc-nat.bench.ts --json    the same results as JSON
 *   node --import tsx bench/tc-nat.bench.ts --quick   fewer rounds (a smoke test)
 *
 * How each row is timed (bench/xdp/measure.ts):
 *   - Rewriting rows (translate, reverse): the program rewrites the packet,
 *     so repeat > 1 would run it again over its own output (a translated
 *     packet is no longer addressed to the VIP). Each sample is one call
 *     with repeat = 1 on the original packet, the kernel's duration of
 *     that one run; the no-op is timed the same way on the same packets
 *     and its median subtracted. This is a "cold single packet" cost: a
 *     syscall separates runs, so caches are partly cold for both sides.
 *   - Untouched rows (traffic to no service, replies with no entry): the
 *     packet stays as it was (checked first), so one call with repeat = N
 *     gives the hot-loop mean per run, against the no-op timed alike.
 * Flows are established (their wp_flows and wp_rev_nat entries exist, put
 * there by an untimed run), which is the common case per packet.
 * Rounds: each case is timed in every round, the no-op and the program
 * alternating block by block; reported: the median of per-round medians,
 * the delta (program − no-op) and the ratio program / no-op.
 *
 * Needs root (CAP_BPF), clang and the libbpf headers. Without them it says
 * what is missing and exits 0; with CI=true it exits 1.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBpf } from "../scripts/build-bpf.mjs";
import type { BpfObject, BpfProgram } from "../src/bpf/object.js";
import { canUseBpf } from "../src/bpf/privileges.js";
import { testRun } from "../src/bpf/test-run.js";
import { loadWithDatapath, openDatapath, unpinDatapath, type Datapath, type LbService } from "../src/lb/index.js";
import { clientFrame, type FlowSpec, type LbFrameSetup } from "../test/fixtures/bpf/lb-frames.js";
import { IPPROTO } from "../test/fixtures/bpf/packets.js";
import { summarize } from "./lib/stats.js";
import { loop1Block, repeatNBlock, type Block, type Target } from "./xdp/measure.js";

const log = (message: string): void => void process.stderr.write(`${message}\n`);
const root = fileURLToPath(new URL("..", import.meta.url));
const argv = process.argv.slice(2);
const asJson = argv.includes("--json");
const quick = argv.includes("--quick");

const ROUNDS = quick ? 2 : 15;
const BLOCKS = 4;
const CALLS_LOOP1 = quick ? 128 : 512;
const REPEAT = quick ? 5_000 : 50_000;
const TC_ACT_OK = 0;

const SETUP: LbFrameSetup = {
  lbMac: "02:00:00:00:01:01", clientMac: "02:00:00:00:01:02", fallbackMac: "02:00:00:00:00:fe", encapSource4: "10.0.0.254", encapSource6: "fd00:1::fe",
};
const backends = (base: string, port: number, first: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: first + i, address: `${base}${i + 1}`, port }));
const SERVICES: LbService[] = [
  { name: "web4", vip: "10.96.0.10", port: 80, protocol: "TCP", algorithm: "maglev", backends: backends("10.1.0.", 8080, 1, 10) },
  { name: "web6", vip: "fd00:96::10", port: 80, protocol: "TCP", algorithm: "maglev", backends: backends("fd00:1::", 8080, 101, 10) },
  { name: "dns4", vip: "10.96.0.11", port: 53, protocol: "UDP", algorithm: "maglev", backends: backends("10.1.1.", 5353, 201, 10) },
  { name: "sctp4", vip: "10.96.0.12", port: 9999, protocol: "SCTP", algorithm: "maglev", backends: backends("10.1.2.", 7777, 301, 4) },
];
const FLOWS = 16;

type Method = "loop1" | "repeatN";
interface Case {
  id: string;
  what: string;
  program: "nat_from_endpoint" | "nat_to_endpoint";
  method: Method;
  frames: Buffer[];
  /** Whether the program must leave the packet as it was (repeatN rows). */
  untouched: boolean;
}

function flows(svc: LbService, protocol: number): FlowSpec[] {
  return Array.from({ length: FLOWS }, (_, i) => ({
    src: svc.vip.includes(":") ? `fd00:10::${(i + 1).toString(16)}` : `10.2.0.${i + 1}`, dst: svc.vip, sport: 40000 + i, dport: svc.port, protocol,
  }));
}

function cases(nat: BpfObject): Case[] {
  const svc = (name: string) => SERVICES.find((s) => s.name === name)!;
  const forward = (name: string, protocol: number) => flows(svc(name), protocol).map((f) => clientFrame(SETUP, f));
  // Replies: what each backend sends back, found by translating once (untimed).
  const replies = flows(svc("web4"), IPPROTO.TCP).map((f) => {
    const out = Buffer.from(testRun(nat.program("nat_from_endpoint"), { data: clientFrame(SETUP, f) }).dataOut);
    const backend = [...out.subarray(30, 34)].join(".");
    return clientFrame(SETUP, { src: backend, dst: f.src, sport: out.readUInt16BE(36), dport: f.sport, protocol: IPPROTO.TCP });
  });
  const other = Array.from({ length: FLOWS }, (_, i) => clientFrame(SETUP, { src: `10.2.0.${i + 1}`, dst: "10.3.0.1", sport: 40000 + i, dport: 80, protocol: IPPROTO.TCP }));
  return [
    { id: "tcp4", what: "translate: IPv4 TCP, established flow, port 80 → 8080", program: "nat_from_endpoint", method: "loop1", frames: forward("web4", IPPROTO.TCP), untouched: false },
    { id: "tcp6", what: "translate: IPv6 TCP, established flow", program: "nat_from_endpoint", method: "loop1", frames: forward("web6", IPPROTO.TCP), untouched: false },
    { id: "udp4", what: "translate: IPv4 UDP, established flow", program: "nat_from_endpoint", method: "loop1", frames: forward("dns4", IPPROTO.UDP), untouched: false },
    { id: "sctp4", what: "translate: IPv4 SCTP, port change (CRC32c update)", program: "nat_from_endpoint", method: "loop1", frames: forward("sctp4", IPPROTO.SCTP), untouched: false },
    { id: "rev4", what: "reverse: IPv4 TCP reply back to VIP:port", program: "nat_to_endpoint", method: "loop1", frames: replies, untouched: false },
    { id: "none-loop1", what: "translate: traffic to no service (untouched)", program: "nat_from_endpoint", method: "loop1", frames: other, untouched: true },
    { id: "none-hot", what: "translate: traffic to no service (untouched), hot loop", program: "nat_from_endpoint", method: "repeatN", frames: other, untouched: true },
    { id: "rev-none-hot", what: "reverse: packet with no reverse entry (untouched), hot loop", program: "nat_to_endpoint", method: "repeatN", frames: other, untouched: true },
  ];
}

/** Every frame once, untimed: the verdict is TC_ACT_OK and untouched rows stay untouched. Also establishes the flows. */
function verify(c: Case, program: BpfProgram, noop: BpfProgram): void {
  for (const frame of c.frames) {
    const r = testRun(program, { data: frame });
    if (r.retval !== TC_ACT_OK) throw new Error(`case ${c.id}: verdict ${r.retval}, expected TC_ACT_OK`);
    const same = Buffer.from(r.dataOut).equals(frame);
    if (c.untouched !== same) throw new Error(`case ${c.id}: the packet was ${same ? "not " : ""}rewritten`);
    const n = testRun(noop, { data: frame });
    if (n.retval !== TC_ACT_OK || !Buffer.from(n.dataOut).equals(frame)) throw new Error("the no-op did not return TC_ACT_OK with the packet untouched");
  }
}

interface Row { id: string; what: string; method: Method; natNs: number; noopNs: number; deltaNs: number; ratio: number; deltaP25: number; deltaP75: number; samples: number }

function time(c: Case, program: BpfProgram, noop: BpfProgram): Row {
  const block = (p: BpfProgram, b: number): Block => {
    const t: Target = { program: p, frames: c.frames };
    return c.method === "loop1" ? loop1Block(t, CALLS_LOOP1, b * CALLS_LOOP1) : repeatNBlock(t, REPEAT, 1);
  };
  const natRounds: number[] = [];
  const noopRounds: number[] = [];
  let samples = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const nat: number[] = [];
    const base: number[] = [];
    for (let b = 0; b < BLOCKS; b++) {
      const order = (b + round) % 2 === 0 ? ["noop", "nat"] : ["nat", "noop"];
      for (const side of order) (side === "nat" ? nat : base).push(...block(side === "nat" ? program : noop, b).kernelNs);
    }
    natRounds.push(summarize(nat).median);
    noopRounds.push(summarize(base).median);
    samples += nat.length;
  }
  const deltas = natRounds.map((n, i) => n - noopRounds[i]!);
  const natNs = summarize(natRounds).median;
  const noopNs = summarize(noopRounds).median;
  const d = summarize(deltas);
  return { id: c.id, what: c.what, method: c.method, natNs, noopNs, deltaNs: d.median, ratio: natNs / noopNs, deltaP25: d.p25, deltaP75: d.p75, samples };
}

function missingRequirement(): string | undefined {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (CAP_BPF) to load tc programs";
  if (spawnSync("sh", ["-c", "command -v clang"]).status !== 0) return "needs clang on PATH (Debian: apt-get install -y clang llvm libbpf-dev)";
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return "needs libbpf headers (/usr/include/bpf; Debian: libbpf-dev)";
  return undefined;
}

async function main(): Promise<void> {
  let missing = missingRequirement();
  if (!missing) {
    const bpf = await canUseBpf();
    if (!bpf.ok) missing = `cannot use BPF here: ${bpf.reason}`;
  }
  if (missing) {
    log(`tc-nat bench skipped: ${missing}`);
    process.exit(1);
  }
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!mounts.split("\n").some((l) => l.split(" ")[1] === "/sys/fs/bpf" && l.split(" ")[2] === "bpf")) spawnSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  const pinRoot = `/sys/fs/bpf/wasmplane-natbench-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), "wasmplane-natbench-"));
  let dp: Datapath | undefined;
  let nat: BpfObject | undefined;
  try {
    const [object] = buildBpf({ outDir: work, sources: [join(root, "bpf", "test", "nat_test.c")] });
    dp = await openDatapath({ pinRoot });
    dp.sync(SERVICES);
    nat = await loadWithDatapath(object!, dp);
    const noop = nat.program("nat_noop");
    const rows: Row[] = [];
    for (const c of cases(nat)) {
      const program = nat.program(c.program);
      verify(c, program, noop);
      log(`timing ${c.id} (${c.method}) ...`);
      rows.push(time(c, program, noop));
    }
    const meta = { kernel: release(), cpu: cpus()[0]?.model ?? "unknown", rounds: ROUNDS, callsPerBlock: CALLS_LOOP1, repeat: REPEAT };
    if (asJson) {
      process.stdout.write(`${JSON.stringify({ meta, rows }, null, 2)}\n`);
      return;
    }
    const f = (n: number) => n.toFixed(1);
    const lines = [
      `tc service translation (lib/nat.h) vs a TC_ACT_OK no-op, Linux ${meta.kernel}, ${meta.cpu}; ${ROUNDS} rounds`,
      "",
      "| case | method | nat ns | no-op ns | delta ns (p25–p75 over rounds) | ratio |",
      "|---|---|---:|---:|---:|---:|",
      ...rows.map((r) => `| ${r.what} | ${r.method === "loop1" ? "repeat=1 loop" : `repeat=${REPEAT}`} | ${f(r.natNs)} | ${f(r.noopNs)} | ${f(r.deltaNs)} (${f(r.deltaP25)}–${f(r.deltaP75)}) | ${r.ratio.toFixed(2)} |`),
      "",
      "Deltas compare within a method: repeat=1 rows are single cold runs after a syscall, repeat=N rows a hot loop.",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    nat?.close();
    dp?.close();
    unpinDatapath(pinRoot);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
