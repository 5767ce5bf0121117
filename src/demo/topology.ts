/**
 * The live demo's network, built from network namespaces on this machine
 * (test/agent-e2e.test.ts builds the same network under a prefix of its
 * own, with pods of its own). Every address is private to namespaces this
 * module creates; nothing touches the root namespace's network. The
 * addresses are the ones the demo's state folder (examples/demo) describes.
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
 *   10.100.0.2 and 10.244.1.0/24 via 10.100.0.1
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
 * routes 10.244.1.0/24 to them. A backend's answers to a pod go back
 * through the node too, where a ClusterIP's reverse translation happens.
 *
 * No ARP anywhere: every neighbour is a permanent entry, so nothing waits
 * for resolution and the backends never answer for the service address.
 * IPv6 is off in every namespace, so no router or neighbour solicitation
 * shows up in the flow stream.
 *
 * @module
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { parseIp } from "../net/ip.js";
import { addNamespaces, addPod, addWire, existingNamespaces, IPV6_OFF, ipn, neighbour, sysctl } from "./netns.js";

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
  /** The name alone. */
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  /** Host side of its veth, in the node namespace: where the agent attaches. */
  readonly hostIface: string;
  readonly hostMac: string;
}

/** Names and addresses of one network (see the drawing above). */
export interface Topology {
  /** Every namespace's name starts with `<prefix>-`. */
  readonly prefix: string;
  readonly wire: string;
  readonly node: { readonly ns: string; readonly ip: string; readonly mac: string; readonly iface: "eth0" };
  /** The client outside the cluster. */
  readonly client: { readonly ns: string; readonly ip: string; readonly mac: string };
  /** The wire's subnet (node and client). */
  readonly wirePrefix: number;
  /** The LoadBalancer address, on every backend's lo. */
  readonly vip: string;
  /** Pods of node-a, and of node-b (the backends). */
  readonly nodePodCidr: string;
  readonly backendCidr: string;
  /** The pods' gateway: an address nobody owns, answered by a static neighbour entry. */
  readonly podGateway: string;
  readonly backends: readonly DemoBackend[];
  readonly pods: readonly DemoPod[];
}

/** What {@link planTopology} varies. */
export interface TopologyOptions {
  readonly prefix: string;
  /** The LoadBalancer address. */
  readonly vip: string;
  /** The node's pods, `namespace/name` each (at most 7); pod i gets 10.244.1.<10 (i + 1)>. */
  readonly pods: readonly string[];
  /** The client's namespace is `<prefix>-<clientName>` (default `client`; another when a pod is called so). */
  readonly clientName?: string;
}

/** The network for `options`: three backends web-1..3, the node, the client and the pods. */
export function planTopology(options: TopologyOptions): Topology {
  const { prefix } = options;
  if (options.pods.length > 7) throw new RangeError(`at most 7 pods fit the address plan, not ${options.pods.length}`);
  const hex = (n: number) => n.toString(16);
  return {
    prefix,
    wire: `${prefix}-wire`,
    node: { ns: `${prefix}-node`, ip: "10.100.0.1", mac: "02:00:64:00:00:01", iface: "eth0" },
    client: { ns: `${prefix}-${options.clientName ?? "client"}`, ip: "10.100.0.2", mac: "02:00:64:00:00:02" },
    wirePrefix: 24,
    vip: options.vip,
    nodePodCidr: "10.244.1.0/24",
    backendCidr: "10.244.2.0/24",
    podGateway: "169.254.1.1",
    backends: [1, 2, 3].map((i) => ({
      name: `web-${i}`, ns: `${prefix}-b${i}`, ip: `10.244.2.${10 + i}`, mac: `02:00:64:00:02:${hex(0x10 + i)}`, port: `p-b${i}`,
    })),
    pods: options.pods.map((pod, i) => {
      const name = pod.slice(pod.indexOf("/") + 1);
      return {
        pod, name, ns: `${prefix}-${name}`, ip: `10.244.1.${10 * (i + 1)}`, mac: `02:00:64:00:01:${hex(0x10 * (i + 1))}`,
        hostIface: `lx-${name}`.slice(0, 15), hostMac: `02:00:64:00:01:${hex(0x90 + 0x10 * i)}`,
      };
    }),
  };
}

/** Names and addresses of the demo's network; they match examples/demo. */
export const TOPOLOGY = {
  ...planTopology({ prefix: DEMO_PREFIX, vip: "203.0.113.10", pods: ["shop/frontend", "tools/debug"] }),
  /** The port of the LoadBalancer address. */
  vipPort: 80,
  /** The port the frontend pod serves on. */
  podPort: 8080,
} as const;

