/**
 * Maglev table build benchmark: the WebAssembly engine against a native C
 * build and a plain TypeScript build of the same algorithm.
 *
 * Why: the engine is in WebAssembly for determinism and portability, and this
 * measures what that costs against native code (goal: within 1.3x of C at
 * M=65521, N=1000, in under 8 MiB of linear memory) and what it gains over
 * plain JS. Every implementation's table is checked slot for slot against the
 * builder's before anything is timed; a mismatch aborts the run.
 *
 *   npm run bench                      Markdown table on stdout, progress on stderr
 *   npm run --silent bench -- --json   the same results as JSON on stdout
 *                                      (--silent keeps npm's banner out of it)
 *   npm run bench -- --quick           fewer repetitions (a smoke test, noisy numbers)
 *
 * Columns are measured in interleaved rounds (each column takes a turn per
 * round, in rotating order) so that load from other processes on the machine
 * spreads over all columns instead of landing on one.
 */
import { cpus, loadavg } from "node:os";
import { createMaglev, type MaglevBuilder } from "../src/maglev/builder.js";
import type { MaglevBackend } from "../src/maglev/backend.js";
import { PlainMaglev, type PlainInput } from "./baseline/maglev-plain.js";
import { makeBackends, toPlainInput } from "./lib/cases.js";
import { createEngine, loadEngine, type Engine, type LoadedEngine } from "./lib/engine-direct.js";
import { compileNative, nativeCase, runNative, type NativeBuild, type NativeCase } from "./lib/native.js";
import { COLUMNS, markdownTable, mib, ratio, type CaseResult, type Column } from "./lib/report.js";
import { sample, summarize, warmUp, type RepPolicy } from "./lib/stats.js";
import { assertSameTable, fnv1a, hex32 } from "./lib/table-check.js";

const args = new Set(process.argv.slice(2));
const asJson = args.has("--json");
const quick = args.has("--quick");
const log = (message: string): void => void process.stderr.write(`${message}\n`);

const TABLE_SIZES = [16381, 65521, 131071];
const BACKEND_COUNTS = [10, 100, 1000];
const GOAL = { m: 65521, n: 1000, ratio: 1.3, memoryBytes: 8 * 1048576 };
const ROUNDS = quick ? 1 : 5;
// Per column, per round. Small cases hit maxReps quickly; large ones (a few
// ms a build) stop on the time budget, so they get fewer repetitions.
const POLICY: RepPolicy = quick ? { minReps: 3, maxReps: 50, budgetMs: 25 } : { minReps: 5, maxReps: 300, budgetMs: 150 };

/** Everything one case needs, prepared outside the timed code. */
interface Prepared {
  readonly m: number;
  readonly backends: MaglevBackend[];
  readonly input: PlainInput;
  readonly engine: LoadedEngine;
  readonly plain: PlainMaglev;
  readonly native: NativeCase;
}

function prepare(builder: MaglevBuilder, engine: Engine, plain: PlainMaglev, backends: MaglevBackend[]): Prepared {
  const { tableSize: m, seeds } = builder;
  const input = toPlainInput(backends, (b) => builder.keyOf(b));
  return {
    m, backends, input, plain,
    engine: loadEngine(engine, input, m, seeds.murmur),
    native: nativeCase(input, m, seeds.murmur),
  };
}

/** Builds `p` with every implementation and aborts unless all tables are identical. Returns the checksum. */
function verify(label: string, builder: MaglevBuilder, p: Prepared, nativeBuild: NativeBuild): number {
  const expected = builder.build(p.backends);
  if (expected.length !== p.m) throw new Error(`builder returned ${expected.length} slots for M=${p.m}`);
  if (expected.includes(0xffffffff)) throw new Error(`TABLE INCOMPLETE (${label}): builder left empty slots`);
  p.engine.build();
  assertSameTable(`WASM engine, ${label}`, expected, p.engine.table());
  assertSameTable(`plain TS, ${label}`, expected, p.plain.build(p.input, builder.seeds.murmur).slice());
  const checksum = fnv1a(expected);
  if (nativeBuild.ok) {
    const run = runNative(nativeBuild.path, p.native, 0, { minReps: 1, maxReps: 1, budgetMs: 0 }, true);
    assertSameTable(`native C, ${label}`, expected, run.table!);
    if (run.checksum !== checksum) {
      throw new Error(`CHECKSUM MISMATCH (native C, ${label}): ${hex32(run.checksum)} vs ${hex32(checksum)}`);
    }
  }
  return checksum;
}

