/**
 * The cluster view: Kubernetes-style objects in, identities, policy maps and
 * the ipcache out, and reachability between any two pods or addresses.
 *
 * A pod's identity labels are what Cilium gives it: its labels (source
 * `k8s`, through the label filter), its namespace, its namespace's labels
 * (`io.cilium.k8s.namespace.labels.*`) and its service account. One more kind
 * is ours: for every prefix a Kubernetes NetworkPolicy `ipBlock` names, pods
 * whose address lies inside carry `ipblock:<prefix>`. Policies select those
 * labels alongside the `cidr:` ones, so an ipBlock matches pod addresses as
 * the Kubernetes e2e suite expects (Cilium's CIDR rules never match pods,
 * cilium/cilium#9209).
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { formatIp, parseIp } from "../net/ip.js";
import { EngineCore, type PolicyEngine, type PolicyEngineOptions, type Verdict } from "../policy/engine.js";
import { DeltaBuilder, type PolicyDelta } from "../policy/delta.js";
import { parsePolicyObject, policyNameOf, referencedCidrs } from "../policy/parse/index.js";
import { containingPrefixes } from "../policy/atoms.js";
import type { SubjectDelta } from "../policy/resolver-host.js";
import {
  flattenObjects, objectKey, readObject, type ClusterObject, type IgnoredObject, type NamedPort,
  type NamespaceObject, type PodObject, type PolicyObject,
} from "./objects.js";

/** What one `apply` or `delete` did. */
export interface ClusterChange extends PolicyDelta {
  /** Objects of kinds the cluster view does not use. */
  readonly ignored: IgnoredObject[];
}

/** A flow to check: `ns/pod` or an IP address on each side. */
export interface ReachabilityQuery {
  /**
   * The client: `ns/name` of a pod the view holds, or an IPv4 or IPv6
   * address. An address of a pod stands for that pod; any other address
   * has the identity of the longest ipcache prefix containing it, or world.
   */
  from: string;
  /** The server, written as `from` is. */
  to: string;
  /** Destination port on the server, an integer from 0 to 65535. */
  port: number;
  /** Transport protocol of the flow. */
  protocol: "TCP" | "UDP" | "SCTP";
}

/** Whether a flow gets through, with both sides explained. */
export interface Reachability {
  /** True only when the client's egress and the server's ingress both allow. */
  readonly allowed: boolean;
  /** Identity of the client (`from`): its pod's, its longest ipcache prefix's, or world (2). */
  readonly fromIdentity: number;
  /** Identity of the server (`to`), found the same way. */
  readonly toIdentity: number;
  /** The client's egress verdict (`not-enforced` when the client is not a pod). */
  readonly egress: Verdict;
  /** The server's ingress verdict (`not-enforced` when the server is not a pod). */
  readonly ingress: Verdict;
}

/** The cluster-level API. */
export interface Cluster {
  /**
   * Upserts objects (one, an array, or a `List`). Every object (policies
   * included) is validated before anything changes, so invalid input changes
   * nothing; `source` (a file name, say) prefixes the field paths of errors.
   * A policy map overflow is found only while applying: it rejects that one
   * object whole (PolicyMapOverflowError) and leaves the objects before it
   * in the batch applied.
   */
  apply(objects: unknown, source?: string): ClusterChange;
  /** Deletes objects by kind, namespace and name. */
  delete(objects: unknown): ClusterChange;
  /** Checks a flow between pods (`ns/pod`) or addresses. */
  reachability(query: ReachabilityQuery): Reachability;
  /**
   * The policy engine underneath: verdicts, policy maps and identity labels
   * by identity. Change the cluster through `apply` and `delete`: changes
   * made through the engine directly bypass the view's bookkeeping of pods,
   * ipBlocks and the ipcache.
   */
  readonly engine: PolicyEngine;
  /** The identity of a pod, `ns/name`. */
  identityOf(pod: string): number | undefined;
  /** The ipcache: prefix to identity, sorted by prefix. */
  ipcache(): Array<{
    /** Canonical prefix text: a pod's host prefix (`/32` or `/128`) or a prefix a policy names. */
    prefix: string;
    /** The identity of addresses in the prefix: the pod's, or the CIDR (or, for `/0`, world) identity of the prefix. */
    identity: number;
  }>;
}

interface PodState {
  readonly pod: PodObject;
  readonly labels: string[];
  readonly identity: number;
}

