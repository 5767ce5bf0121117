// Templates: the peer-less entries of a (subject, peer) pair, sorted by the
// low 32 bits of the key, and the diff of two templates into emitted
// additions (four words each) and collected removals.
import { Encoded } from "../policy/encode";
import { LEVEL_ALLOW_PROXY, LEVEL_ALLOW, LEVEL_NOT_ENFORCED, LEVEL_DENY } from "../policy/model";
import {
  diffTemplates, emitTemplate, EMPTY_TEMPLATE, Removals, sameTemplate, Template, templateFrom,
} from "../policy/template";
import { outputAddress, outputWords, resetOutput } from "../policy/stream";

const ICMP: u32 = 1;
const TCP: u32 = 6;
const UDP: u32 = 17;

/** A key by hand: peer | E | proto | port | prefix | 00. */
function key(peer: u32, egress: bool, proto: u32, port: u32, prefix: u32): u64 {
  return ((<u64>peer) << 32) | ((<u64>(egress ? 1 : 0)) << 31) | ((<u64>proto) << 23) | ((<u64>port) << 7) | ((<u64>prefix) << 2);
}

function low(peer: u32, egress: bool, proto: u32, port: u32, prefix: u32): u32 {
  return <u32>key(peer, egress, proto, port, prefix);
}

function encoded(keys: u64[], levels: u8[]): Encoded {
  const enc = new Encoded();
  for (let i = 0; i < keys.length; i++) enc.push(keys[i], levels[i]);
  return enc;
}

function template(lows: u32[], levels: u8[]): Template {
  const l = new StaticArray<u32>(lows.length);
  const v = new StaticArray<u8>(levels.length);
  for (let i = 0; i < lows.length; i++) l[i] = lows[i];
  for (let i = 0; i < levels.length; i++) v[i] = levels[i];
  return new Template(l, v);
}

function word(i: u32): u32 {
  return load<u32>(outputAddress() + (<usize>i << 2));
}

/** Output entry `n` is (peer, egress, proto, prefix, port, level). */
function expectEmitted(n: u32, peer: u32, egress: bool, proto: u32, port: u32, prefix: u32, level: u8): void {
  const at = n * 4;
  expect(word(at)).toBe(peer, "peer of entry " + n.toString());
  expect(word(at + 1)).toBe((egress ? 1 : 0) | (proto << 8) | (prefix << 16), "egress|proto|prefix of entry " + n.toString());
  expect(word(at + 2)).toBe(port, "port of entry " + n.toString());
  expect(word(at + 3)).toBe(<u32>level, "level of entry " + n.toString());
}

// Five entries of one peer, named in low-key order:
//   L3   ingress, any protocol       prefix 0        low 0
//   T443 ingress TCP 443/24
//   U53  ingress UDP 53/24           (17 << 23 > 6 << 23)
//   E80w egress TCP 80/21            (egress bit 31: after every ingress key)
//   E80  egress TCP 80/24            (same port, longer prefix: after 80/21)
const L3 = low(0, false, 0, 0, 0);
const T443 = low(0, false, TCP, 443, 24);
const U53 = low(0, false, UDP, 53, 24);
const E80W = low(0, true, TCP, 80, 21);
const E80 = low(0, true, TCP, 80, 24);

