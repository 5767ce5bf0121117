// Sorts backend indexes by their key strings in byte order.
//
// Cilium sorts backends by key (Go's `sort.Strings`, a byte-wise comparison)
// before building, so that every node builds the same table whatever order
// its backends arrived in. A stable bottom-up merge sort keeps this O(n log n)
// with no recursion and no allocation (it alternates between `order` and
// `mergeScratch`).

import { keys, keyStart, keyEnd, order, mergeScratch } from "./buffers";

/** Byte-order comparison of keys `a` and `b`: negative, zero or positive. */
export function compareKeys(a: u32, b: u32): i32 {
  const aStart = keyStart(a);
  const bStart = keyStart(b);
  const aLen = keyEnd(a) - aStart;
  const bLen = keyEnd(b) - bStart;
  const common = aLen < bLen ? aLen : bLen;
  const c = memory.compare(keys + aStart, keys + bStart, common);
  if (c != 0) return c;
  // A proper prefix sorts first, as in Go and C's strcmp.
  return <i32>aLen - <i32>bLen;
}

/**
 * Leaves the indexes 0..n-1 in `order` sorted by key. Returns the address of
 * the sorted array (either `order` or `mergeScratch`).
 */
export function sortByKey(n: u32): usize {
  let src = order;
  let dst = mergeScratch;
  for (let i: u32 = 0; i < n; i++) store<u32>(src + ((<usize>i) << 2), i);

  for (let width: u32 = 1; width < n; width <<= 1) {
    for (let lo: u32 = 0; lo < n; lo += width << 1) {
      const mid = min<u32>(lo + width, n);
      const hi = min<u32>(lo + (width << 1), n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        const a = load<u32>(src + ((<usize>i) << 2));
        const b = load<u32>(src + ((<usize>j) << 2));
        // `<= 0` takes from the left run on ties: stable.
        if (compareKeys(a, b) <= 0) {
          store<u32>(dst + ((<usize>k) << 2), a);
          i++;
        } else {
          store<u32>(dst + ((<usize>k) << 2), b);
          j++;
        }
        k++;
      }
      for (; i < mid; i++, k++) store<u32>(dst + ((<usize>k) << 2), load<u32>(src + ((<usize>i) << 2)));
      for (; j < hi; j++, k++) store<u32>(dst + ((<usize>k) << 2), load<u32>(src + ((<usize>j) << 2)));
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}
