// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wasmplane north-south load balancer (XDP).
 *
 *   parse ──not IP─────────────────────────────────────────▶ XDP_PASS
 *     │ ──not for a VIP────────────────────────────────────▶ XDP_PASS (untouched)
 *     │ ──malformed / unsupported, to a VIP────────────────▶ XDP_DROP + reason
 *     ▼
 *   service (VIP, port, protocol) ──VIP without it─────────▶ XDP_DROP no-service
 *     ▼
 *   backend: flow LRU → affinity → Maglev / random ──none──▶ XDP_DROP no-backend
 *     ▼
 *   next hop (FIB, fallback MAC) → IP-in-IP ───────────────▶ XDP_TX / XDP_REDIRECT
 *
 * TCP, UDP and SCTP over IPv4 and IPv6; ICMP "fragmentation needed" and
 * ICMPv6 "packet too big" about a VIP follow their flow (lib/icmp.h).
 * Maps: lib/maps.h; layouts: include/wasmplane/abi.h; drop reasons:
 * include/wasmplane/drop_reasons.h; knobs: lib/config.h.
 */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/encap.h"
#include "lib/fib.h"
#include "lib/frag.h"
#include "lib/icmp.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/parse.h"

/* XDP verdict for a helper's result; drops are counted by reason. */
static __always_inline int wp_verdict(int ret, __u64 frame_len)
{
	if (ret == WP_PASS)
		return XDP_PASS;
	wp_count_drop(ret, frame_len);
	return XDP_DROP;
}

SEC("xdp")
int wasmplane_xdp_lb(struct xdp_md *ctx)
{
	/* The program is not frags-aware (SEC("xdp"), not "xdp.frags"), so the
	 * kernel only gives it linear frames: the length is data_end - data,
	 * without a helper call. */
	__u64 frame_len = ctx->data_end - ctx->data;
	struct wp_service_value svc = {};
	const struct wp_config *cfg;
	struct wp_selection sel = {};
	struct wp_packet pkt = {};
	struct wp_next_hop nh = {};
	__u32 flow_label;
	int ret;

	ret = wp_parse_packet(ctx, &pkt);
	if (ret == WP_OK && (pkt.ip_protocol == IPPROTO_ICMP || pkt.ip_protocol == WP_IPPROTO_ICMPV6))
		ret = wp_icmp_error_flow(ctx, &pkt);
	if (ret > 0)
		ret = wp_reason_if_vip(&pkt, ret);
	if (ret == WP_OK && pkt.frag == WP_FRAG_LATER) {
		ret = wp_frag_restore_ports(&pkt);
		if (ret > 0)
			ret = wp_reason_if_vip(&pkt, ret);
	}
	if (ret != WP_OK)
		return wp_verdict(ret, frame_len);

	ret = wp_lookup_service(&pkt, &svc);
	if (ret != WP_OK)
		return wp_verdict(ret, frame_len);
	if (pkt.frag == WP_FRAG_FIRST)
		wp_frag_record(&pkt);

	ret = wp_select_backend(&pkt, &svc, &sel);
	if (ret != WP_OK)
		return wp_verdict(ret, frame_len);

	cfg = wp_get_config();
	if (!cfg)
		return wp_verdict(WP_DROP_ENCAP_FAILED, frame_len);
	/* The outer IPv6 flow label is the flow hash; an IPv4 outer needs none. */
	flow_label = sel.backend->family == WP_FAMILY_IPV6 ? wp_selection_hash(&pkt, &svc) : 0;
	ret = wp_encap_check(&pkt, sel.backend, cfg);
	if (ret == WP_OK)
		ret = wp_fib_next_hop(ctx, &pkt, sel.backend, sel.backend_id, cfg, flow_label, sel.now, &nh);
	if (ret == WP_OK)
		ret = wp_encap(ctx, &pkt, sel.backend, cfg, &nh, flow_label);
	if (ret != WP_OK)
		return wp_verdict(ret, frame_len);

	wp_count_forward(svc.service_id, sel.backend_id, frame_len);
	return nh.redirect ? bpf_redirect(nh.ifindex, 0) : XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
