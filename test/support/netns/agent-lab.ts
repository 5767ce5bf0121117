/**
 * The network of test/agent-e2e.test.ts: one load-balancing node with pods
 * on veths, a client outside the cluster, and three backends on another
 * "node", all network namespaces named `<prefix>-*`. The addresses are the
 * ones the test's state (Kubernetes YAML) describes; nothing here knows
 * about the agent, which the test starts in the node namespace.
 *
 *  <p>-world               <p>-wire: bridge br0 (L2)         <p>-node ("node-a")
 *  ┌─────────────────┐    ┌─────────────────────────┐     ┌──────────────────────────────────┐
 *  │ eth0 10.100.0.2 ├────┤ p-world                 │     │ eth0 10.100.0.1                  │
 *  │ tx checksum off │    │ p-node [xdp pass] ──────┼─────┤  [agent: XDP load balancer]      │
 *  │ LB address and  │    │ p-b1  p-b2  p-b3        │     │ forwarding on, rp_filter off     │
 *  │ pods via .1     │    └──┬─────┬─────┬──────────┘     │ lx-client ══ <p>-client 10.244.1.10
 *  └─────────────────┘       │     │     │                │ lx-db     ══ <p>-db     10.244.1.20
 *                            │     │     │                │ lx-other  ══ <p>-other  10.244.1.30
 *   <p>-b1..b3 ("node-b" pods web-1..3)                   │   [agent: tc on every lx-*]      │
 *   eth0 10.244.2.11..13 [xdp decap], lo: the LB address  └──────────────────────────────────┘
 *   pods and the client routed via 10.100.0.1
 *
 * North-south (the LoadBalancer address): the client routes it to the node;
 * the agent's XDP program encapsulates (IPIP, outer source the node) and
 * sends the frame back out of eth0 (XDP_TX, received by p-node because
 * p-node runs an XDP_PASS program); the backend decapsulates in XDP (no
 * ipip driver needed) and answers the client directly. The client's veth
 * computes full checksums, since XDP_TX keeps bytes, not skb metadata.
 *
 * East-west (a pod to the ClusterIP): the agent's tc program on the pod's
 * host veth rewrites the destination to a backend; the node routes it out
 * of eth0 to the backend (not encapsulated; the decapsulation program
 * passes it); the answer comes back through the node, whose tc program on
 * the pod's veth restores the ClusterIP as the source.
 *
 * No ARP anywhere (permanent neighbour entries), IPv6 off everywhere, so
 * the flow stream holds only the test's own traffic.
 */
import { sh } from "./process.js";
import { destroyPods } from "./pods.js";

/** A backend: a pod of node-b, a namespace on the wire. */
export interface LabBackend {
  /** Pod name in the state, and the body of its answers: `web-1`. */
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  /** Its port on the bridge. */
  readonly port: string;
}

/** A pod of the load-balancing node, on a veth into the node namespace. */
export interface LabPod {
  /** Pod name in the state (namespace `shop`). */
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  /** Host-side veth, in the node namespace: where the agent attaches. */
  readonly hostIface: string;
  readonly hostMac: string;
}

/** Names and addresses of one lab. */
export interface AgentLab {
  readonly prefix: string;
  readonly wire: string;
  readonly node: { readonly ns: string; readonly ip: string; readonly mac: string; readonly iface: "eth0" };
  readonly world: { readonly ns: string; readonly ip: string; readonly mac: string };
  /** The service's LoadBalancer address (on the backends' lo). */
  readonly lbAddress: string;
  readonly backends: readonly LabBackend[];
  readonly pods: readonly LabPod[];
}

/** The pods' gateway: an address nobody owns, answered by a static neighbour entry. */
const POD_GATEWAY = "169.254.1.1";

/** The lab for namespace prefix `prefix`, with pods named `podNames` (shop/<name>). */
export function planAgentLab(prefix: string, podNames: readonly string[], lbAddress: string): AgentLab {
  return {
    prefix,
    wire: `${prefix}-wire`,
    node: { ns: `${prefix}-node`, ip: "10.100.0.1", mac: "02:00:64:00:00:01", iface: "eth0" },
    world: { ns: `${prefix}-world`, ip: "10.100.0.2", mac: "02:00:64:00:00:02" },
    lbAddress,
    backends: [1, 2, 3].map((i) => ({
      name: `web-${i}`, ns: `${prefix}-b${i}`, ip: `10.244.2.${10 + i}`, mac: `02:00:64:00:02:${(0x10 + i).toString(16)}`, port: `p-b${i}`,
    })),
    pods: podNames.map((name, i) => ({
      name, ns: `${prefix}-${name}`, ip: `10.244.1.${10 * (i + 1)}`, mac: `02:00:64:00:01:${(0x10 + i).toString(16)}`,
      hostIface: `lx-${name}`.slice(0, 15), hostMac: `02:00:64:00:01:${(0x90 + i).toString(16)}`,
    })),
  };
}

