// The security-identity allocator: label-set keys to numeric identities.
//
// The host turns a label set into Cilium's canonical key (`source:key=value;`
// per label, sorted by key), decides its scope, and hands the key's UTF-8
// bytes to this module. Identities are numbered as Cilium numbers them:
//
//   cluster scope  (clusterId << 16) | n   n in [clusterMin, clusterMax]
//                                          (default 256..65535 in cluster 0,
//                                          0..65535 in clusters 1..255)
//   local scope    (1 << 24) | n           n in [cidrMin, cidrMax]
//                                          (default 1..2^24-1; CIDR identities)
//
// Allocation is deterministic: the first candidate for a key is
// `min + h1 % size`, h1 the first lane of MurmurHash3 x64 128 of the key with
// the fixed seed IDENTITY_SEED, and a taken candidate is followed by the next
// number (linear probing, wrapping inside the range). The same sequence of
// calls therefore gives the same numbers everywhere, and allocators that see
// the same label sets in different orders still agree on every key that did
// not collide. A live number is never handed out twice: when every number of
// a range is live the call fails with ERR_IDENTITY_EXHAUSTED.
//
// Each identity carries a reference count: allocating a known key adds one,
// releasing takes one, and the identity (its number and key) is freed at zero.

import { murmur3x64_128, murmurH1 } from "../hash/murmur3";
import {
  OK, ERR_IDENTITY_EXHAUSTED, ERR_IDENTITY_NOT_ALLOCATED, ERR_IDENTITY_CONFLICT,
  ERR_IDENTITY_RANGE, ERR_IDENTITY_REFS,
} from "../errors";
import { keyOut, listOut, reserveKeyOut, reserveList } from "./buffers";

/** Cluster-wide identities (pods, endpoints): `(clusterId << 16) | n`. */
export const SCOPE_CLUSTER: u32 = 0;
/** Node-local identities (CIDR prefixes): `(1 << 24) | n`. */
export const SCOPE_LOCAL: u32 = 1;

/** Bits the cluster ID is shifted by (Cilium's ClusterIDShift with 255 clusters). */
export const CLUSTER_ID_SHIFT: u32 = 16;
/** Cilium's IdentityScopeLocal: the tag of node-local (CIDR) identities. */
export const LOCAL_SCOPE_FLAG: u32 = 1 << 24;
/** Highest cluster ID (Cilium's ClusterIDMax with the default 255 clusters). */
export const MAX_CLUSTER_ID: u32 = 255;
/** Cilium's MinimalNumericIdentity: numbers below it are reserved in cluster 0. */
export const MIN_CLUSTER_IDENTITY: u32 = 256;
/** Highest local part of a cluster identity. */
export const MAX_CLUSTER_PART: u32 = 0xffff;
/** Highest local part of a CIDR identity (Cilium's MaxAllocatorLocalIdentity). */
export const MAX_LOCAL_PART: u32 = 0xffffff;
/** Murmur seed of candidate numbers. Fixed: allocators agree only if it is the same. */
export const IDENTITY_SEED: u32 = 0x6964656e; // "iden"

class Identity {
  constructor(
    public id: u32,
    public scope: u32,
    public key: string,
    public refs: u32,
  ) {}
}

let clusterId: u32 = 0;
let clusterMin: u32 = MIN_CLUSTER_IDENTITY;
let clusterMax: u32 = MAX_CLUSTER_PART;
let localMin: u32 = 1;
let localMax: u32 = MAX_LOCAL_PART;
let clusterCount: u32 = 0;
let localCount: u32 = 0;

let byKey = new Map<string, Identity>();
let byId = new Map<u32, Identity>();

/** The identity number of the last successful `allocate`. */
export let lastId: u32 = 0;
/** Whether the last successful `allocate` created the identity (its count went 0 → 1). */
export let lastCreated: bool = false;
/** Whether the last successful `release` freed the identity (its count reached 0). */
export let lastFreed: bool = false;

