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
  readonly identity: number;
}

/** Everything one change did. `endpoints` lists only subjects whose map changed. */
export interface PolicyDelta {
  /** Per endpoint identity: entries to write (new or changed values) and entries to delete. */
  readonly endpoints: SubjectDelta[];
  /** Prefixes to write into (or delete from) the ipcache. */
  readonly ipcache: { readonly added: IpcacheEntry[]; readonly removed: IpcacheEntry[] };
}

const entryKey = (e: PolicyMapEntry): string => `${e.identity}|${e.direction}|${e.protocol}|${e.port}|${e.prefixLength}`;

/**
 * Folds deltas applied one after another into one: per endpoint and key the
 * last operation wins, so the result, applied to the state before the first,
 * gives the state after the last.
 */
export class DeltaBuilder {
  private readonly maps = new Map<number, Map<string, { entry: PolicyMapEntry; present: boolean }>>();
  private readonly cache = new Map<string, { entry: IpcacheEntry; present: boolean }>();

  addEndpoints(deltas: readonly SubjectDelta[]): this {
    for (const d of deltas) {
      let m = this.maps.get(d.identity);
      if (!m) this.maps.set(d.identity, (m = new Map()));
      for (const e of d.removed) m.set(entryKey(e), { entry: e, present: false });
      for (const e of d.added) m.set(entryKey(e), { entry: e, present: true });
    }
    return this;
  }

  addIpcache(entry: IpcacheEntry, present: boolean): this {
    this.cache.set(entry.prefix, { entry, present });
    return this;
  }

  build(): PolicyDelta {
    const endpoints: SubjectDelta[] = [];
    for (const [identity, m] of [...this.maps].sort((a, b) => a[0] - b[0])) {
      const added: PolicyMapEntry[] = [];
      const removed: PolicyMapEntry[] = [];
      for (const { entry, present } of m.values()) (present ? added : removed).push(entry);
      if (added.length || removed.length) endpoints.push({ identity, added, removed });
    }
    const added: IpcacheEntry[] = [];
    const removed: IpcacheEntry[] = [];
    for (const { entry, present } of this.cache.values()) (present ? added : removed).push(entry);
    return { endpoints, ipcache: { added, removed } };
  }
}
