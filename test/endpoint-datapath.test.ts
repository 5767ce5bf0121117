/**
 * Packet fixtures for the endpoint policy programs (bpf/tc_endpoint.c)
 * through BPF_PROG_TEST_RUN, with maps written by src/endpoint from a
 * cluster view: each row is a packet, the endpoint it is run for, and the
 * verdict expected; every row is also checked against the engine's
 * verdict(), so the table cannot drift from the policy semantics.
 *
 * Test runs accept only an existing device as the skb's interface, so the
 * endpoint under test is registered on ifindex 1 (lo) with the identity of
 * the pod the row is about.
 *
 * Needs root (CAP_BPF), libbpf and clang: skipped without them, a failure
 * with CI=true.
 */
import assert from "node:assert/strict";
import { describe, it, before, after, type TestContext } from "node:test";
import { testRun } from "../src/bpf/index.js";
import { createCluster, type Cluster } from "../src/index.js";
import { openEndpointDatapath, MapFullError, type EndpointCounters, type EndpointDatapath } from "../src/endpoint/index.js";
import { TCP_FLAGS } from "./fixtures/bpf/packets.js";
import { frame, skbContext, TC_ACT, type Flow } from "./support/endpoint-packets.js";
import { requireBpf } from "./support/privileges.js";

const ns = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { ns: name } } });
const pod = (name: string, labels: Record<string, string>, ...ips: string[]) => ({
  apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "prod", labels }, spec: {},
  status: { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
});
const cnp = (name: string, spec: object) => ({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace: "prod" }, spec });
const sel = (app: string) => ({ matchLabels: { app } });
const tcpPorts = (...ports: Array<string | [string, number]>) => [{
  ports: ports.map((p) => (Array.isArray(p) ? { port: p[0], endPort: p[1], protocol: "TCP" } : { port: p, protocol: "TCP" })),
}];

const POLICIES = [
  cnp("web-in", {
    endpointSelector: sel("web"),
    ingress: [
      { fromEndpoints: [sel("client")], toPorts: tcpPorts("80", ["9000", 9100]) },          // L3+L4, range
      { toPorts: [{ ports: [{ port: "53", protocol: "UDP" }] }] },                          // L4 only
      { fromCIDRSet: [{ cidr: "192.0.2.0/24", except: ["192.0.2.128/25"] }] },              // CIDR with except, L3 only
      { fromEndpoints: [sel("attacker")], toPorts: tcpPorts("8080") },                      // beaten by the deny
      { fromEndpoints: [sel("client")], icmps: [{ fields: [{ type: 8, family: "IPv4" }, { type: 128, family: "IPv6" }] }] },
      { fromEndpoints: [sel("client")], toPorts: [{ ports: [{ port: "5000", protocol: "SCTP" }] }] },
    ],
    ingressDeny: [{ fromEndpoints: [sel("attacker")] }],                                    // L3 deny
  }),
  cnp("web-out", {
    endpointSelector: sel("web"),
    egress: [
      { toEndpoints: [sel("client")] },                                                     // L3 only
      { toEntities: ["world"], toPorts: tcpPorts("443") },                                  // world
    ],
    egressDeny: [{ toPorts: tcpPorts("25") }],                                              // L4-only deny
  }),
];

const IP = {
  web: ["10.1.0.10", "fd00:1::10"], client: ["10.1.0.20", "fd00:1::20"], attacker: ["10.1.0.30", "fd00:1::30"], free: ["10.1.0.40", "fd00:1::40"],
};

interface Row {
  name: string;
  /** The pod whose endpoint runs the program. */
  endpoint: "web" | "free";
  direction: "ingress" | "egress";
  flow: Flow;
  reason: "allowed" | "policy-deny" | "default-deny" | "not-enforced";
}

const v4 = (who: keyof typeof IP) => IP[who][0]!;
const v6 = (who: keyof typeof IP) => IP[who][1]!;

