/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy lookup: the resolver's map (docs/policy.md, "The policy
 * map") for one subject, direction, peer and (protocol, port).
 *
 *   longest prefix of (subject, peer, dir, proto, port) ─┐
 *                                                        ├─ higher precedence wins
 *   longest prefix of (subject, 0,    dir, proto, port) ─┘   none at all: default deny
 *
 *   deny (4) ─▶ WP_DROP_POLICY_DENY          allow (3), proxy (2), not enforced (1) ─▶ pass
 *   none (0) ─▶ WP_DROP_DEFAULT_DENY
 *
 * Exactly the lookup test/support/policy-lpm.ts models and the resolver's
 * property tests check against verdict(). The winning entry's per-CPU
 * counter (wp_policy_counters[value.counter]) counts the packet; on a tie
 * the peer's own entry counts. Allow via proxy passes like an allow: this
 * datapath has no L7 proxy to redirect to.
 */
#ifndef WASMPLANE_LIB_POLICY_H
#define WASMPLANE_LIB_POLICY_H

#include "common.h"
#include "counters.h"
#include "maps.h"

/* Writes: control plane (src/endpoint: every subject's entries, and the
 * engine's deltas). Reads: tc programs, two lookups per packet not a reply. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct wp_policy_key);
	__type(value, struct wp_policy_value);
	__uint(max_entries, WASMPLANE_POLICY_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	WP_PINNED
} wp_policy SEC(".maps");

/* Writes: tc programs (the deciding entry's slot). Reads: control plane,
 * which also zeroes a slot before giving it to a new entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WASMPLANE_POLICY_MAP_SIZE);
	WP_PINNED
} wp_policy_counters SEC(".maps");

/*
 * Decides one packet: WP_OK (pass) or WP_DROP_POLICY_DENY /
 * WP_DROP_DEFAULT_DENY. `port` is __be16 (the ICMP type for ICMP).
 */
static __always_inline int wp_policy_check(__u32 subject, __u32 peer, __u8 direction,
					   __u8 protocol, __be16 port, __u64 bytes)
{
	struct wp_policy_key key = {
		.prefixlen = WP_POLICY_PREFIX_FULL,
		.subject = subject,
		.peer = peer,
		.direction = direction,
		.protocol = protocol,
		.port = port,
	};
	struct wp_policy_value *specific, *wildcard, *win;
	__u8 prec;

	specific = bpf_map_lookup_elem(&wp_policy, &key);
	key.peer = 0;
	wildcard = bpf_map_lookup_elem(&wp_policy, &key);

	win = specific;
	if (wildcard && (!specific || wildcard->precedence > specific->precedence))
		win = wildcard;
	if (!win)
		return WP_DROP_DEFAULT_DENY;
	prec = win->precedence;
	wp_count(&wp_policy_counters, win->counter, bytes);
	if (prec >= WP_PREC_DENY)
		return WP_DROP_POLICY_DENY;
	if (prec == WP_PREC_NONE)
		return WP_DROP_DEFAULT_DENY;
	return WP_OK;
}

#endif /* WASMPLANE_LIB_POLICY_H */
