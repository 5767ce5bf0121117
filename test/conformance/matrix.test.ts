/**
 * Unit tests of the conformance harness itself: the truth-table and
 * reachability helpers (same behaviour as upstream's), the model, the case
 * loader, the runner (on stub clusters), and the k8s-netpol data checked
 * against an independent reference NetworkPolicy evaluator. None of it
 * needs wasmplane's cluster API.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Reachability, TruthTable, peerMatches, splitPod } from "./support/truth-table.js";
import { ALL_PODS, Model, podIp, portName } from "./support/model.js";
import { CaseFormatError, expectedReachability, readCaseFile, type ConformanceCase } from "./support/cases.js";
import { flowProblems, runCase, verdictProblems } from "./support/run.js";
import type { ClusterLike, FlowQuery, ReachabilityResult, Verdict } from "./support/cluster.js";
import { ReferenceKnpCluster } from "./support/reference-knp.js";
import { loadCases } from "./support/suite.js";

const NAMES = { pods: ALL_PODS, namespaces: ["x", "y", "z"] };

/** The pairs of a table that hold `value`, as "from>to" strings. */
function pairs(t: TruthTable, value: boolean): string[] {
  const out: string[] = [];
  for (const f of t.froms) for (const to of t.tos) if (t.peek(f, to) === value) out.push(`${f}>${to}`);
  return out;
}

describe("truth table", () => {
  test("starts at the default, or unset without one", () => {
    const t = TruthTable.square(["x/a", "x/b"], true);
    assert.equal(t.isComplete(), true);
    assert.equal(t.get("x/a", "x/b"), true);
    const u = TruthTable.square(["x/a", "x/b"]);
    assert.equal(u.isComplete(), false);
    assert.equal(u.peek("x/a", "x/b"), undefined);
    assert.throws(() => u.get("x/a", "x/b"), /no value/);
  });

  test("set, setAllFrom and setAllTo touch exactly their pairs; unknown keys throw", () => {
    const t = TruthTable.square(["x/a", "x/b", "x/c"], true);
    t.set("x/a", "x/b", false);
    assert.deepEqual(pairs(t, false), ["x/a>x/b"]);
    t.setAllTo("x/c", false);
    assert.deepEqual(pairs(t, false), ["x/a>x/b", "x/a>x/c", "x/b>x/c", "x/c>x/c"]);
    t.setAllFrom("x/c", false);
    assert.deepEqual(pairs(t, false), ["x/a>x/b", "x/a>x/c", "x/b>x/c", "x/c>x/a", "x/c>x/b", "x/c>x/c"]);
    assert.throws(() => t.set("q/q", "x/a", true), /from-key/);
    assert.throws(() => t.set("x/a", "q/q", true), /to-key/);
    assert.throws(() => t.setAllTo("q/q", true), /to-key/);
  });

  test("compare is true where both agree and refuses different keys", () => {
    const a = TruthTable.square(["x/a", "x/b"], true);
    const b = TruthTable.square(["x/a", "x/b"], true);
    b.set("x/b", "x/a", false);
    assert.deepEqual(pairs(a.compare(b), false), ["x/b>x/a"]);
    assert.throws(() => a.compare(TruthTable.square(["x/a"], true)), /different keys/);
  });

  test("prettyPrint draws an upstream-style table", () => {
    const t = TruthTable.square(["x/a", "x/b"], true);
    t.set("x/a", "x/b", false);
    assert.equal(t.prettyPrint(), ["-    x/a  x/b", "x/a  .    X", "x/b  .    ."].join("\n"));
    assert.equal(TruthTable.square(["x/a"]).prettyPrint(">"), [">-    x/a", ">x/a  ?"].join("\n"));
  });
});

