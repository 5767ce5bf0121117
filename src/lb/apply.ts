/**
 * Applying a change of services to the datapath's maps, in an order that
 * keeps every packet on a consistent path:
 *
 *   1. removed services' keys (their traffic is gone)
 *   2. affinity entries of IDs that leave or change frontend, so a reused
 *      ID starts without stickiness
 *   3. backends, new and changed (counters of new ones zeroed first)
 *   4. tables: the inactive buffer of a service that has one, else a fresh
 *      inner map holding the table in both buffers; all of a change's fresh
 *      inner maps go into wp_maglev_outer in ONE batch (one RCU grace period)
 *   5. random slots 0..n-1
 *   6. service values, one batch: each service flips to its new table
 *      buffer, backend count and algorithm with one atomic update of its
 *      entry (counters of new services zeroed first)
 *   7. random slots beyond the new counts, and removed services' slots;
 *      VIPs added and removed
 *   8. backends no service lists any more (their flows are balanced again)
 *   9. inner maps of services that are gone (each outer delete waits a
 *      grace period)
 *
 * The caller (sync.ts) has validated the input; sizes are checked here
 * before the first write. Work is proportional to the services changed, not
 * to the services in the datapath, except for a full sync. A kernel failure
 * part way leaves the earlier steps applied; the state follows what was
 * written, and the next sync repairs the rest.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import type { BpfMap } from "../bpf/map.js";
import {
  affinityKey, backendValue, randomSlotKey, serviceKey, serviceValue, u32Bytes, vipValue,
  WP_ALG, WP_BACKEND_F, WP_FAMILY, WP_SVC_F, type ServiceValue,
} from "./layouts.js";
import type { LbMaps } from "./maps.js";
import type { BackendSpec, ServiceSpec } from "./services.js";
import { hexOf, randomSlotsOf, vipKeyOfServiceKey, type AppliedService, type DatapathState } from "./state.js";
import { activeBackends, tableSignature, type MaglevTables } from "./tables.js";

/** What a sync, upsert or removal did. */
export interface SyncResult {
  /** Services in the datapath afterwards. */
  services: number;
  /** Services created, or given another frontend. */
  added: number;
  /** Services whose value, table, random slots or backends changed. */
  updated: number;
  /** Services left as they were. */
  unchanged: number;
  /** Services deleted. */
  removed: number;
  /** Maglev tables written (into an inactive buffer, or both buffers of a new inner map). */
  tablesWritten: number;
  /** Inner maps put into wp_maglev_outer. */
  innerMapsInserted: number;
  /** Batch updates of wp_maglev_outer: 0 or 1 per call (each waits one RCU grace period). */
  outerBatches: number;
  /** Entries deleted from wp_maglev_outer (each waits one RCU grace period). */
  outerDeletes: number;
  /** wp_backends entries written (new or changed). */
  backendsWritten: number;
  /** wp_backends entries deleted (no service lists them): their flows are balanced again. */
  backendsDeleted: number;
}

/** Everything a change touches. */
export interface SyncContext {
  readonly maps: LbMaps;
  readonly state: DatapathState;
  readonly tables: MaglevTables;
}

/** One service to write, with its ID. */
export interface Upsert {
  spec: ServiceSpec;
  id: number;
  /** Error path of the spec (`services[3]`, `service`). */
  field: string;
}

/** A change: services to write and services to delete (never the same ID). */
export interface Change {
  upserts: Upsert[];
  removals: AppliedService[];
  /** Full sync: also delete every backend no upsert lists, whoever wrote it. */
  full: boolean;
}

/** The wp_backend value of a backend. */
export function backendBytes(b: BackendSpec): Uint8Array {
  const addr = new Uint8Array(16);
  addr.set(b.address.bytes);
  return backendValue.encode({ addr, port: b.port, family: b.address.family === 6 ? WP_FAMILY.IPV6 : WP_FAMILY.IPV4, flags: b.draining ? WP_BACKEND_F.DRAINING : 0 });
}

