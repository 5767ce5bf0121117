/**
 * A model of the datapath's policy lookup over a map dump: longest prefix
 * match over (protocol, port) for the peer's identity and for identity 0,
 * the higher precedence of the two wins, no entry means default deny.
 */
import type { PolicyMapEntry } from "../../src/policy/resolver-host.js";

function longest(entries: readonly PolicyMapEntry[], identity: number, egress: boolean, proto: number, port: number): PolicyMapEntry | undefined {
  let best: PolicyMapEntry | undefined;
  for (const e of entries) {
    if (e.identity !== identity || (e.direction === "egress") !== egress) continue;
    const hit = e.prefixLength === 0 || (e.protocol === proto && port >= e.port && port <= e.endPort);
    if (hit && (!best || e.prefixLength > best.prefixLength)) best = e;
  }
  return best;
}

/** The precedence the datapath would apply (0 = default deny). */
export function lookupLevel(entries: readonly PolicyMapEntry[], peer: number, egress: boolean, proto: number, port: number): number {
  const specific = longest(entries, peer, egress, proto, port)?.precedence ?? 0;
  const wildcard = longest(entries, 0, egress, proto, port)?.precedence ?? 0;
  return Math.max(specific, wildcard);
}