describe("reachability helpers (upstream semantics)", () => {
  test("peers: an empty field matches anything", () => {
    assert.equal(peerMatches({}, "x/a"), true);
    assert.equal(peerMatches({ namespace: "x" }, "x/a"), true);
    assert.equal(peerMatches({ namespace: "y" }, "x/a"), false);
    assert.equal(peerMatches({ pod: "a" }, "z/a"), true);
    assert.equal(peerMatches({ namespace: "z", pod: "b" }, "z/a"), false);
    assert.throws(() => splitPod("x"), /ns\/pod/);
    assert.throws(() => splitPod("x/a/b"), /ns\/pod/);
  });

  test("ExpectPeer({}, {Namespace: x}, false) denies every pair into x", () => {
    const r = new Reachability(ALL_PODS, true);
    r.expectPeer({}, { namespace: "x" }, false);
    const denied = pairs(r.expected, false);
    assert.equal(denied.length, 27);
    assert.ok(denied.every((p) => p.split(">")[1]!.startsWith("x/")));
  });

  test("ExpectPeer with namespace and pod on both sides sets one pair", () => {
    const r = new Reachability(ALL_PODS, true);
    r.expectPeer({ namespace: "x", pod: "a" }, { namespace: "y", pod: "b" }, false);
    assert.deepEqual(pairs(r.expected, false), ["x/a>y/b"]);
  });

  test("ExpectAllIngress then Expect re-opens one pair, in call order", () => {
    const r = new Reachability(ALL_PODS, true);
    r.expectAllIngress("x/a", false);
    r.expect("x/b", "x/a", true);
    assert.deepEqual(
      pairs(r.expected, false),
      ALL_PODS.filter((p) => p !== "x/b").map((p) => `${p}>x/a`),
    );
    const later = new Reachability(ALL_PODS, true);
    later.expect("x/b", "x/a", true);
    later.expectAllIngress("x/a", false);
    assert.equal(pairs(later.expected, false).length, 9, "a later call overrides an earlier one");
  });

  test("ExpectAllEgress denies every pair out of a pod, AllowLoopback re-opens self pairs", () => {
    const r = new Reachability(ALL_PODS, true);
    r.expectAllEgress("y/c", false);
    assert.equal(pairs(r.expected, false).length, 9);
    r.allowLoopback();
    assert.deepEqual(pairs(r.expected, false).includes("y/c>y/c"), false);
    assert.equal(pairs(r.expected, false).length, 8);
  });

  test("a default-false table starts denied everywhere", () => {
    const r = new Reachability(["x/a", "x/b"], false);
    assert.equal(pairs(r.expected, true).length, 0);
  });

  test("summary counts, ignoring loopback when asked; report shows all three tables", () => {
    const r = new Reachability(["x/a", "x/b"], true);
    r.observe("x/a", "x/a", false);
    r.observe("x/a", "x/b", true);
    r.observe("x/b", "x/a", false);
    assert.throws(() => r.summary(true), /not complete/);
    r.observe("x/b", "x/b", true);
    assert.deepEqual(
      (({ correct, incorrect, ignored }) => ({ correct, incorrect, ignored }))(r.summary(true)),
      { correct: 1, incorrect: 1, ignored: 2 },
    );
    assert.equal(r.summary(false).incorrect, 2);
    const report = r.report(true);
    assert.match(report, /correct 1, incorrect 1, ignored 2/);
    assert.match(report, /expected[^\n]*\n-    x\/a  x\/b\n|expected \(. allowed, X denied\):\n {2}- {4}x\/a {2}x\/b/);
    assert.match(report, /comparison[^\n]*\n[^\n]*\n {2}x\/a {2}~ {4}\.\n {2}x\/b {2}X {4}\./);
  });
});

describe("model", () => {
  test("nine pods, deterministic IPs, upstream port names", () => {
    assert.deepEqual(ALL_PODS, ["x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"]);
    assert.equal(podIp("x/a"), "10.0.0.10");
    assert.equal(podIp("y/b"), "10.0.1.11");
    assert.equal(podIp("z/c"), "10.0.2.12");
    assert.throws(() => podIp("w/a"), /not a model pod/);
    assert.equal(portName(81, "SCTP"), "serve-81-sctp");
  });

  test("objects: labelled namespaces and pods with six named container ports", () => {
    const m = new Model();
    const list = m.objects() as { kind: string; items: Array<Record<string, any>> };
    assert.equal(list.kind, "List");
    assert.equal(list.items.length, 12);
    const ns = list.items[0]!;
    assert.deepEqual(ns.metadata, { name: "x", labels: { ns: "x", "kubernetes.io/metadata.name": "x" } });
    const pod = list.items.find((o) => o.kind === "Pod" && o.metadata.name === "b" && o.metadata.namespace === "y")!;
    assert.deepEqual(pod.metadata.labels, { pod: "b" });
    assert.equal(pod.status.podIP, "10.0.1.11");
    const ports = pod.spec.containers.flatMap((c: any) => c.ports);
    assert.equal(ports.length, 6);
    assert.deepEqual(ports[0], { containerPort: 80, name: "serve-80-tcp", protocol: "TCP" });
    for (const p of ports) assert.ok(p.name.length <= 15, "IANA service names are at most 15 characters");
  });

  test("label changes merge, remove and return the object to apply", () => {
    const m = new Model();
    const pod = m.addPodLabels("x/b", { pod2: "updated" }) as Record<string, any>;
    assert.deepEqual(pod.metadata.labels, { pod: "b", pod2: "updated" });
    assert.deepEqual((m.removePodLabels("x/b", ["pod2"]) as Record<string, any>).metadata.labels, { pod: "b" });
    const ns = m.addNamespaceLabels("y", { ns2: "updated" }) as Record<string, any>;
    assert.deepEqual(ns.metadata.labels, { ns: "y", "kubernetes.io/metadata.name": "y", ns2: "updated" });
    assert.deepEqual(m.labelsOfNamespace("z"), { ns: "z", "kubernetes.io/metadata.name": "z" });
    assert.deepEqual((m.removeNamespaceLabels("y", ["ns2"]) as Record<string, any>).metadata.labels.ns2, undefined);
  });
});

