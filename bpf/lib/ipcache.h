/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ipcache: which security identity an address has, by longest prefix
 * (a pod's /32 or /128, a CIDR a policy names, ...). An address no prefix
 * covers is the reserved world identity, as in Cilium. Layout: abi.h,
 * wp_ipcache_key / wp_ipcache_value.
 */
#ifndef WASMPLANE_LIB_IPCACHE_H
#define WASMPLANE_LIB_IPCACHE_H

#include "common.h"
#include "maps.h"

/* Writes: control plane (src/endpoint: pods' addresses, the engine's CIDR
 * prefixes). Reads: tc programs, the peer of every packet not a reply. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct wp_ipcache_key);
	__type(value, struct wp_ipcache_value);
	__uint(max_entries, WASMPLANE_IPCACHE_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	WP_PINNED
} wp_ipcache SEC(".maps");

/* The identity of `addr` (16 bytes, IPv4 in bytes 0-3 and zeros after). */
static __always_inline __u32 wp_ipcache_identity(const __u8 *addr, __u8 family)
{
	struct wp_ipcache_key key = {
		.prefixlen = WP_IPCACHE_PREFIX_BASE + (family == WP_FAMILY_IPV4 ? 32 : 128),
		.family = family,
	};
	struct wp_ipcache_value *value;

	wp_memcpy(key.addr, addr, 16);
	value = bpf_map_lookup_elem(&wp_ipcache, &key);
	return value ? value->identity : WP_IDENTITY_WORLD;
}

#endif /* WASMPLANE_LIB_IPCACHE_H */
