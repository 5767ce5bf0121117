/**
 * Entities (`fromEntities`, `toEntities`) and the selectors they stand for,
 * after Cilium's `EntitySelectorMapping` (pkg/policy/api/entity.go).
 *
 * Reserved labels have empty values, so each selector is an `Exists` on
 * `reserved:<name>`. Two entities differ from Cilium's table on purpose:
 *
 * - `all` is any peer (`null` peers) rather than a wildcard selector: the
 *   same set, said the way the model says it.
 * - `cluster` is Cilium's list of in-cluster reserved identities plus every
 *   pod. Cilium selects the pods with `k8s:io.cilium.k8s.policy.cluster=<name>`;
 *   wasmplane models one cluster, where that is every identity with a
 *   namespace label.
 *
 * @module
 */
import type { Selector } from "../model.js";
import { LABEL_SOURCE, NAMESPACE_LABEL } from "../model.js";
import { existsSelector } from "./selector.js";

const reserved = (name: string): Selector => existsSelector(`${LABEL_SOURCE.reserved}:${name}`);

/** The entity that selects every peer. */
export const ENTITY_ALL = "all";

const ENTITIES: ReadonlyMap<string, () => Selector[]> = new Map([
  ["world", () => [reserved("world"), reserved("world-ipv4"), reserved("world-ipv6")]],
  ["world-ipv4", () => [reserved("world-ipv4")]],
  ["world-ipv6", () => [reserved("world-ipv6")]],
  ["host", () => [reserved("host")]],
  ["remote-node", () => [reserved("remote-node")]],
  ["kube-apiserver", () => [reserved("kube-apiserver")]],
  ["ingress", () => [reserved("ingress")]],
  ["init", () => [reserved("init")]],
  ["health", () => [reserved("health")]],
  ["unmanaged", () => [reserved("unmanaged")]],
  // No identity carries reserved:none: the entity selects nothing.
  ["none", () => [reserved("none")]],
  [
    "cluster",
    () => [
      reserved("host"),
      reserved("remote-node"),
      reserved("init"),
      reserved("ingress"),
      reserved("health"),
      reserved("unmanaged"),
      reserved("kube-apiserver"),
      existsSelector(NAMESPACE_LABEL),
    ],
  ],
]);

/** Every entity name Cilium accepts, for messages. */
export const ENTITY_NAMES: readonly string[] = [ENTITY_ALL, ...ENTITIES.keys()];

/** The selectors of an entity; `"all"` for any peer; `undefined` for an unknown name. */
export function entitySelectors(name: string): Selector[] | typeof ENTITY_ALL | undefined {
  if (name === ENTITY_ALL) return ENTITY_ALL;
  return ENTITIES.get(name)?.();
}