/** The wp_services key of a service. */
export function serviceKeyOf(spec: ServiceSpec): Uint8Array {
  const vip = new Uint8Array(16);
  vip.set(spec.vip.bytes);
  return serviceKey.encode({ vip, port: spec.port, protocol: spec.protocolNumber, family: spec.vip.family === 6 ? WP_FAMILY.IPV6 : WP_FAMILY.IPV4 });
}

/** The wp_services value of a service whose table is in buffer `tableSlot`. */
function serviceValueOf(id: number, spec: ServiceSpec, tableSlot: number): ServiceValue {
  return {
    serviceId: id,
    affinityTimeoutSec: spec.affinityTimeoutSeconds,
    backendCount: activeBackends(spec).length,
    algorithm: spec.algorithm === "maglev" ? WP_ALG.MAGLEV : WP_ALG.RANDOM,
    flags: spec.affinityTimeoutSeconds > 0 ? WP_SVC_F.SESSION_AFFINITY : 0,
    tableSlot,
  };
}

function randomSlotsOfSpec(spec: ServiceSpec): number {
  return spec.algorithm === "random" ? activeBackends(spec).length : 0;
}

/** Concatenates equal-sized byte strings for a batch. */
function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(parts.length * size);
  parts.forEach((p, i) => out.set(p, i * size));
  return out;
}

/** Writes `keys[i]` → `values[i]` with one batch (nothing for none). */
function batch(map: BpfMap, keys: readonly Uint8Array[], values: readonly Uint8Array[]): void {
  if (keys.length > 0) map.updateBatch(concat(keys, map.keySize), concat(values, map.valueBytes));
}

function capacityError(what: string, count: number, map: BpfMap, knob: string): InvalidInputError {
  return new InvalidInputError("services", `${count} ${what}`, `exceed the datapath's capacity of ${map.maxEntries} (${knob})`);
}

/** Backends after the change: the value to write, who lists it (undefined: unknown), and those to delete. */
interface BackendPlan {
  wanted: Map<number, { bytes: Uint8Array; users: Set<number> }>;
  users: Map<number, Set<number> | undefined>;
  dead: number[];
}

function planBackends(state: DatapathState, change: Change, before: ReadonlyMap<number, AppliedService>): BackendPlan {
  const wanted = new Map<number, { bytes: Uint8Array; users: Set<number> }>();
  for (const u of change.upserts) {
    for (const b of u.spec.backends) {
      const w = wanted.get(b.id);
      if (w) w.users.add(u.id);
      else wanted.set(b.id, { bytes: backendBytes(b), users: new Set([u.id]) });
    }
  }
  const users = new Map<number, Set<number> | undefined>();
  if (change.full) {
    for (const [id, w] of wanted) users.set(id, w.users);
    return { wanted, users, dead: [...state.backends.keys()].filter((id) => !wanted.has(id)) };
  }
  // Only backends the changed services list, before or after, can change users.
  const leaving = new Set([...change.removals.map((r) => r.id), ...change.upserts.map((u) => u.id)]);
  const affected = new Set(wanted.keys());
  for (const id of leaving) for (const b of before.get(id)?.spec?.backends ?? []) affected.add(b.id);
  for (const id of affected) {
    const applied = state.backends.get(id);
    if (applied && applied.users === undefined) {
      users.set(id, undefined); // restored, listed by services not synced since: never deleted here
      continue;
    }
    const next = new Set([...(applied?.users ?? [])].filter((sid) => !leaving.has(sid)));
    for (const sid of wanted.get(id)?.users ?? []) next.add(sid);
    users.set(id, next);
  }
  const dead = [...users].filter(([id, u]) => u !== undefined && u.size === 0 && state.backends.has(id)).map(([id]) => id);
  return { wanted, users, dead };
}

