/**
 * Cilium's reserved security identities (`pkg/identity/numericidentity.go`)
 * and the rule that maps a label set to one of them
 * (`LookupReservedIdentityByLabels`).
 *
 * @module
 */
import type { Label } from "./labels.js";

/** Numbers of the reserved identities, as Cilium numbers them. */
export const RESERVED_IDENTITY = {
  /** The local node. */
  host: 1,
  /** Anything outside the cluster. */
  world: 2,
  /** Endpoints Cilium does not manage. */
  unmanaged: 3,
  /** The local cilium-health endpoint. */
  health: 4,
  /** Endpoints that have no identity labels yet. */
  init: 5,
  /** Every node but the local one. */
  "remote-node": 6,
  /** Remote nodes running kube-apiserver (labels kube-apiserver and remote-node). */
  "kube-apiserver": 7,
  /** The source address of Ingress proxies. */
  ingress: 8,
  /** The IPv4 world, in dual-stack clusters. */
  "world-ipv4": 9,
  /** The IPv6 world, in dual-stack clusters. */
  "world-ipv6": 10,
} as const;

/** Name of a reserved label (`reserved:<name>`). */
export type ReservedName = keyof typeof RESERVED_IDENTITY;

/** The labels each reserved identity carries, as `lookup()` returns them (sorted by key). */
const RESERVED_LABELS: ReadonlyMap<number, readonly string[]> = new Map(
  Object.entries(RESERVED_IDENTITY).map(([name, id]) => [
    id,
    // Cilium gives identity 7 both labels: kube-apiserver runs on a remote node.
    Object.freeze(name === "kube-apiserver" ? ["reserved:kube-apiserver", "reserved:remote-node"] : [`reserved:${name}`]),
  ]),
);

/** Whether `name` is the name of a reserved identity (`host`, `world`, ...). */
export function isReservedName(name: string): name is ReservedName {
  return Object.hasOwn(RESERVED_IDENTITY, name);
}

/** Whether `id` is one of the reserved numbers 1..10. */
export function isReservedIdentity(id: number): boolean {
  return RESERVED_LABELS.has(id);
}

/** The labels of reserved identity `id`, or `undefined` when it is not reserved. */
export function reservedLabels(id: number): readonly string[] | undefined {
  return RESERVED_LABELS.get(id);
}

/** Every reserved identity with its labels, ascending. */
export function reservedIdentities(): ReadonlyArray<{
  /** The reserved number. */
  readonly id: number;
  /** Its labels. */
  readonly labels: readonly string[];
}> {
  return [...RESERVED_LABELS].map(([id, labels]) => ({ id, labels }));
}

/**
 * The reserved identity a label set maps to, or `undefined` when it needs an
 * allocated identity. Cilium's rule, in order:
 *
 * 1. a set with `reserved:host` is the host (1), whatever else it carries
 *    (the local node keeps its identity when its labels change);
 * 2. a set with `reserved:remote-node` is remote-node (6), or kube-apiserver
 *    (7) when it also has `reserved:kube-apiserver`;
 * 3. a set of exactly one reserved label is that label's identity;
 * 4. anything else is not reserved: a reserved label mixed with other labels
 *    (say `reserved:world` with `cidr:` or `k8s:` labels) is allocated like
 *    any label set.
 *
 * Cilium's options that turn rule 2 off (`policy-cidr-match-mode=nodes`,
 * per-node labels) and its well-known identities (100..115) are not modelled.
 */
export function reservedIdentityOf(labels: readonly Label[]): number | undefined {
  let reserved = 0;
  let host = false;
  let remoteNode = false;
  let kubeApiServer = false;
  for (const label of labels) {
    if (label.source !== "reserved") continue;
    reserved++;
    if (label.key === "host") host = true;
    else if (label.key === "remote-node") remoteNode = true;
    else if (label.key === "kube-apiserver") kubeApiServer = true;
  }
  if (reserved === 0) return undefined;
  if (host) return RESERVED_IDENTITY.host;
  if (remoteNode) return kubeApiServer ? RESERVED_IDENTITY["kube-apiserver"] : RESERVED_IDENTITY["remote-node"];
  if (labels.length === 1) {
    const key = labels[0]!.key;
    return isReservedName(key) ? RESERVED_IDENTITY[key] : undefined;
  }
  return undefined;
}
