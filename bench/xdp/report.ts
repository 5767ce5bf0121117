/**
 * Formats bench/xdp.bench.ts's results: a Markdown table for people, the
 * same numbers as JSON for scripts. Numbers are computed once, in the bench.
 */
import type { Summary } from "../lib/stats.js";
import type { Method } from "./measure.js";

export interface XdpResult {
  readonly id: string;
  readonly path: string;
  /** The verdict every packet of the case got. */
  readonly verdict: string;
  readonly method: Method;
  /** Set on cross-check rows: the id of the row whose packets they time with the other method. */
  readonly crossCheckOf: string | undefined;
  /** The no-op program the row subtracts: "XDP_PASS no-op" or "XDP_TX no-op". */
  readonly baseline: string;
  /** Kernel ns per packet: summary of the per-round medians. */
  readonly lb: Summary;
  readonly noop: Summary;
  /** lb.median − noop.median. */
  readonly deltaNs: number;
  /** lb.median ÷ noop.median. */
  readonly ratio: number;
  /** Per round: the load balancer's median minus the no-op's median in that round. */
  readonly deltaPerRound: readonly number[];
  /** Samples per side over all rounds. */
  readonly samplesPerSide: number;
  /** Every sample of every round, per side (quartiles show the per-call spread). */
  readonly pooled: { readonly lb: Summary; readonly noop: Summary };
  /** repeat=1 loop: median wall-clock ns per testRun() call (syscall, FFI and copies included); live frames: per frame. */
  readonly wall: { readonly lbNs: number; readonly noopNs: number } | undefined;
}

export function methodText(method: Method, repeat: number, liveRepeat = 0): string {
  switch (method) {
    case "repeatN": return `kernel mean, repeat=${repeat}`;
    case "loop1": return "repeat=1 loop, kernel ns per call";
    case "live": return `live frames, kernel mean, repeat=${liveRepeat}`;
    case "liveStats": return `live frames, program run time (BPF_ENABLE_STATS), repeat=${liveRepeat}`;
  }
}

const ns = (n: number) => n.toFixed(1);

export function markdownTable(results: readonly XdpResult[], repeat: number, liveRepeat = 0): string {
  const head = "| path | verdict | method | baseline | median ns/packet | no-op ns | delta ns | ratio | delta range over rounds |";
  const rule = "|---|---|---|---|---:|---:|---:|---:|---:|";
  const rows = results.map((r) => {
    const lo = Math.min(...r.deltaPerRound);
    const hi = Math.max(...r.deltaPerRound);
    const path = r.crossCheckOf ? `${r.path} *(cross-check)*` : r.path;
    return `| ${path} | ${r.verdict} | ${methodText(r.method, repeat, liveRepeat)} | ${r.baseline} | ${ns(r.lb.median)} | ${ns(r.noop.median)} | ${ns(r.deltaNs)} | ${r.ratio.toFixed(2)}× | ${ns(lo)} … ${ns(hi)} |`;
  });
  return [head, rule, ...rows].join("\n");
}
