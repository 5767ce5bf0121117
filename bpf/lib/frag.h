/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fragment tracking: later fragments of a datagram carry no L4 header, so
 * the first fragment's ports are kept in wp_fragments under (saddr, daddr,
 * IP ID, protocol) and lent to the later ones, which then hash and look up
 * like the first (the approach of Cilium's ipv4_handle_fragmentation()).
 *
 * Limits: a later fragment that arrives before its first fragment is
 * dropped (WP_DROP_FRAGMENT_UNKNOWN) when addressed to a VIP; entries are
 * only evicted by the LRU, so an ID reused by the same pair of hosts with a
 * different port pair before eviction is overwritten by its first fragment.
 */
#ifndef WASMPLANE_LIB_FRAG_H
#define WASMPLANE_LIB_FRAG_H

#include "common.h"
#include "maps.h"
#include "parse.h"

static __always_inline void wp_frag_key_of(const struct wp_packet *pkt, struct wp_frag_key *key)
{
	wp_memcpy(key->saddr, pkt->flow.saddr, 16);
	wp_memcpy(key->daddr, pkt->flow.daddr, 16);
	key->id = pkt->frag_id;
	key->protocol = pkt->flow.protocol;
	key->family = pkt->flow.family;
}

/* Later fragment: take the ports of its first fragment, if it was seen. */
static __always_inline int wp_frag_restore_ports(struct wp_packet *pkt)
{
	struct wp_frag_key key = {};
	struct wp_frag_value *ports;

	wp_frag_key_of(pkt, &key);
	ports = bpf_map_lookup_elem(&wp_fragments, &key);
	if (!ports)
		return WP_DROP_FRAGMENT_UNKNOWN;
	pkt->flow.sport = ports->sport;
	pkt->flow.dport = ports->dport;
	return WP_OK;
}

/* First fragment of a datagram to a service: remember its ports. */
static __always_inline void wp_frag_record(const struct wp_packet *pkt)
{
	struct wp_frag_key key = {};
	struct wp_frag_value ports = {
		.sport = pkt->flow.sport,
		.dport = pkt->flow.dport,
	};

	wp_frag_key_of(pkt, &key);
	bpf_map_update_elem(&wp_fragments, &key, &ports, BPF_ANY);
}

#endif /* WASMPLANE_LIB_FRAG_H */
