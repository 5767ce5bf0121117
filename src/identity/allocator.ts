/**
 * The security-identity allocator: label sets to Cilium numeric identities.
 *
 * The host parses and validates labels, applies the label filter, resolves
 * reserved identities and builds Cilium's canonical key; the WebAssembly
 * engine (`assembly/identity/allocator.ts`) owns the numbers, the keys and the
 * reference counts. Numbers are deterministic (a MurmurHash3 of the canonical
 * key picks the first candidate, linear probing resolves collisions), so
 * allocators that see the same label sets agree on their numbers without
 * talking to each other, except where two sets collided.
 *
 * Behaviour in brief (choices where Cilium leaves room are marked "choice"):
 *
 * - label sets are filtered by the label filter (reserved and cidr labels are
 *   always kept), then checked against Cilium's reserved-identity rule
 *   ({@link reservedIdentityOf}); reserved identities 1..10 are fixed, not
 *   reference counted, never in snapshots; releasing one does nothing;
 * - an empty label set (after filtering) is the init identity (5), which
 *   Cilium gives endpoints that have no identity labels yet (choice);
 * - a set of only `cidr:` and `reserved:` labels is node-local:
 *   `(1 << 24) | n`; a set with a `cidr:` label and no world label gets one;
 *   at most one `cidr:` label per set (choice: Cilium gives each prefix its
 *   own identity);
 * - every other set is a cluster identity `(clusterId << 16) | n`, n in
 *   256..65535 for cluster 0 and 0..65535 for clusters 1..255 (Cilium's
 *   GetMinimalAllocationIdentity / GetMaximumAllocationIdentity);
 * - `allocate` on a live set returns its number and adds a reference;
 *   `release` takes one and frees the number at zero; releasing a number that
 *   is not allocated is an error (UNKNOWN_IDENTITY), since it means the
 *   caller's counts are off (choice);
 * - two labels with one key in a set are an error, not Go's last-one-wins
 *   (choice); unknown `reserved:` names are an error (choice);
 * - snapshots hold allocated identities only; restore replaces the whole
 *   state and applies no label filter (the labels were filtered when they
 *   were allocated);
 * - a full range is an {@link IdentityExhaustedError}; live numbers are never
 *   reused.
 *
 * @module
 */
import { EngineError, IdentityExhaustedError, InvalidInputError } from "../errors.js";
import { instantiateEngine, type Engine } from "../engine/wasm.js";
import { ENGINE_RESULT, ENGINE_RESULT_MEANING } from "../engine/result-codes.js";
import {
  canonicalKey, compareKeys, formatLabel, parseCanonicalKey, parseLabel, type Label,
} from "./labels.js";
import { createLabelFilter, defaultLabelFilter, type LabelFilter, type LabelFilterOptions } from "./label-filter.js";
import { isReservedIdentity, RESERVED_IDENTITY, reservedIdentityOf, reservedLabels } from "./reserved.js";
import { parseCidr, parseCidrLabelKey, worldLabelName } from "./cidr.js";

/** Engine scope numbers (assembly/identity/allocator.ts). */
const SCOPE_CLUSTER = 0;
const SCOPE_LOCAL = 1;
/** Cilium's IdentityScopeLocal. */
const LOCAL_SCOPE_FLAG = 1 << 24;
const MAX_CLUSTER_ID = 255;
/** Snapshot format version. */
const SNAPSHOT_VERSION = 1;

/** An inclusive range of local parts. */
export interface IdentityRange {
  /** Lowest local part. */
  readonly min: number;
  /** Highest local part (inclusive). */
  readonly max: number;
}

/** Options of {@link createIdentityAllocator}. Every field is optional. */
export interface IdentityAllocatorOptions {
  /** Cluster ID 0..255, put in bits 16..23 of cluster identities; default 0. */
  clusterId?: number;
  /** The label filter, or options for one; default Cilium's default filter. */
  labelFilter?: LabelFilter | LabelFilterOptions;
  /**
   * Dual-stack cluster: CIDR identities carry `reserved:world-ipv4` or
   * `reserved:world-ipv6` instead of `reserved:world`, and `/0` prefixes are
   * identities 9 and 10 instead of 2. Default false (Cilium's IsDualStack()).
   */
  dualStack?: boolean;
  /**
   * Narrower ranges of local parts, for tests of exhaustion: `cluster` within
   * 256..65535 (0..65535 for clusters 1..255), `cidr` within 1..16777215.
   */
  ranges?: {
    /** Local parts of cluster identities. */
    cluster?: IdentityRange;
    /** Local parts of CIDR identities. */
    cidr?: IdentityRange;
  };
}

