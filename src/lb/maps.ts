/**
 * The load balancer's maps, taken from a loaded xdp_lb object and checked
 * against the layouts of abi.h (layouts.ts) before anything is written:
 * a pinned map left by an older build, or an object compiled from another
 * header, is refused with a {@link LayoutMismatchError} rather than written
 * with bytes of the wrong shape.
 *
 * @module
 */
import type { BpfMap } from "../bpf/map.js";
import type { BpfObject } from "../bpf/object.js";
import { LayoutMismatchError } from "../bpf/errors.js";
import { LAYOUTS, WP_MAGLEV_TABLE_SLOTS } from "./layouts.js";

/** Every map of bpf/lib/maps.h. Handles belong to the object and close with it. */
export interface LbMaps {
  /** wp_vips: VIP → flags. */
  vips: BpfMap;
  /** wp_services: VIP, port, protocol → service. */
  services: BpfMap;
  /** wp_backends: backend ID → address, port, family, flags. */
  backends: BpfMap;
  /** wp_maglev_outer: service ID → inner array of two table buffers. */
  maglevOuter: BpfMap;
  /** wp_random_slots: (service ID, slot) → backend ID. */
  randomSlots: BpfMap;
  /** wp_flows: the flow LRU (written by the datapath). */
  flows: BpfMap;
  /** wp_affinity: the session affinity LRU (written by the datapath). */
  affinity: BpfMap;
  /** wp_fragments: ports of fragmented datagrams (written by the datapath). */
  fragments: BpfMap;
  /** wp_service_counters: per-CPU counters by service ID. */
  serviceCounters: BpfMap;
  /** wp_backend_counters: per-CPU counters by backend ID. */
  backendCounters: BpfMap;
  /** wp_drop_counters: per-CPU counters by drop reason. */
  dropCounters: BpfMap;
  /** wp_config: the runtime configuration, key 0. */
  config: BpfMap;
  /** wp_next_hops: per-CPU FIB answers by backend ID (written by the datapath). */
  nextHops: BpfMap;
}

/** Key and value sizes of each map, from abi.h (0: checked separately). */
const SHAPES: Record<keyof LbMaps, { name: string; key: number; value: number }> = {
  vips: { name: "wp_vips", key: LAYOUTS.wp_vip_key.size, value: LAYOUTS.wp_vip_value.size },
  services: { name: "wp_services", key: LAYOUTS.wp_service_key.size, value: LAYOUTS.wp_service_value.size },
  backends: { name: "wp_backends", key: 4, value: LAYOUTS.wp_backend.size },
  maglevOuter: { name: "wp_maglev_outer", key: 4, value: 4 },
  randomSlots: { name: "wp_random_slots", key: LAYOUTS.wp_random_slot_key.size, value: 4 },
  flows: { name: "wp_flows", key: LAYOUTS.wp_flow_key.size, value: LAYOUTS.wp_flow_value.size },
  affinity: { name: "wp_affinity", key: LAYOUTS.wp_affinity_key.size, value: LAYOUTS.wp_affinity_value.size },
  fragments: { name: "wp_fragments", key: LAYOUTS.wp_frag_key.size, value: LAYOUTS.wp_frag_value.size },
  serviceCounters: { name: "wp_service_counters", key: 4, value: LAYOUTS.wp_counter.size },
  backendCounters: { name: "wp_backend_counters", key: 4, value: LAYOUTS.wp_counter.size },
  dropCounters: { name: "wp_drop_counters", key: 4, value: LAYOUTS.wp_counter.size },
  config: { name: "wp_config", key: 4, value: LAYOUTS.wp_config.size },
  nextHops: { name: "wp_next_hops", key: 4, value: LAYOUTS.wp_next_hop_entry.size },
};

/**
 * The maps of a loaded xdp_lb object, checked against abi.h.
 *
 * @throws {@link InvalidInputError} when a map is missing from the object.
 * @throws {@link LayoutMismatchError} when a key or value size, or the inner
 *   table template, differs from abi.h.
 */
export function lbMaps(object: BpfObject): LbMaps {
  const maps = {} as LbMaps;
  const differences: string[] = [];
  for (const [field, shape] of Object.entries(SHAPES) as [keyof LbMaps, (typeof SHAPES)[keyof LbMaps]][]) {
    const map = object.map(shape.name);
    if (map.keySize !== shape.key) differences.push(`${shape.name}: key is ${map.keySize} bytes, abi.h says ${shape.key}`);
    if (map.valueSize !== shape.value) differences.push(`${shape.name}: value is ${map.valueSize} bytes, abi.h says ${shape.value}`);
    maps[field] = map;
  }
  const inner = maps.maglevOuter.inner;
  if (!inner) differences.push("wp_maglev_outer: no inner map template");
  else {
    if (inner.keySize !== 4) differences.push(`wp_maglev_outer inner: key is ${inner.keySize} bytes, abi.h says 4`);
    if (inner.maxEntries !== WP_MAGLEV_TABLE_SLOTS) differences.push(`wp_maglev_outer inner: ${inner.maxEntries} buffers, abi.h says ${WP_MAGLEV_TABLE_SLOTS}`);
    if (inner.valueSize % 4 !== 0) differences.push(`wp_maglev_outer inner: value of ${inner.valueSize} bytes is not a whole number of backend IDs`);
  }
  if (differences.length > 0) throw new LayoutMismatchError(`the maps of ${object.path} against src/lb/layouts.ts (abi.h)`, differences);
  return maps;
}

/** M, the table size the object was compiled with: sizeof(struct wp_maglev_table) / 4. */
export function compiledTableSize(maps: LbMaps): number {
  return maps.maglevOuter.inner!.valueSize / 4;
}
