/**
 * The XDP load balancer end to end, in network namespaces: real TCP
 * connections from a client, through bpf/xdp_lb.c attached in native
 * (driver) mode to the load balancer's veth, to three backends that
 * decapsulate and answer HTTP with their own name, directly to the client
 * (direct server return). Topology, addresses and why each piece is there:
 * test/support/netns/topology.ts.
 *
 *   1. Every connection reaches exactly the backend that the Maglev table
 *      the control plane wrote names for its flow: the slot comes from the
 *      TypeScript model of the datapath's flow hash
 *      (test/fixtures/bpf/flow-hash.ts), and each connection's source port
 *      is chosen by the test, so every 5-tuple is known. IPv4 (IPIP) and
 *      IPv6 (IP6IP6).
 *   2. Removing a backend (a new table without it, written while
 *      connections are open) keeps every open connection to the other
 *      backends working, including connections whose hash the new table
 *      sends elsewhere (the flow LRU keeps them), and new connections go to
 *      the remaining backends, again exactly as the new table says.
 *
 * The control plane is src/lb (openDatapath, attach in native mode,
 * upsertService), driven through test/support/netns/lb-agent.ts, which runs
 * in the load balancer's namespace with `nsenter --net`: it attaches there
 * while its pins stay in the root namespace's /sys/fs/bpf. After every
 * upsert the agent reads the active Maglev table back from the kernel; the
 * predictions use that table, and it must equal what createMaglev builds for
 * the same backends. The client and the backends are Node processes started
 * with `ip netns exec`: the live demo's own helpers (src/demo/client.mjs,
 * server.mjs), and its XDP programs for the backends and the load
 * balancer's wire port (bpf/demo/xdp_decap.c, xdp_pass.c). Everything is built
 * in `before` and removed in `after`, which also checks that no namespace
 * and no helper process of this run is left.
 *
 * Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN), clang with libbpf
 * headers, bpftool, iproute2 (`ip` with libbpf, to attach the helper XDP
 * programs) and nsenter. Without them the suite is skipped with the
 * reason; with CI=true that is a failure. No assertion depends on timing:
 * every wait is bounded only to fail instead of hanging.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";

import { buildBpf } from "../scripts/build-bpf.mjs";
import { createMaglev, decodeHashSeed, type DecodedSeed, type MaglevBuilder } from "../src/index.js";
import { flowHash, maglevSlot } from "./fixtures/bpf/flow-hash.js";
import { ip, IPPROTO } from "./fixtures/bpf/packets.js";
import { destroyNamespaces, existingNamespaces } from "../src/demo/netns.js";
import { Child, ensureBpffs, sh, trySh } from "../src/demo/process.js";
import { decapDefines } from "../src/demo/topology.js";
import { cleanUpOnExit } from "./support/exit-cleanup.js";
import { build, NET, plan, type BackendHost, type Namespaces } from "./support/netns/topology.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SUPPORT = join(ROOT, "test", "support", "netns");
const DEMO = join(ROOT, "src", "demo");
const BPF_DEMO = join(ROOT, "bpf", "demo");
const strict = process.env.CI === "true";

// ---- The scenario ------------------------------------------------------------------

/** 12 bytes, not Cilium's default: proves the seed reaches both the program and the tables. */
const HASH_SEED = Buffer.from("wp-e2e-seed!").toString("base64");
const PORT = 80;
/** Per connect and per request; a lost SYN is retransmitted after 1 s, so this allows a few. */
const CONN_TIMEOUT_MS = 5000;

type Family = "v4" | "v6";

interface Service {
  family: Family;
  id: number;
  vip: string;
  client: string;
  /** Backend IDs of b1, b2, b3 in this service (IDs are per address, so per family). */
  ids: number[];
  /** Source ports of the distribution test, and of new connections after the removal. */
  ports: number[];
  portsAfter: number[];
}

const SERVICES: Record<Family, Service> = {
  v4: { family: "v4", id: 1, vip: NET.vip4, client: NET.v4.client, ids: [1, 2, 3], ports: range(20000, 300), portsAfter: range(24000, 150) },
  v6: { family: "v6", id: 2, vip: NET.vip6, client: NET.v6.client, ids: [11, 12, 13], ports: range(21000, 90), portsAfter: range(25000, 60) },
};
/** The backend removed in the second part (index into the backends: b2). */
const REMOVED = 1;

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