const NOT_A_POD: Verdict = Object.freeze({ verdict: "allow", reason: "not-enforced", proxy: false, rules: [] });
const WORLD = 2;

class ClusterImpl implements Cluster {
  private readonly namespaces = new Map<string, NamespaceObject>();
  private readonly pods = new Map<string, PodState>();
  private readonly policyObjects = new Map<string, PolicyObject>();
  /** Prefixes named by each Kubernetes NetworkPolicy's ipBlocks. */
  private readonly ipBlocks = new Map<string, string[]>();
  /** Pods of each identity, for the union of their named ports. */
  private readonly podsOf = new Map<number, Set<string>>();
  private readonly namedPortsOf = new Map<number, string>();
  /** Host prefixes of pod addresses. */
  private readonly podCache = new Map<string, number>();
  /** Prefixes of CIDR identities, from policies. A pod's own address shadows an equal prefix. */
  private readonly cidrCache = new Map<string, number>();

  constructor(readonly engine: EngineCore) {}

  apply(objects: unknown, source = "objects"): ClusterChange {
    const { objs, ignored, paths } = this.read(objects, source);
    // Parse every policy before touching anything: an invalid one rejects the batch.
    objs.forEach((o, i) => {
      if (!isPolicy(o)) return;
      try {
        parsePolicyObject(o.raw);
      } catch (error) {
        const name = o.namespace ? `${o.namespace}/${o.name}` : o.name;
        throw error instanceof InvalidInputError ? error.within(`${paths[i]}: ${o.kind} ${name}`) : error;
      }
    });
    const delta = new DeltaBuilder();
    for (const o of objs) if (o.kind === "Namespace") this.upsertNamespace(o, delta);
    for (const o of objs) if (isPolicy(o)) this.upsertPolicy(o, delta);
    for (const o of objs) if (o.kind === "Pod") this.upsertPod(o, delta);
    return { ...delta.build(), ignored };
  }

  delete(objects: unknown): ClusterChange {
    const { objs, ignored } = this.read(objects);
    const delta = new DeltaBuilder();
    for (const o of objs) if (o.kind === "Pod") this.deletePod(`${o.namespace}/${o.name}`, delta);
    for (const o of objs) if (isPolicy(o)) this.deletePolicy(o, delta);
    for (const o of objs) if (o.kind === "Namespace") this.deleteNamespace(o.name, delta);
    return { ...delta.build(), ignored };
  }

  private read(objects: unknown, source = "objects"): { objs: ClusterObject[]; ignored: IgnoredObject[]; paths: string[] } {
    const objs: ClusterObject[] = [];
    const paths: string[] = [];
    const ignored: IgnoredObject[] = [];
    for (const { value, path } of flattenObjects(objects, source)) {
      const o = readObject(value, path);
      if (o.kind === "Namespace" || o.kind === "Pod" || isPolicy(o as ClusterObject)) {
        objs.push(o as ClusterObject);
        paths.push(path);
      } else {
        ignored.push(o as IgnoredObject);
      }
    }
    return { objs, ignored, paths };
  }

  // ---- namespaces ------------------------------------------------------------------

  private upsertNamespace(ns: NamespaceObject, delta: DeltaBuilder): void {
    const before = this.namespaces.get(ns.name);
    this.namespaces.set(ns.name, ns);
    if (before && sameLabels(before.labels, ns.labels)) return;
    this.relabel((p) => p.pod.namespace === ns.name, delta);
  }

  private deleteNamespace(name: string, delta: DeltaBuilder): void {
    if (!this.namespaces.delete(name)) return;
    this.relabel((p) => p.pod.namespace === name, delta);
  }

  // ---- policies --------------------------------------------------------------------

  private upsertPolicy(o: PolicyObject, delta: DeltaBuilder): void {
    const key = objectKey(o);
    this.absorb(this.engine.upsertPolicy(o.raw), delta);
    this.policyObjects.set(key, o);
    const before = this.allIpBlocks();
    if (o.kind === "NetworkPolicy") this.ipBlocks.set(key, referencedCidrs(parsePolicyObject(o.raw).rules));
    this.afterIpBlocksChange(before, delta);
  }

