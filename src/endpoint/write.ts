/**
 * Writing a plan (state.ts) to the endpoint maps, in the order that keeps
 * every packet decided by a complete enough state:
 *
 *   counters zeroed → wp_policy → wp_policy_exact → wp_ipcache → wp_ipcache_exact
 *     → wp_ipcache_exact deletes → wp_ipcache deletes → wp_policy_exact deletes → wp_policy deletes
 *
 * A trie entry is written before the hash entry (or marker) that sends
 * packets to it, and deleted after the hash stopped doing so; a peer's
 * new identity has its entries before the ipcache hands it out, and a
 * removed prefix leaves the ipcache before its identity's entries go.
 * When the writes would not fit a full map before the deletes free room,
 * the plan says deletes first and the same steps run the other way round.
 *
 * @module
 */
import type { BpfMap } from "../bpf/map.js";
import { encodeIdentityValue, u32Key } from "./layouts.js";
import type { EndpointMaps } from "./maps.js";
import type { Plan } from "./state.js";

/** Writes `pairs` into `map` with one batch call (none when empty). */
function writeBatch(map: BpfMap, pairs: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>): void {
  if (pairs.length === 0) return;
  const ks = map.keySize;
  const vs = map.valueSize;
  const keys = new Uint8Array(pairs.length * ks);
  const values = new Uint8Array(pairs.length * vs);
  pairs.forEach((p, i) => {
    keys.set(p.key, i * ks);
    values.set(p.value, i * vs);
  });
  map.updateBatch(keys, values);
}

/**
 * Writes `plan` into `maps`. Stops at the first write the kernel refuses
 * (the caller reads the maps back).
 *
 * @throws {@link BpfError} from the kernel.
 */
export function writePlan(maps: EndpointMaps, plan: Plan): void {
  const zero = (): void => {
    if (plan.zeroSlots.length === 0) return;
    const keys = new Uint8Array(plan.zeroSlots.length * 4);
    plan.zeroSlots.forEach((s, i) => keys.set(u32Key(s), i * 4));
    maps.policyCounters.updateBatch(keys, new Uint8Array(plan.zeroSlots.length * maps.policyCounters.valueBytes));
  };
  const policyWrites = (): void => {
    writeBatch(maps.policy, plan.policyWrites);
    writeBatch(maps.policyExact, plan.exactWrites);
  };
  const ipcacheWrites = (): void => {
    for (const w of plan.ipcacheWrites) maps.ipcache.update(w.key, encodeIdentityValue(w.identity));
    for (const w of plan.ipcacheExactWrites) maps.ipcacheExact.update(w.key, encodeIdentityValue(w.identity));
  };
  const ipcacheDeletes = (): void => {
    for (const d of plan.ipcacheExactDeletes) maps.ipcacheExact.delete(d.key);
    for (const d of plan.ipcacheDeletes) maps.ipcache.delete(d.key);
  };
  const policyDeletes = (): void => {
    for (const d of plan.exactDeletes) maps.policyExact.delete(d.key);
    for (const d of plan.policyDeletes) maps.policy.delete(d.key);
  };
  if (plan.deletesFirst) {
    ipcacheDeletes();
    policyDeletes();
    zero();
    policyWrites();
    ipcacheWrites();
  } else {
    zero();
    policyWrites();
    ipcacheWrites();
    ipcacheDeletes();
    policyDeletes();
  }
}