describe("templateFrom", () => {
  test("nothing encoded is the shared empty template", () => {
    const t = templateFrom(new Encoded());
    expect(t == EMPTY_TEMPLATE).toBe(true);
    expect(t.size).toBe(0);
  });

  test("the key order above is unsigned low-key order", () => {
    expect(L3).toBe(0);
    expect(L3 < T443).toBe(true);
    expect(T443 < U53).toBe(true);
    expect(U53 < E80W).toBe(true);
    expect(E80W < E80).toBe(true);
    expect(E80W >= 0x80000000).toBe(true);
  });

  test("sorts by the low key and keeps each level with its key", () => {
    // encoded out of order, with distinct levels to follow them
    const t = templateFrom(encoded(
      [key(7, true, TCP, 80, 24), key(7, false, UDP, 53, 24), key(7, false, 0, 0, 0), key(7, true, TCP, 80, 21), key(7, false, TCP, 443, 24)],
      [LEVEL_DENY, LEVEL_ALLOW_PROXY, LEVEL_NOT_ENFORCED, LEVEL_ALLOW, LEVEL_ALLOW_PROXY],
    ));
    expect(t.size).toBe(5);
    expect(t.levels.length).toBe(5);
    expect(t.lows[0]).toBe(L3);
    expect(t.levels[0]).toBe(LEVEL_NOT_ENFORCED);
    expect(t.lows[1]).toBe(T443);
    expect(t.levels[1]).toBe(LEVEL_ALLOW_PROXY);
    expect(t.lows[2]).toBe(U53);
    expect(t.levels[2]).toBe(LEVEL_ALLOW_PROXY);
    expect(t.lows[3]).toBe(E80W);
    expect(t.levels[3]).toBe(LEVEL_ALLOW);
    expect(t.lows[4]).toBe(E80);
    expect(t.levels[4]).toBe(LEVEL_DENY);
  });

  test("drops the peer: only the low 32 bits order and remain", () => {
    // peer 1's key sorts after peer 0xffffffff's: the peer does not count
    const t = templateFrom(encoded(
      [key(1, false, TCP, 443, 24), key(0xffffffff, false, 0, 0, 0)],
      [LEVEL_ALLOW, LEVEL_DENY],
    ));
    expect(t.size).toBe(2);
    expect(t.lows[0]).toBe(L3);
    expect(t.levels[0]).toBe(LEVEL_DENY);
    expect(t.lows[1]).toBe(T443);
    expect(t.levels[1]).toBe(LEVEL_ALLOW);
  });

  test("sorts a long reversed and a long shuffled input", () => {
    const keys = new Array<u64>();
    const levels = new Array<u8>();
    for (let p: u32 = 0; p < 60; p++) {
      keys.push(key(3, p % 2 == 0, TCP, 1000 - p, 24));
      levels.push(<u8>(1 + (p % 4)));
    }
    // a deterministic shuffle of indexes: multiply by 37 mod 61 (prime)
    const shuffledKeys = new Array<u64>();
    const shuffledLevels = new Array<u8>();
    for (let i = 1; i <= 60; i++) {
      const j = (i * 37) % 61 - 1;
      shuffledKeys.push(keys[j]);
      shuffledLevels.push(levels[j]);
    }
    const inputs = [encoded(keys, levels), encoded(shuffledKeys, shuffledLevels)];
    for (let n = 0; n < inputs.length; n++) {
      const t = templateFrom(inputs[n]);
      expect(t.size).toBe(60);
      let unordered = 0;
      let misaligned = 0;
      for (let i = 0; i < 60; i++) {
        if (i > 0 && t.lows[i - 1] >= t.lows[i]) unordered++;
        // find the level the key came with
        for (let k = 0; k < 60; k++) {
          if (<u32>keys[k] == t.lows[i] && levels[k] != t.levels[i]) misaligned++;
        }
      }
      expect(unordered).toBe(0);
      expect(misaligned).toBe(0);
      // first: ingress (odd p), port 941 (p = 59); last: egress (even p), port 1000 (p = 0)
      expect(t.lows[0]).toBe(low(0, false, TCP, 941, 24));
      expect(t.lows[59]).toBe(low(0, true, TCP, 1000, 24));
    }
  });

  test("does not disturb the encoded entries", () => {
    const enc = encoded([key(7, false, UDP, 53, 24), key(7, false, 0, 0, 0)], [LEVEL_ALLOW, LEVEL_DENY]);
    templateFrom(enc);
    expect(enc.keys[0]).toBe(key(7, false, UDP, 53, 24));
    expect(enc.levels[0]).toBe(LEVEL_ALLOW);
    expect(enc.keys[1]).toBe(key(7, false, 0, 0, 0));
    expect(enc.levels[1]).toBe(LEVEL_DENY);
  });
});

