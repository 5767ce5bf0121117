/**
 * What the control plane knows the datapath holds: services (by ID),
 * backends, VIPs, which services have table buffers, and which of those it
 * holds a descriptor for.
 *
 * Kept in memory so that a sync writes only what changed, and rebuilt from
 * the pinned maps after a restart ({@link restoreState}): the maps record
 * frontends, IDs, active buffers, backends and VIPs, but not names, specs or
 * the inner maps' descriptors (only their IDs, and wasmplane's binding
 * cannot open a map by ID). The first sync after a restart therefore writes
 * every Maglev table into fresh inner maps, swapped in with one batch.
 *
 * @module
 */
import type { BpfMap } from "../bpf/map.js";
import { LAYOUTS, readU32, serviceKey, serviceValue, vipKey, WP_ALG, WP_FAMILY, type ServiceValue } from "./layouts.js";
import type { LbMaps } from "./maps.js";
import { formatFrontend, LB_PROTOCOL_NUMBERS, type LbProtocol, type ServiceSpec } from "./services.js";
import { formatIp } from "../net/ip.js";

/** One service as applied to the datapath. */
export interface AppliedService {
  readonly id: number;
  /** The datapath's identity of the service. */
  readonly frontend: string;
  /** Undefined for a service restored from pinned maps and not synced since. */
  readonly name: string | undefined;
  /** The spec last applied; undefined when restored. */
  readonly spec: ServiceSpec | undefined;
  /** Its wp_services key bytes. */
  readonly key: Uint8Array;
  /** Its wp_services value, as written. */
  readonly value: ServiceValue;
  /** What the active table buffer holds (see tables.ts), when this process wrote it. */
  readonly tableSignature: string | undefined;
}

/** Offset of `family` in struct wp_backend (abi.h); 0 there marks an empty entry. */
const BACKEND_FAMILY_OFFSET = LAYOUTS.wp_backend.fields.family.offset;

/** A backend as written to wp_backends. */
export interface AppliedBackend {
  /** The wp_backend value bytes. */
  readonly value: Uint8Array;
  /** IDs of the services that list it; undefined when restored (unknown until a full sync). */
  readonly users: Set<number> | undefined;
}

/** The control plane's knowledge of the datapath. Indexed so that one service's change costs O(its size). */
export class DatapathState {
  /** Services by ID; change it through {@link DatapathState.put} and {@link DatapathState.drop}. */
  readonly services = new Map<number, AppliedService>();
  /** wp_backends by backend ID. */
  readonly backends = new Map<number, AppliedBackend>();
  /** wp_vips keys, by hex of the key bytes. */
  readonly vips = new Map<string, Uint8Array>();
  /** Service IDs with an entry in wp_maglev_outer. */
  readonly outerIds = new Set<number>();
  /** Inner maps this process holds a descriptor for, by service ID (written in place, then flipped). */
  readonly tables = new Map<number, BpfMap>();
  readonly #byName = new Map<string, number>();
  readonly #byFrontend = new Map<string, number>();
  /** Services per VIP (hex of the wp_vips key). */
  readonly #vipUsers = new Map<string, number>();
  #randomSlots = 0;

  /** The ID of the service called `name`, if known. */
  idOfName(name: string): number | undefined {
    return this.#byName.get(name);
  }

  /** The ID of the service at `frontend`. */
  idOfFrontend(frontend: string): number | undefined {
    return this.#byFrontend.get(frontend);
  }

  /** Services using the VIP whose wp_vips key has hex `vip`. */
  vipUsers(vip: string): number {
    return this.#vipUsers.get(vip) ?? 0;
  }

  /** Random slots in use, summed over services. */
  get randomSlots(): number {
    return this.#randomSlots;
  }

  /** Records `service` (replacing the one with its ID). */
  put(service: AppliedService): void {
    this.drop(service.id);
    this.services.set(service.id, service);
    if (service.name !== undefined) this.#byName.set(service.name, service.id);
    this.#byFrontend.set(service.frontend, service.id);
    const vip = hexOf(vipKeyOfServiceKey(service.key));
    this.#vipUsers.set(vip, this.vipUsers(vip) + 1);
    this.#randomSlots += randomSlotsOf(service.value);
  }

  /** Forgets the service with ID `id`. */
  drop(id: number): void {
    const old = this.services.get(id);
    if (!old) return;
    this.services.delete(id);
    if (old.name !== undefined && this.#byName.get(old.name) === id) this.#byName.delete(old.name);
    if (this.#byFrontend.get(old.frontend) === id) this.#byFrontend.delete(old.frontend);
    const vip = hexOf(vipKeyOfServiceKey(old.key));
    const users = this.vipUsers(vip) - 1;
    if (users > 0) this.#vipUsers.set(vip, users);
    else this.#vipUsers.delete(vip);
    this.#randomSlots -= randomSlotsOf(old.value);
  }

  /** Closes the inner map descriptors this process holds (the outer map keeps the maps). */
  closeTables(): void {
    for (const t of this.tables.values()) t.close();
    this.tables.clear();
  }
}

/** The wp_vips key of a service's wp_services key: its VIP and family. */
export function vipKeyOfServiceKey(key: Uint8Array): Uint8Array {
  const k = serviceKey.decode(key);
  return vipKey.encode({ vip: k.vip, family: k.family });
}

const PROTOCOL_NAMES = new Map<number, LbProtocol>(Object.entries(LB_PROTOCOL_NUMBERS).map(([k, v]) => [v, k as LbProtocol]));

/** `frontend` text of a wp_services key (protocol by number when not TCP/UDP/SCTP). */
export function frontendOfKey(key: Uint8Array): string {
  const k = serviceKey.decode(key);
  const vip = k.family === WP_FAMILY.IPV6 ? { family: 6 as const, bytes: k.vip } : { family: 4 as const, bytes: k.vip.slice(0, 4) };
  const protocol = PROTOCOL_NAMES.get(k.protocol);
  if (protocol) return formatFrontend(vip, k.port, protocol);
  const host = formatIp(vip);
  return `${vip.family === 6 ? `[${host}]` : host}:${k.port}/${k.protocol}`;
}

/** Hex of bytes, as a map key. */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * Reads what pinned maps hold (after a restart, or a load that reused pins).
 * Walks wp_services, wp_backends, wp_vips and the keys of wp_maglev_outer.
 */
export function restoreState(maps: LbMaps): DatapathState {
  const state = new DatapathState();
  for (const [key, value] of maps.services.entries()) {
    const v = serviceValue.decode(value);
    state.put({ id: v.serviceId, frontend: frontendOfKey(key), name: undefined, spec: undefined, key, value: v, tableSignature: undefined });
  }
  // An array: every ID has an entry; family 0 (byte 18) is "no backend".
  for (const [key, value] of maps.backends.entries()) {
    if (value[BACKEND_FAMILY_OFFSET] !== 0) state.backends.set(readU32(key), { value, users: undefined });
  }
  for (const key of maps.vips.keys()) state.vips.set(hexOf(key), key);
  for (const key of maps.maglevOuter.keys()) state.outerIds.add(readU32(key));
  return state;
}

/** Random slots a service's value says are filled: backend_count for random services. */
export function randomSlotsOf(value: ServiceValue | undefined): number {
  return value && value.algorithm === WP_ALG.RANDOM ? value.backendCount : 0;
}