/**
 * Sets the cluster ID and the ranges of local parts, and forgets every
 * identity. Returns ERR_IDENTITY_RANGE, changing nothing, for a cluster ID
 * above 255, an empty or out-of-bounds range, or a cluster range of cluster 0
 * that reaches below 256 (the reserved and well-known numbers).
 */
export function configure(cluster: u32, cMin: u32, cMax: u32, lMin: u32, lMax: u32): i32 {
  if (cluster > MAX_CLUSTER_ID) return ERR_IDENTITY_RANGE;
  if (cMin > cMax || cMax > MAX_CLUSTER_PART) return ERR_IDENTITY_RANGE;
  if (cluster == 0 && cMin < MIN_CLUSTER_IDENTITY) return ERR_IDENTITY_RANGE;
  if (lMin == 0 || lMin > lMax || lMax > MAX_LOCAL_PART) return ERR_IDENTITY_RANGE;
  clusterId = cluster;
  clusterMin = cMin;
  clusterMax = cMax;
  localMin = lMin;
  localMax = lMax;
  reset();
  return OK;
}

/** Forgets every identity; the configuration stays. */
export function reset(): void {
  byKey.clear();
  byId.clear();
  clusterCount = 0;
  localCount = 0;
  lastId = 0;
  lastCreated = false;
  lastFreed = false;
}

// @ts-ignore: decorator
@inline
function rangeMin(scope: u32): u32 {
  return scope == SCOPE_CLUSTER ? clusterMin : localMin;
}

// @ts-ignore: decorator
@inline
function rangeMax(scope: u32): u32 {
  return scope == SCOPE_CLUSTER ? clusterMax : localMax;
}

// @ts-ignore: decorator
@inline
function compose(scope: u32, part: u32): u32 {
  return scope == SCOPE_CLUSTER ? (clusterId << CLUSTER_ID_SHIFT) | part : LOCAL_SCOPE_FLAG | part;
}

/** Whether `id` is a number of `scope` inside the configured range. */
export function inRange(scope: u32, id: u32): bool {
  if (scope == SCOPE_CLUSTER) {
    if ((id >>> CLUSTER_ID_SHIFT) != clusterId) return false;
    const part = id & MAX_CLUSTER_PART;
    return part >= clusterMin && part <= clusterMax;
  }
  if (scope == SCOPE_LOCAL) {
    if ((id & ~MAX_LOCAL_PART) != LOCAL_SCOPE_FLAG) return false;
    const part = id & MAX_LOCAL_PART;
    return part >= localMin && part <= localMax;
  }
  return false;
}

/** Live identities of `scope`. */
export function countIn(scope: u32): u32 {
  return scope == SCOPE_CLUSTER ? clusterCount : scope == SCOPE_LOCAL ? localCount : 0;
}

/** Live identities of both scopes. */
export function count(): u32 {
  return <u32>byId.size;
}

/** The first-choice number of the key at `ptr` (before probing); 0 for a bad scope. */
export function candidate(scope: u32, ptr: usize, len: usize): u32 {
  if (scope > SCOPE_LOCAL) return 0;
  const min = rangeMin(scope);
  const size = rangeMax(scope) - min + 1;
  murmur3x64_128(ptr, len, IDENTITY_SEED);
  return compose(scope, min + <u32>(murmurH1 % <u64>size));
}

function insert(scope: u32, id: u32, key: string, refs: u32): void {
  const entry = new Identity(id, scope, key, refs);
  byKey.set(key, entry);
  byId.set(id, entry);
  if (scope == SCOPE_CLUSTER) clusterCount++;
  else localCount++;
}

/**
 * Allocates the identity of the key of `len` bytes at `ptr` in `scope`: a
 * known key gets its number back and one more reference; a new key gets the
 * first free number from its candidate on. The number is left in `lastId`,
 * and `lastCreated` tells which case it was. Returns OK,
 * ERR_IDENTITY_EXHAUSTED (every number of the range is live),
 * ERR_IDENTITY_CONFLICT (the key is live in the other scope),
 * ERR_IDENTITY_REFS (its count would overflow) or ERR_IDENTITY_RANGE (bad scope).
 */