/** Throws before any write when the change does not fit the maps. */
function checkCapacity(ctx: SyncContext, change: Change, before: ReadonlyMap<number, AppliedService>, backends: BackendPlan): void {
  const { maps, state, tables } = ctx;
  const upsertIds = new Set(change.upserts.map((u) => u.id));
  const services = state.services.size - change.removals.length + [...upsertIds].filter((id) => !state.services.has(id)).length;
  if (services > maps.services.maxEntries) throw capacityError("services", services, maps.services, "WASMPLANE_MAX_SERVICES");

  const vipDelta = new Map<string, number>();
  const bump = (key: Uint8Array, by: number) => {
    const hex = hexOf(vipKeyOfServiceKey(key));
    vipDelta.set(hex, (vipDelta.get(hex) ?? 0) + by);
  };
  let slots = state.randomSlots;
  for (const r of change.removals) { bump(r.key, -1); slots -= randomSlotsOf(r.value); }
  for (const u of change.upserts) {
    const prev = before.get(u.id);
    if (prev) { bump(prev.key, -1); slots -= randomSlotsOf(prev.value); }
    bump(serviceKeyOf(u.spec), 1);
    slots += randomSlotsOfSpec(u.spec);
  }
  let vips = state.vips.size;
  for (const [hex, delta] of vipDelta) {
    const users = state.vipUsers(hex);
    if (users === 0 && users + delta > 0 && !state.vips.has(hex)) vips++;
    if (users > 0 && users + delta === 0) vips--;
  }
  if (vips > maps.vips.maxEntries) throw capacityError("VIPs", vips, maps.vips, "WASMPLANE_MAX_VIPS");
  const backendCount = state.backends.size - backends.dead.length + [...backends.wanted.keys()].filter((id) => !state.backends.has(id)).length;
  if (backendCount > maps.backends.maxEntries) throw capacityError("backends", backendCount, maps.backends, "WASMPLANE_MAX_BACKENDS");
  if (slots > maps.randomSlots.maxEntries) throw capacityError("random slots", slots, maps.randomSlots, "WASMPLANE_MAX_RANDOM_SLOTS");
  for (const u of change.upserts) {
    // wp_backends is an array indexed by backend ID.
    u.spec.backends.forEach((b, i) => {
      if (b.id >= maps.backends.maxEntries) {
        throw new InvalidInputError(`${u.field}.backends[${i}].id`, b.id, `must be below ${maps.backends.maxEntries}, the size of wp_backends (WASMPLANE_MAX_BACKENDS)`);
      }
    });
  }
  for (const u of change.upserts) {
    const n = activeBackends(u.spec).length;
    if (u.spec.algorithm === "maglev" && n >= tables.tableSize) {
      throw new InvalidInputError(`${u.field}.backends`, `${n} active backends`, `need a Maglev table larger than the number of backends; the table size is ${tables.tableSize}`);
    }
  }
}

/**
 * Applies `change` (see the module comment for the order).
 *
 * @throws {@link InvalidInputError} when the result would not fit the maps (nothing written).
 * @throws {@link BpfError} when the kernel refuses a write.
 */
