/**
 * The engine's Maglev algorithm in plain TypeScript, no WebAssembly.
 *
 * Why: the bench asks "what does WebAssembly buy over the obvious JS
 * implementation?", so this is that implementation written with care (typed
 * arrays, no per-slot allocation, buffers kept between builds like the
 * engine's) but without tricks. Same steps as assembly/maglev/table.ts: sort
 * by key bytes, MurmurHash3 offset/skip, one cursor per backend, round-robin
 * or Cilium's weighted fill. The bench checks its tables equal the engine's.
 */
import { mod64, murmur3x64_128 } from "./murmur3-plain.js";

/** Backends already turned into key bytes, as the engine receives them. */
export interface PlainInput {
  readonly keys: readonly Uint8Array[];
  readonly ids: Uint32Array;
  readonly weights: Uint32Array;
}

const EMPTY_SLOT = 0xffffffff;

/** Byte order with a proper prefix first (Go's string order, Cilium's sort). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** A builder for one table size; reuses its buffers between builds. */
export class PlainMaglev {
  readonly #m: number;
  readonly #table: Uint32Array;
  #cursor = new Uint32Array(0);
  #skip = new Uint32Array(0);
  #counter = new Float64Array(0);
  #sortedIds = new Uint32Array(0);
  #sortedWeights = new Uint32Array(0);
  readonly #hash = new Uint32Array(4);

  constructor(m: number) {
    if (!Number.isInteger(m) || m < 2 || m > 1 << 24) throw new RangeError(`table size ${m} out of range`);
    this.#m = m;
    this.#table = new Uint32Array(m);
  }

  /**
   * Builds the table. Returns a view of the builder's own buffer, valid until
   * the next build (copy it to keep it), as the engine's table is.
   */
  build(input: PlainInput, seed: number): Uint32Array {
    const m = this.#m;
    const n = input.keys.length;
    const table = this.#table;
    if (n === 0) return table.subarray(0, 0);
    if (m <= n) throw new RangeError(`table size ${m} must exceed backend count ${n}`);
    this.#reserve(n);

    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => compareBytes(input.keys[a]!, input.keys[b]!));

    const cursor = this.#cursor, skip = this.#skip, counter = this.#counter;
    const ids = this.#sortedIds, weights = this.#sortedWeights, hash = this.#hash;
    let weightSum = 0;
    for (let s = 0; s < n; s++) {
      const b = order[s]!;
      if (s > 0 && compareBytes(input.keys[order[s - 1]!]!, input.keys[b]!) === 0) {
        throw new Error(`duplicate backend key at input ${b}`);
      }
      murmur3x64_128(input.keys[b]!, seed, hash);
      cursor[s] = mod64(hash[0]!, hash[1]!, m);
      skip[s] = mod64(hash[2]!, hash[3]!, m - 1) + 1;
      ids[s] = input.ids[b]!;
      const w = input.weights[b]!;
      weights[s] = w;
      weightSum += w;
      counter[s] = w / n;
    }

    table.fill(EMPTY_SLOT);
    // Integer division, as the engine's u64 `weightSum / n > 1`.
    if (Math.floor(weightSum / n) > 1) this.#fillWeighted(n, weightSum);
    else this.#fillRoundRobin(n);
    return table;
  }

  #reserve(n: number): void {
    if (this.#cursor.length >= n) return;
    this.#cursor = new Uint32Array(n);
    this.#skip = new Uint32Array(n);
    this.#counter = new Float64Array(n);
    this.#sortedIds = new Uint32Array(n);
    this.#sortedWeights = new Uint32Array(n);
  }

  // Both fills inline the slot walk instead of calling a helper: V8 would
  // likely inline it anyway, but this keeps the hot loop obvious to read and
  // to profile. Cursor and skip are below m, so one subtraction wraps.

  #fillRoundRobin(n: number): void {
    const m = this.#m, table = this.#table, cursor = this.#cursor, skip = this.#skip, ids = this.#sortedIds;
    let s = 0;
    for (let turn = 0; turn < m; turn++) {
      const step = skip[s]!;
      let c = cursor[s]!;
      while (table[c] !== EMPTY_SLOT) {
        c += step;
        if (c >= m) c -= m;
      }
      table[c] = ids[s]!;
      c += step;
      if (c >= m) c -= m;
      cursor[s] = c;
      if (++s === n) s = 0;
    }
  }

  /** Cilium's weighted fill: a backend passes its turn while ahead of its weight. */
  #fillWeighted(n: number, weightSum: number): void {
    const m = this.#m, table = this.#table, cursor = this.#cursor, skip = this.#skip, ids = this.#sortedIds;
    const weights = this.#sortedWeights, counter = this.#counter;
    for (let turn = 0; turn < m; turn++) {
      let s = turn % n;
      const next = turn + 1;
      // Math.trunc mirrors the engine's f64 -> u64 conversion; products stay
      // far below 2^53 (turn < 2^24, weight < 2^16).
      while (next * weights[s]! < Math.trunc(counter[s]!)) {
        if (++s === n) s = 0;
      }
      counter[s] = counter[s]! + weightSum;
      const step = skip[s]!;
      let c = cursor[s]!;
      while (table[c] !== EMPTY_SLOT) {
        c += step;
        if (c >= m) c -= m;
      }
      table[c] = ids[s]!;
      c += step;
      if (c >= m) c -= m;
      cursor[s] = c;
    }
  }
}
