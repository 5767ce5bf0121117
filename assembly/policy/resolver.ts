// The policy resolver: keeps every subject's policy map current as rules,
// identities and subjects change, and reports each change as a delta.
//
// Every mutation is a transaction: the new maps of the subjects it touches
// are computed aside, checked against the map size limit, and only then
// committed and diffed. On overflow the mutation is undone and the engine
// reports which subject needed how many entries; nothing is half-applied.
//
// What a change recomputes (Cilium's selector-cache idea, at two grains):
//   rule upsert/delete   whole maps of the subjects its old or new subject
//                        selector selects
//   identity added/changed
//                        as a subject: its whole map; as a peer: only the
//                        (subject, that peer) entries of subjects whose rules
//                        name a selector that gained or lost it
//   identity removed     drop its entries as a peer everywhere

import {
  ANY_PEER, Contribution, Identity, PeerRule, PortRange, Rule,
} from "./model";
import { Requirement, Selector } from "./selectors";
import { encode, Encoded } from "./encode";
import { emitEntry, keyPeer } from "./keys";
import { emit, patch, outputWords, Reader, resetOutput } from "./stream";
import {
  addNamedPorts, identities, mapLimit, rules, rulesOf, selectors, SubjectMap, subjects,
} from "./state";
import { pairContributions, portContributions, selectsPeer, enforced } from "./contributions";
import { OK, ERR_MAP_OVERFLOW, ERR_UNKNOWN_SELECTOR, ERR_UNKNOWN_IDENTITY } from "../errors";

// ---- pending work of one transaction ---------------------------------------

/** Subjects whose whole map is recomputed. */
let pendingFull = new Set<u32>();
/** Subjects whose entries for some peers are recomputed: subject → peers. */
let pendingPairs = new Map<u32, Set<u32>>();
/** Rules that name ports in egress and select any peer: resolved against the union. */
const namedEgressRules = new Set<u32>();

function resetPending(): void {
  pendingFull = new Set<u32>();
  pendingPairs = new Map<u32, Set<u32>>();
}

function markPair(subject: u32, peer: u32): void {
  if (!subjects.has(subject)) return;
  if (!pendingPairs.has(subject)) pendingPairs.set(subject, new Set<u32>());
  pendingPairs.get(subject).add(peer);
}

function markSubjectsOf(selectorId: u32): void {
  const sel = selectors.get(selectorId).selected.values();
  for (let i = 0; i < sel.length; i++) if (subjects.has(sel[i])) pendingFull.add(sel[i]);
}

// ---- computing maps ----------------------------------------------------------

/** Adds encoded entries to a map under construction. */
function addEncoded(map: SubjectMap, peer: u32, enc: Encoded): void {
  if (enc.keys.length == 0) return;
  if (!map.byPeer.has(peer)) map.byPeer.set(peer, new Array<u64>());
  const list = map.byPeer.get(peer);
  for (let i = 0; i < enc.keys.length; i++) {
    map.levels.set(enc.keys[i], enc.levels[i]);
    list.push(enc.keys[i]);
  }
}

/** The whole map of `subject`, built from every rule that selects it. */
export function computeFull(subject: u32): SubjectMap {
  const rs = rulesOf(subject);
  const map = new SubjectMap();
  for (let d = 0; d < 2; d++) {
    const egress = d == 1;
    // Group contributions by peer in one pass over the rules' selections.
    const byPeer = new Map<u32, Array<Contribution>>();
    byPeer.set(ANY_PEER, pairContributions(subject, rs, egress, ANY_PEER));
    for (let r = 0; r < rs.length; r++) {
      const prs = rs[r].peerRules;
      for (let i = 0; i < prs.length; i++) {
        const pr = prs[i];
        if (pr.egress != egress || pr.anyPeer) continue;
        const seen = new Set<u32>();
        for (let s = 0; s < pr.peers.length; s++) {
          const sel = selectors.get(pr.peers[s]).selected.values();
          for (let k = 0; k < sel.length; k++) {
            const peer = sel[k];
            if (seen.has(peer)) continue; // ORed selectors: count a peer once per element
            seen.add(peer);
            if (!byPeer.has(peer)) byPeer.set(peer, new Array<Contribution>());
            portContributions(pr, subject, peer, byPeer.get(peer));
          }
        }
      }
    }
    const peers = byPeer.keys();
    for (let p = 0; p < peers.length; p++) {
      const enc = new Encoded();
      encode(peers[p], egress, byPeer.get(peers[p]), enc);
      addEncoded(map, peers[p], enc);
    }
  }
  return map;
}

