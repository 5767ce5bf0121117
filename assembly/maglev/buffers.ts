// Module-owned input and output buffers of the Maglev builder.
//
// The host asks for capacity with `reserve`, writes the backends straight into
// linear memory through typed-array views on these addresses, calls `build`,
// and reads the table through a view on `table`. Nothing is copied element by
// element across the boundary, and no buffer is ever shrunk, so steady-state
// builds allocate nothing. Views on the host side detach when memory grows:
// the host re-creates them after every `reserve`.
//
//   keys     u8[keyBytes]  UTF-8 key strings back to back
//   keyEnds  u32[n]        end offset of key i in `keys` (key 0 starts at 0)
//   ids      u32[n]        backend IDs, written to the table
//   weights  u32[n]        backend weights
//   table    u32[m]        the lookup table (output)
//
// Working state of a build, owned here for the same reason:
//
//   order    u32[n]        backend indexes sorted by key, then a merge buffer
//   cursor   u32[n]        each backend's current permutation slot
//   skip     u32[n]        each backend's permutation step
//   counter  f64[n]        each backend's weight counter

export let keys: usize = 0;
export let keyEnds: usize = 0;
export let ids: usize = 0;
export let weights: usize = 0;
export let table: usize = 0;
export let order: usize = 0;
export let mergeScratch: usize = 0;
export let cursor: usize = 0;
export let skip: usize = 0;
export let counter: usize = 0;

export let backendCapacity: u32 = 0;
export let keyCapacity: u32 = 0;
export let tableCapacity: u32 = 0;

function grow(ptr: usize, bytes: usize): usize {
  // heap.realloc with a null pointer is not allowed; allocate the first time.
  return ptr == 0 ? heap.alloc(bytes) : heap.realloc(ptr, bytes);
}

/** Makes room for `n` backends with `keyBytes` key bytes and a table of `m` slots. */
export function reserve(n: u32, keyBytes: u32, m: u32): void {
  if (n > backendCapacity) {
    // Round up so a slowly growing service does not reallocate every build.
    const cap: u32 = max<u32>(n, backendCapacity + (backendCapacity >> 1));
    const c = <usize>cap;
    keyEnds = grow(keyEnds, c << 2);
    ids = grow(ids, c << 2);
    weights = grow(weights, c << 2);
    order = grow(order, c << 2);
    mergeScratch = grow(mergeScratch, c << 2);
    cursor = grow(cursor, c << 2);
    skip = grow(skip, c << 2);
    counter = grow(counter, c << 3);
    backendCapacity = cap;
  }
  if (keyBytes > keyCapacity) {
    const cap: u32 = max<u32>(keyBytes, keyCapacity + (keyCapacity >> 1));
    keys = grow(keys, <usize>cap);
    keyCapacity = cap;
  }
  if (m > tableCapacity) {
    table = grow(table, (<usize>m) << 2);
    tableCapacity = m;
  }
}

// @ts-ignore: decorator
@inline
export function keyStart(i: u32): u32 {
  return i == 0 ? 0 : load<u32>(keyEnds + ((<usize>(i - 1)) << 2));
}

// @ts-ignore: decorator
@inline
export function keyEnd(i: u32): u32 {
  return load<u32>(keyEnds + ((<usize>i) << 2));
}

let scratchPtr: usize = 0;
let scratchCapacity: usize = 0;

/** A host-writable byte buffer of at least `bytes` bytes (contents not kept across growth). */
export function scratchBuffer(bytes: usize): usize {
  if (bytes > scratchCapacity) {
    scratchPtr = grow(scratchPtr, bytes);
    scratchCapacity = bytes;
  }
  return scratchPtr;
}
