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
