/**
 * How full the datapath's maps are: entries counted by walking each map's
 * keys, against its `max_entries`. Only maps whose entry count means
 * something are listed (hashes, LRUs, LPM tries); arrays (wp_backends,
 * indexed by backend ID, among them) always hold `max_entries` entries.
 *
 * @module
 */
import type { BpfMap } from "../bpf/map.js";
import type { EndpointDatapath } from "../endpoint/datapath.js";
import type { Datapath } from "../lb/datapath.js";
import type { MapFill } from "./api.js";

function fill(map: BpfMap): MapFill {
  let entries = 0;
  for (const _ of map.keys()) entries++;
  return { name: map.name, entries, maxEntries: map.maxEntries, percent: Math.round((entries / map.maxEntries) * 1000) / 10 };
}

/** Fill of the load balancer's and the endpoints' maps, by map name. Needs CAP_BPF. */
export function mapFill(lb: Datapath, ep: EndpointDatapath): MapFill[] {
  const l = lb.maps;
  const e = ep.maps;
  return [l.vips, l.services, l.randomSlots, l.flows, l.affinity, e.endpoints, e.policy, e.policyExact, e.ipcache, e.ipcacheExact, e.conntrack]
    .map(fill);
}
