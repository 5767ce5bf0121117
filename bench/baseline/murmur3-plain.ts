/**
 * MurmurHash3 x64 128 in plain TypeScript, for the no-WebAssembly baseline
 * (bench/baseline/maglev-plain.ts).
 *
 * Why 32-bit halves rather than BigInt: BigInt arithmetic allocates on every
 * operation and would make the baseline's hashing look slower than plain JS
 * really is; pairs of uint32 numbers stay in registers once optimised. A
 * 64-bit value is (hi, lo); helpers leave their result in `rh`/`rl` so no
 * object is allocated per operation.
 */

let rh = 0;
let rl = 0;

/** Low 64 bits of (ah:al) * (bh:bl). */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  // al * bl needs all 64 bits; 16-bit limbs keep every partial product exact
  // in a double (each below 2^32).
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const t = a0 * b0;
  const m1 = a1 * b0 + (t >>> 16);
  const m2 = a0 * b1 + (m1 & 0xffff);
  const high = a1 * b1 + (m1 >>> 16) + (m2 >>> 16);
  rl = Math.imul(al, bl) >>> 0;
  // The cross terms only reach the high word, where wrapping is wanted.
  rh = (high + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

function add64(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rl = lo >>> 0;
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotate left by r, 0 < r < 64, r != 32. */
function rotl64(h: number, l: number, r: number): void {
  if (r > 32) {
    const t = h;
    h = l;
    l = t;
    r -= 32;
  }
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

// Constants as (hi, lo) pairs.
const C1H = 0x87c37b91, C1L = 0x114253d5;
const C2H = 0x4cf5ad43, C2L = 0x2745937f;

/** k1 * C1, rotl 31, * C2: the lane-1 block mix. */
function mixK1(h: number, l: number): void {
  mul64(h, l, C1H, C1L);
  rotl64(rh, rl, 31);
  mul64(rh, rl, C2H, C2L);
}

/** k2 * C2, rotl 33, * C1: the lane-2 block mix. */
function mixK2(h: number, l: number): void {
  mul64(h, l, C2H, C2L);
  rotl64(rh, rl, 33);
  mul64(rh, rl, C1H, C1L);
}

function fmix64(h: number, l: number): void {
  // x ^= x >> 33 touches only the low word: lo ^= hi >>> 1.
  l = (l ^ (h >>> 1)) >>> 0;
  mul64(h, l, 0xff51afd7, 0xed558ccd);
  h = rh;
  l = (rl ^ (rh >>> 1)) >>> 0;
  mul64(h, l, 0xc4ceb9fe, 0x1a85ec53);
  rl = (rl ^ (rh >>> 1)) >>> 0;
}

/** Little-endian uint32 at byte offset `o`, reading only bytes below `end` (others count as 0). */
function word(b: Uint8Array, o: number, end: number): number {
  let v = 0;
  for (let i = Math.min(o + 4, end) - 1; i >= o; i--) v = (v << 8) | b[i]!;
  return v >>> 0;
}

/**
 * Hashes `data` with `seed`; writes [h1 hi, h1 lo, h2 hi, h2 lo] into `out`
 * (a caller-owned buffer, so the hot path allocates nothing).
 */
export function murmur3x64_128(data: Uint8Array, seed: number, out: Uint32Array): void {
  const len = data.length;
  let h1h = 0, h1l = seed >>> 0, h2h = 0, h2l = seed >>> 0;
  const blocks = len >>> 4;
  for (let i = 0; i < blocks; i++) {
    const p = i << 4;
    mixK1(word(data, p + 4, len), word(data, p, len));
    h1h = (h1h ^ rh) >>> 0; h1l = (h1l ^ rl) >>> 0;
    rotl64(h1h, h1l, 27);
    add64(rh, rl, h2h, h2l);
    mul64(rh, rl, 0, 5);
    add64(rh, rl, 0, 0x52dce729);
    h1h = rh; h1l = rl;

    mixK2(word(data, p + 12, len), word(data, p + 8, len));
    h2h = (h2h ^ rh) >>> 0; h2l = (h2l ^ rl) >>> 0;
    rotl64(h2h, h2l, 31);
    add64(rh, rl, h1h, h1l);
    mul64(rh, rl, 0, 5);
    add64(rh, rl, 0, 0x38495ab5);
    h2h = rh; h2l = rl;
  }

  // Tail: bytes 8..14 form lane 2's k2, bytes 0..7 lane 1's k1 (missing bytes are 0).
  const t = blocks << 4;
  const rest = len & 15;
  if (rest > 8) {
    mixK2(word(data, t + 12, len), word(data, t + 8, len));
    h2h = (h2h ^ rh) >>> 0; h2l = (h2l ^ rl) >>> 0;
  }
  if (rest > 0) {
    mixK1(word(data, t + 4, len), word(data, t, len));
    h1h = (h1h ^ rh) >>> 0; h1l = (h1l ^ rl) >>> 0;
  }

  // len < 2^32, so it only touches the low words.
  h1l = (h1l ^ len) >>> 0;
  h2l = (h2l ^ len) >>> 0;
  add64(h1h, h1l, h2h, h2l); h1h = rh; h1l = rl;
  add64(h2h, h2l, h1h, h1l); h2h = rh; h2l = rl;
  fmix64(h1h, h1l); h1h = rh; h1l = rl;
  fmix64(h2h, h2l); h2h = rh; h2l = rl;
  add64(h1h, h1l, h2h, h2l); h1h = rh; h1l = rl;
  add64(h2h, h2l, h1h, h1l); h2h = rh; h2l = rl;
  out[0] = h1h; out[1] = h1l; out[2] = h2h; out[3] = h2l;
}

/**
 * (hi * 2^32 + lo) mod d, exact for d <= 2^24 (the largest table size the
 * builder accepts): every intermediate stays below 2^53.
 */
export function mod64(hi: number, lo: number, d: number): number {
  return ((hi % d) * (4294967296 % d) + (lo % d)) % d;
}
