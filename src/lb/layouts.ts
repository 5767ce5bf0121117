/**
 * The TypeScript mirror of bpf/include/wasmplane/abi.h: every map key and
 * value of the XDP load balancer as a declarative layout (size, and each C
 * member's offset and size) plus an encoder and a decoder driven by it.
 *
 * The C header owns the bytes. test/lb-layouts.test.ts compares each
 * layout here with the BTF clang emits for the compiled object
 * (`assertLayoutMatchesBtf`), so a change on either side that is not made on
 * the other fails the build instead of corrupting maps. Encoders read their
 * offsets from the layouts, so the test covers them too.
 *
 * Byte order, as abi.h states it: addresses (16 bytes, IPv4 in bytes 0-3)
 * and ports are network order; every other integer is host order (what the
 * kernel stores). Encoders zero the whole struct first: padding is part of a
 * hash key.
 *
 * Pure module: no kernel, no koffi.
 *
 * @module
 */
import { endianness } from "node:os";
import type { StructLayout } from "../bpf/btf-layout.js";

const HOST_LE = endianness() === "LE";

// ---- Enumerations of abi.h ----------------------------------------------------------

/** `WP_FAMILY_*`: address family of a key or a backend. */
export const WP_FAMILY = { IPV4: 4, IPV6: 6 } as const;
/** An address family as abi.h spells it. */
export type WpFamily = (typeof WP_FAMILY)[keyof typeof WP_FAMILY];

/** `WP_ALG_*`: how a service picks a backend for a new flow. */
export const WP_ALG = { MAGLEV: 1, RANDOM: 2 } as const;

/** `WP_SVC_F_*`: wp_service_value.flags. */
export const WP_SVC_F = { SESSION_AFFINITY: 0x01 } as const;

/** `WP_BACKEND_F_*`: wp_backend.flags. */
export const WP_BACKEND_F = { DRAINING: 0x01 } as const;

/** `WP_BACKEND_ID_NONE`: an empty Maglev or random slot. */
export const WP_BACKEND_ID_NONE = 0xffffffff;

/** `WP_MAGLEV_TABLE_SLOTS`: table buffers per service (double buffering). */
export const WP_MAGLEV_TABLE_SLOTS = 2;

// ---- Layouts (C member names, byte offsets and sizes) ------------------------------------

/** Every fixed-size struct of abi.h, by C name. */
export const LAYOUTS = {
  wp_vip_key: { size: 20, fields: { vip: { offset: 0, size: 16 }, family: { offset: 16, size: 1 }, pad: { offset: 17, size: 3 } } },
  wp_vip_value: { size: 4, fields: { flags: { offset: 0, size: 4 } } },
  wp_service_key: {
    size: 20,
    fields: { vip: { offset: 0, size: 16 }, port: { offset: 16, size: 2 }, protocol: { offset: 18, size: 1 }, family: { offset: 19, size: 1 } },
  },
  wp_service_value: {
    size: 16,
    fields: {
      service_id: { offset: 0, size: 4 }, affinity_timeout_sec: { offset: 4, size: 4 }, backend_count: { offset: 8, size: 2 },
      algorithm: { offset: 10, size: 1 }, flags: { offset: 11, size: 1 }, table_slot: { offset: 12, size: 1 }, pad: { offset: 13, size: 3 },
    },
  },
  wp_backend: {
    size: 20,
    fields: { addr: { offset: 0, size: 16 }, port: { offset: 16, size: 2 }, family: { offset: 18, size: 1 }, flags: { offset: 19, size: 1 } },
  },
  wp_random_slot_key: { size: 8, fields: { service_id: { offset: 0, size: 4 }, slot: { offset: 4, size: 4 } } },
  wp_flow_key: {
    size: 40,
    fields: {
      saddr: { offset: 0, size: 16 }, daddr: { offset: 16, size: 16 }, sport: { offset: 32, size: 2 }, dport: { offset: 34, size: 2 },
      protocol: { offset: 36, size: 1 }, family: { offset: 37, size: 1 }, pad: { offset: 38, size: 2 },
    },
  },
  wp_flow_value: {
    size: 16,
    fields: { backend_id: { offset: 0, size: 4 }, service_id: { offset: 4, size: 4 }, last_seen_ns: { offset: 8, size: 8 } },
  },
  wp_affinity_key: {
    size: 24,
    fields: { service_id: { offset: 0, size: 4 }, family: { offset: 4, size: 1 }, pad: { offset: 5, size: 3 }, client: { offset: 8, size: 16 } },
  },
  wp_affinity_value: {
    size: 16,
    fields: { backend_id: { offset: 0, size: 4 }, pad: { offset: 4, size: 4 }, last_used_ns: { offset: 8, size: 8 } },
  },
  wp_frag_key: {
    size: 40,
    fields: {
      saddr: { offset: 0, size: 16 }, daddr: { offset: 16, size: 16 }, id: { offset: 32, size: 4 },
      protocol: { offset: 36, size: 1 }, family: { offset: 37, size: 1 }, pad: { offset: 38, size: 2 },
    },
  },
  wp_frag_value: { size: 4, fields: { sport: { offset: 0, size: 2 }, dport: { offset: 2, size: 2 } } },
  wp_counter: { size: 16, fields: { packets: { offset: 0, size: 8 }, bytes: { offset: 8, size: 8 } } },
  wp_config: {
    size: 32,
    fields: {
      encap_src_v6: { offset: 0, size: 16 }, encap_src_v4: { offset: 16, size: 4 }, fallback_mac: { offset: 20, size: 6 }, pad: { offset: 26, size: 6 },
    },
  },
  wp_next_hop_entry: {
    size: 48,
    fields: {
      backend_addr: { offset: 0, size: 16 }, dmac: { offset: 16, size: 6 }, smac: { offset: 22, size: 6 }, ifindex: { offset: 28, size: 4 },
      ingress_ifindex: { offset: 32, size: 4 }, mtu: { offset: 36, size: 2 }, tos: { offset: 38, size: 1 }, family: { offset: 39, size: 1 },
      expires_ns: { offset: 40, size: 8 },
    },
  },
} as const satisfies Record<string, StructLayout>;

