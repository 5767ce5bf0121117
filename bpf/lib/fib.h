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
 */
#ifndef WASMPLANE_LIB_FIB_H
#define WASMPLANE_LIB_FIB_H

#include "common.h"
#include "parse.h"

struct wp_next_hop {
	__u8	dmac[ETH_ALEN];
	__u8	smac[ETH_ALEN];
	__u32	ifindex;	/* egress device */
	__u32	redirect;	/* 1: XDP_REDIRECT to ifindex, 0: XDP_TX */
};

static __always_inline int wp_fib_next_hop(struct xdp_md *ctx, const struct wp_packet *pkt,
					   const struct wp_backend *be,
					   const struct wp_config *cfg, __u32 flow_label,
					   struct wp_next_hop *nh)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup params = {};
	struct ethhdr *eth = data;
	long rc;

	if ((void *)(eth + 1) > data_end)
		return WP_DROP_MALFORMED;

	params.ifindex = ctx->ingress_ifindex;
	params.l4_protocol = pkt->flow.family == WP_FAMILY_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	if (be->family == WP_FAMILY_IPV4) {
		params.family = AF_INET;
		params.tos = pkt->tos;
		params.tot_len = pkt->l3_len + WP_IPV4_HDR_LEN;
		params.ipv4_src = cfg->encap_src_v4;
		wp_memcpy(&params.ipv4_dst, be->addr, 4);
	} else {
		params.family = AF_INET6;
		params.flowinfo = bpf_htonl(((__u32)pkt->tos << 20) | (flow_label & 0xFFFFF));
		params.tot_len = pkt->l3_len + WP_IPV6_HDR_LEN;
		wp_memcpy(params.ipv6_src, cfg->encap_src_v6, 16);
		wp_memcpy(params.ipv6_dst, be->addr, 16);
	}

	rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		wp_memcpy(nh->dmac, params.dmac, ETH_ALEN);
		wp_memcpy(nh->smac, params.smac, ETH_ALEN);
		nh->ifindex = params.ifindex;
		nh->redirect = params.ifindex != ctx->ingress_ifindex;
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
