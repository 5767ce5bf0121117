// The resolver's registries: identities, selectors, rules, subjects, and the
// policy map of each subject. Everything the engine remembers lives here.

import { Identity, Rule } from "./model";
import { Selector } from "./selectors";
import { Template } from "./template";

export const identities = new Map<u32, Identity>();
export const selectors = new Map<u32, Selector>();
export const rules = new Map<u32, Rule>();

/** The map of one subject: per peer, the template of its entries. */
export class SubjectMap {
  peers: Map<u32, Template> = new Map<u32, Template>();
  /** Entries in all templates: the map's size. */
  count: i32 = 0;
  /** The rules that select the subject, as of the last whole computation. */
  rules: Array<Rule> | null = null;

  setPeer(peer: u32, t: Template): void {
    if (this.peers.has(peer)) this.count -= this.peers.get(peer).size;
    if (t.size == 0) {
      this.peers.delete(peer);
      return;
    }
    this.peers.set(peer, t);
    this.count += t.size;
  }
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

/** Selectors that at least one rule uses as its subject. */
export const subjectSelectors = new Map<u32, Selector>();
/** `subjectSelectors` as a list, rebuilt only after it changes (rulesOf runs per subject, it changes per rule). */
let subjectSelectorList: Array<Selector> | null = null;

export function setSubjectSelector(sel: Selector, used: bool): void {
  if (used == subjectSelectors.has(sel.id)) return;
  if (used) subjectSelectors.set(sel.id, sel);
  else subjectSelectors.delete(sel.id);
  subjectSelectorList = null;
}

/**
 * Rules whose subject selector selects `subject`: a scan of the distinct
 * subject selectors (rules share them: one per app, say), not of every rule.
 */
export function rulesOf(subject: u32): Array<Rule> {
  if (subjectSelectorList == null) subjectSelectorList = subjectSelectors.values();
  const sels = subjectSelectorList!;
  const out = new Array<Rule>();
  for (let i = 0; i < sels.length; i++) {
    const sel = unchecked(sels[i]);
    if (!sel.selected.has(subject)) continue;
    const ids = sel.subjectOfRules.values();
    for (let k = 0; k < ids.length; k++) out.push(rules.get(unchecked(ids[k])));
  }
  return out;
}


/**
 * Identities by atom: which identities carry each atom. A new selector then
 * tests only the identities that carry one of its required atoms instead of
 * every identity (10,000 in a large cluster).
 */
export const atomIndex = new Map<u32, Set<u32>>();

export function indexIdentity(identity: Identity, add: bool): void {
  const atoms = identity.atoms;
  for (let i = 0; i < atoms.length; i++) {
    const atom = unchecked(atoms[i]);
    if (add) {
      if (!atomIndex.has(atom)) atomIndex.set(atom, new Set<u32>());
      atomIndex.get(atom).add(identity.id);
    } else if (atomIndex.has(atom)) {
      const set = atomIndex.get(atom);
      set.delete(identity.id);
      if (set.size == 0) atomIndex.delete(atom);
    }
  }
}
