/**
 * The endpoint datapath end to end, in network namespaces: pods in their own
 * namespaces on veth pairs into a node namespace, bpf/tc_endpoint.c attached
 * on every host-side veth by src/endpoint (EndpointDatapath.attach), a
 * ClusterIP service with three backend pods written by src/lb (sync,
 * algorithm maglev) and translated by tc_endpoint from the same maps, and
 * policies from a src/cluster view (createCluster + apply, written with
 * applyDelta). Real TCP connections and UDP datagrams from pod processes:
 *
 *   1. TCP and UDP to VIP:port reach all three backends where policy allows
 *      (each answer names its backend; fixed source ports, so the flows
 *      and hence the backends are the same on every run); the backend sees
 *      the client pod's own address; the service counts the packets.
 *   2. They fail where an explicit deny (the client's egress) or the default
 *      deny (the client's egress, or the backend's ingress) applies, and the
 *      flow events read through a FlowEventReader name the reason, the
 *      endpoint and peer identities, the backend as destination and, on the
 *      client's side, the service.
 *   3. A deny applied while traffic flows cuts the next new connection (no
 *      wait between the change and the attempt), and only what it denies.
 *
 * Topology: test/support/netns/pods.ts. The control plane runs in the node
 * namespace (test/support/netns/endpoint-agent.ts, started with `nsenter
 * --net`, so it attaches there while the pins stay in the root mount
 * namespace); servers and clients are Node processes started with `ip netns
 * exec` (pod-server.mjs, pod-client.mjs). Everything is built in the first
 * test that needs it and removed in `after`, which also checks that no
 * namespace, pin or helper process of this run is left.
 *
 * Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN), clang with the libbpf
 * headers, iproute2 and nsenter: skipped with the reason without them (a
 * failure with CI=true). No assertion depends on timing: waits are bounded
 * only to fail instead of hanging, and an attempt expected to fail is given
 * the same deadline as one expected to succeed would need many times over.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";

import { buildBpf } from "../scripts/build-bpf.mjs";
import type { LbService } from "../src/lb/index.js";
import { destroyNamespaces, existingNamespaces } from "../src/demo/netns.js";
import { Child, ensureBpffs, trySh } from "../src/demo/process.js";
import { buildPods, planPods, type PodHost, type PodNetwork } from "./support/netns/pods.js";
import { cleanUpOnExit } from "./support/exit-cleanup.js";
import { requireBpf, requireTools, skipOrFail } from "./support/privileges.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SUPPORT = join(ROOT, "test", "support", "netns");

// ---- The scenario ------------------------------------------------------------------

const HASH_SEED = Buffer.from("wp-ep-e2e-sd").toString("base64");
const VIP = "10.96.7.10";
const PORTS = { tcp: 80, udp: 53, tcpTarget: 8080, udpTarget: 5353 } as const;
const BACKENDS = ["b1", "b2", "b3"] as const;
const PODS = ["client", "other", "blocked", ...BACKENDS];
/** Per attempt; a successful one takes milliseconds, a dropped SYN is retried after 1 s. */
const ATTEMPT_MS = 1500;
const FLOWS = 24;

