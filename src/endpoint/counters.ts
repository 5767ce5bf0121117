/**
 * Reading the endpoint datapath's counters: per policy entry (the entry
 * that decided each packet) and per drop reason. Per-CPU values are summed
 * over the possible CPUs.
 *
 * @module
 */
import { DROP_REASON } from "../bpf/drop-reasons.js";
import type { BpfMap } from "../bpf/map.js";
import type { PolicyMapEntry } from "../policy/resolver-host.js";
import { u32Key } from "./layouts.js";
import type { PolicyState } from "./state.js";

/** Packets and bytes, summed over the CPUs. */
export interface PacketCount {
  /** Packets counted. */
  packets: bigint;
  /** Bytes counted (skb->len: the frame with its Ethernet header). */
  bytes: bigint;
}

/** The traffic one policy entry decided. */
export interface PolicyEntryCounter extends PacketCount {
  /** The subject (endpoint identity) whose map holds the entry. */
  subject: number;
  /** The entry. */
  entry: PolicyMapEntry;
}

/** Name of a drop reason (`POLICY_DENY`, `DEFAULT_DENY`, ...). */
export type EndpointDropReason = keyof typeof DROP_REASON;

function sum(bytes: Uint8Array): PacketCount {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let packets = 0n;
  let total = 0n;
  for (let off = 0; off + 16 <= bytes.byteLength; off += 16) {
    packets += v.getBigUint64(off, true);
    total += v.getBigUint64(off + 8, true);
  }
  return { packets, bytes: total };
}

/** One per-CPU counter slot, summed. */
export function readCounter(map: BpfMap, index: number): PacketCount {
  if (index >= map.maxEntries) return { packets: 0n, bytes: 0n };
  const value = map.lookup(u32Key(index));
  return value ? sum(value) : { packets: 0n, bytes: 0n };
}

/** Drops by reason (every reason of drop-reasons.ts, zeros included). */
export function readDropCounters(map: BpfMap): Record<EndpointDropReason, PacketCount> {
  const out = {} as Record<EndpointDropReason, PacketCount>;
  for (const [name, code] of Object.entries(DROP_REASON) as Array<[EndpointDropReason, number]>) out[name] = readCounter(map, code);
  return out;
}

/** The counters of every held entry (of `subject` only, when given): one lookup each. */
export function readPolicyCounters(map: BpfMap, state: PolicyState, subject?: number): PolicyEntryCounter[] {
  const held = subject === undefined ? [...state.entries.values()] : state.entriesOf(subject);
  return held.map((h) => ({ subject: h.subject, entry: h.entry, ...readCounter(map, h.slot) }));
}
