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
 * The hashes in front of the tries (abi.h: wp_policy_exact,
 * wp_ipcache_exact) are derived in the same plan. wp_ipcache_exact holds
 * the full-length prefixes of wp_ipcache. wp_policy_exact is recomputed
 * for each group (subject, peer or 0, direction) the plan touches, from
 * the group's entries as they will be:
 *
 *   identity 0's entries of prefix 24 ──────────────▶ same key, same value
 *   a peer's entries of prefix 24 ──────────────────▶ same key, decided against identity 0's
 *                                                      longest match for the port (WP_POLICY_F_FINAL)
 *   any entry of prefix 1..23 ─────────────────────▶ group key: WP_POLICY_F_TRIE marker
 *   otherwise, the prefix-0 entry (when there is one) ─▶ group key: same value
 *
 * A change to identity 0's group (subject, 0, direction) touches every
 * peer's group of that subject and direction too. Only what differs from
 * what the hash holds is written or deleted.
 * After a restart (or a refused write) the first plan recomputes every
 * group, so hashes written by an older program, or not at all, are
 * repaired before they decide a packet.
 *
 * @module
 */
import { parseCidr } from "../identity/cidr.js";
import type { PolicyMapEntry, SubjectDelta } from "../policy/resolver-host.js";
import type { IpcacheEntry } from "../policy/delta.js";
import { InvalidInputError } from "../errors.js";
import { MapFullError } from "./errors.js";
import {
  encodeDecidedPolicyValue, encodeIpcacheKey, encodePolicyKey, encodePolicyTrieMarker, encodePolicyValue, isFullLengthIpcacheKey, policyGroupKey,
} from "./layouts.js";

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
  /** wp_policy_exact writes (after the wp_policy writes). */
  readonly exactWrites: Array<{ key: Uint8Array; value: Uint8Array }>;
  /** wp_policy_exact deletes (before the wp_policy deletes). */
  readonly exactDeletes: Array<{ key: Uint8Array }>;
  /** wp_ipcache_exact writes (after the wp_ipcache writes). */
  readonly ipcacheExactWrites: Array<{ key: Uint8Array; prefix: string; identity: number }>;
  /** wp_ipcache_exact deletes (before the wp_ipcache deletes). */
  readonly ipcacheExactDeletes: Array<{ key: Uint8Array; prefix: string }>;
  /**
   * Deletes before writes: only when writing first would overflow a map at
   * the peak (entries are then briefly missing rather than in excess).
   */
  readonly deletesFirst: boolean;
  /** The plan recomputed every group of wp_policy_exact and all of wp_ipcache_exact. */
  readonly reconciled: boolean;
}

/** An entry of one of the hashes, as held. */
interface HeldExact {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
/** The group of a wp_policy key: subject, peer and direction (bytes 4..12), as hex. */
const groupOf = (key: Uint8Array): string => hex(key.subarray(4, 13));
const PREFIX_EXACT = 24;
/** The identity-0 group of a group: the same subject and direction, peer 0. */
const anyPeerGroupOf = (group: string): string => `${group.slice(0, 8)}00000000${group.slice(16)}`;
const isAnyPeerGroup = (group: string): boolean => group.slice(8, 16) === "00000000";

/** Identity 0's entries of one group by masked (protocol, port): the trie's longest-prefix match, in a map. */
class PrefixIndex {
  private readonly byPrefix = new Map<string, HeldPolicyEntry>();

  constructor(entries: Iterable<HeldPolicyEntry>) {
    for (const e of entries) this.byPrefix.set(PrefixIndex.id(e.entry.prefixLength, e.entry.protocol, e.entry.port), e);
  }

  private static id(bits: number, protocol: number, port: number): string {
    return `${bits}/${bits === 0 ? 0 : ((protocol << 16) | port) >>> (PREFIX_EXACT - bits)}`;
  }

