// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wasmplane endpoint policy (tc), on the host side of each pod's veth:
 *
 *   wasmplane_from_endpoint  tc ingress of the veth: the endpoint's EGRESS
 *   wasmplane_to_endpoint    tc egress of the veth:  the endpoint's INGRESS
 *
 *   endpoint (ifindex) ──not ours───────────────────────────▶ TC_ACT_OK
 *     ▼
 *   parse ──not IP──────────────────────────────────────────▶ TC_ACT_OK
 *     │ ──malformed, unknown later fragment─────────────────▶ TC_ACT_SHOT + reason
 *     ▼
 *   conntrack: reply of a live connection ──────────────────▶ TC_ACT_OK
 *     ▼
 *   [service translation goes here: it rewrites the destination]
 *     ▼
 *   policy on the current destination (egress) or source (ingress):
 *     peer = ipcache(address), two LPM lookups ──deny / none─▶ TC_ACT_SHOT + event
 *     ▼
 *   new connection: conntrack entry + event ────────────────▶ TC_ACT_OK
 *
 * IPv4 and IPv6; TCP, UDP, SCTP by port; ICMP and ICMPv6 by type; other
 * protocols by L3-only rules. Non-reply packets of established connections
 * are decided again on every packet, so a new deny cuts them too.
 * Maps: lib/ipcache.h, lib/policy.h, lib/endpoint.h, lib/conntrack.h (and
 * maps.h's drop counters and fragment LRU, events.h's ring); layouts:
 * include/wasmplane/abi.h; drop reasons: include/wasmplane/drop_reasons.h.
 */
#include <linux/pkt_cls.h>

#include "lib/common.h"
#include "lib/conntrack.h"
#include "lib/counters.h"
#include "lib/endpoint.h"
#include "lib/events.h"
#include "lib/ipcache.h"
#include "lib/maps.h"
#include "lib/policy.h"
#include "lib/tc_packet.h"

/* Reports a policy verdict: a drop (reason > 0) or a new allowed connection. */
static __always_inline void wp_report(const struct wp_tc_packet *p, __u32 ifindex,
				      const struct wp_endpoint_value *ep, __u32 peer,
				      __u8 direction, int reason, __u64 now)
{
	struct wp_flow_event ev = {
		.time_ns = now,
		.ifindex = ifindex,
		.endpoint_identity = ep->identity,
		.peer_identity = peer,
		/* ICMP: sport is the echo identifier, dport the type. */
		.sport = wp_is_icmp(p->pkt.flow.protocol) ? (p->pkt.flow.sport | p->pkt.flow.dport) : p->pkt.flow.sport,
		.dport = p->policy_port,
		.protocol = p->pkt.flow.protocol,
		.family = p->pkt.flow.family,
		.direction = direction,
		.verdict = reason ? WP_VERDICT_DROPPED : WP_VERDICT_FORWARDED,
		.reason = (__u16)reason,
		.tcp_flags = p->tcp_flags,
	};

	wp_memcpy(ev.saddr, p->pkt.flow.saddr, 16);
	wp_memcpy(ev.daddr, p->pkt.flow.daddr, 16);
	wp_emit_flow_event(&ev);
}

/*
 * The policy step: decides on the packet as it is now (after any
 * translation), the peer being its destination on egress and its source
 * on ingress. Returns WP_OK or a policy drop reason; *peer is the peer's
 * identity.
 */
static __always_inline int wp_policy_step(const struct wp_tc_packet *p, const struct wp_endpoint_value *ep,
					  __u8 direction, __u32 *peer)
{
	const __u8 *addr = direction == WP_DIR_EGRESS ? p->pkt.flow.daddr : p->pkt.flow.saddr;

	*peer = wp_ipcache_identity(addr, p->pkt.flow.family);
	return wp_policy_check(ep->identity, *peer, direction, p->pkt.flow.protocol,
			       p->policy_port, p->len);
}

static __always_inline int wp_endpoint_handle(struct __sk_buff *skb, __u8 direction)
{
	const struct wp_endpoint_value *ep;
	struct wp_tc_packet p = {};
	struct wp_ct_value *ct;
	__u32 ifindex = skb->ifindex;
	__u32 peer = 0;
	__u64 now;
	int ret;

	ep = wp_endpoint_of(ifindex);
	if (!ep)
		return TC_ACT_OK;

	ret = wp_tc_parse(skb, &p);
	if (ret == WP_PASS)
		return TC_ACT_OK;
	if (ret != WP_OK) {
		wp_count_drop(ret, skb->len);
		return TC_ACT_SHOT;
	}

	now = bpf_ktime_get_ns();
	if (wp_ct_is_reply(&p, direction, now))
		return TC_ACT_OK;

	ret = wp_policy_step(&p, ep, direction, &peer);
	if (ret != WP_OK) {
		wp_count_drop(ret, p.len);
		wp_report(&p, ifindex, ep, peer, direction, ret, now);
		return TC_ACT_SHOT;
	}

	ct = wp_ct_lookup(&p, direction, now);
	if (ct) {
		wp_ct_refresh(ct, p.pkt.flow.protocol, p.tcp_flags, 0, now);
	} else if (wp_ct_create(&p, direction, peer, now)) {
		wp_report(&p, ifindex, ep, peer, direction, 0, now);
	}
	return TC_ACT_OK;
}

SEC("tc")
int wasmplane_from_endpoint(struct __sk_buff *skb)
{
	return wp_endpoint_handle(skb, WP_DIR_EGRESS);
}

SEC("tc")
int wasmplane_to_endpoint(struct __sk_buff *skb)
{
	return wp_endpoint_handle(skb, WP_DIR_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
