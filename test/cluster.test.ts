/**
 * The cluster view: objects in (single, arrays, Lists), pod identities that
 * follow labels and namespaces, the ipcache, reachability both ways, and
 * errors that name the object and field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCluster, InvalidInputError } from "../src/index.js";

const ns = (name: string, labels: Record<string, string> = { ns: name }) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });
const pod = (namespace: string, name: string, ip: string, labels: Record<string, string> = { pod: name }) => ({
  apiVersion: "v1", kind: "Pod", metadata: { name, namespace, labels },
  spec: { containers: [{ name: "c", ports: [{ name: "http", containerPort: 8080 }] }] },
  status: { podIP: ip, podIPs: [{ ip }] },
});
const denyFromNs = (label: string) => ({
  apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "deny-ns" },
  spec: { endpointSelector: {}, enableDefaultDeny: { ingress: false }, ingressDeny: [{ fromEndpoints: [{ matchLabels: { "k8s:io.cilium.k8s.namespace.labels.env": label } }] }] },
});

test("objects arrive single, as arrays and as Lists; unknown kinds are reported and ignored", async () => {
  const cluster = await createCluster();
  const change = cluster.apply({ apiVersion: "v1", kind: "List", items: [ns("x"), pod("x", "a", "10.0.0.1"), { kind: "Service", metadata: { name: "svc" } }] });
  assert.deepEqual(change.ignored, [{ kind: "Service", name: "svc" }]);
  assert.ok(cluster.identityOf("x/a"));
  assert.deepEqual(cluster.ipcache(), [{ prefix: "10.0.0.1/32", identity: cluster.identityOf("x/a")! }]);
});

test("relabelling a pod moves it to the identity of its new labels; the old one is released", async () => {
  const cluster = await createCluster();
  cluster.apply([ns("x"), pod("x", "a", "10.0.0.1", { app: "one" }), pod("x", "b", "10.0.0.2", { app: "one" })]);
  const shared = cluster.identityOf("x/a")!;
  assert.equal(cluster.identityOf("x/b"), shared, "same labels, same identity");
  const change = cluster.apply(pod("x", "a", "10.0.0.1", { app: "two" }));
  const moved = cluster.identityOf("x/a")!;
  assert.notEqual(moved, shared);
  assert.deepEqual(change.ipcache.added, [{ prefix: "10.0.0.1/32", identity: moved }]);
  cluster.delete(pod("x", "b", "10.0.0.2"));
  assert.equal(cluster.engine.identities.labels(shared), undefined, "no pod holds the old identity");
});

test("a namespace label change re-derives its pods' identities, and policies follow", async () => {
  const cluster = await createCluster();
  cluster.apply([ns("x", { env: "dev" }), ns("y", { env: "prod" }), pod("x", "a", "10.0.0.1"), pod("y", "b", "10.0.1.1"), denyFromNs("dev")]);
  const probe = () => cluster.reachability({ from: "x/a", to: "y/b", port: 8080, protocol: "TCP" });
  assert.equal(probe().ingress.reason, "policy-deny");
  cluster.apply(ns("x", { env: "prod" }));
  assert.equal(probe().ingress.reason, "not-enforced");
  assert.equal(probe().allowed, true);
});

test("reachability from and to addresses outside the cluster", async () => {
  const cluster = await createCluster();
  cluster.apply([ns("x"), pod("x", "a", "10.0.0.1"), {
    apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "in", namespace: "x" },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{ from: [{ ipBlock: { cidr: "192.0.2.0/24" } }] }], egress: [{ to: [{ ipBlock: { cidr: "198.51.100.0/24" } }] }] },
  }]);
  const r1 = cluster.reachability({ from: "192.0.2.7", to: "x/a", port: 80, protocol: "TCP" });
  assert.equal(r1.allowed, true);
  assert.equal(r1.egress.reason, "not-enforced", "an outside client has no egress policy here");
  assert.equal(cluster.reachability({ from: "203.0.113.9", to: "x/a", port: 80, protocol: "TCP" }).ingress.reason, "default-deny");
  assert.equal(cluster.reachability({ from: "x/a", to: "198.51.100.20", port: 443, protocol: "UDP" }).allowed, true);
  assert.equal(cluster.reachability({ from: "x/a", to: "8.8.8.8", port: 53, protocol: "UDP" }).egress.reason, "default-deny");
});

test("an invalid object is rejected with its path and field; nothing in the batch applies", async () => {
  const cluster = await createCluster();
  assert.throws(
    () => cluster.apply([ns("x"), pod("x", "a", "10.0.0.999")], "state.yaml"),
    (e: unknown) => e instanceof InvalidInputError && e.field === "state.yaml[1].status.podIP",
  );
  assert.throws(
    () => cluster.apply([ns("y"), { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "p", namespace: "y" }, spec: { endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: "99999" }] }] }] } }], "p.yaml"),
    (e: unknown) => e instanceof InvalidInputError && /^p\.yaml\[1\]: CiliumNetworkPolicy y\/p: spec\.ingress\[0\]\.toPorts\[0\]\.ports\[0\]\.port/.test(e.message),
  );
  assert.equal(cluster.identityOf("x/a"), undefined);
  assert.deepEqual(cluster.ipcache(), []);
  assert.throws(() => cluster.reachability({ from: "x/a", to: "x/b", port: 80, protocol: "TCP" }), /query\.from: .*not a known pod/);
});
