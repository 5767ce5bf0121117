/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service lookup and backend selection.
 *
 * Order for a packet of a service (after Cilium's lb4_local()/lb6_local(),
 * with an LRU in place of conntrack, as Katran does):
 *   1. Flow LRU: an established flow keeps its backend while that backend
 *      is still in wp_backends (draining or not) and the entry belongs to
 *      the same service; UDP entries also expire after the
 *      wp_udp_flow_timeout_ns knob. Otherwise the flow is balanced again.
 *   2. backend_count == 0: no backend for new flows (WP_DROP_NO_BACKEND).
 *   3. Session affinity (WP_SVC_F_SESSION_AFFINITY, Kubernetes
 *      sessionAffinity: ClientIP): the client's last backend, while
 *      now < last_used + timeout and the backend exists and is not draining.
 *   4. The service's algorithm: Maglev, table[hash % M] (hash.h) in the
 *      service's active table buffer; random, slot prandom % backend_count.
 *   5. Remember the choice in the flow LRU; refresh the affinity entry.
 * ICMP errors (icmp.h) select read-only: they follow the flow's backend
 * but create and refresh nothing.
 */
#ifndef WASMPLANE_LIB_LB_H
#define WASMPLANE_LIB_LB_H

#include "common.h"
#include "config.h"
#include "hash.h"
#include "maps.h"
#include "parse.h"

#define WP_NSEC_PER_SEC		1000000000ULL

struct wp_selection {
	__u32				backend_id;
	const struct wp_backend		*backend;
	__u64				now;	/* wp_now() of this packet */
};

/* The datapath's clock: coarse CLOCK_MONOTONIC (advances once per tick).
 * Timestamps in the flow and affinity LRUs and next-hop expiries are
 * seconds-scale, and the coarse clock reads a cached value instead of the
 * clock source (on this path the precise bpf_ktime_get_ns() cost as much
 * as two map lookups). */