export function applyChange(ctx: SyncContext, change: Change): SyncResult {
  const { maps, state, tables } = ctx;
  const result: SyncResult = {
    services: 0, added: 0, updated: 0, unchanged: 0, removed: 0, tablesWritten: 0, innerMapsInserted: 0, outerBatches: 0,
    outerDeletes: 0, backendsWritten: 0, backendsDeleted: 0,
  };
  const before = new Map<number, AppliedService>();
  for (const r of change.removals) before.set(r.id, r);
  for (const u of change.upserts) {
    const prev = state.services.get(u.id);
    if (prev) before.set(u.id, prev);
  }
  const backends = planBackends(state, change, before);
  checkCapacity(ctx, change, before, backends);

  // ---- 1, 2. Removed services; old keys of services whose frontend moved; affinity ----
  // A key an upsert writes again (a frontend taken over under another ID)
  // is overwritten in step 6 instead of deleted, so its packets never miss.
  const keys = new Map(change.upserts.map((u) => [u.id, serviceKeyOf(u.spec)]));
  const rewritten = new Set([...keys.values()].map(hexOf));
  const affinityPurge = new Set<number>();
  const vipsTouched = new Set<string>();
  const dropKey = (s: AppliedService) => {
    if (!rewritten.has(hexOf(s.key))) maps.services.delete(s.key);
    if (s.value.flags & WP_SVC_F.SESSION_AFFINITY) affinityPurge.add(s.id);
    vipsTouched.add(hexOf(vipKeyOfServiceKey(s.key)));
  };
  for (const r of change.removals) {
    dropKey(r);
    state.drop(r.id);
    result.removed++;
  }
  for (const u of change.upserts) {
    const prev = before.get(u.id);
    if (prev && prev.frontend !== u.spec.frontend) dropKey(prev);
  }
  if (affinityPurge.size > 0) purgeAffinity(maps, affinityPurge);

  // ---- 3. Backends ----
  const touched = new Set<number>();
  const backendKeys: Uint8Array[] = [];
  const backendValues: Uint8Array[] = [];
  const newBackends: number[] = [];
  for (const [id, w] of backends.wanted) {
    const applied = state.backends.get(id);
    if (applied && hexOf(applied.value) === hexOf(w.bytes)) continue;
    if (!applied) newBackends.push(id);
    backendKeys.push(u32Bytes(id));
    backendValues.push(w.bytes);
    for (const sid of w.users) touched.add(sid);
  }
  zeroCounters(maps.backendCounters, newBackends);
  batch(maps.backends, backendKeys, backendValues);
  result.backendsWritten = backendKeys.length;
  for (const [id, users] of backends.users) {
    const value = backends.wanted.get(id)?.bytes ?? state.backends.get(id)?.value;
    if (value) state.backends.set(id, { value, users });
  }

  // ---- 4. Tables ----
  const slotOf = new Map<number, number>();
  const signatureOf = new Map<number, string>();
  const fresh: { serviceId: number; inner: BpfMap }[] = [];
  try {
    for (const u of change.upserts) {
      if (u.spec.algorithm !== "maglev") continue;
      const prev = before.get(u.id);
      const signature = tableSignature(u.spec);
      signatureOf.set(u.id, signature);
      const held = state.tables.get(u.id);
      if (held && prev && prev.tableSignature === signature) {
        slotOf.set(u.id, prev.value.tableSlot);
        continue;
      }
      const table = tables.build(u.spec);
      if (held && prev) {
        const slot = 1 - prev.value.tableSlot;
        tables.write(held, slot, table);
        slotOf.set(u.id, slot);
      } else if (held) {
        tables.write(held, 0, table);
        tables.write(held, 1, table);
        slotOf.set(u.id, 0);
      } else {
        fresh.push({ serviceId: u.id, inner: tables.createFilled(u.id, table) });
        slotOf.set(u.id, prev ? prev.value.tableSlot : 0);
      }
      result.tablesWritten++;
      touched.add(u.id);
    }
    tables.insert(fresh);
  } catch (error) {
    for (const f of fresh) f.inner.close();
    throw error;
  }
  result.innerMapsInserted = fresh.length;
  result.outerBatches = fresh.length > 0 ? 1 : 0;
  for (const f of fresh) {
    state.tables.set(f.serviceId, f.inner);
    state.outerIds.add(f.serviceId);
  }

  // ---- 5. Random slots 0..n-1 ----
  const slotKeys: Uint8Array[] = [];
  const slotValues: Uint8Array[] = [];
  for (const u of change.upserts) {
    if (u.spec.algorithm !== "random") continue;
    const prev = before.get(u.id);
    const written = prev?.spec?.algorithm === "random" ? activeBackends(prev.spec).map((b) => b.id) : [];
    activeBackends(u.spec).forEach((b, slot) => {
      if (written[slot] === b.id) return;
      slotKeys.push(randomSlotKey.encode({ serviceId: u.id, slot }));
      slotValues.push(u32Bytes(b.id));
      touched.add(u.id);
    });
  }
  batch(maps.randomSlots, slotKeys, slotValues);

  // ---- 6. Service values ----
  const newIdentities: number[] = [];
  const valueKeys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  const applied: AppliedService[] = [];
  for (const u of change.upserts) {
    const prev = before.get(u.id);
    const sameIdentity = prev !== undefined && prev.frontend === u.spec.frontend;
    const value = serviceValueOf(u.id, u.spec, slotOf.get(u.id) ?? prev?.value.tableSlot ?? 0);
    const bytes = serviceValue.encode(value);
    const sameValue = sameIdentity && hexOf(serviceValue.encode(prev.value)) === hexOf(bytes);
    if (!sameValue) {
      valueKeys.push(keys.get(u.id)!);
      values.push(bytes);
    }
    if (!sameIdentity) {
      newIdentities.push(u.id);
      result.added++;
    } else if (sameValue && !touched.has(u.id) && prev.name === u.spec.name) result.unchanged++;
    else result.updated++;
    applied.push({
      id: u.id, frontend: u.spec.frontend, name: u.spec.name, spec: u.spec, key: keys.get(u.id)!, value,
      tableSignature: signatureOf.get(u.id) ?? prev?.tableSignature,
    });
  }
  zeroCounters(maps.serviceCounters, newIdentities);
  batch(maps.services, valueKeys, values);
  for (const a of applied) {
    state.put(a);
    vipsTouched.add(hexOf(vipKeyOfServiceKey(a.key)));
  }

  // ---- 7. Random slots beyond the new counts (all of removed services'); VIPs ----
  // After step 6: a removed service's key overwritten there served packets until then.
  for (const r of change.removals) deleteRandomSlots(maps, r.id, 0, randomSlotsOf(r.value));
  for (const u of change.upserts) deleteRandomSlots(maps, u.id, randomSlotsOfSpec(u.spec), randomSlotsOf(before.get(u.id)?.value));
  syncVips(maps, state, vipsTouched, applied);

  // ---- 8. Backends no service lists ----
  // wp_backends is an array: "no backend" is the all-zero entry (family 0).
  const empty = new Uint8Array(maps.backends.valueBytes);
  for (const id of backends.dead) {
    maps.backends.update(u32Bytes(id), empty);
    state.backends.delete(id);
  }
  result.backendsDeleted = backends.dead.length;

  // ---- 9. Inner maps of services that are gone (and orphans a full sync finds) ----
  const gone = change.full ? [...state.outerIds] : change.removals.map((r) => r.id);
  for (const id of gone) {
    if (state.services.has(id) || !state.outerIds.has(id)) continue;
    tables.remove(id);
    result.outerDeletes++;
    state.outerIds.delete(id);
    state.tables.get(id)?.close();
    state.tables.delete(id);
  }
  result.services = state.services.size;
  return result;
}

