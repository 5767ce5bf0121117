/**
 * A generated cluster state for the agent benchmark: 1,000 pods in ten
 * namespaces, 1,000 ClusterIP services with an EndpointSlice each (three
 * pods per service), one policy per application, a clusterwide quarantine
 * deny, and a Node. Written as `kubectl get -o yaml` would, one object per
 * file for the objects the benchmark changes, so that a change rewrites one
 * small file as a controller's watch would deliver one object.
 *
 * Deterministic: the same counts give the same files.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

export const NAMESPACES = 10;
export const APPS = 100;

/** Address of pod `i`: 10.244.(i / 250).(i % 250 + 1). */
export const podIp = (i: number): string => `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`;
/** ClusterIP of service `i`: 10.96.(i / 250).(i % 250 + 1). */
export const serviceIp = (i: number): string => `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`;
export const podName = (i: number): string => `pod-${String(i).padStart(4, "0")}`;
export const namespaceOf = (i: number): string => `ns-${i % NAMESPACES}`;
export const appOf = (i: number): string => `app-${i % APPS}`;

/** The pods of service `s`: three consecutive pods. */
export const podsOfService = (s: number, pods: number): number[] => [0, 1, 2].map((k) => (3 * s + k) % pods);

/** A pod object; `extraLabels` is how the benchmark relabels one. */
export function podObject(i: number, extraLabels: Record<string, string> = {}): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName(i), namespace: namespaceOf(i), labels: { app: appOf(i), ...extraLabels } },
    spec: { nodeName: "bench-node", containers: [{ name: "main", ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }] }] },
    status: { podIP: podIp(i), podIPs: [{ ip: podIp(i) }] },
  };
}

/** The EndpointSlice of service `s`, listing `podIndexes` as ready endpoints. */
export function sliceObject(s: number, podIndexes: readonly number[]): object {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `svc-${s}-abcde`, namespace: namespaceOf(s), labels: { "kubernetes.io/service-name": `svc-${s}` } },
    addressType: "IPv4",
    ports: [{ name: "http", protocol: "TCP", port: 8080 }],
    endpoints: podIndexes.map((p) => ({
      addresses: [podIp(p)],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: "bench-node",
      targetRef: { kind: "Pod", name: podName(p), namespace: namespaceOf(p) },
    })),
  };
}

/** The deny the policy benchmark adds and removes: app-0 takes nothing from app-10 in ns-0. */
export function benchDenyObject(): object {
  return {
    apiVersion: "cilium.io/v2",
    kind: "CiliumNetworkPolicy",
    metadata: { name: "bench-deny", namespace: "ns-0" },
    spec: { endpointSelector: { matchLabels: { app: "app-0" } }, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: "app-10" } }] }] },
  };
}

const yamlOf = (docs: object[]): string => docs.map((d) => stringify(d)).join("---\n");

/** Writes the state into `dir` (emptied first). */
export function writeState(dir: string, counts: { pods: number; services: number }): void {
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ["pods", "slices", "policies"]) mkdirSync(join(dir, sub), { recursive: true });
  const namespaces = Array.from({ length: NAMESPACES }, (_, n) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name: `ns-${n}`, labels: { team: `team-${n % 3}` } } }));
  writeFileSync(join(dir, "00-namespaces.yaml"), yamlOf(namespaces));
  writeFileSync(join(dir, "01-node.yaml"), yamlOf([{
    apiVersion: "v1", kind: "Node", metadata: { name: "bench-node" },
    status: { addresses: [{ type: "InternalIP", address: "192.168.100.1" }] },
  }]));
  for (let i = 0; i < counts.pods; i++) writeFileSync(join(dir, "pods", `${podName(i)}.yaml`), yamlOf([podObject(i)]));
  const services: object[] = [];
  for (let s = 0; s < counts.services; s++) {
    services.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `svc-${s}`, namespace: namespaceOf(s) },
      spec: { type: "ClusterIP", clusterIP: serviceIp(s), clusterIPs: [serviceIp(s)], selector: { app: appOf(s) }, ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: "http" }] },
    });
    writeFileSync(join(dir, "slices", `svc-${s}.yaml`), yamlOf([sliceObject(s, podsOfService(s, counts.pods))]));
  }
  writeFileSync(join(dir, "10-services.yaml"), yamlOf([{ apiVersion: "v1", kind: "List", items: services }]));
  // Each application takes port 8080 from its own namespace; that puts every
  // pod in default deny for ingress, with one allow rule per application.
  const policies = Array.from({ length: APPS }, (_, a) => ({
    apiVersion: "cilium.io/v2",
    kind: "CiliumNetworkPolicy",
    metadata: { name: `allow-app-${a}`, namespace: `ns-${a % NAMESPACES}` },
    spec: {
      endpointSelector: { matchLabels: { app: `app-${a}` } },
      ingress: [{ fromEndpoints: [{}], toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }],
    },
  }));
  writeFileSync(join(dir, "policies", "allow.yaml"), yamlOf(policies));
  // Pods labelled quarantine=true reach nobody: the relabel benchmark adds and removes the label.
  writeFileSync(join(dir, "policies", "quarantine.yaml"), yamlOf([{
    apiVersion: "cilium.io/v2",
    kind: "CiliumClusterwideNetworkPolicy",
    metadata: { name: "quarantine" },
    spec: { endpointSelector: {}, enableDefaultDeny: { ingress: false }, ingressDeny: [{ fromEndpoints: [{ matchLabels: { quarantine: "true" } }] }] },
  }]));
}
