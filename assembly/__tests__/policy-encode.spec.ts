// The LPM encoding of contributions: exact entries for hand-worked cases, and
// a randomized property (deterministic LCG) that the longest-prefix match of
// the encoded entries is the maximum level of every covering contribution.
import { encode, Encoded } from "../policy/encode";
import {
  Contribution, LEVEL_NONE, LEVEL_ALLOW_PROXY, LEVEL_ALLOW, LEVEL_NOT_ENFORCED, LEVEL_DENY,
} from "../policy/model";
import { packKey } from "../policy/keys";

const ICMP: u32 = 1;
const TCP: u32 = 6;
const UDP: u32 = 17;
const ICMPV6: u32 = 58;

function c(proto: u32, lo: u32, hi: u32, level: u8): Contribution {
  return new Contribution(proto, lo, hi, level);
}

function run(contribs: Array<Contribution>, peer: u32 = 0, egress: bool = false): Encoded {
  const out = new Encoded();
  encode(peer, egress, contribs, out);
  return out;
}

// Key fields, decoded independently of keys.ts.
function kPeer(key: u64): u32 { return <u32>(key >> 32); }
function kEgress(key: u64): u32 { return <u32>((key >> 31) & 1); }
function kProto(key: u64): u32 { return <u32>((key >> 23) & 0xff); }
function kPort(key: u64): u32 { return <u32>((key >> 7) & 0xffff); }
function kPrefix(key: u64): u32 { return <u32>((key >> 2) & 0x1f); }

/** The key written out by hand: peer | E | proto | port | prefix | 00. */
function key(peer: u32, egress: bool, proto: u32, port: u32, prefix: u32): u64 {
  return ((<u64>peer) << 32) | ((<u64>(egress ? 1 : 0)) << 31) | ((<u64>proto) << 23) | ((<u64>port) << 7) | ((<u64>prefix) << 2);
}

/** Level of `k` in `enc`, or -1 when absent. */
function levelOf(enc: Encoded, k: u64): i32 {
  let found: i32 = -1;
  for (let i = 0; i < enc.keys.length; i++) {
    if (enc.keys[i] == k) {
      expect(found).toBe(-1, "duplicate key in encoding");
      found = <i32>enc.levels[i];
    }
  }
  return found;
}

/** `enc` holds exactly the entries (`keys`, `levels`), in any order. */
function expectEntries(enc: Encoded, keys: u64[], levels: u8[]): void {
  expect(enc.keys.length).toBe(keys.length, "entry count");
  expect(enc.levels.length).toBe(enc.keys.length, "keys and levels in parallel");
  for (let i = 0; i < keys.length; i++) {
    expect(levelOf(enc, keys[i])).toBe(<i32>levels[i], "entry " + i.toString());
  }
}

/** Mask of the port bits a proto entry of `prefix` fixes. */
function portMask(prefix: u32): u32 {
  const bits = prefix - 8;
  return bits == 0 ? 0 : (<u32>0xffff << (16 - bits)) & 0xffff;
}

let ambiguous = false;

/** The datapath's lookup within one peer's entries: level of the longest match, 0 when none. */
function lpm(enc: Encoded, proto: u32, port: u32): u8 {
  let best: i32 = -1;
  let level: u8 = LEVEL_NONE;
  for (let i = 0; i < enc.keys.length; i++) {
    const k = enc.keys[i];
    const prefix = kPrefix(k);
    let hit = false;
    if (prefix == 0) hit = true;
    else if (kProto(k) == proto) {
      const m = portMask(prefix);
      hit = (port & m) == (kPort(k) & m);
    }
    if (!hit) continue;
    if (<i32>prefix > best) {
      best = <i32>prefix;
      level = enc.levels[i];
    } else if (<i32>prefix == best) {
      ambiguous = true;
    }
  }
  return level;
}

