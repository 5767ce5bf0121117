/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Drop reasons of the wasmplane datapath: why a packet got XDP_DROP (or
 * TC_ACT_SHOT in the tc programs).
 *
 * Each code indexes the `wp_drop_counters` per-CPU array (see lib/maps.h).
 * The numbers are an ABI shared with the control plane and dashboards:
 * a code is NEVER renumbered and NEVER reused for another meaning; a retired
 * reason keeps its number and its comment says "retired".
 *
 * Mirrored, value for value, by the TypeScript file src/bpf/drop-reasons.ts.
 * Change both in the same commit.
 */
#ifndef WASMPLANE_DROP_REASONS_H
#define WASMPLANE_DROP_REASONS_H

/* 0 is never a drop: functions return 0 for "continue". */
#define WP_DROP_NONE			0
/* Service has no backend: backend_count 0, empty Maglev slot (0xFFFFFFFF),
 * no Maglev table or random slot for the service, or a backend ID that is
 * not in wp_backends. */
#define WP_DROP_NO_BACKEND		1
/* Truncated or invalid header: Ethernet, IPv4 (version, IHL, total length),
 * IPv6 (payload length, extension header), L4 header shorter than its fixed
 * size, or an ICMP error to a VIP whose quoted header cannot be read. */
#define WP_DROP_MALFORMED		2
/* L4 protocol the load balancer does not serve (not TCP, UDP, SCTP, or an
 * ICMP error it handles) addressed to a VIP. */
#define WP_DROP_UNSUPPORTED_PROTOCOL	3
/* bpf_fib_lookup() found no usable route (blackhole, unreachable,
 * prohibited), or it failed and no fallback next-hop MAC is configured. */
#define WP_DROP_FIB_LOOKUP_FAILED	4
/* Encapsulation impossible: no encapsulation source address configured for
 * the backend's family, bpf_xdp_adjust_head() refused, or the outer IPv4
 * total length would exceed 65535. */
#define WP_DROP_ENCAP_FAILED		5
/* Destination is a VIP (in wp_vips) but no service matches the port and
 * protocol. */
#define WP_DROP_NO_SERVICE		6
/* Non-first fragment to a VIP whose first fragment was not seen (the ports
 * are unknown, so no backend can be chosen consistently). */
#define WP_DROP_FRAGMENT_UNKNOWN	7
/* The encapsulated packet exceeds the MTU of the egress device reported by
 * bpf_fib_lookup() (BPF_FIB_LKUP_RET_FRAG_NEEDED). */
#define WP_DROP_FRAG_NEEDED		8
/* Service value names an algorithm this datapath does not know. */
#define WP_DROP_UNKNOWN_ALGORITHM	9
/* IPv6 extension header chain longer than WASMPLANE_MAX_IPV6_EXT_HDRS to a
 * VIP (traffic to other addresses is passed to the stack). */
#define WP_DROP_EXT_HDR_LIMIT		10

/* Policy (tc programs): an explicit deny rule matched the flow. The
 * resolver's verdict() calls this reason "policy-deny". */
#define WP_DROP_POLICY_DENY		11
/* Policy (tc programs): the direction is enforced for the endpoint and no
 * entry allows the flow. The resolver's verdict() reason "default-deny". */
#define WP_DROP_DEFAULT_DENY		12
/* Service translation (tc, lib/nat.h): the backend chosen for the flow is of
 * another address family than the frontend. tc rewrites addresses in place
 * and does no NAT46/NAT64. */
#define WP_DROP_NAT_FAMILY		13
/* Service translation (tc, lib/nat.h): rewriting the packet failed
 * (bpf_skb_store_bytes or a checksum helper refused: the skb could not be
 * made writable), or an SCTP packet that is an IP fragment would need its
 * port changed (its CRC32c covers bytes of other fragments). */
#define WP_DROP_NAT_FAILED		14

/* Highest code in use; bump when adding one (and add it to the TS mirror). */
#define WP_DROP_REASON_MAX		14

/* Entries of wp_drop_counters: fixed, so adding a reason never resizes the map. */
#define WP_DROP_SLOTS			64

_Static_assert(WP_DROP_REASON_MAX < WP_DROP_SLOTS, "drop reasons must fit the counter map");

#endif /* WASMPLANE_DROP_REASONS_H */
