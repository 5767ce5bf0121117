// Computing policy maps: a subject's whole map, or its entries for one peer.
//
// A peer's entries depend only on which peer rules select it (and, for egress
// named ports, on the peer itself), so peers with the same signature share
// one template, encoded once (see template.ts).

import { ANY_PEER, PeerRule, Rule } from "./model";
import { encode, Encoded } from "./encode";
import { Template, templateFrom } from "./template";
import { rulesOf, SubjectMap } from "./state";
import { pairContributions, selectsPeer } from "./contributions";


/** Strong 64-bit mixing (MurmurHash3's fmix64) for signatures. */
function mix(h: u64, v: u64): u64 {
  h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

/** True when a peer rule's ports depend on the peer (egress to named ports). */
function peerSpecificPorts(pr: PeerRule): bool {
  if (!pr.egress || pr.anyPort) return false;
  for (let i = 0; i < pr.ports.length; i++) if (pr.ports[i].name != 0) return true;
  return false;
}

/**
 * The whole map of `subject`, built from every rule that selects it.
 *
 * A peer's entries depend only on which peer rules select it (and, for egress
 * named ports, on the peer itself), so each peer gets a signature: the
 * ordered list of those peer rules, hashed. Peers with equal signatures
 * share one template, encoded once.
 */
export function computeFull(subject: u32): SubjectMap {
  const rs = rulesOf(subject);
  const map = new SubjectMap();
  map.rules = rs;
  for (let d = 0; d < 2; d++) {
    const egress = d == 1;
    const signature = new Map<u32, u64>();
    signature.set(ANY_PEER, 0);
    let ordinal: u64 = 0;
    for (let r = 0; r < rs.length; r++) {
      const prs = rs[r].peerRules;
      for (let i = 0; i < prs.length; i++) {
        const pr = prs[i];
        ordinal++;
        if (pr.egress != egress || pr.anyPeer) continue;
        const specific = peerSpecificPorts(pr);
        for (let s = 0; s < pr.peers.length; s++) {
          const sel = unchecked(pr.sels[s]).selected.values();
          for (let k = 0; k < sel.length; k++) {
            const peer = unchecked(sel[k]);
            const h = signature.has(peer) ? signature.get(peer) : 0;
            // ORed selectors of one element count once: hashing the element's
            // ordinal twice would give a different signature, so mark it once.
            const mark = mix(ordinal, specific ? <u64>peer : 0);
            if (s > 0 && selectedByEarlier(pr, s, peer)) continue;
            signature.set(peer, mix(h, mark));
          }
        }
      }
    }
    const memo = new Map<u64, Template>();
    const peers = signature.keys();
    for (let p = 0; p < peers.length; p++) {
      const peer = unchecked(peers[p]);
      // The wildcard peer's entries also carry the not-enforced marker: never shared.
      const key = peer == ANY_PEER ? 0 : signature.get(peer);
      let t: Template;
      if (peer != ANY_PEER && memo.has(key)) {
        t = memo.get(key);
      } else {
        const enc = new Encoded();
        encode(ANY_PEER, egress, pairContributions(subject, rs, egress, peer), enc);
        t = templateFrom(enc);
        if (peer != ANY_PEER) memo.set(key, t);
      }
      mergePeer(map, peer, t);
    }
  }
  return map;
}

/** Whether one of the first `upTo` selectors of `pr` already selects `peer`. */
function selectedByEarlier(pr: PeerRule, upTo: i32, peer: u32): bool {
  for (let s = 0; s < upTo; s++) if (unchecked(pr.sels[s]).selected.has(peer)) return true;
  return false;
}

/** Adds a direction's template to a peer's entries (ingress and egress keys never collide). */
function mergePeer(map: SubjectMap, peer: u32, t: Template): void {
  if (t.size == 0) return;
  if (!map.peers.has(peer)) {
    map.setPeer(peer, t);
    return;
  }
  const enc = new Encoded();
  const a = map.peers.get(peer);
  for (let i = 0; i < a.lows.length; i++) enc.push(<u64>a.lows[i], a.levels[i]);
  for (let i = 0; i < t.lows.length; i++) enc.push(<u64>t.lows[i], t.levels[i]);
  map.setPeer(peer, templateFrom(enc));
}

/**
 * The signature of one (subject, peer) pair: the peer rules of `rs` that
 * apply to the peer, in order (and the peer itself where its own named ports
 * matter). Pairs with equal signatures have equal entries.
 */
function pairSignature(rs: Array<Rule>, peer: u32): u64 {
  let h: u64 = 0;
  let ordinal: u64 = 0;
  for (let r = 0; r < rs.length; r++) {
    const prs = unchecked(rs[r]).peerRules;
    for (let i = 0; i < prs.length; i++) {
      const pr = unchecked(prs[i]);
      ordinal++;
      if (selectsPeer(pr, peer)) h = mix(h, mix(ordinal, peerSpecificPorts(pr) ? <u64>peer : 0));
    }
  }
  return h;
}

/**
 * The entries of `subject` for one `peer`, both directions, given the rules
 * that select the subject. `memo` shares templates between peers with the same
 * signature within one computation (the wildcard peer is never shared: it also
 * carries the not-enforced marker).
 */
export function computePair(subject: u32, peer: u32, rs: Array<Rule>, memo: Map<u64, Template>): Template {
  let key: u64 = 0;
  if (peer != ANY_PEER) {
    key = pairSignature(rs, peer);
    if (memo.has(key)) return memo.get(key);
  }
  const enc = new Encoded();
  encode(ANY_PEER, false, pairContributions(subject, rs, false, peer), enc);
  encode(ANY_PEER, true, pairContributions(subject, rs, true, peer), enc);
  const t = templateFrom(enc);
  if (peer != ANY_PEER) memo.set(key, t);
  return t;
}
