// Transactions: what a change must recompute, and committing it.
//
// A mutation marks subjects for a whole recomputation or for some of their
// peers; `commitPending` computes every new map aside, checks the size limit,
// and only then commits and emits the deltas:
//
//   [nSubjects, (subject, nAdded, entry..., nRemoved, entry...)...]
//
// (an entry is the four words of keys.ts `emitEntry`). On overflow nothing
// is committed and the answer is [subject, needed].

import { identities, mapLimit, rulesOf, selectors, SubjectMap, subjects } from "./state";
import { ANY_PEER, Rule } from "./model";
import { computeFull, computePair } from "./compute";
import { diffTemplates, emitTemplate, EMPTY_TEMPLATE, Removals, Template } from "./template";
import { emitEntry } from "./keys";
import { emit, outputAddress, outputWords, patch, resetOutput, truncateOutput } from "./stream";
import { OK, ERR_MAP_OVERFLOW } from "../errors";


/** Subjects whose whole map is recomputed. */
export let pendingFull = new Set<u32>();
/** Subjects whose entries for some peers are recomputed: subject → peers. */
export let pendingPairs = new Map<u32, Set<u32>>();
/** Rules that name ports in egress and select any peer: resolved against the union. */
export const namedEgressRules = new Set<u32>();

/** Pair-marked subjects whose set of rules changed: their cached rule list is stale. */
let rulesChanged = new Set<u32>();

export function resetPending(): void {
  pendingFull = new Set<u32>();
  pendingPairs = new Map<u32, Set<u32>>();
  rulesChanged = new Set<u32>();
}

export function markPair(subject: u32, peer: u32): void {
  if (!subjects.has(subject)) return;
  if (!pendingPairs.has(subject)) pendingPairs.set(subject, new Set<u32>());
  pendingPairs.get(subject).add(peer);
}

/**
 * Marks what adding or removing rule `r` changes: for every subject it
 * selects, the entries of the peers it names and of the wildcard peer (its
 * enforcement and any-peer elements live there). A peer no element of `r`
 * names keeps its entries, so the rest of the map is not recomputed.
 */
export function markRulePairs(r: Rule): void {
  const subs = r.subjectSel!.selected.values();
  for (let i = 0; i < subs.length; i++) {
    const s = unchecked(subs[i]);
    if (!subjects.has(s)) continue;
    rulesChanged.add(s);
    markPair(s, ANY_PEER);
    for (let k = 0; k < r.peerRules.length; k++) {
      const pr = unchecked(r.peerRules[k]);
      if (pr.anyPeer) continue;
      for (let j = 0; j < pr.sels.length; j++) {
        const peers = unchecked(pr.sels[j]).selected.values();
        for (let p = 0; p < peers.length; p++) markPair(s, unchecked(peers[p]));
      }
    }
  }
}



class Staged {
  full: Map<u32, SubjectMap> = new Map<u32, SubjectMap>();
  pairs: Map<u32, Map<u32, Template>> = new Map<u32, Map<u32, Template>>();
  /** The rule lists the pair computations used, cached on commit. */
  rules: Map<u32, Array<Rule>> = new Map<u32, Array<Rule>>();
  /** Subjects whose rules changed but were not needed: their cache is dropped. */
  stale: Set<u32> = new Set<u32>();
}

/**
 * Computes every pending map, checks the limit, and either commits (emitting
 * the deltas) or returns ERR_MAP_OVERFLOW with [subject, needed] as output.
 */
