/**
 * The policy part of `wasmplane demo`: a small built-in cluster (two
 * namespaces, four pods, a NetworkPolicy, a CiliumNetworkPolicy and a
 * clusterwide deny) and a few flows through it, each with its verdict and
 * the rule that decided it. It shows Cilium 1.9's headline: a deny policy
 * beats every allow, however specific.
 *
 * @module
 */
import { createCluster, type Reachability } from "../index.js";

const pod = (namespace: string, name: string, app: string, ip: string, port?: { name: string; port: number }) => ({
  apiVersion: "v1", kind: "Pod",
  metadata: { name, namespace, labels: { app } },
  spec: { containers: [{ name: app, ports: port ? [{ name: port.name, containerPort: port.port }] : [] }] },
  status: { podIP: ip },
});

/** The built-in state: what `kubectl get -o yaml` would give for it, trimmed. */
export const DEMO_STATE: readonly unknown[] = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop", labels: { team: "shop" } } },
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "tools", labels: { team: "tools" } } },
  pod("shop", "web", "web", "10.244.1.10", { name: "http", port: 8080 }),
  pod("shop", "db", "db", "10.244.1.11", { name: "postgres", port: 5432 }),
  pod("shop", "worker", "worker", "10.244.1.12"),
  pod("tools", "debug", "debug", "10.244.2.20"),
  {
    apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
    metadata: { name: "db-from-web", namespace: "shop" },
    spec: { podSelector: { matchLabels: { app: "db" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ port: "postgres" }] }] },
  },
  {
    apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy",
    metadata: { name: "web-open", namespace: "shop" },
    spec: { endpointSelector: { matchLabels: { app: "web" } }, ingress: [{ fromEntities: ["all"], toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }] },
  },
  {
    apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy",
    metadata: { name: "quarantine-tools" },
    spec: {
      endpointSelector: {}, enableDefaultDeny: { ingress: false },
      ingressDeny: [{ fromEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "tools" } }] }],
    },
  },
];

/** The flows the demo checks. */
const FLOWS = [
  { from: "shop/web", to: "shop/db", port: 5432, why: "the NetworkPolicy allows web on the named port" },
  { from: "shop/worker", to: "shop/db", port: 5432, why: "nothing allows worker: default deny" },
  { from: "203.0.113.7", to: "shop/web", port: 8080, why: "entity all lets the world reach web" },
  { from: "tools/debug", to: "shop/web", port: 8080, why: "the clusterwide deny beats the allow-all" },
] as const;

export interface PolicyFlow {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly why: string;
  readonly result: Reachability;
}

/** Applies the built-in state and decides each flow. */
export async function policyDemo(): Promise<PolicyFlow[]> {
  const cluster = await createCluster();
  cluster.apply(DEMO_STATE, "demo");
  return FLOWS.map((f) => ({ ...f, result: cluster.reachability({ from: f.from, to: f.to, port: f.port, protocol: "TCP" }) }));
}

/** Text lines of the policy section. */
export function renderPolicyDemo(flows: readonly PolicyFlow[]): string[] {
  const lines = ["", "4. Policy: a deny beats every allow (Cilium 1.9's deny policies)"];
  for (const f of flows) {
    const r = f.result;
    const side = r.ingress.verdict === "deny" || r.egress.verdict === "allow" ? r.ingress : r.egress;
    const rule = side.rules.find((x) => x.index >= 0) ?? side.rules[0];
    const by = rule ? `  ${rule.policy} ${rule.index >= 0 ? `${rule.section}[${rule.index}]` : `(enforces ${rule.section})`}` : "";
    lines.push(`   ${`${f.from} -> ${f.to}:${f.port}`.padEnd(32)} ${(r.allowed ? "FORWARDED" : "DROPPED").padEnd(9)} ${side.reason}${by}`);
    lines.push(`   ${"".padEnd(32)} ${f.why}`);
  }
  return lines;
}
