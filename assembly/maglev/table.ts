// The Maglev lookup-table builder, bit-identical to Cilium's `pkg/maglev`.
//
// Algorithm: Eisenbud et al., "Maglev: A Fast and Reliable Software Network
// Load Balancer" (NSDI 2016), section 3.4, with Cilium's choices on top:
//
//   * backends sorted by key string (byte order) before anything else;
//   * offset = h1 % M and skip = h2 % (M - 1) + 1 from MurmurHash3 x64 128 of
//     the key, in 64-bit arithmetic;
//   * weights as Cilium took them from Envoy: when the integer
//     sum(weights) / N is greater than 1, backend i's turn at step n is passed
//     to the next backend while (n + 1) * w_i < trunc(counter_i); a backend
//     that takes a turn adds sum(weights) to its counter, which starts at
//     w_i / N in float64.
//
// Cilium materialises the N x M permutation matrix (500 MB for N=1000,
// M=65521). The permutation of a backend is an arithmetic progression modulo
// M, so a cursor and a skip per backend walk it on the fly: O(N + M) memory.
// The cursor never exceeds M < 2^32 and skip < M, so cursor + skip fits in u32
// and one conditional subtraction replaces the modulo.

import { murmur3x64_128, murmurH1, murmurH2 } from "../hash/murmur3";
import { OK, ERR_CAPACITY, ERR_DUPLICATE_KEY, ERR_RESERVED_ID, ERR_TABLE_SIZE, ERR_TABLE_TOO_SMALL } from "../errors";
import {
  keys, keyStart, keyEnd, ids, weights, table, order, mergeScratch, cursor, skip, counter,
  backendCapacity, tableCapacity,
} from "./buffers";
import { compareKeys, sortByKey } from "./sort";

/** The value of a table slot that no backend has taken yet. */
export const EMPTY_SLOT: u32 = 0xffffffff;

// @ts-ignore: decorator
@inline
function at(base: usize, i: u32): usize {
  return base + ((<usize>i) << 2);
}

/**
 * Builds the table for the `n` backends in the input buffers into `table`.
 * `m` is the table size (the host has checked it is prime); `seed` is the
 * murmur seed (bytes 0-3 of the 12-byte hash seed, big-endian).
 * Returns OK or one of the ERR_* codes; on error `table` is unspecified.
 */
export function buildTable(n: u32, m: u32, seed: u32): i32 {
  if (n > backendCapacity || m > tableCapacity) return ERR_CAPACITY;
  if (m < 2) return ERR_TABLE_SIZE;
  if (n == 0) return OK;
  if (m <= n) return ERR_TABLE_TOO_SMALL;

  const sorted = sortByKey(n);
  // Whichever of the two sort buffers does not hold the result is free: it
  // takes the IDs in sorted order so the fill loop reads them directly.
  const idsBySlot: usize = sorted == order ? mergeScratch : order;

  const m64 = <u64>m;
  let weightSum: u64 = 0;
  for (let s: u32 = 0; s < n; s++) {
    const b = load<u32>(at(sorted, s));
    if (s > 0 && compareKeys(load<u32>(at(sorted, s - 1)), b) == 0) return ERR_DUPLICATE_KEY;
    const id = load<u32>(at(ids, b));
    if (id == EMPTY_SLOT) return ERR_RESERVED_ID;

    const start = keyStart(b);
    murmur3x64_128(keys + start, keyEnd(b) - start, seed);
    store<u32>(at(cursor, s), <u32>(murmurH1 % m64));
    store<u32>(at(skip, s), <u32>(murmurH2 % (m64 - 1) + 1));

    const w = load<u32>(at(weights, b));
    weightSum += <u64>w;
    store<f64>(counter + ((<usize>s) << 3), <f64>w / <f64>n);
  }
  // Written after the checks above, which still read through `sorted`.
  for (let s: u32 = 0; s < n; s++) {
    store<u32>(at(idsBySlot, s), load<u32>(at(ids, load<u32>(at(sorted, s)))));
  }

  memory.fill(table, 0xff, (<usize>m) << 2);
  if (weightSum / <u64>n > 1) {
    fillWeighted(n, m, sorted, idsBySlot, weightSum);
  } else {
    fillRoundRobin(n, m, idsBySlot);
  }
  return OK;
}

/**
 * Takes the next free slot of sorted backend `s` in its permutation.
 * `slots` is the table address, passed in so the probe loop keeps it in a
 * local instead of re-reading the global on every probe.
 */
// @ts-ignore: decorator
@inline
function takeSlot(slots: usize, s: u32, m: u32, id: u32): void {
  const cur = at(cursor, s);
  const step = load<u32>(at(skip, s));
  let c = load<u32>(cur);
  while (load<u32>(at(slots, c)) != EMPTY_SLOT) {
    // `select` keeps the wrap branch-free: as an `if`, V8 emits a jump that
    // mispredicts on about half the probes (measured: 1.28x C instead of 1.1x).
    c = wrap(c + step, m);
  }
  store<u32>(at(slots, c), id);
  store<u32>(cur, wrap(c + step, m));
}

/** `c mod m` for `c < 2m`, without a branch. */
// @ts-ignore: decorator
@inline
function wrap(c: u32, m: u32): u32 {
  return select<u32>(c - m, c, c >= m);
}

/** The classic Maglev fill: backends take turns in sorted order. */
function fillRoundRobin(n: u32, m: u32, idsBySlot: usize): void {
  const slots = table;
  let s: u32 = 0;
  for (let turn: u32 = 0; turn < m; turn++) {
    takeSlot(slots, s, m, load<u32>(at(idsBySlot, s)));
    if (++s == n) s = 0;
  }
}

/** Cilium's weighted fill: a backend cedes its turn while it is ahead of its weight. */
function fillWeighted(n: u32, m: u32, sorted: usize, idsBySlot: usize, weightSum: u64): void {
  const sumF = <f64>weightSum;
  const slots = table;
  for (let turn: u32 = 0; turn < m; turn++) {
    let s: u32 = turn % n;
    const next = <u64>turn + 1;
    // Terminates: summed over all backends, (n+1)*w exceeds the counters.
    while (true) {
      const w = <u64>load<u32>(at(weights, load<u32>(at(sorted, s))));
      const cnt = counter + ((<usize>s) << 3);
      const c = load<f64>(cnt);
      if (next * w < <u64>c) {
        if (++s == n) s = 0;
        continue;
      }
      store<f64>(cnt, c + sumF);
      break;
    }
    takeSlot(slots, s, m, load<u32>(at(idsBySlot, s)));
  }
}
