/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksum (RFC 1071) for the one header this datapath writes:
 * the outer IPv4 header. The inner packet is never modified (IP-in-IP), so
 * no L4 checksum is touched: TCP and UDP checksums and SCTP's CRC32c stay
 * valid as received.
 */
#ifndef WASMPLANE_LIB_CSUM_H
#define WASMPLANE_LIB_CSUM_H

#include "common.h"

/* Folds a 32-bit one's complement sum to 16 bits and complements it. */
static __always_inline __u16 wp_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Header checksum of a 20-byte IPv4 header whose check field is zero. The
 * words are summed in memory order, so the result is stored as is. */
static __always_inline __u16 wp_ipv4_hdr_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < WP_IPV4_HDR_LEN / 2; i++)
		sum += w[i];
	return wp_csum_fold(sum);
}

#endif /* WASMPLANE_LIB_CSUM_H */