// ---- Requirements ------------------------------------------------------------------

function missingRequirement(): string | undefined {
  if (process.platform !== "linux") return "needs Linux (network namespaces, XDP)";
  if (process.getuid?.() !== 0) return "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and attach XDP programs";
  const missing = ["clang", "bpftool", "ip", "nsenter"].filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) return `needs ${missing.join(", ")} on PATH (Debian: apt-get install -y clang llvm libbpf-dev bpftool iproute2 util-linux)`;
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return "needs libbpf headers (/usr/include/bpf; Debian: libbpf-dev)";
  const ipVersion = spawnSync("ip", ["-V"], { encoding: "utf8" });
  if (!/libbpf/.test(`${ipVersion.stdout}${ipVersion.stderr}`)) return "needs iproute2 built with libbpf (`ip -V` names it) to attach the helper XDP programs";
  return undefined;
}

// ---- The lab -------------------------------------------------------------------------

interface Conn {
  family: Family;
  localPort: number;
  /** The backend that answered the first request. */
  backend: string;
}

interface Lab {
  /** Namespace name prefix of this run: wp-e2e-<pid>. */
  prefix: string;
  work: string;
  /** bpffs directory of the load balancer's pinned maps (the agent unpins; removed again in after). */
  pinRoot: string;
  ns: Namespaces;
  /** Namespaces created so far (deleted in after, even when setup failed half way). */
  created: string[];
  agent?: Child;
  client?: Child;
  servers: Child[];
  seeds: DecodedSeed;
  maglev: MaglevBuilder;
  tableSize: number;
  /** The table the control plane wrote last, per family. */
  tables: Partial<Record<Family, Uint32Array>>;
  /** Connections open in the client, by family and source port. */
  open: Conn[];
}

let lab: Lab | undefined;

function need(): Lab {
  return lab ?? assert.fail("setup did not run");
}

/** The backend hosts by backend ID, for a service. */
function hostOf(svc: Service, id: number): BackendHost {
  const i = svc.ids.indexOf(id);
  return need().ns.backends[i] ?? assert.fail(`backend ID ${id} is not one of service ${svc.id}'s`);
}

function maglevBackends(svc: Service, hosts: BackendHost[]) {
  return hosts.map((h) => ({ id: svc.ids[need().ns.backends.indexOf(h)]!, address: svc.family === "v4" ? h.v4 : h.v6, port: PORT }));
}

/** The backend the datapath must choose for a new flow from `localPort`, by `table`. */
function predict(svc: Service, table: Uint32Array, localPort: number): string {
  const { seeds, tableSize } = need();
  const hash = flowHash({ saddr: ip(svc.client), sport: localPort, dport: PORT, protocol: IPPROTO.TCP }, seeds);
  return hostOf(svc, table[maglevSlot(hash, tableSize)]!).name;
}

