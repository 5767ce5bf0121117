/**
 * The live demo's network, built from network namespaces on this machine.
 * Every address is private to namespaces this module creates; nothing
 * touches the root namespace's network. The addresses are the ones the
 * demo's state folder (examples/demo) describes.
 *
 *  wpdemo-client            wpdemo-wire: bridge br0 (L2)       wpdemo-node ("node-a")
 *  ┌──────────────────┐    ┌───────────────────────────┐     ┌────────────────────────────────┐
 *  │ eth0 10.100.0.2  ├────┤ p-client                  │     │ eth0 10.100.0.1                │
 *  │ tx checksum off  │    │ p-node [xdp pass] ────────┼─────┤  [agent: XDP load balancer]    │
 *  │ 203.0.113.10 and │    │ p-b1  p-b2  p-b3          │     │ forwarding on                  │
 *  │ 10.244.1.0/24    │    └──┬─────┬─────┬────────────┘     │ lx-frontend ══ wpdemo-frontend │
 *  │ via 10.100.0.1   │       │     │     │                  │   [agent: tc] eth0 10.244.1.10 │
 *  └──────────────────┘       │     │     │                  │ lx-debug    ══ wpdemo-debug    │
 *                             │     │     │                  │   [agent: tc] eth0 10.244.1.20 │
 *   wpdemo-b1..b3 ("node-b" pods web-1..3)                   └────────────────────────────────┘
 *   eth0 10.244.2.11..13 [xdp decap], lo: 203.0.113.10, HTTP on 203.0.113.10:80
 *
 * North-south (the LoadBalancer address 203.0.113.10:80):
 *   1. the client sends to the node (a /32 route via 10.100.0.1);
 *   2. the agent's XDP program on the node's eth0 picks a backend with the
 *      service's Maglev table, adds an IPIP header (from 10.100.0.1 to the
 *      backend) and sends the frame back out of eth0 (XDP_TX); the peer
 *      p-node runs an XDP_PASS program, without which a veth drops such
 *      frames;
 *   3. the backend's XDP program strips the outer header; the stack
 *      delivers the inner packet to the address on lo, and the answer goes
 *      straight to the client (direct server return).
 *   The client's veth computes its own checksums (tx-checksum.mjs): XDP_TX
 *   keeps the bytes of a frame, not the checksum metadata of the skb.
 *
 * East-west and from the world to the pods: each pod is a namespace on a
 * veth pair whose host side is in the node (the agent attaches its tc
 * programs there), routed as Cilium routes pods (a /32 per pod in the node;
 * in the pod, a default route via a link-local gateway answered by a static
 * neighbour entry). The client reaches the pods through the node, which
 * routes 10.244.1.0/24 to them.
 *
 * No ARP anywhere: every neighbour is a permanent entry, so nothing waits
 * for resolution and the backends never answer for the service address.
 * IPv6 is off in every namespace, so no router or neighbour solicitation
 * shows up in the flow stream.
 *
 * @module
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { sh, trySh } from "./process.js";

/** Every namespace, pin directory and run directory of the demo starts with this. */
export const DEMO_PREFIX = "wpdemo";

/** Where the agent pins its maps: private to the demo, removed at the end. */
export const DEMO_PIN_ROOT = `/sys/fs/bpf/${DEMO_PREFIX}`;

/** One backend of the service: a namespace standing for a pod on node-b. */
export interface DemoBackend {
  /** Its name, the body of its HTTP answers: `web-1`. */
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  /** Its port on the wire bridge. */
  readonly port: string;
}

/** One pod on the node. */
export interface DemoPod {
  /** `namespace/name` in the state. */
  readonly pod: string;
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  /** Host side of its veth, in the node namespace: where the agent attaches. */
  readonly hostIface: string;
  readonly hostMac: string;
}

