/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing: Ethernet, IPv4 (with options), IPv6 (bounded extension
 * header walk), the ports of TCP, UDP and SCTP, and fragment detection.
 *
 * Every header step checks its bounds against data_end before reading.
 * Offsets kept in struct wp_packet are re-bounded by wp_bound_off() after
 * they come back from the stack (see its comment).
 *
 * Decisions:
 *   - Frames that are not IPv4 or IPv6 at offset 14 (ARP, LLDP, and
 *     802.1Q/802.1ad tagged frames) are passed untouched: like Cilium's and
 *     Katran's XDP programs, this load balancer serves untagged traffic only.
 *   - A frame whose IP addresses cannot be read (truncated Ethernet or IP
 *     header, wrong version, IHL < 5) is dropped as malformed: it cannot be
 *     proven not to be for a VIP. Every later problem (length fields larger
 *     than the frame, truncated L4 header, unsupported protocol, too many
 *     extension headers) is reported with pkt->l3_ok set, and the caller
 *     drops it only when the destination is a VIP; other traffic is left
 *     to the kernel, which has its own checks and counters.
 *   - Fragments: the first fragment carries the ports and is balanced like
 *     any packet (its ports are remembered in wp_fragments, lib/frag.h);
 *     later fragments carry none, so they take the first fragment's ports
 *     from wp_fragments and reach the same backend. Cilium does the same
 *     with ENABLE_IPV4_FRAGMENTS; hashing without ports would send the
 *     fragments of one datagram to a slot no other packet of the flow uses.
 *   - Lengths come from the IP header (IPv4 total length, 40 + IPv6
 *     payload length), not from the frame, so Ethernet padding never ends
 *     up inside the encapsulated packet's declared length.
 */
#ifndef WASMPLANE_LIB_PARSE_H
#define WASMPLANE_LIB_PARSE_H

#include "common.h"

/* Extension headers walked before giving up (Cilium's IPV6_MAX_HEADERS). */
#ifndef WASMPLANE_MAX_IPV6_EXT_HDRS
#define WASMPLANE_MAX_IPV6_EXT_HDRS	4
#endif

/* Largest offset of an L4 header from the start of the frame. IPv4 needs at
 * most 14 + 60; for IPv6 this caps the extension header chain. */
#define WP_MAX_L4_OFF		1024

#define WP_FRAG_NONE		0	/* not a fragment (or an atomic IPv6 fragment) */
#define WP_FRAG_FIRST		1	/* offset 0, more fragments follow: has the ports */
#define WP_FRAG_LATER		2	/* offset > 0: no L4 header */

/* IPv4 frag_off bits, host order after bpf_ntohs(). */
#define WP_IP_DF		0x4000
#define WP_IP_MF		0x2000
#define WP_IP_OFFSET		0x1FFF

/* Fixed L4 header sizes: the whole header must be present. */
#define WP_TCP_HDR_LEN		20
#define WP_UDP_HDR_LEN		8
#define WP_SCTP_HDR_LEN		12	/* common header: ports, verification tag, CRC32c */

struct wp_packet {
	/* The flow in the client → VIP direction. For an ICMP error (icmp.h)
	 * it is the quoted flow reversed; protocol is then the quoted one. */
	struct wp_flow_key flow;
	__u32	frag_id;	/* IPv4 ID or IPv6 fragment ID, when frag != NONE */
	/* Offsets and lengths fit 16 bits: each is checked against data_end,
	 * and an XDP frame without frags is one buffer smaller than 64 KiB. */
	__u16	l4_off;		/* offset of the L4 header in the frame */
	__u16	l3_end;		/* offset of the end of the IP packet (its length fields) */
	__u16	l3_len;		/* bytes of the IP packet: what encapsulation wraps */
	__u8	ip_protocol;	/* L4 protocol of the received packet itself */
	__u8	tos;		/* IPv4 TOS or IPv6 traffic class */
	__u8	frag;		/* WP_FRAG_* */
	__u8	df;		/* IPv4 Don't Fragment (IPv6: 1, never fragmented en route) */
	__u8	l3_ok;		/* addresses were read: drop only traffic to a VIP */
	__u8	icmp_error;	/* flow comes from an ICMP error's quoted header */
};

