/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one owner of every map key and value layout of the wasmplane datapath.
 *
 * The control plane (TypeScript host) writes these bytes; the programs in
 * bpf/ read them. Rules, after Cilium's bpf/lib/lb.h and Katran's
 * balancer_structs.h:
 *   - no bitfields, explicit padding (always written as zero), every size
 *     checked by _Static_assert;
 *   - addresses are 16 bytes in network byte order; an IPv4 address takes
 *     bytes 0-3 and bytes 4-15 are zero (the `family` field tells which);
 *   - ports are in network byte order (__be16), exactly as on the wire;
 *   - integers other than ports and addresses are host byte order
 *     (little-endian on x86-64 and arm64).
 *
 * Sizes below are defaults; each can be overridden at build time with
 * -DWASMPLANE_<NAME>=<value> (scripts/build-bpf.mjs passes -D through).
 */
#ifndef WASMPLANE_ABI_H
#define WASMPLANE_ABI_H

#include <linux/types.h>

/* ---- Build-time sizes ----------------------------------------------------- */

/* Maglev table size M: slots of every table. Must be prime and equal to the
 * tableSize the control plane builds with (Cilium's default 16381). The
 * control plane reads it back from the loaded object: the inner table
 * map's value size is sizeof(struct wp_maglev_table) = 4 * M. */
#ifndef WASMPLANE_MAGLEV_M
#define WASMPLANE_MAGLEV_M		16381
#endif
/* Services (frontends): entries of wp_services and wp_maglev_outer. Service
 * IDs below this value also get per-service counters. */
#ifndef WASMPLANE_MAX_SERVICES
#define WASMPLANE_MAX_SERVICES		4096
#endif
/* VIP addresses registered in wp_vips. */
#ifndef WASMPLANE_MAX_VIPS
#define WASMPLANE_MAX_VIPS		4096
#endif
/* Backends: entries of wp_backends, an array indexed by backend ID, so
 * backend IDs must be below this value (they also index the per-backend
 * counters). */
#ifndef WASMPLANE_MAX_BACKENDS
#define WASMPLANE_MAX_BACKENDS		16384
#endif
/* Random-selection slots, summed over all services. */
#ifndef WASMPLANE_MAX_RANDOM_SLOTS
#define WASMPLANE_MAX_RANDOM_SLOTS	65536
#endif
/* Flow LRU entries (established connections remembered). */
#ifndef WASMPLANE_FLOW_LRU_SIZE
#define WASMPLANE_FLOW_LRU_SIZE		131072
#endif
/* Session affinity LRU entries (client address per service). */
#ifndef WASMPLANE_AFFINITY_LRU_SIZE
#define WASMPLANE_AFFINITY_LRU_SIZE	65536
#endif
/* IP datagrams being fragmented whose first fragment was seen. */
#ifndef WASMPLANE_FRAG_LRU_SIZE
#define WASMPLANE_FRAG_LRU_SIZE		8192
#endif

_Static_assert(WASMPLANE_MAGLEV_M >= 3, "WASMPLANE_MAGLEV_M must be a prime >= 3");
/* A whole table is one array value (struct wp_maglev_table); the kernel
 * refuses array values above KMALLOC_MAX_SIZE (4 MiB on x86-64 and arm64
 * with 4 KiB pages) with E2BIG. 1048573 is the largest prime that fits. */
_Static_assert(WASMPLANE_MAGLEV_M <= 1048573, "WASMPLANE_MAGLEV_M must fit a 4 MiB map value");

/* Table buffers per service: one is read by packets (the active one, named
 * by wp_service_value.table_slot), the other is rewritten by the control
 * plane and then made active. See wp_maglev_outer below. */
#define WP_MAGLEV_TABLE_SLOTS	2

/* ---- Enumerations ------------------------------------------------------------ */

#define WP_FAMILY_IPV4		4
#define WP_FAMILY_IPV6		6

#define WP_ALG_MAGLEV		1	/* table[hash % M] from wp_maglev_outer */
#define WP_ALG_RANDOM		2	/* wp_random_slots[prandom % backend_count] */

/* wp_service_value.flags */
#define WP_SVC_F_SESSION_AFFINITY	0x01	/* Kubernetes sessionAffinity: ClientIP */

/* wp_backend.flags */
#define WP_BACKEND_F_DRAINING	0x01	/* keeps established flows, not chosen by affinity */

/* An empty Maglev slot or random slot: no backend. Same value as the
 * control plane's MAX_BACKEND_ID + 1 (src/maglev/backend.ts). */
#define WP_BACKEND_ID_NONE	0xFFFFFFFFu

