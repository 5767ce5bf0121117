/**
 * What the endpoint datapath holds, and the plan that turns it into what it
 * should hold: the policy entries of every subject (with the counter slot
 * each was given), the ipcache prefixes, and the endpoints.
 *
 * Planning is pure and validates everything (encodings, capacities, counter
 * slots) before a single write, so a plan that is refused leaves the maps
 * and this bookkeeping as they were. {@link PolicyState.commit} records a
 * plan once it has been written.
 *
 * Minimal writes: an added entry whose key is held with the same
 * precedence is not written again; a changed precedence keeps its counter
 * slot; only keys that appear get a new (zeroed) slot.
 *
 * @module
 */
import { parseCidr } from "../identity/cidr.js";
import type { PolicyMapEntry, SubjectDelta } from "../policy/resolver-host.js";
import type { IpcacheEntry } from "../policy/delta.js";
import { InvalidInputError } from "../errors.js";
import { MapFullError } from "./errors.js";
import { encodeIpcacheKey, encodePolicyKey, encodePolicyValue } from "./layouts.js";

/** A policy entry as the datapath holds it. */
export interface HeldPolicyEntry {
  /** The subject whose map it is in. */
  readonly subject: number;
  /** The entry (its latest value). */
  readonly entry: PolicyMapEntry;
  /** Encoded wp_policy key. */
  readonly key: Uint8Array;
  /** Slot in wp_policy_counters. */
  readonly slot: number;
}

/** Writes and deletes for wp_policy and wp_ipcache, in the order they must go. */
export interface Plan {
  /** Counter slots to zero before their entries are written. */
  readonly zeroSlots: number[];
  /** wp_policy writes: key and value bytes. */
  readonly policyWrites: Array<{ key: Uint8Array; value: Uint8Array; held: HeldPolicyEntry }>;
  /** wp_policy deletes. */
  readonly policyDeletes: Array<{ key: Uint8Array; id: string; slot: number }>;
  /** wp_ipcache writes. */
  readonly ipcacheWrites: Array<{ key: Uint8Array; prefix: string; identity: number }>;
  /** wp_ipcache deletes. */
  readonly ipcacheDeletes: Array<{ key: Uint8Array; prefix: string }>;
  /**
   * Deletes before writes: only when writing first would overflow a map at
   * the peak (entries are then briefly missing rather than in excess).
   */
  readonly deletesFirst: boolean;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

/** Bookkeeping of wp_policy, wp_policy_counters and wp_ipcache contents. */
export class PolicyState {
  /** Held entries by encoded key (hex). */
  readonly entries = new Map<string, HeldPolicyEntry>();
  /** Held ipcache prefixes (canonical text) and their identities. */
  readonly ipcache = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(
    /** max_entries of wp_policy (and of wp_policy_counters). */
    readonly policyCapacity: number,
    /** max_entries of wp_ipcache. */
    readonly ipcacheCapacity: number,
  ) {}

  /** Subjects with at least one held entry. */
  subjects(): Set<number> {
    const out = new Set<number>();
    for (const e of this.entries.values()) out.add(e.subject);
    return out;
  }

  /** The held entries of `subject`. */
  entriesOf(subject: number): HeldPolicyEntry[] {
    return [...this.entries.values()].filter((e) => e.subject === subject);
  }

  /** Records an entry read back from a pinned map (restart). */
  restoreEntry(held: HeldPolicyEntry): void {
    this.entries.set(hex(held.key), held);
    this.nextSlot = Math.max(this.nextSlot, held.slot + 1);
  }

  /** After restoring entries: slots below the highest in use that nobody holds become free. */
  restoreFreeSlots(): void {
    const used = new Set([...this.entries.values()].map((e) => e.slot));
    this.freeSlots.length = 0;
    for (let s = this.nextSlot - 1; s >= 0; s--) if (!used.has(s)) this.freeSlots.push(s);
  }

