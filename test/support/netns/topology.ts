/**
 * The network of test/lb-e2e.test.ts, built from network namespaces, veth
 * pairs and one bridge. Nothing here touches the root namespace's network:
 * every address is private (10.200.0.0/24 and the VIP 10.200.1.80,
 * fd00:200::/64) and lives only inside namespaces this module creates and
 * deletes.
 *
 *   <p>-client                <p>-wire (bridge br0, L2 only)          <p>-lb
 *  ┌─────────────────┐      ┌──────────────────────────────┐      ┌──────────────────────────┐
 *  │ eth0 10.200.0.2 ├──────┤ p-client                     │      │ eth0 10.200.0.1          │
 *  │  fd00:200::2    │      │                              │      │  fd00:200::1             │
 *  │  tx checksum    │      │ p-lb [xdp_pass, native] ─────┼──────┤  [wasmplane_xdp_lb,      │
 *  │  offload off    │      │                              │      │   native, by src/lb]     │
 *  │ VIP4/32 via .1  │      │ p-b1     p-b2     p-b3       │      │ forwarding on (FIB),     │
 *  │ VIP6/128 via ::1│      └──┬────────┬────────┬─────────┘      │ backends' MACs as        │
 *  └─────────────────┘         │        │        │                │ permanent neighbours     │
 *                              │        │        │                └──────────────────────────┘
 *   <p>-b1                     │ <p>-b2 │        │ <p>-b3
 *  ┌───────────────────────────┴┐ ┌─────┴──────────────┐ ┌┴───────────────────┐
 *  │ eth0 10.200.0.11           │ │ eth0 10.200.0.12   │ │ eth0 10.200.0.13   │
 *  │  fd00:200::11              │ │  fd00:200::12      │ │  fd00:200::13      │
 *  │  [xdp_decap, native]       │ │  [xdp_decap]       │ │  [xdp_decap]       │
 *  │ lo: VIP4/32, VIP6/128      │ │ lo: VIPs           │ │ lo: VIPs           │
 *  │ HTTP server on the VIPs:80 │ │ HTTP server        │ │ HTTP server        │
 *  └────────────────────────────┘ └────────────────────┘ └────────────────────┘
 *
 *  VIP4 10.200.1.80, VIP6 fd00:200::80
 *
 *   1. client ──SYN to VIP, to the LB's MAC──▶ br0 ──▶ p-lb ──▶ LB eth0
 *   2. LB eth0, XDP: Maglev picks a backend; bpf_fib_lookup() gives its MAC and
 *      eth0 as the egress device (= ingress) → IPIP / IP6IP6 → XDP_TX
 *   3. the frame goes back out eth0 into p-lb (a veth receives XDP_TX'd frames
 *      only when it has an XDP program of its own: xdp_pass) ──▶ br0 ──▶ backend
 *   4. backend eth0, XDP: outer header stripped, XDP_PASS; the inner packet,
 *      addressed to the VIP on lo, reaches the HTTP server
 *   5. answer from the VIP straight to the client over br0 (direct server
 *      return): the load balancer sees the client-to-VIP direction only
 *
 * The load balancer has one interface, so XDP_TX (the same device) is the
 * path the datapath takes, as on a one-armed load balancer in front of a
 * router; the bridge stands for the L2 segment that client, load balancer and
 * backends share. Backends decapsulate in XDP because the kernels this runs
 * on may lack the ipip/ip6_tunnel drivers (see bpf/demo/xdp_decap.c).
 *
 * The client's veth computes its checksums (transmit checksum offload off,
 * src/demo/tx-checksum.mjs): an offloaded checksum is only metadata on the
 * skb, which XDP_TX does not carry, so the backends would drop every
 * segment.
 *
 * Backends do not answer ARP for the VIP (arp_ignore=1, arp_announce=2, the
 * usual direct-server-return settings), and nobody asks: the client routes
 * the VIPs through the load balancer (a /32 and a /128 route). IPv6 duplicate
 * address detection is off in every namespace so addresses work at once.
 *
 * Built from src/demo/netns.ts's blocks, as the demo's network is; this one
 * differs from it (IPv6, no pods, no node routing), so it has a plan of its
 * own.
 */
import { fileURLToPath } from "node:url";

import { addNamespaces, addWire, ipn, neighbour, sysctl } from "../../../src/demo/netns.js";
import { sh } from "../../../src/demo/process.js";

const TX_CHECKSUM = fileURLToPath(new URL("../../../src/demo/tx-checksum.mjs", import.meta.url));

