/**
 * Canned observed flows and an agent status, shaped as the agent's local API
 * sends them (src/observe/types.ts, src/agent/api.ts), for the observe and
 * agent-client tests.
 */
import type { AgentStatus } from "../../src/agent/api.js";
import type { ObservedFlow } from "../../src/observe/types.js";

/** A forwarded SYN to a ClusterIP, a policy drop, a reply, an IPv6 drop from the world, and ICMP. */
export const FLOWS: readonly ObservedFlow[] = [
  {
    time: "2024-05-01T12:00:00.123Z",
    verdict: "FORWARDED",
    direction: "ingress",
    protocol: "TCP",
    source: { ip: "10.244.1.10", port: 41000, identity: 1001, namespace: "shop", pod: "web", labels: ["k8s:app=web"] },
    destination: { ip: "10.244.1.20", port: 5432, identity: 1002, namespace: "shop", pod: "db" },
    service: { id: 7, name: "shop/db" },
    tcpFlags: "SYN",
    reply: false,
    interface: "lxc-db",
  },
  {
    time: "2024-05-01T12:00:00.456Z",
    verdict: "DROPPED",
    reason: "policy-deny",
    direction: "ingress",
    protocol: "TCP",
    source: { ip: "10.244.2.5", port: 38000, identity: 1003, namespace: "tools", pod: "debug" },
    destination: { ip: "10.244.1.10", port: 8080, identity: 1001, namespace: "shop", pod: "web" },
    tcpFlags: "SYN",
    reply: false,
    interface: "lxc-web",
  },
  {
    time: "2024-05-01T12:00:00.789Z",
    verdict: "FORWARDED",
    direction: "egress",
    protocol: "TCP",
    source: { ip: "10.244.1.20", port: 5432, identity: 1002, namespace: "shop", pod: "db" },
    destination: { ip: "10.244.1.10", port: 41000, identity: 1001, namespace: "shop", pod: "web" },
    tcpFlags: "SYN|ACK",
    reply: true,
    interface: "lxc-db",
  },
  {
    time: "2024-05-01T12:00:01.000Z",
    verdict: "DROPPED",
    reason: "default-deny",
    direction: "ingress",
    protocol: "UDP",
    source: { ip: "2001:db8::7", port: 53000, identity: 2 },
    destination: { ip: "fd00::20", port: 53, identity: 1004, namespace: "kube-system", pod: "dns" },
    tcpFlags: "",
    reply: false,
    interface: "17",
  },
  {
    time: "2024-05-01T12:00:02.000Z",
    verdict: "FORWARDED",
    direction: "egress",
    protocol: "ICMP",
    source: { ip: "10.244.1.10", port: 0, identity: 1001, namespace: "shop", pod: "web" },
    destination: { ip: "8.8.8.8", port: 0, identity: 2 },
    tcpFlags: "",
    reply: false,
    interface: "lxc-web",
  },
];

/** The text line of each flow of {@link FLOWS}, as `wasmplane observe` prints it. */
export const FLOW_LINES: readonly string[] = [
  "2024-05-01T12:00:00.123Z shop/web:41000 (ID:1001) -> shop/db:5432 (ID:1002) ingress FORWARDED TCP SYN service shop/db",
  "2024-05-01T12:00:00.456Z tools/debug:38000 (ID:1003) -> shop/web:8080 (ID:1001) ingress DROPPED (policy-deny) TCP SYN",
  "2024-05-01T12:00:00.789Z shop/web:41000 (ID:1001) <- shop/db:5432 (ID:1002) egress FORWARDED TCP SYN|ACK",
  "2024-05-01T12:00:01.000Z [2001:db8::7]:53000 (ID:2) -> kube-system/dns:53 (ID:1004) ingress DROPPED (default-deny) UDP",
  "2024-05-01T12:00:02.000Z shop/web (ID:1001) -> 8.8.8.8 (ID:2) egress FORWARDED ICMP",
];

/** A status of an agent serving a small state, one change applied with one object rejected. */
export const STATUS: AgentStatus = {
  apiVersion: 1,
  health: "degraded",
  startedAt: "2024-05-01T11:00:00.000Z",
  state: "/etc/wasmplane/state",
  xdp: { interface: "eth0", mode: "native" },
  endpoints: { "shop/web": "lxc-web", "shop/db": "lxc-db" },
  counts: { services: 3, backends: 9, identities: 6, endpoints: 2, policyEntries: 17 },
  maps: [
    { name: "wp_lb_services", entries: 3, maxEntries: 4096, percent: 0.1 },
    { name: "wp_policy_exact", entries: 1536, maxEntries: 2048, percent: 75 },
  ],
  lastApplied: {
    at: "2024-05-01T11:59:00.000Z",
    generation: 4,
    durationMs: 12,
    changed: { services: 1, backends: 2, policies: 0, pods: 0 },
    rejected: ["bad.yaml: Service shop/broken: spec.ports[0].port: must be 1-65535"],
  },
  flowsPerSecond: 12.5,
  dropsByReason: { "policy-deny": "42", "default-deny": "7" },
  flowEventsLost: "0",
};
