/**
 * Deltas: what a policy change means for the datapath's maps, so the host
 * writes only what changed.
 *
 * @module
 */
import type { PolicyMapEntry, SubjectDelta } from "./resolver-host.js";

/** A prefix of the ipcache and the identity traffic from or to it has. */
export interface IpcacheEntry {
  /** Canonical prefix text, `10.0.0.5/32`, `10.0.0.0/8`, `fd00::/64`. */
  readonly prefix: string;
  /**
   * The identity of addresses in the prefix: a CIDR identity (node-local,
   * `(1 << 24) | n`) for a prefix a policy names, the world identity for a
   * `/0` (2, or 9 / 10 for IPv4 / IPv6 in a dual-stack cluster), or, in the
   * cluster view, a pod's identity for its host prefix (`/32` or `/128`).
   */
  readonly identity: number;
}

/** Everything one change did. `endpoints` lists only subjects whose map changed. */
export interface PolicyDelta {
  /** Per endpoint identity: entries to write (new or changed values) and entries to delete. */
  readonly endpoints: SubjectDelta[];
  /** Prefixes to write into (or delete from) the ipcache. */
  readonly ipcache: {
    /** Prefixes to write: new ones, and ones whose identity changed (with the new identity). */
    readonly added: IpcacheEntry[];
    /** Prefixes to delete, with the identity they had. A prefix is never in both lists. */
    readonly removed: IpcacheEntry[];
  };
}

/** A number unique per entry key within one endpoint: direction, protocol, port, prefix and peer. */
const entryKey = (e: PolicyMapEntry): string => `${e.identity}:${(e.direction === "egress" ? 1 : 0) | (e.protocol << 1) | (e.port << 9) | (e.prefixLength << 25)}`;

/**
 * Folds deltas applied one after another into one: per endpoint and key the
 * last operation wins, so the result, applied to the state before the first,
 * gives the state after the last. A single batch (the common case: one
 * engine call) passes through unchanged.
 */
export class DeltaBuilder {
  private readonly batches: SubjectDelta[][] = [];
  private readonly cache = new Map<string, { entry: IpcacheEntry; present: boolean }>();

  addEndpoints(deltas: readonly SubjectDelta[]): this {
    if (deltas.length) this.batches.push([...deltas]);
    return this;
  }

  addIpcache(entry: IpcacheEntry, present: boolean): this {
    this.cache.set(entry.prefix, { entry, present });
    return this;
  }

  private endpoints(): SubjectDelta[] {
    if (this.batches.length === 0) return [];
    if (this.batches.length === 1) return [...this.batches[0]!].sort((a, b) => a.identity - b.identity);
    const maps = new Map<number, Map<string, { entry: PolicyMapEntry; present: boolean }>>();
    for (const batch of this.batches) {
      for (const d of batch) {
        let m = maps.get(d.identity);
        if (!m) maps.set(d.identity, (m = new Map()));
        for (const e of d.removed) m.set(entryKey(e), { entry: e, present: false });
        for (const e of d.added) m.set(entryKey(e), { entry: e, present: true });
      }
    }
    const out: SubjectDelta[] = [];
    for (const [identity, m] of [...maps].sort((a, b) => a[0] - b[0])) {
      const added: PolicyMapEntry[] = [];
      const removed: PolicyMapEntry[] = [];
      for (const { entry, present } of m.values()) (present ? added : removed).push(entry);
      if (added.length || removed.length) out.push({ identity, added, removed });
    }
    return out;
  }

  build(): PolicyDelta {
    const added: IpcacheEntry[] = [];
    const removed: IpcacheEntry[] = [];
    for (const { entry, present } of this.cache.values()) (present ? added : removed).push(entry);
    return { endpoints: this.endpoints(), ipcache: { added, removed } };
  }
}
