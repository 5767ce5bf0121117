// The identity allocator's core: candidates, probing, reference counts,
// ranges, exhaustion and restore.
import {
  allocate, candidate, configure, count, countIn, find, inRange, keyOf, lastCreated, lastFreed, lastId,
  listIds, refsOf, release, reset, restore, IDENTITY_SEED, LOCAL_SCOPE_FLAG, SCOPE_CLUSTER, SCOPE_LOCAL,
} from "../identity/allocator";
import { keyOut, listOut } from "../identity/buffers";
import { murmur3x64_128, murmurH1 } from "../hash/murmur3";
import {
  OK, ERR_IDENTITY_CONFLICT, ERR_IDENTITY_EXHAUSTED, ERR_IDENTITY_NOT_ALLOCATED, ERR_IDENTITY_RANGE, ERR_IDENTITY_REFS,
} from "../errors";

function alloc(scope: u32, key: string): i32 {
  const buf = String.UTF8.encode(key);
  return allocate(scope, changetype<usize>(buf), <usize>buf.byteLength);
}

function allocId(scope: u32, key: string): u32 {
  expect(alloc(scope, key)).toBe(OK);
  return lastId;
}

function findKey(key: string): u32 {
  const buf = String.UTF8.encode(key);
  return find(changetype<usize>(buf), <usize>buf.byteLength);
}

function candidateOf(scope: u32, key: string): u32 {
  const buf = String.UTF8.encode(key);
  return candidate(scope, changetype<usize>(buf), <usize>buf.byteLength);
}

function restoreKey(scope: u32, id: u32, refs: u32, key: string): i32 {
  const buf = String.UTF8.encode(key);
  return restore(scope, id, refs, changetype<usize>(buf), <usize>buf.byteLength);
}

function keyText(id: u32): string {
  const len = keyOf(id);
  if (len < 0) return "<none>";
  return String.UTF8.decodeUnsafe(keyOut, <usize>len);
}

function defaults(): void {
  expect(configure(0, 256, 0xffff, 1, 0xffffff)).toBe(OK);
}

/** Keys "k8s:app=<i>;" until one whose candidate equals `target`. */
function keyWithCandidate(scope: u32, target: u32, skip: string): string {
  for (let i = 0; i < 100000; i++) {
    const key = "k8s:app=" + i.toString() + ";";
    if (key != skip && candidateOf(scope, key) == target) return key;
  }
  return "";
}

describe("identity candidates", () => {
  test("the first candidate is min + murmur3 h1 % size, with the fixed seed", () => {
    defaults();
    const key = "k8s:app=web;k8s:io.kubernetes.pod.namespace=default;";
    const buf = String.UTF8.encode(key);
    murmur3x64_128(changetype<usize>(buf), <usize>buf.byteLength, IDENTITY_SEED);
    const expected = 256 + <u32>(murmurH1 % <u64>(0xffff - 256 + 1));
    expect(candidateOf(SCOPE_CLUSTER, key)).toBe(expected);
    expect(allocId(SCOPE_CLUSTER, key)).toBe(expected);
    expect(lastCreated).toBe(true);
  });

  test("the cluster ID goes in bits 16..23, CIDR identities carry 1 << 24", () => {
    expect(configure(7, 0, 0xffff, 1, 0xffffff)).toBe(OK);
    const id = allocId(SCOPE_CLUSTER, "k8s:app=a;");
    expect(id >> 16).toBe(7);
    const local = allocId(SCOPE_LOCAL, "cidr:10.0.0.0/8=;reserved:world=;");
    expect(local & 0xff000000).toBe(LOCAL_SCOPE_FLAG);
    expect(local & 0xffffff).toBeGreaterThanOrEqual(1);
  });

  test("the same calls give the same numbers after a reset", () => {
    defaults();
    const a = allocId(SCOPE_CLUSTER, "k8s:app=a;");
    const b = allocId(SCOPE_CLUSTER, "k8s:app=b;");
    reset();
    expect(allocId(SCOPE_CLUSTER, "k8s:app=a;")).toBe(a);
    expect(allocId(SCOPE_CLUSTER, "k8s:app=b;")).toBe(b);
  });
});