describe("case loader", () => {
  const valid = {
    suite: "s",
    cases: [
      {
        name: "c",
        steps: [
          {
            do: [{ apply: { kind: "NetworkPolicy", metadata: { name: "p", namespace: "x" }, spec: {} } }, { addPodLabels: { pod: "x/a", labels: { k: "v" } } }],
            probes: [{ port: 80, protocol: "TCP", expect: [{ expectPeer: [{}, { namespace: "x" }, false] }, { expect: ["x/b", "x/a", true] }] }],
          },
        ],
      },
    ],
  };

  test("reads a valid file with defaults filled in", () => {
    const file = readCaseFile(structuredClone(valid), "f.yaml", NAMES);
    const c = file.cases[0]!;
    assert.equal(c.upstream, true);
    assert.equal(c.ignoreLoopback, true);
    assert.equal(c.steps[0]!.probes[0]!.default, true);
    assert.deepEqual(c.steps[0]!.flows, []);
    assert.equal(c.steps[0]!.do.length, 2);
    const r = expectedReachability(ALL_PODS, c.steps[0]!.probes[0]!);
    assert.equal(pairs(r.expected, false).length, 26);
    assert.equal(r.expected.get("x/b", "x/a"), true);
  });

  const broken: Array<[string, (v: any) => void, RegExp]> = [
    ["an unknown top-level key", (v) => (v.extra = 1), /unknown key "extra"/],
    ["an unknown expectation", (v) => (v.cases[0].steps[0].probes[0].expect = [{ expectAll: ["x/a", false] }]), /unknown key "expectAll"/],
    ["two expectations in one entry", (v) => (v.cases[0].steps[0].probes[0].expect = [{ expect: ["x/a", "x/b", true], allowLoopback: true }]), /exactly one/],
    ["a pod outside the model", (v) => (v.cases[0].steps[0].probes[0].expect = [{ expectAllIngress: ["w/a", false] }]), /w\/a is not a model pod/],
    ["a malformed pod", (v) => (v.cases[0].steps[0].probes[0].expect = [{ expect: ["xa", "x/b", true] }]), /must be ns\/pod/],
    ["a peer namespace outside the model", (v) => (v.cases[0].steps[0].probes[0].expect = [{ expectPeer: [{ namespace: "q" }, {}, true] }]), /q is not a model namespace/],
    ["a non-boolean verdict", (v) => (v.cases[0].steps[0].probes[0].expect = [{ expect: ["x/a", "x/b", "yes"] }]), /true or false/],
    ["a bad protocol", (v) => (v.cases[0].steps[0].probes[0].protocol = "ICMP"), /one of TCP, UDP, SCTP/],
    ["a bad port", (v) => (v.cases[0].steps[0].probes[0].port = 0), /integer from 1 to 65535/],
    ["a step that checks nothing", (v) => (v.cases[0].steps[0].probes = []), /must check something/],
    ["an unknown action", (v) => (v.cases[0].steps[0].do = [{ patch: {} }]), /unknown key "patch"/],
    ["an object without a name", (v) => (v.cases[0].steps[0].do = [{ apply: { kind: "Pod", metadata: {} } }]), /metadata\.name/],
    ["a duplicate case name", (v) => v.cases.push(structuredClone(v.cases[0])), /appears twice/],
    ["a flow that checks nothing", (v) => (v.cases[0].steps[0].flows = [{ from: "x/a", to: "1.2.3.4", port: 80, protocol: "TCP" }]), /at least one of allowed/],
    ["a bad reason", (v) => (v.cases[0].steps[0].flows = [{ from: "x/a", to: "x/b", port: 80, protocol: "TCP", ingress: { reason: "nope" } }]), /reason/],
    ["an empty rule expectation", (v) => (v.cases[0].steps[0].flows = [{ from: "x/a", to: "x/b", port: 80, protocol: "TCP", ingress: { rules: [{}] } }]), /at least one of policy/],
  ];
  for (const [what, mutate, message] of broken) {
    test(`rejects ${what}, naming where`, () => {
      const v = structuredClone(valid);
      mutate(v);
      assert.throws(() => readCaseFile(v, "f.yaml", NAMES), (e: unknown) => e instanceof CaseFormatError && message.test(e.message) && e.message.startsWith("f.yaml"));
    });
  }

  test("a file-level upstream flag is the default of its cases", () => {
    const v = structuredClone(valid) as any;
    v.upstream = false;
    v.cases.push({ ...structuredClone(v.cases[0]), name: "d", upstream: true });
    const file = readCaseFile(v, "f.yaml", NAMES);
    assert.deepEqual(file.cases.map((c) => c.upstream), [false, true]);
  });

  test("todo and note are carried; todo must be text", () => {
    const v = structuredClone(valid) as any;
    v.cases[0].todo = "known disagreement";
    v.cases[0].note = "n";
    const c = readCaseFile(v, "f.yaml", NAMES).cases[0]!;
    assert.equal(c.todo, "known disagreement");
    assert.equal(c.note, "n");
    v.cases[0].todo = true;
    assert.throws(() => readCaseFile(v, "f.yaml", NAMES), /todo: must be a non-empty string/);
  });

  test("flow endpoints may be IP addresses", () => {
    const v = structuredClone(valid) as any;
    v.cases[0].steps[0].flows = [{ from: "192.0.2.1", to: "x/a", port: 80, protocol: "TCP", allowed: false, ingress: { rules: [{ index: -1 }] } }];
    const flow = readCaseFile(v, "f.yaml", NAMES).cases[0]!.steps[0]!.flows[0]!;
    assert.equal(flow.from, "192.0.2.1");
    assert.deepEqual(flow.ingress, { rules: [{ index: -1 }] });
  });
});

