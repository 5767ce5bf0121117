// Answers one question directly from the rules, without the maps: what
// happens to traffic from or to `peer` at (protocol, port) for `subject`,
// and which rules decided it.
//
// This is deliberately a second, independent path to the answer: tests
// check that a longest-prefix lookup in the computed maps always agrees
// with it, and the datapath is tested against it in turn.

import {
  ANY_PEER, Identity, LEVEL_ALLOW, LEVEL_ALLOW_PROXY, LEVEL_DENY, LEVEL_NONE, LEVEL_NOT_ENFORCED, PeerRule,
} from "./model";
import { identities, namedPortUnion, rules, selectors } from "./state";
import { emit, resetOutput } from "./stream";
import { OK, ERR_UNKNOWN_IDENTITY } from "../errors";

/** Marks a deciding rule that enforced the direction rather than matched. */
const ENFORCING: u32 = 0xffffffff;

function peerMatches(pr: PeerRule, peer: Identity): bool {
  if (pr.anyPeer) return true;
  for (let i = 0; i < pr.peers.length; i++) {
    if (pr.sels[i].matches(peer.atoms)) return true;
  }
  return false;
}

function portMatches(pr: PeerRule, subject: Identity, peer: Identity, proto: u32, port: u32): bool {
  if (pr.anyPort) return true;
  for (let i = 0; i < pr.ports.length; i++) {
    const p = pr.ports[i];
    if (p.name == 0) {
      if (p.proto == proto && port >= p.lo && port <= p.hi) return true;
      continue;
    }
    if (p.proto != 0 && p.proto != proto) continue;
    // Egress to any peer resolves the name against every identity's ports
    // (as Cilium's global named-port map does); otherwise ingress names a
    // port of the subject and egress one of the peer.
    if (pr.egress && pr.anyPeer) {
      if (namedPortUnion.has(p.name) && namedPortUnion.get(p.name).has(((<u64>proto) << 32) | <u64>port)) return true;
      continue;
    }
    const np = (pr.egress ? peer : subject).namedPorts;
    for (let k = 0; k + 2 < np.length; k += 3) {
      if (np[k] == p.name && np[k + 1] == proto && np[k + 2] == port) return true;
    }
  }
  return false;
}

/**
 * Writes [level, nRules, (ruleId, peerRuleIndex)...]: the winning level and
 * the rules at that level (for default deny, the rules that enforce the
 * direction, with index 0xFFFFFFFF).
 */
export function verdict(subjectId: u32, egress: bool, peerId: u32, proto: u32, port: u32): i32 {
  if (!identities.has(subjectId) || !identities.has(peerId)) return ERR_UNKNOWN_IDENTITY;
  const subject = identities.get(subjectId);
  const peer = identities.get(peerId);
  let best: u8 = LEVEL_NONE;
  let isEnforced = false;
  const ruleIds = new Array<u32>();
  const indexes = new Array<u32>();
  const levels = new Array<u8>();
  const enforcing = new Array<u32>();

  const all = rules.values();
  for (let r = 0; r < all.length; r++) {
    const rule = all[r];
    if (!rule.subjectSel!.matches(subject.atoms)) continue;
    if (rule.enforces(egress)) {
      isEnforced = true;
      enforcing.push(rule.id);
    }
    for (let i = 0; i < rule.peerRules.length; i++) {
      const pr = rule.peerRules[i];
      if (pr.egress != egress) continue;
      if (!peerMatches(pr, peer) || !portMatches(pr, subject, peer, proto, port)) continue;
      const level = pr.level();
      ruleIds.push(rule.id);
      indexes.push(<u32>i);
      levels.push(level);
      if (level > best) best = level;
    }
  }
  // Not enforced: allowed, unless a deny matched.
  if (!isEnforced && best < LEVEL_NOT_ENFORCED) best = LEVEL_NOT_ENFORCED;

  resetOutput();
  emit(<u32>best);
  if (best == LEVEL_NONE) {
    emit(<u32>enforcing.length);
    for (let i = 0; i < enforcing.length; i++) {
      emit(enforcing[i]);
      emit(ENFORCING);
    }
    return OK;
  }
  let n: u32 = 0;
  for (let i = 0; i < levels.length; i++) if (levels[i] == best) n++;
  emit(n);
  for (let i = 0; i < levels.length; i++) {
    if (levels[i] != best) continue;
    emit(ruleIds[i]);
    emit(indexes[i]);
  }
  return OK;
}

// Levels are re-exported for the ABI's documentation of the answer.
export { LEVEL_ALLOW, LEVEL_ALLOW_PROXY, LEVEL_DENY, ANY_PEER };
