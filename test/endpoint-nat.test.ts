/**
 * Service translation inside the endpoint programs (bpf/tc_endpoint.c),
 * through BPF_PROG_TEST_RUN, with one set of service maps: the load
 * balancer's control plane (src/lb openDatapath + sync) writes a ClusterIP
 * service, and the endpoint datapath opened with `loadBalancer` translates
 * it. Checked: the shared maps are the load balancer's own kernel maps; a
 * pod's connection to VIP:port leaves with the backend the Maglev model
 * predicts as its destination; policy, conntrack and the flow event see the
 * backend (its identity, its port) and the event carries the service ID and
 * the translated flag; replies get VIP:port back and pass as replies even
 * where policy would drop the backend; policy deny and default deny after
 * translation; service and backend counters count forwarded packets only.
 *
 * Needs root (CAP_BPF), libbpf.so.1, clang and the libbpf headers: skipped
 * without them, a failure with CI=true. Pins live under a per-process
 * directory of /sys/fs/bpf, removed in `after`.
 */
import assert from "node:assert/strict";
import { readdirSync, rmSync } from "node:fs";
import { after, describe, it, type TestContext } from "node:test";

import { testRun } from "../src/bpf/index.js";
import { createCluster, createMaglev, decodeHashSeed, InvalidInputError, type Cluster } from "../src/index.js";
import { openEndpointDatapath, type ConntrackEntry, type EndpointDatapath } from "../src/endpoint/index.js";
import { openFlowEventReader, type FlowEvent, type FlowEventReader } from "../src/events/index.js";
import { LB_MAP_NAMES, openDatapath, unpinDatapath, type Datapath, type LbService } from "../src/lb/index.js";
import { flowHash, maglevSlot, type FlowSeeds } from "./fixtures/bpf/flow-hash.js";
import { ip, IPPROTO, TCP_FLAGS } from "./fixtures/bpf/packets.js";
import { frame, skbContext, TC_ACT, type Flow } from "./support/endpoint-packets.js";
import { requireBpfBuild } from "./support/privileges.js";

const HASH_SEED = Buffer.from("endpoint-nat").toString("base64");
const IP = { client: "10.2.0.10", other: "10.2.0.11", b1: "10.2.1.1", b2: "10.2.1.2", b3: "10.2.1.3" } as const;
const VIP = "10.96.1.10";
const backends = (port: number, first: number) => ["b1", "b2", "b3"].map((b, i) => ({ id: first + i, address: IP[b as "b1"], port }));
const SERVICES: LbService[] = [
  { name: "web", vip: VIP, port: 80, protocol: "TCP", algorithm: "maglev", backends: backends(8080, 1) },
  { name: "dns", vip: VIP, port: 53, protocol: "UDP", algorithm: "maglev", backends: backends(5353, 11) },
];

const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: "prod", labels: { ns: "prod" } } };
const pod = (name: string, app: string, address: string) => ({
  apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "prod", labels: { app } }, spec: {}, status: { podIP: address, podIPs: [{ ip: address }] },
});
const cnp = (name: string, spec: object) => ({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace: "prod" }, spec });
const POLICIES = [
  // The client may open TCP 8080 to the backends (the service's target port, not 80); no UDP.
  // Nothing from the backends may start a connection to it: only replies come back.
  cnp("client", {
    endpointSelector: { matchLabels: { app: "client" } },
    egress: [{ toEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }],
    ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }],
  }),
  cnp("other", {
    endpointSelector: { matchLabels: { app: "other" } },
    egress: [{ toEndpoints: [{ matchLabels: { app: "web" } }] }],
    egressDeny: [{ toEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }],
  }),
];

interface Env {
  lb: Datapath;
  ep: EndpointDatapath;
  cluster: Cluster;
  events: FlowEvent[];
  reader: FlowEventReader;
  seeds: FlowSeeds;
  tables: Map<string, Uint32Array>;
  tableSize: number;
}