/** The entries of `subject` for one `peer`, both directions. */
function computePair(subject: u32, peer: u32): Encoded {
  const rs = rulesOf(subject);
  const enc = new Encoded();
  encode(peer, false, pairContributions(subject, rs, false, peer), enc);
  encode(peer, true, pairContributions(subject, rs, true, peer), enc);
  return enc;
}

// ---- committing ----------------------------------------------------------------

class Staged {
  full: Map<u32, SubjectMap> = new Map<u32, SubjectMap>();
  pairs: Map<u32, Map<u32, Encoded>> = new Map<u32, Map<u32, Encoded>>();
}

/**
 * Computes every pending map, checks the limit, and either commits (emitting
 * the deltas) or returns ERR_MAP_OVERFLOW with [subject, needed] as output.
 */
function commitPending(): i32 {
  const staged = new Staged();
  const fulls = pendingFull.values();
  for (let i = 0; i < fulls.length; i++) {
    const s = fulls[i];
    const map = computeFull(s);
    if (<u32>map.levels.size > mapLimit) return overflow(s, <u32>map.levels.size);
    staged.full.set(s, map);
  }
  const pairSubjects = pendingPairs.keys();
  for (let i = 0; i < pairSubjects.length; i++) {
    const s = pairSubjects[i];
    if (staged.full.has(s)) continue; // the whole map is recomputed anyway
    const current = subjects.get(s);
    let count = current.levels.size;
    const peers = pendingPairs.get(s).values();
    const byPeer = new Map<u32, Encoded>();
    for (let p = 0; p < peers.length; p++) {
      const enc = computePair(s, peers[p]);
      if (current.byPeer.has(peers[p])) count -= current.byPeer.get(peers[p]).length;
      count += enc.keys.length;
      byPeer.set(peers[p], enc);
    }
    if (<u32>count > mapLimit) return overflow(s, <u32>count);
    staged.pairs.set(s, byPeer);
  }

  resetOutput();
  const countAt = outputWords();
  emit(0);
  let changed: u32 = 0;
  const fullKeys = staged.full.keys();
  for (let i = 0; i < fullKeys.length; i++) {
    const s = fullKeys[i];
    const next = staged.full.get(s);
    if (emitDiff(s, subjects.get(s), next)) changed++;
    subjects.set(s, next);
  }
  const pairKeys = staged.pairs.keys();
  for (let i = 0; i < pairKeys.length; i++) {
    if (applyPairs(pairKeys[i], staged.pairs.get(pairKeys[i]))) changed++;
  }
  patch(countAt, changed);
  resetPending();
  return OK;
}

function overflow(subject: u32, needed: u32): i32 {
  resetPending();
  resetOutput();
  emit(subject);
  emit(needed);
  return ERR_MAP_OVERFLOW;
}

/** Emits [subject, nAdded, added..., nRemoved, removed...] unless nothing differs. */
function emitDiff(subject: u32, before: SubjectMap, after: SubjectMap): bool {
  const start = outputWords();
  emit(subject);
  const addedAt = outputWords();
  emit(0);
  let added: u32 = 0;
  const keys = after.levels.keys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const level = after.levels.get(k);
    if (!before.levels.has(k) || before.levels.get(k) != level) {
      emitEntry(k, level);
      added++;
    }
  }
  patch(addedAt, added);
  const removedAt = outputWords();
  emit(0);
  let removed: u32 = 0;
  const old = before.levels.keys();
  for (let i = 0; i < old.length; i++) {
    if (!after.levels.has(old[i])) {
      emitEntry(old[i], before.levels.get(old[i]));
      removed++;
    }
  }
  patch(removedAt, removed);
  if (added == 0 && removed == 0) {
    // Roll the record back: an unchanged subject is not reported.
    resetTo(start);
    return false;
  }
  return true;
}