/** Names and addresses of the demo's network; they match examples/demo. */
export const TOPOLOGY = {
  wire: `${DEMO_PREFIX}-wire`,
  node: { ns: `${DEMO_PREFIX}-node`, ip: "10.100.0.1", mac: "02:00:64:00:00:01", iface: "eth0" },
  client: { ns: `${DEMO_PREFIX}-client`, ip: "10.100.0.2", mac: "02:00:64:00:00:02" },
  /** The wire's subnet (node and client). */
  wirePrefix: 24,
  /** The LoadBalancer address of shop/web, and its port. */
  vip: "203.0.113.10",
  vipPort: 80,
  /** Pods of node-a, and of node-b (the backends). */
  nodePodCidr: "10.244.1.0/24",
  backendCidr: "10.244.2.0/24",
  /** The pods' gateway: an address nobody owns, answered by a static neighbour entry. */
  podGateway: "169.254.1.1",
  /** The port the frontend pod serves on. */
  podPort: 8080,
  backends: [1, 2, 3].map((i): DemoBackend => ({
    name: `web-${i}`, ns: `${DEMO_PREFIX}-b${i}`, ip: `10.244.2.${10 + i}`, mac: `02:00:64:00:02:${(0x10 + i).toString(16)}`, port: `p-b${i}`,
  })),
  pods: [
    { pod: "shop/frontend", ns: `${DEMO_PREFIX}-frontend`, ip: "10.244.1.10", mac: "02:00:64:00:01:10", hostIface: "lx-frontend", hostMac: "02:00:64:00:01:90" },
    { pod: "tools/debug", ns: `${DEMO_PREFIX}-debug`, ip: "10.244.1.20", mac: "02:00:64:00:01:20", hostIface: "lx-debug", hostMac: "02:00:64:00:01:a0" },
  ] as DemoPod[],
} as const;

/** Every namespace of the demo, in creation order. */
export function demoNamespaces(): string[] {
  return [TOPOLOGY.wire, TOPOLOGY.node.ns, TOPOLOGY.client.ns, ...TOPOLOGY.backends.map((b) => b.ns), ...TOPOLOGY.pods.map((p) => p.ns)];
}

/** The network namespaces that exist now, by name. */
export function existingNamespaces(): string[] {
  const out = sh("ip", ["-j", "netns", "list"]).trim();
  if (!out) return [];
  return (JSON.parse(out) as { name: string }[]).map((e) => e.name);
}

/** XDP objects the topology attaches: the wire side's pass program, and each backend's decapsulation. */
export interface TopologyObjects {
  readonly pass: string;
  readonly decap: (backend: DemoBackend) => string;
}

const ipn = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);
const sysctl = (ns: string, ...settings: string[]) => sh("ip", ["netns", "exec", ns, "sysctl", "-qw", ...settings]);

/**
 * Builds the network. `created` receives each namespace as soon as it
 * exists, so the caller can delete exactly those if this throws half way.
 * `txChecksumOff(ns, iface)` turns the client's checksum offload off (it
 * runs a helper inside the namespace).
 */