describe("identity probing", () => {
  test("a taken candidate moves to the next free number", () => {
    defaults();
    const first = allocId(SCOPE_CLUSTER, "k8s:app=0;");
    const other = keyWithCandidate(SCOPE_CLUSTER, first, "k8s:app=0;");
    expect(other).not.toBe("");
    const second = allocId(SCOPE_CLUSTER, other);
    expect(second).toBe(first == 0xffff ? 256 : first + 1);
    // Once the first is freed, a new key with that candidate takes it back.
    expect(release(first)).toBe(OK);
    expect(lastFreed).toBe(true);
    const third = keyWithCandidate(SCOPE_CLUSTER, first, other);
    expect(allocId(SCOPE_CLUSTER, third)).toBe(first);
    // The displaced key keeps its number.
    expect(findKey(other)).toBe(second);
  });

  test("probing wraps from the top of the range to the bottom", () => {
    expect(configure(0, 256, 259, 1, 3)).toBe(OK);
    const top = keyWithCandidate(SCOPE_CLUSTER, 259, "");
    expect(allocId(SCOPE_CLUSTER, top)).toBe(259);
    const next = keyWithCandidate(SCOPE_CLUSTER, 259, top);
    expect(next).not.toBe("");
    expect(allocId(SCOPE_CLUSTER, next)).toBe(256);
  });
});

describe("identity reference counts", () => {
  test("allocate adds a reference, release drops one, zero frees", () => {
    defaults();
    const id = allocId(SCOPE_CLUSTER, "k8s:app=web;");
    expect(lastCreated).toBe(true);
    expect(allocId(SCOPE_CLUSTER, "k8s:app=web;")).toBe(id);
    expect(lastCreated).toBe(false);
    expect(refsOf(id)).toBe(2);
    expect(release(id)).toBe(OK);
    expect(lastFreed).toBe(false);
    expect(refsOf(id)).toBe(1);
    expect(findKey("k8s:app=web;")).toBe(id);
    expect(release(id)).toBe(OK);
    expect(lastFreed).toBe(true);
    expect(refsOf(id)).toBe(0);
    expect(findKey("k8s:app=web;")).toBe(0);
    expect(count()).toBe(0);
  });

  test("releasing an unknown number fails and changes nothing", () => {
    defaults();
    const id = allocId(SCOPE_CLUSTER, "k8s:app=web;");
    expect(release(id + 1 == 0x10000 ? 256 : id + 1)).toBe(ERR_IDENTITY_NOT_ALLOCATED);
    expect(release(2)).toBe(ERR_IDENTITY_NOT_ALLOCATED);
    expect(refsOf(id)).toBe(1);
  });

  test("a key live in one scope cannot be allocated in the other", () => {
    defaults();
    allocId(SCOPE_LOCAL, "reserved:world=;reserved:health=;");
    expect(alloc(SCOPE_CLUSTER, "reserved:world=;reserved:health=;")).toBe(ERR_IDENTITY_CONFLICT);
    expect(alloc(2, "k8s:app=x;")).toBe(ERR_IDENTITY_RANGE);
  });
});