/** One identity in a snapshot. */
export interface SnapshotIdentity {
  /** The identity number. */
  readonly id: number;
  /** Its labels in Cilium's text form, sorted by key. */
  readonly labels: readonly string[];
  /** Its reference count, at least 1. */
  readonly refs: number;
}

/** The allocator's state as plain JSON; identities ascending by id. */
export interface IdentitySnapshot {
  /** Format version, 1. */
  readonly version: 1;
  /** Cluster ID of the allocator that took it; restore requires the same. */
  readonly clusterId: number;
  /** Allocated identities, ascending by id. */
  readonly identities: readonly SnapshotIdentity[];
}

/** An identity allocator; calls are synchronous. */
export interface IdentityAllocator {
  /** The configured cluster ID. */
  readonly clusterId: number;
  /** Whether CIDR identities use the per-family world labels. */
  readonly dualStack: boolean;
  /** The label filter applied by `allocate` and `idOf`. */
  readonly labelFilter: LabelFilter;
  /** Allocated (non-reserved) identities. */
  readonly size: number;
  /**
   * The identity of a label set, allocating it or adding a reference.
   * @throws InvalidInputError (INVALID_LABEL) naming `labels[i]`
   * @throws IdentityExhaustedError when the set needs a new number and none is free
   */
  allocate(labels: readonly string[]): number;
  /**
   * Drops one reference; the number is freed at zero. Reserved numbers: no-op.
   * @throws InvalidInputError (UNKNOWN_IDENTITY) when `id` is not allocated
   */
  release(id: number): void;
  /** The reference count of `id`: 0 when not allocated; reserved numbers report 0 too. */
  refs(id: number): number;
  /** The labels of `id` in Cilium's text form, sorted by key; `undefined` when unknown. */
  lookup(id: number): readonly string[] | undefined;
  /**
   * The identity of a label set without allocating: a reserved number, an
   * allocated number, or `undefined`.
   * @throws InvalidInputError (INVALID_LABEL) naming `labels[i]`
   */
  idOf(labels: readonly string[]): number | undefined;
  /**
   * The CIDR identity of a prefix (`10.0.0.0/8`, `2001:db8::/32`, or a bare
   * address), allocating it or adding a reference like `allocate`. A `/0`
   * prefix is the world identity.
   * @throws InvalidInputError (INVALID_INPUT) naming `prefix`
   * @throws IdentityExhaustedError
   */
  allocateCidr(prefix: string): number;
  /** The CIDR identity of a prefix if allocated (or world for `/0`), without allocating. */
  cidrIdOf(prefix: string): number | undefined;
  /** The state as deterministic, JSON-serialisable data. */
  snapshot(): IdentitySnapshot;
  /**
   * Replaces the state with a snapshot's, keeping every number and count.
   * Validated in full first: on any error nothing changes.
   * @throws InvalidInputError (INVALID_SNAPSHOT) naming the bad field
   */
  restore(snapshot: unknown): void;
}

