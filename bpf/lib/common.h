/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Includes and small definitions every wasmplane BPF header relies on.
 *
 * Kernel UAPI headers give the wire structs (ethhdr, iphdr, ipv6hdr) and
 * the BPF ABI; libbpf's bpf_helpers.h gives SEC(), __uint() and the helper
 * prototypes. Return convention of every wasmplane helper that can fail:
 *
 *   WP_OK (0)     continue
 *   WP_PASS (-1)  not ours: XDP_PASS, packet untouched, nothing counted
 *   > 0           drop, the value is a stable reason from drop_reasons.h
 */
#ifndef WASMPLANE_LIB_COMMON_H
#define WASMPLANE_LIB_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../include/wasmplane/abi.h"
#include "../include/wasmplane/drop_reasons.h"

#define WP_OK		0
#define WP_PASS		(-1)

#ifndef AF_INET
#define AF_INET		2
#endif
#ifndef AF_INET6
#define AF_INET6	10
#endif

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP	132
#endif
#define WP_IPPROTO_ICMPV6	58
#define WP_IPPROTO_HOPOPTS	0
#define WP_IPPROTO_ROUTING	43
#define WP_IPPROTO_FRAGMENT	44
#define WP_IPPROTO_AH		51
#define WP_IPPROTO_NONE		59
#define WP_IPPROTO_DSTOPTS	60

#define WP_IPV4_HDR_LEN		20	/* sizeof(struct iphdr) without options */
#define WP_IPV6_HDR_LEN		40	/* sizeof(struct ipv6hdr) */

#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

/* Copies a fixed number of bytes; clang lowers it to plain loads/stores. */
#define wp_memcpy(dst, src, n)	__builtin_memcpy((dst), (src), (n))
#define wp_memset(dst, c, n)	__builtin_memset((dst), (c), (n))

static __always_inline int wp_is_zero6(const __u8 *mac)
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

static __always_inline int wp_is_zero16(const __u8 *addr)
{
	__u64 w[2];

	wp_memcpy(w, addr, sizeof(w));
	return (w[0] | w[1]) == 0;
}

#endif /* WASMPLANE_LIB_COMMON_H */