/** What the lookup must answer: max(base, every contribution covering (proto, port)). */
function expected(contribs: Array<Contribution>, proto: u32, port: u32): u8 {
  let level: u8 = LEVEL_NONE;
  for (let i = 0; i < contribs.length; i++) {
    const x = contribs[i];
    const covers = x.proto == 0 || (x.proto == proto && x.lo <= port && port <= x.hi);
    if (covers && x.level > level) level = x.level;
  }
  return level;
}

describe("encode: hand-worked entries", () => {
  test("the level order these cases assume (model.ts)", () => {
    // The cases below lean on this order; if model.ts reorders levels,
    // revisit them here first.
    expect(LEVEL_NONE).toBe(0);
    expect(LEVEL_NOT_ENFORCED).toBeGreaterThan(LEVEL_NONE);
    expect(LEVEL_ALLOW_PROXY).toBeGreaterThan(LEVEL_NOT_ENFORCED);
    expect(LEVEL_ALLOW).toBeGreaterThan(LEVEL_ALLOW_PROXY);
    expect(LEVEL_DENY).toBeGreaterThan(LEVEL_ALLOW);
  });

  test("no contributions, no entries", () => {
    expectEntries(run([]), [], []);
  });

  test("a single port is one entry of prefix 24", () => {
    const enc = run([c(TCP, 443, 443, LEVEL_ALLOW)], 0, false);
    expectEntries(enc, [key(0, false, TCP, 443, 24)], [LEVEL_ALLOW]);
    // and the packing is the one keys.ts documents
    expect(enc.keys[0]).toBe(packKey(0, false, TCP, 443, 24));
    expect(kPrefix(enc.keys[0])).toBe(24);
    expect(kPort(enc.keys[0])).toBe(443);
    expect(kProto(enc.keys[0])).toBe(TCP);
  });

  test("peer and direction land in the key", () => {
    const enc = run([c(UDP, 53, 53, LEVEL_ALLOW_PROXY)], 0xdeadbeef, true);
    expectEntries(enc, [key(0xdeadbeef, true, UDP, 53, 24)], [LEVEL_ALLOW_PROXY]);
    expect(kPeer(enc.keys[0])).toBe(0xdeadbeef);
    expect(kEgress(enc.keys[0])).toBe(1);
    expect(<u32>(enc.keys[0] & 3)).toBe(0, "low two bits are zero");
  });

  test("ports 80-90 tile as 80/21 (80-87), 88/23 (88-89), 90/24", () => {
    // 80 = 0b1010000 is 16-aligned, but 80..95 passes 90; 80..87 (size 8,
    // 16 - 3 = 13 port bits, prefix 21) fits. 88 is 8-aligned: 88..95 and
    // 88..91 pass 90, 88..89 (size 2, prefix 23) fits. 90 is left: prefix 24.
    const enc = run([c(TCP, 80, 90, LEVEL_ALLOW)]);
    expectEntries(
      enc,
      [key(0, false, TCP, 80, 21), key(0, false, TCP, 88, 23), key(0, false, TCP, 90, 24)],
      [LEVEL_ALLOW, LEVEL_ALLOW, LEVEL_ALLOW],
    );
  });

  test("ports 81-94 tile as 81/24, 82/23, 84/22, 88/22, 92/23, 94/24", () => {
    // 81 odd: size 1. 82 = 2-aligned: 82..83. 84 = 4-aligned: 84..87 (84..91
    // would need 8-alignment). 88 = 8-aligned: 88..95 passes 94, 88..91 fits.
    // 92 = 4-aligned: 92..95 passes, 92..93 fits. 94: 94..95 passes, 94 alone.
    const enc = run([c(TCP, 81, 94, LEVEL_DENY)]);
    expectEntries(
      enc,
      [
        key(0, false, TCP, 81, 24), key(0, false, TCP, 82, 23), key(0, false, TCP, 84, 22),
        key(0, false, TCP, 88, 22), key(0, false, TCP, 92, 23), key(0, false, TCP, 94, 24),
      ],
      [LEVEL_DENY, LEVEL_DENY, LEVEL_DENY, LEVEL_DENY, LEVEL_DENY, LEVEL_DENY],
    );
  });

  test("the whole port space 0-65535 is the protocol entry, prefix 8", () => {
    const enc = run([c(TCP, 0, 0xffff, LEVEL_ALLOW)]);
    expectEntries(enc, [key(0, false, TCP, 0, 8)], [LEVEL_ALLOW]);
  });

  test("aligned halves and the top port", () => {
    // 32768-65535 is the upper half: one bit of port, prefix 9.
    expectEntries(run([c(TCP, 32768, 0xffff, LEVEL_ALLOW)]), [key(0, false, TCP, 32768, 9)], [LEVEL_ALLOW]);
    // 0-32767 the lower half.
    expectEntries(run([c(UDP, 0, 32767, LEVEL_ALLOW)]), [key(0, false, UDP, 0, 9)], [LEVEL_ALLOW]);
    // 65535 alone, and 65534-65535.
    expectEntries(run([c(TCP, 0xffff, 0xffff, LEVEL_DENY)]), [key(0, false, TCP, 0xffff, 24)], [LEVEL_DENY]);
    expectEntries(run([c(TCP, 0xfffe, 0xffff, LEVEL_DENY)]), [key(0, false, TCP, 0xfffe, 23)], [LEVEL_DENY]);
    // port 0 alone
    expectEntries(run([c(TCP, 0, 0, LEVEL_ALLOW)]), [key(0, false, TCP, 0, 24)], [LEVEL_ALLOW]);
  });

  test("1-65535 is sixteen blocks 1/24, 2/23, 4/22 ... 32768/9", () => {
    const keys = new Array<u64>();
    const levels = new Array<u8>();
    for (let k: u32 = 0; k < 16; k++) {
      keys.push(key(0, false, TCP, <u32>1 << k, 24 - k));
      levels.push(LEVEL_ALLOW);
    }
    expectEntries(run([c(TCP, 1, 0xffff, LEVEL_ALLOW)]), keys, levels);
  });

  test("0-65534 is sixteen blocks 0/9, 32768/10 ... 65534/24", () => {
    const keys = new Array<u64>();
    const levels = new Array<u8>();
    let start: u32 = 0;
    for (let k: u32 = 0; k < 16; k++) {
      // block k has size 2^(15-k) and prefix 8 + k + 1
      keys.push(key(0, false, TCP, start, 9 + k));
      levels.push(LEVEL_ALLOW);
      start += <u32>1 << (15 - k);
    }
    expect(start).toBe(0xffff);
    expectEntries(run([c(TCP, 0, 0xfffe, LEVEL_ALLOW)]), keys, levels);
  });

  test("an L3-only contribution is one prefix-0 entry", () => {
    const enc = run([c(0, 0, 0xffff, LEVEL_ALLOW)], 42, true);
    expectEntries(enc, [key(42, true, 0, 0, 0)], [LEVEL_ALLOW]);
    expect(kPrefix(enc.keys[0])).toBe(0);
  });

  test("several L3-only contributions: one entry at their maximum", () => {
    const enc = run([c(0, 0, 0xffff, LEVEL_ALLOW_PROXY), c(0, 0, 0xffff, LEVEL_ALLOW), c(0, 0, 0xffff, LEVEL_NOT_ENFORCED)]);
    expectEntries(enc, [key(0, false, 0, 0, 0)], [LEVEL_ALLOW]);
    // the maximum wherever it sits in the list
    expectEntries(run([c(0, 0, 0xffff, LEVEL_DENY), c(0, 0, 0xffff, LEVEL_ALLOW)]), [key(0, false, 0, 0, 0)], [LEVEL_DENY]);
  });

  test("a deny range over an allowed port: deny blocks only, no allow inside", () => {
    const enc = run([c(TCP, 85, 85, LEVEL_ALLOW), c(TCP, 80, 90, LEVEL_DENY)]);
    expectEntries(
      enc,
      [key(0, false, TCP, 80, 21), key(0, false, TCP, 88, 23), key(0, false, TCP, 90, 24)],
      [LEVEL_DENY, LEVEL_DENY, LEVEL_DENY],
    );
    expect(levelOf(enc, key(0, false, TCP, 85, 24))).toBe(-1);
  });

  test("an allowed range with a denied port inside: allow on both sides, deny on the port", () => {
    // 80-84 allow: 80/22 (80-83), 84/24. 85 deny: 85/24.
    // 86-90 allow: 86/23 (86-87), 88/23 (88-89), 90/24.
    const enc = run([c(TCP, 80, 90, LEVEL_ALLOW), c(TCP, 85, 85, LEVEL_DENY)]);
    expectEntries(
      enc,
      [
        key(0, false, TCP, 80, 22), key(0, false, TCP, 84, 24), key(0, false, TCP, 85, 24),
        key(0, false, TCP, 86, 23), key(0, false, TCP, 88, 23), key(0, false, TCP, 90, 24),
      ],
      [LEVEL_ALLOW, LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW, LEVEL_ALLOW, LEVEL_ALLOW],
    );
  });

  test("overlapping and adjacent ranges of one level merge before tiling", () => {
    // 80-83 and 84-87 (adjacent), 82-85 (overlapping): one run 80-87 = 80/21.
    const enc = run([c(TCP, 80, 83, LEVEL_ALLOW), c(TCP, 84, 87, LEVEL_ALLOW), c(TCP, 82, 85, LEVEL_ALLOW)]);
    expectEntries(enc, [key(0, false, TCP, 80, 21)], [LEVEL_ALLOW]);
  });

  test("a proxy redirect under a plain allow is the allow", () => {
    const enc = run([c(TCP, 80, 80, LEVEL_ALLOW_PROXY), c(TCP, 80, 81, LEVEL_ALLOW)]);
    expectEntries(enc, [key(0, false, TCP, 80, 23)], [LEVEL_ALLOW]);
  });

  test("protocols are encoded separately", () => {
    const enc = run([c(UDP, 53, 53, LEVEL_ALLOW), c(TCP, 53, 53, LEVEL_DENY), c(TCP, 443, 443, LEVEL_ALLOW)]);
    expectEntries(
      enc,
      [key(0, false, UDP, 53, 24), key(0, false, TCP, 53, 24), key(0, false, TCP, 443, 24)],
      [LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW],
    );
  });

  test("contributions at or below the L3 base produce nothing", () => {
    // L3 allow: a port allow and a proxy redirect add nothing.
    expectEntries(
      run([c(TCP, 80, 80, LEVEL_ALLOW_PROXY), c(0, 0, 0xffff, LEVEL_ALLOW), c(TCP, 443, 443, LEVEL_ALLOW), c(UDP, 0, 0xffff, LEVEL_ALLOW)]),
      [key(0, false, 0, 0, 0)],
      [LEVEL_ALLOW],
    );
    // An L3 deny alone survives a port allow.
    expectEntries(run([c(TCP, 80, 80, LEVEL_ALLOW), c(0, 0, 0xffff, LEVEL_DENY)]), [key(0, false, 0, 0, 0)], [LEVEL_DENY]);
    // An L3 proxy redirect hides a port proxy redirect and a not-enforced marker.
    expectEntries(
      run([c(TCP, 8080, 8080, LEVEL_ALLOW_PROXY), c(0, 0, 0xffff, LEVEL_ALLOW_PROXY), c(0, 0, 0xffff, LEVEL_NOT_ENFORCED)]),
      [key(0, false, 0, 0, 0)],
      [LEVEL_ALLOW_PROXY],
    );
    // Not enforced (the lowest level) keeps every port entry above it.
    expectEntries(
      run([c(0, 0, 0xffff, LEVEL_NOT_ENFORCED), c(TCP, 80, 80, LEVEL_ALLOW), c(TCP, 53, 53, LEVEL_ALLOW_PROXY), c(TCP, 22, 22, LEVEL_DENY)]),
      [key(0, false, 0, 0, 0), key(0, false, TCP, 80, 24), key(0, false, TCP, 53, 24), key(0, false, TCP, 22, 24)],
      [LEVEL_NOT_ENFORCED, LEVEL_ALLOW, LEVEL_ALLOW_PROXY, LEVEL_DENY],
    );
  });

  test("above the base, the port entries keep their own level", () => {
    // L3 proxy redirect (the base) with a TCP 80 allow above it and 1000-1001 also proxied (not above: nothing).
    expectEntries(
      run([c(0, 0, 0xffff, LEVEL_ALLOW_PROXY), c(TCP, 80, 80, LEVEL_ALLOW), c(TCP, 1000, 1001, LEVEL_ALLOW_PROXY)]),
      [key(0, false, 0, 0, 0), key(0, false, TCP, 80, 24)],
      [LEVEL_ALLOW_PROXY, LEVEL_ALLOW],
    );
  });

  test("a port deny above an allow base; a proxy inside it, below the base, adds nothing", () => {
    // base allow; TCP 10-20 deny; 15 proxy (below base: ignored).
    // 10-20: 10/23 (10-11), 12/22 (12-15), 16/22 (16-19), 20/24.
    expectEntries(
      run([c(0, 0, 0xffff, LEVEL_ALLOW), c(TCP, 10, 20, LEVEL_DENY), c(TCP, 15, 15, LEVEL_ALLOW_PROXY)]),
      [key(0, false, 0, 0, 0), key(0, false, TCP, 10, 23), key(0, false, TCP, 12, 22), key(0, false, TCP, 16, 22), key(0, false, TCP, 20, 24)],
      [LEVEL_ALLOW, LEVEL_DENY, LEVEL_DENY, LEVEL_DENY, LEVEL_DENY],
    );
  });

  test("ICMP type rides in the port field", () => {
    // ICMP echo request (8) and ICMPv6 echo request (128): one port each.
    const enc = run([c(ICMP, 8, 8, LEVEL_ALLOW), c(ICMPV6, 128, 128, LEVEL_DENY)], 7, true);
    expectEntries(enc, [key(7, true, ICMP, 8, 24), key(7, true, ICMPV6, 128, 24)], [LEVEL_ALLOW, LEVEL_DENY]);
    expect(lpm(enc, ICMP, 8)).toBe(LEVEL_ALLOW);
    expect(lpm(enc, ICMP, 0)).toBe(LEVEL_NONE);
    expect(lpm(enc, ICMPV6, 128)).toBe(LEVEL_DENY);
    expect(lpm(enc, ICMPV6, 8)).toBe(LEVEL_NONE);
  });

  test("appends to an existing output", () => {
    const out = new Encoded();
    encode(1, false, [c(TCP, 80, 80, LEVEL_ALLOW)], out);
    encode(1, true, [c(TCP, 80, 80, LEVEL_DENY)], out);
    expectEntries(out, [key(1, false, TCP, 80, 24), key(1, true, TCP, 80, 24)], [LEVEL_ALLOW, LEVEL_DENY]);
  });

  test("does not reorder the caller's contributions", () => {
    const contribs = [c(UDP, 1, 1, LEVEL_ALLOW), c(TCP, 2, 2, LEVEL_ALLOW), c(ICMP, 3, 3, LEVEL_ALLOW)];
    run(contribs);
    expect(contribs[0].proto).toBe(UDP);
    expect(contribs[1].proto).toBe(TCP);
    expect(contribs[2].proto).toBe(ICMP);
  });
});