describe("sameTemplate", () => {
  test("itself", () => {
    const t = template([L3, T443], [LEVEL_ALLOW, LEVEL_DENY]);
    expect(sameTemplate(t, t)).toBe(true);
    expect(sameTemplate(EMPTY_TEMPLATE, EMPTY_TEMPLATE)).toBe(true);
  });

  test("equal contents in different objects", () => {
    expect(sameTemplate(template([L3, T443], [LEVEL_ALLOW, LEVEL_DENY]), template([L3, T443], [LEVEL_ALLOW, LEVEL_DENY]))).toBe(true);
    expect(sameTemplate(template([], []), EMPTY_TEMPLATE)).toBe(true);
  });

  test("a different size, key or level", () => {
    const t = template([L3, T443, E80], [LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW_PROXY]);
    expect(sameTemplate(t, template([L3, T443], [LEVEL_ALLOW, LEVEL_DENY]))).toBe(false);
    expect(sameTemplate(template([L3, T443], [LEVEL_ALLOW, LEVEL_DENY]), t)).toBe(false);
    expect(sameTemplate(t, EMPTY_TEMPLATE)).toBe(false);
    expect(sameTemplate(EMPTY_TEMPLATE, t)).toBe(false);
    // last key differs
    expect(sameTemplate(t, template([L3, T443, E80W], [LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW_PROXY]))).toBe(false);
    // first key differs
    expect(sameTemplate(t, template([U53, T443, E80], [LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW_PROXY]))).toBe(false);
    // last level differs
    expect(sameTemplate(t, template([L3, T443, E80], [LEVEL_ALLOW, LEVEL_DENY, LEVEL_DENY]))).toBe(false);
    // first level differs
    expect(sameTemplate(t, template([L3, T443, E80], [LEVEL_DENY, LEVEL_DENY, LEVEL_ALLOW_PROXY]))).toBe(false);
  });
});

