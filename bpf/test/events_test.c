// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test object of the flow event path (lib/events.h, src/events/): tc
 * programs that emit struct wp_flow_event records through
 * wp_emit_flow_event(), run by test/flow-events.test.ts with
 * BPF_PROG_TEST_RUN. Compiled into a temporary directory; never part of the
 * datapath.
 *
 *   events_from_packet  builds the record the way a policy program would:
 *                       addresses, ports, protocol and TCP flags from the
 *                       packet (Ethernet + IPv4 or IPv6 without extension
 *                       headers + TCP, UDP, SCTP, ICMP or ICMPv6), the rest
 *                       from the __sk_buff the test passes in:
 *                         cb[0] endpoint identity   cb[1] peer identity
 *                         cb[2] service id          cb[3] reason
 *                         cb[4] direction | verdict << 8 | flags << 16
 *                       time_ns from bpf_ktime_get_ns(), ifindex from the skb.
 *   events_raw          copies the 72 bytes after the Ethernet header as the
 *                       record, except time_ns, which becomes a running
 *                       sequence number (1, 2, ...) so that the test can
 *                       check order and gaps across repeated runs.
 *   events_raw_output   events_raw with the other way of writing a record
 *                       that is on the stack, bpf_ringbuf_output(), to
 *                       compare its cost with wp_emit_flow_event's reserve,
 *                       copy, submit.
 *
 * Every program returns TC_ACT_OK. Build with -DWASMPLANE_PIN_MAPS=0 (the
 * test loads with its own maps) and, for the overflow test, a small
 * -DWASMPLANE_FLOW_EVENTS_BYTES.
 */
#include <linux/pkt_cls.h>
#include "../lib/common.h"
#include "../lib/events.h"

#define ETH_HLEN_	14
#define TCP_FLAGS_OFF	13	/* byte of the TCP header holding FIN..CWR */

/* Written by events_raw(_output): records emitted so far. Read by nobody
 * but the programs (the sequence numbers go out in the records). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} test_seq SEC(".maps");

/* Written by events_from_packet: the last record it emitted. Read by nobody;
 * it is here so that clang emits struct wp_flow_event into the BTF (a struct
 * used only by inlined code and locals is left out), which the test compares
 * with the TypeScript layout. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_flow_event);
	__uint(max_entries, 1);
} test_last_event SEC(".maps");

static __always_inline int load_l4(struct __sk_buff *skb, __u32 off, struct wp_flow_event *ev)
{
	__u8 tcp[14];

	switch (ev->protocol) {
	case IPPROTO_TCP:
		if (bpf_skb_load_bytes(skb, off, tcp, sizeof(tcp)) < 0)
			return -1;
		wp_memcpy(&ev->sport, &tcp[0], 2);
		wp_memcpy(&ev->dport, &tcp[2], 2);
		ev->tcp_flags = tcp[TCP_FLAGS_OFF];
		return 0;
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		if (bpf_skb_load_bytes(skb, off, &ev->sport, 4) < 0)
			return -1;
		return 0;
	default:
		return 0;	/* ICMP and others: no ports */
	}
}

SEC("tc")
int events_from_packet(struct __sk_buff *skb)
{
	struct wp_flow_event ev = {};
	__u32 zero = 0;
	__be16 proto;
	__u32 l4;

	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)) < 0)
		return TC_ACT_OK;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN_, &ip, sizeof(ip)) < 0)
			return TC_ACT_OK;
		ev.family = WP_FAMILY_IPV4;
		ev.protocol = ip.protocol;
		wp_memcpy(ev.saddr, &ip.saddr, 4);
		wp_memcpy(ev.daddr, &ip.daddr, 4);
		l4 = ETH_HLEN_ + ip.ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN_, &ip6, sizeof(ip6)) < 0)
			return TC_ACT_OK;
		ev.family = WP_FAMILY_IPV6;
		ev.protocol = ip6.nexthdr;
		wp_memcpy(ev.saddr, &ip6.saddr, 16);
		wp_memcpy(ev.daddr, &ip6.daddr, 16);
		l4 = ETH_HLEN_ + WP_IPV6_HDR_LEN;
	} else {
		return TC_ACT_OK;
	}
	if (load_l4(skb, l4, &ev) < 0)
		return TC_ACT_OK;

	ev.time_ns = bpf_ktime_get_ns();
	ev.ifindex = skb->ifindex;
	ev.endpoint_identity = skb->cb[0];
	ev.peer_identity = skb->cb[1];
	ev.service_id = skb->cb[2];
	ev.reason = (__u16)skb->cb[3];
	ev.direction = skb->cb[4] & 0xff;
	ev.verdict = (skb->cb[4] >> 8) & 0xff;
	ev.flags = (skb->cb[4] >> 16) & 0xff;
	wp_emit_flow_event(&ev);
	bpf_map_update_elem(&test_last_event, &zero, &ev, BPF_ANY);
	return TC_ACT_OK;
}

/* The next sequence number, or 0 when the counter cannot be read. */
static __always_inline __u64 next_seq(void)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&test_seq, &zero);

	if (!seq)
		return 0;
	return __sync_add_and_fetch(seq, 1);
}

SEC("tc")
int events_raw(struct __sk_buff *skb)
{
	struct wp_flow_event ev;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, &ev, sizeof(ev)) < 0)
		return TC_ACT_OK;
	ev.time_ns = next_seq();
	wp_emit_flow_event(&ev);
	return TC_ACT_OK;
}

SEC("tc")
int events_raw_output(struct __sk_buff *skb)
{
	struct wp_flow_event ev;
	__u32 zero = 0;
	__u64 *lost;

	if (bpf_skb_load_bytes(skb, ETH_HLEN_, &ev, sizeof(ev)) < 0)
		return TC_ACT_OK;
	ev.time_ns = next_seq();
	/* The other possible body of wp_emit_flow_event(): one helper call. */
	if (bpf_ringbuf_output(&wp_flow_events, &ev, sizeof(ev), 0) == 0)
		return TC_ACT_OK;
	lost = bpf_map_lookup_elem(&wp_flow_event_losses, &zero);
	if (lost)
		*lost += 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
