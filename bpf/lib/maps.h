/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the XDP load balancer, declared once. Layouts are owned by
 * include/wasmplane/abi.h; each declaration says who writes and who reads.
 * "Control plane" is the TypeScript host (src/lb); "datapath" is xdp_lb.c.
 *
 * Every map is pinned by name (LIBBPF_PIN_BY_NAME) under the loader's pin
 * root (src/lb: /sys/fs/bpf/wasmplane) and reused from there by the next
 * load, so a restart of the control plane keeps the flow LRU (established
 * flows keep their backend), affinity, counters, and the services and IDs
 * it wrote. Loaders that pin into a directory of their own build with
 * -DWASMPLANE_PIN_MAPS=0: with the attribute, `bpftool prog loadall OBJ DIR
 * pinmaps MAPDIR` has libbpf pin every map under its default root,
 * /sys/fs/bpf/<name>, shared by every run, instead of under MAPDIR.
 */
#ifndef WASMPLANE_LIB_MAPS_H
#define WASMPLANE_LIB_MAPS_H

#include "common.h"

#ifndef WASMPLANE_PIN_MAPS
#define WASMPLANE_PIN_MAPS	1
#endif
#if WASMPLANE_PIN_MAPS
#define WP_PINNED	__uint(pinning, LIBBPF_PIN_BY_NAME);
#else
#define WP_PINNED
#endif

/* Writes: control plane (one entry per VIP). Reads: datapath, to tell
 * "not ours" (XDP_PASS) from "ours but unserved" (drop). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_vip_key);
	__type(value, struct wp_vip_value);
	__uint(max_entries, WASMPLANE_MAX_VIPS);
	WP_PINNED
} wp_vips SEC(".maps");

/* Writes: control plane. Reads: datapath, per packet, VIP:port/proto → service. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_service_key);
	__type(value, struct wp_service_value);
	__uint(max_entries, WASMPLANE_MAX_SERVICES);
	WP_PINNED
} wp_services SEC(".maps");

/* Writes: control plane (an all-zero value removes a backend). Reads:
 * datapath, to get the encapsulation target. An array, not a hash: the
 * backend ID is the index, so the lookup is an inlined bounds check instead
 * of hashing the key and walking a bucket on every forwarded packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_backend);
	__uint(max_entries, WASMPLANE_MAX_BACKENDS);
	WP_PINNED
} wp_backends SEC(".maps");

/* Writes: control plane. The outer map once per added or removed service
 * (in one batch per sync: every outer write waits an RCU grace period);
 * the inner arrays on every table change (the inactive buffer, whole,
 * built by the WASM Maglev engine), then wp_services flips table_slot.
 * Reads: datapath, buffer[table_slot].backend_ids[hash % M] for new flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, WASMPLANE_MAX_SERVICES);
	WP_PINNED
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		/* Sizes, not __type(value, struct wp_maglev_table): clang
		 * emits a struct reached only through a map definition's
		 * pointer as a BTF forward declaration (libbpf: "can't
		 * determine value size for type"), and a BTF key without a
		 * BTF value makes the kernel refuse the inner template
		 * (libbpf retries without BTF, with a warning). */
		__uint(key_size, sizeof(__u32));
		__uint(value_size, sizeof(struct wp_maglev_table));
		__uint(max_entries, WP_MAGLEV_TABLE_SLOTS);
	});
} wp_maglev_outer SEC(".maps");

/* Writes: control plane (slots 0..backend_count-1 per random service).
 * Reads: datapath, for new flows of WP_ALG_RANDOM services. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_random_slot_key);
	__type(value, __u32);
	__uint(max_entries, WASMPLANE_MAX_RANDOM_SLOTS);
	WP_PINNED
} wp_random_slots SEC(".maps");

/* Writes: datapath (new flows; last_seen refreshed in place). Reads:
 * datapath, first thing for every service packet. The control plane may
 * read it and delete entries (for example of a removed backend). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_flow_key);
	__type(value, struct wp_flow_value);
	__uint(max_entries, WASMPLANE_FLOW_LRU_SIZE);
	WP_PINNED
} wp_flows SEC(".maps");

/* Writes: datapath (services with WP_SVC_F_SESSION_AFFINITY). Reads:
 * datapath, for new flows of those services. The control plane may read
 * and delete entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_affinity_key);
	__type(value, struct wp_affinity_value);
	__uint(max_entries, WASMPLANE_AFFINITY_LRU_SIZE);
	WP_PINNED
} wp_affinity SEC(".maps");

/* Writes: datapath (first fragment of a datagram to a service). Reads:
 * datapath (later fragments, which carry no ports). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_frag_key);
	__type(value, struct wp_frag_value);
	__uint(max_entries, WASMPLANE_FRAG_LRU_SIZE);
	WP_PINNED
} wp_fragments SEC(".maps");

/* Writes: datapath (forwarded packets). Reads: control plane (sum the CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WASMPLANE_MAX_SERVICES);
	WP_PINNED
} wp_service_counters SEC(".maps");

/* Writes: datapath (forwarded packets). Reads: control plane (sum the CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WASMPLANE_MAX_BACKENDS);
	WP_PINNED
} wp_backend_counters SEC(".maps");

/* Writes: datapath (every XDP_DROP, indexed by reason). Reads: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WP_DROP_SLOTS);
	WP_PINNED
} wp_drop_counters SEC(".maps");

/* Writes: datapath (a FIB answer per backend, per CPU, lib/fib.h); the
 * control plane may clear entries. Reads: datapath, per forwarded packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_next_hop_entry);
	__uint(max_entries, WASMPLANE_MAX_BACKENDS);
	WP_PINNED
} wp_next_hops SEC(".maps");

/* Writes: control plane (key 0). Reads: datapath, per forwarded packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_config);
	__uint(max_entries, 1);
	WP_PINNED
} wp_config SEC(".maps");

#endif /* WASMPLANE_LIB_MAPS_H */
