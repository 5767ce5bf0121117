/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-CPU packet and byte counters: per service, per backend, per drop
 * reason. Per-CPU arrays need no atomics; readers sum the CPUs.
 * IDs at or above the map size are not counted (the array bounds them).
 */
#ifndef WASMPLANE_LIB_COUNTERS_H
#define WASMPLANE_LIB_COUNTERS_H

#include "common.h"
#include "maps.h"

static __always_inline void wp_count(void *map, __u32 index, __u64 bytes)
{
	struct wp_counter *c = bpf_map_lookup_elem(map, &index);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline void wp_count_drop(__u32 reason, __u64 bytes)
{
	wp_count(&wp_drop_counters, reason, bytes);
}

static __always_inline void wp_count_forward(__u32 service_id, __u32 backend_id, __u64 bytes)
{
	wp_count(&wp_service_counters, service_id, bytes);
	wp_count(&wp_backend_counters, backend_id, bytes);
}

#endif /* WASMPLANE_LIB_COUNTERS_H */