describe("diffTemplates", () => {
  test("the same template emits and removes nothing", () => {
    const t = template([L3, T443], [LEVEL_ALLOW, LEVEL_DENY]);
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(5, t, t, removed)).toBe(0);
    expect(outputWords()).toBe(0);
    expect(removed.keys.length).toBe(0);
  });

  test("identical contents in different objects emit and remove nothing", () => {
    const before = template([L3, T443, U53, E80W, E80], [LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW, LEVEL_ALLOW_PROXY, LEVEL_DENY]);
    const after = template([L3, T443, U53, E80W, E80], [LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW, LEVEL_ALLOW_PROXY, LEVEL_DENY]);
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(5, before, after, removed)).toBe(0);
    expect(outputWords()).toBe(0);
    expect(removed.keys.length).toBe(0);
    expect(removed.levels.length).toBe(0);
    // and between empties
    expect(diffTemplates(5, EMPTY_TEMPLATE, template([], []), removed)).toBe(0);
    expect(outputWords()).toBe(0);
    expect(removed.keys.length).toBe(0);
  });

  test("from nothing: every entry is emitted, four words each, in key order", () => {
    const after = template([L3, U53, E80], [LEVEL_NOT_ENFORCED, LEVEL_ALLOW, LEVEL_DENY]);
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(0x80000001, EMPTY_TEMPLATE, after, removed)).toBe(3);
    expect(outputWords()).toBe(12);
    expectEmitted(0, 0x80000001, false, 0, 0, 0, LEVEL_NOT_ENFORCED);
    expectEmitted(1, 0x80000001, false, UDP, 53, 24, LEVEL_ALLOW);
    expectEmitted(2, 0x80000001, true, TCP, 80, 24, LEVEL_DENY);
    expect(removed.keys.length).toBe(0);
  });

  test("to nothing: every entry is removed with its peer and level", () => {
    const before = template([T443, E80W], [LEVEL_ALLOW_PROXY, LEVEL_DENY]);
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(0xffffffff, before, EMPTY_TEMPLATE, removed)).toBe(0);
    expect(outputWords()).toBe(0);
    expect(removed.keys.length).toBe(2);
    expect(removed.levels.length).toBe(2);
    expect(removed.keys[0]).toBe(key(0xffffffff, false, TCP, 443, 24));
    expect(removed.levels[0]).toBe(LEVEL_ALLOW_PROXY);
    expect(removed.keys[1]).toBe(key(0xffffffff, true, TCP, 80, 21));
    expect(removed.levels[1]).toBe(LEVEL_DENY);
  });

  test("additions, removals and level changes together", () => {
    //            before           after
    //   L3       ALLOW            -               removed
    //   T443     ALLOW            DENY            changed: emitted at DENY
    //   U53      -                ALLOW_PROXY     added
    //   E80W     DENY             DENY            unchanged
    //   E80      ALLOW_PROXY      -               removed
    //   ICMP 8   -                ALLOW (egress)  added, last
    const I8 = low(0, true, ICMP, 8, 24);
    expect(I8 < E80W).toBe(true); // ICMP (1) sorts before TCP (6) within egress
    const before = template([L3, T443, E80W, E80], [LEVEL_ALLOW, LEVEL_ALLOW, LEVEL_DENY, LEVEL_ALLOW_PROXY]);
    const after = template([T443, U53, I8, E80W], [LEVEL_DENY, LEVEL_ALLOW_PROXY, LEVEL_ALLOW, LEVEL_DENY]);
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(42, before, after, removed)).toBe(3);
    expect(outputWords()).toBe(12);
    expectEmitted(0, 42, false, TCP, 443, 24, LEVEL_DENY);
    expectEmitted(1, 42, false, UDP, 53, 24, LEVEL_ALLOW_PROXY);
    expectEmitted(2, 42, true, ICMP, 8, 24, LEVEL_ALLOW);
    expect(removed.keys.length).toBe(2);
    expect(removed.keys[0]).toBe(key(42, false, 0, 0, 0));
    expect(removed.levels[0]).toBe(LEVEL_ALLOW);
    expect(removed.keys[1]).toBe(key(42, true, TCP, 80, 24));
    expect(removed.levels[1]).toBe(LEVEL_ALLOW_PROXY);
  });

  test("a level change is an emission, not a removal", () => {
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(9, template([E80], [LEVEL_ALLOW]), template([E80], [LEVEL_ALLOW_PROXY]), removed)).toBe(1);
    expect(outputWords()).toBe(4);
    expectEmitted(0, 9, true, TCP, 80, 24, LEVEL_ALLOW_PROXY);
    expect(removed.keys.length).toBe(0);
  });

  test("appends to the output and the removals across peers", () => {
    const a = template([L3], [LEVEL_ALLOW]);
    const b = template([T443], [LEVEL_DENY]);
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(1, a, b, removed)).toBe(1);
    expect(diffTemplates(2, a, b, removed)).toBe(1);
    expect(outputWords()).toBe(8);
    expectEmitted(0, 1, false, TCP, 443, 24, LEVEL_DENY);
    expectEmitted(1, 2, false, TCP, 443, 24, LEVEL_DENY);
    expect(removed.keys.length).toBe(2);
    expect(removed.keys[0]).toBe(key(1, false, 0, 0, 0));
    expect(removed.keys[1]).toBe(key(2, false, 0, 0, 0));
  });

  test("a long diff grows the output stream past its first buffer", () => {
    // 300 entries = 1200 words, past the stream's initial 1024
    const lows = new Array<u32>();
    const levels = new Array<u8>();
    for (let p: u32 = 0; p < 300; p++) {
      lows.push(low(0, false, UDP, 2000 + p, 24));
      levels.push(<u8>(1 + (p % 4)));
    }
    const removed = new Removals();
    resetOutput();
    expect(diffTemplates(11, EMPTY_TEMPLATE, template(lows, levels), removed)).toBe(300);
    expect(outputWords()).toBe(1200);
    let bad = 0;
    for (let p: u32 = 0; p < 300; p++) {
      const at = p * 4;
      if (word(at) != 11 || word(at + 1) != ((UDP << 8) | (24 << 16)) || word(at + 2) != 2000 + p || word(at + 3) != 1 + (p % 4)) bad++;
    }
    expect(bad).toBe(0);
    expect(removed.keys.length).toBe(0);
  });

  test("randomized against a set difference", () => {
    // a pool of 24 sorted lows; each round picks random subsets and levels
    const pool = new Array<u32>();
    for (let i: u32 = 0; i < 12; i++) pool.push(low(0, false, TCP, 100 + i, 24));
    for (let i: u32 = 0; i < 12; i++) pool.push(low(0, true, UDP, 200 + i, 23));
    let seed: u32 = 12345;
    let bad = 0;
    let emittedTotal = 0;
    let removedTotal = 0;
    for (let round = 0; round < 300; round++) {
      const bl = new Array<u32>();
      const bv = new Array<u8>();
      const al = new Array<u32>();
      const av = new Array<u8>();
      const beforeLevel = new StaticArray<u8>(24);
      const afterLevel = new StaticArray<u8>(24);
      for (let i = 0; i < 24; i++) {
        seed = seed * 1664525 + 1013904223;
        const r = seed >>> 8;
        // 0 = absent; 1..4 levels. Bias "same as before" for unchanged entries.
        const b = <u8>(r % 5);
        let a = <u8>((r >> 4) % 5);
        if (((r >> 8) & 1) == 1) a = b;
        beforeLevel[i] = b;
        afterLevel[i] = a;
        if (b != 0) { bl.push(pool[i]); bv.push(b); }
        if (a != 0) { al.push(pool[i]); av.push(a); }
      }
      const removed = new Removals();
      resetOutput();
      const n = diffTemplates(77, template(bl, bv), template(al, av), removed);
      // expected: additions in pool order, removals in pool order
      let e: u32 = 0;
      let rm = 0;
      for (let i = 0; i < 24; i++) {
        const b = beforeLevel[i];
        const a = afterLevel[i];
        const k = (<u64>77 << 32) | <u64>pool[i];
        if (a != 0 && a != b) {
          if (e >= n) { bad++; continue; }
          const at = e * 4;
          const w1 = <u32>((k >> 31) & 1) | (<u32>((k >> 23) & 0xff) << 8) | (<u32>((k >> 2) & 0x1f) << 16);
          if (word(at) != 77 || word(at + 1) != w1 || word(at + 2) != <u32>((k >> 7) & 0xffff) || word(at + 3) != <u32>a) bad++;
          e++;
        }
        if (b != 0 && a == 0) {
          if (rm >= removed.keys.length || removed.keys[rm] != k || removed.levels[rm] != b) bad++;
          rm++;
        }
      }
      if (n != e || outputWords() != e * 4 || removed.keys.length != rm || removed.levels.length != rm) bad++;
      emittedTotal += e;
      removedTotal += rm;
    }
    expect(bad).toBe(0);
    expect(emittedTotal).toBeGreaterThan(500);
    expect(removedTotal).toBeGreaterThan(300);
  });
});

describe("emitTemplate", () => {
  test("emits every entry for the peer, in key order", () => {
    resetOutput();
    emitTemplate(3, template([L3, E80W], [LEVEL_ALLOW, LEVEL_DENY]));
    expect(outputWords()).toBe(8);
    expectEmitted(0, 3, false, 0, 0, 0, LEVEL_ALLOW);
    expectEmitted(1, 3, true, TCP, 80, 21, LEVEL_DENY);
  });
});
