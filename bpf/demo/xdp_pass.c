// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `wasmplane demo` (and test/lb-e2e.test.ts, test/agent-e2e.test.ts):
 * XDP_PASS, attached (native) to the wire-side peer of the node's veth. The load balancer on the node sends encapsulated frames back
 * out of its interface with XDP_TX, and a veth hands such frames to its peer
 * only when the peer runs an XDP program of its own.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int wp_demo_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
