// The policy resolver: keeps every subject's policy map current as rules,
// identities and subjects change, and reports each change as a delta.
//
// Every mutation is a transaction: the new maps of the subjects it touches
// are computed aside, checked against the map size limit, and only then
// committed and diffed. On overflow the mutation is undone and the engine
// reports which subject needed how many entries; nothing is half-applied.
//
// What a change recomputes (Cilium's selector-cache idea, at two grains):
//   rule upsert/delete   in the subjects its old or new subject selector
//                        selects: the peers it names and the wildcard peer
//   identity added/changed
//                        as a subject: its whole map; as a peer: only the
//                        (subject, that peer) entries of subjects whose rules
//                        name a selector that gained or lost it
//   identity removed     drop its entries as a peer everywhere

import { ANY_PEER, Identity, PeerRule, PortRange, Rule } from "./model";
import { OP_EXISTS, OP_IN, Requirement, Selector } from "./selectors";
import { emit, Reader, resetOutput } from "./stream";
import {
  addNamedPorts, atomIndex, identities, indexIdentity, rules, selectors, SubjectMap, subjects, subjectSelectors, setSubjectSelector,
} from "./state";
import { computeFull } from "./compute";
import { emitTemplate } from "./template";
import {
  commitPending, emitSubjectRemoval, markPair, markRulePairs, namedEgressRules, pendingFull, pendingPairs, resetPending,
} from "./commit";
import { OK, ERR_UNKNOWN_SELECTOR, ERR_UNKNOWN_IDENTITY } from "../errors";

// ---- decoding ------------------------------------------------------------------

function readRule(rd: Reader): Rule {
  const id = rd.next();
  const subject = rd.next();
  const flags = rd.next();
  const n = rd.next();
  const prs = new Array<PeerRule>();
  for (let i: u32 = 0; i < n; i++) {
    const f = rd.next();
    const np = rd.next();
    const peers = new StaticArray<u32>(np);
    for (let k: u32 = 0; k < np; k++) peers[k] = rd.next();
    const nports = rd.next();
    const ports = new Array<PortRange>();
    for (let k: u32 = 0; k < nports; k++) {
      const proto = rd.next();
      const lo = rd.next();
      const hi = rd.next();
      const name = rd.next();
      ports.push(new PortRange(proto, lo, hi, name));
    }
    prs.push(new PeerRule((f & 1) != 0, (f & 2) != 0, (f & 4) != 0, (f & 8) != 0, peers, (f & 16) != 0, ports));
  }
  return new Rule(id, subject, (flags & 1) != 0, (flags & 2) != 0, prs);
}

/** Resolves a rule's selector ids to the selectors; false when one is not defined. */
function resolveSelectors(r: Rule): bool {
  if (!selectors.has(r.subject)) return false;
  r.subjectSel = selectors.get(r.subject);
  for (let i = 0; i < r.peerRules.length; i++) {
    const pr = r.peerRules[i];
    for (let k = 0; k < pr.peers.length; k++) {
      if (!selectors.has(pr.peers[k])) return false;
      pr.sels.push(selectors.get(pr.peers[k]));
    }
  }
  return true;
}

function hasNamedEgressAnyPeer(r: Rule): bool {
  for (let i = 0; i < r.peerRules.length; i++) {
    const pr = r.peerRules[i];
    if (!pr.egress) continue;
    for (let k = 0; k < pr.ports.length; k++) if (pr.ports[k].name != 0) return true;
  }
  return false;
}

function linkRule(r: Rule, link: bool): void {
  const subj = selectors.get(r.subject);
  if (link) subj.subjectOfRules.add(r.id);
  else subj.subjectOfRules.delete(r.id);
  setSubjectSelector(subj, subj.subjectOfRules.size > 0);
  for (let i = 0; i < r.peerRules.length; i++) {
    const peers = r.peerRules[i].peers;
    for (let k = 0; k < peers.length; k++) {
      const sel = selectors.get(peers[k]);
      if (link) sel.peerOfRules.add(r.id);
      else sel.peerOfRules.delete(r.id);
    }
  }
  if (link && hasNamedEgressAnyPeer(r)) namedEgressRules.add(r.id);
  if (!link) namedEgressRules.delete(r.id);
}

// ---- public operations -----------------------------------------------------------

/**
 * Applies a batch of rule deletions and upserts atomically.
 * Stream: [nDeletes, ruleId..., nSets, rule...].
 */