/* ---- wp_vips: VIP registry ----------------------------------------------------
 *
 *  0               16      17      20
 *  +---------------+-------+-------+
 *  | vip[16]       |family | pad[3]|     key, 20 bytes
 *  +---------------+-------+-------+
 *  | flags (u32, reserved: 0)      |     value, 4 bytes
 *
 * A VIP in this map owns its address: traffic to it that matches no service
 * is dropped (WP_DROP_NO_SERVICE / WP_DROP_UNSUPPORTED_PROTOCOL) instead of
 * being passed to the stack. ICMP that is not an error we handle is passed.
 */
struct wp_vip_key {
	__u8	vip[16];
	__u8	family;		/* WP_FAMILY_IPV4 or WP_FAMILY_IPV6 */
	__u8	pad[3];
};

struct wp_vip_value {
	__u32	flags;		/* reserved, write 0 */
};

/* ---- wp_services: frontend → service ------------------------------------------
 *
 *  0               16      18      19      20
 *  +---------------+-------+-------+-------+
 *  | vip[16]       | port  | proto |family |     key, 20 bytes
 *  +---------------+-------+-------+-------+
 *  port: __be16; proto: IPPROTO_TCP (6), IPPROTO_UDP (17), IPPROTO_SCTP (132)
 *
 *  0       4               8       10      11      12      13      16
 *  +-------+---------------+-------+-------+-------+-------+-------+
 *  | svc id| affinity (s)  | count | alg   | flags | slot  | pad[3]|  value, 16 bytes
 *  +-------+---------------+-------+-------+-------+-------+-------+
 *
 * count: active (not draining) backends; slot: which of the service's two
 * Maglev table buffers packets read (0 or 1). The control plane rewrites the
 * whole value with one update; the datapath copies it to the stack once per
 * packet so that every field it uses comes from the same version.
 */
struct wp_service_key {
	__u8	vip[16];
	__be16	port;
	__u8	protocol;
	__u8	family;
};

struct wp_service_value {
	__u32	service_id;		/* key of wp_maglev_outer, wp_random_slots, counters */
	__u32	affinity_timeout_sec;	/* sessionAffinityConfig.clientIP.timeoutSeconds */
	__u16	backend_count;		/* 0: no backend, new flows dropped */
	__u8	algorithm;		/* WP_ALG_* */
	__u8	flags;			/* WP_SVC_F_* */
	__u8	table_slot;		/* active Maglev buffer, < WP_MAGLEV_TABLE_SLOTS */
	__u8	pad[3];
};

/* ---- wp_backends: backend ID → backend ----------------------------------------
 *
 *  BPF_MAP_TYPE_ARRAY; key: __u32 backend ID (host byte order), below
 *  WASMPLANE_MAX_BACKENDS
 *
 *  0               16      18      19      20
 *  +---------------+-------+-------+-------+
 *  | addr[16]      | port  |family | flags |     value, 20 bytes
 *  +---------------+-------+-------+-------+
 *
 * An array, so every ID has an entry: family 0 (the all-zero value) means
 * "no such backend". The backend family decides the outer header (IPv4:
 * IPIP, IPv6: IP6IP6 or 4in6). `port` (__be16) is the backend's port: the
 * tc service translation rewrites to it; IP-in-IP from XDP does not
 * rewrite the inner packet, so there the backend must serve the VIP's port.
 */
struct wp_backend {
	__u8	addr[16];
	__be16	port;
	__u8	family;
	__u8	flags;			/* WP_BACKEND_F_* */
};

/* ---- wp_maglev_outer: service ID → the service's two table buffers ---------------
 *
 *  outer: BPF_MAP_TYPE_HASH_OF_MAPS, key __u32 service ID, value: fd of an
 *         inner map when written (its id when read)
 *  inner: BPF_MAP_TYPE_ARRAY, key __u32 buffer (0 or 1), value struct
 *         wp_maglev_table, max_entries WP_MAGLEV_TABLE_SLOTS (the kernel
 *         compares all of it with the template when an inner map is inserted)
 *
 *  wp_maglev_outer[service_id] ──▶ inner array
 *                                   [0] backend_ids[0 .. M-1]   ◀── table_slot 0
 *                                   [1] backend_ids[0 .. M-1]   ◀── table_slot 1
 *
 * Why whole tables as values, two per service (double buffering): writing a
 * 4·M-byte value is one BPF_MAP_UPDATE_ELEM (a memcpy in the kernel, a few
 * microseconds), where M separate u32 entries take a batch of M updates
 * (milliseconds). Writing in place is not atomic for a reader, so the
 * control plane writes the buffer packets do not read, then flips
 * wp_service_value.table_slot with one hash update. The outer map is only
 * written when a service is added or removed: each outer update or delete
 * waits for an RCU grace period (~10 ms), so additions go in one batch.
 * Empty slots hold WP_BACKEND_ID_NONE.
 */