export function allocate(scope: u32, ptr: usize, len: usize): i32 {
  lastId = 0;
  lastCreated = false;
  if (scope > SCOPE_LOCAL) return ERR_IDENTITY_RANGE;
  const key = String.UTF8.decodeUnsafe(ptr, len);
  if (byKey.has(key)) {
    const known = byKey.get(key);
    if (known.scope != scope) return ERR_IDENTITY_CONFLICT;
    if (known.refs == u32.MAX_VALUE) return ERR_IDENTITY_REFS;
    known.refs++;
    lastId = known.id;
    return OK;
  }
  const min = rangeMin(scope);
  const size = rangeMax(scope) - min + 1;
  if (countIn(scope) >= size) return ERR_IDENTITY_EXHAUSTED;
  murmur3x64_128(ptr, len, IDENTITY_SEED);
  let offset = <u32>(murmurH1 % <u64>size);
  // At least one number is free (count < size), so the walk ends inside the range.
  for (let probe: u32 = 0; probe < size; probe++) {
    const id = compose(scope, min + offset);
    if (!byId.has(id)) {
      insert(scope, id, key, 1);
      lastId = id;
      lastCreated = true;
      return OK;
    }
    offset++;
    if (offset == size) offset = 0;
  }
  return ERR_IDENTITY_EXHAUSTED;
}

/** The number of the key of `len` bytes at `ptr`, or 0 when it is not live. */
export function find(ptr: usize, len: usize): u32 {
  const key = String.UTF8.decodeUnsafe(ptr, len);
  return byKey.has(key) ? byKey.get(key).id : 0;
}

/**
 * Drops one reference of `id`; at zero the identity is freed and its number
 * may be handed out again. `lastFreed` tells whether it was. Returns OK or
 * ERR_IDENTITY_NOT_ALLOCATED (no live identity has that number).
 */
export function release(id: u32): i32 {
  lastFreed = false;
  if (!byId.has(id)) return ERR_IDENTITY_NOT_ALLOCATED;
  const entry = byId.get(id);
  entry.refs--;
  if (entry.refs == 0) {
    byId.delete(id);
    byKey.delete(entry.key);
    if (entry.scope == SCOPE_CLUSTER) clusterCount--;
    else localCount--;
    lastFreed = true;
  }
  return OK;
}

/** The reference count of `id`; 0 when it is not live. */
export function refsOf(id: u32): u32 {
  return byId.has(id) ? byId.get(id).refs : 0;
}

/**
 * Re-creates an identity exactly (restoring a snapshot): number `id`, `refs`
 * references, key of `len` bytes at `ptr`. Returns OK, ERR_IDENTITY_RANGE
 * (`id` is not a number of `scope` in the configured range),
 * ERR_IDENTITY_REFS (`refs` is 0) or ERR_IDENTITY_CONFLICT (the number or
 * the key is live already).
 */
export function restore(scope: u32, id: u32, refs: u32, ptr: usize, len: usize): i32 {
  if (!inRange(scope, id)) return ERR_IDENTITY_RANGE;
  if (refs == 0) return ERR_IDENTITY_REFS;
  const key = String.UTF8.decodeUnsafe(ptr, len);
  if (byId.has(id) || byKey.has(key)) return ERR_IDENTITY_CONFLICT;
  insert(scope, id, key, refs);
  return OK;
}

/** Writes the key of `id` into `keyOut` and returns its length in bytes; -1 when it is not live. */
export function keyOf(id: u32): i32 {
  if (!byId.has(id)) return -1;
  const key = byId.get(id).key;
  const len = String.UTF8.byteLength(key);
  reserveKeyOut(<usize>len);
  String.UTF8.encodeUnsafe(changetype<usize>(key), key.length, keyOut);
  return len;
}

/** Writes every live number into `listOut`, ascending, and returns how many there are. */
export function listIds(): u32 {
  const ids = byId.keys();
  ids.sort();
  const n = ids.length;
  reserveList(<usize>n);
  for (let i = 0; i < n; i++) store<u32>(listOut + (<usize>i << 2), ids[i]);
  return <u32>n;
}
