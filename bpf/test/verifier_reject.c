// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fails verification on purpose: reads the packet without a bounds check, so
 * the verifier answers "invalid access to packet". The host test expects a
 * BpfLoadError that carries this log.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_unchecked(struct xdp_md *ctx)
{
	__u32 *word = (void *)(long)ctx->data;

	return *word == 0 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