struct wp_maglev_table {
	__u32	backend_ids[WASMPLANE_MAGLEV_M];
};

/* ---- wp_random_slots: (service ID, slot) → backend ID --------------------------
 *
 *  0       4       8
 *  +-------+-------+
 *  | svc id| slot  |     key, 8 bytes; value: __u32 backend ID
 *  +-------+-------+
 *  slots 0 .. backend_count-1 of the service must all be present.
 */
struct wp_random_slot_key {
	__u32	service_id;
	__u32	slot;
};

/* ---- wp_flows: flow LRU --------------------------------------------------------
 *
 *  0               16              32      34      36      37      38   40
 *  +---------------+---------------+-------+-------+-------+-------+----+
 *  | saddr[16]     | daddr[16]     | sport | dport | proto |family |pad |  key
 *  +---------------+---------------+-------+-------+-------+-------+----+
 *  (client → VIP direction; ports __be16)
 *
 *  0       4       8               16
 *  +-------+-------+---------------+
 *  | be id | svc id| last_seen_ns  |     value, 16 bytes
 *  +-------+-------+---------------+
 *  last_seen_ns: bpf_ktime_get_coarse_ns(), CLOCK_MONOTONIC at tick resolution.
 *
 * The datapath writes it; the control plane may read or delete entries.
 */
struct wp_flow_key {
	__u8	saddr[16];
	__u8	daddr[16];
	__be16	sport;
	__be16	dport;
	__u8	protocol;
	__u8	family;
	__u8	pad[2];
};

struct wp_flow_value {
	__u32	backend_id;
	__u32	service_id;
	__u64	last_seen_ns;
};

/* ---- wp_affinity: session affinity LRU -----------------------------------------
 *
 *  0       4       5       8               24
 *  +-------+-------+-------+---------------+
 *  | svc id|family | pad[3]| client[16]    |     key, 24 bytes
 *  +-------+-------+-------+---------------+
 *
 *  0       4       8               16
 *  +-------+-------+---------------+
 *  | be id | pad   | last_used_ns  |     value, 16 bytes (CLOCK_MONOTONIC)
 *  +-------+-------+---------------+
 *
 * Sticky while now < last_used_ns + affinity_timeout_sec (Cilium's
 * [last_used, last_used + timeout) window); every forwarded packet of the
 * client refreshes last_used_ns.
 */
struct wp_affinity_key {
	__u32	service_id;
	__u8	family;
	__u8	pad[3];
	__u8	client[16];
};

struct wp_affinity_value {
	__u32	backend_id;
	__u32	pad;
	__u64	last_used_ns;
};

/* ---- wp_fragments: ports of fragmented datagrams --------------------------------
 *
 *  0               16              32      36      37      38   40
 *  +---------------+---------------+-------+-------+-------+----+
 *  | saddr[16]     | daddr[16]     | id    | proto |family |pad |   key, 40 bytes
 *  +---------------+---------------+-------+-------+-------+----+
 *  id: IPv4 identification (16 bits, zero-extended) or IPv6 fragment
 *  identification, host byte order. value: the first fragment's ports.
 */
struct wp_frag_key {
	__u8	saddr[16];
	__u8	daddr[16];
	__u32	id;
	__u8	protocol;
	__u8	family;
	__u8	pad[2];
};

struct wp_frag_value {
	__be16	sport;
	__be16	dport;
};

/* ---- Counters (per-CPU arrays: sum the CPUs to read) -----------------------------
 *
 *  wp_service_counters[service ID], wp_backend_counters[backend ID],
 *  wp_drop_counters[drop reason]
 *
 *  0               8               16
 *  +---------------+---------------+
 *  | packets       | bytes         |     value, 16 bytes
 *  +---------------+---------------+
 *  bytes: frame length as received (before encapsulation).
 */
struct wp_counter {
	__u64	packets;
	__u64	bytes;
};

