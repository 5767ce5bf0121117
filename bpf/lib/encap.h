/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP-in-IP encapsulation towards the backend (Katran's encap_v4/encap_v6 in
 * pckt_encap.h, RFC 2003 and RFC 2473): the frame grows at the front by one
 * outer header with bpf_xdp_adjust_head(); the inner IP packet is left
 * byte for byte as received.
 *
 *  before:  | eth | inner IP ...                 |
 *  after:   | eth | outer IPv4/IPv6 | inner IP ... |
 *
 * Outer header by backend family; its protocol by inner family:
 *   IPv4 outer: protocol 4 (IPv4 inner, IPIP) or 41 (IPv6 inner); TOS
 *     copied from the inner header; total length = inner length + 20; ID 0;
 *     DF copied from an IPv4 inner header, set for an IPv6 one (RFC 2003
 *     3.1); TTL wp_encap_ttl; header checksum computed.
 *   IPv6 outer: next header 4 or 41; traffic class copied; flow label =
 *     low 20 bits of the flow hash (entropy for ECMP and RSS on the way to
 *     the backend, RFC 6438); payload length = inner length; hop limit
 *     wp_encap_ttl.
 * Source: wp_config.encap_src_v4 / encap_src_v6; destination: the backend.
 */
#ifndef WASMPLANE_LIB_ENCAP_H
#define WASMPLANE_LIB_ENCAP_H

#include "common.h"
#include "config.h"
#include "csum.h"
#include "fib.h"
#include "maps.h"
#include "parse.h"

static __always_inline const struct wp_config *wp_get_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&wp_config, &zero);
}

/* Checks made before the frame is touched. */
static __always_inline int wp_encap_check(const struct wp_packet *pkt, const struct wp_backend *be,
					  const struct wp_config *cfg)
{
	if (be->family == WP_FAMILY_IPV4) {
		if (cfg->encap_src_v4 == 0)
			return WP_DROP_ENCAP_FAILED;
		if ((__u32)pkt->l3_len + WP_IPV4_HDR_LEN > 0xFFFF)
			return WP_DROP_ENCAP_FAILED;
		return WP_OK;
	}
	if (be->family == WP_FAMILY_IPV6 && !wp_is_zero16(cfg->encap_src_v6))
		return WP_OK;
	return WP_DROP_ENCAP_FAILED;
}

static __always_inline void wp_fill_outer_v4(struct iphdr *outer, const struct wp_packet *pkt,
					     const struct wp_backend *be, const struct wp_config *cfg,
					     __u8 inner_proto)
{
	struct iphdr h = {};

	h.version = 4;
	h.ihl = WP_IPV4_HDR_LEN / 4;
	h.tos = pkt->tos;
	h.tot_len = bpf_htons(pkt->l3_len + WP_IPV4_HDR_LEN);
	h.id = 0;
	h.frag_off = pkt->df ? bpf_htons(WP_IP_DF) : 0;
	h.ttl = wp_encap_ttl;
	h.protocol = inner_proto;
	h.saddr = cfg->encap_src_v4;
	wp_memcpy(&h.daddr, be->addr, 4);
	h.check = wp_ipv4_hdr_csum(&h);
	wp_memcpy(outer, &h, sizeof(h));
}

static __always_inline void wp_fill_outer_v6(struct ipv6hdr *outer, const struct wp_packet *pkt,
					     const struct wp_backend *be, const struct wp_config *cfg,
					     __u8 inner_proto, __u32 flow_label)
{
	__be32 first = bpf_htonl((6u << 28) | ((__u32)pkt->tos << 20) | (flow_label & 0xFFFFF));

	wp_memcpy(outer, &first, sizeof(first));
	outer->payload_len = bpf_htons(pkt->l3_len);
	outer->nexthdr = inner_proto;
	outer->hop_limit = wp_encap_ttl;
	wp_memcpy(&outer->saddr, cfg->encap_src_v6, 16);
	wp_memcpy(&outer->daddr, be->addr, 16);
}

static __always_inline int wp_encap(struct xdp_md *ctx, const struct wp_packet *pkt,
				    const struct wp_backend *be, const struct wp_config *cfg,
				    const struct wp_next_hop *nh, __u32 flow_label)
{
	__u8 inner_proto = pkt->flow.family == WP_FAMILY_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	int outer_len = be->family == WP_FAMILY_IPV4 ? WP_IPV4_HDR_LEN : WP_IPV6_HDR_LEN;
	void *data, *data_end;
	struct ethhdr *eth;

	if (bpf_xdp_adjust_head(ctx, -outer_len))
		return WP_DROP_ENCAP_FAILED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return WP_DROP_ENCAP_FAILED;
	wp_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	wp_memcpy(eth->h_source, nh->smac, ETH_ALEN);

	if (be->family == WP_FAMILY_IPV4) {
		struct iphdr *outer = (void *)(eth + 1);

		if ((void *)(outer + 1) > data_end)
			return WP_DROP_ENCAP_FAILED;
		eth->h_proto = bpf_htons(ETH_P_IP);
		wp_fill_outer_v4(outer, pkt, be, cfg, inner_proto);
	} else {
		struct ipv6hdr *outer = (void *)(eth + 1);

		if ((void *)(outer + 1) > data_end)
			return WP_DROP_ENCAP_FAILED;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		wp_fill_outer_v6(outer, pkt, be, cfg, inner_proto, flow_label);
	}
	return WP_OK;
}

#endif /* WASMPLANE_LIB_ENCAP_H */