/*
 * Verifier workaround: offsets kept in struct wp_packet live on the stack;
 * after a narrow (16-bit) spill/fill the verifier may not know their upper
 * bound and rejects "data + off" with "R? unbounded memory access" or
 * "math between pkt pointer and register with unbounded min value".
 * Re-checking against a named constant restores the bound.
 */
static __always_inline int wp_bound_off(__u32 off)
{
	return off <= WP_MAX_L4_OFF;
}

/* Reads the two ports (the first 4 bytes of TCP, UDP and SCTP) at `off`. */
static __always_inline int wp_read_ports(void *data, void *data_end, __u32 off, __u32 hdr_len,
					 __be16 *sport, __be16 *dport)
{
	__be16 *ports;

	if (!wp_bound_off(off))
		return WP_DROP_MALFORMED;
	ports = data + off;
	if ((void *)(ports + 2) > data_end)
		return WP_DROP_MALFORMED;
	if (data + off + hdr_len > data_end)
		return WP_DROP_MALFORMED;
	*sport = ports[0];
	*dport = ports[1];
	return WP_OK;
}

static __always_inline __u32 wp_l4_hdr_len(__u8 protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return WP_TCP_HDR_LEN;
	case IPPROTO_UDP:
		return WP_UDP_HDR_LEN;
	case IPPROTO_SCTP:
		return WP_SCTP_HDR_LEN;
	default:
		return 0;
	}
}

/*
 * Walks IPv6 extension headers from *off (the byte after the fixed header)
 * up to `end`, at most WASMPLANE_MAX_IPV6_EXT_HDRS of them. On return
 * *nexthdr is the upper-layer protocol and *off its offset. A fragment
 * header sets *frag (WP_FRAG_*) and *frag_id; the walk stops after the
 * fragment header of a later fragment (no more headers follow it).
 */
static __always_inline int wp_ipv6_skip_ext(void *data, void *data_end, __u32 end, __u32 *off,
					    __u8 *nexthdr, __u8 *frag, __u32 *frag_id)
{
	__u32 cur = *off;
	__u8 next = *nexthdr;
	int i;

#pragma unroll
	for (i = 0; i < WASMPLANE_MAX_IPV6_EXT_HDRS; i++) {
		__u8 *hdr;
		__u32 len;

		switch (next) {
		case WP_IPPROTO_HOPOPTS:
		case WP_IPPROTO_ROUTING:
		case WP_IPPROTO_DSTOPTS:
		case WP_IPPROTO_AH:
		case WP_IPPROTO_FRAGMENT:
			break;
		default:
			goto done;
		}
		if (!wp_bound_off(cur))
			return WP_DROP_EXT_HDR_LIMIT;
		hdr = data + cur;
		/* Every extension header is at least 8 bytes. */
		if ((void *)(hdr + 8) > data_end || cur + 8 > end)
			return WP_DROP_MALFORMED;
		if (next == WP_IPPROTO_FRAGMENT) {
			__u16 frag_off = bpf_ntohs(*(__be16 *)(hdr + 2));
			__be32 id;

			wp_memcpy(&id, hdr + 4, sizeof(id));
			*frag_id = bpf_ntohl(id);
			if (frag_off & 0xFFF8)
				*frag = WP_FRAG_LATER;
			else if (frag_off & 0x0001)
				*frag = WP_FRAG_FIRST;
			len = 8;
		} else if (next == WP_IPPROTO_AH) {
			len = ((__u32)hdr[1] + 2) * 4;	/* RFC 4302: 4-octet units minus 2 */
		} else {
			len = ((__u32)hdr[1] + 1) * 8;	/* RFC 8200: 8-octet units minus 1 */
		}
		next = hdr[0];
		cur += len;
		if (cur > end)
			return WP_DROP_MALFORMED;
		if (*frag == WP_FRAG_LATER)
			goto done;
	}
	switch (next) {
	case WP_IPPROTO_HOPOPTS:
	case WP_IPPROTO_ROUTING:
	case WP_IPPROTO_DSTOPTS:
	case WP_IPPROTO_AH:
	case WP_IPPROTO_FRAGMENT:
		if (*frag != WP_FRAG_LATER)
			return WP_DROP_EXT_HDR_LIMIT;
	}
done:
	*off = cur;
	*nexthdr = next;
	return WP_OK;
}