/* ---- wp_next_hops: next hop per backend (per-CPU array, datapath cache) -----------
 *
 *  key: __u32 backend ID (host byte order), below WASMPLANE_MAX_BACKENDS
 *
 *  0               16      22      28      32      36      38  39  40      48
 *  +---------------+-------+-------+-------+-------+-------+---+---+-------+
 *  | backend[16]   | dmac  | smac  |ifindex|in ifx | mtu   |tos|fam|expires|
 *  +---------------+-------+-------+-------+-------+-------+---+---+-------+
 *                                                              value, 48 bytes
 *
 * What bpf_fib_lookup() answered for the outer header towards a backend,
 * kept for wp_next_hop_cache_ns so that an established stream pays one
 * array read per packet instead of a FIB and neighbour lookup. An entry is
 * used only while it matches the packet exactly: same backend address and
 * family (a reused backend ID never inherits another backend's next hop),
 * same ingress device and TOS (the FIB lookup's other inputs), and not
 * expired (expires_ns, coarse CLOCK_MONOTONIC). mtu: the route's MTU
 * (0xFFFF: 65535 or more); outer packets above it are WP_DROP_FRAG_NEEDED
 * as the FIB would say. fam 0: empty. Only SUCCESS answers are kept;
 * fallback-MAC and error answers are looked up again every packet.
 * Written and read by the datapath only; the control plane may clear an
 * entry (all zero) to force a lookup.
 */
struct wp_next_hop_entry {
	__u8	backend_addr[16];
	__u8	dmac[6];
	__u8	smac[6];
	__u32	ifindex;		/* egress device */
	__u32	ingress_ifindex;	/* the device the lookup was made for */
	__u16	mtu;
	__u8	tos;
	__u8	family;			/* backend family; 0: empty */
	__u64	expires_ns;
};

/* ---- wp_config: runtime configuration (array, one entry, key 0) --------------------
 *
 *  0               16      20              26      32
 *  +---------------+-------+---------------+-------+
 *  | encap_src_v6  | src_v4| fallback_mac  | pad[6]|     value, 32 bytes
 *  +---------------+-------+---------------+-------+
 *
 * encap_src_*: outer source address of IPIP / IP6IP6 packets (all zero:
 * not configured, packets to backends of that family are dropped).
 * fallback_mac: next-hop MAC used when bpf_fib_lookup() cannot resolve one
 * (all zero: none, such packets are dropped).
 */
struct wp_config {
	__u8	encap_src_v6[16];
	__be32	encap_src_v4;
	__u8	fallback_mac[6];
	__u8	pad[6];
};

/* ---- wp_flow_events: flow events (BPF_MAP_TYPE_RINGBUF) ---------------------------
 *
 *  0               8       12      16      20      24
 *  +---------------+-------+-------+-------+-------+
 *  | time_ns       |ifindex|ep id  |peer id|svc id |
 *  +---------------+-------+-------+-------+-------+
 *  24              40              56      58      60   61   62   63   64
 *  +---------------+---------------+-------+-------+----+----+----+----+
 *  | saddr[16]     | daddr[16]     | sport | dport |prot|fam |dir |verd|
 *  +---------------+---------------+-------+-------+----+----+----+----+
 *  64      66      67      68      72
 *  +-------+-------+-------+-------+
 *  | reason|tcpflg |flags  | pad[4]|        record, 72 bytes
 *  +-------+-------+-------+-------+
 *
 * One record per policy verdict that drops, and per new connection that is
 * allowed (the first packet a tc program sees of it). time_ns is
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC); ep id is the endpoint's security
 * identity, peer id the other side's; svc id the service the packet was
 * translated for (0: none). Addresses and ports as on the wire at the point
 * of the verdict (after service translation). dir: WP_DIR_*; verd:
 * WP_VERDICT_*; reason: a drop reason (drop_reasons.h), 0 when forwarded;
 * tcpflg: the TCP flags byte (0 for other protocols); flags: WP_EVENT_F_*.
 * Records that do not fit the ring are counted in wp_flow_event_losses.
 */
#define WP_DIR_INGRESS		0	/* traffic to the endpoint */
#define WP_DIR_EGRESS		1	/* traffic from the endpoint */

#define WP_VERDICT_FORWARDED	1
#define WP_VERDICT_DROPPED	2

#define WP_EVENT_F_REPLY	0x01	/* the packet is a reply of a tracked connection */
#define WP_EVENT_F_TRANSLATED	0x02	/* destination (or source, for replies) rewritten for a service */

struct wp_flow_event {
	__u64	time_ns;
	__u32	ifindex;		/* the endpoint's interface */
	__u32	endpoint_identity;
	__u32	peer_identity;
	__u32	service_id;
	__u8	saddr[16];
	__u8	daddr[16];
	__be16	sport;
	__be16	dport;
	__u8	protocol;
	__u8	family;
	__u8	direction;
	__u8	verdict;
	__u16	reason;
	__u8	tcp_flags;
	__u8	flags;
	__u8	pad[4];
};