function decodeTable(base64: string): Uint32Array {
  const bytes = Buffer.from(base64, "base64");
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

interface Upserted { serviceId: number; tableSlot: number; table: string; backendIds: number[] }

/**
 * Makes `hosts` the service's backends through the control plane (src/lb's
 * upsertService, in the agent) and returns the Maglev table packets now use,
 * as read back from the kernel. That table is also the one the Maglev engine
 * computes for these backends: the control plane must write what it builds.
 */
async function upsertService(svc: Service, hosts: BackendHost[]): Promise<{ table: Uint32Array; backendIds: number[] }> {
  const l = need();
  const backends = maglevBackends(svc, hosts);
  const answer = await l.agent!.call<Upserted>({
    op: "upsertService",
    service: { name: `e2e-${svc.family}`, id: svc.id, vip: svc.vip, port: PORT, protocol: "TCP", algorithm: "maglev", backends },
  }, 60_000);
  assert.equal(answer.serviceId, svc.id, "the service keeps the ID asked for");
  const table = decodeTable(answer.table);
  assert.equal(table.length, l.tableSize, "the active buffer holds a whole Maglev table");
  const engine = l.maglev.build(backends.map((b) => ({ ...b, protocol: "TCP" })));
  const differing = table.reduce((n, id, slot) => n + (id === engine[slot] ? 0 : 1), 0);
  assert.equal(differing, 0, `${svc.family}: the kernel's table is the Maglev engine's for these backends (${differing} slots differ)`);
  l.tables[svc.family] = table;
  return { table, backendIds: answer.backendIds };
}

interface Outcome { localPort: number; backend?: string; peer?: string; error?: string }

function callTimeout(count: number): number {
  return (Math.ceil(count / 32) * 2 * CONN_TIMEOUT_MS) + 30_000;
}

async function openConnections(svc: Service, ports: number[]): Promise<Outcome[]> {
  const { client } = need();
  const { results } = await client!.call<{ results: Outcome[] }>({
    op: "open", host: svc.vip, port: PORT, localAddress: svc.client, localPorts: ports, timeoutMs: CONN_TIMEOUT_MS,
  }, callTimeout(ports.length));
  for (const r of results) if (r.backend) need().open.push({ family: svc.family, localPort: r.localPort, backend: r.backend });
  return results;
}

async function requestAgain(ports: number[]): Promise<Outcome[]> {
  const { client } = need();
  const { results } = await client!.call<{ results: Outcome[] }>({ op: "request", localPorts: ports, timeoutMs: CONN_TIMEOUT_MS }, callTimeout(ports.length));
  return results;
}

/** Counters of the datapath and of the backends' stacks, for failure messages. */
async function diagnostics(): Promise<string> {
  const l = need();
  const parts: string[] = [];
  try {
    parts.push(`datapath: ${JSON.stringify(await l.agent!.call({ op: "stats" }, 10_000))} (drop reasons: bpf/include/wasmplane/drop_reasons.h)`);
  } catch (error) {
    parts.push(`datapath stats unavailable: ${String(error)}`);
  }
  for (const b of l.ns.backends) {
    const r = spawnSync("ip", ["netns", "exec", b.ns, "nstat", "-az", "IpInReceives", "TcpInSegs", "TcpInCsumErrors", "TcpInErrs", "TcpOutRsts"], { encoding: "utf8", timeout: 10_000 });
    const counters = (r.stdout ?? "").split("\n").slice(1).map((line) => line.trim().split(/\s+/)).filter((f) => f.length >= 2).map(([name, value]) => `${name} ${value}`);
    parts.push(`${b.name} (nstat): ${counters.join(", ") || r.stderr}; decapsulated (IPv4 outer, IPv6 outer): ${decapCounts(b)}`);
  }
  return parts.join("\n");
}

/** wp_demo_decap_counts of the backend's xdp_decap program, found through its interface. */
function decapCounts(b: BackendHost): string {
  try {
    const [link] = JSON.parse(sh("ip", ["-n", b.ns, "-j", "link", "show", "eth0"])) as { xdp?: { prog?: { id: number } } }[];
    const progId = link?.xdp?.prog?.id ?? assert.fail("no XDP program on eth0");
    const prog = JSON.parse(sh("bpftool", ["-j", "prog", "show", "id", String(progId)])) as { map_ids?: number[] };
    const counts: string[] = [];
    for (const mapId of prog.map_ids ?? []) {
      const entries = JSON.parse(sh("bpftool", ["-j", "map", "dump", "id", String(mapId)])) as { key: string[]; value: string[] }[];
      if (entries.length !== 2) continue; // .rodata has one entry
      for (const e of entries) counts.push(String(Buffer.from(e.value.map((x) => parseInt(x, 16))).readBigUInt64LE(0)));
    }
    return counts.join(", ") || "no counter map";
  } catch (error) {
    return `unavailable (${String(error).split("\n")[0]})`;
  }
}

/** Asserts every outcome answered by its predicted backend, with the client's own address and port seen by the backend. */
async function assertExact(svc: Service, outcomes: Outcome[], table: Uint32Array, what: string): Promise<Map<string, number>> {
  const wrong = outcomes.filter((o) => o.backend !== predict(svc, table, o.localPort) || o.peer !== `${svc.client} ${o.localPort}`);
  if (wrong.length > 0) {
    const sample = wrong.slice(0, 8).map((o) => `port ${o.localPort}: expected ${predict(svc, table, o.localPort)}, got ${o.backend ?? o.error} (peer ${o.peer})`);
    assert.fail(`${what}: ${wrong.length} of ${outcomes.length} connections did not reach their Maglev backend\n${sample.join("\n")}\n${await diagnostics()}`);
  }
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.backend!, (counts.get(o.backend!) ?? 0) + 1);
  return counts;
}

