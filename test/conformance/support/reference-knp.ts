/**
 * A small, independent evaluator of Kubernetes NetworkPolicy (networking/v1
 * semantics only, pods only), written straight from the API reference. It
 * is not wasmplane: the harness's own tests run the k8s-netpol case data
 * against it, so a wrong expectation in the data shows up before the engine
 * is ever involved.
 *
 * Semantics: a pod is isolated in a direction when a policy of its namespace
 * selects it and has that policy type (policyTypes, or Ingress plus Egress
 * when egress rules exist); an isolated direction allows what any rule of
 * those policies allows. A rule with no peers matches every peer; a rule
 * with no ports matches every port. Peers: podSelector alone = pods of the
 * policy's namespace; namespaceSelector alone = every pod of the matching
 * namespaces; both = the intersection; ipBlock = pod IPs inside the CIDR and
 * outside every except. Ports: protocol defaults to TCP; a named port
 * resolves on the destination pod (the subject for ingress, the peer for
 * egress) by name and protocol; endPort makes an inclusive range.
 *
 * @module
 */
import type { ClusterLike, FlowQuery, ReachabilityResult, Verdict } from "./cluster.js";

// Objects are read loosely: the case loader has validated their outline, and this is test code.
type Obj = Record<string, any>;

interface Pod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  ports: Array<{ name?: string; containerPort: number; protocol: string }>;
}

function matchesSelector(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case "In":
        if (!has || !req.values.includes(value)) return false;
        break;
      case "NotIn":
        if (has && req.values.includes(value)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        throw new Error(`unknown operator ${req.operator}`);
    }
  }
  return true;
}

function ipToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  if (bits === 0) return true;
  const mask = (~0 << (32 - bits)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(base!) & mask) >>> 0);
}

/** A cluster of namespaces, pods and NetworkPolicies, decided by the rules above. */
export class ReferenceKnpCluster implements ClusterLike {
  private readonly namespaces = new Map<string, Record<string, string>>();
  private readonly pods = new Map<string, Pod>();
  private readonly policies = new Map<string, Obj>();

  private static flatten(objects: unknown): Obj[] {
    if (Array.isArray(objects)) return objects.flatMap((o) => ReferenceKnpCluster.flatten(o));
    const o = objects as Obj;
    if (o.kind === "List") return ReferenceKnpCluster.flatten(o.items);
    return [o];
  }

  apply(objects: unknown): void {
    for (const o of ReferenceKnpCluster.flatten(objects)) {
      const meta = o.metadata;
      if (o.kind === "Namespace") this.namespaces.set(meta.name, { ...(meta.labels ?? {}) });
      else if (o.kind === "Pod") {
        this.pods.set(`${meta.namespace}/${meta.name}`, {
          namespace: meta.namespace,
          name: meta.name,
          labels: { ...(meta.labels ?? {}) },
          ip: o.status.podIP,
          ports: (o.spec.containers ?? []).flatMap((c: Obj) =>
            (c.ports ?? []).map((p: Obj) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol ?? "TCP" })),
          ),
        });
      } else if (o.kind === "NetworkPolicy") this.policies.set(`${meta.namespace}/${meta.name}`, structuredClone(o));
      else throw new Error(`the reference evaluator does not model ${o.kind}`);
    }
  }

  delete(objects: unknown): void {
    for (const o of ReferenceKnpCluster.flatten(objects)) {
      const meta = o.metadata;
      if (o.kind === "NetworkPolicy") this.policies.delete(`${meta.namespace}/${meta.name}`);
      else if (o.kind === "Pod") this.pods.delete(`${meta.namespace}/${meta.name}`);
      else if (o.kind === "Namespace") this.namespaces.delete(meta.name);
    }
  }

  private pod(ref: string): Pod {
    const p = this.pods.get(ref) ?? [...this.pods.values()].find((q) => q.ip === ref);
    if (!p) throw new Error(`the reference evaluator knows no pod ${ref}`);
    return p;
  }

  private peerMatches(peer: Obj, policyNs: string, other: Pod): boolean {
    if (peer.ipBlock) {
      return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((e: string) => inCidr(other.ip, e));
    }
    if (peer.namespaceSelector) {
      if (!matchesSelector(peer.namespaceSelector, this.namespaces.get(other.namespace) ?? {})) return false;
    } else if (other.namespace !== policyNs) return false;
    return matchesSelector(peer.podSelector, other.labels);
  }

  private static portMatches(entry: Obj, destination: Pod, port: number, protocol: string): boolean {
    const proto = entry.protocol ?? "TCP";
    if (proto !== protocol) return false;
    if (entry.port === undefined) return true;
    if (typeof entry.port === "string") {
      return destination.ports.some((p) => p.name === entry.port && p.protocol === proto && p.containerPort === port);
    }
    return entry.endPort === undefined ? entry.port === port : entry.port <= port && port <= entry.endPort;
  }

  private direction(subject: Pod, peer: Pod, egress: boolean, port: number, protocol: string): Verdict {
    const type = egress ? "Egress" : "Ingress";
    let isolated = false;
    for (const [name, policy] of this.policies) {
      const spec = policy.spec ?? {};
      if (policy.metadata.namespace !== subject.namespace || !matchesSelector(spec.podSelector, subject.labels)) continue;
      const types: string[] = spec.policyTypes ?? (spec.egress ? ["Ingress", "Egress"] : ["Ingress"]);
      if (!types.includes(type)) continue;
      isolated = true;
      const rules: Obj[] = (egress ? spec.egress : spec.ingress) ?? [];
      for (const [index, rule] of rules.entries()) {
        const peers: Obj[] | undefined = egress ? rule.to : rule.from;
        const peerOk = !peers || peers.length === 0 || peers.some((p) => this.peerMatches(p, subject.namespace, peer));
        const destination = egress ? peer : subject;
        const ports: Obj[] | undefined = rule.ports;
        const portOk = !ports || ports.length === 0 || ports.some((p) => ReferenceKnpCluster.portMatches(p, destination, port, protocol));
        if (peerOk && portOk) {
          return { verdict: "allow", reason: "allowed", proxy: false, rules: [{ policy: `knp/${name}`, rule: 0, section: egress ? "egress" : "ingress", index }] };
        }
      }
    }
    return isolated
      ? { verdict: "deny", reason: "default-deny", proxy: false, rules: [] }
      : { verdict: "allow", reason: "not-enforced", proxy: false, rules: [] };
  }

  reachability(q: FlowQuery): ReachabilityResult {
    const from = this.pod(q.from);
    const to = this.pod(q.to);
    const egress = this.direction(from, to, true, q.port, q.protocol);
    const ingress = this.direction(to, from, false, q.port, q.protocol);
    return { allowed: egress.verdict === "allow" && ingress.verdict === "allow", egress, ingress };
  }
}
