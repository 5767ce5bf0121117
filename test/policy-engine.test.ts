/**
 * The policy engine's public API: identities, upserts and deletes with their
 * deltas, verdicts that name their rules, maps, CIDR identities, typed errors
 * and transactions that leave nothing half-applied.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPolicyEngine, InvalidInputError, PolicyMapOverflowError, type PolicyEngine } from "../src/index.js";

const cnp = (name: string, spec: Record<string, unknown>, namespace = "shop") => ({
  apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace }, spec,
});

async function shop(): Promise<{ engine: PolicyEngine; web: number; db: number; other: number }> {
  const engine = await createPolicyEngine();
  const web = engine.identities.allocate(["k8s:app=web", "k8s:io.kubernetes.pod.namespace=shop"]);
  const db = engine.identities.allocate(["k8s:app=db", "k8s:io.kubernetes.pod.namespace=shop"]);
  const other = engine.identities.allocate(["k8s:app=web", "k8s:io.kubernetes.pod.namespace=other"]);
  return { engine, web, db, other };
}

test("reserved label sets give reserved numbers; allocation is reference counted", async () => {
  const { engine, web } = await shop();
  assert.equal(engine.identities.allocate(["reserved:world"]), 2);
  assert.equal(engine.identities.allocate(["reserved:host"]), 1);
  assert.equal(engine.identities.allocate(["k8s:io.kubernetes.pod.namespace=shop", "k8s:app=web"]), web);
  assert.ok(web >= 256 && web <= 65535);
  engine.identities.release(web);
  assert.ok(engine.identities.labels(web));
  engine.identities.release(web);
  assert.equal(engine.identities.labels(web), undefined);
});

test("a CNP is scoped to its namespace; its delta lists the endpoint's new entries", async () => {
  const { engine, web, db, other } = await shop();
  const delta = engine.upsertPolicy(cnp("db", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }] }],
  }));
  const forDb = delta.endpoints.find((e) => e.identity === db);
  assert.ok(forDb, "db's map changed");
  assert.ok(forDb.added.some((e) => e.identity === web && e.protocol === 6 && e.port === 5432 && e.prefixLength === 24));
  assert.ok(!delta.endpoints.some((e) => e.identity === web), "web is not selected");

  const q = { subject: db, direction: "ingress" as const, protocol: "TCP" as const, port: 5432 };
  assert.deepEqual(engine.verdict({ ...q, peer: web }), {
    verdict: "allow", reason: "allowed", proxy: false,
    rules: [{ policy: "cnp/shop/db", rule: 0, section: "ingress", index: 0 }],
  });
  // The same label in another namespace is not a peer: the CNP scoped it.
  assert.equal(engine.verdict({ ...q, peer: other }).reason, "default-deny");
  assert.equal(engine.verdict({ ...q, peer: web, port: 5433 }).reason, "default-deny");
  assert.equal(engine.verdict({ ...q, subject: web, peer: db }).reason, "not-enforced");
});

test("deletePolicy by name or object returns the removals and restores the verdicts", async () => {
  const { engine, web, db } = await shop();
  const policy = cnp("db", { endpointSelector: { matchLabels: { app: "db" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }] });
  const added = engine.upsertPolicy(policy).endpoints.find((e) => e.identity === db)!.added;
  const removed = engine.deletePolicy(policy).endpoints.find((e) => e.identity === db)!;
  const key = (e: { identity: number; direction: string; protocol: number; port: number; prefixLength: number }) => `${e.identity}/${e.direction}/${e.protocol}/${e.port}/${e.prefixLength}`;
  // What was added for the policy (beyond the not-enforced markers that come back) is removed.
  assert.ok(added.filter((e) => e.precedence !== 1).every((e) => removed.removed.some((r) => key(r) === key(e))));
  assert.equal(engine.verdict({ subject: db, direction: "ingress", peer: web, protocol: "TCP", port: 1 }).reason, "not-enforced");
  assert.deepEqual(engine.policies(), []);
  assert.deepEqual(engine.deletePolicy("cnp/shop/db").endpoints, [], "deleting twice is a no-op");
});

test("CIDR rules create CIDR identities (except prefixes included) and report them as ipcache changes", async () => {
  const { engine, web } = await shop();
  const delta = engine.upsertRules("egress-cidr", [{
    endpointSelector: { matchLabels: { "k8s:app": "web" } },
    egress: [{ toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] }] }],
  }]);
  const prefixes = delta.ipcache.added.map((e) => e.prefix).sort();
  assert.deepEqual(prefixes, ["10.0.0.0/8", "10.1.0.0/16"]);
  const [inside, except] = ["10.0.0.0/8", "10.1.0.0/16"].map((p) => delta.ipcache.added.find((e) => e.prefix === p)!.identity);
  assert.ok(inside! >= 1 << 24 && except! >= 1 << 24, "CIDR identities are node-local");
  const q = { subject: web, direction: "egress" as const, protocol: "TCP" as const, port: 443 };
  assert.equal(engine.verdict({ ...q, peer: inside! }).reason, "allowed");
  assert.equal(engine.verdict({ ...q, peer: except! }).reason, "default-deny");
  assert.equal(engine.verdict({ ...q, peer: 2 }).reason, "default-deny", "the world is not inside 10/8");
  const gone = engine.deletePolicy("egress-cidr");
  assert.deepEqual(gone.ipcache.removed.map((e) => e.prefix).sort(), prefixes);
});

test("the lockdown of the Cilium 1.9 release notes: all allowed, world denied", async () => {
  const { engine, web, db } = await shop();
  engine.upsertRules("lockdown", [{
    endpointSelector: {},
    ingress: [{ fromEntities: ["all"] }],
    ingressDeny: [{ fromEntities: ["world"] }],
  }, {
    endpointSelector: {},
    egress: [{ toCIDR: ["192.0.2.0/24"] }],
    enableDefaultDeny: { egress: false },
  }]);
  const q = { subject: db, direction: "ingress" as const, protocol: "TCP" as const, port: 80 };
  assert.equal(engine.verdict({ ...q, peer: web }).verdict, "allow");
  assert.equal(engine.verdict({ ...q, peer: 1 }).verdict, "allow", "host");
  assert.equal(engine.verdict({ ...q, peer: 6 }).verdict, "allow", "remote node");
  const world = engine.verdict({ ...q, peer: 2 });
  assert.equal(world.reason, "policy-deny");
  assert.deepEqual(world.rules, [{ policy: "lockdown", rule: 0, section: "ingressDeny", index: 0 }]);
  // A CIDR identity carries reserved:world, so it is denied too.
  const cidr = engine.identities.allocate(["cidr:192.0.2.0/24", "reserved:world"]);
  assert.equal(engine.verdict({ ...q, peer: cidr }).reason, "policy-deny");
  // enableDefaultDeny: false on the only egress rule: egress stays not enforced.
  assert.equal(engine.verdict({ ...q, direction: "egress", peer: 2 }).reason, "not-enforced");
});

test("L7 rules redirect to the proxy unless an L7-less allow covers the same port", async () => {
  const { engine, web, db } = await shop();
  engine.upsertPolicy(cnp("l7", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }, { port: "81", protocol: "TCP" }], rules: { http: [{ method: "GET" }] } }] }],
  }));
  const q = { subject: db, direction: "ingress" as const, peer: web, protocol: "TCP" as const };
  assert.deepEqual({ ...engine.verdict({ ...q, port: 80 }), rules: [] }, { verdict: "allow", reason: "allowed", proxy: true, rules: [] });
  engine.upsertPolicy(cnp("plain", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] }],
  }));
  assert.equal(engine.verdict({ ...q, port: 80 }).proxy, false);
  assert.equal(engine.verdict({ ...q, port: 81 }).proxy, true);
  const map = engine.policyMap(db);
  assert.ok(map.some((e) => e.identity === web && e.port === 81 && e.proxy));
});

test("an overflowing policy is a typed error naming the endpoint; nothing is applied", async () => {
  const engine = await createPolicyEngine({ mapLimit: 8 });
  const web = engine.identities.allocate(["k8s:app=web"]);
  const ports = Array.from({ length: 10 }, (_, i) => ({ port: String(1000 + 2 * i), protocol: "TCP" }));
  const before = engine.policyMap(web);
  assert.throws(
    () => engine.upsertRules("wide", [{ endpointSelector: { matchLabels: { app: "web" } }, ingress: [{ toPorts: [{ ports }] }] }]),
    (e: unknown) => e instanceof PolicyMapOverflowError && e.endpoint === web && e.needed === 11 && e.limit === 8 && e.code === "POLICY_MAP_OVERFLOW",
  );
  assert.deepEqual(engine.policyMap(web), before);
  assert.deepEqual(engine.policies(), []);
});

test("invalid input is rejected with the field named, before anything changes", async () => {
  const { engine, web } = await shop();
  assert.throws(() => engine.upsertRules("bad", [{ endpointSelector: {}, ingress: [{ fromCIDR: ["10.0.0.0/33"] }] }]), (e: unknown) => e instanceof InvalidInputError && /fromCIDR\[0\]/.test(e.field));
  assert.throws(() => engine.upsertPolicy({ kind: "Secret" }), InvalidInputError);
  assert.throws(() => engine.identities.allocate(["k8s:app=web", "k8s:app=db"]), InvalidInputError);
  assert.throws(() => engine.verdict({ subject: web, direction: "sideways" as never, peer: 2, protocol: "TCP", port: 80 }), /query.direction/);
  assert.throws(() => engine.verdict({ subject: web, direction: "ingress", peer: 2, protocol: "ICMP", port: 300 }), /query.port/);
  assert.throws(() => engine.verdict({ subject: 4242, direction: "ingress", peer: 2, protocol: "TCP", port: 80 }), /not a known identity/);
  assert.deepEqual(engine.policies(), []);
});

test("ICMP rules match the type carried in the port", async () => {
  const { engine, web, db } = await shop();
  engine.upsertPolicy(cnp("icmp", {
    endpointSelector: { matchLabels: { app: "db" } },
    ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }], icmps: [{ fields: [{ type: 8, family: "IPv4" }] }] }],
  }));
  const q = { subject: db, direction: "ingress" as const, peer: web };
  assert.equal(engine.verdict({ ...q, protocol: "ICMP", port: 8 }).verdict, "allow");
  assert.equal(engine.verdict({ ...q, protocol: "ICMP", port: 0 }).verdict, "deny");
  assert.equal(engine.verdict({ ...q, protocol: "ICMPv6", port: 8 }).verdict, "deny");
});
