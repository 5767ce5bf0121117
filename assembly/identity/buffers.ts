// Module-owned buffers of the identity allocator.
//
// The host writes one canonical label key (UTF-8) into `keyIn` and calls an
// allocator export with its length; results that are bytes (a key) or lists
// (identity numbers) come back in `keyOut` and `listOut`. Buffers only grow,
// and the host re-creates its typed-array views after every call, since
// growth of linear memory detaches them.
//
//   keyIn    u8[keyInCapacity]    input key bytes
//   keyOut   u8[keyOutCapacity]   output key bytes (`keyOf`)
//   listOut  u32[listCapacity]    output identity numbers (`listIds`)

export let keyIn: usize = 0;
export let keyOut: usize = 0;
export let listOut: usize = 0;

let keyInCapacity: usize = 0;
let keyOutCapacity: usize = 0;
let listCapacity: usize = 0;

function grow(ptr: usize, bytes: usize): usize {
  // heap.realloc with a null pointer is not allowed; allocate the first time.
  return ptr == 0 ? heap.alloc(bytes) : heap.realloc(ptr, bytes);
}

/** Room for an input key of `bytes` bytes; returns its address. Contents are not kept across growth. */
export function reserveKeyIn(bytes: usize): usize {
  if (bytes > keyInCapacity || keyIn == 0) {
    const cap = max<usize>(max<usize>(bytes, 64), keyInCapacity + (keyInCapacity >> 1));
    keyIn = grow(keyIn, cap);
    keyInCapacity = cap;
  }
  return keyIn;
}

/** Room for an output key of `bytes` bytes; returns its address. */
export function reserveKeyOut(bytes: usize): usize {
  if (bytes > keyOutCapacity || keyOut == 0) {
    const cap = max<usize>(max<usize>(bytes, 64), keyOutCapacity + (keyOutCapacity >> 1));
    keyOut = grow(keyOut, cap);
    keyOutCapacity = cap;
  }
  return keyOut;
}

/** Room for `n` output identity numbers; returns the address. */
export function reserveList(n: usize): usize {
  if (n > listCapacity || listOut == 0) {
    const cap = max<usize>(max<usize>(n, 16), listCapacity + (listCapacity >> 1));
    listOut = grow(listOut, cap << 2);
    listCapacity = cap;
  }
  return listOut;
}