/** Times every column of one case over interleaved rounds. */
function measure(builder: MaglevBuilder, p: Prepared, nativeBuild: NativeBuild, checksum: number, nativeRss: number[]): Partial<Record<Column, number[]>> {
  const seed = builder.seeds.murmur;
  const runners: Partial<Record<Column, (round: number) => number[]>> = {
    wasmBuild: () => sample(() => void builder.build(p.backends), POLICY),
    wasmEngine: () => sample(() => p.engine.build(), POLICY),
    plainTs: () => sample(() => void p.plain.build(p.input, seed), POLICY),
  };
  if (nativeBuild.ok) {
    runners.native = (round) => {
      // The native process starts cold every time, so it warms up itself.
      const run = runNative(nativeBuild.path, p.native, round === 0 ? 5 : 2, POLICY);
      if (run.checksum !== checksum) throw new Error(`CHECKSUM MISMATCH in native timing run: ${hex32(run.checksum)}`);
      if (run.maxRssKb !== undefined) nativeRss.push(run.maxRssKb);
      return run.samplesMs;
    };
  }
  // JIT warm-up for the in-process columns (the engine is already tiered up
  // by the global warm-up; this settles caches for this case's sizes).
  warmUp(() => void builder.build(p.backends), 3, 20);
  warmUp(() => p.engine.build(), 3, 20);
  warmUp(() => void p.plain.build(p.input, seed), 3, 20);

  const samples: Partial<Record<Column, number[]>> = {};
  const active = COLUMNS.filter((c) => runners[c]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < active.length; k++) {
      const column = active[(k + round) % active.length]!;
      (samples[column] ??= []).push(...runners[column]!(round));
    }
  }
  // The timed runs must still build the verified table.
  if (fnv1a(p.engine.table()) !== checksum) throw new Error("WASM engine table changed during timing");
  if (fnv1a(p.plain.build(p.input, seed)) !== checksum) throw new Error("plain TS table changed during timing");
  return samples;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg();
  const nativeBuild = compileNative();
  if (!nativeBuild.ok) log(`NOTE: skipping the native C column. ${nativeBuild.reason}`);
  else log(`native: ${nativeBuild.compiler}, cc -O2`);

  // One raw engine instance for the "engine alone" column, reloaded per case.
  const rawEngine = await createEngine();

  const results: CaseResult[] = [];
  const memory: Array<{ m: number; n: number; builderBytes: number; engineBytes: number }> = [];
  const nativeRss: number[] = [];
  let globalWarmupDone = false;

  for (const m of TABLE_SIZES) {
    const builder = await createMaglev({ tableSize: m });
    const plain = new PlainMaglev(m);

    // Weighted fill: not timed (the bench's cases use unit weights, which take
    // the round-robin path), but every implementation must agree on it too.
    const weighted = prepare(builder, rawEngine, plain, makeBackends(100, (i) => (i * 7919) % 13));
    verify(`M=${m}, N=100, weighted`, builder, weighted, nativeBuild);

    for (const n of BACKEND_COUNTS) {
      const label = `M=${m}, N=${n}`;
      const p = prepare(builder, rawEngine, plain, makeBackends(n));
      const checksum = verify(label, builder, p, nativeBuild);
      if (!globalWarmupDone) {
        // Let V8 tier the engine and the TS baseline up to optimised code
        // before the first measurement (wasm starts in its baseline compiler).
        warmUp(() => p.engine.build(), 50, 300);
        warmUp(() => void p.plain.build(p.input, builder.seeds.murmur), 50, 300);
        warmUp(() => void builder.build(p.backends), 50, 300);
        globalWarmupDone = true;
      }
      log(`verified ${label} (checksum ${hex32(checksum)}); timing...`);
      const samples = measure(builder, p, nativeBuild, checksum, nativeRss);
      const timings: CaseResult["timings"] = {};
      for (const c of COLUMNS) if (samples[c]) timings[c] = summarize(samples[c]);
      results.push({ m, n, timings, checksum: hex32(checksum) });
      memory.push({ m, n, builderBytes: builder.engineMemoryBytes(), engineBytes: p.engine.memoryBytes() });
    }
  }

  const largest = memory[memory.length - 1]!;
  const goalCase = results.find((r) => r.m === GOAL.m && r.n === GOAL.n)!;
  const goal = {
    buildRatio: ratio(goalCase.timings.wasmBuild, goalCase.timings.native),
    engineRatio: ratio(goalCase.timings.wasmEngine, goalCase.timings.native),
  };
  const peakRss = {
    nodeBytes: process.resourceUsage().maxRSS * 1024,
    nativeBytes: nativeRss.length ? Math.max(...nativeRss) * 1024 : undefined,
  };
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
    compiler: nativeBuild.ok ? nativeBuild.compiler : undefined,
    loadavgStart: loadStart.map((l) => Number(l.toFixed(2))),
    loadavgEnd: loadavg().map((l) => Number(l.toFixed(2))),
  };
  const seconds = (performance.now() - started) / 1000;

  if (asJson) {
    process.stdout.write(
      `${JSON.stringify({ unit: "ms", rounds: ROUNDS, policy: POLICY, quick, machine, goal: { ...GOAL, ...goal }, results, memory, peakRss, nativeSkipped: nativeBuild.ok ? undefined : nativeBuild.reason, seconds }, null, 2)}\n`,
    );
    return;
  }
  const verdict = (r: number | undefined): string =>
    r === undefined ? "n/a (no native column)" : `${r.toFixed(2)}× ${r <= GOAL.ratio ? "(meets" : "(misses"} ≤${GOAL.ratio}×)`;
  const lines = [
    `## Maglev table build: median ms per build (${ROUNDS} interleaved rounds${quick ? ", --quick" : ""})`,
    "",
    markdownTable(results),
    "",
    "WASM build() = `builder.build(backends)` end to end (validation, key strings, copy in and out); " +
      "WASM engine = `maglevBuild` alone; C = bench/native/maglev.c with cc -O2; plain TS = bench/baseline/maglev-plain.ts. " +
      "All columns produced identical tables (checked slot by slot, weighted fill included). " +
      "noise = the largest (p75 − p25) / median among the row's columns.",
    "",
    `- Goal at M=${GOAL.m}, N=${GOAL.n}: WASM build()÷C ${verdict(goal.buildRatio)}; WASM engine÷C ${verdict(goal.engineRatio)}`,
    `- WASM linear memory at M=${largest.m}, N=${largest.n}: builder ${mib(largest.builderBytes)}, ` +
      `bench's engine instance ${mib(largest.engineBytes)} (goal < ${mib(GOAL.memoryBytes)}: ` +
      `${largest.builderBytes < GOAL.memoryBytes ? "met" : "MISSED"})`,
    `- Peak RSS: node process ${mib(peakRss.nodeBytes)}` +
      (peakRss.nativeBytes === undefined ? "" : `, native process ${mib(peakRss.nativeBytes)}`),
    `- Machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.compiler ?? "no C compiler"}; ` +
      `load average ${machine.loadavgStart.join(" ")} at start, ${machine.loadavgEnd.join(" ")} at end ` +
      "(other work may share the cores)",
    `- ${seconds.toFixed(1)} s`,
  ];
  if (!nativeBuild.ok) lines.push(`- Native column skipped: ${nativeBuild.reason}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((error: unknown) => {
  log(`\nBENCH ABORTED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
