/**
 * Truth tables and expected reachability, after the helpers of the upstream
 * Kubernetes NetworkPolicy e2e suite (test/e2e/network/netpol: truthtable.go,
 * reachability.go). Written anew for this harness; the behaviour is the same
 * so that case data can be transcribed from upstream calls one to one:
 *
 * - a table starts with a default value for every (from, to) pair;
 * - `expect(from, to, v)` sets one pair;
 * - `expectAllIngress(pod, v)` sets every pair *to* `pod`;
 * - `expectAllEgress(pod, v)` sets every pair *from* `pod`;
 * - `expectPeer(from, to, v)` sets every pair whose sides match the two
 *   peers, where a peer with no namespace matches any namespace and a peer
 *   with no pod matches any pod;
 * - `allowLoopback()` sets every pod-to-itself pair to true.
 *
 * Calls apply in order: a later call overrides an earlier one on the pairs
 * they share, exactly as upstream.
 *
 * @module
 */

/** A pod as `namespace/name`. */
export type PodString = string;

/** Splits `ns/pod`; throws on anything else. */
export function splitPod(pod: PodString): { namespace: string; pod: string } {
  const parts = pod.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`expected ns/pod, found ${JSON.stringify(pod)}`);
  return { namespace: parts[0], pod: parts[1] };
}

/** Matches pods by namespace, name, both or neither (upstream's `Peer`). */
export interface Peer {
  readonly namespace?: string;
  readonly pod?: string;
}

/** Whether `peer` matches `pod`: an absent or empty field matches anything. */
export function peerMatches(peer: Peer, pod: PodString): boolean {
  const { namespace, pod: name } = splitPod(pod);
  return (!peer.namespace || peer.namespace === namespace) && (!peer.pod || peer.pod === name);
}

/** Marks used when printing: allowed, denied, unknown. */
const MARK = { yes: ".", no: "X", unknown: "?" } as const;

/** An n x m table of booleans over ordered (from, to) pairs. */
export class TruthTable {
  readonly froms: readonly string[];
  readonly tos: readonly string[];
  private readonly values = new Map<string, Map<string, boolean>>();
  private readonly toSet: ReadonlySet<string>;

  constructor(froms: readonly string[], tos: readonly string[], defaultValue?: boolean) {
    this.froms = [...froms];
    this.tos = [...tos];
    this.toSet = new Set(tos);
    for (const from of froms) {
      const row = new Map<string, boolean>();
      if (defaultValue !== undefined) for (const to of tos) row.set(to, defaultValue);
      this.values.set(from, row);
    }
  }

  /** A square table over `items`. */
  static square(items: readonly string[], defaultValue?: boolean): TruthTable {
    return new TruthTable(items, items, defaultValue);
  }

  private row(from: string): Map<string, boolean> {
    const row = this.values.get(from);
    if (!row) throw new Error(`from-key ${from} not found`);
    return row;
  }

  private checkTo(to: string): void {
    if (!this.toSet.has(to)) throw new Error(`to-key ${to} not found`);
  }

  /** True when every pair has a value. */
  isComplete(): boolean {
    return this.froms.every((from) => this.tos.every((to) => this.row(from).has(to)));
  }

  set(from: string, to: string, value: boolean): void {
    this.checkTo(to);
    this.row(from).set(to, value);
  }

  setAllFrom(from: string, value: boolean): void {
    const row = this.row(from);
    for (const to of this.tos) row.set(to, value);
  }

  setAllTo(to: string, value: boolean): void {
    this.checkTo(to);
    for (const from of this.froms) this.row(from).set(to, value);
  }

  /** The value of a pair; throws when the pair is unknown or unset. */
  get(from: string, to: string): boolean {
    this.checkTo(to);
    const value = this.row(from).get(to);
    if (value === undefined) throw new Error(`no value for ${from} -> ${to}`);
    return value;
  }

  /** The value of a pair, or `undefined` when unset. */
  peek(from: string, to: string): boolean | undefined {
    this.checkTo(to);
    return this.row(from).get(to);
  }

  /**
   * A table that is true where both tables hold the same value. Both must
   * have the same keys in the same order.
   */
  compare(other: TruthTable): TruthTable {
    if (this.froms.join("\n") !== other.froms.join("\n") || this.tos.join("\n") !== other.tos.join("\n")) {
      throw new Error("cannot compare tables with different keys");
    }
    const out = new TruthTable(this.froms, this.tos);
    for (const from of this.froms) {
      for (const to of this.tos) out.set(from, to, this.peek(from, to) === other.peek(from, to));
    }
    return out;
  }

