/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the XDP load balancer, declared once. Layouts are owned by
 * include/wasmplane/abi.h; each declaration says who writes and who reads.
 * "Control plane" is the TypeScript host; "datapath" is xdp_lb.c.
 */
#ifndef WASMPLANE_LIB_MAPS_H
#define WASMPLANE_LIB_MAPS_H

#include "common.h"

/* Writes: control plane (one entry per VIP). Reads: datapath, to tell
 * "not ours" (XDP_PASS) from "ours but unserved" (drop). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_vip_key);
	__type(value, struct wp_vip_value);
	__uint(max_entries, WASMPLANE_MAX_VIPS);
} wp_vips SEC(".maps");

/* Writes: control plane. Reads: datapath, per packet, VIP:port/proto → service. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_service_key);
	__type(value, struct wp_service_value);
	__uint(max_entries, WASMPLANE_MAX_SERVICES);
} wp_services SEC(".maps");

/* Writes: control plane. Reads: datapath, to get the encapsulation target. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct wp_backend);
	__uint(max_entries, WASMPLANE_MAX_BACKENDS);
} wp_backends SEC(".maps");

/* Writes: control plane (one inner table per service, swapped whole with a
 * single update of the outer map; tables built by the WASM Maglev engine).
 * Reads: datapath, table[hash % WASMPLANE_MAGLEV_M] for new flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, WASMPLANE_MAX_SERVICES);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__type(key, __u32);
		__type(value, __u32);
		__uint(max_entries, WASMPLANE_MAGLEV_M);
	});
} wp_maglev_outer SEC(".maps");

/* Writes: control plane (slots 0..backend_count-1 per random service).
 * Reads: datapath, for new flows of WP_ALG_RANDOM services. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct wp_random_slot_key);
	__type(value, __u32);
	__uint(max_entries, WASMPLANE_MAX_RANDOM_SLOTS);
} wp_random_slots SEC(".maps");

/* Writes: datapath (new flows; last_seen refreshed in place). Reads:
 * datapath, first thing for every service packet. The control plane may
 * read it and delete entries (for example of a removed backend). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_flow_key);
	__type(value, struct wp_flow_value);
	__uint(max_entries, WASMPLANE_FLOW_LRU_SIZE);
} wp_flows SEC(".maps");

/* Writes: datapath (services with WP_SVC_F_SESSION_AFFINITY). Reads:
 * datapath, for new flows of those services. The control plane may read
 * and delete entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_affinity_key);
	__type(value, struct wp_affinity_value);
	__uint(max_entries, WASMPLANE_AFFINITY_LRU_SIZE);
} wp_affinity SEC(".maps");

/* Writes: datapath (first fragment of a datagram to a service). Reads:
 * datapath (later fragments, which carry no ports). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct wp_frag_key);
	__type(value, struct wp_frag_value);
	__uint(max_entries, WASMPLANE_FRAG_LRU_SIZE);
} wp_fragments SEC(".maps");

/* Writes: datapath (forwarded packets). Reads: control plane (sum the CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WASMPLANE_MAX_SERVICES);
} wp_service_counters SEC(".maps");

/* Writes: datapath (forwarded packets). Reads: control plane (sum the CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WASMPLANE_MAX_BACKENDS);
} wp_backend_counters SEC(".maps");

/* Writes: datapath (every XDP_DROP, indexed by reason). Reads: control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_counter);
	__uint(max_entries, WP_DROP_SLOTS);
} wp_drop_counters SEC(".maps");

/* Writes: control plane (key 0). Reads: datapath, per forwarded packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct wp_config);
	__uint(max_entries, 1);
} wp_config SEC(".maps");

#endif /* WASMPLANE_LIB_MAPS_H */
