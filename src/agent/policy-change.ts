/**
 * A change of the cluster objects (Namespaces, policies, Pods) applied to
 * the agent's live cluster view (src/cluster), with every object's policy
 * delta folded into one, so that the endpoint datapath gets a single
 * `applyDelta` however many objects changed.
 *
 * Objects gone are deleted first, in the reverse of the apply order; new
 * and changed objects are then applied in the order `wasmplane build` uses
 * (src/state applyStatePolicy), since the identities handed out depend on
 * it. An object the cluster view refuses is left out with one line in
 * `rejected`; the others still apply.
 *
 * This mutates the cluster view but writes no map.
 *
 * @module
 */
import type { Cluster } from "../cluster/cluster.js";
import { InvalidInputError, WasmplaneError } from "../errors.js";
import { DeltaBuilder, type PolicyDelta } from "../policy/delta.js";
import { byText } from "../state/fields.js";
import type { KeyedObject } from "./desired.js";
import { diffObjects } from "./diff.js";

/** Order the cluster view takes objects in (as src/state applyStatePolicy): identities depend on it. */
const APPLY_ORDER = ["Namespace", "CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy", "NetworkPolicy", "Pod"];
const POLICY_KINDS = new Set(["CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy", "NetworkPolicy"]);

/** Objects changed, by the name the `applied` log line counts them under. */
export interface ObjectCounts {
  policies: number;
  pods: number;
  namespaces: number;
}

/** What applying a change of cluster objects produced. */
export interface ObjectChange {
  /** The objects now applied, by key (those refused keep their earlier version, if any). */
  readonly applied: Map<string, KeyedObject>;
  /** The folded delta, for the endpoint datapath's `applyDelta`. */
  readonly delta: PolicyDelta;
  /** Objects deleted or applied. */
  readonly counts: ObjectCounts;
}

function byApplyOrder(a: KeyedObject, b: KeyedObject): number {
  return APPLY_ORDER.indexOf(a.kind) - APPLY_ORDER.indexOf(b.kind) || byText(a.namespace ?? "", b.namespace ?? "") || byText(a.name, b.name);
}

function countOf(kind: string): keyof ObjectCounts {
  return POLICY_KINDS.has(kind) ? "policies" : kind === "Pod" ? "pods" : "namespaces";
}

/** How many objects of each counted kind `objects` holds. */
export function countObjects(objects: Iterable<KeyedObject>): ObjectCounts {
  const counts: ObjectCounts = { policies: 0, pods: 0, namespaces: 0 };
  for (const o of objects) counts[countOf(o.kind)] += 1;
  return counts;
}

/**
 * Applies to `cluster` the objects of `after` that differ from `before`
 * (objects as last applied) and deletes those gone. Refusals go to `rejected`.
 *
 * @throws whatever the cluster view throws that is not a {@link WasmplaneError} (a bug).
 */
export function applyObjectChanges(cluster: Cluster, before: ReadonlyMap<string, KeyedObject>, after: ReadonlyMap<string, KeyedObject>, rejected: string[]): ObjectChange {
  const objects = diffObjects(before, after);
  const applied = new Map(before);
  const delta = new DeltaBuilder();
  const absorb = (change: PolicyDelta) => {
    delta.addEndpoints(change.endpoints);
    for (const e of change.ipcache.removed) delta.addIpcache(e, false);
    for (const e of change.ipcache.added) delta.addIpcache(e, true);
  };
  const counts: ObjectCounts = { policies: 0, pods: 0, namespaces: 0 };
  for (const o of [...objects.deletes].sort((a, b) => -byApplyOrder(a, b))) {
    absorb(cluster.delete(o.value));
    applied.delete(o.key);
    counts[countOf(o.kind)] += 1;
  }
  for (const o of [...objects.upserts].sort(byApplyOrder)) {
    try {
      absorb(cluster.apply(o.value, o.source));
      applied.set(o.key, o);
      counts[countOf(o.kind)] += 1;
    } catch (error) {
      if (!(error instanceof WasmplaneError)) throw error;
      rejected.push(error instanceof InvalidInputError && error.context?.startsWith(o.source) ? error.message : `${o.source}: ${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}: ${error.message}`);
    }
  }
  return { applied, delta: delta.build(), counts };
}
