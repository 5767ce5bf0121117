/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Next hop of the encapsulated packet: bpf_fib_lookup() on the outer
 * header (source: the configured encapsulation source, destination: the
 * backend), as Cilium's XDP path does; a configured fallback MAC when the
 * kernel cannot answer, as Katran's single gateway MAC.
 *
 *   SUCCESS                         MACs from the FIB; XDP_TX when the egress
 *                                   device is the ingress one, else
 *                                   XDP_REDIRECT to it
 *   BLACKHOLE, UNREACHABLE,         WP_DROP_FIB_LOOKUP_FAILED: the routing
 *   PROHIBIT                        table says no
 *   FRAG_NEEDED                     WP_DROP_FRAG_NEEDED (outer packet > MTU)
 *   anything else (forwarding       fallback MAC as destination, the frame's
 *   disabled, no neighbour, ...)    own destination MAC as source, XDP_TX;
 *                                   WP_DROP_FIB_LOOKUP_FAILED without one
 *
 * A FIB and neighbour lookup costs 100-300 ns, more than everything else on
 * the fast path together, and its answer for a backend is the same for every
 * packet of every flow to it. SUCCESS answers are therefore kept per backend
 * and per CPU in wp_next_hops (abi.h) for wp_next_hop_cache_ns, with the
 * route's MTU, so that an oversized packet still gets FRAG_NEEDED. The MTU
 * comes from one more lookup when the entry is (re)filled: with tot_len
 * 0xFFFF the kernel stops after the route and reports its MTU in
 * mtu_result (bpf_fib_lookup(): "If lookup fails with
 * BPF_FIB_LKUP_RET_FRAG_NEEDED, then the MTU was exceeded and output
 * params->mtu_result contains the MTU").
 */
#ifndef WASMPLANE_LIB_FIB_H
#define WASMPLANE_LIB_FIB_H

#include "common.h"
#include "config.h"
#include "maps.h"
#include "parse.h"

struct wp_next_hop {
	__u8	dmac[ETH_ALEN];
	__u8	smac[ETH_ALEN];
	__u32	ifindex;	/* egress device */
	__u32	redirect;	/* 1: XDP_REDIRECT to ifindex, 0: XDP_TX */
};

/* Outer IP length of the encapsulated packet. */
static __always_inline __u32 wp_outer_len(const struct wp_packet *pkt, const struct wp_backend *be)
{
	return pkt->l3_len + (be->family == WP_FAMILY_IPV4 ? WP_IPV4_HDR_LEN : WP_IPV6_HDR_LEN);
}

static __always_inline int wp_same_addr16(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	wp_memcpy(&a0, a, 8);
	wp_memcpy(&a1, a + 8, 8);
	wp_memcpy(&b0, b, 8);
	wp_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* The cached next hop, if the entry answers this packet (see abi.h). */
static __always_inline int wp_next_hop_cached(const struct xdp_md *ctx, const struct wp_packet *pkt,
					      const struct wp_backend *be,
					      const struct wp_next_hop_entry *e, __u64 now,
					      struct wp_next_hop *nh)
{
	if (e->family != be->family || e->expires_ns <= now || e->tos != pkt->tos ||
	    e->ingress_ifindex != ctx->ingress_ifindex || !wp_same_addr16(e->backend_addr, be->addr))
		return WP_PASS;
	if (wp_outer_len(pkt, be) > e->mtu)
		return WP_DROP_FRAG_NEEDED;
	wp_memcpy(nh->dmac, e->dmac, ETH_ALEN);
	wp_memcpy(nh->smac, e->smac, ETH_ALEN);
	nh->ifindex = e->ifindex;
	nh->redirect = e->ifindex != ctx->ingress_ifindex;
	return WP_OK;
}

/* The FIB's question for the outer header towards the backend. */
static __always_inline void wp_fib_params(const struct xdp_md *ctx, const struct wp_packet *pkt,
					  const struct wp_backend *be, const struct wp_config *cfg,
					  __u32 flow_label, struct bpf_fib_lookup *params)
{
	params->ifindex = ctx->ingress_ifindex;
	params->l4_protocol = pkt->flow.family == WP_FAMILY_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	params->tot_len = wp_outer_len(pkt, be);
	if (be->family == WP_FAMILY_IPV4) {
		params->family = AF_INET;
		params->tos = pkt->tos;
		params->ipv4_src = cfg->encap_src_v4;
		wp_memcpy(&params->ipv4_dst, be->addr, 4);
	} else {
		params->family = AF_INET6;
		params->flowinfo = bpf_htonl(((__u32)pkt->tos << 20) | (flow_label & 0xFFFFF));
		wp_memcpy(params->ipv6_src, cfg->encap_src_v6, 16);
		wp_memcpy(params->ipv6_dst, be->addr, 16);
	}
}

/* Keeps a SUCCESS answer in *e, with the route's MTU from a second lookup
 * (see the top of this file). Left empty when the MTU cannot be learnt. */
static __always_inline void wp_next_hop_remember(struct xdp_md *ctx, const struct wp_packet *pkt,
						 const struct wp_backend *be,
						 const struct wp_config *cfg, __u32 flow_label,
						 const struct wp_next_hop *nh, __u64 now,
						 struct wp_next_hop_entry *e)
{
	struct bpf_fib_lookup probe = {};
	__u16 mtu;
	long rc;

	wp_fib_params(ctx, pkt, be, cfg, flow_label, &probe);
	probe.tot_len = 0xFFFF;
	rc = bpf_fib_lookup(ctx, &probe, sizeof(probe), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		mtu = probe.mtu_result;
	else if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		mtu = 0xFFFF;
	else
		return;
	wp_memcpy(e->backend_addr, be->addr, 16);
	wp_memcpy(e->dmac, nh->dmac, ETH_ALEN);
	wp_memcpy(e->smac, nh->smac, ETH_ALEN);
	e->ifindex = nh->ifindex;
	e->ingress_ifindex = ctx->ingress_ifindex;
	e->mtu = mtu;
	e->tos = pkt->tos;
	e->family = be->family;
	e->expires_ns = now + wp_next_hop_cache_ns;
}

static __always_inline int wp_fib_next_hop(struct xdp_md *ctx, const struct wp_packet *pkt,
					   const struct wp_backend *be, __u32 backend_id,
					   const struct wp_config *cfg, __u32 flow_label, __u64 now,
					   struct wp_next_hop *nh)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct wp_next_hop_entry *cached = NULL;
	struct bpf_fib_lookup params = {};
	struct ethhdr *eth = data;
	long rc;

	if ((void *)(eth + 1) > data_end)
		return WP_DROP_MALFORMED;

	if (wp_next_hop_cache_ns) {
		cached = bpf_map_lookup_elem(&wp_next_hops, &backend_id);
		if (cached) {
			int ret = wp_next_hop_cached(ctx, pkt, be, cached, now, nh);

			if (ret != WP_PASS)
				return ret;
		}
	}

	wp_fib_params(ctx, pkt, be, cfg, flow_label, &params);
	rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		wp_memcpy(nh->dmac, params.dmac, ETH_ALEN);
		wp_memcpy(nh->smac, params.smac, ETH_ALEN);
		nh->ifindex = params.ifindex;
		nh->redirect = params.ifindex != ctx->ingress_ifindex;
		if (cached)
			wp_next_hop_remember(ctx, pkt, be, cfg, flow_label, nh, now, cached);
		return WP_OK;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return WP_DROP_FIB_LOOKUP_FAILED;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return WP_DROP_FRAG_NEEDED;
	default:
		if (wp_is_zero6(cfg->fallback_mac))
			return WP_DROP_FIB_LOOKUP_FAILED;
		wp_memcpy(nh->dmac, cfg->fallback_mac, ETH_ALEN);
		wp_memcpy(nh->smac, eth->h_dest, ETH_ALEN);
		nh->ifindex = ctx->ingress_ifindex;
		nh->redirect = 0;
		return WP_OK;
	}
}

#endif /* WASMPLANE_LIB_FIB_H */