/** A stub cluster: records calls, decides flows with `decide`. */
class StubCluster implements ClusterLike {
  readonly applied: unknown[] = [];
  readonly deleted: unknown[] = [];
  constructor(private readonly decide: (q: FlowQuery) => boolean) {}
  apply(o: unknown): void {
    this.applied.push(o);
  }
  delete(o: unknown): void {
    this.deleted.push(o);
  }
  reachability(q: FlowQuery): ReachabilityResult {
    const allowed = this.decide(q);
    const v: Verdict = { verdict: allowed ? "allow" : "deny", reason: allowed ? "allowed" : "default-deny", proxy: false, rules: [{ policy: "knp/x/p", rule: 0, section: "ingress", index: 2 }] };
    return { allowed, egress: { ...v, reason: "not-enforced", verdict: "allow", rules: [] }, ingress: v };
  }
}

function oneCase(extra: Partial<Record<string, unknown>>): ConformanceCase {
  const file = readCaseFile({ suite: "s", cases: [{ name: "c", ...extra }] }, "f.yaml", NAMES);
  return file.cases[0]!;
}

describe("runner", () => {
  const isolateXA = oneCase({
    steps: [
      {
        do: [
          { apply: { kind: "NetworkPolicy", metadata: { name: "p", namespace: "x" }, spec: {} } },
          { addNamespaceLabels: { namespace: "y", labels: { ns2: "updated" } } },
        ],
        probes: [{ port: 80, protocol: "TCP", expect: [{ expectAllIngress: ["x/a", false] }] }],
      },
      { do: [{ deleteAllPolicies: true }], probes: [{ port: 80, protocol: "TCP" }] },
    ],
  });

  test("passes when the cluster matches, applying the model, actions and cleanup in order", () => {
    let policyLive = false;
    const cluster = new StubCluster((q) => !(policyLive && q.to === "x/a"));
    const origApply = cluster.apply.bind(cluster);
    cluster.apply = (o: any) => {
      origApply(o);
      if (o?.kind === "NetworkPolicy") policyLive = true;
    };
    const origDelete = cluster.delete.bind(cluster);
    cluster.delete = (o: any) => {
      origDelete(o);
      policyLive = false;
    };
    assert.equal(runCase(isolateXA, cluster), undefined);
    assert.equal((cluster.applied[0] as any).kind, "List");
    assert.equal((cluster.applied[2] as any).kind, "Namespace");
    assert.deepEqual((cluster.applied[2] as any).metadata.labels.ns2, "updated");
    assert.deepEqual((cluster.deleted[0] as any[]).map((o) => o.metadata.name), ["p"]);
  });

  test("fails with expected, observed and comparison tables when the cluster differs", () => {
    const report = runCase(isolateXA, new StubCluster(() => true));
    assert.ok(report);
    assert.match(report, /step 1, probe TCP\/80/);
    assert.match(report, /incorrect 8/);
    assert.match(report, /expected \(\. allowed, X denied\):/);
    assert.match(report, /observed:/);
    assert.match(report, /comparison/);
    assert.doesNotMatch(report, /step 2/);
  });

  test("loopback pairs are ignored by default and checked on request", () => {
    const c = (ignoreLoopback: boolean) =>
      oneCase({ ignoreLoopback, steps: [{ probes: [{ port: 80, protocol: "TCP", expect: [{ expectAllIngress: ["x/a", false] }] }] }] });
    const cluster = () => new StubCluster((q) => q.to !== "x/a" || q.from === "x/a");
    assert.equal(runCase(c(true), cluster()), undefined);
    assert.match(runCase(c(false), cluster()) ?? "", /incorrect 1/);
  });

  test("flows check allowed, verdict, reason, proxy and rules by the fields given", () => {
    const actual: ReachabilityResult = {
      allowed: false,
      egress: { verdict: "allow", reason: "not-enforced", proxy: false, rules: [] },
      ingress: { verdict: "deny", reason: "policy-deny", proxy: false, rules: [{ policy: "cnp/x/d", rule: 0, section: "ingressDeny", index: 1 }] },
    };
    const base = { from: "x/b", to: "x/a", port: 80, protocol: "TCP" as const };
    assert.deepEqual(flowProblems({ ...base, allowed: false, ingress: { verdict: "deny", reason: "policy-deny", rules: [{ policy: "cnp/x/d", section: "ingressDeny" }] } }, actual), []);
    assert.deepEqual(flowProblems({ ...base, egress: { reason: "not-enforced" } }, actual), []);
    assert.deepEqual(flowProblems({ ...base, allowed: true }, actual), ["allowed: expected true, got false"]);
    assert.match(flowProblems({ ...base, ingress: { reason: "default-deny" } }, actual)[0]!, /ingress\.reason: expected "default-deny", got "policy-deny"/);
    assert.match(flowProblems({ ...base, ingress: { rules: [{ index: 0 }] } }, actual)[0]!, /ingress\.rules: expected one matching \{"index":0\}/);
    assert.deepEqual(verdictProblems("egress", actual.egress, { proxy: true }), ["egress.proxy: expected true, got false"]);
  });

  test("a failing flow is reported with the actual verdicts", () => {
    const c = oneCase({ steps: [{ flows: [{ from: "x/b", to: "x/a", port: 80, protocol: "TCP", ingress: { reason: "policy-deny" } }] }] });
    const report = runCase(c, new StubCluster(() => false));
    assert.match(report ?? "", /flow x\/b -> x\/a TCP\/80:\n {2}ingress\.reason: expected "policy-deny", got "default-deny"/);
    assert.match(report ?? "", /ingress: deny\/default-deny rules=/);
  });
});