/** Every namespace of `t`, in creation order. */
export function topologyNamespaces(t: Topology): string[] {
  return [t.wire, t.node.ns, t.client.ns, ...t.backends.map((b) => b.ns), ...t.pods.map((p) => p.ns)];
}

/** Every namespace of the demo, in creation order. */
export function demoNamespaces(): string[] {
  return topologyNamespaces(TOPOLOGY);
}

/** What the network needs from outside: XDP objects, and a way to turn checksum offload off. */
export interface TopologyObjects {
  /** The XDP_PASS program for the node's port on the wire. */
  readonly pass: string;
  /** Each backend's decapsulation program (its address is compiled in). */
  readonly decap: (backend: DemoBackend) => string;
  /** Turns transmit checksum offload of `iface` in `ns` off (it runs tx-checksum.mjs inside the namespace). */
  readonly txChecksumOff: (ns: string, iface: string) => void;
}

/**
 * The `-D` flags that compile a backend's own addresses into
 * bpf/demo/xdp_decap.c: each 32-bit word of the address as the packet's
 * bytes load into a register (little-endian on x86-64 and arm64).
 */
export function decapDefines(address4: string, address6?: string): string[] {
  const words = (text: string, family: 4 | 6) => {
    const ip = parseIp(text);
    if (ip?.family !== family) throw new RangeError(`not an IPv${family} address: ${text}`);
    const bytes = Buffer.from(ip.bytes);
    return Array.from({ length: bytes.length / 4 }, (_, i) => `0x${bytes.readUInt32LE(4 * i).toString(16)}`);
  };
  return [
    `WP_DEMO_LOCAL_V4=${words(address4, 4)[0]}`,
    ...(address6 === undefined ? [] : words(address6, 6).map((w, i) => `WP_DEMO_LOCAL_V6_${i}=${w}`)),
  ];
}

/**
 * The `.rodata` values that give bpf/demo/xdp_decap.c, compiled without
 * {@link decapDefines}, a backend's own addresses: `local_v4` (and
 * `local_v6`) hold the address bytes as they appear in the packet, so
 * they are the address in network byte order. Written into a copy of the
 * object with withGlobals (src/lb/elf-globals.ts) before it is attached.
 */
export function decapGlobals(address4: string, address6?: string): Record<string, Uint8Array> {
  const bytes = (text: string, family: 4 | 6) => {
    const ip = parseIp(text);
    if (ip?.family !== family) throw new RangeError(`not an IPv${family} address: ${text}`);
    return Uint8Array.from(ip.bytes);
  };
  return { local_v4: bytes(address4, 4), ...(address6 === undefined ? {} : { local_v6: bytes(address6, 6) }) };
}

/**
 * Builds the network `t`. `created` receives each namespace as soon as it
 * exists, so the caller can delete exactly those if this throws half way.
 */
export function buildTopology(t: Topology, objects: TopologyObjects, created: (ns: string) => void): void {
  addNamespaces(topologyNamespaces(t), IPV6_OFF, created);
  // The wire: one bridge, L2 only.
  const plug = addWire(t.wire);

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
  objects.txChecksumOff(t.client.ns, "eth0");
  ipn(t.client.ns, "addr", "add", `${t.client.ip}/${t.wirePrefix}`, "dev", "eth0");
  ipn(t.client.ns, "route", "add", `${t.vip}/32`, "via", t.node.ip, "dev", "eth0");
  ipn(t.client.ns, "route", "add", t.nodePodCidr, "via", t.node.ip, "dev", "eth0");
  neighbour(t.client.ns, t.node.ip, t.node.mac);

  // The backends: decapsulate in XDP, own the service address on lo, answer the client directly
  // and the node's pods through the node.
  for (const b of t.backends) {
    plug(b.port, b.ns, b.mac);
    ipn(b.ns, "addr", "add", `${b.ip}/24`, "dev", "eth0");
    ipn(b.ns, "addr", "add", `${t.vip}/32`, "dev", "lo");
    ipn(b.ns, "route", "add", `${t.client.ip}/32`, "dev", "eth0");
    neighbour(b.ns, t.client.ip, t.client.mac);
    neighbour(b.ns, t.node.ip, t.node.mac);
    ipn(b.ns, "route", "add", t.nodePodCidr, "via", t.node.ip, "dev", "eth0", "onlink");
    ipn(b.ns, "link", "set", "dev", "eth0", "xdpdrv", "obj", objects.decap(b), "sec", "xdp");
  }

  // The pods of the node, each on a veth into the node.
  for (const p of t.pods) addPod(t.node.ns, p, t.podGateway);
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