/** Each backend's share of the table's slots. */
function tableShares(svc: Service, table: Uint32Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of table) {
    const name = hostOf(svc, id).name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return new Map([...counts].map(([name, n]) => [name, n / table.length]));
}

function describeCounts(counts: Map<string, number>, total: number): string {
  return [...counts].sort().map(([name, n]) => `${name} ${n} (${((100 * n) / total).toFixed(1)}%)`).join(", ");
}

// ---- Setup and teardown ---------------------------------------------------------------

async function setUp(): Promise<void> {
  const prefix = `wp-e2e-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const maglev = await createMaglev({ hashSeed: HASH_SEED });
  const seeds = decodeHashSeed(HASH_SEED);
  ensureBpffs();
  lab = { prefix, work, pinRoot: `/sys/fs/bpf/${prefix}`, ns: plan(prefix, 3), created: [], servers: [], seeds, maglev, tableSize: maglev.tableSize, tables: {}, open: [] };
  const l = lab;

  // Default build: the control plane writes the flow-hash seeds into the program at load time.
  const [lbObject] = buildBpf({ outDir: join(work, "lb"), sources: [join(ROOT, "bpf", "xdp_lb.c")] });
  const [passObject] = buildBpf({ outDir: join(work, "pass"), sources: [join(BPF_DEMO, "xdp_pass.c")] });
  const decap = new Map<string, string>();
  for (const b of l.ns.backends) {
    const [object] = buildBpf({ outDir: join(work, `decap-${b.name}`), sources: [join(BPF_DEMO, "xdp_decap.c")], defines: decapDefines(b.v4, b.v6) });
    decap.set(b.name, object!);
  }

  build(l.ns, { xdpPass: passObject!, decap: (b) => decap.get(b.name)! }, (ns) => l.created.push(ns));

  l.agent = new Child("lb-agent", "nsenter", [`--net=/run/netns/${l.ns.lb}`, process.execPath, "--import", "tsx", join(SUPPORT, "lb-agent.ts")], { cwd: ROOT, ownProcessGroup: false });
  const started = await l.agent.call<{ mode: string; tableSize: number }>({
    op: "start", object: lbObject, pinRoot: l.pinRoot, iface: "eth0", hashSeed: HASH_SEED, encapSource4: NET.v4.lb, encapSource6: NET.v6.lb,
  }, 60_000);
  assert.equal(started.mode, "native", "attached in driver mode");
  assert.equal(started.tableSize, l.tableSize, "the control plane builds tables of the object's size");

  for (const b of l.ns.backends) {
    const server = new Child(`backend ${b.name}`, "ip", ["netns", "exec", b.ns, process.execPath, join(DEMO, "server.mjs"), b.name, `${NET.vip4},${NET.vip6}`, String(PORT)], { cwd: ROOT, ownProcessGroup: false });
    l.servers.push(server);
    await server.waitForLine((line) => line === `ready ${b.name}`, 20_000, `backend ${b.name} listening`);
  }
  l.client = new Child("client", "ip", ["netns", "exec", l.ns.client, process.execPath, join(DEMO, "client.mjs")], { cwd: ROOT, ownProcessGroup: false });

  for (const svc of Object.values(SERVICES)) await upsertService(svc, l.ns.backends);
}

async function tearDown(): Promise<void> {
  const l = lab;
  if (!l) return;
  const problems: string[] = [];
  try {
    if (l.client?.running) await l.client.call({ op: "close" }, 10_000).catch((e: unknown) => problems.push(`client close: ${String(e)}`));
    if (l.agent?.running) await l.agent.call({ op: "stop" }, 20_000).catch((e: unknown) => problems.push(`agent stop: ${String(e)}`));
  } finally {
    for (const h of [l.client, l.agent, ...l.servers]) await h?.stop();
    const left = destroyNamespaces(l.created);
    rmSync(l.pinRoot, { recursive: true, force: true });
    rmSync(l.work, { recursive: true, force: true });
    lab = undefined;
    if (left.length > 0) problems.push(`namespaces left behind: ${left.join(", ")}`);
  }
  const ours = [...existingNamespaces()].filter((ns) => ns.startsWith(`${l.prefix}-`));
  assert.deepEqual(ours, [], "`ip netns list` shows no namespace of this run");
  const running = [l.client, l.agent, ...l.servers].filter((h) => h?.running).map((h) => h!.describe());
  assert.deepEqual(running, [], "every helper process has exited");
  // Problems while stopping (e.g. the agent could not detach) matter only when something was left.
  if (problems.length > 0) process.stderr.write(`lb-e2e teardown notes:\n${problems.join("\n")}\n`);
}

/** Last resort when the process dies without running `after` (signal, uncaught error). */
function emergencyCleanup(): void {
  const l = lab;
  if (!l) return;
  for (const h of [l.client, l.agent, ...l.servers]) h?.killNow();
  for (const ns of l.created) trySh("ip", ["netns", "del", ns], 10_000);
  rmSync(l.pinRoot, { recursive: true, force: true });
  rmSync(l.work, { recursive: true, force: true });
  lab = undefined;
}

cleanUpOnExit(emergencyCleanup);

// ---- Tests ------------------------------------------------------------------------------

const missing = missingRequirement();

describe("XDP load balancer end to end: client, load balancer, three backends in network namespaces", { skip: missing && !strict ? missing : false }, () => {
  before(async () => {
    if (missing) assert.fail(`${missing} (CI=true: a skipped end-to-end test is a failure)`);
    await setUp();
  }, { timeout: 180_000 });
  after(tearDown, { timeout: 120_000 });

  it("the load balancer's program is attached in native (driver) mode", () => {
    const l = need();
    const [link] = JSON.parse(sh("ip", ["-n", l.ns.lb, "-j", "link", "show", "eth0"])) as { xdp?: { mode: number; prog?: { name: string } } }[];
    assert.equal(link?.xdp?.mode, 1, "XDP_ATTACHED_DRV (1), not generic (2)");
    assert.equal(link?.xdp?.prog?.name, "wasmplane_xdp_lb".slice(0, 15), "the load balancer (the kernel keeps 15 characters of a name)");
  });

  for (const svc of Object.values(SERVICES)) {
    it(`${svc.family}: ${svc.ports.length} TCP connections through ${svc.vip} each reach the backend the Maglev table names for its flow`, { timeout: 180_000 }, async (t: TestContext) => {
      const table = need().tables[svc.family] ?? assert.fail("no table written");
      const outcomes = await openConnections(svc, svc.ports);
      const counts = await assertExact(svc, outcomes, table, `${svc.family} through the VIP`);
      const shares = tableShares(svc, table);
      t.diagnostic(`${svc.family}: ${describeCounts(counts, outcomes.length)}; table shares ${[...shares].sort().map(([n, s]) => `${n} ${(100 * s).toFixed(1)}%`).join(", ")}`);
      assert.deepEqual([...counts.keys()].sort(), ["b1", "b2", "b3"], "every backend answers some connections");
      // Fixed flows, so this is deterministic; it says the hash spreads these flows as Maglev spreads slots.
      for (const [name, n] of counts) assert.ok(n >= outcomes.length * 0.2, `${name} got ${n} of ${outcomes.length} connections (table share ${(100 * shares.get(name)!).toFixed(1)}%)`);
    });
  }

  it("removing b2 keeps the open connections to b1 and b3 (even those the new table moves); new connections go to b1 and b3 only", { timeout: 240_000 }, async (t: TestContext) => {
    const l = need();
    const remaining = l.ns.backends.filter((_, i) => i !== REMOVED);
    const removed = l.ns.backends[REMOVED]!;

    // Connections the new table would send to the *other* remaining backend:
    // only the flow LRU keeps them where they are. Maglev moves very few such
    // slots (about 10 of 16381 here), so search the whole port range for
    // source ports that hash into them, using the table the control plane is
    // expected to build (createMaglev on the same input).
    const used = new Set(Object.values(SERVICES).flatMap((s) => [...s.ports, ...s.portsAfter]));
    for (const svc of Object.values(SERVICES)) {
      const before = l.tables[svc.family]!;
      const expectedAfter = l.maglev.build(maglevBackends(svc, remaining).map((b) => ({ ...b, protocol: "TCP" }))).slice();
      const moved: number[] = [];
      for (let port = 1024; port <= 65535 && moved.length < 8; port++) {
        if (used.has(port)) continue;
        const now = predict(svc, before, port);
        const then = predict(svc, expectedAfter, port);
        if (now !== removed.name && then !== removed.name && now !== then) moved.push(port);
      }
      assert.ok(moved.length > 0, `${svc.family}: found source ports whose flows the new table moves between remaining backends`);
      await assertExact(svc, await openConnections(svc, moved), before, `${svc.family} connections to be moved by the new table`);
    }
    const open = [...l.open];
    assert.ok(open.length > 0, "connections are open before the removal");

    // The removal: new tables without b2, b2's backend entries deleted.
    const newTables = new Map<Family, Uint32Array>();
    for (const svc of Object.values(SERVICES)) {
      const { table, backendIds } = await upsertService(svc, remaining);
      assert.ok(!table.includes(svc.ids[REMOVED]!), `${svc.family}: the new table has no slot for b2`);
      newTables.set(svc.family, table);
      t.diagnostic(`${svc.family}: wp_backends after the removal holds IDs ${backendIds.join(", ")}`);
    }

    // Every open connection again, one more request each.
    const again = new Map((await requestAgain(open.map((c) => c.localPort))).map((o) => [o.localPort, o]));
    const kept = open.filter((c) => c.backend !== removed.name);
    const broken = kept.filter((c) => again.get(c.localPort)?.backend !== c.backend);
    if (broken.length > 0) {
      const sample = broken.slice(0, 8).map((c) => `${c.family} port ${c.localPort} (${c.backend}): ${again.get(c.localPort)?.backend ?? again.get(c.localPort)?.error}`);
      assert.fail(`${broken.length} of ${kept.length} open connections to remaining backends failed after the removal\n${sample.join("\n")}\n${await diagnostics()}`);
    }
    const movedKept = kept.filter((c) => {
      const svc = SERVICES[c.family];
      return predict(svc, newTables.get(c.family)!, c.localPort) !== c.backend;
    });
    assert.ok(movedKept.length > 0, "some kept connections are ones the new table would send elsewhere (the flow LRU holds them)");
    // b2's connections: re-balanced to a backend that has no such connection, so reset;
    // never answered by another backend.
    const toRemoved = open.filter((c) => c.backend === removed.name);
    const answeredElsewhere = toRemoved.filter((c) => { const b = again.get(c.localPort)?.backend; return b !== undefined && b !== removed.name; });
    assert.deepEqual(answeredElsewhere.map((c) => c.localPort), [], "no connection to b2 is answered by another backend");
    t.diagnostic(`after removing b2: ${kept.length} connections to b1/b3 answered again by the same backend, ${movedKept.length} of them ` +
      `against the new table (held by the flow LRU); b2's ${toRemoved.length}: ${toRemoved.filter((c) => again.get(c.localPort)?.error).length} failed, ` +
      `${toRemoved.filter((c) => again.get(c.localPort)?.backend === removed.name).length} still answered by b2`);

    // New connections: only b1 and b3, exactly as the new table says.
    for (const svc of Object.values(SERVICES)) {
      const outcomes = await openConnections(svc, svc.portsAfter);
      const counts = await assertExact(svc, outcomes, newTables.get(svc.family)!, `${svc.family} new connections after the removal`);
      t.diagnostic(`${svc.family} new connections: ${describeCounts(counts, outcomes.length)}`);
      assert.deepEqual([...counts.keys()].sort(), remaining.map((b) => b.name), "new connections reach b1 and b3, both, and nothing else");
    }
  });
});
