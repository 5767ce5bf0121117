/**
 * Building blocks for networks of network namespaces, with `ip` and
 * `sysctl` run inside them: the live demo's topology (topology.ts) and the
 * tests' own networks (test/support/netns) are put together from these.
 * Nothing here touches the root namespace's network.
 *
 * Every neighbour is a permanent entry, so nothing waits for ARP or
 * neighbour discovery.
 *
 * @module
 */
import { sh, trySh } from "./process.js";

/** `ip -n <ns> <args>`. */
export const ipn = (ns: string, ...args: string[]): string => sh("ip", ["-n", ns, ...args]);

/** `sysctl -qw <settings>` inside `ns`. */
export const sysctl = (ns: string, ...settings: string[]): string => sh("ip", ["netns", "exec", ns, "sysctl", "-qw", ...settings]);

/** Sysctls that turn IPv6 off in a namespace (and on every interface created in it later). */
export const IPV6_OFF = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] as const;

/** `ip` and `mac` as a permanent neighbour of `ns` on `dev`. */
export function neighbour(ns: string, ip: string, mac: string, dev = "eth0"): void {
  ipn(ns, "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent");
}

/**
 * Creates the namespaces `names` in order, each with lo up and `settings`
 * (sysctls) applied before any interface exists. `created` receives each
 * one as soon as it exists, so the caller can delete exactly those if this
 * throws half way.
 */
export function addNamespaces(names: readonly string[], settings: readonly string[], created: (ns: string) => void): void {
  for (const ns of names) {
    sh("ip", ["netns", "add", ns]);
    created(ns);
    ipn(ns, "link", "set", "lo", "up");
    if (settings.length > 0) sysctl(ns, ...settings);
  }
}

/**
 * A bridge br0 in namespace `wire` (L2 only: no STP, no multicast
 * snooping). Returns `plug(port, ns, mac)`, which adds a veth from bridge
 * port `port` to `eth0` of namespace `ns`, with MAC `mac`, both ends up.
 */
export function addWire(wire: string): (port: string, ns: string, mac: string) => void {
  ipn(wire, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0");
  ipn(wire, "link", "set", "br0", "up");
  return (port, ns, mac) => {
    ipn(wire, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ipn(wire, "link", "set", port, "master", "br0", "up");
    ipn(ns, "link", "set", "eth0", "address", mac, "up");
  };
}

/** A pod on a node: its namespace, address and MAC, and the host side of its veth. */
export interface PodLink {
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  /** Host side of the veth, in the node namespace (where tc programs attach). */
  readonly hostIface: string;
  readonly hostMac: string;
}

/**
 * Plugs a pod into `node` the way Cilium routes pods: a veth whose host
 * side has no address, a /32 route to the pod in the node; in the pod, the
 * address as a /32 and a default route via `gateway`, a link-local address
 * nobody owns that a permanent neighbour entry resolves to the host side.
 */
export function addPod(node: string, pod: PodLink, gateway: string): void {
  ipn(node, "link", "add", pod.hostIface, "address", pod.hostMac, "type", "veth", "peer", "name", "eth0", "address", pod.mac, "netns", pod.ns);
  ipn(node, "link", "set", pod.hostIface, "up");
  ipn(node, "route", "add", `${pod.ip}/32`, "dev", pod.hostIface);
  neighbour(node, pod.ip, pod.mac, pod.hostIface);
  ipn(pod.ns, "addr", "add", `${pod.ip}/32`, "dev", "eth0");
  ipn(pod.ns, "link", "set", "eth0", "up");
  ipn(pod.ns, "route", "add", gateway, "dev", "eth0", "scope", "link");
  ipn(pod.ns, "route", "add", "default", "via", gateway, "dev", "eth0");
  neighbour(pod.ns, gateway, pod.hostMac);
}

/** The network namespaces that exist now, by name. */
export function existingNamespaces(): string[] {
  const out = sh("ip", ["-j", "netns", "list"]).trim();
  if (!out) return [];
  return (JSON.parse(out) as { name: string }[]).map((e) => e.name);
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
