/**
 * The bench's adapter to the load balancer's maps: every byte the bench
 * writes into, or reads from, bpf/xdp_lb.c's maps goes through this file.
 *
 * Why an adapter of its own: the map layouts belong to
 * bpf/include/wasmplane/abi.h and bpf/lib/maps.h, and they change. When they
 * do, this is the one file to update, and {@link readAbi} says so before
 * anything is timed: it compares {@link LAYOUTS} with the BTF clang emitted
 * into the object the bench just built, and names this file in its error.
 *
 * Two Maglev table layouts are known, told apart by the object's BTF, so the
 * bench runs against the datapath of either side of that change:
 *   - "per-slot" (up to commit fdc408c): wp_maglev_outer[service] is an
 *     array of M u32 backend IDs; wp_service_value is 12 bytes.
 *   - "double-buffered": wp_maglev_outer[service] is an array of two
 *     struct wp_maglev_table values (M u32 each); wp_service_value (16
 *     bytes) names the active one in table_slot.
 * Once the per-slot layout is gone from every tree worth benchmarking, drop
 * its branch in {@link installMaglevTable} and SERVICE_VALUE.perSlot.
 *
 * Places that know more than byte layouts, and so are the ones a datapath
 * change is most likely to touch: {@link MAP} (map names),
 * {@link installMaglevTable}, {@link ALGORITHM} and the service value.
 *
 * Byte order (abi.h): addresses and ports as on the wire, every other
 * integer in host order. `structCodec` writes host order, so wire-order
 * fields go through {@link wireU16} / {@link wireU32}.
 */
import { endianness } from "node:os";
import { compareLayoutWithBtf, readBtfStructs, type StructLayout } from "../../src/bpf/btf-layout.js";
import { structCodec, type StructValue } from "../../src/bpf/codec.js";
import { createInnerMap, swapInnerMaps } from "../../src/bpf/map-in-map.js";
import type { BpfMap } from "../../src/bpf/map.js";
import type { BpfObject } from "../../src/bpf/object.js";
import { ip, ip16, mac } from "../../test/fixtures/bpf/packets.js";

const LITTLE = endianness() === "LE";

/** Map names in bpf/lib/maps.h. */
export const MAP = {
  vips: "wp_vips",
  services: "wp_services",
  backends: "wp_backends",
  maglevOuter: "wp_maglev_outer",
  randomSlots: "wp_random_slots",
  flows: "wp_flows",
  dropCounters: "wp_drop_counters",
  serviceCounters: "wp_service_counters",
  config: "wp_config",
} as const;

/** WP_ALG_* (abi.h). */
export const ALGORITHM = { maglev: 1, random: 2 } as const;

/** WP_FAMILY_* (abi.h), by address length. */
const FAMILY = { 4: 4, 16: 6 } as const;

const field = (offset: number, size: number) => ({ offset, size });

const SERVICE_VALUE = {
  perSlot: {
    size: 12,
    fields: { service_id: field(0, 4), affinity_timeout_sec: field(4, 4), backend_count: field(8, 2), algorithm: field(10, 1), flags: field(11, 1) },
  },
  doubleBuffered: {
    size: 16,
    fields: {
      service_id: field(0, 4), affinity_timeout_sec: field(4, 4), backend_count: field(8, 2), algorithm: field(10, 1), flags: field(11, 1),
      table_slot: field(12, 1), pad: field(13, 3),
    },
  },
} satisfies Record<string, StructLayout>;