export const NET = {
  v4: { lb: "10.200.0.1", client: "10.200.0.2", prefix: 24 },
  v6: { lb: "fd00:200::1", client: "fd00:200::2", prefix: 64 },
  /** Outside the client's on-link subnet: routed to the load balancer. */
  vip4: "10.200.1.80",
  /** Inside fd00:200::/64, but the client's /128 route sends it to the load balancer. */
  vip6: "fd00:200::80",
  mac: { lb: "02:00:c8:00:00:01", client: "02:00:c8:00:00:02" },
} as const;

export interface BackendHost {
  /** Backend name, answered over HTTP: "b1", "b2", ... */
  name: string;
  ns: string;
  v4: string;
  v6: string;
  mac: string;
}

export interface Namespaces {
  client: string;
  lb: string;
  wire: string;
  backends: BackendHost[];
}

/** Names and addresses for `count` backends under namespace prefix `prefix` (e.g. "wp-e2e-1234"). */
export function plan(prefix: string, count: number): Namespaces {
  return {
    client: `${prefix}-client`,
    lb: `${prefix}-lb`,
    wire: `${prefix}-wire`,
    backends: Array.from({ length: count }, (_, i) => ({
      name: `b${i + 1}`,
      ns: `${prefix}-b${i + 1}`,
      v4: `10.200.0.${11 + i}`,
      v6: `fd00:200::${11 + i}`,
      mac: `02:00:c8:00:00:${(0x11 + i).toString(16)}`,
    })),
  };
}

/** Every namespace of the plan, in creation order. */
export function allNamespaces(n: Namespaces): string[] {
  return [n.wire, n.lb, n.client, ...n.backends.map((b) => b.ns)];
}

/**
 * Builds the network. `created` receives each namespace name as soon as it
 * exists, so the caller can delete exactly those even when this throws part
 * way. XDP programs: `xdpPass` (object file, section "xdp") on the wire side
 * of the load balancer's veth; `decap(backend)` on each backend's eth0. The
 * load balancer's own program is attached by its control plane
 * (lb-agent.ts), not here.
 */
export function build(n: Namespaces, objects: { xdpPass: string; decap: (b: BackendHost) => string }, created: (ns: string) => void): void {
  // Before any interface exists, so every one inherits it.
  addNamespaces(allNamespaces(n), ["net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0"], created);

  // The wire: one bridge, L2 only (no addresses, no IPv6 on it).
  sysctl(n.wire, "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1");
  const plug = addWire(n.wire);

  plug("p-lb", n.lb, NET.mac.lb);
  ipn(n.wire, "link", "set", "dev", "p-lb", "xdpdrv", "obj", objects.xdpPass, "sec", "xdp");
  ipn(n.lb, "addr", "add", `${NET.v4.lb}/${NET.v4.prefix}`, "dev", "eth0");
  ipn(n.lb, "-6", "addr", "add", `${NET.v6.lb}/${NET.v6.prefix}`, "dev", "eth0", "nodad");
  // bpf_fib_lookup() answers only when forwarding is on.
  sysctl(n.lb, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
  for (const b of n.backends) {
    neighbour(n.lb, b.v4, b.mac);
    neighbour(n.lb, b.v6, b.mac);
  }

  plug("p-client", n.client, NET.mac.client);
  // Full checksums from the client, as a NIC would put on the wire (see tx-checksum.mjs).
  sh("ip", ["netns", "exec", n.client, process.execPath, TX_CHECKSUM, "eth0"]);
  ipn(n.client, "addr", "add", `${NET.v4.client}/${NET.v4.prefix}`, "dev", "eth0");
  ipn(n.client, "-6", "addr", "add", `${NET.v6.client}/${NET.v6.prefix}`, "dev", "eth0", "nodad");
  ipn(n.client, "route", "add", `${NET.vip4}/32`, "via", NET.v4.lb, "dev", "eth0");
  ipn(n.client, "-6", "route", "add", `${NET.vip6}/128`, "via", NET.v6.lb, "dev", "eth0");

  for (const b of n.backends) {
    plug(`p-${b.name}`, b.ns, b.mac);
    sysctl(b.ns, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2");
    ipn(b.ns, "addr", "add", `${b.v4}/${NET.v4.prefix}`, "dev", "eth0");
    ipn(b.ns, "-6", "addr", "add", `${b.v6}/${NET.v6.prefix}`, "dev", "eth0", "nodad");
    ipn(b.ns, "addr", "add", `${NET.vip4}/32`, "dev", "lo");
    ipn(b.ns, "-6", "addr", "add", `${NET.vip6}/128`, "dev", "lo");
    ipn(b.ns, "link", "set", "dev", "eth0", "xdpdrv", "obj", objects.decap(b), "sec", "xdp");
  }
}
