/**
 * One line of text per observed flow, in the manner of `hubble observe`:
 *
 *   2024-05-01T12:00:00.123Z shop/web:41000 (ID:1001) -> shop/db:5432 (ID:1002) ingress FORWARDED TCP SYN service shop/db
 *   2024-05-01T12:00:00.456Z tools/debug:38000 (ID:1003) -> shop/web:8080 (ID:1001) ingress DROPPED (policy-deny) TCP SYN
 *   2024-05-01T12:00:00.789Z shop/web:41000 (ID:1001) <- shop/db:5432 (ID:1002) egress FORWARDED TCP SYN|ACK
 *
 * A side is `namespace/pod:port` when the agent named the pod, `ip:port`
 * otherwise (`[v6]:port` for IPv6), without the port when it is 0 (ICMP).
 * Replies are drawn as hubble draws them, the connection's client on the
 * left and `<-` pointing at it, so a request and its reply read the same way
 * round. The time is the flow's own text (UTC), so a line depends on the
 * flow alone: the same flow gives the same line on every machine.
 *
 * Pure module.
 *
 * @module
 */
import type { ObservedFlow, ObservedPeer } from "./types.js";

/** `ns/pod:port`, `ip:port` or `[ip]:port`; the port left out when it is 0. */
export function formatPeer(peer: ObservedPeer): string {
  if (peer.pod !== undefined) {
    const name = peer.namespace !== undefined ? `${peer.namespace}/${peer.pod}` : peer.pod;
    return peer.port === 0 ? name : `${name}:${peer.port}`;
  }
  if (peer.port === 0) return peer.ip;
  return peer.ip.includes(":") ? `[${peer.ip}]:${peer.port}` : `${peer.ip}:${peer.port}`;
}

/**
 * The flow as one line of text (no newline): time, source, arrow,
 * destination (each with its identity), direction, verdict, the drop reason
 * in parentheses, protocol and TCP flags, and `service <name>` (or
 * `service #<id>`) when the packet was translated for a service. Never throws.
 */
export function formatFlow(flow: ObservedFlow): string {
  const [left, arrow, right] = flow.reply ? [flow.destination, "<-", flow.source] : [flow.source, "->", flow.destination];
  const parts = [
    flow.time,
    `${formatPeer(left)} (ID:${left.identity})`,
    arrow,
    `${formatPeer(right)} (ID:${right.identity})`,
    flow.direction,
    flow.verdict === "DROPPED" ? `DROPPED (${flow.reason ?? "unknown"})` : flow.verdict,
    flow.tcpFlags ? `${flow.protocol} ${flow.tcpFlags}` : flow.protocol,
  ];
  if (flow.service) parts.push(`service ${flow.service.name ?? `#${flow.service.id}`}`);
  return parts.join(" ");
}