/** The structs the bench writes or reads, as abi.h declares them (wp_service_value: see {@link readAbi}). */
export const LAYOUTS = {
  wp_vip_key: { size: 20, fields: { vip: field(0, 16), family: field(16, 1), pad: field(17, 3) } },
  wp_vip_value: { size: 4, fields: { flags: field(0, 4) } },
  wp_service_key: { size: 20, fields: { vip: field(0, 16), port: field(16, 2), protocol: field(18, 1), family: field(19, 1) } },
  wp_service_value: SERVICE_VALUE.doubleBuffered as StructLayout,
  wp_backend: { size: 20, fields: { addr: field(0, 16), port: field(16, 2), family: field(18, 1), flags: field(19, 1) } },
  wp_random_slot_key: { size: 8, fields: { service_id: field(0, 4), slot: field(4, 4) } },
  wp_flow_key: {
    size: 40,
    fields: { saddr: field(0, 16), daddr: field(16, 16), sport: field(32, 2), dport: field(34, 2), protocol: field(36, 1), family: field(37, 1), pad: field(38, 2) },
  },
  wp_counter: { size: 16, fields: { packets: field(0, 8), bytes: field(8, 8) } },
  wp_config: { size: 32, fields: { encap_src_v6: field(0, 16), encap_src_v4: field(16, 4), fallback_mac: field(20, 6), pad: field(26, 6) } },
} satisfies Record<string, StructLayout>;

type StructName = keyof typeof LAYOUTS;

/** The map ABI of one built object. */
export interface Abi {
  /** How Maglev tables reach the program (see the module comment). */
  readonly maglev: "per-slot" | "double-buffered";
  readonly layouts: Readonly<Record<StructName, StructLayout>>;
}

/**
 * Detects the object's Maglev table layout and checks every struct the bench
 * encodes against the object's BTF (sizes, member names, offsets), so the
 * bench never writes bytes the program would read differently.
 *
 * @throws Error naming this file and every difference.
 */
export function readAbi(objectPath: string): Abi {
  const serviceValue = readBtfStructs(objectPath).get("wp_service_value");
  const doubleBuffered = serviceValue?.members.some((m) => m.name === "table_slot") ?? false;
  const layouts = { ...LAYOUTS, wp_service_value: doubleBuffered ? SERVICE_VALUE.doubleBuffered : SERVICE_VALUE.perSlot };
  const problems = Object.entries(layouts).flatMap(([name, layout]) => compareLayoutWithBtf(objectPath, name, layout).map((d) => `struct ${name}: ${d}`));
  if (problems.length > 0) {
    throw new Error(`bench/xdp/lb-maps.ts is out of date with bpf/include/wasmplane/abi.h; update LAYOUTS and the encoders:\n  ${problems.join("\n  ")}`);
  }
  return { maglev: doubleBuffered ? "double-buffered" : "per-slot", layouts };
}

// ---- Encoders -------------------------------------------------------------------------

function encode(struct: StructName, value: StructValue, layouts: Abi["layouts"] = LAYOUTS): Uint8Array {
  const codec = structCodec(layouts[struct]);
  const out = new Uint8Array(codec.size);
  codec.encode(value, out);
  return out;
}

/** The host-order number whose in-memory bytes are `n` in network order (a __be16 field). */
export function wireU16(n: number): number {
  return LITTLE ? ((n & 0xff) << 8) | (n >>> 8) : n;
}

/** The host-order number whose in-memory bytes are `bytes[0..4)` (a __be32 field). */
export function wireU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, LITTLE);
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, LITTLE);
  return b;
}

const familyOf = (address: string): number => FAMILY[ip(address).length as 4 | 16];

/** A flow in the client → VIP direction, as wp_flows keys it. */
export interface Flow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: number;
}

/** The wp_flows key of `f`. */
export function flowKey(f: Flow): Uint8Array {
  return encode("wp_flow_key", {
    saddr: ip16(f.src), daddr: ip16(f.dst), sport: wireU16(f.sport), dport: wireU16(f.dport), protocol: f.protocol, family: familyOf(f.dst),
  });
}

// ---- Installing a scenario -------------------------------------------------------------

export interface LbBackend {
  id: number;
  address: string;
  port: number;
}

export interface LbService {
  id: number;
  vip: string;
  port: number;
  protocol: number;
  algorithm: keyof typeof ALGORITHM;
  /** Backend IDs (random slots, in order; the backend count). */
  backends: number[];
  /** Maglev services: the table (backend ID per slot, WASMPLANE_MAGLEV_M slots). */
  maglevTable?: Uint32Array;
}

export interface LbScenario {
  encapSrcV4: string;
  encapSrcV6: string;
  fallbackMac: string;
  vips: string[];
  backends: LbBackend[];
  services: LbService[];
}

