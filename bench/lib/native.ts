/**
 * Compiles and drives bench/native/maglev.c, the native C column.
 *
 * Why a separate process per measurement rather than an addon: a plain
 * `cc -O2` executable needs no node-gyp or headers, and it times itself with
 * clock_gettime, so process start-up never enters the numbers.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { PlainInput } from "../baseline/maglev-plain.js";
import type { RepPolicy } from "./stats.js";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
export const buildDir = `${benchDir}.build`;
const source = `${benchDir}native/maglev.c`;
const executable = `${buildDir}/maglev`;

/** The compiled program, or why there is none. */
export type NativeBuild = { ok: true; path: string; compiler: string } | { ok: false; reason: string };

/** Compiles the C program with `cc -O2`; a missing or failing compiler is reported, not thrown. */
export function compileNative(): NativeBuild {
  mkdirSync(buildDir, { recursive: true });
  const version = spawnSync("cc", ["--version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    return { ok: false, reason: `no C compiler: \`cc --version\` failed (${version.error?.message ?? `exit ${version.status}`})` };
  }
  const cc = spawnSync("cc", ["-O2", "-std=c11", "-Wall", "-o", executable, source], { encoding: "utf8" });
  if (cc.status !== 0) return { ok: false, reason: `cc -O2 failed:\n${cc.stderr}` };
  return { ok: true, path: executable, compiler: version.stdout.split("\n")[0] ?? "cc" };
}

/** What one run of the native program reported. */
export interface NativeRun {
  readonly samplesMs: number[];
  readonly checksum: number;
  readonly maxRssKb: number | undefined;
  /** The final table, when it was asked for. */
  readonly table: Uint32Array | undefined;
}

/** One case's input, less the repetition parameters, which change per run. */
export interface NativeCase {
  readonly m: number;
  readonly seed: number;
  readonly n: number;
  /** "ID WEIGHT KEY" lines. */
  readonly backendLines: string;
}

export function nativeCase(input: PlainInput, m: number, seed: number): NativeCase {
  const decoder = new TextDecoder();
  const lines = input.keys.map((k, i) => {
    const key = decoder.decode(k);
    if (/\s/.test(key)) throw new Error(`key ${JSON.stringify(key)} holds whitespace; the native input format cannot carry it`);
    return `${input.ids[i]} ${input.weights[i]} ${key}\n`;
  });
  return { m, seed: seed >>> 0, n: input.keys.length, backendLines: lines.join("") };
}

/**
 * Runs the program on one case, fed through stdin, with `warmup` untimed
 * builds and `policy` for the timed ones.
 */
export function runNative(exe: string, c: NativeCase, warmup: number, policy: RepPolicy, wantTable = false): NativeRun {
  const text =
    `wasmplane-maglev-bench-v1\n${c.m} ${c.seed} ${c.n} ${warmup} ${policy.minReps} ${policy.maxReps} ` +
    `${Math.ceil(policy.budgetMs)}\n${c.backendLines}`;
  const tablePath = `${buildDir}/table-${c.m}-${c.n}.bin`;
  const args = wantTable ? ["-", tablePath] : ["-"];
  const run = spawnSync(exe, args, { input: text, encoding: "utf8", maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`native run failed (exit ${run.status}): ${run.stderr || run.error?.message}`);

  const samplesMs: number[] = [];
  let checksum: number | undefined;
  let maxRssKb: number | undefined;
  for (const line of run.stdout.split("\n")) {
    const [tag, value] = line.split(" ");
    if (tag === "ns") samplesMs.push(Number(value) / 1e6);
    else if (tag === "checksum") checksum = Number(value);
    else if (tag === "maxrss_kb" && Number(value) >= 0) maxRssKb = Number(value);
  }
  if (checksum === undefined || samplesMs.length === 0) throw new Error(`native output unreadable:\n${run.stdout}`);
  let table: Uint32Array | undefined;
  if (wantTable) {
    const bytes = readFileSync(tablePath);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    table = new Uint32Array(bytes.byteLength >>> 2);
    for (let i = 0; i < table.length; i++) table[i] = view.getUint32(i * 4, true);
  }
  return { samplesMs, checksum, maxRssKb, table };
}
