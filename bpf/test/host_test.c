// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test object of the host layer (src/bpf/): one of each map kind the host
 * handles and three tiny programs. Compiled by test/bpf-host.test.ts into a
 * temporary directory; never part of the datapath.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "layout.h"

/* Written by xdp_count, read by the test: packets seen. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

/* Written by the test only: four entries, to hit "map full". */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct wp_test_backend);
} backends SEC(".maps");

/* Pinned by name under the object's pin root, reopened by path by the test. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned SEC(".maps");

/* Written by the test: a struct key, the shape of policy and CIDR maps. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wp_test_lpm_key);
	__type(value, __u32);
} prefixes SEC(".maps");

/* Inner template of `services`: one table per service. */
struct service_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
};

/* Written by the test (inner maps swapped in batches), read by nobody. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2048);
	__type(key, __u32);
	__array(values, struct service_table);
} services SEC(".maps");

/* Counts every frame into packets[0] and passes it. */
SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&packets, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

/* Swaps the Ethernet addresses and bounces the frame: a visible rewrite. */
SEC("xdp")
int xdp_swap_mac(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

/* Adds one to the skb mark (visible in the output context) and lets it go. */
SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	skb->mark += 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