export function applyRules(words: u32): i32 {
  const rd = new Reader(words);
  const nDel = rd.next();
  const deletes = new Array<u32>();
  for (let i: u32 = 0; i < nDel; i++) deletes.push(rd.next());
  const nSet = rd.next();
  const sets = new Array<Rule>();
  for (let i: u32 = 0; i < nSet; i++) {
    const r = readRule(rd);
    if (!resolveSelectors(r)) return ERR_UNKNOWN_SELECTOR;
    sets.push(r);
  }

  resetPending();
  const previous = new Map<u32, Rule>();
  const touched = new Array<u32>();
  for (let i = 0; i < deletes.length; i++) touch(deletes[i], previous, touched);
  for (let i = 0; i < sets.length; i++) touch(sets[i].id, previous, touched);

  for (let i = 0; i < deletes.length; i++) removeRule(deletes[i]);
  for (let i = 0; i < sets.length; i++) {
    removeRule(sets[i].id);
    rules.set(sets[i].id, sets[i]);
    linkRule(sets[i], true);
    markRulePairs(sets[i]);
  }
  const result = commitPending();
  if (result != OK) {
    // Undo: put every touched rule back as it was.
    for (let i = 0; i < touched.length; i++) {
      const id = touched[i];
      removeRule(id);
      if (previous.has(id)) {
        rules.set(id, previous.get(id));
        linkRule(previous.get(id), true);
      }
    }
  }
  return result;
}

function touch(id: u32, previous: Map<u32, Rule>, touched: Array<u32>): void {
  if (rules.has(id) && !previous.has(id)) previous.set(id, rules.get(id));
  touched.push(id);
}

function removeRule(id: u32): void {
  if (!rules.has(id)) return;
  const r = rules.get(id);
  markRulePairs(r);
  linkRule(r, false);
  rules.delete(id);
}

/**
 * Defines selectors. Stream: [n, (id, nReq, (op, key, nVals, vals...)...)...].
 * A selector id is never redefined while rules use it (the host interns them).
 */
export function defineSelectors(words: u32): i32 {
  const rd = new Reader(words);
  const n = rd.next();
  for (let i: u32 = 0; i < n; i++) {
    const id = rd.next();
    const nReq = rd.next();
    const reqs = new Array<Requirement>();
    for (let k: u32 = 0; k < nReq; k++) {
      const op = rd.next();
      const key = rd.next();
      const nv = rd.next();
      const vals = new StaticArray<u32>(nv);
      for (let v: u32 = 0; v < nv; v++) vals[v] = rd.next();
      reqs.push(new Requirement(op, key, vals));
    }
    const sel = new Selector(id, reqs);
    const candidates = candidatesOf(sel);
    for (let k = 0; k < candidates.length; k++) {
      const identity = identities.get(unchecked(candidates[k]));
      if (sel.matches(identity.atoms)) sel.selected.add(identity.id);
    }
    selectors.set(id, sel);
  }
  return OK;
}

/**
 * The identities a selector can select: those carrying the atoms of its most
 * selective In or Exists requirement, or every identity when it has none.
 */
function candidatesOf(sel: Selector): Array<u32> {
  let best: Array<u32> | null = null;
  for (let i = 0; i < sel.requirements.length; i++) {
    const r = sel.requirements[i];
    let found: Array<u32> | null = null;
    if (r.op == OP_EXISTS) {
      found = atomIndex.has(r.key) ? atomIndex.get(r.key).values() : new Array<u32>();
    } else if (r.op == OP_IN) {
      const union = new Set<u32>();
      for (let v = 0; v < r.values.length; v++) {
        if (!atomIndex.has(r.values[v])) continue;
        const ids = atomIndex.get(r.values[v]).values();
        for (let k = 0; k < ids.length; k++) union.add(ids[k]);
      }
      found = union.values();
    }
    if (found != null && (best == null || found.length < best.length)) best = found;
  }
  return best != null ? best : identities.keys();
}

/** Forgets a selector no rule uses any more. */
export function releaseSelector(id: u32): void {
  selectors.delete(id);
  if (subjectSelectors.has(id)) setSubjectSelector(subjectSelectors.get(id), false);
}

/**
 * Adds or replaces an identity. Stream: [id, nAtoms, atoms (sorted)..., nNamed, (name, proto, port)...].
 */