// ---------------------------------------------------------------------------
// Property: random contribution sets.

let seed: u32 = 0x2545f491;

function rand(n: u32): u32 {
  seed = seed * 1664525 + 1013904223;
  return (seed >>> 8) % n;
}

const PROTOS: u32[] = [TCP, UDP, ICMP];
const PROBE_PROTOS: u32[] = [TCP, UDP, ICMP, 132];

function randomContribution(): Contribution {
  const level = <u8>(1 + rand(<u32>LEVEL_DENY)); // every level above none
  if (rand(10) == 0) return c(0, 0, 0xffff, level);
  const proto = PROTOS[rand(PROTOS.length)];
  const kind = rand(10);
  let lo: u32;
  let hi: u32;
  if (kind < 4) {
    // small ranges, crowded together so they overlap
    lo = rand(128);
    hi = lo + rand(40);
  } else if (kind < 6) {
    lo = rand(160);
    hi = lo;
  } else if (kind == 6) {
    lo = 0;
    hi = 0xffff;
  } else if (kind == 7) {
    lo = 0xffff - rand(80);
    hi = lo + rand(0x10000 - lo);
  } else {
    lo = rand(0x10000);
    hi = lo + rand(0x10000 - lo);
  }
  return c(proto, lo, hi, level);
}

