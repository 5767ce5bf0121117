/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bob Jenkins' lookup3 hash in the form the Linux kernel
 * (include/linux/jhash.h) and Cilium (bpf/lib/jhash.h) use: the 3-word mix,
 * the final avalanche and the n-word entry points with JHASH_INITVAL.
 * Only jhash_3words() and the raw mix/final are provided: the flow hash
 * (hash.h) needs no more.
 *
 * Known answers (test/fixtures/bpf/flow-hash.ts checks its TypeScript twin):
 *   jhash_3words(123, 234, 345, 456) == 2698615579   (cilium bpf/tests/jhash_test.c)
 *   jhash_3words(0, 0, 0, 0)         == 459859287    (same file)
 */
#ifndef WASMPLANE_LIB_JHASH_H
#define WASMPLANE_LIB_JHASH_H

#include <linux/types.h>

#define WP_JHASH_INITVAL	0xdeadbeef

static __always_inline __u32 wp_rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

/* lookup3 mix(): reversible mixing of three 32-bit values. */
#define wp_jhash_mix(a, b, c)					\
	do {							\
		a -= c; a ^= wp_rol32(c, 4);  c += b;		\
		b -= a; b ^= wp_rol32(a, 6);  a += c;		\
		c -= b; c ^= wp_rol32(b, 8);  b += a;		\
		a -= c; a ^= wp_rol32(c, 16); c += b;		\
		b -= a; b ^= wp_rol32(a, 19); a += c;		\
		c -= b; c ^= wp_rol32(b, 4);  b += a;		\
	} while (0)

/* lookup3 final(): final mixing of three values into c. */
#define wp_jhash_final(a, b, c)					\
	do {							\
		c ^= b; c -= wp_rol32(b, 14);			\
		a ^= c; a -= wp_rol32(c, 11);			\
		b ^= a; b -= wp_rol32(a, 25);			\
		c ^= b; c -= wp_rol32(b, 16);			\
		a ^= c; a -= wp_rol32(c, 4);			\
		b ^= a; b -= wp_rol32(a, 14);			\
		c ^= b; c -= wp_rol32(b, 24);			\
	} while (0)

static __always_inline __u32 wp_jhash_nwords(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	a += initval;
	b += initval;
	c += initval;
	wp_jhash_final(a, b, c);
	return c;
}

static __always_inline __u32 wp_jhash_3words(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	return wp_jhash_nwords(a, b, c, initval + WP_JHASH_INITVAL + (3 << 2));
}

#endif /* WASMPLANE_LIB_JHASH_H */