/** Name of a struct of abi.h with a fixed size. */
export type StructName = keyof typeof LAYOUTS;

/**
 * `struct wp_maglev_table` (one table buffer: M backend IDs, host order),
 * whose size depends on the build-time WASMPLANE_MAGLEV_M.
 */
export function maglevTableLayout(tableSize: number): StructLayout {
  return { size: 4 * tableSize, fields: { backend_ids: { offset: 0, size: 4 * tableSize } } };
}

// ---- Values ------------------------------------------------------------------------------

/** wp_vips key: a VIP. */
export interface VipKey { vip: Uint8Array; family: WpFamily }
/** wp_services key: VIP, port, protocol. */
export interface ServiceKey { vip: Uint8Array; port: number; protocol: number; family: WpFamily }
/** wp_services value. */
export interface ServiceValue {
  serviceId: number;
  affinityTimeoutSec: number;
  backendCount: number;
  algorithm: number;
  flags: number;
  /** Active Maglev table buffer, 0 or 1. */
  tableSlot: number;
}
/** wp_backends value. */
export interface BackendValue { addr: Uint8Array; port: number; family: WpFamily; flags: number }
/** wp_random_slots key. */
export interface RandomSlotKey { serviceId: number; slot: number }
/** wp_flows key (client → VIP). */
export interface FlowKey { saddr: Uint8Array; daddr: Uint8Array; sport: number; dport: number; protocol: number; family: WpFamily }
/** wp_flows value. */
export interface FlowValue { backendId: number; serviceId: number; lastSeenNs: bigint }
/** wp_affinity key. */
export interface AffinityKey { serviceId: number; family: WpFamily; client: Uint8Array }
/** wp_affinity value. */
export interface AffinityValue { backendId: number; lastUsedNs: bigint }
/** wp_fragments key. */
export interface FragKey { saddr: Uint8Array; daddr: Uint8Array; id: number; protocol: number; family: WpFamily }
/** wp_fragments value. */
export interface FragValue { sport: number; dport: number }
/** wp_*_counters value (one CPU's, or the sum). */
export interface CounterValue {
  /** Packets counted. */
  packets: bigint;
  /** Their bytes: frames as received, before encapsulation. */
  bytes: bigint;
}
/** wp_config value. */
export interface ConfigValue {
  /** Outer IPv6 source, 16 bytes; all zero: not configured. */
  encapSrcV6: Uint8Array;
  /** Outer IPv4 source, 4 bytes; all zero: not configured. */
  encapSrcV4: Uint8Array;
  /** Fallback next-hop MAC, 6 bytes; all zero: none. */
  fallbackMac: Uint8Array;
}

/** Encoder and decoder of one struct, with the layout they follow. */
export interface StructCodec<T> {
  /** The C struct name. */
  readonly name: string;
  /** The layout, checked against BTF by the tests. */
  readonly layout: StructLayout;
  /** Writes `value` into `into` (zeroed first; default a new buffer of layout.size) and returns it. */
  encode(value: T, into?: Uint8Array): Uint8Array;
  /** Reads a value from the first layout.size bytes of `bytes`. */
  decode(bytes: Uint8Array): T;
}

/** Field accessors at the offsets of one layout. */
class Fields {
  readonly #dv: DataView;
  readonly #bytes: Uint8Array;
  readonly #layout: StructLayout;