const NS = { apiVersion: "v1", kind: "Namespace", metadata: { name: "prod", labels: { ns: "prod" } } };
const app = (name: string) => (BACKENDS.includes(name as "b1") ? "web" : name);
const podObject = (p: PodHost) => ({
  apiVersion: "v1", kind: "Pod", metadata: { name: p.name, namespace: "prod", labels: { app: app(p.name) } }, spec: {},
  status: { podIP: p.ip, podIPs: [{ ip: p.ip }] },
});
const cnp = (name: string, spec: object) => ({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace: "prod" }, spec });
const web = { matchLabels: { app: "web" } };
const port = (p: number, protocol: "TCP" | "UDP") => ({ port: String(p), protocol });
const POLICIES = [
  // client: TCP and UDP to the backends' target ports.
  cnp("client-out", { endpointSelector: { matchLabels: { app: "client" } }, egress: [{ toEndpoints: [web], toPorts: [{ ports: [port(PORTS.tcpTarget, "TCP"), port(PORTS.udpTarget, "UDP")] }] }] }),
  // other: anything to the backends except TCP 8080, which it is explicitly denied.
  cnp("other-out", {
    endpointSelector: { matchLabels: { app: "other" } },
    egress: [{ toEndpoints: [web] }],
    egressDeny: [{ toEndpoints: [web], toPorts: [{ ports: [port(PORTS.tcpTarget, "TCP")] }] }],
  }),
  // blocked: egress enforced, nothing to the backends' ports allowed (default deny).
  cnp("blocked-out", { endpointSelector: { matchLabels: { app: "blocked" } }, egress: [{ toEndpoints: [web], toPorts: [{ ports: [port(9999, "TCP")] }] }] }),
  // The backends accept client and other on TCP, only client on UDP.
  cnp("web-in", {
    endpointSelector: web,
    ingress: [
      { fromEndpoints: [{ matchLabels: { app: "client" } }, { matchLabels: { app: "other" } }], toPorts: [{ ports: [port(PORTS.tcpTarget, "TCP")] }] },
      { fromEndpoints: [{ matchLabels: { app: "client" } }], toPorts: [{ ports: [port(PORTS.udpTarget, "UDP")] }] },
    ],
  }),
];
/** Applied during the last test: the client may no longer open TCP to the backends. */
const CUT = cnp("client-cut", { endpointSelector: { matchLabels: { app: "client" } }, egressDeny: [{ toEndpoints: [web], toPorts: [{ ports: [port(PORTS.tcpTarget, "TCP")] }] }] });

// ---- The lab -------------------------------------------------------------------------

interface Outcome { localPort: number; answer?: string; error?: string }
/** A flow event as the agent sends it (FlowEvent, bigints as text). */
interface Event {
  verdict: string; reason?: string; direction: string; endpointIdentity: number; peerIdentity: number; serviceId?: number;
  source: string; destination: string; sourcePort: number; destinationPort: number; protocol: string; translated: boolean;
}

interface Lab {
  prefix: string;
  work: string;
  pinRoot: string;
  net: PodNetwork;
  created: string[];
  agent?: Child;
  servers: Child[];
  clients: Map<string, Child>;
  identities: Record<string, number>;
  serviceIds: Record<string, number>;
  nextPort: number;
}

let lab: Lab | undefined;
let setupPromise: Promise<Lab> | undefined;

const SERVICES = (net: PodNetwork): LbService[] => {
  const backends = (target: number, first: number) => BACKENDS.map((b, i) => ({ id: first + i, address: pod(net, b).ip, port: target }));
  return [
    { name: "web", vip: VIP, port: PORTS.tcp, protocol: "TCP", algorithm: "maglev", backends: backends(PORTS.tcpTarget, 1) },
    { name: "echo", vip: VIP, port: PORTS.udp, protocol: "UDP", algorithm: "maglev", backends: backends(PORTS.udpTarget, 11) },
  ];
};

function pod(net: PodNetwork, name: string): PodHost {
  return net.pods.find((p) => p.name === name) ?? assert.fail(`no pod ${name}`);
}

