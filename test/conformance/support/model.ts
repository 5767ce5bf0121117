/**
 * The pod model of the upstream Kubernetes NetworkPolicy e2e suite
 * (test/e2e/network/netpol/model.go), as Kubernetes objects for the cluster
 * view: namespaces x, y and z, pods a, b and c in each, every pod serving
 * TCP, UDP and SCTP on ports 80 and 81.
 *
 * Upstream facts kept: namespaces carry `ns: <name>` and (set by the API
 * server, so written here explicitly) `kubernetes.io/metadata.name: <name>`;
 * pods carry `pod: <name>`; one container per port and protocol named
 * `cont-<port>-<proto>` with one container port named
 * `serve-<port>-<proto>` (protocol lower-cased).
 *
 * Pod addresses are ours and deterministic: `10.0.<namespace index>.<pod
 * index + 10>`, so x/a is 10.0.0.10 and z/c is 10.0.2.12. They are data
 * only: nothing is ever sent to them.
 *
 * The model is mutable the way the suite mutates a cluster: pod and
 * namespace labels can be added and removed; each change returns the object
 * to apply.
 *
 * @module
 */
import { splitPod, type PodString } from "./truth-table.js";

export const NAMESPACES = ["x", "y", "z"] as const;
export const POD_NAMES = ["a", "b", "c"] as const;
export const PORTS = [80, 81] as const;
export const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

export type Protocol = (typeof PROTOCOLS)[number];

/** The label the API server puts on every namespace (v1.LabelMetadataName). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** Upstream's container port name: `serve-80-tcp`. */
export function portName(port: number, protocol: Protocol): string {
  return `serve-${port}-${protocol.toLowerCase()}`;
}

/** Upstream's container name: `cont-80-tcp`. */
export function containerName(port: number, protocol: Protocol): string {
  return `cont-${port}-${protocol.toLowerCase()}`;
}

/** The address of a model pod: 10.0.<ns index>.<pod index + 10>. */
export function podIp(pod: PodString): string {
  const { namespace, pod: name } = splitPod(pod);
  const ns = (NAMESPACES as readonly string[]).indexOf(namespace);
  const p = (POD_NAMES as readonly string[]).indexOf(name);
  if (ns < 0 || p < 0) throw new Error(`${pod} is not a model pod`);
  return `10.0.${ns}.${p + 10}`;
}

/** Every model pod, namespace-major: x/a, x/b, x/c, y/a, ... */
export const ALL_PODS: readonly PodString[] = NAMESPACES.flatMap((ns) => POD_NAMES.map((p) => `${ns}/${p}`));

type Labels = Record<string, string>;

/** A Kubernetes-style object as the cluster view reads it. */
export type KubeObject = Record<string, unknown>;

/** The model's current state, with the objects that describe it. */
export class Model {
  private readonly nsLabels = new Map<string, Labels>();
  private readonly podLabels = new Map<PodString, Labels>();

  constructor() {
    for (const ns of NAMESPACES) this.nsLabels.set(ns, { ns, [NAMESPACE_NAME_LABEL]: ns });
    for (const pod of ALL_PODS) this.podLabels.set(pod, { pod: splitPod(pod).pod });
  }

  get pods(): readonly PodString[] {
    return ALL_PODS;
  }

  get namespaces(): readonly string[] {
    return NAMESPACES;
  }

  hasPod(pod: string): boolean {
    return this.podLabels.has(pod);
  }

  hasNamespace(ns: string): boolean {
    return this.nsLabels.has(ns);
  }

  /** A copy of the current labels of a pod. */
  labelsOfPod(pod: PodString): Labels {
    const labels = this.podLabels.get(pod);
    if (!labels) throw new Error(`${pod} is not a model pod`);
    return { ...labels };
  }

  /** A copy of the current labels of a namespace. */
  labelsOfNamespace(ns: string): Labels {
    const labels = this.nsLabels.get(ns);
    if (!labels) throw new Error(`${ns} is not a model namespace`);
    return { ...labels };
  }

  namespaceObject(ns: string): KubeObject {
    return { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: this.labelsOfNamespace(ns) } };
  }

  podObject(pod: PodString): KubeObject {
    const { namespace, pod: name } = splitPod(pod);
    const containers = PORTS.flatMap((port) =>
      PROTOCOLS.map((protocol) => ({
        name: containerName(port, protocol),
        ports: [{ containerPort: port, name: portName(port, protocol), protocol }],
      })),
    );
    const ip = podIp(pod);
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace, labels: this.labelsOfPod(pod) },
      spec: { containers },
      status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
    };
  }

  /** Every namespace and pod, as one `List` (namespaces first). */
  objects(): KubeObject {
    return {
      apiVersion: "v1",
      kind: "List",
      items: [...NAMESPACES.map((ns) => this.namespaceObject(ns)), ...ALL_PODS.map((p) => this.podObject(p))],
    };
  }

  /** Adds (or overwrites) pod labels, as upstream's AddPodLabels; returns the pod to apply. */
  addPodLabels(pod: PodString, labels: Labels): KubeObject {
    this.podLabels.set(pod, { ...this.labelsOfPod(pod), ...labels });
    return this.podObject(pod);
  }

  /** Removes pod labels by key; returns the pod to apply. */
  removePodLabels(pod: PodString, keys: readonly string[]): KubeObject {
    const labels = this.labelsOfPod(pod);
    for (const key of keys) delete labels[key];
    this.podLabels.set(pod, labels);
    return this.podObject(pod);
  }

  /** Adds (or overwrites) namespace labels, as upstream's AddNamespaceLabel; returns the namespace to apply. */
  addNamespaceLabels(ns: string, labels: Labels): KubeObject {
    this.nsLabels.set(ns, { ...this.labelsOfNamespace(ns), ...labels });
    return this.namespaceObject(ns);
  }

  /** Removes namespace labels by key; returns the namespace to apply. */
  removeNamespaceLabels(ns: string, keys: readonly string[]): KubeObject {
    const labels = this.labelsOfNamespace(ns);
    for (const key of keys) delete labels[key];
    this.nsLabels.set(ns, labels);
    return this.namespaceObject(ns);
  }
}
