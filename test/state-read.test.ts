/**
 * Reading a state folder: kubectl shapes (single documents, multi-document
 * files, Lists), bad input reported per object with file, object and field
 * while the rest applies, unknown kinds ignored, duplicates, and
 * determinism (the same objects in any files and any order give the same
 * result, byte for byte).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseAllDocuments, stringify } from "yaml";
import { applyStatePolicy, InvalidInputError, loadKubeState, StateFileError, translateServices } from "../src/index.js";

const examples = new URL("../examples/state", import.meta.url).pathname;

function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "wasmplane-state-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const goodService = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: 10.96.0.10
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: shop, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints: [{ addresses: [10.0.0.1] }]
`;

test("the example state reads without errors: every kind, from Lists and multi-document files", async () => {
  const s = await loadKubeState(examples);
  assert.deepEqual(s.errors, []);
  assert.deepEqual(s.services.map((x) => `${x.namespace}/${x.name}`), ["shop/db", "shop/web", "tools/debug"]);
  assert.deepEqual(s.nodes.map((n) => [n.name, n.internalIPs]), [["node-a", ["192.168.10.11", "fd00:10::11"]]]);
  assert.equal(s.endpointSlices.length, 4);
  assert.deepEqual(s.pods.map((p) => `${p.namespace}/${p.name}`), ["shop/db", "shop/web", "shop/web-1", "shop/web-2", "tools/debug"]);
  const web = s.services.find((x) => x.name === "web")!;
  assert.equal(web.type, "LoadBalancer");
  assert.deepEqual(web.clusterIPs, ["10.96.10.20", "fd00:96::20"]);
  assert.deepEqual(web.loadBalancerIPs, ["203.0.113.10"]);
  assert.deepEqual(web.ports, [{ name: "http", protocol: "TCP", port: 80, targetPort: "http", nodePort: 30080 }]);
});

test("bad input: one error per object naming file, object and field; the rest still applies", async () => {
  await withDir({
    "00-broken.yaml": "kind: Service\nmetadata: {name: a\n",
    "10-bad-ip.yaml": "apiVersion: v1\nkind: Service\nmetadata: { name: bad-ip, namespace: shop }\nspec:\n  clusterIP: 10.96.0.300\n  ports: [{ port: 80 }]\n",
    "20-bad-port.yaml": "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata: { name: bad-port, namespace: shop }\n    spec:\n      clusterIP: 10.96.0.11\n      ports: [{ name: http, port: 70000 }]\n",
    "30-good.yaml": goodService,
    "40-other.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: shop }\ndata: { a: b }\n",
  }, async (dir) => {
    const s = await loadKubeState(dir);
    assert.equal(s.errors.length, 3, s.errors.map((e) => e.message).join("\n"));
    const [parse, ip, port] = [
      s.errors.find((e) => e.message.includes("00-broken.yaml"))!,
      s.errors.find((e) => e.message.includes("10-bad-ip.yaml"))!,
      s.errors.find((e) => e.message.includes("20-bad-port.yaml"))!,
    ];
    assert.ok(parse instanceof StateFileError);
    assert.match(parse.message, /00-broken\.yaml:\d+:\d+: /);
    assert.ok(ip instanceof InvalidInputError);
    assert.equal(ip.field, "spec.clusterIP");
    assert.match(ip.message, /10-bad-ip\.yaml: Service shop\/bad-ip: spec\.clusterIP: is not a valid IPv4 or IPv6 address \(got "10\.96\.0\.300"\)$/);
    assert.ok(port instanceof InvalidInputError);
    assert.equal(port.field, "spec.ports[0].port");
    assert.match(port.message, /20-bad-port\.yaml\.items\[0\]: Service shop\/bad-port: spec\.ports\[0\]\.port: must be an integer from 1 to 65535 \(got 70000\)$/);
    for (const e of s.errors) assert.ok(!e.message.includes("\n"), "one line");
    // The good service and its slice still apply; the ConfigMap is reported as ignored.
    assert.deepEqual(s.ignored.map((i) => `${i.kind} ${i.namespace}/${i.name}`), ["ConfigMap shop/settings"]);
    const t = translateServices(s);
    assert.deepEqual(t.services.map((x) => [x.name, x.backends.map((b) => `${b.address}:${b.port}`)]), [["shop/web:http/cluster-ip/10.96.0.10", ["10.0.0.1:8080"]]]);
  });
});

test("errors in other kinds: an EndpointSlice address of the wrong family, a Node address, a pod IP, a policy", async () => {
  await withDir({
    "a.yaml": [
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s, namespace: x, labels: { kubernetes.io/service-name: web } }\naddressType: IPv4\nendpoints: [{ addresses: [\"fd00::1\"] }]",
      "apiVersion: v1\nkind: Node\nmetadata: { name: n1 }\nstatus: { addresses: [{ type: InternalIP, address: 300.1.1.1 }] }",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: x }\nstatus: { podIP: nope }",
      "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: { name: bad, namespace: x }\nspec:\n  endpointSelector: {}\n  ingress:\n    - fromCIDR: [10.0.0.300/8]",
    ].join("\n---\n"),
  }, async (dir) => {
    const s = await loadKubeState(dir);
    const messages = s.errors.map((e) => e.message);
    assert.equal(messages.length, 4, messages.join("\n"));
    assert.ok(messages.some((m) => /a\.yaml#0: EndpointSlice x\/s: endpoints\[0\]\.addresses\[0\]: is not an IPv4 address/.test(m)), messages.join("\n"));
    assert.ok(messages.some((m) => /a\.yaml#1: Node n1: status\.addresses\[0\]\.address: /.test(m)));
    assert.ok(messages.some((m) => /a\.yaml#2: Pod x\/p: status\.podIP: /.test(m)));
    assert.ok(messages.some((m) => /a\.yaml#3: CiliumNetworkPolicy x\/bad: .*fromCIDR\[0\]/.test(m)));
  });
});

test("an object defined twice: identical copies count once, different ones are all left out", async () => {
  const a = "apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: x }\nspec: { clusterIP: 10.96.0.1, ports: [{ port: 80 }] }\n";
  const b = a.replace("10.96.0.1", "10.96.0.2");
  await withDir({ "1.yaml": a, "2.yaml": a }, async (dir) => {
    const s = await loadKubeState(dir);
    assert.deepEqual(s.errors, []);
    assert.equal(s.services.length, 1);
  });
  await withDir({ "1.yaml": a, "2.yaml": b }, async (dir) => {
    const s = await loadKubeState(dir);
    assert.equal(s.services.length, 0);
    assert.equal(s.errors.length, 2);
    assert.match(s.errors[0]!.message, /Service x\/web: metadata\.name: is defined more than once with different content/);
  });
});

/** Every object of the example state, one by one. */
function exampleObjects(): unknown[] {
  const out: unknown[] = [];
  for (const name of readdirSync(examples).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(examples, name), "utf8")) as ReturnType<typeof parseAllDocuments> & unknown[]) {
      const value = doc.toJS() as { kind?: string; items?: unknown[] } | null;
      if (!value) continue;
      if (value.kind === "List") out.push(...value.items!);
      else out.push(value);
    }
  }
  return out;
}

