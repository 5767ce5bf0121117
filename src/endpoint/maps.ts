/**
 * The maps of a loaded tc_endpoint object, checked against the layouts of
 * abi.h (layouts.ts) before anything is written: a pinned map of another
 * shape, or an object compiled from another header, is refused with a
 * {@link LayoutMismatchError}.
 *
 * @module
 */
import type { BpfMap } from "../bpf/map.js";
import type { BpfObject } from "../bpf/object.js";
import { LayoutMismatchError } from "../bpf/errors.js";
import { ENDPOINT_LAYOUTS as L } from "./layouts.js";

/** The maps the endpoint control plane reads and writes. Handles close with the object. */
export interface EndpointMaps {
  /** wp_ipcache: prefix → identity (LPM trie). */
  ipcache: BpfMap;
  /** wp_ipcache_exact: the full-length prefixes of wp_ipcache (hash, consulted first). */
  ipcacheExact: BpfMap;
  /** wp_policy: (subject, peer, direction, protocol, port) → precedence and counter slot (LPM trie). */
  policy: BpfMap;
  /** wp_policy_exact: what of wp_policy a hash can answer (abi.h), consulted first. */
  policyExact: BpfMap;
  /** wp_policy_counters: per-CPU packets and bytes per counter slot. */
  policyCounters: BpfMap;
  /** wp_endpoints: ifindex → identity. */
  endpoints: BpfMap;
  /** wp_conntrack: the connection tracking LRU (written by the datapath). */
  conntrack: BpfMap;
  /** wp_drop_counters: per-CPU counters by drop reason (shared layout with the load balancer). */
  dropCounters: BpfMap;
}

const COUNTER = 16;
const SHAPES: Record<keyof EndpointMaps, { name: string; key: number; value: number }> = {
  ipcache: { name: "wp_ipcache", key: L.wp_ipcache_key.size, value: L.wp_ipcache_value.size },
  ipcacheExact: { name: "wp_ipcache_exact", key: L.wp_ipcache_key.size, value: L.wp_ipcache_value.size },
  policy: { name: "wp_policy", key: L.wp_policy_key.size, value: L.wp_policy_value.size },
  policyExact: { name: "wp_policy_exact", key: L.wp_policy_key.size, value: L.wp_policy_value.size },
  policyCounters: { name: "wp_policy_counters", key: 4, value: COUNTER },
  endpoints: { name: "wp_endpoints", key: 4, value: L.wp_endpoint_value.size },
  conntrack: { name: "wp_conntrack", key: L.wp_ct_key.size, value: L.wp_ct_value.size },
  dropCounters: { name: "wp_drop_counters", key: 4, value: COUNTER },
};

/** Names of every map the endpoint object pins that this control plane owns. */
export const ENDPOINT_MAP_NAMES: readonly string[] = Object.freeze(Object.values(SHAPES).map((s) => s.name));

/**
 * The maps of `object`, each checked for key and value size.
 * @throws {@link LayoutMismatchError} listing every difference.
 */
export function endpointMaps(object: BpfObject): EndpointMaps {
  const out = {} as EndpointMaps;
  const problems: string[] = [];
  for (const [field, shape] of Object.entries(SHAPES) as Array<[keyof EndpointMaps, (typeof SHAPES)[keyof EndpointMaps]]>) {
    const map = object.maps.get(shape.name);
    if (!map) {
      problems.push(`map ${shape.name} is missing`);
      continue;
    }
    if (map.keySize !== shape.key) problems.push(`${shape.name}: key is ${map.keySize} bytes, expected ${shape.key}`);
    if (map.valueSize !== shape.value) problems.push(`${shape.name}: value is ${map.valueSize} bytes, expected ${shape.value}`);
    out[field] = map;
  }
  if (object.maps.get("wp_policy_counters")?.maxEntries !== object.maps.get("wp_policy")?.maxEntries) {
    problems.push("wp_policy_counters must have as many slots as wp_policy has entries");
  }
  for (const [hash, trie] of [["wp_policy_exact", "wp_policy"], ["wp_ipcache_exact", "wp_ipcache"]] as const) {
    if (object.maps.get(hash) && object.maps.get(hash)?.maxEntries !== object.maps.get(trie)?.maxEntries) {
      problems.push(`${hash} must have as many entries as ${trie}`);
    }
  }
  if (problems.length) throw new LayoutMismatchError(`maps of ${object.path}`, problems);
  return out;
}
