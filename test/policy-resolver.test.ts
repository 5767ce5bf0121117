/**
 * The WebAssembly resolver on normalized rules: the maps it computes agree
 * with its own verdict() for every flow (a longest-prefix lookup over the
 * map, as the datapath does it), and incremental updates in any order end in
 * the same maps as a computation from scratch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ResolverHost, type PolicyMapEntry } from "../src/policy/resolver-host.js";
import type { NormalizedRule, PeerRule, PortMatch, Selector } from "../src/policy/model.js";
import { lookupLevel } from "./support/policy-lpm.js";

const sel = (...reqs: Array<[string, "In" | "NotIn" | "Exists" | "DoesNotExist", string[]?]>): Selector => ({
  requirements: reqs.map(([key, operator, values]) => ({ key, operator, values: values ?? [] })),
});

const origin = { policy: "p", rule: 0, section: "ingress" as const, index: 0 };

function peerRule(direction: "ingress" | "egress", deny: boolean, peers: Selector[] | null, ports: PortMatch[] | null, proxy = false): PeerRule {
  return { direction, deny, peers, ports, proxy, origin };
}

function rule(subject: Selector, peerRules: PeerRule[], enforces = { ingress: true, egress: false }): NormalizedRule {
  return { subject, enforces, peerRules, policy: "p", index: 0 };
}

const tcp = (port: number, endPort = port): PortMatch => ({ protocol: "TCP", port, endPort });

test("a port deny punches a hole in an L3 allow, and an L3 deny beats a port allow", async () => {
  const host = await ResolverHost.create(16384);
  host.setIdentity(300, ["k8s:app=web"]);
  host.setIdentity(301, ["k8s:app=client"]);
  host.setIdentity(302, ["k8s:app=attacker"]);
  host.addSubject(300);
  const deltas = host.applyRules([], [
    { id: 1, rule: rule(sel(["any:app", "In", ["web"]]), [
      peerRule("ingress", false, [sel(["any:app", "In", ["client"]])], null),
      peerRule("ingress", true, [sel(["any:app", "In", ["client"]])], [tcp(22)]),
      peerRule("ingress", false, [sel(["any:app", "In", ["attacker"]])], [tcp(80)]),
      peerRule("ingress", true, [sel(["any:app", "In", ["attacker"]])], null),
    ]) },
  ], []);
  assert.ok(Array.isArray(deltas) && deltas.length === 1 && deltas[0]!.identity === 300);
  const map = host.dump(300);
  assert.equal(lookupLevel(map, 301, false, 6, 80), 3);
  assert.equal(lookupLevel(map, 301, false, 6, 22), 4);
  assert.equal(lookupLevel(map, 301, false, 17, 22), 3);
  assert.equal(lookupLevel(map, 302, false, 6, 80), 4);
  assert.equal(lookupLevel(map, 999, false, 6, 80), 0);
  // Egress is not enforced: the wildcard marker allows it.
  assert.equal(lookupLevel(map, 302, true, 6, 80), 1);
  assert.equal(host.verdict(300, false, 301, 6, 22).level, 4);
});

test("a denied port inside an allowed range is cut out of it", async () => {
  const host = await ResolverHost.create(16384);
  host.setIdentity(300, ["k8s:app=web"]);
  host.setIdentity(301, ["k8s:app=client"]);
  host.addSubject(300);
  host.applyRules([], [{ id: 1, rule: rule(sel(["any:app", "In", ["web"]]), [
    peerRule("ingress", false, [sel(["any:app", "In", ["client"]])], [tcp(8000, 8999)]),
    peerRule("ingress", true, null, [tcp(8443)]),
  ]) }], []);
  const map = host.dump(300);
  for (const [port, level] of [[7999, 0], [8000, 3], [8442, 3], [8443, 4], [8444, 3], [8999, 3], [9000, 0]] as const) {
    assert.equal(lookupLevel(map, 301, false, 6, port), level, `port ${port}`);
  }
});

// ---- random policies: map lookup agrees with verdict(), incremental equals full ----

const VOCAB = { app: ["a", "b", "c"], tier: ["fe", "be"], ns: ["x", "y"] };
const labelSet = fc.record({
  app: fc.constantFrom(...VOCAB.app),
  tier: fc.option(fc.constantFrom(...VOCAB.tier), { nil: undefined }),
  ns: fc.constantFrom(...VOCAB.ns),
}).map((l) => [`k8s:app=${l.app}`, `k8s:io.kubernetes.pod.namespace=${l.ns}`, ...(l.tier ? [`k8s:tier=${l.tier}`] : [])]);

const selectorArb: fc.Arbitrary<Selector> = fc.oneof(
  fc.constantFrom(...VOCAB.app).map((a) => sel(["any:app", "In", [a]])),
  fc.constantFrom(...VOCAB.tier).map((t) => sel(["k8s:tier", "Exists"], ["any:tier", "NotIn", [t]])),
  fc.constantFrom(...VOCAB.ns).map((n) => sel(["k8s:io.kubernetes.pod.namespace", "In", [n]], ["any:app", "NotIn", ["c"]])),
  fc.constant(sel(["any:tier", "DoesNotExist"])),
  fc.constant(sel(["reserved:world", "Exists"])),
  fc.constant(sel(["cidr:10.0.0.0/8", "Exists"], ["cidr:10.1.0.0/16", "DoesNotExist"])),
);

const portArb: fc.Arbitrary<PortMatch> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 20 })).map(([p, w]) => ({ protocol: "TCP" as const, port: p, endPort: p + w })),
  fc.integer({ min: 1, max: 40 }).map((p) => ({ protocol: "UDP" as const, port: p, endPort: p })),
  fc.integer({ min: 1, max: 40 }).map((p) => ({ protocol: "ANY" as const, port: p, endPort: p })),
  fc.constant({ protocol: "TCP" as const, port: 0, endPort: 0 }),
  fc.integer({ min: 0, max: 9 }).map((t) => ({ protocol: "ICMP" as const, port: t, endPort: t })),
  fc.constant({ protocol: "ANY" as const, port: 0, endPort: 0, name: "http" }),
);

const peerRuleArb: fc.Arbitrary<PeerRule> = fc.record({
  direction: fc.constantFrom("ingress" as const, "egress" as const),
  deny: fc.boolean(),
  peers: fc.option(fc.array(selectorArb, { minLength: 1, maxLength: 2 }), { nil: null, freq: 4 }),
  ports: fc.option(fc.array(portArb, { minLength: 1, maxLength: 3 }), { nil: null, freq: 3 }),
  proxy: fc.boolean(),
}).map((r) => ({ ...r, proxy: r.proxy && !r.deny, origin }));

const ruleArb: fc.Arbitrary<NormalizedRule> = fc.record({
  subject: selectorArb,
  enforces: fc.record({ ingress: fc.boolean(), egress: fc.boolean() }),
  peerRules: fc.array(peerRuleArb, { maxLength: 4 }),
}).map((r) => ({ ...r, policy: "p", index: 0 }));

const PROBES: Array<[number, number]> = [[6, 1], [6, 5], [6, 20], [6, 33], [6, 60], [6, 8080], [17, 5], [17, 33], [132, 7], [1, 0], [1, 3], [1, 8], [58, 3], [6, 80]];

async function buildWorld(identities: string[][], rules: NormalizedRule[], order: "rules-first" | "identities-first") {
  const host = await ResolverHost.create(1 << 20);
  const ids = identities.map((_, i) => 300 + i);
  const cidrs: Array<[number, string[]]> = [
    [2, ["reserved:world"]],
    [(1 << 24) | 1, ["cidr:10.2.3.0/24", "reserved:world"]],
    [(1 << 24) | 2, ["cidr:10.1.2.0/24", "reserved:world"]],
  ];
  const named = [{ name: "http", protocol: "TCP", port: 33 }];
  const addIdentities = () => {
    identities.forEach((labels, i) => host.setIdentity(ids[i]!, labels, i % 2 === 0 ? named : []));
    for (const [id, labels] of cidrs) host.setIdentity(id, labels);
    for (const id of ids) host.addSubject(id);
  };
  const addRules = () => host.applyRules([], rules.map((rule, i) => ({ id: i + 1, rule })), []);
  if (order === "rules-first") {
    // Subjects must exist before rules can target them; add one identity first.
    addRules();
    addIdentities();
  } else {
    addIdentities();
    addRules();
  }
  return { host, ids, peers: [...ids, ...cidrs.map(([id]) => id)] };
}

const canonical = (entries: PolicyMapEntry[]): string[] => entries.map((e) => JSON.stringify(e)).sort();

test("map lookups agree with verdict() on random policies", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(labelSet, { minLength: 2, maxLength: 6 }), fc.array(ruleArb, { minLength: 1, maxLength: 6 }), async (identities, rules) => {
      const { host, ids, peers } = await buildWorld(identities, rules, "identities-first");
      for (const subject of ids) {
        const map = host.dump(subject);
        for (const peer of peers) {
          for (const egress of [false, true]) {
            for (const [proto, port] of PROBES) {
              const expected = host.verdict(subject, egress, peer, proto, port).level;
              assert.equal(lookupLevel(map, peer, egress, proto, port), expected, `subject ${subject} peer ${peer} ${egress ? "egress" : "ingress"} ${proto}/${port}`);
            }
          }
        }
      }
    }),
    { numRuns: 120, seed: 42 },
  );
});

test("incremental updates in any order equal a computation from scratch", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(labelSet, { minLength: 2, maxLength: 5 }), fc.array(ruleArb, { minLength: 1, maxLength: 5 }), async (identities, rules) => {
      const a = await buildWorld(identities, rules, "identities-first");
      const b = await buildWorld(identities, rules, "rules-first");
      // Change something in b and change it back: deltas must leave it as it was.
      b.host.applyRules([1], [], [rules[0]!]);
      b.host.applyRules([], [{ id: 1, rule: rules[0]! }], []);
      b.host.setIdentity(a.ids[0]!, ["k8s:app=zzz"]);
      b.host.setIdentity(a.ids[0]!, identities[0]!, [{ name: "http", protocol: "TCP", port: 33 }]);
      for (const subject of a.ids) assert.deepEqual(canonical(b.host.dump(subject)), canonical(a.host.dump(subject)));
    }),
    { numRuns: 60, seed: 9 },
  );
});

test("deltas replayed onto the first map give the final map", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(labelSet, { minLength: 2, maxLength: 5 }), fc.array(ruleArb, { minLength: 2, maxLength: 5 }), async (identities, rules) => {
      const { host, ids } = await buildWorld(identities, rules.slice(0, 1), "identities-first");
      const maps = new Map(ids.map((id) => [id, new Map(host.dump(id).map((e) => [key(e), e]))]));
      const replay = (deltas: ReturnType<ResolverHost["addSubject"]>) => {
        assert.ok(Array.isArray(deltas));
        for (const d of deltas) {
          const m = maps.get(d.identity)!;
          for (const e of d.removed) m.delete(key(e));
          for (const e of d.added) m.set(key(e), e);
        }
      };
      replay(host.applyRules([], rules.slice(1).map((rule, i) => ({ id: i + 2, rule })), []));
      replay(host.setIdentity(ids[1]!, ["k8s:app=b", "k8s:tier=fe", "k8s:io.kubernetes.pod.namespace=x"]));
      replay(host.applyRules([1], [], [rules[0]!]));
      for (const id of ids) assert.deepEqual(canonical([...maps.get(id)!.values()]), canonical(host.dump(id)));
    }),
    { numRuns: 60, seed: 21 },
  );
});

const key = (e: PolicyMapEntry): string => `${e.identity}/${e.direction}/${e.protocol}/${e.port}/${e.prefixLength}`;

test("a map over the limit is a typed overflow and nothing is applied", async () => {
  const host = await ResolverHost.create(3);
  host.setIdentity(300, ["k8s:app=web"]);
  host.setIdentity(301, ["k8s:app=client"]);
  host.addSubject(300);
  const before = host.dump(300);
  const result = host.applyRules([], [{ id: 1, rule: rule(sel(["any:app", "In", ["web"]]), [
    peerRule("ingress", false, [sel(["any:app", "In", ["client"]])], [tcp(1), tcp(3), tcp(5), tcp(7)]),
  ]) }], []);
  assert.deepEqual(result, { subject: 300, needed: 5 });
  assert.deepEqual(host.dump(300), before);
  assert.equal(host.verdict(300, false, 301, 6, 1).level, 1); // the rule was not applied: still not enforced
});

test("removing an identity leaves the maps a world without it would have", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(labelSet, { minLength: 3, maxLength: 6 }), fc.array(ruleArb, { minLength: 1, maxLength: 5 }), async (identities, rules) => {
      const full = await buildWorld(identities, rules, "identities-first");
      const gone = full.ids[1]!;
      // The world without it: the same identities (same numbers) but that one.
      const without = await buildWorld(identities, rules, "identities-first");
      without.host.removeSubject(gone);
      without.host.removeIdentity(gone);
      const replayed = new Map(full.ids.filter((id) => id !== gone).map((id) => [id, new Map(full.host.dump(id).map((e) => [key(e), e]))]));
      const deltas = full.host.removeIdentity(gone);
      for (const d of deltas) {
        const m = replayed.get(d.identity);
        if (!m) continue;
        for (const e of d.removed) m.delete(key(e));
        for (const e of d.added) m.set(key(e), e);
      }
      for (const id of full.ids) {
        if (id === gone) continue;
        assert.deepEqual(canonical(full.host.dump(id)), canonical(without.host.dump(id)));
        assert.deepEqual(canonical([...replayed.get(id)!.values()]), canonical(full.host.dump(id)));
        assert.ok(!full.host.dump(id).some((e) => e.identity === gone), "no entry names the removed identity");
      }
    }),
    { numRuns: 60, seed: 33 },
  );
});