const ROWS: Row[] = [
  { name: "L3+L4 allow", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "TCP", dport: 80 }, reason: "allowed" },
  { name: "L3+L4 allow, IPv6", endpoint: "web", direction: "ingress", flow: { src: v6("client"), dst: v6("web"), protocol: "TCP", dport: 80 }, reason: "allowed" },
  { name: "port not allowed", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "TCP", dport: 81 }, reason: "default-deny" },
  { name: "range start", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "TCP", dport: 9000 }, reason: "allowed" },
  { name: "range middle, IPv6", endpoint: "web", direction: "ingress", flow: { src: v6("client"), dst: v6("web"), protocol: "TCP", dport: 9057 }, reason: "allowed" },
  { name: "range end", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "TCP", dport: 9100 }, reason: "allowed" },
  { name: "past the range", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "TCP", dport: 9101 }, reason: "default-deny" },
  { name: "same port, UDP", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "UDP", dport: 80 }, reason: "default-deny" },
  { name: "SCTP allow", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "SCTP", dport: 5000 }, reason: "allowed" },
  { name: "L4-only allow from any pod", endpoint: "web", direction: "ingress", flow: { src: v4("free"), dst: v4("web"), protocol: "UDP", dport: 53 }, reason: "allowed" },
  { name: "L4-only allow from world, IPv6", endpoint: "web", direction: "ingress", flow: { src: "2001:db8::1", dst: v6("web"), protocol: "UDP", dport: 53 }, reason: "allowed" },
  { name: "L3 deny beats an L4 allow", endpoint: "web", direction: "ingress", flow: { src: v4("attacker"), dst: v4("web"), protocol: "TCP", dport: 8080 }, reason: "policy-deny" },
  { name: "L3 deny beats an L4-only allow", endpoint: "web", direction: "ingress", flow: { src: v6("attacker"), dst: v6("web"), protocol: "UDP", dport: 53 }, reason: "policy-deny" },
  { name: "CIDR allow", endpoint: "web", direction: "ingress", flow: { src: "192.0.2.7", dst: v4("web"), protocol: "TCP", dport: 1234 }, reason: "allowed" },
  { name: "CIDR except", endpoint: "web", direction: "ingress", flow: { src: "192.0.2.200", dst: v4("web"), protocol: "TCP", dport: 1234 }, reason: "default-deny" },
  { name: "world not allowed in", endpoint: "web", direction: "ingress", flow: { src: "198.51.100.1", dst: v4("web"), protocol: "TCP", dport: 80 }, reason: "default-deny" },
  { name: "ICMP echo allowed", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "ICMP", dport: 8 }, reason: "allowed" },
  { name: "ICMPv6 echo allowed", endpoint: "web", direction: "ingress", flow: { src: v6("client"), dst: v6("web"), protocol: "ICMPv6", dport: 128 }, reason: "allowed" },
  { name: "ICMP timestamp not allowed", endpoint: "web", direction: "ingress", flow: { src: v4("client"), dst: v4("web"), protocol: "ICMP", dport: 13 }, reason: "default-deny" },
  { name: "egress L3 allow", endpoint: "web", direction: "egress", flow: { src: v4("web"), dst: v4("client"), protocol: "TCP", dport: 5000 }, reason: "allowed" },
  { name: "egress L4-only deny beats L3 allow", endpoint: "web", direction: "egress", flow: { src: v4("web"), dst: v4("client"), protocol: "TCP", dport: 25 }, reason: "policy-deny" },
  { name: "egress to world 443", endpoint: "web", direction: "egress", flow: { src: v6("web"), dst: "2001:db8::5", protocol: "TCP", dport: 443 }, reason: "allowed" },
  { name: "egress to world 80", endpoint: "web", direction: "egress", flow: { src: v4("web"), dst: "203.0.113.5", protocol: "TCP", dport: 80 }, reason: "default-deny" },
  { name: "egress to an unselected pod", endpoint: "web", direction: "egress", flow: { src: v4("web"), dst: v4("free"), protocol: "UDP", dport: 53 }, reason: "default-deny" },
  { name: "not enforced, ingress", endpoint: "free", direction: "ingress", flow: { src: "198.51.100.1", dst: v4("free"), protocol: "TCP", dport: 22 }, reason: "not-enforced" },
  { name: "not enforced, egress, IPv6", endpoint: "free", direction: "egress", flow: { src: v6("free"), dst: v6("attacker"), protocol: "UDP", dport: 53 }, reason: "not-enforced" },
  { name: "not enforced but denied", endpoint: "free", direction: "egress", flow: { src: v4("free"), dst: "203.0.113.5", protocol: "TCP", dport: 25 }, reason: "not-enforced" },
];

const DROP_OF = { "policy-deny": "POLICY_DENY", "default-deny": "DEFAULT_DENY" } as const;

