/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The packet as the endpoint programs (tc_endpoint.c) see it: one struct
 * that every later step reads (connection tracking, policy, events) and
 * that a translation step may rewrite in place (a service's backend as the
 * new destination) before the policy step decides on it.
 *
 *   wp_parse_skb (parse.h): addresses, protocol, L4 offset, fragments
 *     └─ wp_tc_parse_l4: ports (TCP, UDP, SCTP), TCP flags, ICMP type and
 *        echo identifier, later fragments' ports from wp_fragments (frag.h)
 *
 * What policy matches (docs/policy.md): the protocol and the destination
 * port, or for ICMP and ICMPv6 the type, carried in the port field.
 * Other protocols match with port 0: only entries that cover every
 * protocol (L3-only rules) apply to them.
 *
 * Connection tracking ports (flow.sport / flow.dport): TCP, UDP and SCTP
 * ports; ICMP echo request: (identifier, 0), echo reply: (0, identifier),
 * so that a reply's reversed tuple is its request's. Other ICMP messages
 * are not tracked (flow ports 0, policy only).
 *
 * Fragments: the first fragment's ports decide for every fragment of the
 * datagram. The first fragment records them in wp_fragments; a later
 * fragment whose first fragment was not seen is dropped
 * (WP_DROP_FRAGMENT_UNKNOWN), since no port can be matched. For ICMP the
 * record holds (identifier, type).
 */
#ifndef WASMPLANE_LIB_TC_PACKET_H
#define WASMPLANE_LIB_TC_PACKET_H

#include "common.h"
#include "frag.h"
#include "parse.h"

#define WP_ICMP_ECHO_REPLY	0
#define WP_ICMP_ECHO_REQUEST	8
#define WP_ICMPV6_ECHO_REQUEST	128
#define WP_ICMPV6_ECHO_REPLY	129

#define WP_TCP_FLAGS_OFF	13	/* flags byte in the TCP header (RFC 9293) */
#define WP_TCP_FIN		0x01
#define WP_TCP_SYN		0x02
#define WP_TCP_RST		0x04
#define WP_TCP_ACK		0x10

#define WP_TRACK_NONE		0	/* not tracked: ICMP other than echo */
#define WP_TRACK_FLOW		1	/* TCP, UDP, SCTP, other protocols */
#define WP_TRACK_ECHO_REQUEST	2	/* ICMP echo request: opens an entry */
#define WP_TRACK_ECHO_REPLY	3	/* ICMP echo reply: only ever a reply */

struct wp_tc_packet {
	struct wp_packet pkt;	/* parse.h: flow (addresses, ports, protocol), offsets, fragments */
	__u32	len;		/* skb->len: bytes for the counters */
	__be16	policy_port;	/* destination port, or htons(ICMP type) */
	__u8	tcp_flags;	/* TCP flags byte, 0 for other protocols */
	__u8	track;		/* WP_TRACK_* */
};

static __always_inline int wp_is_icmp(__u8 protocol)
{
	return protocol == IPPROTO_ICMP || protocol == WP_IPPROTO_ICMPV6;
}

/* Flow ports and tracking of an ICMP message of `type` with identifier `id`. */
static __always_inline void wp_tc_icmp_flow(struct wp_tc_packet *p, __u8 type, __be16 id)
{
	__u8 v6 = p->pkt.flow.protocol == WP_IPPROTO_ICMPV6;

	p->policy_port = bpf_htons(type);
	if (type == (v6 ? WP_ICMPV6_ECHO_REQUEST : WP_ICMP_ECHO_REQUEST)) {
		p->pkt.flow.sport = id;
		p->track = WP_TRACK_ECHO_REQUEST;
	} else if (type == (v6 ? WP_ICMPV6_ECHO_REPLY : WP_ICMP_ECHO_REPLY)) {
		p->pkt.flow.dport = id;
		p->track = WP_TRACK_ECHO_REPLY;
	} else {
		p->track = WP_TRACK_NONE;
	}
}