async function fingerprint(dir: string): Promise<string> {
  const s = await loadKubeState(dir);
  const t = translateServices(s);
  const p = await applyStatePolicy(s);
  const maps = [...new Set(p.endpoints.map((e) => e.identity))].sort((a, b) => a - b).map((id) => [id, p.cluster.engine.policyMap(id)]);
  return JSON.stringify({ services: t.services, backends: t.backends, endpoints: p.endpoints, ipcache: p.cluster.ipcache(), maps, errors: s.errors.length });
}

test("determinism: the example objects shuffled across files, Lists and documents give identical results", async () => {
  const objects = exampleObjects();
  const expected = await fingerprint(examples);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(), { minLength: objects.length, maxLength: objects.length }), fc.integer({ min: 1, max: 4 }), async (keys, files) => {
      const order = objects.map((o, i) => ({ o, k: keys[i]! })).sort((a, b) => a.k - b.k).map((x) => x.o);
      const contents: Record<string, string> = {};
      order.forEach((o, i) => {
        const file = `f${i % files}.yaml`;
        contents[file] = (contents[file] ? `${contents[file]}---\n` : "") + stringify(i % 2 ? { apiVersion: "v1", kind: "List", items: [o] } : o);
      });
      await withDir(contents, async (dir) => assert.equal(await fingerprint(dir), expected));
    }),
    { numRuns: 8 },
  );
});
