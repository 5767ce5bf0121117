/**
 * Known answers from Cilium's own Maglev tests (`pkg/maglev/maglev_test.go`):
 * the same backends and seed must give the same table, slot for slot.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createMaglev, type MaglevBackend } from "../src/index.js";

/** Cilium's `mkAddr(i)`: IPv4 address i, port i, TCP. */
const mkAddr = (i: number, id: number, weight: number): MaglevBackend => ({
  id,
  address: `${(i >>> 24) & 255}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
  port: i % 65535,
  protocol: "TCP",
  weight,
});

const runLength = (table: Uint32Array): string => {
  const runs: string[] = [];
  for (let i = 0; i < table.length; ) {
    let j = i;
    while (j < table.length && table[j] === table[i]) j++;
    runs.push(`${table[i]}(${j - i})`);
    i = j;
  }
  return runs.join(",");
};

test("TestReproducible: M=251, default seed, weights 2/13/111/10", async () => {
  const expected =
    "2(5),3(1),2(3),1(1),2(2),0(1),2(1),3(1),2(1),3(1),2(1),1(1),2(7),1(1),2(14),3(1),2(1)," +
    "1(2),2(12),3(1),2(3),1(1),2(4),3(1),2(8),3(1),2(2),1(1),2(16),1(2),2(3),3(1),2(11),1(2),2(4),3(1),2(3)," +
    "1(1),2(4),3(1),2(1),0(1),1(1),2(8),1(1),2(7),1(1),2(4),3(1),2(1),3(1),2(9),1(2),2(5),1(1),2(7),3(1),2(1)," +
    "3(1),1(1),2(8),1(1),2(4),0(1),2(1),1(1),2(5),3(1),2(3),1(1),2(4),3(1),2(3),1(1),2(12),0(1),3(1),2(3),3(1)," +
    "2(4),3(1),2(2),1(1),2(7)";
  const maglev = await createMaglev({ tableSize: 251 });
  const backends = [mkAddr(1, 0, 2), mkAddr(3, 1, 13), mkAddr(4, 2, 111), mkAddr(5, 3, 10)];
  const table = maglev.build(backends);
  assert.equal(runLength(table), expected);
  assert.deepEqual([...maglev.stats(table).slotsPerBackend], [[0, 4], [1, 24], [2, 204], [3, 19]]);
  assert.deepEqual(maglev.build([...backends].reverse()), table);
});

test("TestWeightedBackendWithRemoval: M=1021 slot counts and removal", async () => {
  const maglev = await createMaglev({ tableSize: 1021, onWarning: () => {} });
  const backends = [mkAddr(1, 1, 2), mkAddr(2, 2, 13), mkAddr(3, 3, 111), mkAddr(4, 4, 10)];
  const before = maglev.build(backends);
  assert.deepEqual([...maglev.stats(before).slotsPerBackend], [[1, 16], [2, 98], [3, 832], [4, 75]]);

  const after = maglev.build(backends.slice(1));
  const diff = maglev.compare(before, after);
  assert.ok(after.every((id) => id === 2 || id === 3 || id === 4));
  // Cilium asserts under 1% of slots moved between backends that stayed.
  assert.ok(diff.changedFromRemainingFraction < 0.01, `moved ${diff.changedFromRemainingFraction}`);
});

test("TestBackendRemoval: M=1021, three backends, one removed", async () => {
  const maglev = await createMaglev({ tableSize: 1021 });
  const backends = [mkAddr(1, 1, 1), mkAddr(2, 2, 1), mkAddr(3, 3, 1)];
  const before = maglev.build(backends);
  const after = maglev.build(backends.slice(0, 2));
  for (let i = 0; i < before.length; i++) {
    if (before[i] === 3) assert.ok(after[i] === 1 || after[i] === 2);
  }
  assert.ok(maglev.compare(before, after).changedFromRemainingFraction < 0.01);
});

test("key strings are Cilium's in both formats", async () => {
  const modern = await createMaglev();
  const legacy = await createMaglev({ keyFormat: "cilium-legacy" });
  const cases: Array<[MaglevBackend, string, string]> = [
    [{ id: 1, address: "10.0.0.1", port: 8080, protocol: "TCP" }, "[10.0.0.1:8080/TCP,State:active]", "10.0.0.1:8080"],
    [
      { id: 1, address: "FD00:0:0::1", port: 443, protocol: "udp", scope: "internal" },
      "[[fd00::1]:443/UDP/i,State:active]",
      "[fd00::1]:443/i",
    ],
    [{ id: 1, address: "10.0.0.5", port: 80, protocol: "TCP", clusterId: 3 }, "[10.0.0.5@3:80/TCP,State:active]", "10.0.0.5@3:80"],
    [{ id: 1, address: "fd00::5", port: 80, protocol: "SCTP", clusterId: 7 }, "[[fd00::5@7]:80/SCTP,State:active]", "[fd00::5@7]:80"],
    [{ id: 1, address: "10.1.2.3", port: 0, protocol: "ANY" }, "[10.1.2.3:0/ANY,State:active]", "10.1.2.3:0"],
  ];
  for (const [backend, modernKey, legacyKey] of cases) {
    assert.equal(modern.keyOf(backend), modernKey);
    assert.equal(legacy.keyOf(backend), legacyKey);
  }
});
