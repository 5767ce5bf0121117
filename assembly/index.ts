// The WebAssembly ABI of wasmplane's engines.
//
// Every export takes and returns plain numbers: the host writes inputs into
// module-owned buffers through typed-array views and reads results the same
// way, so no object crosses the boundary and no glue is needed beyond
// `src/engine/wasm.ts`. Result codes are listed in `./errors`.

import * as buffers from "./maglev/buffers";
import { buildTable } from "./maglev/table";
import { murmur3x64_128, murmurH1, murmurH2 } from "./hash/murmur3";

// ---- Maglev ---------------------------------------------------------------

/** Ensures capacity for `n` backends, `keyBytes` key bytes and `m` slots. */
export function maglevReserve(n: u32, keyBytes: u32, m: u32): void {
  buffers.reserve(n, keyBytes, m);
}

export function maglevKeysPtr(): usize { return buffers.keys; }
export function maglevKeyEndsPtr(): usize { return buffers.keyEnds; }
export function maglevIdsPtr(): usize { return buffers.ids; }
export function maglevWeightsPtr(): usize { return buffers.weights; }
export function maglevTablePtr(): usize { return buffers.table; }

/** Builds the table of `n` backends, size `m`, murmur seed `seed`. Returns a result code. */
export function maglevBuild(n: u32, m: u32, seed: u32): i32 {
  return buildTable(n, m, seed);
}

// ---- Hashing (exposed for known-answer tests and the host's tools) --------

/** Hashes `len` bytes at `ptr`; read the lanes with `murmurLane1/2`. */
export function murmur3(ptr: usize, len: usize, seed: u32): void {
  murmur3x64_128(ptr, len, seed);
}
export function murmurLane1(): u64 { return murmurH1; }
export function murmurLane2(): u64 { return murmurH2; }

/** Scratch space for the host to place bytes to hash. */
export function scratch(bytes: usize): usize {
  return buffers.scratchBuffer(bytes);
}

// ---- Policy resolver --------------------------------------------------------
// Inputs are u32 word streams written at `policyInput(words)`; answers are
// u32 words at `policyOutputPtr()` (`policyOutputWords()` of them). Stream
// formats are documented in assembly/policy/resolver.ts and mirrored by the
// host in src/policy/resolver-host.ts.

import * as policyStream from "./policy/stream";
import * as resolver from "./policy/resolver";
import { verdict as policyVerdictOf } from "./policy/verdict";
import { setMapLimit } from "./policy/state";

export function policyInput(words: u32): usize { return policyStream.reserveInput(words); }
export function policyOutputPtr(): usize { return policyStream.outputAddress(); }
export function policyOutputWords(): u32 { return policyStream.outputWords(); }
export function policySetMapLimit(limit: u32): void { setMapLimit(limit); }
export function policyDefineSelectors(words: u32): i32 { return resolver.defineSelectors(words); }
export function policyReleaseSelector(id: u32): void { resolver.releaseSelector(id); }
export function policyApplyRules(words: u32): i32 { return resolver.applyRules(words); }
export function policySetIdentity(words: u32): i32 { return resolver.setIdentity(words); }
export function policyRemoveIdentity(id: u32): i32 { return resolver.removeIdentity(id); }
export function policyAddSubject(id: u32): i32 { return resolver.addSubject(id); }
export function policyRemoveSubject(id: u32): void { resolver.removeSubject(id); }
export function policyDumpSubject(id: u32): i32 { return resolver.dumpSubject(id); }
export function policyVerdict(subject: u32, egress: bool, peer: u32, proto: u32, port: u32): i32 {
  return policyVerdictOf(subject, egress, peer, proto, port);
}

// ---- Identities -------------------------------------------------------------
// One canonical label key (UTF-8) at a time is written at `identityKeyIn(bytes)`;
// numbers come back from `identityLastId()`, keys at `identityKeyOutPtr()`,
// number lists at `identityListPtr()`. See assembly/identity/allocator.ts; the
// host side is src/identity/allocator.ts. Booleans are returned as 0 / 1.

import * as identityAllocator from "./identity/allocator";
import * as identityBuffers from "./identity/buffers";

/** Sets the cluster ID and the ranges of local parts; forgets every identity. Returns a result code. */
export function identityConfigure(clusterId: u32, clusterMin: u32, clusterMax: u32, cidrMin: u32, cidrMax: u32): i32 {
  return identityAllocator.configure(clusterId, clusterMin, clusterMax, cidrMin, cidrMax);
}
/** Forgets every identity. */
export function identityReset(): void { identityAllocator.reset(); }
/** Room for an input key of `bytes` bytes; returns its address. */
export function identityKeyIn(bytes: u32): usize { return identityBuffers.reserveKeyIn(<usize>bytes); }
/** Allocates the key of `keyLen` bytes in `scope` (0 cluster, 1 local). Returns a result code. */
export function identityAllocate(scope: u32, keyLen: u32): i32 {
  return identityAllocator.allocate(scope, identityBuffers.keyIn, <usize>keyLen);
}
export function identityLastId(): u32 { return identityAllocator.lastId; }
export function identityLastCreated(): u32 { return identityAllocator.lastCreated ? 1 : 0; }
export function identityLastFreed(): u32 { return identityAllocator.lastFreed ? 1 : 0; }
/** The number of the key of `keyLen` bytes, 0 when not allocated. */
export function identityFind(keyLen: u32): u32 { return identityAllocator.find(identityBuffers.keyIn, <usize>keyLen); }
/** The first-choice number of the key of `keyLen` bytes in `scope`, before probing. */
export function identityCandidate(scope: u32, keyLen: u32): u32 {
  return identityAllocator.candidate(scope, identityBuffers.keyIn, <usize>keyLen);
}
/** Drops one reference of `id`. Returns a result code. */
export function identityRelease(id: u32): i32 { return identityAllocator.release(id); }
/** Reference count of `id`, 0 when not allocated. */
export function identityRefs(id: u32): u32 { return identityAllocator.refsOf(id); }
/** Re-creates identity `id` with `refs` references for the key of `keyLen` bytes. Returns a result code. */
export function identityRestore(scope: u32, id: u32, refs: u32, keyLen: u32): i32 {
  return identityAllocator.restore(scope, id, refs, identityBuffers.keyIn, <usize>keyLen);
}
/** Writes the key of `id` at `identityKeyOutPtr()`; returns its length, -1 when not allocated. */
export function identityKeyOf(id: u32): i32 { return identityAllocator.keyOf(id); }
export function identityKeyOutPtr(): usize { return identityBuffers.keyOut; }
/** Writes every allocated number, ascending, at `identityListPtr()`; returns the count. */
export function identityList(): u32 { return identityAllocator.listIds(); }
export function identityListPtr(): usize { return identityBuffers.listOut; }
/** Allocated identities in both scopes. */
export function identityCount(): u32 { return identityAllocator.count(); }
