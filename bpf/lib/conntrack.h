/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking for the endpoint programs: replies of allowed
 * connections pass without a policy lookup, so an ingress-only policy on a
 * server does not break what its clients receive back, nor an egress-only
 * policy what a client receives.
 *
 *   reversed tuple, opposite program, live ──▶ reply: pass
 *   tuple, this program ──▶ policy; allowed and no live entry: create
 *
 * Entries are keyed by the tuple of the connection's first packet and the
 * program that made them (abi.h, wp_ct_key): between two endpoints of this
 * node the client's from_endpoint and the server's to_endpoint each keep an
 * entry of their own.
 *
 * Lifetimes, after Cilium's defaults (bpf/lib/conntrack.h there): TCP
 * 21600 s once a reply was seen, 60 s before that; other protocols 60 s;
 * 10 s after an RST or a FIN in each direction (WP_CT_F_CLOSING). A dead
 * entry is ignored, and a SYN without ACK on a closing entry starts the
 * connection over. The deadline is written back at most once per
 * WP_CT_REFRESH_NS per entry, so established traffic reads the entry
 * without dirtying it.
 */
#ifndef WASMPLANE_LIB_CONNTRACK_H
#define WASMPLANE_LIB_CONNTRACK_H

#include "common.h"
#include "maps.h"
#include "tc_packet.h"

#ifndef WASMPLANE_CT_TCP_LIFETIME_SEC
#define WASMPLANE_CT_TCP_LIFETIME_SEC		21600
#endif
#ifndef WASMPLANE_CT_SYN_LIFETIME_SEC
#define WASMPLANE_CT_SYN_LIFETIME_SEC		60
#endif
#ifndef WASMPLANE_CT_OTHER_LIFETIME_SEC
#define WASMPLANE_CT_OTHER_LIFETIME_SEC		60
#endif
#ifndef WASMPLANE_CT_CLOSE_LIFETIME_SEC
#define WASMPLANE_CT_CLOSE_LIFETIME_SEC		10
#endif
#define WP_NS_PER_SEC		1000000000ULL
#define WP_CT_REFRESH_NS	WP_NS_PER_SEC

/* Writes: tc programs (new allowed connections; TCP state and deadline
 * refreshed in place). Reads: tc programs, every packet of an endpoint.
 * The control plane may read and delete entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_ct_key);
	__type(value, struct wp_ct_value);
	__uint(max_entries, WASMPLANE_CT_SIZE);
	WP_PINNED
} wp_conntrack SEC(".maps");

static __always_inline void wp_ct_key_of(const struct wp_tc_packet *p, __u8 direction, int reverse,
					 struct wp_ct_key *key)
{
	const struct wp_flow_key *f = &p->pkt.flow;

	if (reverse) {
		wp_memcpy(key->saddr, f->daddr, 16);
		wp_memcpy(key->daddr, f->saddr, 16);
		key->sport = f->dport;
		key->dport = f->sport;
	} else {
		wp_memcpy(key->saddr, f->saddr, 16);
		wp_memcpy(key->daddr, f->daddr, 16);
		key->sport = f->sport;
		key->dport = f->dport;
	}
	key->protocol = f->protocol;
	key->family = f->family;
	key->direction = direction;
}

static __always_inline __u64 wp_ct_lifetime(const struct wp_ct_value *ct, __u8 protocol)
{
	if (ct->flags & WP_CT_F_CLOSING)
		return WASMPLANE_CT_CLOSE_LIFETIME_SEC * WP_NS_PER_SEC;
	if (protocol != IPPROTO_TCP)
		return WASMPLANE_CT_OTHER_LIFETIME_SEC * WP_NS_PER_SEC;
	if (ct->tcp_rev)
		return WASMPLANE_CT_TCP_LIFETIME_SEC * WP_NS_PER_SEC;
	return WASMPLANE_CT_SYN_LIFETIME_SEC * WP_NS_PER_SEC;
}

/* Folds a packet's TCP flags into the entry and pushes its deadline. */
static __always_inline void wp_ct_refresh(struct wp_ct_value *ct, __u8 protocol, __u8 tcp_flags,
					  int reply, __u64 now)
{
	__u64 expires;

	if (protocol == IPPROTO_TCP) {
		__u8 *seen = reply ? &ct->tcp_rev : &ct->tcp_fwd;
		__u8 all = *seen | tcp_flags;

		if (all != *seen)
			*seen = all;
		if (!(ct->flags & WP_CT_F_CLOSING) &&
		    (((ct->tcp_fwd | ct->tcp_rev) & WP_TCP_RST) ||
		     ((ct->tcp_fwd & ct->tcp_rev) & WP_TCP_FIN)))
			ct->flags |= WP_CT_F_CLOSING;
	}
	expires = now + wp_ct_lifetime(ct, protocol);
	if (expires > ct->expires_ns + WP_CT_REFRESH_NS || (ct->flags & WP_CT_F_CLOSING && expires < ct->expires_ns))
		ct->expires_ns = expires;
}

/* Whether the packet answers a live connection the other program made. */
static __always_inline int wp_ct_is_reply(const struct wp_tc_packet *p, __u8 direction, __u64 now)
{
	struct wp_ct_key key = {};
	struct wp_ct_value *ct;

	if (p->track == WP_TRACK_NONE)
		return 0;
	wp_ct_key_of(p, direction == WP_DIR_EGRESS ? WP_DIR_INGRESS : WP_DIR_EGRESS, 1, &key);
	ct = bpf_map_lookup_elem(&wp_conntrack, &key);
	if (!ct || ct->expires_ns <= now)
		return 0;
	wp_ct_refresh(ct, p->pkt.flow.protocol, p->tcp_flags, 1, now);
	return 1;
}

/*
 * The live entry of this connection made by this program, or NULL. A SYN
 * without ACK on a closing TCP entry is a new connection: NULL.
 */
static __always_inline struct wp_ct_value *wp_ct_lookup(const struct wp_tc_packet *p, __u8 direction, __u64 now)
{
	struct wp_ct_key key = {};
	struct wp_ct_value *ct;

	if (p->track != WP_TRACK_FLOW && p->track != WP_TRACK_ECHO_REQUEST)
		return 0;
	wp_ct_key_of(p, direction, 0, &key);
	ct = bpf_map_lookup_elem(&wp_conntrack, &key);
	if (!ct || ct->expires_ns <= now)
		return 0;
	if ((ct->flags & WP_CT_F_CLOSING) && (p->tcp_flags & (WP_TCP_SYN | WP_TCP_ACK)) == WP_TCP_SYN)
		return 0;
	return ct;
}

/* Records a new allowed connection (replacing a dead entry of the same
 * tuple). Returns 1 when it made an entry, 0 for untracked packets. */
static __always_inline int wp_ct_create(const struct wp_tc_packet *p, __u8 direction, __u32 peer, __u64 now)
{
	struct wp_ct_key key = {};
	struct wp_ct_value ct = {
		.peer_identity = peer,
	};

	if (p->track != WP_TRACK_FLOW && p->track != WP_TRACK_ECHO_REQUEST)
		return 0;
	wp_ct_key_of(p, direction, 0, &key);
	wp_ct_refresh(&ct, p->pkt.flow.protocol, p->tcp_flags, 0, now);
	ct.expires_ns = now + wp_ct_lifetime(&ct, p->pkt.flow.protocol);
	bpf_map_update_elem(&wp_conntrack, &key, &ct, BPF_ANY);
	return 1;
}

#endif /* WASMPLANE_LIB_CONNTRACK_H */
