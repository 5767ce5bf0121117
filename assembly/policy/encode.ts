// Turns what the rules say about one (subject, direction, peer) into
// longest-prefix-match entries.
//
// The datapath looks up the peer's entries and the wildcard peer's (0)
// entries, each by longest prefix over (protocol, port), and takes the higher
// level of the two. Within one peer's entries the longest match must
// therefore already be the maximum of every contribution covering that
// (protocol, port). The encoding guarantees it:
//
//   * contributions for every protocol (L3-only) give one entry, prefix 0,
//     at their maximum level `base`;
//   * per protocol, the port space is cut at every range boundary, each piece
//     takes the maximum level covering it (and `base`), equal neighbours
//     merge, and only pieces above `base` are written, each as the few
//     power-of-two aligned blocks that tile it (prefix 8 + k).
//
// So a deny on 80-90 with an allow on 85 yields deny blocks covering 80-90
// and no allow entry at all; an L3 deny with a port allow yields the L3 deny
// alone. The entry count is minimal for the LPM form.

import { Contribution, LEVEL_NONE } from "./model";
import { packKey, PREFIX_ANY, PREFIX_PROTO } from "./keys";

/** Output of `encode`: keys and their levels, in parallel. */
export class Encoded {
  keys: Array<u64> = new Array<u64>();
  levels: Array<u8> = new Array<u8>();

  push(key: u64, level: u8): void {
    this.keys.push(key);
    this.levels.push(level);
  }
}

function byProto(a: Contribution, b: Contribution): i32 {
  return <i32>a.proto - <i32>b.proto;
}

function ascending(a: u32, b: u32): i32 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Appends the entries for `contribs` of (`peer`, `egress`) to `out`. */
export function encode(peer: u32, egress: bool, contribs: Array<Contribution>, out: Encoded): void {
  let base: u8 = LEVEL_NONE;
  for (let i = 0; i < contribs.length; i++) {
    const c = unchecked(contribs[i]);
    if (c.proto == 0 && c.level > base) base = c.level;
  }
  if (base != LEVEL_NONE) out.push(packKey(peer, egress, 0, 0, PREFIX_ANY), base);

  const sorted = contribs.slice(0);
  sorted.sort(byProto);
  let i = 0;
  while (i < sorted.length) {
    const proto = unchecked(sorted[i]).proto;
    let j = i;
    while (j < sorted.length && unchecked(sorted[j]).proto == proto) j++;
    if (proto != 0) encodeProtocol(peer, egress, proto, sorted, i, j, base, out);
    i = j;
  }
}

/** Encodes contributions [from, to) of `sorted`, all of protocol `proto`. */
function encodeProtocol(
  peer: u32, egress: bool, proto: u32, sorted: Array<Contribution>, from: i32, to: i32, base: u8, out: Encoded,
): void {
  // Cut points: every range start and every range end + 1.
  const cuts = new Array<u32>();
  for (let k = from; k < to; k++) {
    const c = unchecked(sorted[k]);
    if (c.level <= base) continue;
    cuts.push(c.lo);
    cuts.push(c.hi + 1);
  }
  if (cuts.length == 0) return;
  cuts.sort(ascending);

  let runStart: u32 = 0;
  let runLevel: u8 = LEVEL_NONE;
  let runOpen = false;
  for (let p = 0; p < cuts.length - 1; p++) {
    const lo = unchecked(cuts[p]);
    const next = unchecked(cuts[p + 1]);
    if (next == lo) continue;
    let level: u8 = base;
    for (let k = from; k < to; k++) {
      const c = unchecked(sorted[k]);
      if (c.lo <= lo && c.hi >= lo && c.level > level) level = c.level;
    }
    // Extend the current run, or close it and open a new one.
    if (runOpen && level == runLevel) continue;
    if (runOpen && runLevel > base) emitBlocks(peer, egress, proto, runStart, lo - 1, runLevel, out);
    runStart = lo;
    runLevel = level;
    runOpen = true;
  }
  const last = unchecked(cuts[cuts.length - 1]);
  if (runOpen && runLevel > base) emitBlocks(peer, egress, proto, runStart, last - 1, runLevel, out);
}

/** Tiles ports [lo, hi] with aligned power-of-two blocks. */
function emitBlocks(peer: u32, egress: bool, proto: u32, lo: u32, hi: u32, level: u8, out: Encoded): void {
  let a = lo;
  while (a <= hi) {
    // Largest block that starts at `a` (alignment) and ends by `hi`.
    let size: u32 = a == 0 ? 0x10000 : a & -a;
    while (a + size - 1 > hi) size >>= 1;
    const bits = 16 - <u32>ctz(size);
    out.push(packKey(peer, egress, proto, a, PREFIX_PROTO + bits), level);
    a += size;
    if (a > 0xffff) break;
  }
}
