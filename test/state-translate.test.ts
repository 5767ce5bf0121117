/**
 * Services + EndpointSlices → LbService frontends: each Service type, dual
 * stack, named target ports, terminating endpoints, session affinity, the
 * wasmplane.io/ annotations, traffic policies, frontend conflicts, and
 * backend IDs (deterministic, shared, stable).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  assignBackendIds, InvalidInputError, readState, translateServices, validateServices, type LbService,
} from "../src/index.js";

type Obj = Record<string, unknown>;
const svc = (name: string, spec: Obj, extra: { annotations?: Record<string, string>; status?: Obj; namespace?: string } = {}) => ({
  apiVersion: "v1", kind: "Service",
  metadata: { name, namespace: extra.namespace ?? "app", ...(extra.annotations ? { annotations: extra.annotations } : {}) },
  spec, ...(extra.status ? { status: extra.status } : {}),
});
const slice = (service: string, name: string, addressType: string, ports: Obj[], endpoints: Obj[], namespace = "app") => ({
  apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
  metadata: { name, namespace, labels: { "kubernetes.io/service-name": service } },
  addressType, ports, endpoints,
});
const ep = (address: string, conditions: Obj = { ready: true }, nodeName?: string, pod?: string) => ({
  addresses: [address], conditions, ...(nodeName ? { nodeName } : {}), ...(pod ? { targetRef: { kind: "Pod", name: pod, namespace: "app" } } : {}),
});
const node = (name: string, ips: string[], annotations: Record<string, string> = {}) => ({
  apiVersion: "v1", kind: "Node", metadata: { name, annotations },
  status: { addresses: [...ips.map((address) => ({ type: "InternalIP", address })), { type: "Hostname", address: name }] },
});
const state = (...objects: unknown[]) => readState([{ source: "state.yaml", value: { apiVersion: "v1", kind: "List", items: objects } }]);
const byName = (services: LbService[]) => new Map(services.map((s) => [s.name, s]));
const backendsOf = (s: LbService | undefined) => (s?.backends ?? []).map((b) => `${b.address}:${b.port}${b.draining ? " draining" : ""}`).sort();

test("ClusterIP: one frontend per port; backends are the ready endpoints on the slice port of the same name", () => {
  const t = translateServices(state(
    svc("web", { clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9090, targetPort: 9100 }] }),
    slice("web", "web-a", "IPv4", [{ name: "http", port: 8080 }, { name: "metrics", port: 9100 }], [ep("10.0.0.1"), ep("10.0.0.2", {})]),
  ));
  assert.deepEqual(t.errors, []);
  const s = byName(t.services);
  assert.deepEqual([...s.keys()], ["app/web:http/cluster-ip/10.96.0.10", "app/web:metrics/cluster-ip/10.96.0.10"]);
  const http = s.get("app/web:http/cluster-ip/10.96.0.10")!;
  assert.equal(http.vip, "10.96.0.10");
  assert.equal(http.port, 80);
  assert.equal(http.protocol, "TCP");
  assert.equal(http.algorithm, "maglev");
  assert.equal(http.sessionAffinity, undefined);
  // ready absent means ready (the API's reading of nil).
  assert.deepEqual(backendsOf(http), ["10.0.0.1:8080", "10.0.0.2:8080"]);
  assert.deepEqual(backendsOf(s.get("app/web:metrics/cluster-ip/10.96.0.10")), ["10.0.0.1:9100", "10.0.0.2:9100"]);
  validateServices(t.services);
});

test("named targetPort: resolved per slice port name, so pods of one service may serve different numbers", () => {
  const t = translateServices(state(
    svc("web", { clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80, targetPort: "web" }] }),
    slice("web", "web-v1", "IPv4", [{ name: "http", port: 8080 }], [ep("10.0.0.1")]),
    slice("web", "web-v2", "IPv4", [{ name: "http", port: 8081 }], [ep("10.0.0.2")]),
    // A slice port of another name serves another service port: not this one.
    slice("web", "web-other", "IPv4", [{ name: "admin", port: 9000 }], [ep("10.0.0.3")]),
  ));
  assert.deepEqual(backendsOf(t.services[0]), ["10.0.0.1:8080", "10.0.0.2:8081"]);
});

test("terminating endpoints: serving ones drain, the rest are left out; ready wins when a slice repeats an address", () => {
  const t = translateServices(state(
    svc("web", { clusterIP: "10.96.0.10", ports: [{ port: 80 }] }),
    slice("web", "web-a", "IPv4", [{ port: 80 }], [
      ep("10.0.0.1", { ready: true, serving: true, terminating: false }),
      ep("10.0.0.2", { ready: false, serving: true, terminating: true }),
      ep("10.0.0.3", { ready: false, serving: false, terminating: true }),
      ep("10.0.0.4", { ready: false }),
      ep("10.0.0.5", { ready: false, serving: true, terminating: true }),
    ]),
    slice("web", "web-b", "IPv4", [{ port: 80 }], [ep("10.0.0.5", { ready: true })]),
  ));
  assert.deepEqual(backendsOf(t.services[0]), ["10.0.0.1:80", "10.0.0.2:80 draining", "10.0.0.5:80"]);
  assert.deepEqual(t.backends.filter((b) => b.draining).map((b) => b.address), ["10.0.0.2"]);
});

test("sessionAffinity ClientIP: the configured timeout, else Kubernetes' 10800 s; None gives none", () => {
  const t = translateServices(state(
    svc("a", { clusterIP: "10.96.0.1", sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }, ports: [{ port: 80 }] }),
    svc("b", { clusterIP: "10.96.0.2", sessionAffinity: "ClientIP", ports: [{ port: 80 }] }),
    svc("c", { clusterIP: "10.96.0.3", sessionAffinity: "None", ports: [{ port: 80 }] }),
  ));
  const s = byName(t.services);
  assert.deepEqual(s.get("app/a:80/cluster-ip/10.96.0.1")!.sessionAffinity, { timeoutSeconds: 600 });
  assert.deepEqual(s.get("app/b:80/cluster-ip/10.96.0.2")!.sessionAffinity, { timeoutSeconds: 10800 });
  assert.equal(s.get("app/c:80/cluster-ip/10.96.0.3")!.sessionAffinity, undefined);
});

test("the wasmplane.io/lb-algorithm annotation picks the algorithm; a bad value rejects the service, naming the annotation", () => {
  const t = translateServices(state(
    svc("a", { clusterIP: "10.96.0.1", ports: [{ port: 80 }] }, { annotations: { "wasmplane.io/lb-algorithm": "random" } }),
    svc("b", { clusterIP: "10.96.0.2", ports: [{ port: 80 }] }),
    svc("c", { clusterIP: "10.96.0.3", ports: [{ port: 80 }] }, { annotations: { "wasmplane.io/lb-algorithm": "round-robin" } }),
  ));
  assert.deepEqual(t.services.map((s) => [s.name, s.algorithm]), [["app/a:80/cluster-ip/10.96.0.1", "random"], ["app/b:80/cluster-ip/10.96.0.2", "maglev"]]);
  const s = state(svc("c", { clusterIP: "10.96.0.3", ports: [{ port: 80 }] }, { annotations: { "wasmplane.io/lb-algorithm": "round-robin" } }));
  assert.equal(s.errors.length, 1);
  assert.match(s.errors[0]!.message, /^state\.yaml\.items\[0\]: Service app\/c: metadata\.annotations\["wasmplane\.io\/lb-algorithm"\]: must be maglev or random/);
  // The node-wide default, from options and from the Node's annotation.
  assert.equal(translateServices(state(svc("b", { clusterIP: "10.96.0.2", ports: [{ port: 80 }] })), { defaultAlgorithm: "random" }).services[0]!.algorithm, "random");
  const annotated = state(svc("b", { clusterIP: "10.96.0.2", ports: [{ port: 80 }] }), node("n1", ["192.168.0.1"], { "wasmplane.io/lb-algorithm": "random", "wasmplane.io/maglev-table-size": "65521" }));
  const fromNode = translateServices(annotated);
  assert.equal(fromNode.services[0]!.algorithm, "random");
  assert.equal(fromNode.settings.tableSize, 65521);
  assert.equal(translateServices(annotated, { tableSize: 251 }).settings.tableSize, 251, "an explicit option wins over the Node");
});

test("NodePort and LoadBalancer: frontends on the node's InternalIPs and the ingress IPs; external IPs; hostname-only ingress skipped", () => {
  const objects = [
    svc("lb", {
      type: "LoadBalancer", clusterIP: "10.96.0.5", externalIPs: ["198.51.100.7"],
      ports: [{ name: "https", port: 443, targetPort: 8443, nodePort: 30443 }],
    }, { status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }, { hostname: "lb.example.com" }] } } }),
    slice("lb", "lb-a", "IPv4", [{ name: "https", port: 8443 }], [ep("10.0.0.1")]),
    node("n1", ["192.168.0.1", "fd00::1"]),
  ];
  const t = translateServices(state(...objects));
  assert.equal(t.node, "n1");
  const names = t.services.map((s) => s.name);
  assert.deepEqual(names, [
    "app/lb:https/cluster-ip/10.96.0.5",
    "app/lb:https/external-ip/198.51.100.7",
    "app/lb:https/load-balancer/203.0.113.10",
    "app/lb:https/node-port/192.168.0.1",
    "app/lb:https/node-port/fd00::1",
  ]);
  const nodePort = byName(t.services).get("app/lb:https/node-port/192.168.0.1")!;
  assert.equal(nodePort.port, 30443);
  assert.deepEqual(backendsOf(nodePort), ["10.0.0.1:8443"]);
  // An IPv6 node address gets the IPv6 endpoints only: there are none.
  assert.deepEqual(byName(t.services).get("app/lb:https/node-port/fd00::1")!.backends, []);
  // Several nodes and none chosen: no NodePort frontends.
  const two = translateServices(state(...objects, node("n2", ["192.168.0.2"])));
  assert.equal(two.node, undefined);
  assert.ok(!two.services.some((s) => s.name.includes("node-port")));
  const n2 = translateServices(state(...objects, node("n2", ["192.168.0.2"])), { node: "n2" });
  assert.deepEqual(n2.services.filter((s) => s.name.includes("node-port")).map((s) => s.vip), ["192.168.0.2"]);
});

test("externalTrafficPolicy Local keeps this node's endpoints on external frontends; ClusterIP keeps all", () => {
  const t = translateServices(state(
    svc("web", { type: "NodePort", clusterIP: "10.96.0.5", externalTrafficPolicy: "Local", ports: [{ port: 80, nodePort: 30080 }] }),
    slice("web", "web-a", "IPv4", [{ port: 8080 }], [ep("10.0.0.1", { ready: true }, "n1"), ep("10.0.0.2", { ready: true }, "n2")]),
    node("n1", ["192.168.0.1"]),
  ));
  const s = byName(t.services);
  assert.deepEqual(backendsOf(s.get("app/web:80/node-port/192.168.0.1")), ["10.0.0.1:8080"]);
  assert.deepEqual(backendsOf(s.get("app/web:80/cluster-ip/10.96.0.5")), ["10.0.0.1:8080", "10.0.0.2:8080"]);
});

test("dual stack: each cluster IP gets the endpoints of its own family", () => {
  const t = translateServices(state(
    svc("web", { clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10", "FD00:96::10"], ports: [{ port: 80 }] }),
    slice("web", "web-v4", "IPv4", [{ port: 8080 }], [ep("10.0.0.1")]),
    slice("web", "web-v6", "IPv6", [{ port: 8080 }], [ep("fd00:244::1"), ep("fd00:244::2")]),
  ));
  const s = byName(t.services);
  assert.deepEqual(backendsOf(s.get("app/web:80/cluster-ip/10.96.0.10")), ["10.0.0.1:8080"]);
  // Addresses are canonical (lower case), in names and VIPs alike.
  assert.deepEqual(backendsOf(s.get("app/web:80/cluster-ip/fd00:96::10")), ["fd00:244::1:8080", "fd00:244::2:8080"]);
});

test("headless and ExternalName services have no frontends; a slice of an unknown service is a warning", () => {
  const t = translateServices(state(
    svc("headless", { clusterIP: "None", ports: [{ port: 80 }] }),
    svc("ext", { type: "ExternalName", externalName: "db.example.com", ports: [{ port: 5432 }] }),
    slice("ghost", "ghost-a", "IPv4", [{ port: 80 }], [ep("10.0.0.1")]),
  ));
  assert.deepEqual(t.services, []);
  assert.equal(t.warnings.length, 1);
  assert.match(t.warnings[0]!, /EndpointSlice app\/ghost-a belongs to Service app\/ghost, which is not in the state/);
});

test("two services claiming one frontend: the first by namespace/name keeps it, the other gets an error naming the field", () => {
  const t = translateServices(state(
    svc("zeta", { clusterIP: "10.96.0.2", externalIPs: ["198.51.100.7"], ports: [{ port: 80 }] }),
    svc("alpha", { clusterIP: "10.96.0.1", externalIPs: ["198.51.100.7"], ports: [{ port: 80 }] }),
  ));
  assert.ok(t.services.some((s) => s.name === "app/alpha:80/external-ip/198.51.100.7"));
  assert.ok(!t.services.some((s) => s.name === "app/zeta:80/external-ip/198.51.100.7"));
  assert.equal(t.errors.length, 1);
  assert.ok(t.errors[0] instanceof InvalidInputError);
  assert.equal(t.errors[0]!.field, "spec.externalIPs[0]");
  assert.match(t.errors[0]!.message, /Service app\/zeta: spec\.externalIPs\[0\]: 198\.51\.100\.7:80\/TCP is already a frontend of app\/alpha/);
});

test("pod weight annotation through the endpoint's targetRef", () => {
  const t = translateServices(state(
    { apiVersion: "v1", kind: "Pod", metadata: { name: "p1", namespace: "app", annotations: { "wasmplane.io/lb-weight": "3" } }, status: { podIP: "10.0.0.1" } },
    svc("web", { clusterIP: "10.96.0.10", ports: [{ port: 80 }] }),
    slice("web", "web-a", "IPv4", [{ port: 80 }], [ep("10.0.0.1", {}, undefined, "p1"), ep("10.0.0.2")]),
  ));
  assert.deepEqual(t.services[0]!.backends.map((b) => [b.address, b.weight ?? 1]).sort(), [["10.0.0.1", 3], ["10.0.0.2", 1]]);
});

test("backend IDs: one per address and port across services, the same for any input order", () => {
  const objects = [
    svc("a", { clusterIP: "10.96.0.1", ports: [{ port: 80 }] }),
    svc("b", { clusterIP: "10.96.0.2", ports: [{ port: 80 }] }),
    slice("a", "a-1", "IPv4", [{ port: 8080 }], [ep("10.0.0.1"), ep("10.0.0.2")]),
    slice("b", "b-1", "IPv4", [{ port: 8080 }], [ep("10.0.0.2"), ep("10.0.0.3")]),
  ];
  const t = translateServices(state(...objects));
  const shared = t.services.map((s) => s.backends.find((b) => b.address === "10.0.0.2")!.id);
  assert.equal(shared[0], shared[1]);
  assert.deepEqual(t.backends.find((b) => b.address === "10.0.0.2")!.services, ["app/a:80/cluster-ip/10.96.0.1", "app/b:80/cluster-ip/10.96.0.2"]);
  assert.deepEqual(translateServices(state(...[...objects].reverse())), t);
});

test("backend IDs stay when an unrelated service changes (no collision), and previous IDs are always kept", () => {
  const base = ["10.0.0.1:80", "10.0.0.2:80", "[fd00::1]:443"];
  const before = assignBackendIds(base);
  const after = assignBackendIds([...base, "10.9.9.9:53"]);
  for (const e of base) assert.equal(after.get(e), before.get(e), e);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 65535 })).map(([o, p]) => `10.1.0.${o}:${p}`), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 59 }),
      (endpoints, cut) => {
        const limit = 97; // small, so collisions happen
        const ids = assignBackendIds(endpoints, { limit });
        const values = [...ids.values()];
        assert.equal(new Set(values).size, endpoints.length, "unique");
        assert.ok(values.every((id) => id >= 1 && id < limit));
        assert.deepEqual(assignBackendIds([...endpoints].reverse(), { limit }), ids, "order does not matter");
        // The agent passes what the datapath holds: a subset's IDs survive any additions.
        const kept = new Map(endpoints.slice(0, cut % endpoints.length).map((e) => [e, ids.get(e)!]));
        const grown = assignBackendIds([...endpoints, "10.2.0.1:1", "10.2.0.2:2"].slice(0, limit - 1), { limit, previous: kept });
        for (const [e, id] of kept) assert.equal(grown.get(e), id);
      },
    ),
    { numRuns: 200 },
  );
  assert.throws(() => assignBackendIds(["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"], { limit: 3 }), /backends: must be at most 2/);
});