/** A label set ready for the engine. */
interface ResolvedSet {
  /** Set when the labels are a reserved identity. */
  readonly reserved: number | undefined;
  readonly scope: typeof SCOPE_CLUSTER | typeof SCOPE_LOCAL;
  readonly key: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function checkRange(range: unknown, field: string, lowest: number, highest: number): IdentityRange {
  if (typeof range !== "object" || range === null) throw new InvalidInputError(field, range, "must be an object { min, max }");
  const { min, max } = range as Record<string, unknown>;
  const ok = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= lowest && (v as number) <= highest;
  if (!ok(min)) throw new InvalidInputError(`${field}.min`, min, `must be an integer in ${lowest}..${highest}`);
  if (!ok(max) || max < min) throw new InvalidInputError(`${field}.max`, max, `must be an integer in ${min}..${highest}`);
  return { min, max };
}

/**
 * Creates an identity allocator with its own engine instance.
 * @throws InvalidInputError for bad options
 */
export async function createIdentityAllocator(options: IdentityAllocatorOptions = {}): Promise<IdentityAllocator> {
  if (typeof options !== "object" || options === null) throw new InvalidInputError("options", options, "must be an object");
  const clusterId = options.clusterId ?? 0;
  if (!Number.isInteger(clusterId) || clusterId < 0 || clusterId > MAX_CLUSTER_ID) {
    throw new InvalidInputError("options.clusterId", clusterId, `must be an integer in 0..${MAX_CLUSTER_ID}`);
  }
  const dualStack = options.dualStack ?? false;
  if (typeof dualStack !== "boolean") throw new InvalidInputError("options.dualStack", dualStack, "must be a boolean");
  const filterOption: unknown = options.labelFilter;
  if (filterOption !== undefined && (typeof filterOption !== "object" || filterOption === null)) {
    throw new InvalidInputError("options.labelFilter", filterOption, "must be a label filter or label filter options");
  }
  const labelFilter: LabelFilter =
    filterOption === undefined ? defaultLabelFilter()
      : typeof (filterOption as LabelFilter).accepts === "function" ? (filterOption as LabelFilter)
        : createLabelFilter(filterOption as LabelFilterOptions);
  const clusterLowest = clusterId === 0 ? 256 : 0;
  const clusterRange = options.ranges?.cluster === undefined ? { min: clusterLowest, max: 0xffff }
    : checkRange(options.ranges.cluster, "options.ranges.cluster", clusterLowest, 0xffff);
  const cidrRange = options.ranges?.cidr === undefined ? { min: 1, max: 0xffffff }
    : checkRange(options.ranges.cidr, "options.ranges.cidr", 1, 0xffffff);

  const engine = await instantiateEngine();
  const code = engine.identityConfigure(clusterId, clusterRange.min, clusterRange.max, cidrRange.min, cidrRange.max);
  if (code !== ENGINE_RESULT.OK) throw engineFailure("identity configure", code);
  return new Allocator(engine, clusterId, dualStack, labelFilter, clusterRange, cidrRange);
}

function engineFailure(operation: string, code: number): EngineError {
  return new EngineError(operation, code, ENGINE_RESULT_MEANING[code] ?? "unknown result");
}

class Allocator implements IdentityAllocator {
  constructor(
    private readonly engine: Engine,
    readonly clusterId: number,
    readonly dualStack: boolean,
    readonly labelFilter: LabelFilter,
    private readonly clusterRange: IdentityRange,
    private readonly cidrRange: IdentityRange,
  ) {}

  get size(): number {
    return this.engine.identityCount();
  }

  allocate(labels: readonly string[]): number {
    return this.allocateResolved(this.resolve(labels, "labels", true));
  }

  idOf(labels: readonly string[]): number | undefined {
    return this.findResolved(this.resolve(labels, "labels", true));
  }

  allocateCidr(prefix: string): number {
    return this.allocateResolved(this.resolveCidr(prefix));
  }

  cidrIdOf(prefix: string): number | undefined {
    return this.findResolved(this.resolveCidr(prefix));
  }

  release(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new InvalidInputError("id", id, "must be an identity number");
    if (isReservedIdentity(id)) return;
    const code = this.engine.identityRelease(id);
    if (code === ENGINE_RESULT.ERR_IDENTITY_NOT_ALLOCATED) {
      throw new InvalidInputError("id", id, "is not an allocated identity (released more often than allocated?)", "UNKNOWN_IDENTITY");
    }
    if (code !== ENGINE_RESULT.OK) throw engineFailure("identity release", code);
  }

  refs(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) return 0;
    return this.engine.identityRefs(id);
  }

