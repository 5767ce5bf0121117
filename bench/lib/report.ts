/**
 * Formats the bench's results: a Markdown table for people, JSON for scripts.
 * Kept apart from the measuring code so the numbers are computed once and
 * only rendered here.
 */
import type { Summary } from "./stats.js";

/** The implementations timed, in column order. */
export const COLUMNS = ["wasmBuild", "wasmEngine", "native", "plainTs"] as const;
export type Column = (typeof COLUMNS)[number];

export const COLUMN_TITLES: Record<Column, string> = {
  wasmBuild: "WASM build()",
  wasmEngine: "WASM engine",
  native: "C -O2",
  plainTs: "plain TS",
};

export interface CaseResult {
  readonly m: number;
  readonly n: number;
  /** Absent for the native column when no C compiler was found. */
  readonly timings: Partial<Record<Column, Summary>>;
  readonly checksum: string;
}

/** a ÷ b of two medians, or undefined when either is missing. */
export function ratio(a: Summary | undefined, b: Summary | undefined): number | undefined {
  return a && b ? a.median / b.median : undefined;
}

const ms = (s: Summary | undefined): string => (s ? s.median.toFixed(3) : "n/a");
const x = (r: number | undefined): string => (r === undefined ? "n/a" : `${r.toFixed(2)}×`);

/** Largest interquartile range relative to the median among a case's columns, in percent. */
function noise(t: CaseResult["timings"]): string {
  const spreads = COLUMNS.flatMap((c) => (t[c] ? [(t[c].p75 - t[c].p25) / t[c].median] : []));
  return `${(Math.max(...spreads) * 100).toFixed(0)}%`;
}

export function markdownTable(results: readonly CaseResult[]): string {
  const head =
    `| M | N | ${COLUMNS.map((c) => `${COLUMN_TITLES[c]} ms`).join(" | ")} | build()÷C | engine÷C | TS÷C | noise |`;
  const rule = `|${"---:|".repeat(2 + COLUMNS.length + 4)}`;
  const rows = results.map((r) => {
    const t = r.timings;
    return (
      `| ${r.m} | ${r.n} | ${COLUMNS.map((c) => ms(t[c])).join(" | ")} | ` +
      `${x(ratio(t.wasmBuild, t.native))} | ${x(ratio(t.wasmEngine, t.native))} | ${x(ratio(t.plainTs, t.native))} | ${noise(t)} |`
    );
  });
  return [head, rule, ...rows].join("\n");
}

export const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;