static __always_inline __u64 wp_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* The flow's hash: Maglev slot and outer IPv6 flow label. Affinity
 * services hash without the source port (Cilium #37005), so that every
 * connection of a client lands on one slot. Computed only where needed: an
 * established flow to an IPv4 backend never hashes. */
static __always_inline __u32 wp_selection_hash(const struct wp_packet *pkt,
					       const struct wp_service_value *svc)
{
	return wp_flow_hash(&pkt->flow, (svc->flags & WP_SVC_F_SESSION_AFFINITY) ? 0 : pkt->flow.sport);
}

/* The backend with this ID, or NULL: wp_backends is an array, where an
 * entry of family 0 is "no backend" (and IDs past the end have none). */
static __always_inline const struct wp_backend *wp_backend_of(__u32 backend_id)
{
	const struct wp_backend *be = bpf_map_lookup_elem(&wp_backends, &backend_id);

	return be && be->family ? be : NULL;
}

/* Is the packet's destination a registered VIP? */
static __always_inline int wp_is_vip(const struct wp_flow_key *flow)
{
	struct wp_vip_key key = {};

	wp_memcpy(key.vip, flow->daddr, 16);
	key.family = flow->family;
	return bpf_map_lookup_elem(&wp_vips, &key) != NULL;
}

/* A problem found in a packet is ours to drop only if it is addressed to a
 * VIP; anything else goes to the stack untouched. */
static __always_inline int wp_reason_if_vip(const struct wp_packet *pkt, int reason)
{
	if (!pkt->l3_ok)
		return reason;
	return wp_is_vip(&pkt->flow) ? reason : WP_PASS;
}

/* VIP:port/protocol → service, copied into *svc; a miss on a VIP is
 * WP_DROP_NO_SERVICE (ICMP errors that match no service are passed).
 *
 * Why a copy: the control plane replaces a service value with one update
 * (that is how it flips table_slot), and a preallocated hash map recycles
 * the replaced element for the next update right away. Reading the value
 * once, at the start, keeps service_id, backend_count and table_slot of one
 * version together instead of reading each through a pointer later. */
static __always_inline int wp_lookup_service(const struct wp_packet *pkt,
					     struct wp_service_value *svc)
{
	struct wp_service_key key = {};
	const struct wp_service_value *found;

	wp_memcpy(key.vip, pkt->flow.daddr, 16);
	key.port = pkt->flow.dport;
	key.protocol = pkt->flow.protocol;
	key.family = pkt->flow.family;
	found = bpf_map_lookup_elem(&wp_services, &key);
	if (found) {
		wp_memcpy(svc, found, sizeof(*svc));
		return WP_OK;
	}
	if (pkt->icmp_error)
		return WP_PASS;	/* an error about the stack's own traffic */
	return wp_reason_if_vip(pkt, WP_DROP_NO_SERVICE);
}

/* hash % M as an index the verifier can bound, or WASMPLANE_MAGLEV_M when
 * it cannot be one. The compiler knows a remainder is below M and would
 * drop a plain range check, and the verifier derives no range from BPF_MOD
 * ("R0 unbounded memory access, make sure to bounds check any such
 * access"): the empty asm hides the value from the compiler so the check
 * stays. 64 bits, so that no 32-bit zero extension copies the register
 * between the check and the access (the verifier would bound the copy). */
static __always_inline __u64 wp_maglev_index(__u32 hash)
{
	__u64 index = hash % WASMPLANE_MAGLEV_M;

	asm volatile("" : "+r"(index));
	return index < WASMPLANE_MAGLEV_M ? index : WASMPLANE_MAGLEV_M;
}

/* The backend in the active buffer of the service's table (abi.h,
 * wp_maglev_outer): whole tables are written only into the buffer that
 * table_slot does not name, so a packet always reads a complete table. */
static __always_inline __u32 wp_maglev_pick(const struct wp_service_value *svc, __u32 hash)
{
	__u32 service_id = svc->service_id;
	__u32 buffer = svc->table_slot;
	const struct wp_maglev_table *table;
	void *buffers;
	__u64 index;

	buffers = bpf_map_lookup_elem(&wp_maglev_outer, &service_id);
	if (!buffers)
		return WP_BACKEND_ID_NONE;
	table = bpf_map_lookup_elem(buffers, &buffer);
	index = wp_maglev_index(hash);
	if (!table || index >= WASMPLANE_MAGLEV_M)
		return WP_BACKEND_ID_NONE;
	return table->backend_ids[index];
}

static __always_inline __u32 wp_random_pick(const struct wp_service_value *svc)
{
	struct wp_random_slot_key key = {
		.service_id = svc->service_id,
		.slot = bpf_get_prandom_u32() % svc->backend_count,
	};
	__u32 *backend_id = bpf_map_lookup_elem(&wp_random_slots, &key);

	return backend_id ? *backend_id : WP_BACKEND_ID_NONE;
}

static __always_inline void wp_affinity_key_of(const struct wp_packet *pkt,
					       const struct wp_service_value *svc,
					       struct wp_affinity_key *key)
{
	key->service_id = svc->service_id;
	key->family = pkt->flow.family;
	wp_memcpy(key->client, pkt->flow.saddr, 16);
}

/* The client's sticky backend, or WP_BACKEND_ID_NONE; expired entries are deleted. */
static __always_inline __u32 wp_affinity_pick(const struct wp_packet *pkt,
					      const struct wp_service_value *svc, __u64 now)
{
	struct wp_affinity_key key = {};
	struct wp_affinity_value *val;
	const struct wp_backend *be;
	__u32 backend_id;

	wp_affinity_key_of(pkt, svc, &key);
	val = bpf_map_lookup_elem(&wp_affinity, &key);
	if (!val)
		return WP_BACKEND_ID_NONE;
	if (val->last_used_ns + svc->affinity_timeout_sec * WP_NSEC_PER_SEC <= now) {
		bpf_map_delete_elem(&wp_affinity, &key);
		return WP_BACKEND_ID_NONE;
	}
	backend_id = val->backend_id;
	be = wp_backend_of(backend_id);
	if (!be || (be->flags & WP_BACKEND_F_DRAINING))
		return WP_BACKEND_ID_NONE;
	return backend_id;
}

static __always_inline void wp_affinity_touch(const struct wp_packet *pkt,
					      const struct wp_service_value *svc,
					      __u32 backend_id, __u64 now)
{
	struct wp_affinity_key key = {};
	struct wp_affinity_value *val, fresh = {
		.backend_id = backend_id,
		.last_used_ns = now,
	};

	wp_affinity_key_of(pkt, svc, &key);
	val = bpf_map_lookup_elem(&wp_affinity, &key);
	if (val && val->backend_id == backend_id) {
		if (val->last_used_ns != now)
			val->last_used_ns = now;
		return;
	}
	bpf_map_update_elem(&wp_affinity, &key, &fresh, BPF_ANY);
}

/* The flow's remembered backend, if still valid; else WP_BACKEND_ID_NONE. */
static __always_inline __u32 wp_flow_pick(const struct wp_packet *pkt,
					  const struct wp_service_value *svc, __u64 now,
					  const struct wp_backend **be)
{
	struct wp_flow_value *fv = bpf_map_lookup_elem(&wp_flows, &pkt->flow);
	__u32 backend_id;

	if (!fv || fv->service_id != svc->service_id)
		return WP_BACKEND_ID_NONE;
	if (pkt->flow.protocol == IPPROTO_UDP && wp_udp_flow_timeout_ns &&
	    fv->last_seen_ns + wp_udp_flow_timeout_ns <= now)
		return WP_BACKEND_ID_NONE;
	backend_id = fv->backend_id;
	*be = wp_backend_of(backend_id);
	if (!*be)
		return WP_BACKEND_ID_NONE;
	/* Written only when the coarse clock moved: most packets of a busy flow
	 * then leave the entry's cache line clean. */
	if (!pkt->icmp_error && fv->last_seen_ns != now)
		fv->last_seen_ns = now;
	return backend_id;
}

static __always_inline int wp_select_backend(const struct wp_packet *pkt,
					     const struct wp_service_value *svc,
					     struct wp_selection *sel)
{
	int affinity = svc->flags & WP_SVC_F_SESSION_AFFINITY;
	__u64 now = wp_now();
	const struct wp_backend *be = NULL;
	__u32 backend_id;

	sel->now = now;
	backend_id = wp_flow_pick(pkt, svc, now, &be);
	if (backend_id != WP_BACKEND_ID_NONE && be)
		goto found;

	if (svc->backend_count == 0)
		return WP_DROP_NO_BACKEND;
	backend_id = WP_BACKEND_ID_NONE;
	if (affinity)
		backend_id = wp_affinity_pick(pkt, svc, now);
	if (backend_id == WP_BACKEND_ID_NONE) {
		if (svc->algorithm == WP_ALG_MAGLEV)
			backend_id = wp_maglev_pick(svc, wp_selection_hash(pkt, svc));
		else if (svc->algorithm == WP_ALG_RANDOM)
			backend_id = wp_random_pick(svc);
		else
			return WP_DROP_UNKNOWN_ALGORITHM;
	}
	if (backend_id == WP_BACKEND_ID_NONE)
		return WP_DROP_NO_BACKEND;
	be = wp_backend_of(backend_id);
	if (!be)
		return WP_DROP_NO_BACKEND;

	if (!pkt->icmp_error) {
		struct wp_flow_value fv = {
			.backend_id = backend_id,
			.service_id = svc->service_id,
			.last_seen_ns = now,
		};

		bpf_map_update_elem(&wp_flows, &pkt->flow, &fv, BPF_ANY);
	}
found:
	if (affinity && !pkt->icmp_error)
		wp_affinity_touch(pkt, svc, backend_id, now);
	sel->backend_id = backend_id;
	sel->backend = be;
	return WP_OK;
}

#endif /* WASMPLANE_LIB_LB_H */
