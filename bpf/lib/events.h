/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow events: the ring buffer the tc programs report policy verdicts into,
 * and the counter of records that did not fit.
 *
 *   tc program ──wp_emit_flow_event()──▶ wp_flow_events (ring) ──▶ host reader
 *                       │ ring full                                 (src/events)
 *                       ▼
 *               wp_flow_event_losses[0] += 1 (this CPU)
 *
 * The record is struct wp_flow_event (include/wasmplane/abi.h, 72 bytes).
 * The host reader is src/bpf/ringbuf.ts (libbpf's ring_buffer__consume) with
 * the codec in src/events/flow-event.ts; it sums wp_flow_event_losses over
 * the CPUs, so that records received + records lost = records emitted.
 *
 * Include after common.h (and, when the program has them, maps.h). This
 * header does not pull in the load balancer's maps: a tc program that only
 * reports events gets only these two maps.
 */
#ifndef WASMPLANE_LIB_EVENTS_H
#define WASMPLANE_LIB_EVENTS_H

#include "common.h"

/* Bytes of the flow event ring. The kernel wants a power of two that is a
 * multiple of the page size (4 KiB on x86-64; 64 KiB on some arm64 kernels,
 * where a smaller value fails map creation with EINVAL). Each record takes
 * 8 bytes of ring header plus 72 bytes of payload (BPF_RINGBUF_HDR_SZ, and
 * the payload rounded up to 8): the 1 MiB default holds 13,107 records not
 * yet read. Mirrored in src/events/flow-event.ts
 * (FLOW_EVENTS_DEFAULT_BYTES). */
#ifndef WASMPLANE_FLOW_EVENTS_BYTES
#define WASMPLANE_FLOW_EVENTS_BYTES	(1 << 20)
#endif

_Static_assert(WASMPLANE_FLOW_EVENTS_BYTES >= 4096 &&
	       (WASMPLANE_FLOW_EVENTS_BYTES & (WASMPLANE_FLOW_EVENTS_BYTES - 1)) == 0,
	       "WASMPLANE_FLOW_EVENTS_BYTES must be a power of two and at least one 4 KiB page");

/* Same pinning switch as maps.h (identical definitions, so either header may
 * come first): pinned by name under the loader's pin root unless built with
 * -DWASMPLANE_PIN_MAPS=0. */
#ifndef WASMPLANE_PIN_MAPS
#define WASMPLANE_PIN_MAPS	1
#endif
#ifndef WP_PINNED
#if WASMPLANE_PIN_MAPS
#define WP_PINNED	__uint(pinning, LIBBPF_PIN_BY_NAME);
#else
#define WP_PINNED
#endif
#endif

/* Writes: tc programs (wp_emit_flow_event: every policy drop, every new
 * allowed connection). Reads: control plane (src/events FlowEventReader,
 * through libbpf's ring_buffer API); reading frees the space. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, WASMPLANE_FLOW_EVENTS_BYTES);
	WP_PINNED
} wp_flow_events SEC(".maps");

/* Writes: tc programs (key 0, +1 per record the ring had no room for).
 * Reads: control plane (sums the CPUs; never reset by the datapath). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
	WP_PINNED
} wp_flow_event_losses SEC(".maps");

/* Copies *ev into the ring: reserve a slot, copy the 72 bytes, submit.
 * Measured against bpf_ringbuf_output() (one helper call that does the
 * same) with bpf/test/events_test.c under BPF_PROG_TEST_RUN, Linux 6.18:
 * about 10 ns (10%) cheaper per record, since the copy is inlined loads and
 * stores instead of a memcpy call. When the ring is full the record is
 * dropped and counted; the packet's verdict never depends on it. Flags 0:
 * the kernel wakes a poller of the ring only when the reader has caught up
 * (adaptive notification), which the host reader relies on. */
static __always_inline void wp_emit_flow_event(const struct wp_flow_event *ev)
{
	struct wp_flow_event *slot;
	__u32 zero = 0;
	__u64 *lost;

	slot = bpf_ringbuf_reserve(&wp_flow_events, sizeof(*slot), 0);
	if (likely(slot)) {
		wp_memcpy(slot, ev, sizeof(*slot));
		bpf_ringbuf_submit(slot, 0);
		return;
	}
	lost = bpf_map_lookup_elem(&wp_flow_event_losses, &zero);
	if (lost)
		*lost += 1;
}

#endif /* WASMPLANE_LIB_EVENTS_H */