export function commitPending(): i32 {
  const staged = new Staged();
  const fulls = pendingFull.values();
  for (let i = 0; i < fulls.length; i++) {
    const s = fulls[i];
    const map = computeFull(s);
    if (<u32>map.count > mapLimit) return overflow(s, <u32>map.count);
    staged.full.set(s, map);
  }
  const pairSubjects = pendingPairs.keys();
  for (let i = 0; i < pairSubjects.length; i++) {
    const s = pairSubjects[i];
    if (staged.full.has(s)) continue; // the whole map is recomputed anyway
    const current = subjects.get(s);
    let count = current.count;
    const peers = pendingPairs.get(s).values();
    const byPeer = new Map<u32, Template>();
    const cached = current.rules;
    let rs: Array<Rule> | null = rulesChanged.has(s) ? null : cached;
    const memo = new Map<u64, Template>();
    for (let p = 0; p < peers.length; p++) {
      // A peer that no longer exists is selected by nothing: its entries just go.
      let t = EMPTY_TEMPLATE;
      if (peers[p] == ANY_PEER || identities.has(peers[p])) {
        if (rs == null) rs = rulesOf(s);
        t = computePair(s, peers[p], rs!, memo);
      }
      if (current.peers.has(peers[p])) count -= current.peers.get(peers[p]).size;
      count += t.size;
      byPeer.set(peers[p], t);
    }
    if (<u32>count > mapLimit) return overflow(s, <u32>count);
    staged.pairs.set(s, byPeer);
    if (rs != null) staged.rules.set(s, rs!);
    else if (rulesChanged.has(s)) staged.stale.add(s);
  }

  resetOutput();
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
    if (staged.rules.has(pairKeys[i])) subjects.get(pairKeys[i]).rules = staged.rules.get(pairKeys[i]);
    else if (staged.stale.has(pairKeys[i])) subjects.get(pairKeys[i]).rules = null;
    if (applyPairs(pairKeys[i], staged.pairs.get(pairKeys[i]))) changed++;
  }
  patch(0, changed);
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

/** Appends the removals and finishes a subject's record; drops it if nothing changed. */
function finishRecord(start: u32, addedAt: u32, added: u32, removed: Removals): bool {
  patch(addedAt, added);
  emit(<u32>removed.keys.length);
  for (let i = 0; i < removed.keys.length; i++) emitEntry(removed.keys[i], removed.levels[i]);
  if (added == 0 && removed.keys.length == 0) {
    // An unchanged subject is not reported.
    truncateOutput(start);
    return false;
  }
  return true;
}

/** Emits [subject, nAdded, added..., nRemoved, removed...] unless nothing differs. */
function emitDiff(subject: u32, before: SubjectMap, after: SubjectMap): bool {
  const start = outputWords();
  emit(subject);
  const addedAt = outputWords();
  emit(0);
  let added: u32 = 0;
  const removed = new Removals();
  const peers = after.peers.keys();
  for (let i = 0; i < peers.length; i++) {
    const peer = peers[i];
    const old = before.peers.has(peer) ? before.peers.get(peer) : EMPTY_TEMPLATE;
    added += diffTemplates(peer, old, after.peers.get(peer), removed);
  }
  const gone = before.peers.keys();
  for (let i = 0; i < gone.length; i++) {
    if (!after.peers.has(gone[i])) diffTemplates(gone[i], before.peers.get(gone[i]), EMPTY_TEMPLATE, removed);
  }
  return finishRecord(start, addedAt, added, removed);
}

/** Replaces the entries of some peers in a subject's map, emitting the difference. */
function applyPairs(subject: u32, byPeer: Map<u32, Template>): bool {
  const map = subjects.get(subject);
  const start = outputWords();
  emit(subject);
  const addedAt = outputWords();
  emit(0);
  let added: u32 = 0;
  const removed = new Removals();
  const peers = byPeer.keys();
  for (let p = 0; p < peers.length; p++) {
    const peer = peers[p];
    const next = byPeer.get(peer);
    const old = map.peers.has(peer) ? map.peers.get(peer) : EMPTY_TEMPLATE;
    added += diffTemplates(peer, old, next, removed);
    map.setPeer(peer, next);
  }
  return finishRecord(start, addedAt, added, removed);
}


/** Appends a removal record for every entry of `id` and forgets its map. */
export function emitSubjectRemoval(id: u32): void {
  if (!subjects.has(id)) return;
  const map = subjects.get(id);
  subjects.delete(id);
  if (map.count == 0) return;
  emit(id);
  emit(0);
  emit(<u32>map.count);
  const peers = map.peers.keys();
  for (let i = 0; i < peers.length; i++) emitTemplate(peers[i], map.peers.get(peers[i]));
  patch(0, load<u32>(outputAddress()) + 1);
}