  constructor(layout: StructLayout, bytes: Uint8Array) {
    this.#layout = layout;
    this.#bytes = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #at(name: string, size: number): number {
    const f = this.#layout.fields[name];
    // A layout/accessor disagreement is a bug in this file, not bad input.
    if (!f || f.size !== size) throw new Error(`layout field ${name} is not ${size} bytes`);
    return f.offset;
  }

  u8(name: string, v?: number): number {
    const o = this.#at(name, 1);
    if (v !== undefined) this.#dv.setUint8(o, v);
    return this.#dv.getUint8(o);
  }

  u16(name: string, v?: number): number {
    const o = this.#at(name, 2);
    if (v !== undefined) this.#dv.setUint16(o, v, HOST_LE);
    return this.#dv.getUint16(o, HOST_LE);
  }

  /** A `__be16` (a port, as on the wire). */
  be16(name: string, v?: number): number {
    const o = this.#at(name, 2);
    if (v !== undefined) this.#dv.setUint16(o, v, false);
    return this.#dv.getUint16(o, false);
  }

  u32(name: string, v?: number): number {
    const o = this.#at(name, 4);
    if (v !== undefined) this.#dv.setUint32(o, v >>> 0, HOST_LE);
    return this.#dv.getUint32(o, HOST_LE);
  }

  u64(name: string, v?: bigint): bigint {
    const o = this.#at(name, 8);
    if (v !== undefined) this.#dv.setBigUint64(o, v, HOST_LE);
    return this.#dv.getBigUint64(o, HOST_LE);
  }

  bytes(name: string, v?: Uint8Array): Uint8Array {
    const f = this.#layout.fields[name];
    if (!f) throw new Error(`layout has no field ${name}`);
    if (v !== undefined) {
      if (v.byteLength !== f.size) throw new Error(`${name} needs ${f.size} bytes, got ${v.byteLength}`);
      this.#bytes.set(v, f.offset);
    }
    return this.#bytes.slice(f.offset, f.offset + f.size);
  }
}

function codec<T>(name: StructName, write: (f: Fields, v: T) => void, read: (f: Fields) => T): StructCodec<T> {
  const layout: StructLayout = LAYOUTS[name];
  return {
    name,
    layout,
    encode(value, into = new Uint8Array(layout.size)) {
      if (into.byteLength < layout.size) throw new Error(`${name} needs ${layout.size} bytes, got ${into.byteLength}`);
      into.fill(0, 0, layout.size);
      write(new Fields(layout, into), value);
      return into;
    },
    decode: (bytes) => read(new Fields(layout, bytes)),
  };
}

const family = (n: number): WpFamily => (n === WP_FAMILY.IPV6 ? WP_FAMILY.IPV6 : WP_FAMILY.IPV4);

/** wp_vips key. */
export const vipKey = codec<VipKey>("wp_vip_key",
  (f, v) => { f.bytes("vip", v.vip); f.u8("family", v.family); },
  (f) => ({ vip: f.bytes("vip"), family: family(f.u8("family")) }));

/** wp_vips value (flags, reserved: 0). */
export const vipValue = codec<{ flags: number }>("wp_vip_value",
  (f, v) => { f.u32("flags", v.flags); },
  (f) => ({ flags: f.u32("flags") }));

/** wp_services key. */
export const serviceKey = codec<ServiceKey>("wp_service_key",
  (f, v) => { f.bytes("vip", v.vip); f.be16("port", v.port); f.u8("protocol", v.protocol); f.u8("family", v.family); },
  (f) => ({ vip: f.bytes("vip"), port: f.be16("port"), protocol: f.u8("protocol"), family: family(f.u8("family")) }));

/** wp_services value. */
export const serviceValue = codec<ServiceValue>("wp_service_value",
  (f, v) => {
    f.u32("service_id", v.serviceId); f.u32("affinity_timeout_sec", v.affinityTimeoutSec); f.u16("backend_count", v.backendCount);
    f.u8("algorithm", v.algorithm); f.u8("flags", v.flags); f.u8("table_slot", v.tableSlot);
  },
  (f) => ({
    serviceId: f.u32("service_id"), affinityTimeoutSec: f.u32("affinity_timeout_sec"), backendCount: f.u16("backend_count"),
    algorithm: f.u8("algorithm"), flags: f.u8("flags"), tableSlot: f.u8("table_slot"),
  }));

/** wp_backends value. */
export const backendValue = codec<BackendValue>("wp_backend",
  (f, v) => { f.bytes("addr", v.addr); f.be16("port", v.port); f.u8("family", v.family); f.u8("flags", v.flags); },
  (f) => ({ addr: f.bytes("addr"), port: f.be16("port"), family: family(f.u8("family")), flags: f.u8("flags") }));