/* Reads the ICMP type and identifier (bytes 0 and 4-5 of the header). */
static __always_inline int wp_tc_parse_icmp(struct __sk_buff *skb, struct wp_tc_packet *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 off = p->pkt.l4_off;
	__u8 *icmp;
	__be16 id;

	if (!wp_bound_off(off))
		return WP_DROP_MALFORMED;
	icmp = data + off;
	if ((void *)(icmp + 8) > data_end || off + 8 > p->pkt.l3_end)
		return WP_DROP_MALFORMED;
	wp_memcpy(&id, icmp + 4, sizeof(id));
	wp_tc_icmp_flow(p, icmp[0], id);
	return WP_OK;
}

static __always_inline int wp_tc_parse_ports(struct __sk_buff *skb, struct wp_tc_packet *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 off = p->pkt.l4_off;
	int ret;

	ret = wp_parse_l4(data, data_end, &p->pkt);
	if (ret != WP_OK)
		return ret;
	if (p->pkt.ip_protocol == IPPROTO_TCP) {
		__u8 *flags;

		if (!wp_bound_off(off))
			return WP_DROP_MALFORMED;
		flags = data + off + WP_TCP_FLAGS_OFF;
		if ((void *)(flags + 1) > data_end)
			return WP_DROP_MALFORMED;
		p->tcp_flags = *flags;
	}
	p->policy_port = p->pkt.flow.dport;
	p->track = WP_TRACK_FLOW;
	return WP_OK;
}

/*
 * Parses a socket buffer into *p. Returns WP_OK, WP_PASS (not IP: the
 * endpoint programs let ARP and the like through) or a drop reason.
 */
static __always_inline int wp_tc_parse(struct __sk_buff *skb, struct wp_tc_packet *p)
{
	__u8 proto;
	int ret;

	ret = wp_parse_skb(skb, &p->pkt);
	if (ret != WP_OK)
		return ret;
	p->len = skb->len;
	proto = p->pkt.ip_protocol;

	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case IPPROTO_ICMP:
	case WP_IPPROTO_ICMPV6:
		break;
	default:
		/* Policy matches other protocols on the protocol alone. */
		p->track = WP_TRACK_FLOW;
		return WP_OK;
	}

	if (p->pkt.frag == WP_FRAG_LATER) {
		struct wp_frag_key key = {};
		struct wp_frag_value *rec;

		wp_frag_key_of(&p->pkt, &key);
		rec = bpf_map_lookup_elem(&wp_fragments, &key);
		if (!rec)
			return WP_DROP_FRAGMENT_UNKNOWN;
		if (wp_is_icmp(proto)) {
			wp_tc_icmp_flow(p, (__u8)bpf_ntohs(rec->dport), rec->sport);
			return WP_OK;
		}
		p->pkt.flow.sport = rec->sport;
		p->pkt.flow.dport = rec->dport;
		p->policy_port = rec->dport;
		p->track = WP_TRACK_FLOW;
		return WP_OK;
	}

	if (wp_is_icmp(proto))
		ret = wp_tc_parse_icmp(skb, p);
	else
		ret = wp_tc_parse_ports(skb, p);
	if (ret != WP_OK)
		return ret;

	if (p->pkt.frag == WP_FRAG_FIRST) {
		struct wp_frag_key key = {};
		struct wp_frag_value rec = {
			.sport = p->pkt.flow.sport,
			.dport = p->pkt.flow.dport,
		};

		if (wp_is_icmp(proto)) {
			/* (identifier, type): the identifier is whichever port holds it. */
			rec.sport = p->pkt.flow.sport | p->pkt.flow.dport;
			rec.dport = p->policy_port;
		}
		wp_frag_key_of(&p->pkt, &key);
		bpf_map_update_elem(&wp_fragments, &key, &rec, BPF_ANY);
	}
	return WP_OK;
}

#endif /* WASMPLANE_LIB_TC_PACKET_H */
