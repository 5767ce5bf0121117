/**
 * Maglev tables of services: built by the WebAssembly engine, written whole
 * into one of a service's two table buffers.
 *
 * The swap design (abi.h, wp_maglev_outer). Each Maglev service has one
 * inner array of two buffers, each a whole table (4·M bytes). Packets read
 * the buffer wp_service_value.table_slot names. A change writes the new
 * table into the other buffer with one BPF_MAP_UPDATE_ELEM (the kernel
 * copies 64 KiB at M = 16381: microseconds) and the sync then flips
 * table_slot with one update of the service value, so packets go from one
 * complete table to the other and never see a half-written one.
 *
 * Why not the alternatives (measured on Linux 6.18, M = 16381, see
 * docs/datapath.md): an inner array of M u32 entries takes a batch of M
 * updates (about 3.7 ms per table, 3.7 s for 1,000 services); swapping a
 * fresh inner map into the outer map waits an RCU grace period per update
 * (about 10 ms). The outer map is only written when a service gets its
 * inner map, and all of a sync's new inner maps go in one batch (one grace
 * period).
 *
 * Safety of the in-place write: the buffer written is the one the service
 * value stopped naming at the previous flip of that service, at least one
 * table build (a WASM call, > 100 µs) earlier; an XDP program reads the
 * service value and its table slot within one run of a few hundred
 * nanoseconds. A fresh inner map gets the table in both buffers, so either
 * slot is a complete table.
 *
 * @module
 */
import type { BpfMap } from "../bpf/map.js";
import { createInnerMap, swapInnerMaps } from "../bpf/map-in-map.js";
import type { MaglevBuilder } from "../maglev/builder.js";
import { u32Bytes, WP_BACKEND_ID_NONE } from "./layouts.js";
import type { ServiceSpec } from "./services.js";

/** The backends a service's table is built from: not draining, by ID. */
export function activeBackends(spec: ServiceSpec): ServiceSpec["backends"] {
  return spec.backends.filter((b) => !b.draining).sort((a, b) => a.id - b.id);
}

/**
 * What a Maglev table depends on, as a string: each active backend's ID,
 * address, port and weight, and the protocol (part of Cilium's key). Equal
 * signatures give equal tables, so a sync skips services whose signature
 * did not change.
 */
export function tableSignature(spec: ServiceSpec): string {
  return `${spec.protocol}|${activeBackends(spec).map((b) => `${b.id}=${b.addressText}:${b.port}*${b.weight}`).join(",")}`;
}

/** Builds and writes tables for one datapath. */
export class MaglevTables {
  readonly #builder: MaglevBuilder;
  readonly #outer: BpfMap;
  readonly #empty: Uint32Array;
  readonly #slotKeys = [u32Bytes(0), u32Bytes(1)] as const;

  constructor(builder: MaglevBuilder, outer: BpfMap) {
    this.#builder = builder;
    this.#outer = outer;
    this.#empty = new Uint32Array(builder.tableSize).fill(WP_BACKEND_ID_NONE);
  }

  /** M. */
  get tableSize(): number {
    return this.#builder.tableSize;
  }

  /**
   * The service's table: M backend IDs, Cilium's for the active backends;
   * every slot WP_BACKEND_ID_NONE without one (the datapath drops new
   * flows of such a service before reading it).
   */
  build(spec: ServiceSpec): Uint32Array {
    const active = activeBackends(spec);
    if (active.length === 0) return this.#empty;
    return this.#builder.build(active.map((b) => ({ id: b.id, address: b.addressText, port: b.port, protocol: spec.protocol, weight: b.weight })));
  }

  /** Writes `table` into buffer `slot` (0 or 1) of `inner`: one update of a 4·M-byte value. */
  write(inner: BpfMap, slot: number, table: Uint32Array): void {
    inner.update(this.#slotKeys[slot === 0 ? 0 : 1], table);
  }

  /** A new inner map (named `wpt<id>` for bpftool) holding `table` in both buffers. The caller owns it. */
  createFilled(serviceId: number, table: Uint32Array): BpfMap {
    const inner = createInnerMap(this.#outer, `wpt${serviceId}`);
    try {
      this.write(inner, 0, table);
      this.write(inner, 1, table);
      return inner;
    } catch (error) {
      inner.close();
      throw error;
    }
  }

  /** Puts every inner map under its service ID in wp_maglev_outer with one batch: one RCU grace period in all. */
  insert(swaps: ReadonlyArray<{ serviceId: number; inner: BpfMap }>): void {
    if (swaps.length === 0) return;
    swapInnerMaps(this.#outer, swaps.map((s) => ({ key: u32Bytes(s.serviceId), inner: s.inner })));
  }

  /** Removes a service's inner map from wp_maglev_outer (waits one RCU grace period). */
  remove(serviceId: number): boolean {
    return this.#outer.delete(u32Bytes(serviceId));
  }
}