export function buildTopology(objects: TopologyObjects, txChecksumOff: (ns: string, iface: string) => void, created: (ns: string) => void): void {
  const t = TOPOLOGY;
  for (const ns of demoNamespaces()) {
    sh("ip", ["netns", "add", ns]);
    created(ns);
    ipn(ns, "link", "set", "lo", "up");
    sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
  }

  // The wire: one bridge, L2 only.
  ipn(t.wire, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0");
  ipn(t.wire, "link", "set", "br0", "up");
  const plug = (port: string, ns: string, mac: string) => {
    ipn(t.wire, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ipn(t.wire, "link", "set", port, "master", "br0", "up");
    ipn(ns, "link", "set", "eth0", "address", mac, "up");
  };
  const neighbour = (ns: string, ip: string, mac: string, dev = "eth0") => ipn(ns, "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent");

  // The node: the load balancer's interface, and the router of its pods.
  plug("p-node", t.node.ns, t.node.mac);
  ipn(t.wire, "link", "set", "dev", "p-node", "xdpdrv", "obj", objects.pass, "sec", "xdp");
  ipn(t.node.ns, "addr", "add", `${t.node.ip}/${t.wirePrefix}`, "dev", "eth0");
  // bpf_fib_lookup() answers only with forwarding on; pods' packets are routed by the node.
  sysctl(t.node.ns, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
  ipn(t.node.ns, "route", "add", t.backendCidr, "dev", "eth0");
  neighbour(t.node.ns, t.client.ip, t.client.mac);
  for (const b of t.backends) neighbour(t.node.ns, b.ip, b.mac);

  // The client, outside the cluster.
  plug("p-client", t.client.ns, t.client.mac);
  txChecksumOff(t.client.ns, "eth0");
  ipn(t.client.ns, "addr", "add", `${t.client.ip}/${t.wirePrefix}`, "dev", "eth0");
  ipn(t.client.ns, "route", "add", `${t.vip}/32`, "via", t.node.ip, "dev", "eth0");
  ipn(t.client.ns, "route", "add", t.nodePodCidr, "via", t.node.ip, "dev", "eth0");
  neighbour(t.client.ns, t.node.ip, t.node.mac);

  // The backends: decapsulate in XDP, own the service address on lo, answer the client directly.
  for (const b of t.backends) {
    plug(b.port, b.ns, b.mac);
    ipn(b.ns, "addr", "add", `${b.ip}/24`, "dev", "eth0");
    ipn(b.ns, "route", "add", `${t.client.ip}/32`, "dev", "eth0");
    neighbour(b.ns, t.client.ip, t.client.mac);
    ipn(b.ns, "addr", "add", `${t.vip}/32`, "dev", "lo");
    ipn(b.ns, "link", "set", "dev", "eth0", "xdpdrv", "obj", objects.decap(b), "sec", "xdp");
  }

  // The pods of the node, each on a veth into the node.
  for (const p of t.pods) {
    ipn(t.node.ns, "link", "add", p.hostIface, "address", p.hostMac, "type", "veth", "peer", "name", "eth0", "address", p.mac, "netns", p.ns);
    ipn(t.node.ns, "link", "set", p.hostIface, "up");
    ipn(t.node.ns, "route", "add", `${p.ip}/32`, "dev", p.hostIface);
    neighbour(t.node.ns, p.ip, p.mac, p.hostIface);
    ipn(p.ns, "addr", "add", `${p.ip}/32`, "dev", "eth0");
    ipn(p.ns, "link", "set", "eth0", "up");
    ipn(p.ns, "route", "add", t.podGateway, "dev", "eth0", "scope", "link");
    ipn(p.ns, "route", "add", "default", "via", t.podGateway, "dev", "eth0");
    neighbour(p.ns, t.podGateway, p.hostMac);
  }
}

/**
 * Deletes the namespaces in `names` that exist; their interfaces, and the
 * programs attached to them, go with them. Never throws; returns the names
 * that are still there.
 */
export function destroyNamespaces(names: Iterable<string>): string[] {
  const wanted = [...names];
  let existing: string[];
  try {
    existing = existingNamespaces();
  } catch {
    return wanted;
  }
  for (const ns of wanted) if (existing.includes(ns)) trySh("ip", ["netns", "del", ns]);
  try {
    const after = existingNamespaces();
    return wanted.filter((ns) => after.includes(ns));
  } catch {
    return wanted;
  }
}

/** Namespaces and pin directories with the demo's prefix: what an interrupted run may have left. */
export function demoLeftovers(): { namespaces: string[]; pins: string[] } {
  const namespaces = existingNamespaces().filter((ns) => ns.startsWith(`${DEMO_PREFIX}-`));
  const pins = existsSync("/sys/fs/bpf") ? readdirSync("/sys/fs/bpf").filter((f) => f === DEMO_PREFIX || f.startsWith(`${DEMO_PREFIX}-`)).map((f) => `/sys/fs/bpf/${f}`) : [];
  return { namespaces, pins };
}

/** Removes pin directories (unlinking a pin drops the kernel's reference to the map or program). Returns those still there. */
export function removePins(paths: Iterable<string>): string[] {
  const left: string[] = [];
  for (const path of paths) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // reported below
    }
    if (existsSync(path)) left.push(path);
  }
  return left;
}
