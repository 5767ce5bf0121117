/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ipcache: which security identity an address has, by longest prefix
 * (a pod's /32 or /128, a CIDR a policy names, ...). An address no prefix
 * covers is the reserved world identity, as in Cilium. Layout: abi.h,
 * wp_ipcache_key / wp_ipcache_value.
 *
 *   wp_ipcache_exact (hash: /32, /128) ──hit──▶ identity
 *     │ miss
 *   wp_ipcache (LPM trie: every prefix) ──hit──▶ identity
 *     │ miss
 *     ▼ WP_IDENTITY_WORLD
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

/* Writes: control plane (src/endpoint: every full-length prefix of
 * wp_ipcache, /32 and /128, with the same key and value bytes, written from
 * the same plan). Reads: tc programs, before the trie: a hit is the longest
 * prefix there can be, so the trie is only walked for addresses that are
 * not a pod's (CIDR peers, the world). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_ipcache_key);
	__type(value, struct wp_ipcache_value);
	__uint(max_entries, WASMPLANE_IPCACHE_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	WP_PINNED
} wp_ipcache_exact SEC(".maps");

/*
 * The identity of `addr` (16 bytes, IPv4 in bytes 0-3 and zeros after):
 * wp_ipcache_exact, then the trie with the same key. Both give the same
 * answer for a full-length prefix; the hash costs one hash of the 24-byte
 * key where the trie walks a node per differing bit run (measured figures:
 * docs/enforcement.md, "Lookups").
 */
static __always_inline __u32 wp_ipcache_identity(const __u8 *addr, __u8 family)
{
	struct wp_ipcache_key key = {
		.prefixlen = WP_IPCACHE_PREFIX_BASE + (family == WP_FAMILY_IPV4 ? 32 : 128),
		.family = family,
	};
	struct wp_ipcache_value *value;

	wp_memcpy(key.addr, addr, 16);
	value = bpf_map_lookup_elem(&wp_ipcache_exact, &key);
	if (value)
		return value->identity;
	value = bpf_map_lookup_elem(&wp_ipcache, &key);
	return value ? value->identity : WP_IDENTITY_WORLD;
}

#endif /* WASMPLANE_LIB_IPCACHE_H */
