/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Endpoints: the interface a tc program runs on (the host side of a pod's
 * veth) names the endpoint and with it the policy subject, its security
 * identity. Layout: abi.h, wp_endpoint_value.
 */
#ifndef WASMPLANE_LIB_ENDPOINT_H
#define WASMPLANE_LIB_ENDPOINT_H

#include "common.h"
#include "maps.h"

/* Writes: control plane (an entry per attached endpoint). Reads: tc
 * programs, first thing per packet; no entry: the packet passes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct wp_endpoint_value);
	__uint(max_entries, WASMPLANE_MAX_ENDPOINTS);
	WP_PINNED
} wp_endpoints SEC(".maps");

static __always_inline const struct wp_endpoint_value *wp_endpoint_of(__u32 ifindex)
{
	return bpf_map_lookup_elem(&wp_endpoints, &ifindex);
}

#endif /* WASMPLANE_LIB_ENDPOINT_H */