async function setUp(): Promise<Lab> {
  const prefix = `wp-ep-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`));
  ensureBpffs();
  const net = planPods(prefix, PODS);
  lab = { prefix, work, pinRoot: `/sys/fs/bpf/${prefix}`, net, created: [], servers: [], clients: new Map(), identities: {}, serviceIds: {}, nextPort: 20000 };
  const l = lab;
  // Built here from the checkout's sources, so that a concurrent rebuild of bpf/build cannot swap them under the agent.
  const [lbObject, endpointObject] = buildBpf({ outDir: work, sources: [join(ROOT, "bpf", "xdp_lb.c"), join(ROOT, "bpf", "tc_endpoint.c")] });

  buildPods(net, (ns) => l.created.push(ns));
  l.agent = new Child("endpoint-agent", "nsenter", [`--net=/run/netns/${net.node}`, process.execPath, "--import", "tsx", join(SUPPORT, "endpoint-agent.ts")], { cwd: ROOT, ownProcessGroup: false });
  const started = await l.agent.call<{ identities: Record<string, number>; services: Record<string, number> }>({
    op: "start", pinRoot: l.pinRoot, hashSeed: HASH_SEED, lbObject, endpointObject, services: SERVICES(net), objects: [NS, ...net.pods.map(podObject), ...POLICIES],
  }, 60_000);
  l.identities = started.identities;
  l.serviceIds = started.services;
  for (const p of net.pods) await l.agent.call({ op: "attach", iface: p.hostIface, pod: `prod/${p.name}` }, 10_000);

  for (const b of BACKENDS) {
    const server = new Child(`pod ${b}`, "ip", ["netns", "exec", pod(net, b).ns, process.execPath, join(SUPPORT, "pod-server.mjs"), b, String(PORTS.tcpTarget), String(PORTS.udpTarget)], { cwd: ROOT, ownProcessGroup: false });
    l.servers.push(server);
    await server.waitForLine((line) => line === `ready ${b}`, 20_000, `pod ${b} listening`);
  }
  for (const name of ["client", "other", "blocked"]) {
    l.clients.set(name, new Child(`pod ${name}`, "ip", ["netns", "exec", pod(net, name).ns, process.execPath, join(SUPPORT, "pod-client.mjs")], { cwd: ROOT, ownProcessGroup: false }));
  }
  return l;
}

async function tearDown(): Promise<void> {
  const l = lab;
  if (!l) return;
  const problems: string[] = [];
  try {
    if (l.agent?.running) await l.agent.call({ op: "stop" }, 20_000).catch((e: unknown) => problems.push(`agent stop: ${String(e)}`));
  } finally {
    for (const h of [l.agent, ...l.servers, ...l.clients.values()]) await h?.stop();
    const left = destroyNamespaces(l.created);
    rmSync(l.pinRoot, { recursive: true, force: true });
    rmSync(l.work, { recursive: true, force: true });
    lab = undefined;
    if (left.length > 0) problems.push(`namespaces left behind: ${left.join(", ")}`);
  }
  assert.deepEqual([...existingNamespaces()].filter((ns) => ns.startsWith(`${l.prefix}-`)), [], "`ip netns list` shows no namespace of this run");
  assert.equal(existsSync(l.pinRoot), false, "no pin of this run is left");
  const running = [l.agent, ...l.servers, ...l.clients.values()].filter((h) => h?.running).map((h) => h!.describe());
  assert.deepEqual(running, [], "every helper process has exited");
  if (problems.length > 0) process.stderr.write(`endpoint-e2e teardown notes:\n${problems.join("\n")}\n`);
}

/** Last resort when the process dies without running `after`. */
function emergencyCleanup(): void {
  const l = lab;
  if (!l) return;
  for (const h of [l.agent, ...l.servers, ...l.clients.values()]) h?.killNow();
  for (const ns of l.created) trySh("ip", ["netns", "del", ns], 10_000);
  rmSync(l.pinRoot, { recursive: true, force: true });
  rmSync(l.work, { recursive: true, force: true });
  lab = undefined;
}
cleanUpOnExit(emergencyCleanup);

function missingNetns(): string | undefined {
  if (process.platform !== "linux") return "needs Linux (network namespaces, tc)";
  if (process.getuid?.() !== 0) return "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces";
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return "needs the libbpf headers (Debian: apt-get install libbpf-dev)";
  return undefined;
}

/** The lab, or undefined when this machine cannot run it (skipped; a failure with CI=true). */
async function need(t: TestContext): Promise<Lab | undefined> {
  if (!(await requireBpf(t)) || !requireTools(t, "clang", "ip", "nsenter")) return undefined;
  const missing = missingNetns();
  if (missing) return skipOrFail(t, missing) || undefined;
  setupPromise ??= setUp();
  return setupPromise;
}

after(tearDown, { timeout: 60_000 });

// ---- Traffic and events ----------------------------------------------------------------

