/**
 * The identity allocator's host API: reserved identities, label parsing and
 * Cilium's canonical key, determinism, reference counts, CIDR identities,
 * exhaustion, and snapshot/restore.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { IdentityExhaustedError, InvalidInputError } from "../src/errors.js";
import {
  canonicalKey, cidrLabels, createIdentityAllocator, formatLabel, kvstoreForm, parseCanonicalKey, parseLabel,
  parseLabelSet, RESERVED_IDENTITY, type IdentityAllocator,
} from "../src/identity/index.js";
import { seededRandom } from "./support/seeded-random.js";

const LOCAL = 1 << 24;

/** Asserts `fn` throws an InvalidInputError with `code` whose field is `field`. */
function throwsInput(fn: () => unknown, code: string, field: string, fragment?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.field, field);
    if (fragment) assert.ok(err.message.includes(fragment), `"${err.message}" lacks "${fragment}"`);
    return true;
  });
}


function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const next = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Pod-like label sets: distinct app/namespace pairs, plus per-pod noise the filter drops. */
function podSets(n: number): string[][] {
  return Array.from({ length: n }, (_, i) => [
    `k8s:app=svc-${i % 97}-${Math.floor(i / 97)}`,
    `k8s:io.kubernetes.pod.namespace=ns-${i % 13}`,
    `k8s:pod-template-hash=${(i * 2654435761) >>> 0}`,
  ]);
}

// ---- reserved identities ----------------------------------------------------

