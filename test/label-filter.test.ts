/**
 * The label filter against Cilium's own examples (pkg/labelsfilter
 * filter_test.go: TestDefaultFilterLabels, TestFilterLabels,
 * TestFilterLabelsDocExample) and its default list, plus configuration.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidInputError } from "../src/errors.js";
import {
  createLabelFilter, DEFAULT_LABEL_PATTERNS, defaultLabelFilter, formatLabel, parseLabelPattern, type Label,
} from "../src/identity/index.js";

const label = (source: string, key: string, value = ""): Label => ({ source, key, value });

/** Cilium's allNormalLabels, with source container (Map2Labels(..., LabelSourceContainer)). */
const CILIUM_NORMAL_LABELS: Label[] = Object.entries({
  "io.kubernetes.container.hash": "cf58006d",
  "io.kubernetes.container.name": "POD",
  "io.kubernetes.container.restartCount": "0",
  "io.kubernetes.container.terminationMessagePath": "",
  "io.kubernetes.pod.name": "my-nginx-3800858182-07i3n",
  "io.kubernetes.pod.namespace": "default",
  "app.kubernetes.io": "my-nginx",
  "kubernetes.io.foo": "foo",
  "beta.kubernetes.io.foo": "foo",
  "annotation.kubectl.kubernetes.io": "foo",
  "annotation.hello": "world",
  "annotation.cilium-identity": "12356",
  "io.kubernetes.pod.terminationGracePeriod": "30",
  "io.kubernetes.pod.uid": "c2e22414-dfc3-11e5-9792-080027755f5a",
  "ignore": "foo",
  "ignorE": "foo",
  "annotation.kubernetes.io/config.seen": "2017-05-30T14:22:17.691491034Z",
  "controller-revision-hash": "123456",
}).map(([k, v]) => label("container", k, v));

const keysOf = (labels: readonly Label[]): string[] => labels.map((l) => `${l.source}:${l.key}`).sort();

test("Cilium TestDefaultFilterLabels", () => {
  const filter = createLabelFilter();
  assert.equal(filter.allowList, false, "the default list does not turn allow-list mode on");
  const all = [...CILIUM_NORMAL_LABELS, label("container", "ioXkubernetes", "foo"), label("reserved", "host")];
  assert.equal(filter.filter(all).identity.length, 6);
  all.push(label("container", "id.lizards", "web"), label("k8s", "id.lizards.k8s", "web"));
  const { identity, information } = filter.filter(all);
  assert.deepEqual(keysOf(identity), [
    "container:app.kubernetes.io", "container:id.lizards", "container:ignorE", "container:ignore",
    "container:io.kubernetes.pod.namespace", "container:ioXkubernetes", "k8s:id.lizards.k8s", "reserved:host",
  ]);
  assert.equal(identity.length + information.length, all.length);
});

test("Cilium TestFilterLabels: extra patterns turn allow-list mode on", () => {
  const filter = createLabelFilter({ labels: [":!ignor[eE]", "id.*", "foo"] });
  assert.equal(filter.allowList, true);
  const all = [...CILIUM_NORMAL_LABELS];
  assert.equal(filter.filter(all).identity.length, 2);
  all.push(label("container", "id.lizards", "web"), label("k8s", "id.lizards.k8s", "web"));
  assert.equal(filter.filter(all).identity.length, 4);
  // "foo" is a prefix, so "foo2..." matches...
  all.push(label("k8s", "foo2.lizards.k8s", "web"));
  assert.equal(filter.filter(all).identity.length, 5);
  // ...but only at the start of the key.
  all.push(label("k8s", "lizards.foo.lizards.k8s", "web"));
  const { identity } = filter.filter(all);
  assert.deepEqual(keysOf(identity), [
    "container:app.kubernetes.io", "container:id.lizards", "container:io.kubernetes.pod.namespace",
    "k8s:foo2.lizards.k8s", "k8s:id.lizards.k8s",
  ]);
});

test("Cilium TestFilterLabelsDocExample: sourced patterns", () => {
  const filter = createLabelFilter({ labels: ["k8s:io.kubernetes.pod.namespace", "k8s:k8s-app", "k8s:app", "k8s:name"] });
  const all = ["io.cilium.k8s.namespace.labels", "k8s-app-team", "app-production", "name-defined"].map((k) => label("k8s", k, "foo"));
  assert.equal(filter.filter(all).identity.length, 4);
  all.push(label("reserved", "host"));
  assert.equal(filter.filter(all).identity.length, 5, "reserved labels are included");
  all.push(label("any", "io.kubernetes.pod.namespace", "docker"));
  assert.equal(filter.filter(all).identity.length, 6, "the default list's pattern has no source");
  all.push(label("container", "k8s-app-role", "foo"));
  assert.equal(filter.filter(all).identity.length, 6, "k8s: patterns need source k8s");
});

