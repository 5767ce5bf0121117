/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow hash that picks a Maglev slot: Cilium's __hash_from_tuple_v4/v6
 * (bpf/lib/hash.h) with the port order of Cilium 1.17+ (lb.h
 * lb4_select_backend_id_maglev after cilium/cilium#37353, "Fix hashing wrt
 * port swap on maglev"), so a client lands on the slot Cilium would choose
 * for the same tuple, seed and table.
 *
 * Words are the packet bytes read as host (little-endian) integers, which is
 * what Cilium hashes on x86-64 and arm64 (its HASH_WORD*_LE macros make the
 * same choice on big-endian hosts):
 *
 *   IPv4: jhash_3words(le32(saddr), le16(dport) << 16 | le16(sport),
 *                      protocol, seed_v4)
 *   IPv6: a,b,c = le32(saddr[0..3]), le32(saddr[4..7]), le32(saddr[8..11])
 *         mix(a,b,c)
 *         a += le32(saddr[12..15]); b += le16(dport) << 16 | le16(sport);
 *         c += protocol; mix(a,b,c)
 *         a += seed_v6; final(a,b,c) → c
 *
 * The destination address is left out on purpose (Cilium: the same client
 * reaches the same backend through any VIP of a service). Services with
 * session affinity hash with sport = 0 (cilium/cilium#37005), so every
 * connection of a client lands on one slot even without an affinity entry.
 *
 * TypeScript model: test/fixtures/bpf/flow-hash.ts.
 */
#ifndef WASMPLANE_LIB_HASH_H
#define WASMPLANE_LIB_HASH_H

#include "common.h"
#include "config.h"
#include "jhash.h"

static __always_inline __u32 wp_load_le32(const __u8 *p)
{
	__u32 w;

	wp_memcpy(&w, p, sizeof(w));
	return w;
}

static __always_inline __u32 wp_flow_hash(const struct wp_flow_key *flow, __be16 sport)
{
	__u32 ports = ((__u32)(__u16)flow->dport << 16) | (__u16)sport;
	__u32 a, b, c;

	if (flow->family == WP_FAMILY_IPV4)
		return wp_jhash_3words(wp_load_le32(flow->saddr), ports, flow->protocol,
				       wp_hash_seed_v4);

	a = wp_load_le32(flow->saddr);
	b = wp_load_le32(flow->saddr + 4);
	c = wp_load_le32(flow->saddr + 8);
	wp_jhash_mix(a, b, c);
	a += wp_load_le32(flow->saddr + 12);
	b += ports;
	c += flow->protocol;
	wp_jhash_mix(a, b, c);
	a += wp_hash_seed_v6;
	wp_jhash_final(a, b, c);
	return c;
}

#endif /* WASMPLANE_LIB_HASH_H */