test("reserved label sets are Cilium's reserved numbers", async () => {
  const a = await createIdentityAllocator();
  const expected: Array<[string[], number]> = [
    [["reserved:host"], 1],
    [["reserved:world"], 2],
    [["reserved:unmanaged"], 3],
    [["reserved:health"], 4],
    [["reserved:init"], 5],
    [["reserved:remote-node"], 6],
    [["reserved:kube-apiserver"], 7],
    [["reserved:kube-apiserver", "reserved:remote-node"], 7],
    [["reserved:ingress"], 8],
    [["reserved:world-ipv4"], 9],
    [["reserved:world-ipv6"], 10],
    // Cilium's shorthands.
    [["$host"], 1],
    [["reserved.health"], 4],
  ];
  for (const [labels, id] of expected) {
    assert.equal(a.allocate(labels), id, labels.join(","));
    assert.equal(a.idOf(labels), id);
  }
  assert.equal(a.size, 0, "reserved identities are not allocated");
  assert.deepEqual(a.lookup(1), ["reserved:host"]);
  assert.deepEqual(a.lookup(2), ["reserved:world"]);
  assert.deepEqual(a.lookup(7), ["reserved:kube-apiserver", "reserved:remote-node"]);
  assert.deepEqual(a.lookup(10), ["reserved:world-ipv6"]);
  assert.equal(a.lookup(11), undefined);
  assert.equal(a.lookup(0), undefined);
  assert.deepEqual(Object.values(RESERVED_IDENTITY), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test("reserved labels mixed with others follow Cilium's LookupReservedIdentityByLabels", async () => {
  const a = await createIdentityAllocator();
  // The host keeps its identity whatever else it carries.
  assert.equal(a.allocate(["reserved:host", "k8s:node-role=worker"]), 1);
  assert.equal(a.allocate(["reserved:host", "reserved:kube-apiserver"]), 1);
  // Remote nodes, with or without the kube-apiserver label.
  assert.equal(a.allocate(["reserved:remote-node", "k8s:zone=a"]), 6);
  assert.equal(a.allocate(["reserved:remote-node", "reserved:kube-apiserver", "k8s:zone=a"]), 7);
  // Any other mix is an ordinary label set: cluster scope with other labels...
  const mixed = a.allocate(["reserved:world", "k8s:app=web"]);
  assert.ok(mixed >= 256 && mixed <= 0xffff, `got ${mixed}`);
  assert.deepEqual(a.lookup(mixed), ["k8s:app=web", "reserved:world"]);
  // ...node-local scope when only reserved (and cidr) labels remain.
  const local = a.allocate(["reserved:world", "reserved:kube-apiserver"]);
  assert.equal(local & 0xff000000, LOCAL);
  assert.equal(a.size, 2);
  // Releasing a reserved number does nothing.
  a.release(1);
  a.release(7);
  assert.equal(a.allocate(["reserved:world"]), 2);
});

test("a set left empty by the filter is the init identity", async () => {
  const a = await createIdentityAllocator();
  assert.equal(a.allocate([]), RESERVED_IDENTITY.init);
  assert.equal(a.allocate(["k8s:pod-template-hash=abc", "k8s:controller-revision-hash=1"]), 5);
  assert.equal(a.size, 0);
});

// ---- labels and the canonical key -------------------------------------------

test("canonical key: Cilium's SortedList format", () => {
  const cases: Array<[string[], string]> = [
    [["k8s:io.kubernetes.pod.namespace=default", "k8s:app=web"], "k8s:app=web;k8s:io.kubernetes.pod.namespace=default;"],
    [["reserved:world"], "reserved:world=;"],
    [["k8s:foo"], "k8s:foo=;"],
    [["k8s:foo="], "k8s:foo=;"],
    [["app=web"], "unspec:app=web;"],
    [["foo=a=b:c"], "unspec:foo=a=b:c;"],
    [["cidr:10.0.0.0/8", "reserved:world"], "cidr:10.0.0.0/8=;reserved:world=;"],
    // Sorted by key, not by source.
    [["reserved:world", "k8s:zzz=1", "container:aaa=2"], "container:aaa=2;reserved:world=;k8s:zzz=1;"],
    // Byte order: upper case before lower case, '.' before letters.
    [["k8s:b=1", "k8s:B=2", "k8s:a.b=3", "k8s:ab=4"], "k8s:B=2;k8s:a.b=3;k8s:ab=4;k8s:b=1;"],
    // A label given twice counts once.
    [["k8s:app=web", "k8s:app=web"], "k8s:app=web;"],
    [["$host"], "reserved:host=;"],
    [["cidr:2001:db8::1/32"], "cidr:2001-db8--0/32=;"],
  ];
  for (const [labels, key] of cases) assert.equal(canonicalKey(parseLabelSet(labels)), key, labels.join(","));
});

test("labels print as Cilium's Label.String(), without '=' for an empty value", () => {
  assert.equal(formatLabel(parseLabel("k8s:foo")), "k8s:foo");
  assert.equal(formatLabel(parseLabel("k8s:foo=")), "k8s:foo");
  assert.equal(formatLabel(parseLabel("k8s:app=web")), "k8s:app=web");
  assert.equal(formatLabel(parseLabel("app=web")), "unspec:app=web");
  assert.equal(kvstoreForm(parseLabel("reserved:world")), "reserved:world=;");
  assert.deepEqual(parseLabel("container:io.kubernetes.container.name=POD"), {
    source: "container", key: "io.kubernetes.container.name", value: "POD",
  });
  assert.deepEqual(parseCanonicalKey("k8s:app=web;reserved:world=;"), [
    { source: "k8s", key: "app", value: "web" },
    { source: "reserved", key: "world", value: "" },
  ]);
  // Namespace labels and prefixed Kubernetes keys are valid.
  parseLabel("k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default");
  parseLabel("k8s:io.cilium.k8s.namespace.labels.a-namespace-label-name-that-is-sixty-characters-long-xxxxxx=x");
  parseLabel("k8s:app.kubernetes.io/name=cilium-operator");
  parseLabel("container:some-label=with spaces in the value");
});

test("invalid labels are named by index with code INVALID_LABEL", async () => {
  const a = await createIdentityAllocator();
  const cases: Array<[unknown, string]> = [
    ["", "is empty"],
    [42, "must be a string"],
    ["k8s:", "empty key"],
    ["k8s:=x", "empty key"],
    ["K8S:app=x", 'source "K8S"'],
    ["any:app=x", 'source "any"'],
    ["reserved:nothing", "not a reserved identity name"],
    ["reserved:host=1", "no value"],
    ["k8s:app=has space", "value"],
    ["k8s:-app=x", "key name"],
    ["k8s:Example.COM/app=x", "key prefix"],
    [`k8s:${"a".repeat(64)}=x`, "key name"],
    [`k8s:app=${"v".repeat(64)}`, "value"],
    ["container:a;b=c", "';'"],
    ["container:a b=c", "space"],
    ["container:a=b;c", "';'"],
    ["cidr:10.0.0.0/33", "prefix length"],
    ["cidr:10.0.0.0/08", "prefix length"],
    ["cidr:not-an-ip/8", "prefix"],
    ["cidr:10.0.0.0", "prefix"],
    ["cidr:10.0.0.0/8=x", "no value"],
  ];
  for (const [label, fragment] of cases) {
    throwsInput(() => a.allocate(["k8s:app=ok", "k8s:other=ok", label as string]), "INVALID_LABEL", "labels[2]", fragment);
  }
  throwsInput(() => a.allocate(["k8s:app=web", "container:app=web"]), "INVALID_LABEL", "labels[1]", "labels[0]");
  throwsInput(() => a.allocate(["k8s:app=web", "k8s:app=db"]), "INVALID_LABEL", "labels[1]", "same key");
  throwsInput(() => a.allocate(["cidr:10.0.0.0/8", "cidr:10.0.0.0/16"]), "INVALID_LABEL", "labels[1]", "second cidr");
  throwsInput(() => a.allocate(["cidr:10.0.0.0/8", "reserved:world-ipv6"]), "INVALID_LABEL", "labels", "IPv4");
  throwsInput(() => a.allocate("k8s:app=web" as unknown as string[]), "INVALID_LABEL", "labels");
  throwsInput(() => a.idOf(["k8s:app=web", "bad:"]), "INVALID_LABEL", "labels[1]");
  assert.equal(a.size, 0, "nothing was allocated from invalid input");
});

// ---- determinism ------------------------------------------------------------

test("identity numbers are stable across versions (known answers)", async () => {
  // The first candidate is 256 + murmur3_x64_128(key, seed 0x6964656e).h1 % 65280.
  const a = await createIdentityAllocator();
  assert.equal(a.allocate(["k8s:app=web", "k8s:io.kubernetes.pod.namespace=default"]), 24029);
  assert.equal(a.allocateCidr("10.0.0.0/8"), 0x1a4e0c5);
  const b = await createIdentityAllocator({ clusterId: 3 });
  const id = b.allocate(["k8s:app=web", "k8s:io.kubernetes.pod.namespace=default"]);
  assert.equal(id >>> 16, 3);
});

test("two allocators fed the same sequence agree on every number", async () => {
  const sets = podSets(1000);
  const ops = shuffle([...sets.keys(), ...sets.keys()].map((i) => i), 7);
  const run = async (): Promise<number[]> => {
    const a = await createIdentityAllocator();
    const out: number[] = [];
    const live = new Map<number, number>();
    ops.forEach((i, step) => {
      const id = a.allocate(sets[i]!);
      out.push(id);
      live.set(i, id);
      if (step % 5 === 4) a.release(live.get(ops[step - 2]!)!); // interleave releases
    });
    return out;
  };
  assert.deepEqual(await run(), await run());
});

test("allocators fed different orders agree on at least 90% of 1,000 label sets", async (t) => {
  const sets = podSets(1000);
  const a = await createIdentityAllocator();
  const b = await createIdentityAllocator();
  const idsA = new Map(sets.map((s, i) => [i, a.allocate(s)]));
  const idsB = new Map(shuffle([...sets.keys()], 99).map((i) => [i, b.allocate(sets[i]!)]));
  let agree = 0;
  for (const [i, id] of idsA) if (idsB.get(i) === id) agree++;
  const fraction = agree / sets.length;
  t.diagnostic(`${agree} of ${sets.length} label sets got the same number in both orders (${(fraction * 100).toFixed(1)}%)`);
  assert.ok(fraction >= 0.9, `only ${fraction} agree`);
  // Within one allocator, numbers are unique.
  assert.equal(new Set(idsA.values()).size, sets.length);
  // Order of labels within a set, and filtered labels, never matter.
  assert.equal(a.idOf(["k8s:io.kubernetes.pod.namespace=ns-0", "k8s:app=svc-0-0"]), idsA.get(0));
});

// ---- reference counts, release, reuse ----------------------------------------

test("allocate counts references; release frees at zero; unknown release is an error", async () => {
  const a = await createIdentityAllocator();
  const labels = ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=default"];
  const id = a.allocate(labels);
  assert.equal(a.allocate([...labels].reverse()), id);
  assert.equal(a.refs(id), 2);
  assert.equal(a.size, 1);
  a.release(id);
  assert.equal(a.refs(id), 1);
  assert.deepEqual(a.lookup(id), labels);
  a.release(id);
  assert.equal(a.refs(id), 0);
  assert.equal(a.lookup(id), undefined);
  assert.equal(a.idOf(labels), undefined);
  assert.equal(a.size, 0);
  throwsInput(() => a.release(id), "UNKNOWN_IDENTITY", "id");
  throwsInput(() => a.release(1.5), "INVALID_INPUT", "id");
  // Without collisions, a set comes back with the same number.
  assert.equal(a.allocate(labels), id);
});

test("a freed number is reused by another label set, never while referenced", async () => {
  const a = await createIdentityAllocator({ ranges: { cluster: { min: 256, max: 256 } } });
  const first = a.allocate(["k8s:app=a"]);
  assert.equal(first, 256);
  a.allocate(["k8s:app=a"]);
  assert.throws(() => a.allocate(["k8s:app=b"]), IdentityExhaustedError);
  a.release(first);
  assert.throws(() => a.allocate(["k8s:app=b"]), IdentityExhaustedError, "still referenced once");
  a.release(first);
  assert.equal(a.allocate(["k8s:app=b"]), 256);
  assert.deepEqual(a.lookup(256), ["k8s:app=b"]);
});

// ---- exhaustion ---------------------------------------------------------------

test("exhaustion is a typed IDENTITY_EXHAUSTED error; live numbers are never reused", async () => {
  const a = await createIdentityAllocator({ ranges: { cluster: { min: 256, max: 260 }, cidr: { min: 1, max: 2 } } });
  const ids = [0, 1, 2, 3, 4].map((i) => a.allocate([`k8s:app=${i}`]));
  assert.deepEqual([...ids].sort(), [256, 257, 258, 259, 260]);
  assert.throws(() => a.allocate(["k8s:app=5"]), (err: unknown) => {
    assert.ok(err instanceof IdentityExhaustedError);
    assert.equal(err.code, "IDENTITY_EXHAUSTED");
    assert.equal(err.scope, "cluster");
    assert.equal(err.first, 256);
    assert.equal(err.last, 260);
    return true;
  });
  assert.equal(a.allocate(["k8s:app=3"]), ids[3], "known sets still resolve");
  a.allocateCidr("10.0.0.0/8");
  a.allocateCidr("10.0.0.0/16");
  assert.throws(() => a.allocateCidr("10.0.0.0/24"), (err: unknown) =>
    err instanceof IdentityExhaustedError && err.scope === "cidr" && err.first === (LOCAL | 1) && err.last === (LOCAL | 2));
  assert.equal(a.size, 7);
});

test("cluster IDs: bits 16..23, Cilium's full 0..65535 range outside cluster 0", async () => {
  const a = await createIdentityAllocator({ clusterId: 255, ranges: { cluster: { min: 0, max: 3 } } });
  const ids = [0, 1, 2, 3].map((i) => a.allocate([`k8s:app=${i}`]));
  assert.deepEqual([...ids].sort((x, y) => x - y), [0, 1, 2, 3].map((n) => (255 << 16) | n));
  assert.equal(a.clusterId, 255);
  await assert.rejects(createIdentityAllocator({ clusterId: 256 }), (e: unknown) => e instanceof InvalidInputError && e.field === "options.clusterId");
  await assert.rejects(createIdentityAllocator({ clusterId: -1 }), InvalidInputError);
  await assert.rejects(createIdentityAllocator({ ranges: { cluster: { min: 255, max: 300 } } }),
    (e: unknown) => e instanceof InvalidInputError && e.field === "options.ranges.cluster.min");
  await assert.rejects(createIdentityAllocator({ ranges: { cidr: { min: 5, max: 4 } } }),
    (e: unknown) => e instanceof InvalidInputError && e.field === "options.ranges.cidr.max");
});

// ---- CIDR identities -----------------------------------------------------------

test("CIDR identities: node-local numbers, Cilium's labels, one per prefix", async () => {
  const a = await createIdentityAllocator();
  const id = a.allocateCidr("10.1.2.3/8");
  assert.equal(id & 0xff000000, LOCAL);
  assert.deepEqual(a.lookup(id), ["cidr:10.0.0.0/8", "reserved:world"]);
  assert.equal(a.allocate(["cidr:10.0.0.0/8"]), id, "the world label is added");
  assert.equal(a.allocate(["reserved:world", "cidr:10.0.0.0/8"]), id);
  assert.equal(a.refs(id), 3);
  assert.equal(a.cidrIdOf("10.0.0.0/8"), id);
  assert.equal(a.cidrIdOf("10.0.0.0/9"), undefined);

  const v6 = a.allocateCidr("2001:DB8::1/32");
  assert.deepEqual(a.lookup(v6), ["cidr:2001-db8--0/32", "reserved:world"]);
  assert.equal(a.allocate(["cidr:2001-db8--0/32", "reserved:world"]), v6);
  assert.deepEqual(a.lookup(a.allocateCidr("::1")), ["cidr:0--1/128", "reserved:world"]);
  assert.deepEqual(a.lookup(a.allocateCidr("192.0.2.1")), ["cidr:192.0.2.1/32", "reserved:world"]);
  // A /0 prefix is the world itself.
  assert.equal(a.allocateCidr("0.0.0.0/0"), 2);
  assert.equal(a.allocateCidr("::/0"), 2);
  // Other reserved labels keep the set node-local (Cilium's ScopeForLabels).
  const apiserver = a.allocate(["cidr:192.0.2.0/24", "reserved:kube-apiserver", "reserved:world"]);
  assert.equal(apiserver & 0xff000000, LOCAL);
  // Bad prefixes name the argument.
  throwsInput(() => a.allocateCidr("10.0.0.0/40"), "INVALID_INPUT", "prefix");
  throwsInput(() => a.allocateCidr("example.com"), "INVALID_INPUT", "prefix");
  // The helper for the policy layer.
  assert.deepEqual(cidrLabels("10.0.0.1/8"), ["cidr:10.0.0.0/8", "reserved:world"]);
  assert.deepEqual(cidrLabels("fd00::/8", { dualStack: true }), ["cidr:fd00--0/8", "reserved:world-ipv6"]);
  assert.deepEqual(cidrLabels("0.0.0.0/0", { dualStack: true }), ["reserved:world-ipv4"]);
});

test("dual-stack: per-family world labels and /0 identities", async () => {
  const a = await createIdentityAllocator({ dualStack: true });
  assert.equal(a.allocateCidr("0.0.0.0/0"), 9);
  assert.equal(a.allocateCidr("::/0"), 10);
  const v4 = a.allocateCidr("10.0.0.0/8");
  assert.deepEqual(a.lookup(v4), ["cidr:10.0.0.0/8", "reserved:world-ipv4"]);
  assert.equal(a.allocate(["cidr:10.0.0.0/8"]), v4);
  assert.deepEqual(a.lookup(a.allocateCidr("fd00::/8")), ["cidr:fd00--0/8", "reserved:world-ipv6"]);
  // A set that names plain reserved:world stays a set of its own.
  assert.notEqual(a.allocate(["cidr:10.0.0.0/8", "reserved:world"]), v4);
});

// ---- label filter in allocate ---------------------------------------------------

test("allocate applies the label filter; options configure it", async () => {
  const a = await createIdentityAllocator();
  const base = ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=default"];
  const id = a.allocate(base);
  assert.equal(a.allocate([...base, "k8s:pod-template-hash=7d9f8", "k8s:statefulset.kubernetes.io/pod-name=web-0"]), id);
  assert.deepEqual(a.lookup(id), base);

  const strict = await createIdentityAllocator({ labelFilter: { labels: ["k8s:app"] } });
  const sid = strict.allocate(["k8s:app=web", "k8s:team=a", "k8s:io.kubernetes.pod.namespace=default"]);
  assert.deepEqual(strict.lookup(sid), ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=default"]);
  assert.equal(strict.allocate(["k8s:app=web", "k8s:team=b", "k8s:io.kubernetes.pod.namespace=default"]), sid);
});

// ---- snapshot / restore -----------------------------------------------------------

type Op = { kind: "alloc"; set: number } | { kind: "release"; pick: number } | { kind: "cidr"; prefix: number };

const POOL = podSets(40).map((s) => s.slice(0, 2));
const PREFIXES = ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "2001:db8::/32", "fd00::/8", "198.51.100.7"];

function apply(a: IdentityAllocator, ops: readonly Op[]): void {
  const held: number[] = [];
  for (const op of ops) {
    if (op.kind === "alloc") held.push(a.allocate(POOL[op.set]!));
    else if (op.kind === "cidr") held.push(a.allocateCidr(PREFIXES[op.prefix]!));
    else if (held.length > 0) a.release(held.splice(op.pick % held.length, 1)[0]!);
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("alloc" as const), set: fc.integer({ min: 0, max: POOL.length - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cidr" as const), prefix: fc.integer({ min: 0, max: PREFIXES.length - 1 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
);

test("snapshot → JSON → restore keeps every number, label and count (property)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 120 }), fc.array(opArb, { maxLength: 30 }), async (ops, more) => {
      const original = await createIdentityAllocator();
      apply(original, ops);
      const snap = original.snapshot();
      const copy = await createIdentityAllocator();
      copy.restore(JSON.parse(JSON.stringify(snap)));
      assert.deepEqual(copy.snapshot(), snap);
      assert.equal(copy.size, original.size);
      for (const { id } of snap.identities) {
        assert.deepEqual(copy.lookup(id), original.lookup(id));
        assert.equal(copy.refs(id), original.refs(id));
      }
      for (const set of POOL) assert.equal(copy.idOf(set), original.idOf(set));
      for (const p of PREFIXES) assert.equal(copy.cidrIdOf(p), original.cidrIdOf(p));
      // Same state, same future: both continue identically.
      apply(original, more);
      apply(copy, more);
      assert.deepEqual(copy.snapshot(), original.snapshot());
    }),
    { numRuns: 60, seed: 2024 },
  );
});

test("snapshots are deterministic, sorted by id, JSON-ready", async () => {
  const a = await createIdentityAllocator({ clusterId: 2 });
  apply(a, [{ kind: "alloc", set: 3 }, { kind: "cidr", prefix: 0 }, { kind: "alloc", set: 1 }, { kind: "alloc", set: 3 }]);
  const snap = a.snapshot();
  assert.equal(snap.version, 1);
  assert.equal(snap.clusterId, 2);
  assert.equal(snap.identities.length, 3);
  const ids = snap.identities.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  assert.deepEqual(snap.identities.map((e) => e.refs).sort(), [1, 1, 2]);
  assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
  const b = await createIdentityAllocator({ clusterId: 2 });
  apply(b, [{ kind: "alloc", set: 3 }, { kind: "cidr", prefix: 0 }, { kind: "alloc", set: 1 }, { kind: "alloc", set: 3 }]);
  assert.deepEqual(JSON.stringify(b.snapshot()), JSON.stringify(snap));
});

test("restore validates everything first and changes nothing on error", async () => {
  const source = await createIdentityAllocator();
  apply(source, [{ kind: "alloc", set: 0 }, { kind: "alloc", set: 1 }, { kind: "cidr", prefix: 0 }]);
  const good = source.snapshot();
  const [e0, e1, e2] = good.identities as [typeof good.identities[0], typeof good.identities[0], typeof good.identities[0]];
  const target = await createIdentityAllocator();
  apply(target, [{ kind: "alloc", set: 5 }]);
  const before = target.snapshot();
  const withEntries = (...identities: unknown[]) => ({ ...good, identities });
  const cases: Array<[unknown, string]> = [
    [null, "snapshot"],
    [[], "snapshot"],
    [{ ...good, version: 2 }, "snapshot.version"],
    [{ ...good, clusterId: 1 }, "snapshot.clusterId"],
    [{ ...good, identities: "x" }, "snapshot.identities"],
    [withEntries(e0, 7), "snapshot.identities[1]"],
    [withEntries(e0, { ...e1, id: e0.id }), "snapshot.identities[1].id"],
    [withEntries(e0, { ...e1, labels: e0.labels }), "snapshot.identities[1].labels"],
    [withEntries(e0, { ...e1, refs: 0 }), "snapshot.identities[1].refs"],
    [withEntries(e0, { ...e1, refs: 1.5 }), "snapshot.identities[1].refs"],
    [withEntries(e0, { ...e1, id: 100 }), "snapshot.identities[1].id"],
    [withEntries(e0, { ...e1, id: e2.id }), "snapshot.identities[1].id"],
    [withEntries(e0, { ...e2, id: e1.id }), "snapshot.identities[1].id"],
    [withEntries(e0, { ...e1, id: (1 << 16) | 300 }), "snapshot.identities[1].id"],
    [withEntries(e0, { ...e1, labels: ["reserved:health"] }), "snapshot.identities[1].labels"],
    [withEntries(e0, { ...e1, labels: ["k8s:app=ok", "K8S:bad"] }), "snapshot.identities[1].labels[1]"],
    [withEntries(e0, { ...e1, labels: "k8s:app=x" }), "snapshot.identities[1].labels"],
    [withEntries(e0, { id: e1.id, refs: 1 }), "snapshot.identities[1].labels"],
  ];
  for (const [snapshot, field] of cases) {
    throwsInput(() => target.restore(snapshot), "INVALID_SNAPSHOT", field);
    assert.deepEqual(target.snapshot(), before, `state changed after a bad restore at ${field}`);
  }
  // A good snapshot replaces the state.
  target.restore(good);
  assert.deepEqual(target.snapshot(), good);
  assert.equal(target.idOf(POOL[5]!), undefined);
});