/** Adds a port to the probe list when it is in range. */
function probe(ports: Array<u32>, p: i64): void {
  if (p >= 0 && p <= 0xffff) ports.push(<u32>p);
}

// Reference encoding, by another route: paint every port, find maximal runs
// of one level above the base, and cover each run by descending the binary
// trie of port prefixes (the canonical minimal aligned-block cover).
const painted = new StaticArray<u8>(0x10000);

function cover(peer: u32, egress: bool, proto: u32, lo: u32, hi: u32, start: u32, size: u32, level: u8, ref: Map<u64, u8>): void {
  const end = start + size - 1;
  if (hi < start || lo > end) return;
  if (lo <= start && end <= hi) {
    ref.set(key(peer, egress, proto, start, 8 + 16 - <u32>ctz(size)), level);
    return;
  }
  const half = size >> 1;
  cover(peer, egress, proto, lo, hi, start, half, level, ref);
  cover(peer, egress, proto, lo, hi, start + half, half, level, ref);
}

function reference(peer: u32, egress: bool, contribs: Array<Contribution>): Map<u64, u8> {
  const ref = new Map<u64, u8>();
  let base: u8 = LEVEL_NONE;
  for (let i = 0; i < contribs.length; i++) if (contribs[i].proto == 0 && contribs[i].level > base) base = contribs[i].level;
  if (base != LEVEL_NONE) ref.set(key(peer, egress, 0, 0, 0), base);
  for (let pi = 0; pi < PROBE_PROTOS.length; pi++) {
    const proto = PROBE_PROTOS[pi];
    for (let p = 0; p < 0x10000; p++) unchecked((painted[p] = base));
    for (let i = 0; i < contribs.length; i++) {
      const x = contribs[i];
      if (x.proto != proto) continue;
      for (let p = x.lo; p <= x.hi; p++) if (x.level > unchecked(painted[p])) unchecked((painted[p] = x.level));
    }
    let p: u32 = 0;
    while (p < 0x10000) {
      const level = unchecked(painted[p]);
      let q = p;
      while (q + 1 < 0x10000 && unchecked(painted[q + 1]) == level) q++;
      if (level > base) cover(peer, egress, proto, p, q, 0, 0x10000, level, ref);
      p = q + 1;
    }
  }
  return ref;
}

