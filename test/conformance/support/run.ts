/**
 * Runs one conformance case against a cluster: a fresh cluster with the
 * model's namespaces and pods, then each step's actions, probes (the full
 * pod x pod matrix through `reachability()`) and flows. Every mismatch of
 * the case is collected; the case fails once, at the end, with the expected,
 * observed and comparison tables of every failing probe (upstream style)
 * and the expected and actual verdicts of every failing flow.
 *
 * @module
 */
import type { ClusterLike, ReachabilityResult, Verdict } from "./cluster.js";
import { expectedReachability, type Action, type ConformanceCase, type Flow, type KubeObject, type RuleExpectation, type VerdictExpectation } from "./cases.js";
import { Model } from "./model.js";

const POLICY_KINDS = new Set(["NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);

/** The key the cluster upserts by: kind, namespace, name. */
function objectKey(o: KubeObject): string {
  const meta = (o.metadata ?? {}) as Record<string, unknown>;
  const namespaced = o.kind !== "Namespace" && o.kind !== "CiliumClusterwideNetworkPolicy";
  const ns = namespaced ? String(meta.namespace ?? "default") : "";
  return `${String(o.kind)}/${ns}/${String(meta.name)}`;
}

/** The state of one running case: the cluster, the model, and the policies applied so far. */
export class CaseRun {
  readonly model = new Model();
  private readonly policies = new Map<string, KubeObject>();

  constructor(readonly cluster: ClusterLike) {
    cluster.apply(this.model.objects());
  }

  act(a: Action): void {
    if ("apply" in a) {
      this.cluster.apply(a.apply.length === 1 ? a.apply[0] : a.apply);
      for (const o of a.apply) if (POLICY_KINDS.has(String(o.kind))) this.policies.set(objectKey(o), o);
    } else if ("delete" in a) {
      this.cluster.delete(a.delete.length === 1 ? a.delete[0] : a.delete);
      for (const o of a.delete) this.policies.delete(objectKey(o));
    } else if ("deleteAllPolicies" in a) {
      const all = [...this.policies.values()];
      if (all.length > 0) this.cluster.delete(all);
      this.policies.clear();
    } else if ("addPodLabels" in a) {
      this.cluster.apply(this.model.addPodLabels(a.addPodLabels.pod, a.addPodLabels.labels));
    } else if ("removePodLabels" in a) {
      this.cluster.apply(this.model.removePodLabels(a.removePodLabels.pod, a.removePodLabels.keys));
    } else if ("addNamespaceLabels" in a) {
      this.cluster.apply(this.model.addNamespaceLabels(a.addNamespaceLabels.namespace, a.addNamespaceLabels.labels));
    } else {
      this.cluster.apply(this.model.removeNamespaceLabels(a.removeNamespaceLabels.namespace, a.removeNamespaceLabels.keys));
    }
  }
}

/** Whether an actual rule has every field an expected one gives. */
function ruleMatches(actual: Verdict["rules"][number], expected: RuleExpectation): boolean {
  return (Object.keys(expected) as Array<keyof RuleExpectation>).every((k) => actual[k] === expected[k]);
}

/** The differences between a verdict and what was expected of it (empty when it conforms). */
export function verdictProblems(side: string, actual: Verdict, expected: VerdictExpectation): string[] {
  const problems: string[] = [];
  for (const field of ["verdict", "reason", "proxy"] as const) {
    if (expected[field] !== undefined && actual[field] !== expected[field]) {
      problems.push(`${side}.${field}: expected ${JSON.stringify(expected[field])}, got ${JSON.stringify(actual[field])}`);
    }
  }
  for (const rule of expected.rules ?? []) {
    if (!actual.rules.some((r) => ruleMatches(r, rule))) {
      problems.push(`${side}.rules: expected one matching ${JSON.stringify(rule)}, got ${JSON.stringify(actual.rules)}`);
    }
  }
  return problems;
}

/** The differences between a flow's result and the flow's expectations. */
export function flowProblems(f: Flow, actual: ReachabilityResult): string[] {
  const problems: string[] = [];
  if (f.allowed !== undefined && actual.allowed !== f.allowed) problems.push(`allowed: expected ${f.allowed}, got ${actual.allowed}`);
  if (f.egress) problems.push(...verdictProblems("egress", actual.egress, f.egress));
  if (f.ingress) problems.push(...verdictProblems("ingress", actual.ingress, f.ingress));
  return problems;
}

const describeVerdict = (v: Verdict): string =>
  `${v.verdict}/${v.reason}${v.proxy ? " proxy" : ""} rules=${JSON.stringify(v.rules)}`;

/** Runs every step of a case on `cluster`; returns the failure report, or `undefined` when the case conforms. */
export function runCase(c: ConformanceCase, cluster: ClusterLike): string | undefined {
  const run = new CaseRun(cluster);
  const failures: string[] = [];
  c.steps.forEach((step, si) => {
    const stepName = `step ${si + 1}${step.by ? ` (${step.by})` : ""}`;
    for (const a of step.do) run.act(a);
    for (const probe of step.probes) {
      const r = expectedReachability(run.model.pods, probe);
      for (const from of run.model.pods) {
        for (const to of run.model.pods) {
          r.observe(from, to, cluster.reachability({ from, to, port: probe.port, protocol: probe.protocol }).allowed);
        }
      }
      if (r.summary(c.ignoreLoopback).incorrect > 0) {
        failures.push(`${stepName}, probe ${probe.protocol}/${probe.port}:\n${r.report(c.ignoreLoopback)}`);
      }
    }
    for (const f of step.flows) {
      const actual = cluster.reachability({ from: f.from, to: f.to, port: f.port, protocol: f.protocol });
      const problems = flowProblems(f, actual);
      if (problems.length > 0) {
        failures.push(
          `${stepName}, flow ${f.from} -> ${f.to} ${f.protocol}/${f.port}:\n  ${problems.join("\n  ")}\n` +
            `  actual: allowed=${actual.allowed}\n    egress:  ${describeVerdict(actual.egress)}\n    ingress: ${describeVerdict(actual.ingress)}`,
        );
      }
    }
  });
  if (failures.length === 0) return undefined;
  return `case ${JSON.stringify(c.name)} does not conform:\n\n${failures.join("\n\n")}`;
}
