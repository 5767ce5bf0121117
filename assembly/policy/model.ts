// The resolver's in-memory model: identities, rules and what a rule says.
//
// Levels order every verdict so that combining two answers is `max`:
//
//   LEVEL_NONE          0  nothing matched (default deny when enforced)
//   LEVEL_NOT_ENFORCED  1  nothing matched, but the direction is not enforced: allowed
//   LEVEL_ALLOW_PROXY   2  allowed, redirected to the L7 proxy (also when not
//                          enforced: enableDefaultDeny false keeps L7 visibility)
//   LEVEL_ALLOW         3  allowed; beats a proxy redirect ("an L7-less allow covers it")
//   LEVEL_DENY          4  an explicit deny: beats everything
//
// Cilium's rule "a matching deny wins over every allow, however specific" is
// then simply the maximum, wherever the contributions come from.

import { Selector } from "./selectors";

export const LEVEL_NONE: u8 = 0;
export const LEVEL_NOT_ENFORCED: u8 = 1;
export const LEVEL_ALLOW_PROXY: u8 = 2;
export const LEVEL_ALLOW: u8 = 3;
export const LEVEL_DENY: u8 = 4;

/** Peer identity 0 stands for "any peer" (Cilium's wildcard identity). */
export const ANY_PEER: u32 = 0;

export class Identity {
  constructor(
    public id: u32,
    /** Sorted label atoms this identity matches. */
    public atoms: StaticArray<u32>,
    /** Named ports as triples (name atom, protocol, port). */
    public namedPorts: StaticArray<u32>,
  ) {}
}

/** A port match of a rule. `name` 0 means numeric; otherwise `proto` 0 matches a named port of any protocol. */
export class PortRange {
  constructor(public proto: u32, public lo: u32, public hi: u32, public name: u32) {}
}

export class PeerRule {
  constructor(
    public egress: bool,
    public deny: bool,
    public proxy: bool,
    /** No L3 part: every peer, identity 0 in the map. */
    public anyPeer: bool,
    /** Selector ids, ORed. */
    public peers: StaticArray<u32>,
    /** No L4 part: every protocol and port. */
    public anyPort: bool,
    public ports: Array<PortRange>,
  ) {}

  /** The peer selectors themselves, resolved once when the rule is read (hot loops skip the id lookup). */
  sels: Array<Selector> = new Array<Selector>();

  // @ts-ignore: decorator
  @inline
  level(): u8 {
    return this.deny ? LEVEL_DENY : this.proxy ? LEVEL_ALLOW_PROXY : LEVEL_ALLOW;
  }
}

export class Rule {
  /** The subject selector, resolved when the rule is read. */
  subjectSel: Selector | null = null;

  constructor(
    public id: u32,
    public subject: u32,
    public enforceIngress: bool,
    public enforceEgress: bool,
    public peerRules: Array<PeerRule>,
  ) {}

  enforces(egress: bool): bool {
    return egress ? this.enforceEgress : this.enforceIngress;
  }
}

/** One thing a rule says about a (subject, direction, peer): protocol 0 means every protocol and port. */
export class Contribution {
  constructor(public proto: u32, public lo: u32, public hi: u32, public level: u8) {}
}
