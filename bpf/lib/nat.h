/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * East-west service translation for the tc programs on a pod's host-side
 * veth (bpf/tc_endpoint.c): ClusterIP DNAT on the way out of a pod, reverse
 * NAT on the way back in. Socket-less, per packet, like Cilium's
 * lb4_local()/lb4_rev_nat() without its conntrack.
 *
 *   from_endpoint (tc ingress of the host veth: traffic FROM the pod)
 *     parse ─▶ wp_nat_translate ─▶ policy (sees the backend) ─▶ stack
 *                │ VIP:port/proto in wp_services?  no ─▶ untouched
 *                │ backend: lb.h, exactly as xdp_lb.c (flow LRU, affinity,
 *                │          Maglev or random), same maps, same knobs
 *                │ daddr:dport := backend addr:port, checksums fixed
 *                ▼ wp_rev_nat[backend:port → client:port] := VIP:port, IDs
 *
 *   to_endpoint (tc egress of the host veth: traffic TO the pod)
 *     parse ─▶ wp_nat_reverse ─▶ policy ─▶ pod
 *                │ wp_rev_nat[the packet's tuple]?  no ─▶ untouched
 *                ▼ saddr:sport := VIP:port, checksums fixed
 *
 * Contract of both functions (common.h's convention): WP_OK, the packet
 * goes on (translated or not: res->flags says which); > 0, a drop reason
 * for the caller to count (wp_count_drop) and return TC_ACT_SHOT for. They
 * never return WP_PASS. res is always filled: service_id 0 and backend_id
 * WP_BACKEND_ID_NONE when nothing was translated.
 *
 * What the policy step sees afterwards: pkt->flow names the backend in both
 * directions, as Cilium's policy does (it decides on the backend, the real
 * peer, never on a VIP, which has no identity):
 *   - wp_nat_translate sets pkt->flow.daddr/dport to the backend's, the new
 *     destination on the wire; the frontend it replaced is in res.
 *   - wp_nat_reverse leaves pkt->flow as received (source = the backend),
 *     while the wire now says VIP:port; res holds that frontend. A flow
 *     event of a reply reports res->frontend as the source if it wants the
 *     wire, pkt->flow if it wants the peer; WP_EVENT_F_TRANSLATED says which
 *     packets were rewritten (res->flags holds that bit).
 *
 * Checksums (all through the skb helpers, which also keep skb->csum right
 * for CHECKSUM_COMPLETE and only adjust the pseudo-header sum of
 * CHECKSUM_PARTIAL packets, as a pod's offloaded TCP usually is):
 *   - IPv4 header: bpf_l3_csum_replace for the address;
 *   - TCP and UDP: bpf_l4_csum_replace, BPF_F_PSEUDO_HDR for the address
 *     (IPv6: one bpf_csum_diff of the 16 bytes), plain for the port; UDP
 *     with BPF_F_MARK_MANGLED_0: a zero UDP checksum over IPv4 ("none",
 *     RFC 768) stays zero, and a computed zero is written as 0xFFFF;
 *   - SCTP: its CRC32c covers no pseudo-header (RFC 9260 §6.8), so a new
 *     address needs no checksum change; a new port does. CRC32c is linear,
 *     so the CRC of the changed packet is the old CRC xor the CRC (zero
 *     init, no final xor) of the difference, which is the difference of the
 *     4 port bytes shifted over the rest of the packet: a multiplication by
 *     x^(8·(length - 4)) modulo the polynomial, done with the powers
 *     x^(8·2^k) below (zlib's crc32_combine method). Cost: at most 16
 *     carry-less multiplications, whatever the length, and only when the
 *     port changes. Needs the whole SCTP packet length, so an SCTP packet
 *     that is an IP fragment and needs a new port is dropped
 *     (WP_DROP_NAT_FAILED); with SCTP CRC offload (CHECKSUM_PARTIAL) the
 *     device rewrites the field anyway.
 *
 * Decisions:
 *   - Only TCP, UDP and SCTP are looked up. ICMP and ICMP errors
 *     (pkt->icmp_error) are left untouched: the quoted header inside an
 *     error is not rewritten (Cilium does; not done here).
 *   - A VIP port without a service drops WP_DROP_NO_SERVICE and a service
 *     without a backend WP_DROP_NO_BACKEND, as in xdp_lb.c (lb.h decides).
 *   - A backend of another family than the frontend (a 4in6 service of the
 *     XDP load balancer) cannot be translated in place: WP_DROP_NAT_FAMILY.
 *     Passing it untranslated would send pod traffic to a VIP no host
 *     serves east-west; a counted drop says why.
 *   - Fragments: the first fragment's ports are recorded in wp_fragments
 *     (frag.h) by both functions (translate: under the client's tuple to
 *     the VIP; reverse: under the reply's tuple); a later fragment must get
 *     its ports from frag.h's wp_frag_restore_ports() before the call (as
 *     xdp_lb.c does) and then gets its address rewritten (it carries no L4
 *     header). Not covered by test/tc-nat.test.ts yet.
 *   - Reverse NAT entries are written only when missing or different, so
 *     an established flow costs one lookup, not one update, per packet.
 *   - Counters: the caller counts (wp_count_forward with res's IDs when it
 *     forwards, wp_count_drop with the reason when it drops), since only
 *     the caller knows the final verdict after policy.
 *   - Frames are untagged Ethernet (parse.h's assumption): L3 at ETH_HLEN.
 *
 * Limits:
 *   - A client that uses one source port towards two frontends served by the
 *     same backend and port produces one tuple at the backend; the second
 *     flow's reverse entry replaces the first's (Cilium without SNAT has the
 *     same collision).
 *   - Every lb.h function used here takes no context (wp_lookup_service,
 *     wp_select_backend), so the selection is lb.h's own code; only packet
 *     writes are tc-specific and live here.
 */
#ifndef WASMPLANE_LIB_NAT_H
#define WASMPLANE_LIB_NAT_H

#include "common.h"
#include "frag.h"
#include "lb.h"
#include "maps.h"
#include "parse.h"

/* Writes: tc from_endpoint (wp_nat_translate, a new or changed flow).
 * Reads: tc to_endpoint (wp_nat_reverse, every packet to a pod). The
 * control plane reads and deletes entries (src/lb/nat.ts). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_flow_key);
	__type(value, struct wp_rev_nat_value);
	__uint(max_entries, WASMPLANE_REV_NAT_LRU_SIZE);
	WP_PINNED
} wp_rev_nat SEC(".maps");

/* Offsets in an untagged Ethernet frame. */
#define WP_NAT_IPV4_CSUM_OFF	(ETH_HLEN + 10)
#define WP_NAT_IPV4_SADDR_OFF	(ETH_HLEN + 12)
#define WP_NAT_IPV4_DADDR_OFF	(ETH_HLEN + 16)
#define WP_NAT_IPV6_SADDR_OFF	(ETH_HLEN + 8)
#define WP_NAT_IPV6_DADDR_OFF	(ETH_HLEN + 24)
/* Checksum fields from the start of the L4 header. */
#define WP_NAT_TCP_CSUM		16
#define WP_NAT_UDP_CSUM		6
#define WP_NAT_SCTP_CSUM	8

/* The CRC32c polynomial, reflected (RFC 9260 Appendix A). */
#define WP_CRC32C_POLY		0x82F63B78u
/* Bits of an SCTP length the CRC shift handles: lengths below 2^16. */
#define WP_CRC32C_SHIFT_BITS	16

/* What a translation did, for the caller's counters and flow events. */
struct wp_nat_result {
	__u32	service_id;	/* 0: nothing translated */
	__u32	backend_id;	/* WP_BACKEND_ID_NONE: nothing translated */
	__u8	flags;		/* WP_EVENT_F_TRANSLATED when the packet was rewritten */
	__u8	pad;
	__be16	frontend_port;	/* the VIP's port: replaced (translate) or written (reverse) */
	__u8	frontend[16];	/* the VIP: replaced (translate) or written (reverse) */
};

static __always_inline void wp_nat_result_init(struct wp_nat_result *res)
{
	wp_memset(res, 0, sizeof(*res));
	res->backend_id = WP_BACKEND_ID_NONE;
}

/* Offset of the TCP or UDP checksum field, 0 for SCTP (no Internet checksum). */
static __always_inline __u32 wp_nat_csum_off(const struct wp_packet *pkt)
{
	if (pkt->ip_protocol == IPPROTO_TCP)
		return (__u32)pkt->l4_off + WP_NAT_TCP_CSUM;
	if (pkt->ip_protocol == IPPROTO_UDP)
		return (__u32)pkt->l4_off + WP_NAT_UDP_CSUM;
	return 0;
}

/* UDP: keep a zero ("no checksum") zero, and never write a computed zero. */
static __always_inline __u64 wp_nat_csum_flags(const struct wp_packet *pkt)
{
	return pkt->ip_protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

static __always_inline int wp_nat_addr_equal(const __u8 *a, const __u8 *b)
{
	__u64 x[2], y[2];

	wp_memcpy(x, a, sizeof(x));
	wp_memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * Writes `to` over the address at `addr_off` (the source or destination of
 * the IP header) and fixes the IPv4 header checksum and the TCP/UDP
 * checksum (pseudo-header). Later fragments have no L4 header to fix.
 * `from` and `to` are 16-byte stack buffers (IPv4 in bytes 0-3).
 */
static __always_inline int wp_nat_write_addr(struct __sk_buff *skb, const struct wp_packet *pkt,
					     __u32 addr_off, const __u8 *from, const __u8 *to)
{
	__u32 csum_off = pkt->frag == WP_FRAG_LATER ? 0 : wp_nat_csum_off(pkt);
	__u64 flags = BPF_F_PSEUDO_HDR | wp_nat_csum_flags(pkt);

	if (pkt->flow.family == WP_FAMILY_IPV4) {
		__be32 old4, new4;

		wp_memcpy(&old4, from, 4);
		wp_memcpy(&new4, to, 4);
		if (bpf_l3_csum_replace(skb, WP_NAT_IPV4_CSUM_OFF, old4, new4, sizeof(new4)))
			return WP_DROP_NAT_FAILED;
		if (csum_off && bpf_l4_csum_replace(skb, csum_off, old4, new4, flags | sizeof(new4)))
			return WP_DROP_NAT_FAILED;
		if (bpf_skb_store_bytes(skb, addr_off, &new4, sizeof(new4), 0))
			return WP_DROP_NAT_FAILED;
		return WP_OK;
	}

	if (csum_off) {
		/* IPv6 has no header checksum; size 0: `to` of the helper is
		 * a checksum difference (bpf_csum_diff of the 16 bytes). */
		__s64 diff = bpf_csum_diff((__be32 *)from, 16, (__be32 *)to, 16, 0);

		if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u32)diff, flags))
			return WP_DROP_NAT_FAILED;
	}
	if (bpf_skb_store_bytes(skb, addr_off, to, 16, 0))
		return WP_DROP_NAT_FAILED;
	return WP_OK;
}

/*
 * Verifier workarounds: the CRC arithmetic below has no branch, and picks
 * values by multiplying them with a 0-or-1 bit, not with a mask.
 *   - With branches, the verifier tracks the table constants exactly, so
 *     the two sides of every "is this bit set" never look alike and are
 *     never pruned: 2^16 paths ("BPF program is too large. Processed
 *     1000001 insn"). The compiler turns "y & mask" and "y * bit" into a
 *     select, which the BPF backend lowers to a branch: the empty asm
 *     hides the bit from the compiler.
 *   - A 0/-1 mask (0 - bit) is no better on recent kernels (Linux 6.18
 *     here): the verifier forks its state on an AND with a [-1, 0] value
 *     to stay precise, which is 2^16 paths again. A product bit * y is
 *     just an unknown scalar to it.
 */

/* y when bit 0 of x is set, else zero. */
static __always_inline __u32 wp_crc32c_pick(__u32 x, __u32 y)
{
	__u32 bit = x & 1u;

	asm volatile("" : "+r"(bit));
	return bit * y;
}

/*
 * Carry-less product a·b modulo the CRC32c polynomial, in the reflected
 * representation (bit 31 is x^0): zlib's multmodp(), bounded, branchless.
 */
static __always_inline __u32 wp_crc32c_multmodp(__u32 a, __u32 b)
{
	__u32 p = 0;
	int i;

#pragma unroll
	for (i = 0; i < 32; i++) {
		p ^= wp_crc32c_pick(a >> (31 - i), b);
		b = (b >> 1) ^ wp_crc32c_pick(b, WP_CRC32C_POLY);
	}
	return p;
}

/*
 * x^(8·n) mod P for n < 2^16: the product of x^(8·2^k) over the bits k of
 * n. The constants are x^(2^(k+3)) mod P, squared up from x (reflected),
 * as zlib's x2n_table; test/tc-nat.test.ts checks the result against a
 * CRC32c computed over the whole rewritten packet. Every factor is
 * multiplied and then kept or not (see the workarounds above).
 */
static __always_inline __u32 wp_crc32c_x8n(__u32 n)
{
	const __u32 x8pow2k[WP_CRC32C_SHIFT_BITS] = {
		0x00800000, 0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18, 0x510ac59a, 0xb82be955, 0xb8fdb1e7,
		0x88e56f72, 0x74c360a4, 0xe4172b16, 0x0d65762a, 0x35d73a62, 0x28461564, 0xbf455269, 0xe2ea32dc,
	};
	__u32 p = 1u << 31;	/* x^0 */
	int k;

#pragma unroll
	for (k = 0; k < WP_CRC32C_SHIFT_BITS; k++) {
		/* p, or p times the factor: p ^ bit * (p ^ p·factor). */
		p ^= wp_crc32c_pick(n >> k, p ^ wp_crc32c_multmodp(x8pow2k[k], p));
	}
	return p;
}

/*
 * The CRC32c change when the first 4 bytes of a `len`-byte SCTP packet (its
 * ports) change by `diff` (old xor new, the 4 bytes in packet order, read
 * as a little-endian word: byte 0 in bits 0-7): the CRC, with zero init and
 * no final xor, of those bytes followed by len - 4 zero bytes.
 *
 * Verifier workaround: a global function (not static, not inlined), so the
 * verifier checks its ~4,500 straight-line instructions once, with unknown
 * arguments, instead of once for every path of the caller that reaches it
 * ("BPF program is too large. Processed 1000001 insn" when inlined).
 * Needs BTF for the object (clang -g) and kernel 5.6+ (global functions).
 */
__attribute__((noinline)) __u32 wp_crc32c_port_delta(__u32 diff, __u32 len)
{
	__u32 crc = 0;
	int i, bit;

#pragma unroll
	for (i = 0; i < 4; i++) {
		crc ^= (diff >> (8 * i)) & 0xff;
#pragma unroll
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ wp_crc32c_pick(crc, WP_CRC32C_POLY);
	}
	return wp_crc32c_multmodp(wp_crc32c_x8n(len - 4), crc);
}

/*
 * Writes `to` over the port at `port_off` (l4_off: source, l4_off + 2:
 * destination) and fixes the L4 checksum: Internet checksum for TCP and
 * UDP, CRC32c for SCTP (see the top of this file).
 */
static __always_inline int wp_nat_write_port(struct __sk_buff *skb, const struct wp_packet *pkt,
					     __u32 port_off, __be16 from, __be16 to)
{
	__u32 csum_off = wp_nat_csum_off(pkt);

	if (csum_off) {
		if (bpf_l4_csum_replace(skb, csum_off, from, to, wp_nat_csum_flags(pkt) | sizeof(to)))
			return WP_DROP_NAT_FAILED;
	} else if (pkt->ip_protocol == IPPROTO_SCTP) {
		__u32 crc_off = (__u32)pkt->l4_off + WP_NAT_SCTP_CSUM;
		__u32 len = (__u32)pkt->l3_end - pkt->l4_off;
		const __u8 *f = (const __u8 *)&from, *t = (const __u8 *)&to;
		/* The port's 2 bytes in the 4-byte port word (source: bytes
		 * 0-1, destination: bytes 2-3); the other port is unchanged. */
		__u32 shift = port_off == pkt->l4_off ? 0 : 16;
		__u32 diff = ((__u32)(f[0] ^ t[0]) | ((__u32)(f[1] ^ t[1]) << 8)) << shift;
		__u8 crc[4];
		__u32 delta;

		if (pkt->frag != WP_FRAG_NONE || len < WP_SCTP_HDR_LEN)
			return WP_DROP_NAT_FAILED;
		if (bpf_skb_load_bytes(skb, crc_off, crc, sizeof(crc)))
			return WP_DROP_NAT_FAILED;
		/* The CRC is stored least significant byte first (RFC 9260
		 * Appendix A), whatever the host's byte order. */
		delta = wp_crc32c_port_delta(diff, len);
		crc[0] ^= delta & 0xff;
		crc[1] ^= (delta >> 8) & 0xff;
		crc[2] ^= (delta >> 16) & 0xff;
		crc[3] ^= delta >> 24;
		if (bpf_skb_store_bytes(skb, crc_off, crc, sizeof(crc), 0))
			return WP_DROP_NAT_FAILED;
	}
	if (bpf_skb_store_bytes(skb, port_off, &to, sizeof(to), 0))
		return WP_DROP_NAT_FAILED;
	return WP_OK;
}

/* Records (or refreshes when it differs) the reverse entry of a translated flow. */
static __always_inline void wp_nat_remember(const struct wp_packet *pkt, const struct wp_backend *be,
					    __u32 service_id, __u32 backend_id)
{
	struct wp_flow_key reply = {};
	struct wp_rev_nat_value value = {}, *known;

	wp_memcpy(reply.saddr, be->addr, 16);
	wp_memcpy(reply.daddr, pkt->flow.saddr, 16);
	reply.sport = be->port;
	reply.dport = pkt->flow.sport;
	reply.protocol = pkt->flow.protocol;
	reply.family = pkt->flow.family;

	known = bpf_map_lookup_elem(&wp_rev_nat, &reply);
	if (known && known->service_id == service_id && known->backend_id == backend_id &&
	    known->port == pkt->flow.dport && wp_nat_addr_equal(known->vip, pkt->flow.daddr))
		return;
	wp_memcpy(value.vip, pkt->flow.daddr, 16);
	value.port = pkt->flow.dport;
	value.service_id = service_id;
	value.backend_id = backend_id;
	bpf_map_update_elem(&wp_rev_nat, &reply, &value, BPF_ANY);
}

/*
 * from_endpoint: a packet from a pod to a service frontend gets the
 * backend lb.h selects as its destination (address and port), and a
 * reverse entry for the replies. pkt is the parsed packet (parse.h; for a
 * later fragment with its ports restored); it is updated to the backend.
 */
static __always_inline int wp_nat_translate(struct __sk_buff *skb, struct wp_packet *pkt,
					    struct wp_nat_result *res)
{
	struct wp_service_value svc = {};
	struct wp_selection sel = {};
	struct wp_backend be;
	__u32 daddr_off;
	int ret;

	wp_nat_result_init(res);
	if (!pkt->l3_ok || pkt->icmp_error)
		return WP_OK;
	switch (pkt->ip_protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		break;
	default:
		return WP_OK;
	}

	ret = wp_lookup_service(pkt, &svc);
	if (ret == WP_PASS)
		return WP_OK;
	if (ret != WP_OK)
		return ret;
	if (pkt->frag == WP_FRAG_FIRST)
		wp_frag_record(pkt);
	ret = wp_select_backend(pkt, &svc, &sel);
	if (ret != WP_OK)
		return ret;
	/* One copy: the control plane may replace the backend value meanwhile. */
	wp_memcpy(&be, sel.backend, sizeof(be));
	if (be.family != pkt->flow.family)
		return WP_DROP_NAT_FAMILY;

	daddr_off = pkt->flow.family == WP_FAMILY_IPV4 ? WP_NAT_IPV4_DADDR_OFF : WP_NAT_IPV6_DADDR_OFF;
	if (!wp_nat_addr_equal(pkt->flow.daddr, be.addr)) {
		ret = wp_nat_write_addr(skb, pkt, daddr_off, pkt->flow.daddr, be.addr);
		if (ret != WP_OK)
			return ret;
	}
	if (pkt->flow.dport != be.port && pkt->frag != WP_FRAG_LATER) {
		ret = wp_nat_write_port(skb, pkt, (__u32)pkt->l4_off + 2, pkt->flow.dport, be.port);
		if (ret != WP_OK)
			return ret;
	}
	wp_nat_remember(pkt, &be, svc.service_id, sel.backend_id);

	res->service_id = svc.service_id;
	res->backend_id = sel.backend_id;
	res->flags = WP_EVENT_F_TRANSLATED;
	res->frontend_port = pkt->flow.dport;
	wp_memcpy(res->frontend, pkt->flow.daddr, 16);
	wp_memcpy(pkt->flow.daddr, be.addr, 16);
	pkt->flow.dport = be.port;
	return WP_OK;
}

/*
 * to_endpoint: a reply from a backend to a client whose flow was
 * translated gets the frontend (VIP and port) back as its source. pkt (the
 * parsed packet) is left naming the backend; res holds the frontend.
 */
static __always_inline int wp_nat_reverse(struct __sk_buff *skb, struct wp_packet *pkt,
					  struct wp_nat_result *res)
{
	struct wp_rev_nat_value rev;
	const struct wp_rev_nat_value *found;
	__u32 saddr_off;
	int ret;

	wp_nat_result_init(res);
	if (!pkt->l3_ok || pkt->icmp_error)
		return WP_OK;
	switch (pkt->ip_protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		break;
	default:
		return WP_OK;
	}

	found = bpf_map_lookup_elem(&wp_rev_nat, &pkt->flow);
	if (!found)
		return WP_OK;
	/* One copy: a concurrent translate may replace the entry. */
	wp_memcpy(&rev, found, sizeof(rev));
	/* A reply's later fragments find their ports under this tuple
	 * (the caller's wp_frag_restore_ports, before this call). */
	if (pkt->frag == WP_FRAG_FIRST)
		wp_frag_record(pkt);

	saddr_off = pkt->flow.family == WP_FAMILY_IPV4 ? WP_NAT_IPV4_SADDR_OFF : WP_NAT_IPV6_SADDR_OFF;
	if (!wp_nat_addr_equal(pkt->flow.saddr, rev.vip)) {
		ret = wp_nat_write_addr(skb, pkt, saddr_off, pkt->flow.saddr, rev.vip);
		if (ret != WP_OK)
			return ret;
	}
	if (pkt->flow.sport != rev.port && pkt->frag != WP_FRAG_LATER) {
		ret = wp_nat_write_port(skb, pkt, pkt->l4_off, pkt->flow.sport, rev.port);
		if (ret != WP_OK)
			return ret;
	}

	res->service_id = rev.service_id;
	res->backend_id = rev.backend_id;
	res->flags = WP_EVENT_F_TRANSLATED;
	res->frontend_port = rev.port;
	wp_memcpy(res->frontend, rev.vip, 16);
	return WP_OK;
}

#endif /* WASMPLANE_LIB_NAT_H */
