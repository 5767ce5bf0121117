// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The far end of bench/xdp.bench.ts's live-frames rows: attached to wp1,
 * the veth peer of the device (wp0) the live test runs "receive" on. A frame
 * a program returns XDP_TX for in live-frames mode is transmitted out of
 * wp0 and arrives here (a veth only accepts XDP frames when its peer has an
 * XDP program).
 *
 * Why it does more than XDP_PASS: in live-frames mode the kernel fills each
 * page of its page pool with the input packet once, and when a page comes
 * back to the pool it resets the packet pointers but not the bytes
 * (Documentation/bpf/bpf_prog_run.rst). The load balancer encapsulates in
 * place: its outer Ethernet and IP headers overwrite the original Ethernet
 * header, so a recycled page would hand it garbage, which it passes to the
 * stack (measured: only the first 64 frames, the fresh pages, reached a
 * backend). The pages of transmitted frames are recycled after this program
 * drops them, so it puts the input back first:
 *
 *   arrives:  | eth' | outer IP (strip bytes) | inner IP ... |
 *   leaves:          | eth (original)         | inner IP ... |   XDP_DROP
 *
 * bpf_xdp_adjust_head(strip) moves the start back to where the input
 * started; the original Ethernet header is written there. Both steps run
 * for every frame, with strip = 0 for a program that does not encapsulate,
 * so that a baseline returning XDP_TX pays the same far-end cost.
 *
 * New flows (vary_saddr, vary_sport non-zero): after the restore, the
 * input's client port and the last two bytes of its client address are
 * overwritten from a running count, so that every recycled page carries a
 * flow the load balancer has not seen (the L4 checksum goes stale; the load
 * balancer does not read it). The baseline's rows do the same writes.
 *
 * verify = 1 (not while timing): each frame is first compared byte for
 * byte with `expect`, the output the bench checked with a repeat = 1 run;
 * counts say how many frames arrived and how many matched. verify = 2:
 * frames are only counted (new flows: every frame is a different output).
 * Either way only frames of the expected length count: the stack sends a
 * little traffic of its own out of wp0 (router solicitations, MLD reports).
 *
 * The bench writes wpb_peer_config through bench/xdp/live.ts, whose layout
 * it checks against this file's BTF.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define WPB_MAX_FRAME 256

struct wpb_peer_config {
	__u32 strip;		/* bytes between the Ethernet header and the input's IP header */
	__u32 verify;		/* 1: compare each frame with expect and count; 2: count only */
	__u32 expect_len;
	__u16 vary_saddr;	/* offset of the client address's last two bytes; 0: leave them */
	__u16 vary_sport;	/* offset of the client port; 0: leave it */
	__u8 eth[16];		/* the input's Ethernet header (14 bytes used) */
	__u8 expect[WPB_MAX_FRAME];
};

struct wpb_scratch {
	__u8 bytes[WPB_MAX_FRAME];
};

/* Written by the bench before each run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wpb_peer_config);
} wpb_peer_config SEC(".maps");

/*
 * [0] frames of the expected length, [1] of them equal to expect, [2] not;
 * [3] could not be restored; [4] the new-flow count; [5] frames of another
 * length (the stack's own traffic out of wp0: router solicitations, MLD).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 6);
	__type(key, __u32);
	__type(value, __u64);
} wpb_peer_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wpb_scratch);
} wpb_peer_scratch SEC(".maps");

static __always_inline void wpb_count(__u32 index)
{
	__u64 *c = bpf_map_lookup_elem(&wpb_peer_counts, &index);

	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline int wpb_matches(struct xdp_md *ctx, const struct wpb_peer_config *cfg)
{
	__u32 len = ctx->data_end - ctx->data;
	struct wpb_scratch *buf;
	__u32 zero = 0, i;

	if (len == 0 || len > WPB_MAX_FRAME)
		return 0;
	/* The same value, in a form the verifier can bound to [1, 256]. */
	len = ((len - 1) & (WPB_MAX_FRAME - 1)) + 1;
	buf = bpf_map_lookup_elem(&wpb_peer_scratch, &zero);
	if (!buf || bpf_xdp_load_bytes(ctx, 0, buf->bytes, len))
		return 0;
	for (i = 0; i < WPB_MAX_FRAME; i++) {
		if (i >= len)
			break;
		if (buf->bytes[i] != cfg->expect[i])
			return 0;
	}
	return 1;
}

/* Two bytes at a variable offset below WPB_MAX_FRAME, bounds checked. */
static __always_inline void wpb_store16(void *data, void *data_end, __u16 offset, __u16 value)
{
	__u8 *p = data + (offset & (WPB_MAX_FRAME - 1));

	if ((void *)(p + 2) > data_end)
		return;
	p[0] = value >> 8;
	p[1] = value & 0xff;
}

static __always_inline void wpb_vary_flow(void *data, void *data_end, const struct wpb_peer_config *cfg)
{
	__u32 index = 4;
	__u64 *counter = bpf_map_lookup_elem(&wpb_peer_counts, &index);
	__u64 n;

	if (!counter)
		return;
	n = __sync_fetch_and_add(counter, 1);
	/* 2^24 flows before they repeat; 0xff in the address's next-to-last byte
	 * keeps them apart from the bench's other flows (cases.ts). */
	wpb_store16(data, data_end, cfg->vary_sport, n & 0xffff);
	wpb_store16(data, data_end, cfg->vary_saddr, 0xff00 | ((n >> 16) & 0xff));
}

SEC("xdp")
int wasmplane_bench_peer(struct xdp_md *ctx)
{
	const struct wpb_peer_config *cfg;
	__u32 zero = 0;
	void *data, *data_end;

	cfg = bpf_map_lookup_elem(&wpb_peer_config, &zero);
	if (!cfg)
		return XDP_DROP;
	if (cfg->verify) {
		if (ctx->data_end - ctx->data != cfg->expect_len) {
			wpb_count(5);
			return XDP_DROP;
		}
		wpb_count(0);
		if (cfg->verify == 1)
			wpb_count(wpb_matches(ctx, cfg) ? 1 : 2);
	}
	if (bpf_xdp_adjust_head(ctx, (int)cfg->strip)) {
		wpb_count(3);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end) {
		wpb_count(3);
		return XDP_DROP;
	}
	__builtin_memcpy(data, cfg->eth, 14);
	if (cfg->vary_saddr && cfg->vary_sport)
		wpb_vary_flow(data, data_end, cfg);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
