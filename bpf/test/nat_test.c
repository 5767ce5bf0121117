// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lib/nat.h alone, for test/tc-nat.test.ts and bench/tc-nat.bench.ts: the
 * two translation calls as tc programs, without policy, plus a program
 * that only returns TC_ACT_OK (the benchmark's baseline).
 *
 *   nat_from_endpoint   parse → wp_nat_translate → TC_ACT_OK / TC_ACT_SHOT
 *   nat_to_endpoint     parse → wp_nat_reverse   → TC_ACT_OK / TC_ACT_SHOT
 *   nat_noop            TC_ACT_OK
 *
 * What the test reads back from the output __sk_buff:
 *   cb[0] service ID, cb[1] backend ID, cb[2] result flags
 *   (WP_EVENT_F_TRANSLATED), cb[3] the helper's return (0 or a drop
 *   reason), cb[4] the port pkt->flow names afterwards (destination after
 *   translate, source after reverse; host order), mark: 4 bytes of the
 *   address pkt->flow names afterwards (IPv4: all of it; IPv6: bytes 12-15),
 *   as they lie in memory.
 *
 * The maps are lib/maps.h's and lib/nat.h's, pinned by name: loaded with
 * the load balancer's pin root, this object shares its services, backends,
 * tables and flow LRU (test/tc-nat.test.ts checks it).
 *
 * Parsing: parse.h's tc entry point (wp_parse_skb), then the ports, as
 * tc_endpoint.c does (without its ICMP handling).
 */
#include <linux/pkt_cls.h>

#include "../lib/common.h"
#include "../lib/counters.h"
#include "../lib/nat.h"
#include "../lib/parse.h"

static __always_inline int nat_test_parse(struct __sk_buff *skb, struct wp_packet *pkt)
{
	int ret = wp_parse_skb(skb, pkt);

	if (ret != WP_OK)
		return ret;
	switch (pkt->ip_protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		if (pkt->frag == WP_FRAG_LATER)
			return wp_frag_restore_ports(pkt);
		/* data and data_end after wp_parse_skb: it may have pulled. */
		return wp_parse_l4((void *)(long)skb->data, (void *)(long)skb->data_end, pkt);
	default:
		return WP_OK;	/* ICMP and others: nat.h leaves them alone */
	}
}

static __always_inline int nat_test_report(struct __sk_buff *skb, int ret, const struct wp_nat_result *res,
					   const __u8 *addr, __be16 port, __u8 family)
{
	__u32 word;

	skb->cb[0] = res->service_id;
	skb->cb[1] = res->backend_id;
	skb->cb[2] = res->flags;
	skb->cb[3] = ret > 0 ? ret : 0;
	skb->cb[4] = bpf_ntohs(port);
	wp_memcpy(&word, family == WP_FAMILY_IPV6 ? addr + 12 : addr, 4);
	skb->mark = word;
	if (ret > 0) {
		wp_count_drop(ret, skb->len);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

SEC("tc")
int nat_from_endpoint(struct __sk_buff *skb)
{
	struct wp_nat_result res = {};
	struct wp_packet pkt = {};
	int ret;

	wp_nat_result_init(&res);
	ret = nat_test_parse(skb, &pkt);
	if (ret > 0)
		ret = wp_reason_if_vip(&pkt, ret);
	if (ret == WP_OK)
		ret = wp_nat_translate(skb, &pkt, &res);
	if (ret == WP_OK && res.flags)
		wp_count_forward(res.service_id, res.backend_id, skb->len);
	return nat_test_report(skb, ret, &res, pkt.flow.daddr, pkt.flow.dport, pkt.flow.family);
}

SEC("tc")
int nat_to_endpoint(struct __sk_buff *skb)
{
	struct wp_nat_result res = {};
	struct wp_packet pkt = {};
	int ret;

	wp_nat_result_init(&res);
	ret = nat_test_parse(skb, &pkt);
	if (ret == WP_OK)
		ret = wp_nat_reverse(skb, &pkt, &res);
	else if (ret > 0)
		ret = WP_PASS;	/* not ours to judge on the way in */
	return nat_test_report(skb, ret, &res, pkt.flow.saddr, pkt.flow.sport, pkt.flow.family);
}

SEC("tc")
int nat_noop(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
