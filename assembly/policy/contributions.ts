// What the rules say about a subject: per direction and peer, the list of
// (protocol, port range, level) contributions that `encode` turns into map
// entries, with named ports resolved.

import {
  ANY_PEER, Contribution, Identity, LEVEL_NOT_ENFORCED, PeerRule, PortRange, Rule,
} from "./model";
import { identities, namedPortUnion, selectors } from "./state";

/** Appends the contributions of `pr`'s ports for `subject` and `peer`. */
export function portContributions(pr: PeerRule, subject: u32, peer: u32, out: Array<Contribution>): void {
  const level = pr.level();
  if (pr.anyPort) {
    out.push(new Contribution(0, 0, 0xffff, level));
    return;
  }
  for (let i = 0; i < pr.ports.length; i++) {
    const p = unchecked(pr.ports[i]);
    if (p.name == 0) {
      out.push(new Contribution(p.proto, p.lo, p.hi, level));
      continue;
    }
    // Ingress names a port of the subject; egress a port of the peer.
    const owner = pr.egress ? peer : subject;
    if (owner == ANY_PEER) {
      resolveUnion(p, level, out);
    } else if (identities.has(owner)) {
      resolveNamed(identities.get(owner), p, level, out);
    }
  }
}

function resolveNamed(owner: Identity, p: PortRange, level: u8, out: Array<Contribution>): void {
  const np = owner.namedPorts;
  for (let i = 0; i + 2 < np.length; i += 3) {
    if (np[i] != p.name) continue;
    const proto = np[i + 1];
    if (p.proto != 0 && p.proto != proto) continue;
    out.push(new Contribution(proto, np[i + 2], np[i + 2], level));
  }
}

function resolveUnion(p: PortRange, level: u8, out: Array<Contribution>): void {
  if (!namedPortUnion.has(p.name)) return;
  const keys = namedPortUnion.get(p.name).keys();
  for (let i = 0; i < keys.length; i++) {
    const proto = <u32>(keys[i] >> 32);
    const port = <u32>keys[i];
    if (p.proto != 0 && p.proto != proto) continue;
    out.push(new Contribution(proto, port, port, level));
  }
}

/** True when `pr` applies to `peer` (an explicit identity, or ANY_PEER for the wildcard). */
export function selectsPeer(pr: PeerRule, peer: u32): bool {
  if (pr.anyPeer) return peer == ANY_PEER;
  if (peer == ANY_PEER) return false;
  for (let i = 0; i < pr.peers.length; i++) {
    if (unchecked(pr.sels[i]).selected.has(peer)) return true;
  }
  return false;
}

/** Whether any of `subjectRules` enforces the direction. */
export function enforced(subjectRules: Array<Rule>, egress: bool): bool {
  for (let i = 0; i < subjectRules.length; i++) if (unchecked(subjectRules[i]).enforces(egress)) return true;
  return false;
}

/**
 * Contributions for one (subject, direction, peer), given the rules that
 * select the subject. The wildcard peer also carries the not-enforced marker.
 */
export function pairContributions(subject: u32, subjectRules: Array<Rule>, egress: bool, peer: u32): Array<Contribution> {
  const out = new Array<Contribution>();
  if (peer == ANY_PEER && !enforced(subjectRules, egress)) {
    out.push(new Contribution(0, 0, 0xffff, LEVEL_NOT_ENFORCED));
  }
  for (let r = 0; r < subjectRules.length; r++) {
    const prs = unchecked(subjectRules[r]).peerRules;
    for (let i = 0; i < prs.length; i++) {
      const pr = unchecked(prs[i]);
      if (pr.egress != egress || !selectsPeer(pr, peer)) continue;
      portContributions(pr, subject, peer, out);
    }
  }
  return out;
}

/** Every peer that any rule of the subject names in a direction (ANY_PEER always included). */
export function peersOf(subjectRules: Array<Rule>, egress: bool): Set<u32> {
  const peers = new Set<u32>();
  peers.add(ANY_PEER);
  for (let r = 0; r < subjectRules.length; r++) {
    const prs = unchecked(subjectRules[r]).peerRules;
    for (let i = 0; i < prs.length; i++) {
      const pr = unchecked(prs[i]);
      if (pr.egress != egress || pr.anyPeer) continue;
      for (let s = 0; s < pr.peers.length; s++) {
        const sel = unchecked(pr.sels[s]).selected.values();
        for (let k = 0; k < sel.length; k++) peers.add(unchecked(sel[k]));
      }
    }
  }
  return peers;
}