/** Every namespace of the lab, in creation order. */
export function agentLabNamespaces(lab: AgentLab): string[] {
  return [lab.wire, lab.node.ns, lab.world.ns, ...lab.backends.map((b) => b.ns), ...lab.pods.map((p) => p.ns)];
}

/** XDP objects: the pass program for the node's wire port, each backend's decapsulation. */
export interface AgentLabObjects {
  readonly pass: string;
  readonly decap: (backend: LabBackend) => string;
  /** Turns transmit checksum offload of `iface` in `ns` off. */
  readonly txChecksumOff: (ns: string, iface: string) => void;
}

const ipn = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);
const sysctl = (ns: string, ...settings: string[]) => sh("ip", ["netns", "exec", ns, "sysctl", "-qw", ...settings]);
const neighbour = (ns: string, ip: string, mac: string, dev = "eth0") => ipn(ns, "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent");

/**
 * Builds the network. `created` receives each namespace as soon as it
 * exists, so the caller can delete exactly those if this throws half way.
 */
export function buildAgentLab(lab: AgentLab, objects: AgentLabObjects, created: (ns: string) => void): void {
  for (const ns of agentLabNamespaces(lab)) {
    sh("ip", ["netns", "add", ns]);
    created(ns);
    ipn(ns, "link", "set", "lo", "up");
    sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
  }
  ipn(lab.wire, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0");
  ipn(lab.wire, "link", "set", "br0", "up");
  const plug = (port: string, ns: string, mac: string) => {
    ipn(lab.wire, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ipn(lab.wire, "link", "set", port, "master", "br0", "up");
    ipn(ns, "link", "set", "eth0", "address", mac, "up");
  };
  const { node, world } = lab;

  plug("p-node", node.ns, node.mac);
  ipn(lab.wire, "link", "set", "dev", "p-node", "xdpdrv", "obj", objects.pass, "sec", "xdp");
  ipn(node.ns, "addr", "add", `${node.ip}/24`, "dev", "eth0");
  // bpf_fib_lookup() answers only with forwarding on; the node routes its pods' packets.
  sysctl(node.ns, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
  ipn(node.ns, "route", "add", "10.244.2.0/24", "dev", "eth0");
  neighbour(node.ns, world.ip, world.mac);
  for (const b of lab.backends) neighbour(node.ns, b.ip, b.mac);

  plug("p-world", world.ns, world.mac);
  objects.txChecksumOff(world.ns, "eth0");
  ipn(world.ns, "addr", "add", `${world.ip}/24`, "dev", "eth0");
  ipn(world.ns, "route", "add", `${lab.lbAddress}/32`, "via", node.ip, "dev", "eth0");
  ipn(world.ns, "route", "add", "10.244.1.0/24", "via", node.ip, "dev", "eth0");
  neighbour(world.ns, node.ip, node.mac);

  for (const b of lab.backends) {
    plug(b.port, b.ns, b.mac);
    ipn(b.ns, "addr", "add", `${b.ip}/24`, "dev", "eth0");
    ipn(b.ns, "addr", "add", `${lab.lbAddress}/32`, "dev", "lo");
    // Direct server return to the client; east-west answers to the pods go back through the node.
    ipn(b.ns, "route", "add", `${world.ip}/32`, "dev", "eth0");
    neighbour(b.ns, world.ip, world.mac);
    neighbour(b.ns, node.ip, node.mac);
    ipn(b.ns, "route", "add", "10.244.1.0/24", "via", node.ip, "dev", "eth0", "onlink");
    ipn(b.ns, "link", "set", "dev", "eth0", "xdpdrv", "obj", objects.decap(b), "sec", "xdp");
  }

  for (const p of lab.pods) {
    ipn(node.ns, "link", "add", p.hostIface, "address", p.hostMac, "type", "veth", "peer", "name", "eth0", "address", p.mac, "netns", p.ns);
    ipn(node.ns, "link", "set", p.hostIface, "up");
    ipn(node.ns, "route", "add", `${p.ip}/32`, "dev", p.hostIface);
    neighbour(node.ns, p.ip, p.mac, p.hostIface);
    ipn(p.ns, "addr", "add", `${p.ip}/32`, "dev", "eth0");
    ipn(p.ns, "link", "set", "eth0", "up");
    ipn(p.ns, "route", "add", POD_GATEWAY, "dev", "eth0", "scope", "link");
    ipn(p.ns, "route", "add", "default", "via", POD_GATEWAY, "dev", "eth0");
    neighbour(p.ns, POD_GATEWAY, p.hostMac);
  }
}

/** Deletes the lab's namespaces that exist. Never throws; returns those left. */
export function destroyAgentLab(namespaces: Iterable<string>): string[] {
  return destroyPods(namespaces);
}