  lookup(id: number): readonly string[] | undefined {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) return undefined;
    const reserved = reservedLabels(id);
    if (reserved) return reserved;
    const key = this.keyOf(id);
    return key === undefined ? undefined : Object.freeze(parseCanonicalKey(key).map(formatLabel));
  }

  snapshot(): IdentitySnapshot {
    const n = this.engine.identityList();
    const ids = new Uint32Array(this.engine.memory.buffer, this.engine.identityListPtr(), n).slice();
    const identities: SnapshotIdentity[] = [];
    for (const id of ids) {
      const key = this.keyOf(id);
      if (key === undefined) throw engineFailure("identity snapshot", ENGINE_RESULT.ERR_IDENTITY_NOT_ALLOCATED);
      identities.push({ id, labels: parseCanonicalKey(key).map(formatLabel), refs: this.engine.identityRefs(id) });
    }
    return { version: SNAPSHOT_VERSION, clusterId: this.clusterId, identities };
  }

  restore(snapshot: unknown): void {
    const entries = this.validateSnapshot(snapshot);
    const previous = this.snapshot();
    this.engine.identityReset();
    try {
      for (const e of entries) this.insert(e.scope, e.id, e.refs, e.key);
    } catch (err) {
      // Validation makes this unreachable; never leave a half-restored state.
      this.engine.identityReset();
      for (const e of this.validateSnapshot(previous)) this.insert(e.scope, e.id, e.refs, e.key);
      throw err;
    }
  }

  // ---- internals -----------------------------------------------------------

  private insert(scope: number, id: number, refs: number, key: string): void {
    const len = this.writeKey(key);
    const code = this.engine.identityRestore(scope, id, refs, len);
    if (code !== ENGINE_RESULT.OK) throw engineFailure("identity restore", code);
  }

  /** Writes `key` into the engine's input buffer; returns its length in bytes. */
  private writeKey(key: string): number {
    const bytes = encoder.encode(key);
    const ptr = this.engine.identityKeyIn(bytes.length);
    // The view is made after the reserve call, which may grow (and detach) memory.
    new Uint8Array(this.engine.memory.buffer, ptr, bytes.length).set(bytes);
    return bytes.length;
  }

  private keyOf(id: number): string | undefined {
    const len = this.engine.identityKeyOf(id);
    if (len < 0) return undefined;
    return decoder.decode(new Uint8Array(this.engine.memory.buffer, this.engine.identityKeyOutPtr(), len));
  }

  private allocateResolved(set: ResolvedSet): number {
    if (set.reserved !== undefined) return set.reserved;
    const len = this.writeKey(set.key);
    const code = this.engine.identityAllocate(set.scope, len);
    if (code === ENGINE_RESULT.OK) return this.engine.identityLastId();
    if (code === ENGINE_RESULT.ERR_IDENTITY_EXHAUSTED) {
      throw set.scope === SCOPE_CLUSTER
        ? new IdentityExhaustedError("cluster", (this.clusterId << 16) | this.clusterRange.min, (this.clusterId << 16) | this.clusterRange.max)
        : new IdentityExhaustedError("cidr", LOCAL_SCOPE_FLAG | this.cidrRange.min, LOCAL_SCOPE_FLAG | this.cidrRange.max);
    }
    throw engineFailure("identity allocate", code);
  }

  private findResolved(set: ResolvedSet): number | undefined {
    if (set.reserved !== undefined) return set.reserved;
    const id = this.engine.identityFind(this.writeKey(set.key));
    return id === 0 ? undefined : id;
  }

  private resolveCidr(prefix: string): ResolvedSet {
    const parsed = parseCidr(prefix, "prefix");
    const world: Label = { source: "reserved", key: worldLabelName(parsed.family, this.dualStack), value: "" };
    // Cilium's GetCIDRLabels: no cidr label for /0, which is the world identity itself.
    const labels: Label[] = parsed.bits === 0 ? [world] : [{ source: "cidr", key: parsed.labelKey, value: "" }, world];
    return this.finish(labels);
  }

  /**
   * Parses, validates and normalises a label set. `filter` is false for
   * snapshot labels, which were identity labels when they were saved.
   */
  private resolve(texts: unknown, field: string, filter: boolean, code: "INVALID_LABEL" | "INVALID_SNAPSHOT" = "INVALID_LABEL"): ResolvedSet {
    const fail = (at: string, value: unknown, problem: string): never => {
      throw new InvalidInputError(at, value, problem, code);
    };
    if (!Array.isArray(texts)) fail(field, texts, "must be an array of label strings");
    const list = texts as unknown[];
    const byKey = new Map<string, { label: Label; index: number }>();
    let cidrIndex = -1;
    list.forEach((text, i) => {
      const at = `${field}[${i}]`;
      const label = parseLabel(text, at, code);
      const seen = byKey.get(label.key);
      if (seen) {
        if (seen.label.source !== label.source || seen.label.value !== label.value) {
          fail(at, text, `has the same key "${label.key}" as ${field}[${seen.index}] (${formatLabel(seen.label)}); a label set holds one label per key`);
        }
        return;
      }
      if (label.source === "cidr") {
        if (cidrIndex >= 0) fail(at, text, `is a second cidr label after ${field}[${cidrIndex}]; each prefix has an identity of its own`);
        cidrIndex = i;
      }
      byKey.set(label.key, { label, index: i });
    });

    let labels = [...byKey.values()].map((e) => e.label);
    const cidr = cidrIndex >= 0 ? labels.find((l) => l.source === "cidr") : undefined;
    if (cidr) {
      const prefix = parseCidrLabelKey(cidr.key, `${field}[${cidrIndex}]`, list[cidrIndex], code);
      const worlds = labels.filter((l) => l.source === "reserved" && l.key.startsWith("world"));
      for (const w of worlds) {
        if (w.key !== "world" && w.key !== worldLabelName(prefix.family, true)) {
          fail(field, list, `reserved:${w.key} does not match the IPv${prefix.family} prefix of cidr:${cidr.key}`);
        }
      }
      if (worlds.length === 0) labels.push({ source: "reserved", key: worldLabelName(prefix.family, this.dualStack), value: "" });
      if (prefix.bits === 0) labels = labels.filter((l) => l !== cidr);
    }
    if (filter) labels = labels.filter((l) => l.source === "reserved" || l.source === "cidr" || this.labelFilter.accepts(l));
    return this.finish(labels);
  }

  private finish(labels: Label[]): ResolvedSet {
    if (labels.length === 0) return { reserved: RESERVED_IDENTITY.init, scope: SCOPE_CLUSTER, key: "" };
    labels.sort((a, b) => compareKeys(a.key, b.key));
    const reserved = reservedIdentityOf(labels);
    // Cilium's ScopeForLabels: only cidr and reserved labels make a node-local identity.
    const local = labels.every((l) => l.source === "cidr" || l.source === "reserved");
    return { reserved, scope: local ? SCOPE_LOCAL : SCOPE_CLUSTER, key: canonicalKey(labels) };
  }

  /** Checks a snapshot in full; returns the entries to insert. */
  private validateSnapshot(snapshot: unknown): Array<{ scope: number; id: number; refs: number; key: string }> {
    const bad = (field: string, value: unknown, problem: string): never => {
      throw new InvalidInputError(field, value, problem, "INVALID_SNAPSHOT");
    };
    if (typeof snapshot !== "object" || snapshot === null || Array.isArray(snapshot)) bad("snapshot", snapshot, "must be an object");
    const { version, clusterId, identities } = snapshot as Record<string, unknown>;
    if (version !== SNAPSHOT_VERSION) bad("snapshot.version", version, `must be ${SNAPSHOT_VERSION}`);
    if (clusterId !== this.clusterId) bad("snapshot.clusterId", clusterId, `must be this allocator's cluster ID ${this.clusterId}`);
    if (!Array.isArray(identities)) bad("snapshot.identities", identities, "must be an array");
    const out: Array<{ scope: number; id: number; refs: number; key: string }> = [];
    const ids = new Map<number, number>();
    const keys = new Map<string, number>();
    (identities as unknown[]).forEach((entry, i) => {
      const at = `snapshot.identities[${i}]`;
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) bad(at, entry, "must be an object { id, labels, refs }");
      const { id, labels, refs } = entry as Record<string, unknown>;
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) > 0xffffffff) bad(`${at}.id`, id, "must be an identity number");
      if (!Number.isInteger(refs) || (refs as number) < 1 || (refs as number) > 0xffffffff) bad(`${at}.refs`, refs, "must be an integer in 1..4294967295");
      const n = id as number;
      const set = this.resolve(labels, `${at}.labels`, false, "INVALID_SNAPSHOT");
      if (set.reserved !== undefined) bad(`${at}.labels`, labels, `are the labels of reserved identity ${set.reserved}, which is never allocated`);
      const inRange = set.scope === SCOPE_CLUSTER
        ? n >>> 16 === this.clusterId && (n & 0xffff) >= this.clusterRange.min && (n & 0xffff) <= this.clusterRange.max
        : (n & ~0xffffff) === LOCAL_SCOPE_FLAG && (n & 0xffffff) >= this.cidrRange.min && (n & 0xffffff) <= this.cidrRange.max;
      if (!inRange) {
        bad(`${at}.id`, id, set.scope === SCOPE_CLUSTER
          ? `is not a cluster identity of cluster ${this.clusterId} in this allocator's range`
          : "is not a node-local (CIDR) identity in this allocator's range");
      }
      const sameId = ids.get(n);
      if (sameId !== undefined) bad(`${at}.id`, id, `is also the id of snapshot.identities[${sameId}]`);
      const sameKey = keys.get(set.key);
      if (sameKey !== undefined) bad(`${at}.labels`, labels, `are also the labels of snapshot.identities[${sameKey}]`);
      ids.set(n, i);
      keys.set(set.key, i);
      out.push({ scope: set.scope, id: n, refs: refs as number, key: set.key });
    });
    return out;
  }
}