const pinRoot = `/sys/fs/bpf/wasmplane-epnat-${process.pid}`;
let envPromise: Promise<Env> | undefined;

async function setup(): Promise<Env> {
  unpinDatapath(pinRoot);
  rmSync(pinRoot, { recursive: true, force: true });
  const lb = await openDatapath({ pinRoot, hashSeed: HASH_SEED });
  lb.sync(SERVICES);
  const ep = await openEndpointDatapath({ loadBalancer: lb });
  const cluster = await createCluster();
  ep.applyDelta(cluster.apply([ns, pod("client", "client", IP.client), pod("other", "other", IP.other),
    pod("b1", "web", IP.b1), pod("b2", "web", IP.b2), pod("b3", "web", IP.b3)]));
  for (const p of POLICIES) ep.applyDelta(cluster.apply(p));
  const events: FlowEvent[] = [];
  const reader = await openFlowEventReader(ep.object, (e) => events.push(e));
  const maglev = await createMaglev({ hashSeed: HASH_SEED });
  const tables = new Map(SERVICES.map((s) => [s.name, maglev.build(s.backends.map((b) => ({ ...b, protocol: s.protocol })))]));
  return { lb, ep, cluster, events, reader, seeds: decodeHashSeed(HASH_SEED), tables, tableSize: maglev.tableSize };
}

async function kernel(t: TestContext): Promise<Env | undefined> {
  if (!(await requireBpfBuild(t))) return undefined;
  envPromise ??= setup();
  return envPromise;
}

after(async () => {
  const env = await envPromise?.catch(() => undefined);
  try {
    env?.reader.close();
    env?.ep.unpin();
    env?.ep.close();
    env?.lb.close();
  } finally {
    if (envPromise) {
      unpinDatapath(pinRoot);
      rmSync(pinRoot, { recursive: true, force: true });
    }
  }
});

/** Source, destination and ports of an IPv4 TCP/UDP frame. */
function tupleOf(out: Buffer): { src: string; dst: string; sport: number; dport: number } {
  const l4 = 14 + (out[14]! & 0x0f) * 4;
  return { src: [...out.subarray(26, 30)].join("."), dst: [...out.subarray(30, 34)].join("."), sport: out.readUInt16BE(l4), dport: out.readUInt16BE(l4 + 2) };
}

function predict(env: Env, svc: LbService, f: Flow): { id: number; address: string; port: number } {
  const protocol = f.protocol === "TCP" ? IPPROTO.TCP : IPPROTO.UDP;
  const hash = flowHash({ saddr: ip(f.src), sport: f.sport!, dport: f.dport, protocol }, env.seeds);
  const id = env.tables.get(svc.name)![maglevSlot(hash, env.tableSize)]!;
  return svc.backends.find((b) => b.id === id) ?? assert.fail(`slot holds unknown backend ${id}`);
}

function run(env: Env, who: "client" | "other", direction: "egress" | "ingress", f: Flow): { verdict: number; out: Buffer; events: FlowEvent[] } {
  env.ep.registerEndpoint(1, env.cluster.identityOf(`prod/${who}`)!);
  env.reader.consume();
  env.events.length = 0;
  const r = testRun(direction === "egress" ? env.ep.fromEndpoint : env.ep.toEndpoint, { data: frame(f), ctxIn: skbContext(1) });
  env.reader.consume();
  return { verdict: r.retval, out: Buffer.from(r.dataOut!), events: [...env.events] };
}

const serviceId = (env: Env, name: string): number => env.lb.services().find((s) => s.name === name)?.id ?? assert.fail(`no service ${name}`);
const servicePackets = (env: Env, name: string): bigint => env.lb.counters().services.find((s) => s.name === name)?.packets ?? 0n;
const backendPackets = (env: Env, id: number): bigint => env.lb.counters().backends.find((b) => b.id === id)?.packets ?? 0n;
const identity = (env: Env, address: string): number => env.cluster.ipcache().find((e) => e.prefix === `${address}/32`)?.identity ?? assert.fail(`${address} has no identity`);