async function traffic(l: Lab, from: string, protocol: "tcp" | "udp", count: number): Promise<Outcome[]> {
  const client = l.clients.get(from) ?? assert.fail(`no client ${from}`);
  const firstLocalPort = l.nextPort;
  l.nextPort += count;
  const { results } = await client.call<{ results: Outcome[] }>({
    op: protocol, host: VIP, port: protocol === "tcp" ? PORTS.tcp : PORTS.udp, count, firstLocalPort, timeoutMs: ATTEMPT_MS,
  }, count * ATTEMPT_MS + 10_000);
  return results;
}

async function events(l: Lab): Promise<Event[]> {
  return (await l.agent!.call<{ events: Event[] }>({ op: "events" }, 10_000)).events;
}

async function stats(l: Lab): Promise<{ services: { name: string; packets: number }[]; drops: Record<string, number> }> {
  return l.agent!.call({ op: "stats" }, 10_000);
}

/** The backend named by each answer; fails with the outcomes and counters when one did not answer. */
async function backendsOf(l: Lab, outcomes: Outcome[], what: string): Promise<Map<string, number>> {
  const failed = outcomes.filter((o) => o.answer === undefined);
  if (failed.length > 0) {
    assert.fail(`${what}: ${failed.length} of ${outcomes.length} got no answer (${failed.slice(0, 4).map((o) => `port ${o.localPort}: ${o.error}`).join("; ")})\ndatapath: ${JSON.stringify(await stats(l))}`);
  }
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const name = o.answer!.split(" ")[0]!;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** The drop event of a flow from `localPort`, checked field by field. */
function assertDropEvent(list: Event[], want: Partial<Event> & { localPort: number; reason: string }, what: string): void {
  const e = list.find((x) => x.verdict === "DROPPED" && x.sourcePort === want.localPort && x.reason === want.reason);
  assert.ok(e, `${what}: a ${want.reason} event for source port ${want.localPort} (got ${JSON.stringify(list.map((x) => [x.reason, x.direction, x.sourcePort, x.destination]))})`);
  for (const [field, value] of Object.entries(want)) {
    if (field === "localPort") continue;
    assert.deepEqual(e[field as keyof Event], value, `${what}: event ${field}`);
  }
}

// ---- Tests -------------------------------------------------------------------------------

describe("endpoint datapath end to end: pods in network namespaces, a ClusterIP with three backends, policy", () => {
  it("TCP to the ClusterIP reaches all three backends; each sees the client pod's own address", { timeout: 120_000 }, async (t) => {
    const l = await need(t);
    if (!l) return;
    const before = (await stats(l)).services.find((s) => s.name === "web")?.packets ?? 0;
    const outcomes = await traffic(l, "client", "tcp", FLOWS);
    const counts = await backendsOf(l, outcomes, "client → VIP:80/TCP");
    t.diagnostic(`TCP: ${[...counts].sort().map(([n, c]) => `${n} ${c}`).join(", ")}`);
    assert.deepEqual([...counts.keys()].sort(), [...BACKENDS], "every backend answers some connections");
    for (const o of outcomes) assert.equal(o.answer!.split(" ").slice(1).join(" "), `${pod(l.net, "client").ip} ${o.localPort}`, "the backend sees the client pod, not the node");
    const after = (await stats(l)).services.find((s) => s.name === "web")?.packets ?? 0;
    assert.ok(after - before >= 3 * FLOWS, `the service counted the forwarded packets (${after - before} for ${FLOWS} connections)`);
    const forwarded = (await events(l)).filter((e) => e.verdict === "FORWARDED" && e.direction === "egress" && e.endpointIdentity === l.identities["prod/client"]);
    assert.equal(forwarded.filter((e) => e.translated && e.serviceId === l.serviceIds.web && e.destinationPort === PORTS.tcpTarget).length, FLOWS, "one translated new-connection event per connection");
  });

  it("UDP to the ClusterIP: every datagram echoed, by all three backends", { timeout: 120_000 }, async (t) => {
    const l = await need(t);
    if (!l) return;
    const outcomes = await traffic(l, "client", "udp", FLOWS);
    const counts = await backendsOf(l, outcomes, "client → VIP:53/UDP");
    t.diagnostic(`UDP: ${[...counts].sort().map(([n, c]) => `${n} ${c}`).join(", ")}`);
    assert.deepEqual([...counts.keys()].sort(), [...BACKENDS]);
    outcomes.forEach((o, i) => assert.match(o.answer!, new RegExp(` ping ${i}$`), "the echo carries the datagram's payload"));
  });

  it("an explicit deny on the client's egress: TCP fails, with a policy-deny event naming the backend and the service", { timeout: 60_000 }, async (t) => {
    const l = await need(t);
    if (!l) return;
    await events(l);
    const [o] = await traffic(l, "other", "tcp", 1);
    assert.ok(o && o.answer === undefined, `other → VIP:80 must fail (got ${JSON.stringify(o)})`);
    const list = await events(l);
    assertDropEvent(list, {
      localPort: o.localPort, reason: "policy-deny", direction: "egress", protocol: "TCP", translated: true, serviceId: l.serviceIds.web,
      endpointIdentity: l.identities["prod/other"], peerIdentity: l.identities["prod/b1"], destinationPort: PORTS.tcpTarget,
    }, "other → VIP:80");
    const e = list.find((x) => x.sourcePort === o.localPort)!;
    assert.ok(BACKENDS.some((b) => pod(l.net, b).ip === e.destination), `the destination is a backend pod (${e.destination})`);
  });

  it("default deny on the client's egress (TCP) and on the backend's ingress (UDP), with their events", { timeout: 60_000 }, async (t) => {
    const l = await need(t);
    if (!l) return;
    await events(l);
    const [tcp] = await traffic(l, "blocked", "tcp", 1);
    assert.ok(tcp && tcp.answer === undefined, `blocked → VIP:80 must fail (got ${JSON.stringify(tcp)})`);
    assertDropEvent(await events(l), {
      localPort: tcp.localPort, reason: "default-deny", direction: "egress", protocol: "TCP", translated: true, serviceId: l.serviceIds.web,
      endpointIdentity: l.identities["prod/blocked"], peerIdentity: l.identities["prod/b1"],
    }, "blocked → VIP:80");

    // other may send UDP (its egress allows it), but the backends accept UDP from client only.
    const [udp] = await traffic(l, "other", "udp", 1);
    assert.ok(udp && udp.answer === undefined, `other → VIP:53 must fail (got ${JSON.stringify(udp)})`);
    assertDropEvent(await events(l), {
      localPort: udp.localPort, reason: "default-deny", direction: "ingress", protocol: "UDP", translated: false,
      endpointIdentity: l.identities["prod/b1"], peerIdentity: l.identities["prod/other"], source: pod(l.net, "other").ip, destinationPort: PORTS.udpTarget,
    }, "other → VIP:53, at the backend");
  });

  it("a deny applied while the client is connecting cuts its next new TCP connection at once; UDP goes on", { timeout: 60_000 }, async (t) => {
    const l = await need(t);
    if (!l) return;
    await backendsOf(l, await traffic(l, "client", "tcp", 3), "before the deny");
    const { result } = await l.agent!.call<{ result: { policyWritten: number } }>({ op: "apply", objects: CUT }, 10_000);
    assert.ok(result.policyWritten > 0, "the deny was written");
    await events(l);
    const [cut] = await traffic(l, "client", "tcp", 1);
    assert.ok(cut && cut.answer === undefined, `the first connection after the deny must fail (got ${JSON.stringify(cut)})`);
    assertDropEvent(await events(l), {
      localPort: cut.localPort, reason: "policy-deny", direction: "egress", protocol: "TCP", translated: true, serviceId: l.serviceIds.web,
      endpointIdentity: l.identities["prod/client"], peerIdentity: l.identities["prod/b1"],
    }, "client → VIP:80 after the deny");
    await backendsOf(l, await traffic(l, "client", "udp", 3), "UDP after the TCP deny");
    const drops = (await stats(l)).drops;
    assert.ok((drops.POLICY_DENY ?? 0) >= 2 && (drops.DEFAULT_DENY ?? 0) >= 2, `drop counters: ${JSON.stringify(drops)}`);
  });
});