/* ---- wp_rev_nat: reverse NAT of east-west service translation (tc) -----------------
 *
 *  key: struct wp_flow_key (above) of the REPLY, backend → client:
 *       saddr = backend address, daddr = client address, sport = backend
 *       port, dport = client port, protocol, family (the backend's, which
 *       is the frontend's: tc never translates across families)
 *
 *  0               16      18      20      24      28
 *  +---------------+-------+-------+-------+-------+
 *  | vip[16]       | port  | pad[2]| svc id| be id |     value, 28 bytes
 *  +---------------+-------+-------+-------+-------+
 *  vip, port (__be16): the frontend the client addressed; a reply's source
 *  is rewritten to them. svc id, be id: host order, for flow events and
 *  for the control plane's flushes (src/lb/nat.ts).
 *
 * Written by lib/nat.h wp_nat_translate (tc, traffic from a pod) when a
 * flow is translated and its entry is missing or differs; read by
 * wp_nat_reverse (tc, traffic to a pod). An LRU: an idle connection's entry
 * is evicted under pressure, like its wp_flows entry.
 */
#ifndef WASMPLANE_REV_NAT_LRU_SIZE
#define WASMPLANE_REV_NAT_LRU_SIZE	131072
#endif

struct wp_rev_nat_value {
	__u8	vip[16];
	__be16	port;
	__u8	pad[2];
	__u32	service_id;
	__u32	backend_id;
};

_Static_assert(sizeof(struct wp_vip_key) == 20, "wp_vip_key is 20 bytes");
_Static_assert(sizeof(struct wp_vip_value) == 4, "wp_vip_value is 4 bytes");
_Static_assert(sizeof(struct wp_service_key) == 20, "wp_service_key is 20 bytes");
_Static_assert(sizeof(struct wp_service_value) == 16, "wp_service_value is 16 bytes");
_Static_assert(sizeof(struct wp_maglev_table) == 4 * WASMPLANE_MAGLEV_M, "wp_maglev_table is 4 * M bytes");
_Static_assert(sizeof(struct wp_backend) == 20, "wp_backend is 20 bytes");
_Static_assert(sizeof(struct wp_random_slot_key) == 8, "wp_random_slot_key is 8 bytes");
_Static_assert(sizeof(struct wp_flow_key) == 40, "wp_flow_key is 40 bytes");
_Static_assert(sizeof(struct wp_flow_value) == 16, "wp_flow_value is 16 bytes");
_Static_assert(sizeof(struct wp_affinity_key) == 24, "wp_affinity_key is 24 bytes");
_Static_assert(sizeof(struct wp_affinity_value) == 16, "wp_affinity_value is 16 bytes");
_Static_assert(sizeof(struct wp_frag_key) == 40, "wp_frag_key is 40 bytes");
_Static_assert(sizeof(struct wp_frag_value) == 4, "wp_frag_value is 4 bytes");
_Static_assert(sizeof(struct wp_counter) == 16, "wp_counter is 16 bytes");
_Static_assert(sizeof(struct wp_config) == 32, "wp_config is 32 bytes");
_Static_assert(sizeof(struct wp_next_hop_entry) == 48, "wp_next_hop_entry is 48 bytes");
_Static_assert(sizeof(struct wp_flow_event) == 72, "wp_flow_event is 72 bytes");

/* Offsets the diagrams above promise where padding could move them. */
_Static_assert(__builtin_offsetof(struct wp_service_key, port) == 16, "wp_service_key.port at 16");
_Static_assert(__builtin_offsetof(struct wp_service_value, backend_count) == 8, "wp_service_value.backend_count at 8");
_Static_assert(__builtin_offsetof(struct wp_service_value, table_slot) == 12, "wp_service_value.table_slot at 12");
_Static_assert(__builtin_offsetof(struct wp_flow_key, sport) == 32, "wp_flow_key.sport at 32");
_Static_assert(__builtin_offsetof(struct wp_flow_value, last_seen_ns) == 8, "wp_flow_value.last_seen_ns at 8");
_Static_assert(__builtin_offsetof(struct wp_affinity_key, client) == 8, "wp_affinity_key.client at 8");
_Static_assert(__builtin_offsetof(struct wp_affinity_value, last_used_ns) == 8, "wp_affinity_value.last_used_ns at 8");
_Static_assert(__builtin_offsetof(struct wp_frag_key, id) == 32, "wp_frag_key.id at 32");
_Static_assert(__builtin_offsetof(struct wp_config, encap_src_v4) == 16, "wp_config.encap_src_v4 at 16");
_Static_assert(__builtin_offsetof(struct wp_config, fallback_mac) == 20, "wp_config.fallback_mac at 20");

