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
 * the peer's own entry counts, so a peer's deny decides without the
 * identity-0 side. Allow via proxy passes like an allow: this datapath has
 * no L7 proxy to redirect to.
 *
 * Each side's longest prefix comes from wp_policy_exact (hash) whenever it
 * can, and from the wp_policy trie only for a (subject, side, direction)
 * group that has entries of prefix 1..23 (a protocol, a port block):
 *
 *   exact[(subject, side, dir, proto, port), prefix 24] ─hit─▶ that entry (the longest there is)
 *     │ miss
 *   exact[(subject, side, dir, 0, 0), prefix 0] ─miss─▶ none: the side has no entry that covers
 *     │ hit
 *     ├─ flags & WP_POLICY_F_TRIE ─▶ wp_policy trie (the group has entries the hash cannot answer)
 *     └─ otherwise: the group's L3-only entry (prefix 0)
 *
 * Two lookups at most per side before the trie. A peer's prefix-24 entry
 * in the hash is written already decided against identity 0's longest
 * match for its port (the winner's precedence and counter, flag
 * WP_POLICY_F_FINAL), so an L3+L4 allow of one port takes one hash lookup
 * in all. What the host writes to keep both maps telling the same: abi.h,
 * "wp_policy_exact".
 */
#ifndef WASMPLANE_LIB_POLICY_H
#define WASMPLANE_LIB_POLICY_H

#include "common.h"
#include "counters.h"
#include "maps.h"

/* Writes: control plane (src/endpoint: every subject's entries, and the
 * engine's deltas). Reads: tc programs, behind wp_policy_exact: only for
 * groups whose hash entry carries the WP_POLICY_F_TRIE marker. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct wp_policy_key);
	__type(value, struct wp_policy_value);
	__uint(max_entries, WASMPLANE_POLICY_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	WP_PINNED
} wp_policy SEC(".maps");

/* Writes: control plane (src/endpoint, from the same plan as wp_policy:
 * its prefix-24 and prefix-0 entries with the same bytes, and a
 * WP_POLICY_F_TRIE marker per group that needs the trie). Reads: tc
 * programs, before wp_policy. Never holds more than wp_policy: a marker
 * stands for at least one trie entry the hash leaves out. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_policy_key);
	__type(value, struct wp_policy_value);
	__uint(max_entries, WASMPLANE_POLICY_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	WP_PINNED
} wp_policy_exact SEC(".maps");

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
 * The longest-prefix entry of one side: key->peer is the side (the peer's
 * identity, or 0), key->protocol and key->port the packet's. NULL: no entry
 * of that side covers the packet. The key's prefix and (protocol, port) are
 * changed on the way.
 */
static __always_inline struct wp_policy_value *wp_policy_side(struct wp_policy_key *key)
{
	struct wp_policy_value *value;
	__u8 protocol = key->protocol;
	__be16 port = key->port;

	key->prefixlen = WP_POLICY_PREFIX_FULL;
	value = bpf_map_lookup_elem(&wp_policy_exact, key);
	if (value)
		return value;
	key->prefixlen = WP_POLICY_PREFIX_BASE;
	key->protocol = 0;
	key->port = 0;
	value = bpf_map_lookup_elem(&wp_policy_exact, key);
	if (!value)
		return 0;
	if (!(value->flags & WP_POLICY_F_TRIE))
		return value;
	key->prefixlen = WP_POLICY_PREFIX_FULL;
	key->protocol = protocol;
	key->port = port;
	return bpf_map_lookup_elem(&wp_policy, key);
}

/*
 * Decides one packet: WP_OK (pass) or WP_DROP_POLICY_DENY /
 * WP_DROP_DEFAULT_DENY. `port` is __be16 (the ICMP type for ICMP).
 */
static __always_inline int wp_policy_check(__u32 subject, __u32 peer, __u8 direction,
					   __u8 protocol, __be16 port, __u64 bytes)
{
	struct wp_policy_key key = {
		.subject = subject,
		.peer = peer,
		.direction = direction,
		.protocol = protocol,
		.port = port,
	};
	struct wp_policy_value *specific, *wildcard = 0, *win;
	__u8 prec;

	specific = wp_policy_side(&key);
	/* A peer's prefix-24 entry in the hash carries the decision of both
	 * sides (WP_POLICY_F_FINAL), and a peer's deny wins over anything
	 * identity 0 has (ties: the peer's): either way, one side suffices. */
	if (!specific || (!(specific->flags & WP_POLICY_F_FINAL) && specific->precedence < WP_PREC_DENY)) {
		key.peer = 0;
		key.protocol = protocol;
		key.port = port;
		wildcard = wp_policy_side(&key);
	}

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
