/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about a VIP's own packets, so path MTU discovery works through
 * the load balancer.
 *
 * Backends answer clients directly with the VIP as source (IP-in-IP, direct
 * server return). When such a reply is too big for a router on the way,
 * the router sends "fragmentation needed" (ICMPv4 type 3 code 4, RFC 1191)
 * or "packet too big" (ICMPv6 type 2, RFC 8201) to the VIP, quoting the
 * reply's headers. The error must reach the backend that owns the flow, so
 * its flow is the quoted one reversed (source and destination swapped, ports
 * swapped), exactly as Katran's parse_icmp()/parse_icmpv6() do: it then
 * hashes and looks up like the client's own packets.
 *
 * The quoted packet must come from the address the error is sent to (the
 * VIP); errors to a VIP that fail this or quote an unreadable header are
 * dropped as malformed. Errors quoting a protocol other than TCP, UDP and
 * SCTP, or a flow of no service, concern the stack's own traffic and are
 * passed, as is every other ICMP message (echo, other errors, neighbour
 * discovery), VIP or not.
 */
#ifndef WASMPLANE_LIB_ICMP_H
#define WASMPLANE_LIB_ICMP_H

#include "common.h"
#include "parse.h"

#define WP_ICMP_HDR_LEN			8	/* type, code, checksum, 4 bytes */
#define WP_ICMP_DEST_UNREACH		3
#define WP_ICMP_FRAG_NEEDED		4
#define WP_ICMPV6_PKT_TOOBIG		2

static __always_inline int wp_addr_equal16(const __u8 *a, const __u8 *b)
{
	__u64 x[2], y[2];

	wp_memcpy(x, a, sizeof(x));
	wp_memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/* The quoted flow, reversed into pkt->flow. Addresses are checked first. */
static __always_inline int wp_icmp_take_quoted(struct wp_packet *pkt, const __u8 *q_saddr,
					       const __u8 *q_daddr, __u8 q_proto,
					       __be16 q_sport, __be16 q_dport)
{
	if (!wp_addr_equal16(q_saddr, pkt->flow.daddr))
		return WP_DROP_MALFORMED;
	if (wp_l4_hdr_len(q_proto) == 0)
		return WP_PASS;		/* about the stack's own traffic (e.g. echo replies) */
	wp_memcpy(pkt->flow.saddr, q_daddr, 16);
	pkt->flow.sport = q_dport;
	pkt->flow.dport = q_sport;
	pkt->flow.protocol = q_proto;
	pkt->icmp_error = 1;
	return WP_OK;
}

static __always_inline int wp_icmp4_error_flow(void *data, void *data_end, struct wp_packet *pkt)
{
	__u32 off = pkt->l4_off, q_off, ports_off;
	__u8 q_saddr[16] = {}, q_daddr[16] = {};
	struct iphdr *q;
	__be16 *ports;
	__u8 *icmp;

	if (!wp_bound_off(off))
		return WP_DROP_MALFORMED;
	icmp = data + off;
	if ((void *)(icmp + WP_ICMP_HDR_LEN) > data_end)
		return WP_DROP_MALFORMED;
	if (icmp[0] != WP_ICMP_DEST_UNREACH || icmp[1] != WP_ICMP_FRAG_NEEDED)
		return WP_PASS;

	q_off = off + WP_ICMP_HDR_LEN;
	q = data + q_off;
	if ((void *)(q + 1) > data_end || q_off + WP_IPV4_HDR_LEN > pkt->l3_end)
		return WP_DROP_MALFORMED;
	if (q->version != 4 || q->ihl < 5)
		return WP_DROP_MALFORMED;
	/* RFC 792: the quote holds the IP header and 8 bytes of its payload;
	 * the ports are its first 4. */
	ports_off = q_off + (__u32)q->ihl * 4;
	ports = data + ports_off;
	if ((void *)(ports + 2) > data_end || ports_off + 4 > pkt->l3_end)
		return WP_DROP_MALFORMED;

	wp_memcpy(q_saddr, &q->saddr, 4);
	wp_memcpy(q_daddr, &q->daddr, 4);
	return wp_icmp_take_quoted(pkt, q_saddr, q_daddr, q->protocol, ports[0], ports[1]);
}

static __always_inline int wp_icmp6_error_flow(void *data, void *data_end, struct wp_packet *pkt)
{
	__u32 off = pkt->l4_off, q_off;
	__u8 q_frag = WP_FRAG_NONE, q_proto;
	__u32 q_frag_id = 0;
	struct ipv6hdr *q;
	__be16 *ports;
	__u8 *icmp;
	int ret;

	if (!wp_bound_off(off))
		return WP_DROP_MALFORMED;
	icmp = data + off;
	if ((void *)(icmp + WP_ICMP_HDR_LEN) > data_end)
		return WP_DROP_MALFORMED;
	if (icmp[0] != WP_ICMPV6_PKT_TOOBIG)
		return WP_PASS;

	q = (void *)(icmp + WP_ICMP_HDR_LEN);
	if ((void *)(q + 1) > data_end || off + WP_ICMP_HDR_LEN + WP_IPV6_HDR_LEN > pkt->l3_end)
		return WP_DROP_MALFORMED;
	if (q->version != 6)
		return WP_DROP_MALFORMED;

	/* The quoted packet is cut where the error ended: bound it by l3_end. */
	q_off = off + WP_ICMP_HDR_LEN + WP_IPV6_HDR_LEN;
	q_proto = q->nexthdr;
	ret = wp_ipv6_skip_ext(data, data_end, pkt->l3_end, &q_off, &q_proto, &q_frag, &q_frag_id);
	if (ret != WP_OK)
		return ret == WP_DROP_EXT_HDR_LIMIT ? ret : WP_DROP_MALFORMED;
	if (q_frag == WP_FRAG_LATER)
		return WP_DROP_MALFORMED;	/* no ports in the quote */
	if (!wp_bound_off(q_off))
		return WP_DROP_MALFORMED;
	ports = data + q_off;
	if ((void *)(ports + 2) > data_end || q_off + 4 > pkt->l3_end)
		return WP_DROP_MALFORMED;

	return wp_icmp_take_quoted(pkt, (__u8 *)&q->saddr, (__u8 *)&q->daddr, q_proto,
				   ports[0], ports[1]);
}

/*
 * For an ICMP packet parsed by wp_parse_packet(): WP_OK with pkt->flow set
 * to the flow the error is about, WP_PASS for ICMP that is not such an
 * error, or a drop reason (the caller drops only when the VIP is ours).
 */
static __always_inline int wp_icmp_error_flow(struct xdp_md *ctx, struct wp_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (pkt->frag != WP_FRAG_NONE)
		return WP_PASS;
	if (pkt->ip_protocol == IPPROTO_ICMP && pkt->flow.family == WP_FAMILY_IPV4)
		return wp_icmp4_error_flow(data, data_end, pkt);
	if (pkt->ip_protocol == WP_IPPROTO_ICMPV6 && pkt->flow.family == WP_FAMILY_IPV6)
		return wp_icmp6_error_flow(data, data_end, pkt);
	return WP_PASS;
}

#endif /* WASMPLANE_LIB_ICMP_H */
