// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baseline of bench/xdp.bench.ts: an XDP program that returns XDP_PASS
 * and touches nothing. Timed through BPF_PROG_TEST_RUN exactly like the load
 * balancer, it measures what the harness costs on its own (program dispatch,
 * the test-run loop, the kernel's clock reads), so that the load balancer's
 * time minus this one is the load balancer's own work per packet.
 *
 * Compiled by the bench in the same run (scripts/build-bpf.mjs flags).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int wasmplane_xdp_noop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/*
 * The baseline of the live-frames rows whose load-balancer frames are
 * transmitted: the same verdict as the load balancer's fast path, the packet
 * untouched. In live-frames mode the kernel's time includes what happens to
 * a frame after the program (XDP_TX: transmission out of the veth and the
 * peer's program; XDP_PASS: an skb and the stack's receive path), so the
 * baseline that cancels it takes the same verdict.
 */
SEC("xdp")
int wasmplane_xdp_tx_noop(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