  private deletePolicy(o: PolicyObject, delta: DeltaBuilder): void {
    const key = objectKey(o);
    if (!this.policyObjects.has(key)) return;
    this.absorb(this.engine.deletePolicy(policyNameOf(o.raw)), delta);
    this.policyObjects.delete(key);
    const before = this.allIpBlocks();
    this.ipBlocks.delete(key);
    this.afterIpBlocksChange(before, delta);
  }

  /** Takes an engine change: its endpoint deltas, and its CIDR identities into the ipcache. */
  private absorb(change: PolicyDelta, delta: DeltaBuilder): void {
    delta.addEndpoints(change.endpoints);
    for (const e of change.ipcache.removed) {
      this.cidrCache.delete(e.prefix);
      if (!this.podCache.has(e.prefix)) delta.addIpcache(e, false);
    }
    for (const e of change.ipcache.added) {
      this.cidrCache.set(e.prefix, e.identity);
      if (!this.podCache.has(e.prefix)) delta.addIpcache(e, true);
    }
  }

  private allIpBlocks(): string {
    return [...new Set([...this.ipBlocks.values()].flat())].sort().join(",");
  }

  private afterIpBlocksChange(before: string, delta: DeltaBuilder): void {
    if (this.allIpBlocks() !== before) this.relabel(() => true, delta);
  }

  // ---- pods ------------------------------------------------------------------------

  private labelsFor(pod: PodObject): string[] {
    const labels = Object.entries(pod.labels).map(([k, v]) => `k8s:${k}=${v}`);
    labels.push(`k8s:io.kubernetes.pod.namespace=${pod.namespace}`);
    const ns = this.namespaces.get(pod.namespace);
    for (const [k, v] of Object.entries(ns?.labels ?? {})) labels.push(`k8s:io.cilium.k8s.namespace.labels.${k}=${v}`);
    if (pod.serviceAccount) labels.push(`k8s:io.cilium.k8s.policy.serviceaccount=${pod.serviceAccount}`);
    const blocks = new Set([...this.ipBlocks.values()].flat());
    if (blocks.size) {
      for (const ip of pod.ips) {
        for (const prefix of containingPrefixes(hostPrefix(ip))) if (blocks.has(prefix)) labels.push(`ipblock:${prefix}`);
      }
    }
    return [...new Set(labels)].sort();
  }

  private upsertPod(pod: PodObject, delta: DeltaBuilder): void {
    const key = `${pod.namespace}/${pod.name}`;
    const before = this.pods.get(key);
    const labels = this.labelsFor(pod);
    let identity = before?.identity;
    if (!before || before.labels.join("\n") !== labels.join("\n")) {
      const allocated = this.engine.allocateIdentity(labels);
      delta.addEndpoints(allocated.delta);
      identity = allocated.id;
    }
    this.pods.set(key, { pod, labels, identity: identity! });
    this.join(identity!, key, delta);
    if (before) {
      for (const ip of before.pod.ips) this.setCache(hostPrefix(ip), undefined, delta);
      if (before.identity !== identity) {
        this.leave(before.identity, key, delta);
        delta.addEndpoints(this.engine.releaseIdentity(before.identity));
      }
    }
    for (const ip of pod.ips) this.setCache(hostPrefix(ip), identity!, delta);
  }

  private deletePod(key: string, delta: DeltaBuilder): void {
    const state = this.pods.get(key);
    if (!state) return;
    this.pods.delete(key);
    for (const ip of state.pod.ips) this.setCache(hostPrefix(ip), undefined, delta);
    this.leave(state.identity, key, delta);
    delta.addEndpoints(this.engine.releaseIdentity(state.identity));
  }

  /** Re-derives the labels of the pods `which` selects, moving them to new identities where they changed. */
  private relabel(which: (p: PodState) => boolean, delta: DeltaBuilder): void {
    for (const state of [...this.pods.values()]) if (which(state)) this.upsertPod(state.pod, delta);
  }

  private join(identity: number, pod: string, delta: DeltaBuilder): void {
    let set = this.podsOf.get(identity);
    if (!set) this.podsOf.set(identity, (set = new Set()));
    set.add(pod);
    this.syncNamedPorts(identity, delta);
  }

  private leave(identity: number, pod: string, delta: DeltaBuilder): void {
    const set = this.podsOf.get(identity);
    if (!set) return;
    set.delete(pod);
    if (set.size === 0) {
      this.podsOf.delete(identity);
      this.namedPortsOf.delete(identity);
      return;
    }
    this.syncNamedPorts(identity, delta);
  }

