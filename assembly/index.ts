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
