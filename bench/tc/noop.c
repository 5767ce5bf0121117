// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baseline of bench/tc-policy.bench.ts: a tc program that returns
 * TC_ACT_OK and touches nothing. Timed through BPF_PROG_TEST_RUN exactly
 * like the endpoint policy program, it measures what the harness costs on
 * its own (program dispatch, the test-run loop, the kernel's clock reads).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int wasmplane_tc_noop(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