  /** The named ports of an identity are the union over its pods. */
  private syncNamedPorts(identity: number, delta: DeltaBuilder): void {
    const union = new Map<string, NamedPort>();
    for (const key of this.podsOf.get(identity) ?? []) {
      for (const np of this.pods.get(key)?.pod.namedPorts ?? []) union.set(`${np.name}/${np.protocol}/${np.port}`, np);
    }
    const text = [...union.keys()].sort().join(",");
    if ((this.namedPortsOf.get(identity) ?? "") === text) return;
    this.namedPortsOf.set(identity, text);
    delta.addEndpoints(this.engine.setNamedPorts(identity, [...union.values()]) as SubjectDelta[]);
  }

  private setCache(prefix: string, identity: number | undefined, delta: DeltaBuilder): void {
    const before = this.podCache.get(prefix);
    if (before === identity) return;
    if (identity === undefined) {
      this.podCache.delete(prefix);
      // A CIDR identity of the same prefix shows again once the pod is gone.
      const cidr = this.cidrCache.get(prefix);
      if (cidr !== undefined) delta.addIpcache({ prefix, identity: cidr }, true);
      else delta.addIpcache({ prefix, identity: before! }, false);
    } else {
      this.podCache.set(prefix, identity);
      delta.addIpcache({ prefix, identity }, true);
    }
  }

  // ---- queries ---------------------------------------------------------------------

  identityOf(pod: string): number | undefined {
    return this.pods.get(pod)?.identity;
  }

  ipcache(): Array<{ prefix: string; identity: number }> {
    const merged = new Map([...this.cidrCache, ...this.podCache]);
    return [...merged].map(([prefix, identity]) => ({ prefix, identity })).sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  }

  /** The identity traffic from or to an endpoint has: a pod's, or the longest ipcache prefix's, or world. */
  private resolve(endpoint: string, field: string): { identity: number; pod: boolean } {
    if (typeof endpoint !== "string") throw new InvalidInputError(field, endpoint, "must be ns/pod or an IP address");
    if (endpoint.includes("/") && !parseIp(endpoint)) {
      const state = this.pods.get(endpoint);
      if (!state) throw new InvalidInputError(field, endpoint, "is not a known pod");
      return { identity: state.identity, pod: true };
    }
    const ip = parseIp(endpoint);
    if (!ip) throw new InvalidInputError(field, endpoint, "must be ns/pod or an IP address");
    const host = hostPrefix(formatIp(ip));
    const podIdentity = this.podCache.get(host);
    if (podIdentity !== undefined) return { identity: podIdentity, pod: true };
    for (const prefix of containingPrefixes(host)) {
      const identity = this.cidrCache.get(prefix);
      if (identity !== undefined) return { identity, pod: false };
    }
    return { identity: WORLD, pod: false };
  }

  reachability(query: ReachabilityQuery): Reachability {
    if (typeof query !== "object" || query === null) throw new InvalidInputError("query", query, "must be an object");
    const from = this.resolve(query.from, "query.from");
    const to = this.resolve(query.to, "query.to");
    const flow = { protocol: query.protocol, port: query.port };
    const egress = from.pod ? this.engine.verdict({ subject: from.identity, direction: "egress", peer: to.identity, ...flow }) : NOT_A_POD;
    const ingress = to.pod ? this.engine.verdict({ subject: to.identity, direction: "ingress", peer: from.identity, ...flow }) : NOT_A_POD;
    return {
      allowed: egress.verdict === "allow" && ingress.verdict === "allow",
      fromIdentity: from.identity,
      toIdentity: to.identity,
      egress,
      ingress,
    };
  }
}

function isPolicy(o: ClusterObject): o is PolicyObject {
  return o.kind === "NetworkPolicy" || o.kind === "CiliumNetworkPolicy" || o.kind === "CiliumClusterwideNetworkPolicy";
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort();
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function hostPrefix(ip: string): string {
  return `${ip}/${ip.includes(":") ? 128 : 32}`;
}

/**
 * Creates an empty cluster view with its own policy engine.
 * @throws InvalidInputError for bad options
 */
export async function createCluster(options: PolicyEngineOptions = {}): Promise<Cluster> {
  return new ClusterImpl(await EngineCore.create({ ...options, endpoints: options.endpoints ?? "all" }));
}