describe("identity ranges", () => {
  test("configure rejects bad clusters and ranges and keeps the old settings", () => {
    expect(configure(256, 0, 0xffff, 1, 10)).toBe(ERR_IDENTITY_RANGE);
    expect(configure(0, 255, 0xffff, 1, 10)).toBe(ERR_IDENTITY_RANGE);
    expect(configure(1, 0, 0xffff, 1, 10)).toBe(OK);
    expect(configure(0, 300, 299, 1, 10)).toBe(ERR_IDENTITY_RANGE);
    expect(configure(0, 256, 0x10000, 1, 10)).toBe(ERR_IDENTITY_RANGE);
    expect(configure(0, 256, 300, 0, 10)).toBe(ERR_IDENTITY_RANGE);
    expect(configure(0, 256, 300, 1, 0x1000000)).toBe(ERR_IDENTITY_RANGE);
    expect(inRange(SCOPE_CLUSTER, (1 << 16) | 5)).toBe(true);
  });

  test("inRange checks cluster bits, scope tag and bounds", () => {
    expect(configure(3, 100, 200, 5, 50)).toBe(OK);
    expect(inRange(SCOPE_CLUSTER, (3 << 16) | 100)).toBe(true);
    expect(inRange(SCOPE_CLUSTER, (3 << 16) | 201)).toBe(false);
    expect(inRange(SCOPE_CLUSTER, (2 << 16) | 150)).toBe(false);
    expect(inRange(SCOPE_LOCAL, LOCAL_SCOPE_FLAG | 5)).toBe(true);
    expect(inRange(SCOPE_LOCAL, LOCAL_SCOPE_FLAG | 4)).toBe(false);
    expect(inRange(SCOPE_LOCAL, (2 << 24) | 10)).toBe(false);
    expect(inRange(9, 10)).toBe(false);
  });

  test("a full range is exhausted: no wrap, no reuse of live numbers", () => {
    expect(configure(0, 256, 260, 1, 2)).toBe(OK);
    const seen = new Set<u32>();
    for (let i = 0; i < 5; i++) {
      const id = allocId(SCOPE_CLUSTER, "k8s:app=" + i.toString() + ";");
      expect(id).toBeGreaterThanOrEqual(256);
      expect(id).toBeLessThanOrEqual(260);
      expect(seen.has(id)).toBe(false);
      seen.add(id);
    }
    expect(countIn(SCOPE_CLUSTER)).toBe(5);
    expect(alloc(SCOPE_CLUSTER, "k8s:app=5;")).toBe(ERR_IDENTITY_EXHAUSTED);
    expect(lastId).toBe(0);
    // Known keys still get their number.
    expect(alloc(SCOPE_CLUSTER, "k8s:app=0;")).toBe(OK);
    // The local range is separate.
    allocId(SCOPE_LOCAL, "cidr:10.0.0.0/8=;reserved:world=;");
    allocId(SCOPE_LOCAL, "cidr:10.0.0.0/9=;reserved:world=;");
    expect(alloc(SCOPE_LOCAL, "cidr:10.0.0.0/10=;reserved:world=;")).toBe(ERR_IDENTITY_EXHAUSTED);
    // Freeing one number makes room for exactly one new key.
    const freed = findKey("k8s:app=3;");
    expect(release(freed)).toBe(OK);
    expect(allocId(SCOPE_CLUSTER, "k8s:app=5;")).toBe(freed);
    expect(alloc(SCOPE_CLUSTER, "k8s:app=6;")).toBe(ERR_IDENTITY_EXHAUSTED);
  });
});

describe("identity restore and listing", () => {
  test("restore re-creates exact numbers and counts, and rejects conflicts", () => {
    expect(configure(0, 256, 0xffff, 1, 0xffffff)).toBe(OK);
    expect(restoreKey(SCOPE_CLUSTER, 1000, 3, "k8s:app=a;")).toBe(OK);
    expect(refsOf(1000)).toBe(3);
    expect(findKey("k8s:app=a;")).toBe(1000);
    expect(restoreKey(SCOPE_CLUSTER, 1000, 1, "k8s:app=b;")).toBe(ERR_IDENTITY_CONFLICT);
    expect(restoreKey(SCOPE_CLUSTER, 1001, 1, "k8s:app=a;")).toBe(ERR_IDENTITY_CONFLICT);
    expect(restoreKey(SCOPE_CLUSTER, 100, 1, "k8s:app=b;")).toBe(ERR_IDENTITY_RANGE);
    expect(restoreKey(SCOPE_LOCAL, 1001, 1, "k8s:app=b;")).toBe(ERR_IDENTITY_RANGE);
    expect(restoreKey(SCOPE_CLUSTER, 1001, 0, "k8s:app=b;")).toBe(ERR_IDENTITY_REFS);
    expect(allocId(SCOPE_CLUSTER, "k8s:app=a;")).toBe(1000);
    expect(refsOf(1000)).toBe(4);
  });

  test("keyOf returns the key bytes; listIds is ascending", () => {
    defaults();
    const ids = new Array<u32>();
    for (let i = 0; i < 50; i++) ids.push(allocId(SCOPE_CLUSTER, "k8s:app=" + i.toString() + ";"));
    ids.push(allocId(SCOPE_LOCAL, "cidr:10.0.0.0/8=;reserved:world=;"));
    expect(keyText(ids[7])).toBe("k8s:app=7;");
    expect(keyText(ids[50])).toBe("cidr:10.0.0.0/8=;reserved:world=;");
    expect(keyOf(3)).toBe(-1);
    release(ids[10]);
    const n = listIds();
    expect(n).toBe(50);
    let previous: u32 = 0;
    for (let i: u32 = 0; i < n; i++) {
      const id = load<u32>(listOut + (<usize>i << 2));
      expect(id).toBeGreaterThan(previous);
      expect(refsOf(id)).toBe(1);
      previous = id;
    }
    expect(previous).toBe(ids[50]);
  });

  test("keys are UTF-8 byte strings", () => {
    defaults();
    const id = allocId(SCOPE_CLUSTER, "container:name=café;");
    expect(keyText(id)).toBe("container:name=café;");
    expect(findKey("container:name=cafe;")).toBe(0);
  });
});