describe("tc endpoint policy: packet fixtures", () => {
  let cluster: Cluster;
  let dp: EndpointDatapath | undefined;
  let sport = 41000;

  before(async () => {
    cluster = await createCluster();
  });
  after(() => dp?.close());

  async function datapath(t: TestContext): Promise<EndpointDatapath | undefined> {
    if (!(await requireBpf(t))) return undefined;
    if (!dp) {
      dp = await openEndpointDatapath({ pin: false });
      dp.applyDelta(cluster.apply([ns("prod"), pod("web", { app: "web" }, ...IP.web), pod("client", { app: "client" }, ...IP.client),
        pod("attacker", { app: "attacker" }, ...IP.attacker), pod("free", { app: "free" }, ...IP.free)]));
      for (const p of POLICIES) dp.applyDelta(cluster.apply(p));
    }
    return dp;
  }

  function run(d: EndpointDatapath, endpoint: string, direction: "ingress" | "egress", flow: Flow): number {
    d.registerEndpoint(1, cluster.identityOf(`prod/${endpoint}`)!);
    const program = direction === "ingress" ? d.toEndpoint : d.fromEndpoint;
    return testRun(program, { data: frame(flow), ctxIn: skbContext(1) }).retval;
  }

  function engineReason(row: Row): string {
    const subject = cluster.identityOf(`prod/${row.endpoint}`)!;
    const peerAddr = row.direction === "ingress" ? row.flow.src : row.flow.dst;
    const r = cluster.reachability({ from: peerAddr, to: peerAddr, protocol: "TCP", port: 0 });
    return cluster.engine.verdict({ subject, direction: row.direction, peer: r.fromIdentity, protocol: row.flow.protocol, port: row.flow.dport }).reason;
  }

  it("every row: the program's verdict, the engine's reason, the drop counter", async (t) => {
    const d = await datapath(t);
    if (!d) return;
    for (const row of ROWS) {
      assert.equal(engineReason(row), row.reason, `${row.name}: the table disagrees with verdict()`);
      const dropsBefore: EndpointCounters["drops"] = d.counters().drops;
      const retval = run(d, row.endpoint, row.direction, { ...row.flow, sport: sport++ });
      const deny = row.reason === "policy-deny" || row.reason === "default-deny";
      assert.equal(retval, deny ? TC_ACT.SHOT : TC_ACT.OK, row.name);
      const dropsAfter: EndpointCounters["drops"] = d.counters().drops;
      for (const name of ["POLICY_DENY", "DEFAULT_DENY"] as const) {
        const expected = deny && DROP_OF[row.reason as keyof typeof DROP_OF] === name ? 1n : 0n;
        assert.equal(dropsAfter[name].packets - dropsBefore[name].packets, expected, `${row.name}: ${name} counter`);
      }
    }
  });

  it("per-entry counters count the deciding entry's packets and bytes", async (t) => {
    const d = await datapath(t);
    if (!d) return;
    const web = cluster.identityOf("prod/web")!;
    const client = cluster.identityOf("prod/client")!;
    const find = () => d.counters(web).policy.find((c) => c.entry.identity === client && c.entry.direction === "ingress" && c.entry.protocol === 6 && c.entry.port === 80 && c.entry.prefixLength === 24);
    const first = find();
    assert.ok(first, "the client's port-80 entry is held");
    const data = frame({ src: v4("client"), dst: v4("web"), protocol: "TCP", dport: 80, sport: 50001, flags: TCP_FLAGS.SYN });
    d.registerEndpoint(1, web);
    for (let i = 0; i < 3; i++) assert.equal(testRun(d.toEndpoint, { data, ctxIn: skbContext(1) }).retval, TC_ACT.OK);
    const later = find()!;
    assert.equal(later.packets - first!.packets, 3n);
    assert.equal(later.bytes - first!.bytes, BigInt(3 * data.length));
  });

  it("a reply of an allowed connection passes where policy alone would drop it; RST closes the entry", async (t) => {
    const d = await datapath(t);
    if (!d) return;
    const out: Flow = { src: v4("web"), dst: "203.0.113.9", protocol: "TCP", sport: 43210, dport: 443, flags: TCP_FLAGS.SYN };
    const reply: Flow = { src: "203.0.113.9", dst: v4("web"), protocol: "TCP", sport: 443, dport: 43210, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK };
    assert.equal(run(d, "web", "ingress", reply), TC_ACT.SHOT, "before the connection: world may not reach web");
    assert.equal(run(d, "web", "egress", out), TC_ACT.OK);
    assert.equal(run(d, "web", "ingress", reply), TC_ACT.OK, "the reply of the allowed connection passes");
    const entry = d.conntrack().find((c) => c.sport === 43210 && c.dport === 443);
    assert.ok(entry && entry.direction === "egress" && entry.tcpForward === TCP_FLAGS.SYN && entry.tcpReply === (TCP_FLAGS.SYN | TCP_FLAGS.ACK) && !entry.closing);
    assert.equal(run(d, "web", "ingress", { ...reply, flags: TCP_FLAGS.RST }), TC_ACT.OK);
    assert.ok(d.conntrack().find((c) => c.sport === 43210 && c.dport === 443)!.closing, "RST marks the entry closing");
    // A packet from the same peer that is not a reply is still decided by policy.
    assert.equal(run(d, "web", "ingress", { ...reply, sport: 444 }), TC_ACT.SHOT);
  });

  it("ICMP echo: the reply of an allowed request passes; IPv6 too", async (t) => {
    const d = await datapath(t);
    if (!d) return;
    for (const [family, req, rep] of [[0, 8, 0], [1, 128, 129]] as const) {
      const proto = family ? "ICMPv6" : "ICMP";
      const web = IP.web[family]!;
      const world = family ? "2001:db8::77" : "203.0.113.77";
      const reply: Flow = { src: world, dst: web, protocol: proto, sport: 77, dport: rep };
      assert.equal(run(d, "web", "ingress", reply), TC_ACT.SHOT, `${proto}: an unsolicited echo reply is dropped`);
      // web may not send ICMP to the world: make it a client pod's request instead.
      const client = IP.client[family]!;
      assert.equal(run(d, "web", "egress", { src: web, dst: client, protocol: proto, sport: 78, dport: req }), TC_ACT.OK);
      assert.equal(run(d, "web", "ingress", { src: client, dst: web, protocol: proto, sport: 78, dport: rep }), TC_ACT.OK, `${proto}: echo reply`);
    }
  });

  it("applying a deny while a connection is open cuts its next packet; deleting the policy restores it", async (t) => {
    const d = await datapath(t);
    if (!d) return;
    const flow: Flow = { src: v4("client"), dst: v4("web"), protocol: "TCP", sport: 45000, dport: 80, flags: TCP_FLAGS.ACK };
    assert.equal(run(d, "web", "ingress", flow), TC_ACT.OK);
    const deny = cnp("cut", { endpointSelector: sel("web"), ingressDeny: [{ fromEndpoints: [sel("client")], toPorts: tcpPorts("80") }] });
    const result = d.applyDelta(cluster.apply(deny));
    assert.ok(result.policyWritten > 0);
    assert.equal(run(d, "web", "ingress", flow), TC_ACT.SHOT);
    d.applyDelta(cluster.delete(deny));
    assert.equal(run(d, "web", "ingress", flow), TC_ACT.OK);
  });

  it("a full sync writes nothing when the maps already agree, and restores a deleted entry", async (t) => {
    const d = await datapath(t);
    if (!d) return;
    const source = { engine: cluster.engine, ipcache: () => cluster.ipcache() };
    const web = cluster.identityOf("prod/web")!;
    d.registerEndpoint(1, web);
    assert.deepEqual(d.sync(source), { policyWritten: 0, policyDeleted: 0, ipcacheWritten: 0, ipcacheDeleted: 0 });
    const held = d.policyEntries(web);
    assert.equal(held.length, cluster.engine.policyMap(web).length);
    d.writePolicyMap(web, cluster.engine.policyMap(web).slice(1));
    assert.equal(d.policyEntries(web).length, held.length - 1);
    assert.deepEqual(d.sync(source), { policyWritten: 1, policyDeleted: 0, ipcacheWritten: 0, ipcacheDeleted: 0 });
  });

  it("a change that does not fit is refused whole, naming the map", async (t) => {
    if (!(await requireBpf(t))) return;
    const small = await openEndpointDatapath({ pin: false });
    try {
      const entries = Array.from({ length: 3 }, (_, i) => ({
        identity: 500 + i, direction: "ingress" as const, protocol: 6, port: 80, endPort: 80, prefixLength: 24, deny: false, proxy: false, precedence: 3,
      }));
      const capacity = small.maps.policy.maxEntries;
      const many = Array.from({ length: capacity + 1 }, (_, i) => ({ ...entries[0]!, identity: 1000 + i }));
      assert.throws(() => small.writePolicyMap(300, many), (e: unknown) => e instanceof MapFullError && e.map === "wp_policy" && e.code === "MAP_FULL");
      assert.equal(small.policyEntries().length, 0);
      assert.equal([...small.maps.policy.keys()].length, 0, "nothing was written");
      assert.throws(() => small.applyDelta({ endpoints: [{ identity: 300, added: entries, removed: [] }], ipcache: { added: [{ prefix: "10.0.0.0/33", identity: 5 }], removed: [] } }));
      assert.equal([...small.maps.policy.keys()].length, 0, "an invalid prefix refuses the policy part too");
      small.applyDelta({ endpoints: [{ identity: 300, added: entries, removed: [] }], ipcache: { added: [], removed: [] } });
      assert.equal([...small.maps.policy.keys()].length, 3);
    } finally {
      small.close();
    }
  });
});