  /**
   * The table as text, one row per `from`, columns padded: `.` true, `X`
   * false, `?` unset. `mark` may override the mark of a cell.
   */
  prettyPrint(indent = "", mark?: (from: string, to: string, value: boolean | undefined) => string | undefined): string {
    const width = Math.max(1, ...this.froms.map((f) => f.length), ...this.tos.map((t) => t.length)) + 2;
    const cell = (text: string) => text.padEnd(width);
    const lines = [indent + [cell("-"), ...this.tos.map(cell)].join("").trimEnd()];
    for (const from of this.froms) {
      const cells = this.tos.map((to) => {
        const value = this.peek(from, to);
        const custom = mark?.(from, to, value);
        return cell(custom ?? (value === undefined ? MARK.unknown : value ? MARK.yes : MARK.no));
      });
      lines.push(indent + [cell(from), ...cells].join("").trimEnd());
    }
    return lines.join("\n");
  }
}

/** The result of comparing expected and observed reachability. */
export interface ReachabilitySummary {
  /** Pairs that agree (loopback pairs excluded when ignored). */
  readonly correct: number;
  /** Pairs that disagree and count. */
  readonly incorrect: number;
  /** Loopback pairs left out. */
  readonly ignored: number;
  /** True where expected and observed agree. */
  readonly comparison: TruthTable;
}

/** Expected and observed connectivity between every pair of pods. */
export class Reachability {
  readonly pods: readonly PodString[];
  readonly expected: TruthTable;
  readonly observed: TruthTable;

  constructor(pods: readonly PodString[], defaultExpectation: boolean) {
    pods.forEach(splitPod);
    this.pods = [...pods];
    this.expected = TruthTable.square(pods, defaultExpectation);
    this.observed = TruthTable.square(pods);
  }

  /** Every pod may reach itself. */
  allowLoopback(): void {
    for (const pod of this.pods) this.expected.set(pod, pod, true);
  }

  expect(from: PodString, to: PodString, connected: boolean): void {
    this.expected.set(from, to, connected);
  }

  expectAllIngress(pod: PodString, connected: boolean): void {
    this.expected.setAllTo(pod, connected);
  }

  expectAllEgress(pod: PodString, connected: boolean): void {
    this.expected.setAllFrom(pod, connected);
  }

  expectPeer(from: Peer, to: Peer, connected: boolean): void {
    for (const f of this.pods) {
      if (!peerMatches(from, f)) continue;
      for (const t of this.pods) if (peerMatches(to, t)) this.expected.set(f, t, connected);
    }
  }

  observe(from: PodString, to: PodString, connected: boolean): void {
    this.observed.set(from, to, connected);
  }

  /** Compares expected with observed; every pair must have been observed. */
  summary(ignoreLoopback: boolean): ReachabilitySummary {
    if (!this.observed.isComplete()) throw new Error("observations not complete");
    const comparison = this.expected.compare(this.observed);
    let correct = 0;
    let incorrect = 0;
    let ignored = 0;
    for (const from of this.pods) {
      for (const to of this.pods) {
        if (ignoreLoopback && from === to) ignored++;
        else if (comparison.get(from, to)) correct++;
        else incorrect++;
      }
    }
    return { correct, incorrect, ignored, comparison };
  }

  /** Expected, observed and comparison tables as one text block, for failure messages. */
  report(ignoreLoopback: boolean): string {
    const { correct, incorrect, ignored, comparison } = this.summary(ignoreLoopback);
    const compareMark = (from: string, to: string, same: boolean | undefined): string | undefined =>
      ignoreLoopback && from === to && !same ? "~" : undefined;
    return [
      `reachability: correct ${correct}, incorrect ${incorrect}, ignored ${ignored} (loopback${ignoreLoopback ? " ignored" : " checked"})`,
      "expected (. allowed, X denied):",
      this.expected.prettyPrint("  "),
      "observed:",
      this.observed.prettyPrint("  "),
      "comparison (. same, X different, ~ different but ignored loopback):",
      comparison.prettyPrint("  ", compareMark),
    ].join("\n");
  }
}
