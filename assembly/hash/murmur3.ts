// MurmurHash3 x64 128-bit (Austin Appleby, SMHasher `MurmurHash3_x64_128`).
//
// Cilium hashes each Maglev backend's key string with this function (its
// `pkg/murmur3.Hash128`) and takes `h1 % M` as the permutation offset and
// `h2 % (M - 1) + 1` as the skip, so every bit here must match the reference:
// little-endian 64-bit blocks, both lanes seeded with the same 32-bit seed,
// tail bytes folded in from the highest index down, fmix64 finalizer.
//
// The result is left in two globals instead of a returned tuple so that the
// hot path allocates nothing.

const C1: u64 = 0x87c37b91114253d5;
const C2: u64 = 0x4cf5ad432745937f;

/** Lane 1 of the last hash computed (Cilium's `h1`). */
export let murmurH1: u64 = 0;
/** Lane 2 of the last hash computed (Cilium's `h2`). */
export let murmurH2: u64 = 0;

// @ts-ignore: decorator
@inline
function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

// @ts-ignore: decorator
@inline
function mixK1(k1: u64): u64 {
  k1 *= C1;
  k1 = rotl<u64>(k1, 31);
  return k1 * C2;
}

// @ts-ignore: decorator
@inline
function mixK2(k2: u64): u64 {
  k2 *= C2;
  k2 = rotl<u64>(k2, 33);
  return k2 * C1;
}

/**
 * Hashes `len` bytes at linear-memory address `ptr` with `seed`; the two
 * 64-bit lanes land in `murmurH1` and `murmurH2`.
 */
export function murmur3x64_128(ptr: usize, len: usize, seed: u32): void {
  let h1: u64 = <u64>seed;
  let h2: u64 = <u64>seed;
  const blocks = len >> 4;

  for (let i: usize = 0; i < blocks; i++) {
    const p = ptr + (i << 4);
    // WebAssembly loads are little-endian, as the reference's getblock64 on x86.
    const k1 = load<u64>(p);
    const k2 = load<u64>(p, 8);

    h1 ^= mixK1(k1);
    h1 = rotl<u64>(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;

    h2 ^= mixK2(k2);
    h2 = rotl<u64>(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  const tail = ptr + (blocks << 4);
  const rest = len & 15;
  let k1: u64 = 0;
  let k2: u64 = 0;
  // The reference's switch falls through from the highest tail byte down;
  // the two loops below are the same sums written without fall-through.
  if (rest > 8) {
    for (let j: usize = rest; j > 8; j--) {
      k2 ^= (<u64>load<u8>(tail + j - 1)) << (<u64>(j - 9) << 3);
    }
    h2 ^= mixK2(k2);
  }
  if (rest > 0) {
    const top: usize = rest < 8 ? rest : 8;
    for (let j: usize = top; j > 0; j--) {
      k1 ^= (<u64>load<u8>(tail + j - 1)) << (<u64>(j - 1) << 3);
    }
    h1 ^= mixK1(k1);
  }

  h1 ^= <u64>len;
  h2 ^= <u64>len;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;

  murmurH1 = h1;
  murmurH2 = h2;
}
