// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP_PASS and nothing else: attached (native) to the veth peer of the load
 * balancer's interface. A frame the load balancer sends back with XDP_TX on a
 * veth is only received by the peer when the peer has an XDP program too.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int wp_e2e_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
