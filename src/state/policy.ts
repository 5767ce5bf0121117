/**
 * The policy side of a state: its Namespaces, Pods and policies applied to
 * a cluster view (src/cluster), giving identities, per-endpoint policy maps
 * and the ipcache.
 *
 * Objects are applied one at a time in a fixed order (namespaces, then
 * policies, then pods, each sorted by namespace and name) because identity
 * numbers depend on the order of allocation: the same state then gives the
 * same numbers on every machine. One at a time also means a policy map
 * overflow rejects only the object that caused it.
 *
 * @module
 */
import { createCluster, type Cluster } from "../cluster/cluster.js";
import { InvalidInputError, WasmplaneError } from "../errors.js";
import type { PolicyEngineOptions } from "../policy/engine.js";
import { byText } from "./fields.js";
import { describeObject, type KubeState } from "./snapshot.js";

/** A pod the cluster view holds, with its identity. */
export interface PolicyEndpoint {
  /** `namespace/name`. */
  readonly endpoint: string;
  /** Security identity; pods with the same identity labels share it (and one policy map). */
  readonly identity: number;
  /** Pod addresses, canonical text. */
  readonly ips: readonly string[];
  /** `spec.nodeName`, when set. */
  readonly node: string | undefined;
}

/** What {@link applyStatePolicy} returns. */
export interface StatePolicy {
  /** The cluster view, holding every object that applied. */
  readonly cluster: Cluster;
  /** Every pod that applied, sorted by `namespace/name`. */
  readonly endpoints: readonly PolicyEndpoint[];
  /** Objects the view refused (a policy map overflow), one error each. */
  readonly errors: readonly WasmplaneError[];
}

const APPLY_ORDER = ["Namespace", "CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy", "NetworkPolicy", "Pod"];

/**
 * Applies the state's Namespaces, policies and Pods to a new cluster view.
 * Objects were validated by `readState`; the view can still refuse one
 * whose policy maps would overflow, which goes to `errors`.
 */
export async function applyStatePolicy(state: KubeState, options: PolicyEngineOptions = {}): Promise<StatePolicy> {
  const cluster = await createCluster(options);
  const errors: WasmplaneError[] = [];
  const ordered = [...state.clusterObjects].sort((a, b) =>
    APPLY_ORDER.indexOf(a.kind) - APPLY_ORDER.indexOf(b.kind) || byText(a.namespace ?? "", b.namespace ?? "") || byText(a.name, b.name));
  for (const o of ordered) {
    try {
      cluster.apply(o.value, o.source);
    } catch (error) {
      const context = `${o.source}: ${describeObject(o)}`;
      if (error instanceof InvalidInputError) errors.push(error.context?.startsWith(o.source) ? error : error.within(context));
      else if (error instanceof WasmplaneError) errors.push(new WasmplaneError(error.code, `${context}: ${error.message}`, { cause: error }));
      else throw error;
    }
  }
  const endpoints: PolicyEndpoint[] = [];
  for (const pod of state.pods) {
    const endpoint = `${pod.namespace}/${pod.name}`;
    const identity = cluster.identityOf(endpoint);
    if (identity !== undefined) endpoints.push({ endpoint, identity, ips: pod.ips, node: pod.nodeName });
  }
  endpoints.sort((a, b) => byText(a.endpoint, b.endpoint));
  return { cluster, endpoints, errors };
}
