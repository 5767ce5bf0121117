/**
 * A model of wp_policy_exact (bpf/include/wasmplane/abi.h) written from the
 * held entries by brute force, independent of src/endpoint/state.ts: what
 * the hash must hold, and which path the program takes for one side of a
 * lookup (a hash hit, the trie, or no entry).
 */
import type { HeldPolicyEntry } from "../../src/endpoint/state.js";
import { WP_POLICY_F } from "../../src/endpoint/layouts.js";

/** One side's group: subject, peer (0: any), direction. */
const groupId = (subject: number, peer: number, direction: string): string => `${subject}/${peer}/${direction}`;

function covers(e: HeldPolicyEntry, protocol: number, port: number): boolean {
  const bits = e.entry.prefixLength;
  if (bits === 0) return true;
  const value = (protocol << 16) | port;
  const start = (e.entry.protocol << 16) | e.entry.port;
  return value >>> (24 - bits) === start >>> (24 - bits);
}

/** The longest entry of a group that covers (protocol, port). */
function longest(entries: readonly HeldPolicyEntry[], protocol: number, port: number): HeldPolicyEntry | undefined {
  let best: HeldPolicyEntry | undefined;
  for (const e of entries) if (covers(e, protocol, port) && (!best || e.entry.prefixLength > best.entry.prefixLength)) best = e;
  return best;
}

/** A decoded hash entry, in a form easy to compare. */
export interface ExactEntry {
  subject: number;
  peer: number;
  direction: "ingress" | "egress";
  /** 24 (a port) or 0 (the group key). */
  prefixLength: number;
  protocol: number;
  port: number;
  precedence: number;
  flags: number;
  counter: number;
}

/** What wp_policy_exact must hold for `held`, as sorted JSON lines. */
export function expectedExact(held: readonly HeldPolicyEntry[]): string[] {
  const groups = new Map<string, HeldPolicyEntry[]>();
  for (const h of held) {
    const g = groupId(h.subject, h.entry.identity, h.entry.direction);
    groups.set(g, [...(groups.get(g) ?? []), h]);
  }
  const out: ExactEntry[] = [];
  for (const entries of groups.values()) {
    const { subject } = entries[0]!;
    const { identity: peer, direction } = entries[0]!.entry;
    const anyPeer = peer === 0 ? undefined : groups.get(groupId(subject, 0, direction)) ?? [];
    for (const e of entries) {
      if (e.entry.prefixLength !== 24) continue;
      let win = e;
      let flags = 0;
      if (anyPeer) {
        const other = longest(anyPeer, e.entry.protocol, e.entry.port);
        if (other && other.entry.precedence > e.entry.precedence) win = other;
        flags = WP_POLICY_F.FINAL;
      }
      out.push({ subject, peer, direction, prefixLength: 24, protocol: e.entry.protocol, port: e.entry.port, precedence: win.entry.precedence, flags, counter: win.slot });
    }
    const l3 = entries.find((e) => e.entry.prefixLength === 0);
    if (entries.some((e) => e.entry.prefixLength > 0 && e.entry.prefixLength < 24)) {
      out.push({ subject, peer, direction, prefixLength: 0, protocol: 0, port: 0, precedence: 0, flags: WP_POLICY_F.TRIE, counter: 0 });
    } else if (l3) {
      out.push({ subject, peer, direction, prefixLength: 0, protocol: 0, port: 0, precedence: l3.entry.precedence, flags: 0, counter: l3.slot });
    }
  }
  return out.map((e) => JSON.stringify(e)).sort();
}

/** How the program finds one side's entry: a prefix-24 hash hit, the group's prefix-0 entry in the hash, the trie, or none. */
export function sidePath(held: readonly HeldPolicyEntry[], subject: number, side: number, direction: string, protocol: number, port: number): "exact" | "group" | "trie" | "none" {
  const entries = held.filter((h) => h.subject === subject && h.entry.identity === side && h.entry.direction === direction);
  if (entries.some((e) => e.entry.prefixLength === 24 && e.entry.protocol === protocol && e.entry.port === port)) return "exact";
  if (entries.some((e) => e.entry.prefixLength > 0 && e.entry.prefixLength < 24)) return "trie";
  return entries.some((e) => e.entry.prefixLength === 0) ? "group" : "none";
}