test("defaults: which Kubernetes labels decide an identity", () => {
  const filter = defaultLabelFilter();
  const table: Array<[string, boolean]> = [
    ["reserved:host", true],
    ["reserved:world", true],
    ["k8s:app=web", true],
    ["k8s:io.kubernetes.pod.namespace=default", true],
    ["k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default", true],
    ["k8s:io.cilium.k8s.namespace.labels.team=a", true],
    ["k8s:app.kubernetes.io/name=web", true],
    ["k8s:app.kubernetes.io/part-of=shop", true],
    ["k8s:io.cilium.k8s.policy.cluster=default", true],
    ["k8s:io.cilium.k8s.policy.serviceaccount=web", true],
    // Only keys *starting* with an excluded prefix are dropped.
    ["k8s:topology.kubernetes.io/zone=a", true],
    ["k8s:batch.kubernetes.io/job-name=nightly", true],
    ["k8s:io.kubernetes.pod.name=web-0", false],
    ["k8s:io.kubernetes.pod.uid=1234", false],
    ["k8s:kubernetes.io/hostname=node1", false],
    ["k8s:beta.kubernetes.io/arch=amd64", false],
    ["k8s:failure-domain.beta.kubernetes.io/zone=a", false],
    ["k8s:k8s.io/cluster-service=true", false],
    ["k8s:statefulset.kubernetes.io/pod-name=web-0", false],
    ["k8s:apps.kubernetes.io/pod-index=0", false],
    ["k8s:batch.kubernetes.io/job-completion-index=3", false],
    ["k8s:pod-template-generation=4", false],
    ["k8s:pod-template-hash=7d9f8", false],
    ["k8s:controller-revision-hash=abc", false],
    ["container:annotation.foo=bar", false],
    ["k8s:etcd_node=x", false],
  ];
  const texts = table.map(([t]) => t);
  const kept = new Set(filter.filterStrings(texts));
  for (const [text, expected] of table) assert.equal(kept.has(text), expected, text);
  assert.equal(DEFAULT_LABEL_PATTERNS[0], "reserved:.*");
  assert.equal(DEFAULT_LABEL_PATTERNS.length, 17);
});

test("longest inclusive match beats shortest exclusive match", () => {
  // Cilium's comment: with {!foo, foo.bar}, foo.bar... is kept.
  const filter = createLabelFilter({ prefixFile: { version: 1, "valid-prefixes": [] }, labels: ["!foo", "foo\\.bar"] });
  assert.equal(filter.accepts(label("k8s", "foo.bar.baz")), true);
  assert.equal(filter.accepts(label("k8s", "foo.baz")), false);
  assert.equal(filter.accepts(label("k8s", "other")), false, "allow-list mode: nothing included it");
  const onlyExclusions = createLabelFilter({ labels: ["k8s:!team"] });
  assert.equal(onlyExclusions.allowList, false);
  assert.equal(onlyExclusions.accepts(label("k8s", "team", "a")), false);
  assert.equal(onlyExclusions.accepts(label("container", "team", "a")), true, "the pattern names source k8s");
  assert.equal(onlyExclusions.accepts(label("k8s", "other", "a")), true);
});

test("a label prefix file replaces the defaults; its entries are plain prefixes", () => {
  const filter = createLabelFilter({
    prefixFile: {
      version: 1,
      "valid-prefixes": [
        { source: "k8s", prefix: "app" },
        { source: "k8s", prefix: "a.p" },
        { source: "k8s", prefix: "app.secret", invert: true },
        { source: "reserved", prefix: "h" },
      ],
    },
  });
  assert.equal(filter.allowList, true);
  const kept = filter.filterStrings([
    "k8s:app=web", "k8s:app.kubernetes.io/name=web", "k8s:abp=x", "k8s:a.p=x", "k8s:app.secret.token=1",
    "k8s:io.kubernetes.pod.namespace=default", "reserved:host", "reserved:world", "container:app=x",
  ]);
  assert.deepEqual(kept, ["k8s:app=web", "k8s:app.kubernetes.io/name=web", "k8s:a.p=x", "reserved:host"]);
});

test("bad patterns and files are named", () => {
  const throwsAt = (fn: () => unknown, field: string) =>
    assert.throws(fn, (e: unknown) => e instanceof InvalidInputError && e.field === field, field);
  throwsAt(() => createLabelFilter({ labels: ["k8s:"] }), "labels[0]");
  throwsAt(() => createLabelFilter({ labels: ["ok", "k8s:(unclosed"] }), "labels[1]");
  throwsAt(() => createLabelFilter({ labels: [42 as unknown as string] }), "labels[0]");
  throwsAt(() => createLabelFilter({ prefixFile: { version: 2 } as never }), "prefixFile.version");
  throwsAt(() => createLabelFilter({ prefixFile: { version: 1, "valid-prefixes": [{ prefix: "a" }] } as never }),
    "prefixFile.valid-prefixes[0].source");
  throwsAt(() => createLabelFilter({ prefixFile: { version: 1, "valid-prefixes": [{ prefix: "", source: "k8s" }] } }),
    "prefixFile.valid-prefixes[0].prefix");
  throwsAt(() => defaultLabelFilter().filterStrings(["k8s:app=web", "K8S:x"]), "labels[1]");
  // Empty entries are skipped, as Cilium does.
  assert.equal(createLabelFilter({ labels: [""] }).allowList, false);
  assert.deepEqual(parseLabelPattern("k8s:!io\\.foo"), { source: "k8s", prefix: "io\\.foo", ignore: true, regex: /io\.foo/y });
});

test("filterStrings keeps Cilium's text form and input order", () => {
  const kept = defaultLabelFilter().filterStrings(["k8s:zeta", "k8s:pod-template-hash=1", "$host", "k8s:alpha=", "app=x"]);
  assert.deepEqual(kept, ["k8s:zeta", "reserved:host", "k8s:alpha", "unspec:app=x"]);
  assert.equal(formatLabel(label("k8s", "alpha")), "k8s:alpha");
});