/** Deletes random slots `from`..`to`-1 of a service (plain hash deletes: no grace period). */
function deleteRandomSlots(maps: LbMaps, serviceId: number, from: number, to: number): void {
  for (let slot = from; slot < to; slot++) maps.randomSlots.delete(randomSlotKey.encode({ serviceId, slot }));
}

/** Adds the touched VIPs some service uses and wp_vips lacks; removes the touched ones no service uses. */
function syncVips(maps: LbMaps, state: DatapathState, touched: ReadonlySet<string>, applied: readonly AppliedService[]): void {
  const keys = new Map(applied.map((a) => {
    const key = vipKeyOfServiceKey(a.key);
    return [hexOf(key), key] as const;
  }));
  const added: Uint8Array[] = [];
  for (const hex of touched) {
    const used = state.vipUsers(hex) > 0;
    const present = state.vips.get(hex);
    if (used && !present) {
      const key = keys.get(hex);
      if (!key) continue; // a restored VIP missing from wp_vips; the next full sync adds it
      added.push(key);
      state.vips.set(hex, key);
    } else if (!used && present) {
      maps.vips.delete(present);
      state.vips.delete(hex);
    }
  }
  const zero = vipValue.encode({ flags: 0 });
  batch(maps.vips, added, added.map(() => zero));
}

/** Deletes every wp_affinity entry of the given services (a walk of the LRU's keys). */
function purgeAffinity(maps: LbMaps, serviceIds: ReadonlySet<number>): void {
  const doomed: Uint8Array[] = [];
  for (const key of maps.affinity.keys()) if (serviceIds.has(affinityKey.decode(key).serviceId)) doomed.push(key);
  for (const key of doomed) maps.affinity.delete(key);
}

/** Sets the per-CPU counters at `indexes` to zero (the datapath counts no index beyond the array). */
function zeroCounters(map: BpfMap, indexes: readonly number[]): void {
  const inRange = indexes.filter((i) => i < map.maxEntries);
  if (inRange.length === 0) return;
  map.updateBatch(concat(inRange.map((i) => u32Bytes(i)), 4), new Uint8Array(inRange.length * map.valueBytes));
}