export function setIdentity(words: u32): i32 {
  const rd = new Reader(words);
  const id = rd.next();
  const na = rd.next();
  const atoms = new StaticArray<u32>(na);
  for (let i: u32 = 0; i < na; i++) atoms[i] = rd.next();
  const nn = rd.next();
  const named = new StaticArray<u32>(nn * 3);
  for (let i: u32 = 0; i < nn * 3; i++) named[i] = rd.next();

  const before: Identity | null = identities.has(id) ? identities.get(id) : null;
  const identity = new Identity(id, atoms, named);
  resetPending();
  const flipped = registerIdentity(identity, before);
  markIdentityPeers(id, flipped, before, identity);
  if (subjects.has(id)) pendingFull.add(id);

  const result = commitPending();
  if (result != OK) {
    // Undo: restore the previous identity (or none) and the selections.
    registerIdentity(before, identity);
    if (before == null) identities.delete(id);
  }
  return result;
}

/**
 * Puts `next` in place of `prev` (either may be null) and returns the
 * selectors whose selection of the identity changed.
 */
function registerIdentity(next: Identity | null, prev: Identity | null): Array<u32> {
  const flipped = new Array<u32>();
  const id = next != null ? next.id : prev!.id;
  const all = selectors.values();
  for (let i = 0; i < all.length; i++) {
    const sel = all[i];
    const was = sel.selected.has(id);
    const now = next != null && sel.matches(next.atoms);
    if (was == now) continue;
    if (now) sel.selected.add(id);
    else sel.selected.delete(id);
    flipped.push(sel.id);
  }
  if (prev != null) {
    addNamedPorts(prev.namedPorts, -1);
    indexIdentity(prev, false);
  }
  if (next != null) {
    addNamedPorts(next.namedPorts, 1);
    indexIdentity(next, true);
    identities.set(id, next);
  } else {
    identities.delete(id);
  }
  return flipped;
}

/** Marks (subject, id) pairs that the identity's arrival, change or departure affects. */
function markIdentityPeers(id: u32, flipped: Array<u32>, before: Identity | null, after: Identity | null): void {
  for (let i = 0; i < flipped.length; i++) {
    const users = selectors.get(flipped[i]).peerOfRules.values();
    for (let r = 0; r < users.length; r++) markRuleSubjects(users[r], id);
  }
  const namedBefore = before != null ? before.namedPorts.length : 0;
  const namedAfter = after != null ? after.namedPorts.length : 0;
  if (namedBefore == 0 && namedAfter == 0) return;
  // Named ports changed: egress rules resolving them move too.
  const named = namedEgressRules.values();
  for (let r = 0; r < named.length; r++) {
    markRuleSubjects(named[r], ANY_PEER);
    markRuleSubjects(named[r], id);
  }
}

function markRuleSubjects(ruleId: u32, peer: u32): void {
  if (!rules.has(ruleId)) return;
  const subj = selectors.get(rules.get(ruleId).subject).selected.values();
  for (let s = 0; s < subj.length; s++) if (subj[s] != peer) markPair(subj[s], peer);
}

/** Removes an identity: its entries as a peer, and its map if it was a subject. */
export function removeIdentity(id: u32): i32 {
  if (!identities.has(id)) return ERR_UNKNOWN_IDENTITY;
  const before = identities.get(id);
  resetPending();
  const flipped = registerIdentity(null, before);
  markIdentityPeers(id, flipped, before, null);
  // Every (subject, id) pair with entries came from a rule naming a selector
  // that selected id; all of those flipped above, so markIdentityPeers has
  // marked exactly those pairs and no scan of every subject is needed.
  if (subjects.has(id)) {
    pendingPairs.delete(id);
    pendingFull.delete(id);
  }
  const result = commitPending();
  if (result == OK) emitSubjectRemoval(id);
  return result;
}

/** Starts maintaining the map of `id` (an endpoint's identity). */
export function addSubject(id: u32): i32 {
  if (!identities.has(id)) return ERR_UNKNOWN_IDENTITY;
  if (subjects.has(id)) {
    resetOutput();
    emit(0);
    return OK;
  }
  subjects.set(id, new SubjectMap());
  resetPending();
  pendingFull.add(id);
  const result = commitPending();
  if (result != OK) subjects.delete(id);
  return result;
}

/** Stops maintaining the map of `id`; its entries are reported removed. */
export function removeSubject(id: u32): void {
  resetOutput();
  emit(0);
  emitSubjectRemoval(id);
}

/** Writes every entry of a subject's map: [nEntries, entries...]. */
export function dumpSubject(id: u32): i32 {
  resetOutput();
  let map: SubjectMap;
  if (subjects.has(id)) map = subjects.get(id);
  else if (identities.has(id)) map = computeFull(id);
  else return ERR_UNKNOWN_IDENTITY;
  emit(<u32>map.count);
  const peers = map.peers.keys();
  for (let i = 0; i < peers.length; i++) emitTemplate(peers[i], map.peers.get(peers[i]));
  return OK;
}
