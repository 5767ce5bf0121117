/**
 * Drop reasons of the XDP datapath, mirroring bpf/include/wasmplane/drop_reasons.h.
 * Each code indexes the wp_drop_counters per-CPU array. Numbers are stable:
 * never renumbered, never reused; test/drop-reasons.test.ts checks both lists agree.
 *
 * @module
 */
/** Drop reason codes by name; {@link DROP_REASON_MEANING} says what each means. */
export const DROP_REASON = {
  /** The service has no backend to give. */
  NO_BACKEND: 1,
  /** A truncated or invalid header. */
  MALFORMED: 2,
  /** A protocol the VIP does not serve. */
  UNSUPPORTED_PROTOCOL: 3,
  /** No usable route and no fallback MAC. */
  FIB_LOOKUP_FAILED: 4,
  /** The outer header could not be added. */
  ENCAP_FAILED: 5,
  /** The VIP has no service on that port and protocol. */
  NO_SERVICE: 6,
  /** A later fragment whose first fragment was not seen. */
  FRAGMENT_UNKNOWN: 7,
  /** The encapsulated packet exceeds the egress MTU. */
  FRAG_NEEDED: 8,
  /** The service names an algorithm the program does not know. */
  UNKNOWN_ALGORITHM: 9,
  /** Too many IPv6 extension headers to walk. */
  EXT_HDR_LIMIT: 10,
  /** An explicit deny rule matched the flow (the resolver's `policy-deny`). */
  POLICY_DENY: 11,
  /** The direction is enforced and nothing allows the flow (the resolver's `default-deny`). */
  DEFAULT_DENY: 12,
  /** Service translation (tc): the backend's address family differs from the frontend's (no NAT46/NAT64). */
  NAT_FAMILY: 13,
  /** Service translation (tc): the packet could not be rewritten (skb not writable, or a fragmented SCTP packet whose port must change). */
  NAT_FAILED: 14,
} as const;

/** A drop reason code. */
export type DropReason = (typeof DROP_REASON)[keyof typeof DROP_REASON];

/** Entries of wp_drop_counters: fixed, so adding a reason never resizes the map. */
export const DROP_REASON_SLOTS = 64;

/** What each code means, for messages and metric labels. */
export const DROP_REASON_MEANING: Readonly<Record<number, string>> = {
  1: "service has no backend (no backends, empty Maglev slot, missing table or random slot, unknown backend ID)",
  2: "truncated or invalid header",
  3: "protocol not served (not TCP, UDP, SCTP or a handled ICMP error) to a VIP",
  4: "FIB lookup found no usable route, or failed with no fallback MAC configured",
  5: "encapsulation impossible (no source address for the backend's family, adjust_head failed, outer length > 65535)",
  6: "VIP has no service for this port and protocol",
  7: "later fragment to a VIP whose first fragment was not seen",
  8: "encapsulated packet exceeds the egress MTU",
  9: "service names an unknown algorithm",
  10: "IPv6 extension header chain too long",
  11: "policy-deny: an explicit deny rule matched the flow",
  12: "default-deny: the direction is enforced and no rule allows the flow",
  13: "service translation: the backend's address family differs from the frontend's (no NAT46/NAT64)",
  14: "service translation: rewriting the packet failed (skb not writable, or a fragmented SCTP packet whose port must change)",
};
