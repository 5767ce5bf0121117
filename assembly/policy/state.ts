// The resolver's registries: identities, selectors, rules, subjects, and the
// policy map of each subject. Everything the engine remembers lives here.

import { Identity, Rule } from "./model";
import { Selector } from "./selectors";

export const identities = new Map<u32, Identity>();
export const selectors = new Map<u32, Selector>();
export const rules = new Map<u32, Rule>();

/** The map of one subject: every entry, and the keys grouped by peer for cheap per-peer updates. */
export class SubjectMap {
  levels: Map<u64, u8> = new Map<u64, u8>();
  byPeer: Map<u32, Array<u64>> = new Map<u32, Array<u64>>();
}

/** Identities whose policy maps are maintained (endpoints), with their maps. */
export const subjects = new Map<u32, SubjectMap>();

/** Largest number of entries one subject's map may hold (both directions). */
export let mapLimit: u32 = 16384;

export function setMapLimit(limit: u32): void {
  mapLimit = limit;
}

/**
 * Named ports of all identities, by name atom: how many identities declare
 * each (protocol, port) under that name. Egress rules that name a port and
 * select any peer resolve against this union, as Cilium's do.
 */
export const namedPortUnion = new Map<u32, Map<u64, u32>>();

export function addNamedPorts(ports: StaticArray<u32>, delta: i32): void {
  for (let i = 0; i + 2 < ports.length; i += 3) {
    const name = ports[i];
    const key = ((<u64>ports[i + 1]) << 32) | <u64>ports[i + 2];
    if (!namedPortUnion.has(name)) namedPortUnion.set(name, new Map<u64, u32>());
    const byPort = namedPortUnion.get(name);
    const count = (byPort.has(key) ? <i32>byPort.get(key) : 0) + delta;
    if (count <= 0) byPort.delete(key);
    else byPort.set(key, <u32>count);
  }
}

/** Rules whose subject selector selects `subject`. */
export function rulesOf(subject: u32): Array<Rule> {
  const out = new Array<Rule>();
  const all = rules.values();
  for (let i = 0; i < all.length; i++) {
    const r = unchecked(all[i]);
    if (selectors.get(r.subject).selected.has(subject)) out.push(r);
  }
  return out;
}
