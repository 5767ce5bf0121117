/**
 * The network of test/endpoint-e2e.test.ts: one node namespace and one
 * namespace per pod, each pod on a veth pair whose host side lives in the
 * node (where the endpoint programs are attached), routed as Cilium routes
 * pods:
 *
 *   pod ns                              node ns (forwarding on)
 *   eth0 10.210.0.N/32  ═══ veth ═══   lx-<pod>  (no address)
 *   default via 169.254.1.1             10.210.0.N/32 dev lx-<pod>
 *   169.254.1.1 → lx-<pod>'s MAC        10.210.0.N → eth0's MAC
 *     (permanent neighbour)               (permanent neighbour)
 *
 * Every packet of a pod, to another pod or to a ClusterIP, crosses tc
 * ingress of its host veth (wasmplane_from_endpoint), where a ClusterIP is
 * translated before the node routes it; everything towards a pod crosses
 * tc egress of the pod's host veth (wasmplane_to_endpoint). Static
 * neighbours: no ARP, so no address is needed on the node side, and a
 * ClusterIP needs no route (it is rewritten before routing). Only IPv4 (IPv6
 * is turned off in every namespace).
 */
import { sh, trySh } from "./process.js";
import { existingNamespaces } from "./topology.js";

/** The pods' gateway: an address nothing owns, answered by a static neighbour entry. */
export const GATEWAY = "169.254.1.1";

/** One pod of the plan. */
export interface PodHost {
  /** Pod name (in the Kubernetes namespace "prod"). */
  name: string;
  /** Network namespace. */
  ns: string;
  /** The pod's address. */
  ip: string;
  /** The pod's eth0 MAC. */
  mac: string;
  /** Host-side veth, in the node namespace. */
  hostIface: string;
  /** Its MAC. */
  hostMac: string;
}

/** The node namespace and the pods. */
export interface PodNetwork {
  node: string;
  pods: PodHost[];
}

/** Names and addresses for `names` under namespace prefix `prefix`. */
export function planPods(prefix: string, names: string[]): PodNetwork {
  return {
    node: `${prefix}-node`,
    pods: names.map((name, i) => ({
      name, ns: `${prefix}-${name}`, ip: `10.210.0.${10 + i}`,
      mac: `02:00:d2:00:00:${(0x10 + i).toString(16)}`, hostIface: `lx-${name}`.slice(0, 15), hostMac: `02:00:d2:00:01:${(0x10 + i).toString(16)}`,
    })),
  };
}

const ipn = (ns: string, ...args: string[]) => sh("ip", ["-n", ns, ...args]);
const sysctl = (ns: string, ...settings: string[]) => sh("ip", ["netns", "exec", ns, "sysctl", "-qw", ...settings]);

/** Builds the network; `created` receives each namespace as soon as it exists (for cleanup after a failure). */
export function buildPods(n: PodNetwork, created: (ns: string) => void): void {
  for (const ns of [n.node, ...n.pods.map((p) => p.ns)]) {
    sh("ip", ["netns", "add", ns]);
    created(ns);
    ipn(ns, "link", "set", "lo", "up");
    // IPv4 only: no router solicitations or other IPv6 chatter for policy to drop.
    sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
  }
  sysctl(n.node, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
  for (const p of n.pods) {
    ipn(n.node, "link", "add", p.hostIface, "address", p.hostMac, "type", "veth", "peer", "name", "eth0", "address", p.mac, "netns", p.ns);
    ipn(n.node, "link", "set", p.hostIface, "up");
    ipn(n.node, "route", "add", `${p.ip}/32`, "dev", p.hostIface);
    ipn(n.node, "neigh", "replace", p.ip, "lladdr", p.mac, "dev", p.hostIface, "nud", "permanent");
    ipn(p.ns, "addr", "add", `${p.ip}/32`, "dev", "eth0");
    ipn(p.ns, "link", "set", "eth0", "up");
    ipn(p.ns, "route", "add", GATEWAY, "dev", "eth0", "scope", "link");
    ipn(p.ns, "route", "add", "default", "via", GATEWAY, "dev", "eth0");
    ipn(p.ns, "neigh", "replace", GATEWAY, "lladdr", p.hostMac, "dev", "eth0", "nud", "permanent");
  }
}

/** Deletes the namespaces in `names` that exist (their veths go with them). Never throws; returns those left. */
export function destroyPods(names: Iterable<string>): string[] {
  const left: string[] = [];
  for (const ns of names) {
    if (!existingNamespaces().has(ns)) continue;
    if (!trySh("ip", ["netns", "del", ns]) && existingNamespaces().has(ns)) left.push(ns);
  }
  return left;
}