_Static_assert(__builtin_offsetof(struct wp_flow_event, saddr) == 24, "wp_flow_event.saddr at 24");
_Static_assert(__builtin_offsetof(struct wp_flow_event, reason) == 64, "wp_flow_event.reason at 64");

/* ---- Endpoint policy (tc programs, bpf/tc_endpoint.c) ---------------------------
 *
 * The tc programs on each endpoint's host-side veth: wasmplane_from_endpoint
 * (tc ingress: the endpoint's EGRESS) and wasmplane_to_endpoint (tc egress:
 * the endpoint's INGRESS). They read the maps below; the control plane
 * (src/endpoint) writes all but the connection tracker.
 */

/* ipcache entries (prefixes with an identity), IPv4 and IPv6 together. */
#ifndef WASMPLANE_IPCACHE_SIZE
#define WASMPLANE_IPCACHE_SIZE		65536
#endif
/* Policy entries summed over every subject identity (one LPM trie; see
 * wp_policy_key), and slots of the per-entry counters. Each subject's share
 * is bounded by the resolver's own limit (16,384 by default). */
#ifndef WASMPLANE_POLICY_MAP_SIZE
#define WASMPLANE_POLICY_MAP_SIZE	131072
#endif
/* Endpoints (interfaces) on this node. */
#ifndef WASMPLANE_MAX_ENDPOINTS
#define WASMPLANE_MAX_ENDPOINTS		4096
#endif
/* Connection tracking LRU entries. */
#ifndef WASMPLANE_CT_SIZE
#define WASMPLANE_CT_SIZE		262144
#endif

/* Reserved identity of addresses the ipcache does not know
 * (src/identity/reserved.ts: world). */
#define WP_IDENTITY_WORLD		2

/* ---- wp_ipcache: address prefix → security identity (BPF_MAP_TYPE_LPM_TRIE) -----
 *
 *  0           4       5       8               24
 *  +-----------+-------+-------+---------------+
 *  | prefixlen |family | pad[3]| addr[16]      |     key, 24 bytes
 *  +-----------+-------+-------+---------------+
 *  prefixlen counts bits from `family`: 32 + the prefix length (32..64 for
 *  IPv4, 32..160 for IPv6), so a lookup never crosses families. addr in
 *  network byte order, IPv4 in bytes 0-3.
 *
 *  0       4       8
 *  +-------+-------+
 *  | ident | flags |     value, 8 bytes; flags reserved (0)
 *  +-------+-------+
 *
 * An address no prefix covers is WP_IDENTITY_WORLD.
 *
 * wp_ipcache_exact (BPF_MAP_TYPE_HASH, same key and value): every prefix
 * of full length (/32, /128) of wp_ipcache, with the same bytes. The
 * programs look there first; a hit is the longest match there can be.
 */
#define WP_IPCACHE_PREFIX_BASE		32	/* bits of family + pad */

struct wp_ipcache_key {
	__u32	prefixlen;
	__u8	family;			/* WP_FAMILY_IPV4 or WP_FAMILY_IPV6 */
	__u8	pad[3];
	__u8	addr[16];
};

struct wp_ipcache_value {
	__u32	identity;
	__u32	flags;			/* reserved, write 0 */
};

/* ---- wp_policy: the resolver's policy maps, all subjects in one LPM trie ----------
 *
 *  0           4       8       12      13      14      16
 *  +-----------+-------+-------+-------+-------+-------+
 *  | prefixlen |subject| peer  |  dir  | proto | port  |     key, 16 bytes
 *  +-----------+-------+-------+-------+-------+-------+
 *  subject: the endpoint's security identity; peer: the other side's (0 =
 *  any peer); dir: WP_DIR_INGRESS / WP_DIR_EGRESS; proto: IP protocol (0
 *  with an entry prefix of 0); port: __be16 destination port, or the ICMP
 *  type for ICMP and ICMPv6. prefixlen = WP_POLICY_PREFIX_BASE (subject,
 *  peer, dir: always exact) + the resolver's prefix length over (protocol,
 *  port), 0..24 (docs/policy.md, "The policy map"). The port is big-endian,
 *  so the trie's bit order is the resolver's.
 *
 *  0       1       2       4               8
 *  +-------+-------+-------+---------------+
 *  | prec  | flags | pad[2]| counter       |     value, 8 bytes
 *  +-------+-------+-------+---------------+
 *  prec: WP_PREC_*; counter: this entry's slot in wp_policy_counters
 *  (chosen by the control plane, < WASMPLANE_POLICY_MAP_SIZE); flags:
 *  WP_POLICY_F_* in wp_policy_exact, 0 in wp_policy.
 *
 * Lookup: the longest prefix for (subject, peer) and for (subject, 0);
 * the higher precedence wins; no entry at all is default deny. The
 * resolver encodes each peer so that its longest match already is the
 * maximum of every rule covering it, which is why two lookups suffice.
 * A direction that is not enforced carries one entry (peer 0, prefix 0,
 * WP_PREC_NOT_ENFORCED): everything not denied passes.
 *
 * Why one trie keyed by subject rather than one inner map per subject
 * (map-in-map): the lookup cost of an LPM trie grows with the depth of the
 * path to the key, and the subject's 32 bits add at most a few nodes, as
 * many as it takes to tell the node's subjects apart; an outer lookup
 * (hash of maps) costs about as much on every packet. Writes are cheaper
 * and simpler with one map: a delta is plain updates and deletes, where a
 * new subject in a map of maps waits an RCU grace period (~10 ms) and
 * needs an inner map created first. An LPM trie is not preallocated, so
 * one large max_entries costs nothing until used. Subjects, not
 * interfaces, own entries: pods of one identity share its entries.
 */