/* Fills the ports of a TCP, UDP or SCTP flow (not for later fragments). */
static __always_inline int wp_parse_l4(void *data, void *data_end, struct wp_packet *pkt)
{
	__u32 hdr_len = wp_l4_hdr_len(pkt->ip_protocol);

	if (hdr_len == 0)
		return WP_DROP_UNSUPPORTED_PROTOCOL;
	if ((__u32)pkt->l4_off + hdr_len > pkt->l3_end)
		return WP_DROP_MALFORMED;
	return wp_read_ports(data, data_end, pkt->l4_off, hdr_len, &pkt->flow.sport, &pkt->flow.dport);
}

/*
 * The IP parsers check length fields against `limit`, the packet's length
 * from the Ethernet header on: data_end - data for an XDP frame (always
 * linear), skb->len for a socket buffer, whose payload may sit in page
 * fragments beyond data_end (only the headers must be linear). Header
 * reads are bounded by data_end in both cases.
 */
static __always_inline int wp_parse_ipv4(void *data, void *data_end, __u32 limit, struct wp_packet *pkt)
{
	struct iphdr *ip = data + ETH_HLEN;
	__u32 hdr_len, tot_len;
	__u16 frag_off;

	if ((void *)(ip + 1) > data_end)
		return WP_DROP_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return WP_DROP_MALFORMED;

	pkt->flow.family = WP_FAMILY_IPV4;
	wp_memcpy(pkt->flow.saddr, &ip->saddr, 4);
	wp_memcpy(pkt->flow.daddr, &ip->daddr, 4);
	pkt->l3_ok = 1;

	hdr_len = (__u32)ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < hdr_len || ETH_HLEN + tot_len > limit)
		return WP_DROP_MALFORMED;

	pkt->ip_protocol = ip->protocol;
	pkt->flow.protocol = ip->protocol;
	pkt->tos = ip->tos;
	pkt->l3_len = tot_len;
	pkt->l3_end = ETH_HLEN + tot_len;
	pkt->l4_off = ETH_HLEN + hdr_len;

	frag_off = bpf_ntohs(ip->frag_off);
	pkt->df = !!(frag_off & WP_IP_DF);
	if (frag_off & (WP_IP_MF | WP_IP_OFFSET)) {
		pkt->frag = (frag_off & WP_IP_OFFSET) ? WP_FRAG_LATER : WP_FRAG_FIRST;
		pkt->frag_id = bpf_ntohs(ip->id);
	}
	return WP_OK;
}