describe("case data", () => {
  const k8s = loadCases("k8s-netpol");
  const cilium = loadCases("cilium-deny");

  test("k8s-netpol: at least 40 upstream cases, unique within each suite", () => {
    const upstream = k8s.flatMap((f) => f.cases.filter((c) => c.upstream));
    assert.ok(upstream.length >= 40, `only ${upstream.length} upstream cases`);
    for (const f of k8s) assert.equal(new Set(f.cases.map((c) => c.name)).size, f.cases.length);
  });

  test("cilium-deny: every case checks flows or matrices, and some check the deciding rules", () => {
    const cases = cilium.flatMap((f) => f.cases);
    assert.ok(cases.length >= 15, `only ${cases.length} cases`);
    assert.ok(cases.every((c) => !c.upstream), "cilium-deny cases are written by wasmplane, not upstream titles");
    const withRules = cases.filter((c) => c.steps.some((s) => s.flows.some((f) => f.ingress?.rules || f.egress?.rules)));
    assert.ok(withRules.length >= 5, `only ${withRules.length} cases check rules`);
  });

  describe("k8s-netpol data agrees with an independent reference NetworkPolicy evaluator", () => {
    for (const file of k8s) {
      for (const c of file.cases) {
        test(`${file.file}: ${c.name}`, () => {
          const report = runCase(c, new ReferenceKnpCluster());
          if (report !== undefined) assert.fail(report);
        });
      }
    }
  });
});