/*
 * wp_policy_exact (BPF_MAP_TYPE_HASH, same key and value): what of
 * wp_policy a hash can answer, per group (subject, peer or 0, direction):
 *
 *   - every entry of prefix 24 (one protocol, one port): identity 0's
 *     with the same bytes; a peer's (peer != 0) already decided against
 *     identity 0's longest match for that protocol and port: the winner's
 *     precedence and counter (the peer's on a tie), flags
 *     WP_POLICY_F_FINAL, so that the program needs no identity-0 lookup;
 *   - at the group's prefix-0 key (prefixlen WP_POLICY_PREFIX_BASE,
 *     protocol and port 0): when the group has entries of prefix 1..23, a
 *     marker {prec 0, flags WP_POLICY_F_TRIE, counter 0} (ask the trie);
 *     otherwise its prefix-0 entry, same bytes, if it has one.
 *
 * A miss at prefix 24 then at prefix 0 means the group has no entry that
 * covers the packet. The marker replaces at least one trie entry the hash
 * leaves out, so the hash never holds more than wp_policy.
 */
#define WP_POLICY_F_TRIE	0x01	/* wp_policy_exact marker: the group's answer is in the trie */
#define WP_POLICY_F_FINAL	0x02	/* wp_policy_exact: both sides decided, identity 0's included */

#define WP_POLICY_PREFIX_BASE		72	/* bits of subject, peer, dir */
#define WP_POLICY_PREFIX_FULL		96	/* + protocol (8) + port (16) */

#define WP_PREC_NONE		0	/* no entry: default deny */
#define WP_PREC_NOT_ENFORCED	1	/* the direction is not enforced: allow */
#define WP_PREC_ALLOW_PROXY	2	/* allowed, for the L7 proxy (forwarded as allowed) */
#define WP_PREC_ALLOW		3	/* allowed */
#define WP_PREC_DENY		4	/* explicit deny: wins over every allow */

struct wp_policy_key {
	__u32	prefixlen;
	__u32	subject;
	__u32	peer;
	__u8	direction;		/* WP_DIR_* */
	__u8	protocol;
	__be16	port;
};

struct wp_policy_value {
	__u8	precedence;		/* WP_PREC_* */
	__u8	flags;			/* reserved, write 0 */
	__u8	pad[2];
	__u32	counter;		/* index into wp_policy_counters */
};

/* wp_policy_counters: BPF_MAP_TYPE_PERCPU_ARRAY of struct wp_counter,
 * indexed by wp_policy_value.counter: packets and bytes that each entry
 * decided (the winning entry of the two lookups). Per CPU: no atomics on
 * the packet path; costs WASMPLANE_POLICY_MAP_SIZE * 16 bytes per CPU. */

/* ---- wp_endpoints: interface → endpoint ---------------------------------------------
 *
 *  key: __u32 ifindex (the host-side veth)
 *
 *  0       4       8
 *  +-------+-------+
 *  | ident | flags |     value, 8 bytes; flags reserved (0)
 *  +-------+-------+
 *
 * Packets on an interface not in this map pass untouched.
 */
struct wp_endpoint_value {
	__u32	identity;		/* the endpoint's security identity (policy subject) */
	__u32	flags;			/* reserved, write 0 */
};

