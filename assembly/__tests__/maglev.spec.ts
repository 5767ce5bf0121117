// Internals of the Maglev builder: key ordering, and the on-the-fly
// permutation walk against the permutation matrix that Cilium materialises.
import * as buffers from "../maglev/buffers";
import { compareKeys, sortByKey } from "../maglev/sort";
import { buildTable, EMPTY_SLOT } from "../maglev/table";
import { murmur3x64_128, murmurH1, murmurH2 } from "../hash/murmur3";
import { OK, ERR_DUPLICATE_KEY, ERR_RESERVED_ID, ERR_TABLE_TOO_SMALL, ERR_CAPACITY } from "../errors";

/** Writes backends into the engine's buffers: keys, ids and weights. */
function loadBackends(keys: string[], ids: u32[], weights: u32[], m: u32): void {
  let total: u32 = 0;
  const encoded = new Array<ArrayBuffer>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    encoded[i] = String.UTF8.encode(keys[i]);
    total += <u32>encoded[i].byteLength;
  }
  buffers.reserve(<u32>keys.length, total, m);
  let offset: u32 = 0;
  for (let i = 0; i < keys.length; i++) {
    const len = <u32>encoded[i].byteLength;
    memory.copy(buffers.keys + offset, changetype<usize>(encoded[i]), len);
    offset += len;
    store<u32>(buffers.keyEnds + (<usize>i << 2), offset);
    store<u32>(buffers.ids + (<usize>i << 2), ids[i]);
    store<u32>(buffers.weights + (<usize>i << 2), weights[i]);
  }
}

function tableAt(i: u32): u32 {
  return load<u32>(buffers.table + (<usize>i << 2));
}

/** Cilium's construction, literally: an N x M permutation matrix. */
function referenceTable(keys: string[], ids: u32[], m: u32, seed: u32): StaticArray<u32> {
  // Sort by key the slow way: selection by byte comparison of UTF-8.
  const n = keys.length;
  const idx = new Array<i32>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (keys[idx[j]] < keys[idx[i]]) {
        const t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
      }
    }
  }
  const perm = new StaticArray<u64>(n * m);
  for (let i = 0; i < n; i++) {
    const buf = String.UTF8.encode(keys[idx[i]]);
    murmur3x64_128(changetype<usize>(buf), <usize>buf.byteLength, seed);
    const offset = murmurH1 % <u64>m;
    const skip = murmurH2 % <u64>(m - 1) + 1;
    for (let j: u32 = 0; j < m; j++) perm[i * m + j] = (offset + <u64>j * skip) % <u64>m;
  }
  const next = new StaticArray<u32>(n);
  const entry = new StaticArray<u32>(m);
  for (let j: u32 = 0; j < m; j++) entry[j] = EMPTY_SLOT;
  for (let t: u32 = 0; t < m; t++) {
    const i = <i32>(t % <u32>n);
    let c = <u32>perm[i * m + next[i]];
    while (entry[c] != EMPTY_SLOT) {
      next[i]++;
      c = <u32>perm[i * m + next[i]];
    }
    entry[c] = ids[idx[i]];
    next[i]++;
  }
  return entry;
}

describe("compareKeys", () => {
  test("orders by bytes, a proper prefix first", () => {
    loadBackends(["b", "a", "ab", "B"], [0, 1, 2, 3], [1, 1, 1, 1], 7);
    expect(compareKeys(1, 0)).toBeLessThan(0);
    expect(compareKeys(1, 2)).toBeLessThan(0);
    expect(compareKeys(3, 1)).toBeLessThan(0); // 'B' (0x42) before 'a' (0x61)
    expect(compareKeys(2, 2)).toBe(0);
  });
});

describe("sortByKey", () => {
  test("sorts indexes by key for odd and even counts", () => {
    const keys = ["10.0.0.9:80", "10.0.0.10:80", "10.0.0.1:80", "[fd00::1]:80", "10.0.0.2:80"];
    loadBackends(keys, [0, 1, 2, 3, 4], [1, 1, 1, 1, 1], 7);
    const sorted = sortByKey(5);
    // Byte order, not numeric: "10.0.0.10:80" sorts before "10.0.0.1:80"
    // because '0' (0x30) is below ':' (0x3a).
    const expected: u32[] = [1, 2, 4, 0, 3];
    for (let i = 0; i < 5; i++) expect(load<u32>(sorted + (<usize>i << 2))).toBe(expected[i]);
  });
});

describe("buildTable", () => {
  test("matches the permutation-matrix construction", () => {
    const keys: string[] = [];
    const ids: u32[] = [];
    const weights: u32[] = [];
    for (let i = 0; i < 13; i++) {
      keys.push("[10.1." + i.toString() + ".7:8080/TCP,State:active]");
      ids.push(<u32>(100 + i * 3));
      weights.push(1);
    }
    const m: u32 = 1021;
    loadBackends(keys, ids, weights, m);
    expect(buildTable(13, m, 0x24b7ef82)).toBe(OK);
    const reference = referenceTable(keys, ids, m, 0x24b7ef82);
    let mismatches = 0;
    for (let j: u32 = 0; j < m; j++) if (tableAt(j) != reference[j]) mismatches++;
    expect(mismatches).toBe(0);
  });

  test("fills every slot", () => {
    loadBackends(["a", "b", "c"], [7, 8, 9], [1, 1, 1], 251);
    expect(buildTable(3, 251, 1)).toBe(OK);
    for (let j: u32 = 0; j < 251; j++) expect(tableAt(j)).not.toBe(EMPTY_SLOT);
  });

  test("rejects duplicate keys, the reserved ID and too small a table", () => {
    loadBackends(["a", "a"], [1, 2], [1, 1], 7);
    expect(buildTable(2, 7, 0)).toBe(ERR_DUPLICATE_KEY);
    loadBackends(["a", "b"], [1, EMPTY_SLOT], [1, 1], 7);
    expect(buildTable(2, 7, 0)).toBe(ERR_RESERVED_ID);
    loadBackends(["a", "b", "c"], [1, 2, 3], [1, 1, 1], 3);
    expect(buildTable(3, 3, 0)).toBe(ERR_TABLE_TOO_SMALL);
  });

  test("refuses to read past reserved capacity", () => {
    expect(buildTable(buffers.backendCapacity + 1, 7, 0)).toBe(ERR_CAPACITY);
  });

  test("a weight-0 backend keeps exactly one slot", () => {
    loadBackends(["a", "b", "c"], [1, 2, 3], [0, 10, 10], 251);
    expect(buildTable(3, 251, 0)).toBe(OK);
    let zeroSlots = 0;
    for (let j: u32 = 0; j < 251; j++) if (tableAt(j) == 1) zeroSlots++;
    expect(zeroSlots).toBe(1);
  });
});