let failures = 0;
let firstFailure = "";

/** Records a failed check without going through `expect` (kept out of the hot loops). */
function check(ok: bool, what: string, round: i32): void {
  if (ok) return;
  if (failures == 0) firstFailure = "round " + round.toString() + ": " + what;
  failures++;
}

describe("encode: randomized properties", () => {
  test("the longest prefix match is the maximum of every covering contribution", () => {
    seed = 0x2545f491;
    failures = 0;
    firstFailure = "";
    let probes = 0;
    const ports = new Array<u32>();
    for (let round = 0; round < 400; round++) {
      const n = <i32>rand(7);
      const contribs = new Array<Contribution>();
      for (let i = 0; i < n; i++) contribs.push(randomContribution());
      const peer = rand(3);
      const egress = rand(2) == 1;
      const enc = run(contribs, peer, egress);

      // well-formed keys: this peer and direction, canonical (masked) ports,
      // prefix 0 only for the protocol-less entry, no duplicates
      check(enc.levels.length == enc.keys.length, "keys and levels in parallel", round);
      for (let i = 0; i < enc.keys.length; i++) {
        const k = enc.keys[i];
        check(kPeer(k) == peer, "peer", round);
        check(kEgress(k) == (egress ? 1 : 0), "direction", round);
        check((k & 3) == 0, "low bits", round);
        const prefix = kPrefix(k);
        if (prefix == 0) {
          check(kProto(k) == 0 && kPort(k) == 0, "prefix 0 has no protocol or port", round);
        } else {
          check(prefix >= 8 && prefix <= 24, "prefix in 8..24", round);
          check(kProto(k) != 0, "protocol entry names a protocol", round);
          check((kPort(k) & ~portMask(prefix) & 0xffff) == 0, "port bits below the prefix are zero", round);
        }
        check(enc.levels[i] > LEVEL_NONE, "level above none", round);
        for (let j = 0; j < i; j++) check(enc.keys[j] != k, "duplicate key", round);
      }

      // probe ports: both ends of the space, around every boundary, random ones
      ports.length = 0;
      probe(ports, 0);
      probe(ports, 1);
      probe(ports, 0xfffe);
      probe(ports, 0xffff);
      for (let i = 0; i < contribs.length; i++) {
        const x = contribs[i];
        probe(ports, <i64>x.lo - 1);
        probe(ports, <i64>x.lo);
        probe(ports, <i64>x.lo + 1);
        probe(ports, <i64>x.hi - 1);
        probe(ports, <i64>x.hi);
        probe(ports, <i64>x.hi + 1);
        probe(ports, (<i64>x.lo + <i64>x.hi) >> 1);
      }
      for (let i = 0; i < 24; i++) probe(ports, rand(200));
      for (let i = 0; i < 8; i++) probe(ports, rand(0x10000));

      for (let pi = 0; pi < PROBE_PROTOS.length; pi++) {
        const proto = PROBE_PROTOS[pi];
        for (let i = 0; i < ports.length; i++) {
          const port = ports[i];
          ambiguous = false;
          const got = lpm(enc, proto, port);
          if (ambiguous) check(false, "two entries of one prefix match proto " + proto.toString() + " port " + port.toString(), round);
          const want = expected(contribs, proto, port);
          if (got != want) {
            check(false, "proto " + proto.toString() + " port " + port.toString() + ": got " + got.toString() + ", want " + want.toString(), round);
          }
          probes++;
        }
      }
    }
    expect(firstFailure).toBe("");
    expect(failures).toBe(0);
    expect(probes).toBeGreaterThan(10000);
  });

  test("the entries are exactly the minimal aligned cover of each run above the base", () => {
    seed = 0x9e3779b9;
    failures = 0;
    firstFailure = "";
    let entries = 0;
    for (let round = 0; round < 200; round++) {
      const n = <i32>rand(7);
      const contribs = new Array<Contribution>();
      for (let i = 0; i < n; i++) contribs.push(randomContribution());
      const peer = rand(1000);
      const egress = rand(2) == 1;
      const enc = run(contribs, peer, egress);
      const ref = reference(peer, egress, contribs);
      check(enc.keys.length == ref.size, "entry count " + enc.keys.length.toString() + ", want " + ref.size.toString(), round);
      for (let i = 0; i < enc.keys.length; i++) {
        const k = enc.keys[i];
        if (!ref.has(k)) check(false, "unexpected entry port " + kPort(k).toString() + "/" + kPrefix(k).toString(), round);
        else check(enc.levels[i] == ref.get(k), "level of port " + kPort(k).toString() + "/" + kPrefix(k).toString(), round);
      }
      entries += enc.keys.length;
    }
    expect(firstFailure).toBe("");
    expect(failures).toBe(0);
    expect(entries).toBeGreaterThan(1000);
  });
});