/* ---- wp_conntrack: connection tracking (BPF_MAP_TYPE_LRU_HASH) -----------------------
 *
 *  0               16              32      34      36      37      38      39   40
 *  +---------------+---------------+-------+-------+-------+-------+-------+----+
 *  | saddr[16]     | daddr[16]     | sport | dport | proto |family |  dir  |pad |  key
 *  +---------------+---------------+-------+-------+-------+-------+-------+----+
 *  The tuple of the connection's first packet (ports __be16; for ICMP echo
 *  the identifier: request sport = id, dport = 0). dir: which program made
 *  the entry, WP_DIR_EGRESS (from_endpoint: the endpoint opened it) or
 *  WP_DIR_INGRESS (to_endpoint: it was opened towards the endpoint). Both
 *  sides of a connection between two local endpoints then have an entry of
 *  their own under the same tuple.
 *
 *  0               8       12      13      14      15      16
 *  +---------------+-------+-------+-------+-------+-------+
 *  | expires_ns    | peer  |tcp_fwd|tcp_rev| flags | pad   |     value, 16 bytes
 *  +---------------+-------+-------+-------+-------+-------+
 *  expires_ns: CLOCK_MONOTONIC time (coarse: tick resolution) after which
 *  the entry is dead;
 *  tcp_fwd / tcp_rev: TCP flags seen in the original / reply direction
 *  (OR of the flags bytes); flags: WP_CT_F_*.
 *
 * Written by the datapath only (the control plane may read and delete).
 * A packet whose reversed tuple has a live entry of the opposite program
 * is a reply and passes without a policy lookup. Every other packet is
 * decided by policy; an allowed one without a live entry creates it.
 */
#define WP_CT_F_CLOSING		0x01	/* RST, or FIN both ways: short lifetime */

struct wp_ct_key {
	__u8	saddr[16];
	__u8	daddr[16];
	__be16	sport;
	__be16	dport;
	__u8	protocol;
	__u8	family;
	__u8	direction;		/* WP_DIR_*: the program that made the entry */
	__u8	pad;
};

struct wp_ct_value {
	__u64	expires_ns;
	__u32	peer_identity;		/* the peer's identity when the entry was made */
	__u8	tcp_fwd;
	__u8	tcp_rev;
	__u8	flags;			/* WP_CT_F_* */
	__u8	pad;
};

_Static_assert(sizeof(struct wp_ipcache_key) == 24, "wp_ipcache_key is 24 bytes");
_Static_assert(sizeof(struct wp_ipcache_value) == 8, "wp_ipcache_value is 8 bytes");
_Static_assert(sizeof(struct wp_policy_key) == 16, "wp_policy_key is 16 bytes");
_Static_assert(sizeof(struct wp_policy_value) == 8, "wp_policy_value is 8 bytes");
_Static_assert(sizeof(struct wp_endpoint_value) == 8, "wp_endpoint_value is 8 bytes");
_Static_assert(sizeof(struct wp_ct_key) == 40, "wp_ct_key is 40 bytes");
_Static_assert(sizeof(struct wp_ct_value) == 16, "wp_ct_value is 16 bytes");

_Static_assert(__builtin_offsetof(struct wp_ipcache_key, addr) == 8, "wp_ipcache_key.addr at 8");
_Static_assert(__builtin_offsetof(struct wp_policy_key, subject) == 4, "wp_policy_key.subject at 4");
_Static_assert(__builtin_offsetof(struct wp_policy_key, port) == 14, "wp_policy_key.port at 14");
_Static_assert(__builtin_offsetof(struct wp_policy_value, counter) == 4, "wp_policy_value.counter at 4");
_Static_assert(__builtin_offsetof(struct wp_ct_key, sport) == 32, "wp_ct_key.sport at 32");
_Static_assert(__builtin_offsetof(struct wp_ct_key, direction) == 38, "wp_ct_key.direction at 38");
_Static_assert(__builtin_offsetof(struct wp_ct_value, peer_identity) == 8, "wp_ct_value.peer_identity at 8");
_Static_assert(WP_POLICY_PREFIX_FULL == 8 * (sizeof(struct wp_policy_key) - 4), "the policy key's data is 96 bits");

_Static_assert(sizeof(struct wp_rev_nat_value) == 28, "wp_rev_nat_value is 28 bytes");
_Static_assert(__builtin_offsetof(struct wp_rev_nat_value, service_id) == 20, "wp_rev_nat_value.service_id at 20");

_Static_assert(__builtin_offsetof(struct wp_next_hop_entry, mtu) == 36, "wp_next_hop_entry.mtu at 36");
_Static_assert(__builtin_offsetof(struct wp_next_hop_entry, expires_ns) == 40, "wp_next_hop_entry.expires_ns at 40");

#endif /* WASMPLANE_ABI_H */
