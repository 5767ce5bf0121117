/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load-time knobs of the datapath: `const volatile` globals in .rodata.
 *
 * The loader sets them before BPF_PROG_LOAD (libbpf: the .rodata map's
 * initial value, or a skeleton's rodata); the verifier then sees constants
 * and prunes dead branches. They cannot change while the program runs:
 * values that may change at runtime (encapsulation source, fallback MAC)
 * live in the wp_config map instead (lib/maps.h).
 *
 * Each default can be replaced at build time with -D<MACRO>=<value>, which
 * is how tests without a loader of their own set them.
 */
#ifndef WASMPLANE_LIB_CONFIG_H
#define WASMPLANE_LIB_CONFIG_H

#include "common.h"

/* Flow hash seeds. The control plane derives them from the same 12-byte
 * Maglev hash seed as the table permutations (src/maglev/config.ts,
 * decodeHashSeed): jhash0 = bytes 4-7, jhash1 = bytes 8-11, big-endian.
 * Defaults: Cilium's default seed "JLfvgnHc2kaSUFaI". */
#ifndef WASMPLANE_JHASH0
#define WASMPLANE_JHASH0	0x71dcda46
#endif
#ifndef WASMPLANE_JHASH1
#define WASMPLANE_JHASH1	0x92505688
#endif
/* TTL / hop limit of the outer header (Katran's DEFAULT_TTL). */
#ifndef WASMPLANE_ENCAP_TTL
#define WASMPLANE_ENCAP_TTL	64
#endif
/* A UDP flow entry idle this long is forgotten and the next datagram is
 * balanced again (Katran's LRU_UDP_TIMEOUT); 0 keeps entries until the LRU
 * evicts them. TCP and SCTP entries never time out. */
#ifndef WASMPLANE_UDP_FLOW_TIMEOUT_SEC
#define WASMPLANE_UDP_FLOW_TIMEOUT_SEC	30
#endif

/* How long a next hop from bpf_fib_lookup() is reused for a backend
 * (wp_next_hops, lib/fib.h); 0 looks the FIB up for every packet. A route
 * or neighbour change reaches established streams within this time. */
#ifndef WASMPLANE_NEXT_HOP_CACHE_MS
#define WASMPLANE_NEXT_HOP_CACHE_MS	1000
#endif

const volatile __u32 wp_hash_seed_v4 = WASMPLANE_JHASH0;
const volatile __u32 wp_hash_seed_v6 = WASMPLANE_JHASH1;
const volatile __u8 wp_encap_ttl = WASMPLANE_ENCAP_TTL;
const volatile __u64 wp_udp_flow_timeout_ns = (__u64)WASMPLANE_UDP_FLOW_TIMEOUT_SEC * 1000000000ULL;
const volatile __u64 wp_next_hop_cache_ns = (__u64)WASMPLANE_NEXT_HOP_CACHE_MS * 1000000ULL;

#endif /* WASMPLANE_LIB_CONFIG_H */