/** wp_random_slots key. */
export const randomSlotKey = codec<RandomSlotKey>("wp_random_slot_key",
  (f, v) => { f.u32("service_id", v.serviceId); f.u32("slot", v.slot); },
  (f) => ({ serviceId: f.u32("service_id"), slot: f.u32("slot") }));

/** wp_flows key. */
export const flowKey = codec<FlowKey>("wp_flow_key",
  (f, v) => {
    f.bytes("saddr", v.saddr); f.bytes("daddr", v.daddr); f.be16("sport", v.sport); f.be16("dport", v.dport);
    f.u8("protocol", v.protocol); f.u8("family", v.family);
  },
  (f) => ({
    saddr: f.bytes("saddr"), daddr: f.bytes("daddr"), sport: f.be16("sport"), dport: f.be16("dport"),
    protocol: f.u8("protocol"), family: family(f.u8("family")),
  }));

/** wp_flows value. */
export const flowValue = codec<FlowValue>("wp_flow_value",
  (f, v) => { f.u32("backend_id", v.backendId); f.u32("service_id", v.serviceId); f.u64("last_seen_ns", v.lastSeenNs); },
  (f) => ({ backendId: f.u32("backend_id"), serviceId: f.u32("service_id"), lastSeenNs: f.u64("last_seen_ns") }));

/** wp_affinity key. */
export const affinityKey = codec<AffinityKey>("wp_affinity_key",
  (f, v) => { f.u32("service_id", v.serviceId); f.u8("family", v.family); f.bytes("client", v.client); },
  (f) => ({ serviceId: f.u32("service_id"), family: family(f.u8("family")), client: f.bytes("client") }));

/** wp_affinity value. */
export const affinityValue = codec<AffinityValue>("wp_affinity_value",
  (f, v) => { f.u32("backend_id", v.backendId); f.u64("last_used_ns", v.lastUsedNs); },
  (f) => ({ backendId: f.u32("backend_id"), lastUsedNs: f.u64("last_used_ns") }));

/** wp_fragments key. */
export const fragKey = codec<FragKey>("wp_frag_key",
  (f, v) => { f.bytes("saddr", v.saddr); f.bytes("daddr", v.daddr); f.u32("id", v.id); f.u8("protocol", v.protocol); f.u8("family", v.family); },
  (f) => ({ saddr: f.bytes("saddr"), daddr: f.bytes("daddr"), id: f.u32("id"), protocol: f.u8("protocol"), family: family(f.u8("family")) }));

/** wp_fragments value. */
export const fragValue = codec<FragValue>("wp_frag_value",
  (f, v) => { f.be16("sport", v.sport); f.be16("dport", v.dport); },
  (f) => ({ sport: f.be16("sport"), dport: f.be16("dport") }));

/** wp_*_counters value of one CPU. */
export const counterValue = codec<CounterValue>("wp_counter",
  (f, v) => { f.u64("packets", v.packets); f.u64("bytes", v.bytes); },
  (f) => ({ packets: f.u64("packets"), bytes: f.u64("bytes") }));

/** wp_config value. */
export const configValue = codec<ConfigValue>("wp_config",
  (f, v) => { f.bytes("encap_src_v6", v.encapSrcV6); f.bytes("encap_src_v4", v.encapSrcV4); f.bytes("fallback_mac", v.fallbackMac); },
  (f) => ({ encapSrcV6: f.bytes("encap_src_v6"), encapSrcV4: f.bytes("encap_src_v4"), fallbackMac: f.bytes("fallback_mac") }));

/**
 * The sum over CPUs of a per-CPU wp_counter value as the kernel returns it:
 * one 16-byte slot per possible CPU (values of per-CPU maps are rounded up to
 * 8 bytes each; 16 already is).
 */
export function sumPerCpuCounter(bytes: Uint8Array): CounterValue {
  const stride = LAYOUTS.wp_counter.size;
  let packets = 0n;
  let bytesTotal = 0n;
  for (let off = 0; off + stride <= bytes.byteLength; off += stride) {
    const c = counterValue.decode(bytes.subarray(off, off + stride));
    packets += c.packets;
    bytesTotal += c.bytes;
  }
  return { packets, bytes: bytesTotal };
}

/** A u32 map key or value (IDs, table buffer indexes), host order. */
export function u32Bytes(value: number, into: Uint8Array = new Uint8Array(4)): Uint8Array {
  new DataView(into.buffer, into.byteOffset, 4).setUint32(0, value >>> 0, HOST_LE);
  return into;
}

/** Reads a host-order u32. */
export function readU32(bytes: Uint8Array, offset = 0): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, HOST_LE);
}
