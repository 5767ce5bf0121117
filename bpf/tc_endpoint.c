// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wasmplane endpoint policy and east-west service translation (tc), on the
 * host side of each pod's veth:
 *
 *   wasmplane_from_endpoint  tc ingress of the veth: the endpoint's EGRESS
 *   wasmplane_to_endpoint    tc egress of the veth:  the endpoint's INGRESS
 *
 *   endpoint (ifindex) ──not ours───────────────────────────▶ TC_ACT_OK
 *     ▼
 *   parse ──not IP──────────────────────────────────────────▶ TC_ACT_OK
 *     │ ──malformed, unknown later fragment─────────────────▶ TC_ACT_SHOT + reason
 *     ▼
 *   ingress only: reverse NAT (lib/nat.h wp_nat_reverse): a reply of a
 *     translated flow gets VIP:port back as its source on the wire; the
 *     parsed tuple keeps naming the backend
 *     ▼
 *   conntrack: reply of a live connection ──────────────────▶ TC_ACT_OK
 *     ▼
 *   egress only: service translation (lib/nat.h wp_nat_translate): a
 *     packet to VIP:port gets a backend as its destination, lb.h's choice
 *     over the load balancer's maps ──no service, no backend─▶ TC_ACT_SHOT + reason
 *     ▼
 *   policy on the current destination (egress: the backend, not the VIP)
 *   or source (ingress):
 *     peer = ipcache(address), two LPM lookups ──deny / none─▶ TC_ACT_SHOT + event
 *     ▼
 *   new connection: conntrack entry + event ────────────────▶ TC_ACT_OK
 *   translated: service and backend counters (as xdp_lb.c)
 *
 * Every step after translation sees one tuple, the backend's: conntrack
 * entries of a service flow are keyed by client → backend on both
 * endpoints, so the client's entry (made by from_endpoint after the
 * translation) matches the backend's replies, which reverse NAT leaves
 * naming the backend in the parsed tuple. Flow events carry the service ID
 * and WP_EVENT_F_TRANSLATED; their addresses are the wire's after the
 * rewrite (egress: the backend as destination; ingress: the VIP as source).
 * Translation drops (no service, no backend, family, a failed rewrite) are
 * counted by reason and emit no flow event: they are not policy verdicts.
 *
 * IPv4 and IPv6; TCP, UDP, SCTP by port; ICMP and ICMPv6 by type; other
 * protocols by L3-only rules. Non-reply packets of established connections
 * are decided again on every packet, so a new deny cuts them too.
 * Maps: lib/ipcache.h, lib/policy.h, lib/endpoint.h, lib/conntrack.h,
 * lib/nat.h (wp_rev_nat, and through lb.h the load balancer's services,
 * backends, tables and flow LRU of maps.h, shared when loaded on its pin
 * root), maps.h's counters and fragment LRU, events.h's ring; layouts:
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
#include "lib/nat.h"
#include "lib/policy.h"
#include "lib/tc_packet.h"

/*
 * Reports a policy verdict: a drop (reason > 0) or a new allowed
 * connection. Addresses and ports are the wire's: after translation the
 * destination is the backend (p names it); after reverse NAT the source is
 * the frontend (nat names it, p still names the backend).
 */
static __always_inline void wp_report(const struct wp_tc_packet *p, const struct wp_nat_result *nat,
				      __u32 ifindex, const struct wp_endpoint_value *ep, __u32 peer,
				      __u8 direction, int reason)
{
	/* Events are rare (drops, new connections) and their times are shown
	 * to people, so they read the precise clock; conntrack deadlines use
	 * the coarse one (wp_now()). */
	struct wp_flow_event ev = {
		.time_ns = bpf_ktime_get_ns(),
		.ifindex = ifindex,
		.endpoint_identity = ep->identity,
		.peer_identity = peer,
		.service_id = nat->service_id,
		/* ICMP: sport is the echo identifier, dport the type. */
		.sport = wp_is_icmp(p->pkt.flow.protocol) ? (p->pkt.flow.sport | p->pkt.flow.dport) : p->pkt.flow.sport,
		.dport = p->policy_port,
		.protocol = p->pkt.flow.protocol,
		.family = p->pkt.flow.family,
		.direction = direction,
		.verdict = reason ? WP_VERDICT_DROPPED : WP_VERDICT_FORWARDED,
		.reason = (__u16)reason,
		.tcp_flags = p->tcp_flags,
		.flags = nat->flags,
	};

	if (direction == WP_DIR_INGRESS && nat->flags) {
		wp_memcpy(ev.saddr, nat->frontend, 16);
		ev.sport = nat->frontend_port;
	} else {
		wp_memcpy(ev.saddr, p->pkt.flow.saddr, 16);
	}
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

static __always_inline int wp_endpoint_drop(int reason, __u32 bytes)
{
	wp_count_drop(reason, bytes);
	return TC_ACT_SHOT;
}

/* direction is a constant at each call: the compiler keeps one branch. */
static __always_inline int wp_endpoint_handle(struct __sk_buff *skb, __u8 direction)
{
	const struct wp_endpoint_value *ep;
	struct wp_tc_packet p = {};
	struct wp_nat_result nat;
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
	if (ret != WP_OK)
		return wp_endpoint_drop(ret, skb->len);

	/* Before conntrack: a reply of a translated flow passes as a reply,
	 * and must leave with the frontend as its source. */
	if (direction == WP_DIR_INGRESS) {
		ret = wp_nat_reverse(skb, &p.pkt, &nat);
		if (ret != WP_OK)
			return wp_endpoint_drop(ret, p.len);
	}

	now = wp_now();	/* coarse: conntrack deadlines are seconds-scale */
	if (wp_ct_is_reply(&p, direction, now))
		return TC_ACT_OK;

	/* After the reply check (a reply never goes to a VIP, and skips the
	 * service lookup), before policy: policy, conntrack and events see
	 * the backend. */
	if (direction == WP_DIR_EGRESS) {
		ret = wp_nat_translate(skb, &p.pkt, &nat);
		if (ret != WP_OK)
			return wp_endpoint_drop(ret, p.len);
		if (nat.flags)
			p.policy_port = p.pkt.flow.dport;
	}

	ret = wp_policy_step(&p, ep, direction, &peer);
	if (ret != WP_OK) {
		wp_count_drop(ret, p.len);
		wp_report(&p, &nat, ifindex, ep, peer, direction, ret);
		return TC_ACT_SHOT;
	}

	ct = wp_ct_lookup(&p, direction, now);
	if (ct) {
		wp_ct_refresh(ct, p.pkt.flow.protocol, p.tcp_flags, 0, now);
	} else if (wp_ct_create(&p, direction, peer, now)) {
		wp_report(&p, &nat, ifindex, ep, peer, direction, 0);
	}
	if (direction == WP_DIR_EGRESS && nat.flags)
		wp_count_forward(nat.service_id, nat.backend_id, p.len);
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
