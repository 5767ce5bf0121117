/**
 * An independent reference of Cilium's Maglev construction, for differential
 * tests: written from the algorithm's description, in the shape Cilium's
 * `pkg/maglev` has (an N x M permutation matrix, MurmurHash3 on BigInt), and
 * sharing no code with the engine. Slow on purpose: clarity over speed.
 */

const MASK64 = (1n << 64n) - 1n;
const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK64;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK64;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK64;

function fmix(k: bigint): bigint {
  k ^= k >> 33n;
  k = mul(k, 0xff51afd7ed558ccdn);
  k ^= k >> 33n;
  k = mul(k, 0xc4ceb9fe1a85ec53n);
  k ^= k >> 33n;
  return k;
}

/** MurmurHash3_x64_128 of `data` with a 32-bit seed: [h1, h2]. */
export function murmur3Reference(data: Uint8Array, seed: number): [bigint, bigint] {
  let h1 = BigInt(seed >>> 0);
  let h2 = h1;
  const word = (off: number, len: number): bigint => {
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[off + i]!);
    return v;
  };
  const nblocks = Math.floor(data.length / 16);
  for (let b = 0; b < nblocks; b++) {
    let k1 = word(b * 16, 8);
    let k2 = word(b * 16 + 8, 8);
    k1 = mul(rotl(mul(k1, C1), 31n), C2);
    h1 ^= k1;
    h1 = add(mul(add(rotl(h1, 27n), h2), 5n), 0x52dce729n);
    k2 = mul(rotl(mul(k2, C2), 33n), C1);
    h2 ^= k2;
    h2 = add(mul(add(rotl(h2, 31n), h1), 5n), 0x38495ab5n);
  }
  const tail = nblocks * 16;
  const rest = data.length - tail;
  if (rest > 8) {
    const k2 = mul(rotl(mul(word(tail + 8, rest - 8), C2), 33n), C1);
    h2 ^= k2;
  }
  if (rest > 0) {
    const k1 = mul(rotl(mul(word(tail, Math.min(rest, 8)), C1), 31n), C2);
    h1 ^= k1;
  }
  const len = BigInt(data.length);
  h1 ^= len;
  h2 ^= len;
  h1 = add(h1, h2);
  h2 = add(h2, h1);
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = add(h1, h2);
  h2 = add(h2, h1);
  return [h1, h2];
}

export interface ReferenceBackend {
  key: string;
  id: number;
  weight: number;
}

const compareBytes = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
};

/** Cilium's GetLookupTable, step by step. */
export function referenceTable(backends: readonly ReferenceBackend[], m: number, seed: number): Uint32Array {
  if (backends.length === 0) return new Uint32Array(0);
  const enc = new TextEncoder();
  const sorted = backends
    .map((b) => ({ ...b, bytes: enc.encode(b.key) }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes));
  const n = sorted.length;
  const M = BigInt(m);
  const perm: number[][] = sorted.map((b) => {
    const [h1, h2] = murmur3Reference(b.bytes, seed);
    const offset = h1 % M;
    const skip = (h2 % (M - 1n)) + 1n;
    const row: number[] = [];
    for (let j = 0n; j < M; j++) row.push(Number((offset + j * skip) % M));
    return row;
  });
  const weightSum = sorted.reduce((s, b) => s + b.weight, 0);
  const weighted = Math.floor(weightSum / n) > 1;
  const counter = sorted.map((b) => b.weight / n);
  const next = new Array<number>(n).fill(0);
  const entry = new Array<number>(m).fill(-1);
  for (let turn = 0; turn < m; turn++) {
    let i = turn % n;
    for (;;) {
      if (weighted) {
        if ((turn + 1) * sorted[i]!.weight < Math.trunc(counter[i]!)) {
          i = (i + 1) % n;
          continue;
        }
        counter[i]! += weightSum;
      }
      let c = perm[i]![next[i]!]!;
      while (entry[c]! >= 0) {
        next[i]!++;
        c = perm[i]![next[i]!]!;
      }
      entry[c] = sorted[i]!.id;
      next[i]!++;
      break;
    }
  }
  return Uint32Array.from(entry);
}