/**
 * Makes `table` service `serviceId`'s Maglev table: a fresh inner array
 * swapped into wp_maglev_outer (the outer map then holds the only reference).
 * Per-slot layout: M u32 entries, one batch update. Double-buffered: the
 * whole table as buffer 0, which the service value's table_slot (0) names.
 * The function to change when the table layout changes again.
 */
export function installMaglevTable(object: BpfObject, abi: Abi, serviceId: number, table: Uint32Array): void {
  const outer = object.map(MAP.maglevOuter);
  const inner = createInnerMap(outer, `wpbench_mg_${serviceId}`);
  try {
    const slots = abi.maglev === "per-slot" ? inner.maxEntries : inner.valueSize / 4;
    if (table.length !== slots) {
      throw new Error(`Maglev table of service ${serviceId} has ${table.length} slots; the object's tables have ${slots} (WASMPLANE_MAGLEV_M)`);
    }
    if (abi.maglev === "per-slot") inner.updateBatch(Uint32Array.from(table, (_, slot) => slot), table);
    else inner.update(u32(0), table);
    swapInnerMaps(outer, [{ key: u32(serviceId), inner }]);
  } finally {
    inner.close();
  }
}

/** Writes config, VIPs, backends, services, Maglev tables and random slots. */
export function installScenario(object: BpfObject, abi: Abi, s: LbScenario): void {
  object.map(MAP.config).update(u32(0), encode("wp_config", {
    encap_src_v6: ip16(s.encapSrcV6), encap_src_v4: wireU32(ip(s.encapSrcV4)), fallback_mac: mac(s.fallbackMac),
  }));
  for (const vip of s.vips) object.map(MAP.vips).update(encode("wp_vip_key", { vip: ip16(vip), family: familyOf(vip) }), encode("wp_vip_value", {}));
  for (const b of s.backends) {
    object.map(MAP.backends).update(u32(b.id), encode("wp_backend", { addr: ip16(b.address), port: wireU16(b.port), family: familyOf(b.address) }));
  }
  for (const svc of s.services) {
    if (svc.algorithm === "maglev") {
      if (!svc.maglevTable) throw new Error(`service ${svc.id} uses Maglev but has no table`);
      installMaglevTable(object, abi, svc.id, svc.maglevTable);
    } else {
      svc.backends.forEach((id, slot) => object.map(MAP.randomSlots).update(encode("wp_random_slot_key", { service_id: svc.id, slot }), u32(id)));
    }
    const value: StructValue = { service_id: svc.id, backend_count: svc.backends.length, algorithm: ALGORITHM[svc.algorithm] };
    if (abi.maglev === "double-buffered") value.table_slot = 0;
    object.map(MAP.services).update(
      encode("wp_service_key", { vip: ip16(svc.vip), port: wireU16(svc.port), protocol: svc.protocol, family: familyOf(svc.vip) }),
      encode("wp_service_value", value, abi.layouts),
    );
  }
}

// ---- Reading -------------------------------------------------------------------------------

/** Packets counted in slot `index` of the per-CPU wp_counter array `name`, summed over CPUs. */
function counterPackets(object: BpfObject, name: string, index: number): bigint {
  const map: BpfMap = object.map(name);
  const value = map.lookup(u32(index));
  if (!value) throw new Error(`${name}[${index}] is missing`);
  const stride = Math.ceil(LAYOUTS.wp_counter.size / 8) * 8; // per-CPU values are 8-byte aligned
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let packets = 0n;
  for (let off = 0; off + stride <= value.byteLength; off += stride) packets += view.getBigUint64(off + LAYOUTS.wp_counter.fields.packets.offset, LITTLE);
  return packets;
}

/** Packets counted under drop reason `reason`, summed over CPUs (wp_drop_counters is per CPU). */
export function dropPackets(object: BpfObject, reason: number): bigint {
  return counterPackets(object, MAP.dropCounters, reason);
}

/** Packets the datapath forwarded for service `serviceId` (wp_service_counters, summed over CPUs). */
export function forwardedPackets(object: BpfObject, serviceId: number): bigint {
  return counterPackets(object, MAP.serviceCounters, serviceId);
}
