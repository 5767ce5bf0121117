// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backends' decapsulation, in XDP (native, on the backend's interface):
 * strips the outer header the load balancer added (IPIP, IPv6 in IPv4,
 * IP6IP6, IPv4 in IPv6) and hands the inner packet, untouched, to the stack,
 * which delivers it to the VIP configured on lo. As Katran's decap program
 * does; here because the test machines' kernels may lack the ipip and
 * ip6_tunnel drivers (CONFIG_NET_IPIP, CONFIG_IPV6_TUNNEL).
 *
 *  before:  | eth | outer IPv4/IPv6 (to this backend) | inner IP ... |
 *  after:   | eth |                                    inner IP ... |
 *
 * Only outer packets addressed to the backend's own address (local_v4 /
 * local_v6, compiled in: -DWP_E2E_LOCAL_V4=<u32>, -DWP_E2E_LOCAL_V6_0..3=<u32>,
 * each the address bytes read as a little-endian word, as the program loads
 * them on x86-64 and arm64) are decapsulated; everything else passes as is.
 * wp_e2e_decap_counts[0] counts decapsulated IPv4 outer packets, [1] IPv6.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef WP_E2E_LOCAL_V4
#define WP_E2E_LOCAL_V4 0
#endif

/* The backend's own addresses, as the packet's bytes load into registers. */
const volatile __be32 local_v4 = WP_E2E_LOCAL_V4;
const volatile __u32 local_v6[4] = {
#ifdef WP_E2E_LOCAL_V6_0
	WP_E2E_LOCAL_V6_0, WP_E2E_LOCAL_V6_1, WP_E2E_LOCAL_V6_2, WP_E2E_LOCAL_V6_3,
#endif
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} wp_e2e_decap_counts SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&wp_e2e_decap_counts, &index);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int wp_e2e_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ethhdr copy;
	__u16 inner_proto;
	int outer_len;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->daddr != local_v4)
			return XDP_PASS;
		if (ip->frag_off & bpf_htons(0x3fff))	/* MF or an offset: leave it to the stack */
			return XDP_PASS;
		proto = ip->protocol;
		outer_len = sizeof(*ip);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		if (ip6->daddr.in6_u.u6_addr32[0] != local_v6[0] || ip6->daddr.in6_u.u6_addr32[1] != local_v6[1] ||
		    ip6->daddr.in6_u.u6_addr32[2] != local_v6[2] || ip6->daddr.in6_u.u6_addr32[3] != local_v6[3])
			return XDP_PASS;
		proto = ip6->nexthdr;
		outer_len = sizeof(*ip6);
	} else {
		return XDP_PASS;
	}
	if (proto == IPPROTO_IPIP)
		inner_proto = ETH_P_IP;
	else if (proto == IPPROTO_IPV6)
		inner_proto = ETH_P_IPV6;
	else
		return XDP_PASS;

	__builtin_memcpy(&copy, eth, sizeof(copy));
	copy.h_proto = bpf_htons(inner_proto);
	if (bpf_xdp_adjust_head(ctx, outer_len))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth, &copy, sizeof(copy));
	count(outer_len == sizeof(struct iphdr) ? 0 : 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