describe("tc endpoint: ClusterIP translation over the load balancer's maps", () => {
  it("the endpoint object shares the load balancer's pinned maps (same kernel maps) and pins its own next to them", async (t) => {
    const env = await kernel(t);
    if (!env) return;
    assert.equal(env.ep.pinRoot, env.lb.pinRoot);
    for (const name of ["wp_services", "wp_backends", "wp_maglev_outer", "wp_flows", "wp_service_counters", "wp_drop_counters"]) {
      assert.equal(env.ep.object.map(name).id(), env.lb.object.map(name).id(), `${name} is the load balancer's`);
    }
    const pinned = readdirSync(pinRoot);
    for (const name of ["wp_policy", "wp_ipcache", "wp_conntrack", "wp_rev_nat", "wp_endpoints"]) assert.ok(pinned.includes(name), `${name} pinned under the shared root`);
    assert.ok(LB_MAP_NAMES.every((n) => pinned.includes(n)));
    await assert.rejects(openEndpointDatapath({ loadBalancer: env.lb, pin: false }), InvalidInputError);
    await assert.rejects(openEndpointDatapath({ loadBalancer: env.lb, pinRoot: "/sys/fs/bpf/elsewhere" }), InvalidInputError);
  });

  it("a pod's connections to VIP:80 leave for the Maglev backend on port 8080; policy, conntrack and events see the backend", async (t) => {
    const env = await kernel(t);
    if (!env) return;
    const web = service("web");
    const reached = new Set<number>();
    const client = env.cluster.identityOf("prod/client")!;
    for (let sport = 30000; sport < 30040; sport++) {
      const f: Flow = { src: IP.client, dst: VIP, protocol: "TCP", sport, dport: 80, flags: TCP_FLAGS.SYN };
      const want = predict(env, web, f);
      const [svcBefore, beBefore]: [bigint, bigint] = [servicePackets(env, "web"), backendPackets(env, want.id)];
      const { verdict, out, events } = run(env, "client", "egress", f);
      assert.equal(verdict, TC_ACT.OK, `port ${sport}: ${JSON.stringify(Object.entries(env.ep.counters().drops).filter(([, v]) => v.packets > 0n).map(([k, v]) => [k, Number(v.packets)]))} ${JSON.stringify(events.map((e) => [e.reason, e.destination, e.peerIdentity]))}`);
      assert.deepEqual(tupleOf(out), { src: IP.client, dst: want.address, sport, dport: 8080 }, `port ${sport}: destination rewritten to the predicted backend`);
      assert.equal(servicePackets(env, "web") - svcBefore, 1n, "the service counter counts the forwarded packet");
      assert.equal(backendPackets(env, want.id) - beBefore, 1n, "the backend counter too");
      assert.equal(events.length, 1, "one event: a new connection");
      const e = events[0]!;
      assert.equal(e.verdict, "FORWARDED");
      assert.equal(e.direction, "egress");
      assert.equal(e.translated, true);
      assert.equal(e.serviceId, serviceId(env, "web"));
      assert.deepEqual([e.source, e.sourcePort, e.destination, e.destinationPort], [IP.client, sport, want.address, 8080], "the wire's tuple after translation");
      assert.equal(e.endpointIdentity, client);
      assert.equal(e.peerIdentity, identity(env, want.address), "the peer is the backend pod, not the VIP");
      const ct: ConntrackEntry | undefined = env.ep.conntrack().find((c) => c.sport === sport && c.direction === "egress");
      assert.ok(ct, "a conntrack entry");
      assert.equal(ct.dport, 8080, "keyed by the backend's port");
      assert.equal([...ct.daddr].join("."), want.address, "and the backend's address");
      reached.add(want.id);
    }
    assert.deepEqual([...reached].sort(), [1, 2, 3], "every backend is chosen for some flow");
  });

  it("a backend's reply gets VIP:80 back as its source and passes as a reply, where policy denies the backend", async (t) => {
    const env = await kernel(t);
    if (!env) return;
    const web = service("web");
    const f: Flow = { src: IP.client, dst: VIP, protocol: "TCP", sport: 31000, dport: 80, flags: TCP_FLAGS.SYN };
    const be = predict(env, web, f);
    assert.equal(run(env, "client", "egress", f).verdict, TC_ACT.OK);
    const reply: Flow = { src: be.address, dst: IP.client, protocol: "TCP", sport: 8080, dport: 31000, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK };
    const svcBefore = servicePackets(env, "web");
    const r = run(env, "client", "ingress", reply);
    assert.equal(r.verdict, TC_ACT.OK, "the reply passes");
    assert.deepEqual(tupleOf(r.out), { src: VIP, dst: IP.client, sport: 80, dport: 31000 }, "source rewritten to the frontend");
    assert.equal(r.events.length, 0, "replies emit no event");
    assert.equal(servicePackets(env, "web"), svcBefore, "replies are not counted as forwarded to the service");
    // The same backend starting a connection is not a reply: the client's ingress deny drops it.
    const unsolicited = run(env, "client", "ingress", { ...reply, sport: 8081, flags: TCP_FLAGS.SYN });
    assert.equal(unsolicited.verdict, TC_ACT.SHOT);
    assert.equal(unsolicited.events[0]?.reason, "policy-deny");
    assert.equal(unsolicited.events[0]?.translated, false);
  });

  it("policy deny and default deny are decided on the backend after translation, with events naming it", async (t) => {
    const env = await kernel(t);
    if (!env) return;
    const cases = [
      { who: "other" as const, svc: "web", f: { src: IP.other, dst: VIP, protocol: "TCP" as const, sport: 32000, dport: 80 }, reason: "policy-deny", counter: "POLICY_DENY" as const, port: 8080 },
      { who: "client" as const, svc: "dns", f: { src: IP.client, dst: VIP, protocol: "UDP" as const, sport: 32001, dport: 53 }, reason: "default-deny", counter: "DEFAULT_DENY" as const, port: 5353 },
    ];
    for (const c of cases) {
      const want = predict(env, service(c.svc), c.f);
      const dropsBefore: bigint = env.ep.counters().drops[c.counter].packets;
      const svcBefore = servicePackets(env, c.svc);
      const r = run(env, c.who, "egress", c.f);
      assert.equal(r.verdict, TC_ACT.SHOT, c.reason);
      assert.equal(env.ep.counters().drops[c.counter].packets - dropsBefore, 1n, `${c.counter} counted`);
      assert.equal(servicePackets(env, c.svc), svcBefore, "a dropped packet is not counted as forwarded");
      assert.equal(r.events.length, 1);
      const e = r.events[0]!;
      assert.deepEqual([e.verdict, e.reason, e.direction, e.translated, e.serviceId], ["DROPPED", c.reason, "egress", true, serviceId(env, c.svc)]);
      assert.deepEqual([e.destination, e.destinationPort], [want.address, c.port]);
      assert.equal(e.endpointIdentity, env.cluster.identityOf(`prod/${c.who}`));
      assert.equal(e.peerIdentity, identity(env, want.address));
    }
    // A port of the VIP without a service: the load balancer's rule, a counted drop without an event.
    const before = env.ep.counters().drops.NO_SERVICE.packets;
    const r = run(env, "client", "egress", { src: IP.client, dst: VIP, protocol: "TCP", sport: 32002, dport: 81 });
    assert.equal(r.verdict, TC_ACT.SHOT);
    assert.equal(env.ep.counters().drops.NO_SERVICE.packets - before, 1n);
    assert.equal(r.events.length, 0);
  });
});

function service(name: string): LbService {
  return SERVICES.find((s) => s.name === name) ?? assert.fail(`no service ${name}`);
}