/** Replaces the entries of some peers in a subject's map, emitting the difference. */
function applyPairs(subject: u32, byPeer: Map<u32, Encoded>): bool {
  const map = subjects.get(subject);
  const start = outputWords();
  emit(subject);
  const addedAt = outputWords();
  emit(0);
  let added: u32 = 0;
  const removedKeys = new Array<u64>();
  const removedLevels = new Array<u8>();
  const peers = byPeer.keys();
  for (let p = 0; p < peers.length; p++) {
    const peer = peers[p];
    const enc = byPeer.get(peer);
    const fresh = new Set<u64>();
    for (let i = 0; i < enc.keys.length; i++) fresh.add(enc.keys[i]);
    if (map.byPeer.has(peer)) {
      const old = map.byPeer.get(peer);
      for (let i = 0; i < old.length; i++) {
        if (!fresh.has(old[i])) {
          removedKeys.push(old[i]);
          removedLevels.push(map.levels.get(old[i]));
          map.levels.delete(old[i]);
        }
      }
    }
    for (let i = 0; i < enc.keys.length; i++) {
      const k = enc.keys[i];
      const level = enc.levels[i];
      if (!map.levels.has(k) || map.levels.get(k) != level) {
        emitEntry(k, level);
        added++;
      }
      map.levels.set(k, level);
    }
    if (enc.keys.length == 0) map.byPeer.delete(peer);
    else map.byPeer.set(peer, enc.keys);
  }
  patch(addedAt, added);
  emit(<u32>removedKeys.length);
  for (let i = 0; i < removedKeys.length; i++) emitEntry(removedKeys[i], removedLevels[i]);
  if (added == 0 && removedKeys.length == 0) {
    resetTo(start);
    return false;
  }
  return true;
}

// The stream module exposes only append; rolling back is a reset to a length.
import { truncateOutput as resetTo } from "./stream";

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

function ruleSelectorsKnown(r: Rule): bool {
  if (!selectors.has(r.subject)) return false;
  for (let i = 0; i < r.peerRules.length; i++) {
    const peers = r.peerRules[i].peers;
    for (let k = 0; k < peers.length; k++) if (!selectors.has(peers[k])) return false;
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
    if (!ruleSelectorsKnown(r)) return ERR_UNKNOWN_SELECTOR;
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
    markSubjectsOf(sets[i].subject);
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
  markSubjectsOf(r.subject);
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
    const all = identities.values();
    for (let k = 0; k < all.length; k++) if (sel.matches(all[k].atoms)) sel.selected.add(all[k].id);
    selectors.set(id, sel);
  }
  return OK;
}

/** Forgets a selector no rule uses any more. */
export function releaseSelector(id: u32): void {
  selectors.delete(id);
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
  if (prev != null) addNamedPorts(prev.namedPorts, -1);
  if (next != null) {
    addNamedPorts(next.namedPorts, 1);
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
  // Peers removed from selectors leave their pair entries: drop them.
  const subs = subjects.keys();
  for (let i = 0; i < subs.length; i++) if (subjects.get(subs[i]).byPeer.has(id)) markPair(subs[i], id);
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

/** Appends a removal record for every entry of `id` and forgets its map. */
function emitSubjectRemoval(id: u32): void {
  if (!subjects.has(id)) return;
  const map = subjects.get(id);
  subjects.delete(id);
  if (map.levels.size == 0) return;
  emit(id);
  emit(0);
  emit(<u32>map.levels.size);
  const keys = map.levels.keys();
  for (let i = 0; i < keys.length; i++) emitEntry(keys[i], map.levels.get(keys[i]));
  patch(0, load<u32>(outputAddressForPatch()) + 1);
}

import { outputAddress as outputAddressForPatch } from "./stream";

/** Writes every entry of a subject's map: [nEntries, entries...]. */
export function dumpSubject(id: u32): i32 {
  resetOutput();
  let map: SubjectMap;
  if (subjects.has(id)) map = subjects.get(id);
  else if (identities.has(id)) map = computeFull(id);
  else return ERR_UNKNOWN_IDENTITY;
  emit(<u32>map.levels.size);
  const keys = map.levels.keys();
  for (let i = 0; i < keys.length; i++) emitEntry(keys[i], map.levels.get(keys[i]));
  return OK;
}

// Re-exported so verdict.ts and the ABI see one set of helpers.
export { enforced, selectsPeer, keyPeer };
