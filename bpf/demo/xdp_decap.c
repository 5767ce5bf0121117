// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `wasmplane demo` (and the network-namespace tests: test/lb-e2e.test.ts,
 * test/agent-e2e.test.ts): the backends' side of the load balancer's
 * IP-in-IP encapsulation, in XDP on each backend's interface. The outer
 * header the node added is removed and the inner packet, byte for byte as
 * the client sent it, is passed to the stack, which delivers it to the
 * service address configured on the backend's loopback (direct server
 * return: the answer goes straight to the client). Katran's backends
 * decapsulate the same way; it is done in XDP here because a machine's
 * kernel may be built without the ipip and ip6_tunnel drivers.
 *
 *  in:   | eth | outer IPv4 or IPv6, to this backend | inner IPv4/IPv6 ... |
 *  out:  | eth |                                       inner IPv4/IPv6 ... |
 *
 * Only outer packets addressed to the backend itself are touched; their
 * address is compiled in (WP_DEMO_LOCAL_V4, and WP_DEMO_LOCAL_V6_0..3 for
 * IPv6: each the address bytes loaded as a native-endian 32-bit word, which
 * is how the program reads them from the packet). Fragments and any other
 * traffic pass unchanged.
 *
 * wp_demo_decap_counts counts the packets decapsulated: [0] with an IPv4
 * outer header, [1] with an IPv6 one (written here, read with bpftool by
 * test/lb-e2e.test.ts when a connection goes missing).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef WP_DEMO_LOCAL_V4
#define WP_DEMO_LOCAL_V4 0
#endif

/* IPv4 flags and fragment offset: anything but DF means a fragment. */
#define WP_DEMO_IP_MF_OFFSET 0x3fff

const volatile __be32 local_v4 = WP_DEMO_LOCAL_V4;
const volatile __u32 local_v6[4] = {
#ifdef WP_DEMO_LOCAL_V6_0
	WP_DEMO_LOCAL_V6_0, WP_DEMO_LOCAL_V6_1, WP_DEMO_LOCAL_V6_2, WP_DEMO_LOCAL_V6_3,
#endif
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} wp_demo_decap_counts SEC(".maps");

static __always_inline void count_decap(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&wp_demo_decap_counts, &index);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Length of the outer header to strip, or 0 to leave the frame alone. */
static __always_inline int outer_length(struct ethhdr *eth, void *data_end, __u16 *inner_proto)
{
	__u8 proto;
	int len;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->daddr != local_v4)
			return 0;
		if (ip->frag_off & bpf_htons(WP_DEMO_IP_MF_OFFSET))
			return 0;
		proto = ip->protocol;
		len = sizeof(*ip);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		if (ip6->daddr.in6_u.u6_addr32[0] != local_v6[0] || ip6->daddr.in6_u.u6_addr32[1] != local_v6[1] ||
		    ip6->daddr.in6_u.u6_addr32[2] != local_v6[2] || ip6->daddr.in6_u.u6_addr32[3] != local_v6[3])
			return 0;
		proto = ip6->nexthdr;
		len = sizeof(*ip6);
	} else {
		return 0;
	}
	if (proto == IPPROTO_IPIP)
		*inner_proto = ETH_P_IP;
	else if (proto == IPPROTO_IPV6)
		*inner_proto = ETH_P_IPV6;
	else
		return 0;
	return len;
}

SEC("xdp")
int wp_demo_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ethhdr copy;
	__u16 inner_proto = 0;
	int len;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	len = outer_length(eth, data_end, &inner_proto);
	if (len == 0)
		return XDP_PASS;

	/* The Ethernet header moves forward over the outer IP header. */
	__builtin_memcpy(&copy, eth, sizeof(copy));
	copy.h_proto = bpf_htons(inner_proto);
	if (bpf_xdp_adjust_head(ctx, len))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth, &copy, sizeof(copy));
	count_decap(len == sizeof(struct iphdr) ? 0 : 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