  /** The entry of the longest prefix that covers (protocol, port), if any. */
  longest(protocol: number, port: number): HeldPolicyEntry | undefined {
    for (let bits = PREFIX_EXACT; bits >= 0; bits--) {
      const e = this.byPrefix.get(PrefixIndex.id(bits, protocol, port));
      if (e) return e;
    }
    return undefined;
  }
}

function addTo(index: Map<string, Set<string>>, group: string, id: string): void {
  let set = index.get(group);
  if (!set) index.set(group, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, group: string, id: string): void {
  const set = index.get(group);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(group);
}

/** Bookkeeping of wp_policy, wp_policy_counters and wp_ipcache contents. */
export class PolicyState {
  /** Held entries by encoded key (hex). */
  readonly entries = new Map<string, HeldPolicyEntry>();
  /** Held ipcache prefixes (canonical text) and their identities. */
  readonly ipcache = new Map<string, number>();
  /** Held wp_policy_exact contents by encoded key (hex). */
  readonly exact = new Map<string, HeldExact>();
  /** Held wp_ipcache_exact prefixes and their identities. */
  readonly ipcacheExact = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  /** Held entry keys (hex) by group. */
  private readonly entriesByGroup = new Map<string, Set<string>>();
  /** Held wp_policy_exact keys (hex) by group. */
  private readonly exactByGroup = new Map<string, Set<string>>();
  /** The next plan recomputes both hashes whole. */
  private reconcile = false;

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
    const id = hex(held.key);
    this.entries.set(id, held);
    addTo(this.entriesByGroup, groupOf(held.key), id);
    this.nextSlot = Math.max(this.nextSlot, held.slot + 1);
  }

  /**
   * Records what wp_policy_exact and wp_ipcache_exact hold (restart). The
   * next plan compares both with what the tries call for, whole.
   */
  restoreExact(policy: Iterable<[Uint8Array, Uint8Array]>, ipcache: Iterable<[string, number]>): void {
    for (const [key, value] of policy) {
      const id = hex(key);
      this.exact.set(id, { key, value });
      addTo(this.exactByGroup, groupOf(key), id);
    }
    for (const [prefix, identity] of ipcache) this.ipcacheExact.set(prefix, identity);
    this.reconcile = true;
  }

  /** Forgets everything held (before reading the maps back). */
  clear(): void {
    this.entries.clear();
    this.ipcache.clear();
    this.exact.clear();
    this.ipcacheExact.clear();
    this.entriesByGroup.clear();
    this.exactByGroup.clear();
    this.freeSlots.length = 0;
    this.nextSlot = 0;
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

    const reconciled = this.reconcile;
    const { exactWrites, exactDeletes } = this.planExact(policyWrites, policyDeletes, reconciled);
    const exactPeak = this.exact.size + exactWrites.filter((w) => !this.exact.has(hex(w.key))).length;
    if (exactPeak - exactDeletes.length > this.policyCapacity) {
      throw new MapFullError("wp_policy_exact", exactPeak - exactDeletes.length, this.policyCapacity, "policy update");
    }
    const { ipcacheExactWrites, ipcacheExactDeletes } = this.planIpcacheExact(ipcacheWrites, ipcacheDeletes, reconciled);
    return {
      zeroSlots, policyWrites, policyDeletes, ipcacheWrites, ipcacheDeletes,
      exactWrites, exactDeletes, ipcacheExactWrites, ipcacheExactDeletes,
      deletesFirst: deletesFirst || exactPeak > this.policyCapacity, reconciled,
    };
  }

  /**
   * What wp_policy_exact must hold for one group, given its entries and,
   * for a peer's group, identity 0's entries of the same subject and
   * direction (the decision the program would take with both sides).
   */
  private exactOf(entries: Iterable<HeldPolicyEntry>, anyPeer: PrefixIndex | undefined): Map<string, HeldExact> {
    const out = new Map<string, HeldExact>();
    let groupKey: Uint8Array | undefined;
    let l3: HeldPolicyEntry | undefined;
    let trie = false;
    for (const e of entries) {
      groupKey ??= policyGroupKey(e.key);
      const bits = e.entry.prefixLength;
      if (bits === PREFIX_EXACT) out.set(hex(e.key), { key: e.key, value: this.exactValue(e, anyPeer) });
      else if (bits === 0) l3 = e;
      else trie = true;
    }
    if (groupKey && trie) out.set(hex(groupKey), { key: groupKey, value: encodePolicyTrieMarker() });
    else if (groupKey && l3) out.set(hex(groupKey), { key: groupKey, value: encodePolicyValue(l3.entry.precedence, l3.slot) });
    return out;
  }

  /** The hash value of a prefix-24 entry: as in the trie for identity 0, decided against identity 0 for a peer. */
  private exactValue(e: HeldPolicyEntry, anyPeer: PrefixIndex | undefined): Uint8Array {
    if (!anyPeer) return encodePolicyValue(e.entry.precedence, e.slot);
    const other = anyPeer.longest(e.entry.protocol, e.entry.port);
    // As bpf/lib/policy.h: the higher precedence wins, the peer's on a tie.
    const win = other && other.entry.precedence > e.entry.precedence ? other : e;
    return encodeDecidedPolicyValue(win.entry.precedence, win.slot);
  }

  /** wp_policy_exact writes and deletes for the groups a plan touches (every group when reconciling). */
  private planExact(writes: Plan["policyWrites"], deletes: Plan["policyDeletes"], all: boolean): Pick<Plan, "exactWrites" | "exactDeletes"> {
    const written = new Map<string, Map<string, HeldPolicyEntry>>();
    const deleted = new Map<string, Set<string>>();
    for (const w of writes) {
      const g = groupOf(w.key);
      if (!written.has(g)) written.set(g, new Map());
      written.get(g)!.set(hex(w.key), w.held);
    }
    for (const d of deletes) addTo(deleted, groupOf(d.key), d.id);
    const groups = new Set<string>([...written.keys(), ...deleted.keys()]);
    if (all) {
      for (const g of this.entriesByGroup.keys()) groups.add(g);
      for (const g of this.exactByGroup.keys()) groups.add(g);
    }
    // A change to identity 0's entries changes the decision stored with every peer's prefix-24 entries.
    const anyPeerTouched = new Set([...groups].filter(isAnyPeerGroup));
    if (anyPeerTouched.size > 0) {
      for (const g of [...this.entriesByGroup.keys(), ...this.exactByGroup.keys()]) if (anyPeerTouched.has(anyPeerGroupOf(g))) groups.add(g);
    }
    const after = (g: string): Map<string, HeldPolicyEntry> => {
      const out = new Map<string, HeldPolicyEntry>();
      for (const id of this.entriesByGroup.get(g) ?? []) if (!deleted.get(g)?.has(id)) out.set(id, this.entries.get(id)!);
      for (const [id, held] of written.get(g) ?? []) out.set(id, held);
      return out;
    };
    const indexes = new Map<string, PrefixIndex>();
    const indexOf = (g: string): PrefixIndex => {
      let index = indexes.get(g);
      if (!index) indexes.set(g, (index = new PrefixIndex(after(g).values())));
      return index;
    };
    const exactWrites: Plan["exactWrites"] = [];
    const exactDeletes: Plan["exactDeletes"] = [];
    for (const g of groups) {
      const want = this.exactOf(after(g).values(), isAnyPeerGroup(g) ? undefined : indexOf(anyPeerGroupOf(g)));
      for (const [id, w] of want) {
        const have = this.exact.get(id);
        if (!have || Buffer.compare(have.value, w.value) !== 0) exactWrites.push(w);
      }
      for (const id of this.exactByGroup.get(g) ?? []) if (!want.has(id)) exactDeletes.push({ key: this.exact.get(id)!.key });
    }
    return { exactWrites, exactDeletes };
  }

  /** wp_ipcache_exact writes and deletes: the full-length prefixes of the ipcache changes (of the whole ipcache when reconciling). */
  private planIpcacheExact(writes: Plan["ipcacheWrites"], deletes: Plan["ipcacheDeletes"], all: boolean): Pick<Plan, "ipcacheExactWrites" | "ipcacheExactDeletes"> {
    const ipcacheExactWrites: Plan["ipcacheExactWrites"] = writes.filter((w) => isFullLengthIpcacheKey(w.key));
    const ipcacheExactDeletes: Plan["ipcacheExactDeletes"] = deletes.filter((d) => isFullLengthIpcacheKey(d.key) && this.ipcacheExact.has(d.prefix));
    if (!all) return { ipcacheExactWrites, ipcacheExactDeletes };
    const touched = new Set([...writes.map((w) => w.prefix), ...deletes.map((d) => d.prefix)]);
    for (const [prefix, identity] of this.ipcache) {
      if (touched.has(prefix)) continue;
      const key = encodeIpcacheKey(parseCidr(prefix));
      if (isFullLengthIpcacheKey(key) && this.ipcacheExact.get(prefix) !== identity) ipcacheExactWrites.push({ key, prefix, identity });
    }
    for (const prefix of this.ipcacheExact.keys()) {
      if (touched.has(prefix) || this.ipcache.has(prefix)) continue;
      ipcacheExactDeletes.push({ key: encodeIpcacheKey(parseCidr(prefix)), prefix });
    }
    return { ipcacheExactWrites, ipcacheExactDeletes };
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
      removeFrom(this.entriesByGroup, groupOf(d.key), d.id);
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
      addTo(this.entriesByGroup, groupOf(w.key), id);
    }
    for (const d of plan.exactDeletes) {
      const id = hex(d.key);
      this.exact.delete(id);
      removeFrom(this.exactByGroup, groupOf(d.key), id);
    }
    for (const w of plan.exactWrites) {
      const id = hex(w.key);
      this.exact.set(id, w);
      addTo(this.exactByGroup, groupOf(w.key), id);
    }
    for (const d of plan.ipcacheDeletes) this.ipcache.delete(d.prefix);
    for (const w of plan.ipcacheWrites) this.ipcache.set(w.prefix, w.identity);
    for (const d of plan.ipcacheExactDeletes) this.ipcacheExact.delete(d.prefix);
    for (const w of plan.ipcacheExactWrites) this.ipcacheExact.set(w.prefix, w.identity);
    if (plan.reconciled) this.reconcile = false;
  }
}