static __always_inline int wp_parse_ipv6(void *data, void *data_end, __u32 limit, struct wp_packet *pkt)
{
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	__u32 off = ETH_HLEN + WP_IPV6_HDR_LEN, end;
	__u8 nexthdr;
	int ret;

	if ((void *)(ip6 + 1) > data_end)
		return WP_DROP_MALFORMED;
	if (ip6->version != 6)
		return WP_DROP_MALFORMED;

	pkt->flow.family = WP_FAMILY_IPV6;
	wp_memcpy(pkt->flow.saddr, &ip6->saddr, 16);
	wp_memcpy(pkt->flow.daddr, &ip6->daddr, 16);
	pkt->l3_ok = 1;

	end = off + bpf_ntohs(ip6->payload_len);
	if (end > limit)
		return WP_DROP_MALFORMED;
	pkt->l3_end = end;
	pkt->l3_len = WP_IPV6_HDR_LEN + bpf_ntohs(ip6->payload_len);
	pkt->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	pkt->df = 1;

	nexthdr = ip6->nexthdr;
	ret = wp_ipv6_skip_ext(data, data_end, end, &off, &nexthdr, &pkt->frag, &pkt->frag_id);
	pkt->ip_protocol = nexthdr;
	pkt->flow.protocol = nexthdr;
	pkt->l4_off = off;
	return ret;
}

/*
 * Parses a frame into *pkt. Returns WP_OK (flow filled, except the ports of
 * a later fragment, which frag.h supplies, and the flow of an ICMP packet,
 * which icmp.h supplies), WP_PASS (not IP), or a drop reason; with a drop
 * reason, pkt->l3_ok says whether the addresses were read (the caller then
 * drops only traffic to a VIP).
 */
static __always_inline int wp_parse_packet(struct xdp_md *ctx, struct wp_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int ret;

	if ((void *)(eth + 1) > data_end)
		return WP_DROP_MALFORMED;

	if (eth->h_proto == bpf_htons(ETH_P_IP))
		ret = wp_parse_ipv4(data, data_end, (__u32)(data_end - data), pkt);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		ret = wp_parse_ipv6(data, data_end, (__u32)(data_end - data), pkt);
	else
		return WP_PASS;
	if (ret != WP_OK)
		return ret;

	switch (pkt->ip_protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		if (pkt->frag == WP_FRAG_LATER)
			return WP_OK;	/* ports come from wp_fragments (frag.h) */
		return wp_parse_l4(data, data_end, pkt);
	case IPPROTO_ICMP:
	case WP_IPPROTO_ICMPV6:
		return WP_OK;		/* icmp.h decides */
	default:
		return WP_DROP_UNSUPPORTED_PROTOCOL;
	}
}

/* ---- tc entry point -------------------------------------------------------------
 *
 * The tc programs (tc_endpoint.c) see socket buffers, not XDP frames: the
 * payload of a TCP segment a pod sends usually sits in page fragments
 * beyond data_end, so the IP length fields are checked against skb->len,
 * not against data_end, and only the headers need to be in the linear
 * area. wp_parse_skb pulls at most WP_SKB_PULL_LEN bytes into it when the
 * headers might not be there yet (bpf_skb_pull_data, which may copy a
 * cloned buffer; skipped when the linear area already holds them). The IP
 * parsers are the XDP path's, given skb->len as the limit.
 */

/* Bytes made linear when the linear area is shorter: Ethernet, IPv6 with
 * a few extension headers, and a TCP header with options. */
#define WP_SKB_PULL_LEN		256

/*
 * Parses the IP header of a socket buffer into *pkt (addresses, protocol,
 * L4 offset, fragment state; not the ports). Returns WP_OK, WP_PASS (not
 * IP) or a drop reason. Pointers into the packet taken before the call
 * are invalid after it (the pull may move the data).
 */
static __always_inline int wp_parse_skb(struct __sk_buff *skb, struct wp_packet *pkt)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 linear = (__u32)(data_end - data);
	__u32 len = skb->len;
	struct ethhdr *eth;

	if (linear < WP_SKB_PULL_LEN && len > linear) {
		bpf_skb_pull_data(skb, len < WP_SKB_PULL_LEN ? len : WP_SKB_PULL_LEN);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return WP_DROP_MALFORMED;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return wp_parse_ipv4(data, data_end, len, pkt);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return wp_parse_ipv6(data, data_end, len, pkt);
	return WP_PASS;
}

#endif /* WASMPLANE_LIB_PARSE_H */