  /**
   * Plans policy deltas (per subject: entries to write, entries to delete)
   * and ipcache changes. Validates every entry and prefix, and the peak
   * size of both maps.
   *
   * @throws {@link InvalidInputError} for an entry or prefix that cannot be encoded.
   * @throws {@link MapFullError} when a map would overflow.
   */
  plan(policy: readonly SubjectDelta[], ipcache: { added: readonly IpcacheEntry[]; removed: readonly IpcacheEntry[] } = { added: [], removed: [] }): Plan {
    const writes = new Map<string, { key: Uint8Array; entry: PolicyMapEntry; subject: number }>();
    const deletes = new Map<string, Uint8Array>();
    policy.forEach((delta, i) => {
      if (!Number.isInteger(delta.identity) || delta.identity < 1 || delta.identity > 0xffffffff) {
        throw new InvalidInputError(`endpoints[${i}].identity`, delta.identity, "must be an identity number");
      }
      for (const entry of delta.removed) {
        const key = encodePolicyKey(delta.identity, entry);
        const id = hex(key);
        writes.delete(id);
        deletes.set(id, key);
      }
      for (const entry of delta.added) {
        encodePolicyValue(entry.precedence, 0); // validates the precedence
        const key = encodePolicyKey(delta.identity, entry);
        const id = hex(key);
        deletes.delete(id);
        writes.set(id, { key, entry, subject: delta.identity });
      }
    });

    const policyDeletes: Plan["policyDeletes"] = [];
    for (const [id, key] of deletes) {
      const held = this.entries.get(id);
      if (held) policyDeletes.push({ key, id, slot: held.slot });
    }
    let fresh = 0;
    const pending: Array<{ id: string; key: Uint8Array; entry: PolicyMapEntry; subject: number; slot: number | undefined }> = [];
    for (const [id, w] of writes) {
      const held = this.entries.get(id);
      if (held && held.entry.precedence === w.entry.precedence) continue;
      if (!held) fresh++;
      pending.push({ id, ...w, slot: held?.slot });
    }

    const ipcacheWrites: Plan["ipcacheWrites"] = [];
    const ipcacheDeletes: Plan["ipcacheDeletes"] = [];
    const addedPrefixes = new Set<string>();
    ipcache.added.forEach((e, i) => {
      const prefix = parseCidr(e.prefix, `ipcache.added[${i}].prefix`);
      if (!Number.isInteger(e.identity) || e.identity < 1 || e.identity > 0xffffffff) {
        throw new InvalidInputError(`ipcache.added[${i}].identity`, e.identity, "must be an identity number");
      }
      addedPrefixes.add(prefix.text);
      if (this.ipcache.get(prefix.text) === e.identity) return;
      ipcacheWrites.push({ key: encodeIpcacheKey(prefix), prefix: prefix.text, identity: e.identity });
    });
    ipcache.removed.forEach((e, i) => {
      const prefix = parseCidr(e.prefix, `ipcache.removed[${i}].prefix`);
      if (addedPrefixes.has(prefix.text) || !this.ipcache.has(prefix.text)) return;
      ipcacheDeletes.push({ key: encodeIpcacheKey(prefix), prefix: prefix.text });
    });
    const newPrefixes = ipcacheWrites.filter((w) => !this.ipcache.has(w.prefix)).length;

    // Peak sizes: writes first is the normal order; when that would not fit
    // but the end state does, delete first.
    const policyPeak = this.entries.size + fresh;
    const policyEnd = policyPeak - policyDeletes.length;
    const ipcachePeak = this.ipcache.size + newPrefixes;
    const ipcacheEnd = ipcachePeak - ipcacheDeletes.length;
    if (policyEnd > this.policyCapacity) throw new MapFullError("wp_policy", policyEnd, this.policyCapacity, "policy update");
    if (ipcacheEnd > this.ipcacheCapacity) throw new MapFullError("wp_ipcache", ipcacheEnd, this.ipcacheCapacity, "ipcache update");
    const deletesFirst = policyPeak > this.policyCapacity || ipcachePeak > this.ipcacheCapacity;

    // Counter slots: free ones, then never used ones; with deletes first,
    // the slots of deleted entries too.
    const free = [...this.freeSlots];
    if (deletesFirst) for (const d of policyDeletes) free.push(d.slot);
    let next = this.nextSlot;
    const zeroSlots: number[] = [];
    const policyWrites: Plan["policyWrites"] = pending.map((p) => {
      let slot = p.slot;
      if (slot === undefined) {
        slot = free.length > 0 ? free.pop()! : next++;
        if (slot >= this.policyCapacity) throw new MapFullError("wp_policy_counters", slot + 1, this.policyCapacity, "policy update");
        zeroSlots.push(slot);
      }
      const held: HeldPolicyEntry = { subject: p.subject, entry: p.entry, key: p.key, slot };
      return { key: p.key, value: encodePolicyValue(p.entry.precedence, slot), held };
    });
    return { zeroSlots, policyWrites, policyDeletes, ipcacheWrites, ipcacheDeletes, deletesFirst };
  }

  /**
   * The delta that makes `subject`'s held entries exactly `entries`
   * (a full sync of one map).
   */
  replaceDelta(subject: number, entries: readonly PolicyMapEntry[]): SubjectDelta {
    const want = new Map<string, PolicyMapEntry>();
    for (const e of entries) want.set(hex(encodePolicyKey(subject, e)), e);
    const removed: PolicyMapEntry[] = [];
    for (const [id, held] of this.entries) if (held.subject === subject && !want.has(id)) removed.push(held.entry);
    return { identity: subject, added: [...want.values()], removed };
  }

  /** The ipcache changes that make the held prefixes exactly `entries`. */
  replaceIpcache(entries: readonly IpcacheEntry[]): { added: IpcacheEntry[]; removed: IpcacheEntry[] } {
    const want = new Set(entries.map((e, i) => parseCidr(e.prefix, `ipcache[${i}].prefix`).text));
    const removed = [...this.ipcache].filter(([p]) => !want.has(p)).map(([prefix, identity]) => ({ prefix, identity }));
    return { added: [...entries], removed };
  }

  /** Records a plan that was written. */
  commit(plan: Plan): void {
    for (const d of plan.policyDeletes) {
      this.entries.delete(d.id);
      this.freeSlots.push(d.slot);
    }
    for (const w of plan.policyWrites) {
      const id = hex(w.key);
      if (!this.entries.has(id)) {
        const at = this.freeSlots.indexOf(w.held.slot);
        if (at >= 0) this.freeSlots.splice(at, 1);
        this.nextSlot = Math.max(this.nextSlot, w.held.slot + 1);
      }
      this.entries.set(id, w.held);
    }
    for (const d of plan.ipcacheDeletes) this.ipcache.delete(d.prefix);
    for (const w of plan.ipcacheWrites) this.ipcache.set(w.prefix, w.identity);
  }
}
