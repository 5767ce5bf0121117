/* Byte layouts shared by the host-layer test program and test/bpf-host.test.ts.
 *
 * The test describes these structs in TypeScript and checks the description
 * against the BTF clang emits for them: the C header is the one owner of the
 * layout, the TypeScript side is verified, never trusted. Explicit padding, no
 * bitfields, sizes asserted at compile time.
 */
#ifndef WASMPLANE_TEST_LAYOUT_H
#define WASMPLANE_TEST_LAYOUT_H

#include <linux/types.h>

/* Value of the `backends` hash map: one backend of a service. */
struct wp_test_backend {
	__u32 addr;    /* 0: IPv4 address, network byte order */
	__u16 port;    /* 4: network byte order */
	__u8 proto;    /* 6: IPPROTO_* */
	__u8 flags;    /* 7 */
	__u64 packets; /* 8 */
};
_Static_assert(sizeof(struct wp_test_backend) == 16, "wp_test_backend is 16 bytes");

/* Key of the `prefixes` LPM trie: prefix length first, as the kernel requires. */
struct wp_test_lpm_key {
	__u32 prefixlen; /* 0 */
	__u32 addr;      /* 4: IPv4, network byte order */
};
_Static_assert(sizeof(struct wp_test_lpm_key) == 8, "wp_test_lpm_key is 8 bytes");

#endif
