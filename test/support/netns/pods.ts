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
 * is turned off in every namespace). Pods are plugged in with
 * src/demo/netns.ts's addPod, as the demo's are.
 */
import { addNamespaces, addPod, IPV6_OFF, sysctl } from "../../../src/demo/netns.js";

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

/** Builds the network; `created` receives each namespace as soon as it exists (for cleanup after a failure). */
export function buildPods(n: PodNetwork, created: (ns: string) => void): void {
  // IPv4 only: no router solicitations or other IPv6 chatter for policy to drop.
  addNamespaces([n.node, ...n.pods.map((p) => p.ns)], IPV6_OFF, created);
  sysctl(n.node, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
  for (const p of n.pods) addPod(n.node, p, GATEWAY);
}
