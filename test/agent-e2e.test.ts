/**
 * The node agent end to end with real traffic: a `wasmplane agent` process
 * (dist/cli.js, as users run it) in the node namespace of a network of
 * namespaces (the live demo's network, src/demo/topology.ts, under a prefix
 * of this run and with pods of its own), driven by a state folder
 * of Kubernetes YAML that this test writes and then edits, as a controller
 * would. Real TCP connections (HTTP keep-alive) and UDP datagrams:
 *
 *   1. North-south, the client outside the cluster opens connections to the
 *      service's LoadBalancer address; the agent's XDP program sends each to
 *      a backend (IPIP, decapsulated in XDP by the backend). East-west, the
 *      client pod reaches the ClusterIP (TCP and UDP) through the agent's tc
 *      programs. Every connection reaches exactly the backend the library
 *      predicts (the state translated with translateServices, the Maglev
 *      table createMaglev builds with the Node's seed and table size, the
 *      datapath's flow hash), and all backends answer. Pods' policies allow
 *      and deny what the library's cluster view (applyStatePolicy) says.
 *   2. Changes on disk, each checked with traffic once the agent reports
 *      the generation applied: the EndpointSlice loses a backend (new
 *      connections never reach it, established connections to the others
 *      keep their backend) and gets it back; a deny policy (the next new
 *      connection it names fails, the flow stream of `GET /v1/flows` read
 *      through src/agent/client.ts shows the drop as policy-deny); a pod
 *      relabelled into a policy's selectors (it may now reach the database,
 *      and the deny now names it).
 *   3. SIGKILL of the agent while connections are open: they keep working
 *      while no agent runs (the datapath is pinned and attached) and after
 *      a restart on the same pins; new connections follow the state
 *      throughout; service, backend and endpoint IDs in the maps are
 *      unchanged, and the restart replaces the tc filters in place.
 *
 * Nothing expected is written down here: backends, IDs and verdicts are
 * computed from the state on disk with the library each time. Every
 * connection has a fixed source port, so every flow, and with it the
 * backend, is the same on every run.
 *
 * Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN), clang with the libbpf
 * headers, iproute2 built with libbpf, nsenter and bpftool, and dist/ built
 * (`npm run build`): skipped with the reason without them, a failure with
 * CI=true. `after` stops every process, deletes the namespaces, pins and
 * temporary folder (state, socket) and asserts none is left. No assertion
 * depends on timing: waits are bounded only to fail instead of hanging.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

import { buildBpf } from "../scripts/build-bpf.mjs";
import {
  applyStatePolicy, connectAgent, createMaglev, decodeHashSeed, loadKubeState, translateServices,
  type AgentClient, type AgentStatus, type DecodedSeed, type LbService, type ObservedFlow, type StatePolicy,
} from "../src/index.js";
import { flowHash, maglevSlot } from "./fixtures/bpf/flow-hash.js";
import { ip, IPPROTO } from "./fixtures/bpf/packets.js";
import { destroyNamespaces, existingNamespaces } from "../src/demo/netns.js";
import { Child, ensureBpffs, sh } from "../src/demo/process.js";
import { buildTopology, decapDefines, planTopology, type Topology } from "../src/demo/topology.js";
import { cleanUpOnExit } from "./support/exit-cleanup.js";
import { requireBpf, requireTools, skipOrFail } from "./support/privileges.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SUPPORT = join(ROOT, "test", "support", "netns");
const DEMO = join(ROOT, "src", "demo");
const BPF_DEMO = join(ROOT, "bpf", "demo");
const CLI = join(ROOT, "dist", "cli.js");

// ---- The scenario ------------------------------------------------------------------

const PREFIX = `wp-ag-${process.pid}`;
const PIN_ROOT = `/sys/fs/bpf/${PREFIX}`;
const LB_ADDRESS = "203.0.113.10";
const CLUSTER_IP = "10.96.0.10";
const HTTP = 80;
const DNS = 53;
const DB_PORT = 5432;
/** A seed of our own (12 bytes), so a datapath that ignored the Node's annotation would send flows elsewhere. */
const HASH_SEED = Buffer.from("agent-e2e-sd").toString("base64");
/** Pods of node-a (namespace shop); web-1..3 are node-b's. */
const POD_NAMES = ["client", "db", "other"] as const;
/** Per connect and per request: a successful one takes milliseconds, a lost SYN is sent again after 1 s. */
const CONNECT_MS = 3000;
/** For an attempt policy should drop: the SYN and its first retransmission. */
const DENIED_MS = 1500;
/** Connections through the LoadBalancer address held open from the start to the end. */
const HELD = 48;
/** New north-south connections per check. */
const FRESH = 48;

/** The client outside the cluster is `world`: `client` is a pod. */
const lab: Topology = planTopology({ prefix: PREFIX, vip: LB_ADDRESS, pods: POD_NAMES.map((name) => `shop/${name}`), clientName: "world" });
const podOf = (name: string) => lab.pods.find((p) => p.name === name) ?? assert.fail(`no pod ${name}`);
const nameOfAddress = new Map<string, string>([
  ...lab.backends.map((b) => [b.ip, b.name] as const), ...lab.pods.map((p) => [p.ip, p.name] as const), [lab.client.ip, "world"],
]);

/** What the test varies in the state. */
interface Model {
  /** Labels of node-a's pods. */
  labels: Record<(typeof POD_NAMES)[number], Record<string, string>>;
  /** Backends listed (ready) in the service's EndpointSlice. */
  endpoints: string[];
  /** Whether the deny policy (60-deny.yaml) exists. */
  deny: boolean;
}

const model: Model = {
  labels: { client: { app: "client" }, db: { app: "db" }, other: { app: "other" } },
  endpoints: lab.backends.map((b) => b.name),
  deny: false,
};

const doc = (objects: object[]) => objects.map((o) => stringify(o)).join("---\n");

/** The state folder's files for `m`: what `kubectl get -o yaml` would give, trimmed. */
function stateFiles(m: Model): Record<string, string | undefined> {
  const pod = (name: string, labels: Record<string, string>, ip: string, nodeName: string, annotations?: Record<string, string>) => ({
    apiVersion: "v1", kind: "Pod",
    metadata: { name, namespace: "shop", labels, ...(annotations ? { annotations } : {}) },
    spec: { nodeName, containers: [{ name }] },
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  });
  const slicePort = [{ name: "http", protocol: "TCP", port: HTTP }, { name: "dns", protocol: "UDP", port: DNS }];
  return {
    "00-namespaces.yaml": doc([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop", labels: { team: "shop" } } }]),
    // client and other name their interface with the annotation; db's comes from --endpoints.
    "10-pods.yaml": doc(POD_NAMES.map((name) => {
      const p = podOf(name);
      return pod(name, m.labels[name], p.ip, "node-a", name === "db" ? undefined : { "wasmplane.io/interface": p.hostIface });
    })),
    "15-pods-web.yaml": doc(lab.backends.map((b) => pod(b.name, { app: "web" }, b.ip, "node-b"))),
    "20-policies.yaml": doc([{
      apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "db-from-client", namespace: "shop" },
      spec: {
        endpointSelector: { matchLabels: { app: "db" } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: "client" } }], toPorts: [{ ports: [{ port: String(DB_PORT), protocol: "TCP" }] }] }],
      },
    }]),
    "30-node.yaml": doc([{
      apiVersion: "v1", kind: "Node",
      metadata: { name: "node-a", labels: { "kubernetes.io/hostname": "node-a" }, annotations: { "wasmplane.io/maglev-hash-seed": HASH_SEED } },
      spec: { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24"] },
      status: { addresses: [{ type: "InternalIP", address: lab.node.ip }, { type: "Hostname", address: "node-a" }] },
    }]),
    "40-services.yaml": doc([{
      apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "shop" },
      spec: {
        type: "LoadBalancer", allocateLoadBalancerNodePorts: false, selector: { app: "web" },
        clusterIP: CLUSTER_IP, clusterIPs: [CLUSTER_IP], ipFamilies: ["IPv4"], ipFamilyPolicy: "SingleStack",
        ports: [{ name: "http", protocol: "TCP", port: HTTP, targetPort: HTTP }, { name: "dns", protocol: "UDP", port: DNS, targetPort: DNS }],
      },
      status: { loadBalancer: { ingress: [{ ip: LB_ADDRESS, ipMode: "VIP" }] } },
    }]),
    "50-endpointslices.yaml": doc([{
      apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
      metadata: { name: "web-x7k2p", namespace: "shop", labels: { "kubernetes.io/service-name": "web" } },
      addressType: "IPv4", ports: slicePort,
      endpoints: lab.backends.filter((b) => m.endpoints.includes(b.name)).map((b) => ({
        addresses: [b.ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: "node-b",
        targetRef: { kind: "Pod", name: b.name, namespace: "shop" },
      })),
    }]),
    // The client may not open HTTP to the web pods; it only denies (no default deny on the client's egress).
    "60-deny.yaml": m.deny
      ? doc([{
        apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "client-no-web", namespace: "shop" },
        spec: {
          endpointSelector: { matchLabels: { app: "client" } },
          enableDefaultDeny: { egress: false },
          egressDeny: [{ toEndpoints: [{ matchLabels: { app: "web" } }], toPorts: [{ ports: [{ port: String(HTTP), protocol: "TCP" }] }] }],
        },
      }])
      : undefined,
  };
}

// ---- The run ------------------------------------------------------------------------

interface Outcome { localPort: number; backend?: string; peer?: string; answer?: string; error?: string }

interface Run {
  work: string;
  state: string;
  socket: string;
  created: string[];
  helpers: Child[];
  agent?: Child;
  api: AgentClient;
  /** client.mjs in the world and in each pod. */
  clients: Map<string, Child>;
  /** pod-client.mjs (UDP) in the world and in the client pod. */
  udp: Map<string, Child>;
  nextPort: number;
  /** Connections through the LoadBalancer address held open: source port → backend. */
  held: Map<number, string>;
  /** Connections from the client pod to db held open. */
  heldDb: number[];
}

let run: Run | undefined;
let setup: Promise<Run> | undefined;

/** Writes the files of the state that differ from `m` (each with a rename, so the agent never reads half of one). */
function writeState(r: Run, m: Model): string[] {
  const changed: string[] = [];
  for (const [file, text] of Object.entries(stateFiles(m))) {
    const path = join(r.state, file);
    const now = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (now === text) continue;
    changed.push(file);
    if (text === undefined) {
      rmSync(path);
      continue;
    }
    const scratch = join(r.state, `.${file}.new`);
    writeFileSync(scratch, text);
    renameSync(scratch, path);
  }
  return changed;
}

/** `script` (a path) run with node inside namespace `ns`. */
function inNamespace(name: string, ns: string, script: string, ...args: string[]): Child {
  return new Child(name, "nsenter", [`--net=/run/netns/${ns}`, process.execPath, script, ...args], { cwd: ROOT, ownProcessGroup: false });
}

function startAgent(r: Run): Child {
  const agent = new Child("wasmplane agent", "nsenter", [
    `--net=/run/netns/${lab.node.ns}`, process.execPath, CLI, "agent",
    "--state", r.state, "--interface", lab.node.iface, "--endpoints", `shop/db=${podOf("db").hostIface}`,
    "--pin-root", PIN_ROOT, "--socket", r.socket, "--encap-source4", lab.node.ip, "--log-format", "text",
  ], { cwd: ROOT, ownProcessGroup: false });
  r.agent = agent;
  r.helpers.push(agent);
  return agent;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls the status until `done` holds (at most 60 s); fails with the agent's output. */
async function waitForStatus(r: Run, what: string, done: (s: AgentStatus) => boolean): Promise<AgentStatus> {
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    if (!r.agent?.running) break;
    try {
      const s = await r.api.status();
      if (done(s)) return s;
      last = JSON.stringify({ health: s.health, endpoints: s.endpoints, xdp: s.xdp, lastApplied: s.lastApplied });
    } catch (error) {
      last = String(error);
    }
    await sleep(50);
  }
  assert.fail(`${what}: not reached (${last})\n${r.agent?.describe()}`);
}

const ready = (r: Run) => waitForStatus(r, "agent ready", (s) =>
  s.lastApplied !== undefined && s.xdp !== undefined && POD_NAMES.every((p) => s.endpoints[`shop/${p}`] === podOf(p).hostIface));

/** Writes `m` and waits for the agent's next generation. */
async function change(r: Run, m: Model): Promise<AgentStatus> {
  const before = (await r.api.status()).lastApplied!.generation;
  const files = writeState(r, m);
  assert.ok(files.length > 0, "the change touches the state");
  const s = await waitForStatus(r, `the change of ${files.join(", ")} applied`, (x) => (x.lastApplied?.generation ?? 0) > before);
  assert.deepEqual(s.lastApplied!.rejected, [], "nothing in the state is rejected");
  assert.equal(s.health, "ok");
  return s;
}

async function setUp(): Promise<Run> {
  ensureBpffs();
  const work = mkdtempSync(join(tmpdir(), `${PREFIX}-`));
  const r: Run = {
    work, state: join(work, "state"), socket: join(work, "run", "agent.sock"), created: [], helpers: [],
    api: connectAgent(join(work, "run", "agent.sock")), clients: new Map(), udp: new Map(), nextPort: 20000, held: new Map(), heldDb: [],
  };
  run = r;
  mkdirSync(r.state);
  writeState(r, model);

  const [pass] = buildBpf({ outDir: join(work, "pass"), sources: [join(BPF_DEMO, "xdp_pass.c")] });
  const decap = new Map<string, string>();
  for (const b of lab.backends) {
    const [object] = buildBpf({ outDir: join(work, `decap-${b.name}`), sources: [join(BPF_DEMO, "xdp_decap.c")], defines: decapDefines(b.ip) });
    decap.set(b.name, object!);
  }
  buildTopology(lab, {
    pass: pass!, decap: (b) => decap.get(b.name)!,
    txChecksumOff: (ns, iface) => sh("nsenter", [`--net=/run/netns/${ns}`, process.execPath, join(DEMO, "tx-checksum.mjs"), iface]),
  }, (ns) => r.created.push(ns));

  const servers = [
    ...lab.backends.map((b) => inNamespace(`server ${b.name}`, b.ns, join(DEMO, "server.mjs"), b.name, `${LB_ADDRESS},${b.ip}`, String(HTTP), String(DNS))),
    inNamespace("server db", podOf("db").ns, join(DEMO, "server.mjs"), "db", podOf("db").ip, String(DB_PORT)),
  ];
  r.helpers.push(...servers);
  for (const [name, ns] of [["world", lab.client.ns], ...POD_NAMES.map((p) => [p, podOf(p).ns])] as const) {
    const client = inNamespace(`client ${name}`, ns, join(DEMO, "client.mjs"));
    r.clients.set(name, client);
    r.helpers.push(client);
  }
  for (const [name, ns] of [["world", lab.client.ns], ["client", podOf("client").ns]] as const) {
    const udp = inNamespace(`udp client ${name}`, ns, join(SUPPORT, "pod-client.mjs"));
    r.udp.set(name, udp);
    r.helpers.push(udp);
  }
  await Promise.all(servers.map((s) => s.waitForLine((l) => l.startsWith("ready "), 20_000, `${s.name} listening`)));

  startAgent(r);
  await ready(r);
  return r;
}

async function tearDown(): Promise<void> {
  const r = run;
  if (!r) return;
  // The agent is ours: SIGKILL by its pid (pins and attachments go with the namespaces and the pin root below).
  r.agent?.killNow();
  await Promise.all(r.helpers.map((h) => h.stop(1000)));
  const left = destroyNamespaces(r.created);
  rmSync(PIN_ROOT, { recursive: true, force: true });
  rmSync(r.work, { recursive: true, force: true });
  run = undefined;
  assert.deepEqual(left, [], "every namespace is deleted");
  assert.deepEqual([...existingNamespaces()].filter((ns) => ns.startsWith(`${PREFIX}-`)), [], "`ip netns list` shows no namespace of this run");
  assert.equal(existsSync(PIN_ROOT), false, "no pin of this run is left");
  assert.equal(existsSync(r.work), false, "the state folder and the socket are gone");
  assert.deepEqual(r.helpers.filter((h) => h.running).map((h) => h.describe()), [], "every process of this run has exited");
}

/** Last resort when the process exits without `after`. */
function emergencyCleanup(): void {
  const r = run;
  if (!r) return;
  for (const h of r.helpers) h.killNow();
  for (const ns of r.created) spawnSync("ip", ["netns", "del", ns], { timeout: 10_000 });
  rmSync(PIN_ROOT, { recursive: true, force: true });
  rmSync(r.work, { recursive: true, force: true });
  run = undefined;
}
cleanUpOnExit(emergencyCleanup);

after(tearDown, { timeout: 60_000 });

function missing(): string | undefined {
  if (process.platform !== "linux") return "needs Linux (network namespaces, XDP, tc)";
  if (process.getuid?.() !== 0) return "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces";
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return "needs the libbpf headers (Debian: apt-get install -y libbpf-dev)";
  const ipVersion = spawnSync("ip", ["-V"], { encoding: "utf8" });
  if (!/libbpf/.test(`${ipVersion.stdout}${ipVersion.stderr}`)) return "needs iproute2 built with libbpf (`ip -V` names it) to attach the helper XDP programs";
  if (!existsSync(CLI)) return "dist/cli.js is missing: run `npm run build` first";
  return undefined;
}

/** The run, or undefined when this machine cannot run it (skipped; a failure with CI=true). */
async function need(t: TestContext): Promise<Run | undefined> {
  if (!(await requireBpf(t)) || !requireTools(t, "clang", "ip", "nsenter", "bpftool", "tc")) return undefined;
  const why = missing();
  if (why) return skipOrFail(t, why) || undefined;
  setup ??= setUp();
  return setup;
}

// ---- What the state says (the library) -------------------------------------------------

interface View {
  services: LbService[];
  backendIds: Map<string, number>;
  policy: StatePolicy;
  seeds: DecodedSeed;
  tables: Map<string, Uint32Array>;
}

interface Dumped { formatted: { key: unknown; value: Record<string, unknown> } }
const dump = (map: string) => JSON.parse(sh("bpftool", ["-j", "map", "dump", "pinned", join(PIN_ROOT, map)])) as Dumped[];
const hostPort = (be: number) => ((be & 0xff) << 8) | (be >> 8);

/** wp_backends: endpoint text (`10.244.2.11:80`) → backend ID. */
function backendsInMaps(): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of dump("wp_backends")) {
    const v = e.formatted.value as { addr: number[]; port: number };
    if (v.port === 0) continue;
    out.set(`${v.addr.slice(0, 4).join(".")}:${hostPort(v.port)}`, e.formatted.key as number);
  }
  return out;
}

/** wp_services: frontend (`203.0.113.10:80/6`) → service ID. */
function servicesInMaps(): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of dump("wp_services")) {
    const k = e.formatted.key as { vip: number[]; port: number; protocol: number };
    out.set(`${k.vip.slice(0, 4).join(".")}:${hostPort(k.port)}/${k.protocol}`, e.formatted.value.service_id as number);
  }
  return out;
}

/** wp_endpoints: ifindex → identity. */
function endpointsInMaps(): Map<number, number> {
  return new Map(dump("wp_endpoints").map((e) => [e.formatted.key as number, (e.formatted.value as { identity: number }).identity]));
}

/**
 * The state on disk through the library: the services (with the backend IDs
 * the datapath holds, as the agent keeps them), their Maglev tables, the
 * cluster view.
 */
async function view(): Promise<View> {
  const kube = await loadKubeState(run!.state);
  assert.deepEqual(kube.errors.map(String), []);
  const held = backendsInMaps();
  const translation = translateServices(kube, { previousBackendIds: held });
  assert.deepEqual(translation.errors.map(String), []);
  const { settings } = translation;
  assert.equal(settings.hashSeed, HASH_SEED, "the Node's seed is in effect");
  const builder = await createMaglev({ tableSize: settings.tableSize, hashSeed: settings.hashSeed, keyFormat: settings.keyFormat });
  const tables = new Map<string, Uint32Array>();
  for (const svc of translation.services) {
    // As src/lb/tables.ts builds a table: the active backends, the service's protocol, weights.
    const active = svc.backends.filter((b) => !b.draining);
    tables.set(svc.name, builder.build(active.map((b) => ({ id: b.id, address: b.address, port: b.port, protocol: svc.protocol as "TCP", weight: b.weight ?? 1 }))));
  }
  const backendIds = new Map(translation.backends.map((b) => [`${b.address}:${b.port}`, b.id]));
  assert.deepEqual(new Map([...held].sort()), new Map([...backendIds].sort()), "wp_backends holds the state's backends with their IDs");
  return { services: translation.services, backendIds, policy: await applyStatePolicy(kube), seeds: decodeHashSeed(settings.hashSeed), tables };
}

function serviceAt(v: View, vip: string, port: number, protocol: "TCP" | "UDP"): LbService {
  return v.services.find((s) => s.vip === vip && s.port === port && s.protocol === protocol) ?? assert.fail(`the state has no frontend ${vip}:${port}/${protocol}`);
}

/** The backend (pod name) the datapath must choose for a new flow from `saddr:sport` to the frontend. */
function predict(v: View, vip: string, port: number, protocol: "TCP" | "UDP", saddr: string, sport: number): string {
  const svc = serviceAt(v, vip, port, protocol);
  const table = v.tables.get(svc.name)!;
  const id = table[maglevSlot(flowHash({ saddr: ip(saddr), sport, dport: port, protocol: IPPROTO[protocol] }, v.seeds), table.length)]!;
  const backend = svc.backends.find((b) => b.id === id) ?? assert.fail(`table slot names backend ${id}, not one of ${svc.name}'s`);
  return nameOfAddress.get(backend.address) ?? assert.fail(`no lab host has ${backend.address}`);
}

/** Active backends of a frontend, by pod name. */
function activeBackends(v: View, vip: string, port: number, protocol: "TCP" | "UDP"): string[] {
  return serviceAt(v, vip, port, protocol).backends.filter((b) => !b.draining).map((b) => nameOfAddress.get(b.address)!).sort();
}

// ---- Traffic ------------------------------------------------------------------------------

function ports(r: Run, count: number): number[] {
  const first = r.nextPort;
  r.nextPort += count;
  return Array.from({ length: count }, (_, i) => first + i);
}

const callTimeout = (count: number, each: number) => Math.ceil(count / 32) * 2 * each + 15_000;

/** TCP connections from `from` (world or a pod), each from its own port, one request each; left open. */
async function open(r: Run, from: string, host: string, port: number, localPorts: number[], timeoutMs = CONNECT_MS): Promise<Outcome[]> {
  const client = r.clients.get(from)!;
  const localAddress = from === "world" ? lab.client.ip : podOf(from).ip;
  const { results } = await client.call<{ results: Outcome[] }>({ op: "open", host, port, localAddress, localPorts, timeoutMs }, callTimeout(localPorts.length, timeoutMs));
  return results;
}

async function again(r: Run, from: string, localPorts: number[]): Promise<Outcome[]> {
  const { results } = await r.clients.get(from)!.call<{ results: Outcome[] }>({ op: "request", localPorts, timeoutMs: CONNECT_MS }, callTimeout(localPorts.length, CONNECT_MS));
  return results;
}

async function close(r: Run, from: string, localPorts: number[]): Promise<void> {
  await r.clients.get(from)!.call({ op: "close", localPorts }, 10_000);
}

/** UDP datagrams from the world or the client pod, each from its own port, each waiting for its echo. */
async function datagrams(r: Run, from: "world" | "client", host: string, port: number, count: number, timeoutMs = CONNECT_MS): Promise<Outcome[]> {
  const first = ports(r, count)[0]!;
  const { results } = await r.udp.get(from)!.call<{ results: Outcome[] }>({ op: "udp", host, port, count, firstLocalPort: first, timeoutMs }, count * timeoutMs + 10_000);
  return results.map((o) => ({ ...o, backend: o.answer?.split(" ")[0] }));
}

function describeOutcomes(list: Outcome[]): string {
  return list.slice(0, 6).map((o) => `port ${o.localPort}: ${o.backend ?? o.error}`).join("; ");
}

/** Every outcome answered by the backend `expect` names for its source port; returns the backends reached. */
function assertBackends(list: Outcome[], expect: (sport: number) => string, what: string): string[] {
  const wrong = list.filter((o) => o.backend !== expect(o.localPort));
  assert.equal(wrong.length, 0, `${what}: ${wrong.length} of ${list.length} did not reach the predicted backend: ${
    wrong.slice(0, 6).map((o) => `port ${o.localPort}: expected ${expect(o.localPort)}, got ${o.backend ?? o.error}`).join("; ")}\n${run?.agent?.describe()}`);
  return [...new Set(list.map((o) => o.backend!))].sort();
}

/**
 * Asks the held connections through the LoadBalancer address whose backend
 * is in `keep` again (each must answer from its backend), and the client
 * pod's held connections to db. Connections on other backends are not
 * touched: a packet of a flow whose backend left the service is sent to
 * another backend, which resets it.
 */
async function checkHeld(r: Run, keep: readonly string[], what: string): Promise<void> {
  const localPorts = [...r.held].filter(([, backend]) => keep.includes(backend)).map(([port]) => port);
  assert.ok(localPorts.length > 0, `${what}: some held connections are on ${keep.join(", ")}`);
  const results = await again(r, "world", localPorts);
  assertBackends(results, (sport) => r.held.get(sport)!, `${what}: held connections keep their backend`);
  const db = await again(r, "client", r.heldDb);
  assert.deepEqual(db.map((o) => o.backend ?? o.error), r.heldDb.map(() => "db"), `${what}: the client pod's held connections to db`);
}

/** New connections from the world to the LoadBalancer address, each to its predicted backend; returns the backends reached. */
async function checkNorthSouth(r: Run, v: View, what: string): Promise<string[]> {
  const localPorts = ports(r, FRESH);
  const results = await open(r, "world", LB_ADDRESS, HTTP, localPorts);
  await close(r, "world", localPorts);
  for (const o of results) assert.equal(o.peer, `${lab.client.ip} ${o.localPort}`, `${what}: the backend sees the client's own address and port (direct server return)`);
  return assertBackends(results, (sport) => predict(v, LB_ADDRESS, HTTP, "TCP", lab.client.ip, sport), `${what}: world → ${LB_ADDRESS}:${HTTP}`);
}

/** One probe of the policy matrix: from a client to a pod or to the ClusterIP. */
interface Probe { from: string; to: string; host: string; port: number; protocol: "TCP" | "UDP" }

const PROBES: Probe[] = [
  { from: "client", to: "shop/db", host: podOf("db").ip, port: DB_PORT, protocol: "TCP" },
  { from: "other", to: "shop/db", host: podOf("db").ip, port: DB_PORT, protocol: "TCP" },
  { from: "world", to: "shop/db", host: podOf("db").ip, port: DB_PORT, protocol: "TCP" },
  { from: "client", to: "shop/web", host: CLUSTER_IP, port: HTTP, protocol: "TCP" },
  { from: "other", to: "shop/web", host: CLUSTER_IP, port: HTTP, protocol: "TCP" },
  { from: "client", to: "shop/web", host: CLUSTER_IP, port: DNS, protocol: "UDP" },
];
const probeName = (p: Probe) => `${p.from} → ${p.to} (${p.host}:${p.port}/${p.protocol})`;

/**
 * Whether the state lets the probe through on this node: both sides for
 * two pods of this node; the client's egress for a backend on node-b (its
 * ingress is node-b's to enforce); the pod's ingress for the world.
 */
function allowed(v: View, p: Probe, backend?: string): { allowed: boolean; reason: string } {
  const from = p.from === "world" ? lab.client.ip : `shop/${p.from}`;
  const to = backend ? `shop/${backend}` : p.to;
  const r = v.policy.cluster.reachability({ from, to, port: p.port, protocol: p.protocol });
  if (backend) return { allowed: r.egress.verdict === "allow", reason: r.egress.reason };
  const denied = [r.egress, r.ingress].find((x) => x.verdict !== "allow");
  return { allowed: r.allowed, reason: denied?.reason ?? "allowed" };
}

/** Runs every probe (three attempts each, the clients in parallel) and compares with the library; returns the verdicts. */
async function checkPolicy(r: Run, v: View, what: string): Promise<Map<string, boolean>> {
  const verdicts = new Map<string, boolean>();
  const byClient = new Map<string, Probe[]>();
  for (const p of PROBES) byClient.set(p.protocol === "UDP" ? "udp" : p.from, [...(byClient.get(p.protocol === "UDP" ? "udp" : p.from) ?? []), p]);
  const problems: string[] = [];
  await Promise.all([...byClient.values()].map(async (probes) => {
    for (const p of probes) {
      const viaService = p.host === CLUSTER_IP;
      // East-west, the verdict is on the backend translation picked; all of shop/web's pods have one identity.
      const expected = allowed(v, p, viaService ? activeBackends(v, CLUSTER_IP, p.port, p.protocol)[0] : undefined);
      verdicts.set(probeName(p), expected.allowed);
      const timeout = expected.allowed ? CONNECT_MS : DENIED_MS;
      let results: Outcome[];
      if (p.protocol === "UDP") {
        results = await datagrams(r, "client", p.host, p.port, 3, timeout);
      } else {
        const localPorts = ports(r, 3);
        results = await open(r, p.from, p.host, p.port, localPorts, timeout);
        await close(r, p.from, localPorts);
      }
      const answered = results.filter((o) => o.backend !== undefined);
      if (expected.allowed) {
        if (answered.length !== results.length) problems.push(`${probeName(p)} is allowed by the state but failed: ${describeOutcomes(results)}`);
        else if (viaService) {
          for (const o of results) {
            const want = predict(v, CLUSTER_IP, p.port, p.protocol, podOf(p.from).ip, o.localPort);
            if (o.backend !== want) problems.push(`${probeName(p)} port ${o.localPort}: expected ${want}, got ${o.backend}`);
          }
        }
      } else if (answered.length > 0) {
        problems.push(`${probeName(p)} is denied by the state (${expected.reason}) but got through: ${describeOutcomes(answered)}`);
      }
    }
  }));
  assert.deepEqual(problems, [], `${what}\n${run?.agent?.describe()}`);
  return verdicts;
}

/** Kept flows of the agent that pass `filter` and `match`, polled until one is there (events arrive a moment after the packet). */
async function findFlows(r: Run, filter: Parameters<AgentClient["flows"]>[0], match: (f: ObservedFlow) => boolean): Promise<ObservedFlow[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found: ObservedFlow[] = [];
    await r.api.flows(filter, { last: 4096 }, (f) => {
      if (match(f)) found.push(f);
    });
    if (found.length > 0 || Date.now() > deadline) return found;
    await sleep(100);
  }
}

function tcFilterCount(iface: string): number {
  return ["ingress", "egress"].reduce((n, dir) =>
    n + sh("tc", ["-n", lab.node.ns, "filter", "show", "dev", iface, dir]).split("\n").filter((l) => l.includes("wasmplane")).length, 0);
}

function ifindexOf(iface: string): number {
  return (JSON.parse(sh("ip", ["-n", lab.node.ns, "-j", "link", "show", iface])) as { ifindex: number }[])[0]!.ifindex;
}

// ---- Tests ---------------------------------------------------------------------------------

describe("wasmplane agent end to end: real traffic through a node in network namespaces", { concurrency: false }, () => {
  let ok = false;
  const step = (name: string, fn: (r: Run, t: TestContext) => Promise<void>) => it(name, { timeout: 120_000 }, async (t) => {
    if (!ok) return t.skip("the first step did not complete (skipped or failed)");
    await fn(run!, t);
  });

  it("applies the state: the service reaches all its backends, policy allows and denies as the state says", { timeout: 180_000 }, async (t) => {
    const r = await need(t);
    if (!r) return;
    const v = await view();
    const s = await r.api.status();
    assert.equal(s.health, "ok");
    assert.equal(s.xdp?.interface, lab.node.iface);
    assert.equal(s.counts.services, v.services.length);

    // North-south: held open until the end of the file.
    const localPorts = ports(r, HELD);
    const results = await open(r, "world", LB_ADDRESS, HTTP, localPorts);
    const reached = assertBackends(results, (sport) => predict(v, LB_ADDRESS, HTTP, "TCP", lab.client.ip, sport), `world → ${LB_ADDRESS}:${HTTP}`);
    assert.deepEqual(reached, activeBackends(v, LB_ADDRESS, HTTP, "TCP"), "every backend answers some connections");
    for (const o of results) r.held.set(o.localPort, o.backend!);
    t.diagnostic(`north-south: ${reached.map((b) => `${b} ${results.filter((o) => o.backend === b).length}`).join(", ")}`);

    const nsUdp = await datagrams(r, "world", LB_ADDRESS, DNS, 12);
    assert.deepEqual(assertBackends(nsUdp, (sport) => predict(v, LB_ADDRESS, DNS, "UDP", lab.client.ip, sport), `world → ${LB_ADDRESS}:${DNS}/UDP`),
      activeBackends(v, LB_ADDRESS, DNS, "UDP"));

    // East-west: the ClusterIP over TCP and UDP, from the client pod.
    const tcpPorts = ports(r, 24);
    const tcp = await open(r, "client", CLUSTER_IP, HTTP, tcpPorts);
    await close(r, "client", tcpPorts);
    for (const o of tcp) assert.equal(o.peer, `${podOf("client").ip} ${o.localPort}`, "east-west: the backend sees the client pod's own address");
    assert.deepEqual(assertBackends(tcp, (sport) => predict(v, CLUSTER_IP, HTTP, "TCP", podOf("client").ip, sport), `client → ${CLUSTER_IP}:${HTTP}`),
      activeBackends(v, CLUSTER_IP, HTTP, "TCP"));
    const udp = await datagrams(r, "client", CLUSTER_IP, DNS, 12);
    assert.deepEqual(assertBackends(udp, (sport) => predict(v, CLUSTER_IP, DNS, "UDP", podOf("client").ip, sport), `client → ${CLUSTER_IP}:${DNS}/UDP`),
      activeBackends(v, CLUSTER_IP, DNS, "UDP"));

    const verdicts = await checkPolicy(r, v, "policy after start");
    assert.equal(verdicts.get(probeName(PROBES[0]!)), true, "the state lets the client pod reach db");
    assert.equal(verdicts.get(probeName(PROBES[1]!)), false, "the state keeps other away from db (db's ingress is default deny)");

    // Held connections to db, kept to the end like the north-south ones.
    r.heldDb = ports(r, 4);
    const db = await open(r, "client", podOf("db").ip, DB_PORT, r.heldDb);
    assert.deepEqual(db.map((o) => o.backend ?? o.error), r.heldDb.map(() => "db"));
    ok = true;
  });

  step("scales the service down and up: new connections follow the EndpointSlice, established ones keep their backend", async (r, t) => {
    const removed = lab.backends[1]!.name;
    model.endpoints = lab.backends.map((b) => b.name).filter((n) => n !== removed);
    const s = await change(r, model);
    assert.equal(s.lastApplied!.changed.policies, 0);
    const v = await view();
    assert.ok(!activeBackends(v, LB_ADDRESS, HTTP, "TCP").includes(removed), "the library's view has lost the backend too");
    const remaining = model.endpoints;
    await checkHeld(r, remaining, `without ${removed}`);
    const reached = await checkNorthSouth(r, v, `without ${removed}`);
    assert.deepEqual(reached, remaining, `new connections reach ${remaining.join(" and ")} only`);
    const tcpPorts = ports(r, 12);
    const tcp = await open(r, "client", CLUSTER_IP, HTTP, tcpPorts);
    await close(r, "client", tcpPorts);
    assert.ok(!assertBackends(tcp, (sport) => predict(v, CLUSTER_IP, HTTP, "TCP", podOf("client").ip, sport), "east-west without the backend").includes(removed));
    const heldOnRemoved = [...r.held.values()].filter((b) => b === removed).length;
    t.diagnostic(`${heldOnRemoved} held connections were on ${removed}; not asserted: the backend left the service`);

    model.endpoints = lab.backends.map((b) => b.name);
    await change(r, model);
    const back = await view();
    // The held connections that were on the backend were left alone while it was gone: their flows lead to it again.
    await checkHeld(r, lab.backends.map((b) => b.name), `with ${removed} back`);
    assert.deepEqual(await checkNorthSouth(r, back, `with ${removed} back`), activeBackends(back, LB_ADDRESS, HTTP, "TCP"), "new connections reach every backend again");
  });

  step("adds a deny: the next connection it names fails, the flow stream shows policy-deny, the rest still passes", async (r) => {
    const before = await checkPolicyExpectations();
    model.deny = true;
    const s = await change(r, model);
    assert.equal(s.lastApplied!.changed.policies, 1);
    assert.equal(s.lastApplied!.changed.services, 0, "a policy change touches no service");
    const v = await view();
    const named = PROBES[3]!; // client → ClusterIP:80
    assert.equal(before.get(probeName(named)), true);
    assert.equal(allowed(v, named, "web-1").allowed, false, "the library's view denies it now");

    // No wait between the generation and the attempt.
    const denied = ports(r, 3);
    const results = await open(r, "client", CLUSTER_IP, HTTP, denied, DENIED_MS);
    await close(r, "client", denied);
    assert.deepEqual(results.filter((o) => o.backend !== undefined), [], "no denied connection gets an answer");
    const flows = await findFlows(r, { pod: "shop/client", verdict: "DROPPED" }, (f) => denied.includes(f.source.port) && f.reason === "policy-deny");
    assert.ok(flows.length > 0, "the flow stream shows the drop as policy-deny");
    const f = flows[0]!;
    assert.equal(f.direction, "egress");
    assert.equal(f.protocol, "TCP");
    assert.equal(f.source.ip, podOf("client").ip);
    assert.equal(f.source.namespace, "shop");
    assert.equal(f.source.pod, "client");
    assert.ok(lab.backends.some((b) => b.ip === f.destination.ip), `the destination is a backend after translation: ${JSON.stringify(f.destination)}`);
    assert.equal(f.destination.port, HTTP);
    assert.equal(f.interface, podOf("client").hostIface);
    assert.equal(f.service?.id, servicesInMaps().get(`${CLUSTER_IP}:${HTTP}/${IPPROTO.TCP}`), "the flow carries the ClusterIP frontend's service ID");
    // The Service's namespace/name (the agent currently gives the whole frontend name after it).
    assert.equal(f.service?.name, "shop/web", "the Service's namespace/name");
    assert.ok(f.service?.frontend?.startsWith("shop/web:"), `frontend ${f.service?.frontend}`);

    await checkPolicy(r, v, "policy with the deny");
    await checkHeld(r, lab.backends.map((b) => b.name), "with the deny");
  });

  step("relabels a pod into the policies' selectors: what it can reach changes", async (r) => {
    const before = await checkPolicyExpectations();
    const identityBefore = endpointsInMaps().get(ifindexOf(podOf("other").hostIface));
    model.labels.other = { app: "client" };
    const s = await change(r, model);
    assert.equal(s.lastApplied!.changed.pods, 1);
    const v = await view();
    assert.equal(endpointsInMaps().get(ifindexOf(podOf("other").hostIface)), v.policy.cluster.identityOf("shop/other"), "the endpoint has its new identity");
    assert.notEqual(v.policy.cluster.identityOf("shop/other"), identityBefore);
    const after = await checkPolicy(r, v, "policy after the relabel");
    for (const p of [PROBES[1]!, PROBES[4]!]) {
      assert.notEqual(after.get(probeName(p)), before.get(probeName(p)), `the relabel changes ${probeName(p)}`);
    }
  });

  step("survives SIGKILL of the agent: open connections keep working, new ones follow the state, IDs stay", async (r) => {
    const v = await view();
    const services = servicesInMaps();
    const backends = backendsInMaps();
    const endpoints = endpointsInMaps();
    const status = await r.api.status();
    assert.equal(services.size, v.services.length);

    const agent = r.agent!;
    agent.process.kill("SIGKILL");
    await agent.stop(5000);
    assert.equal(agent.running, false);
    assert.ok(existsSync(join(PIN_ROOT, "wp_services")), "the maps stay pinned");

    // No agent: the datapath keeps serving the state it was given.
    await checkHeld(r, lab.backends.map((b) => b.name), "while no agent runs");
    await checkNorthSouth(r, v, "while no agent runs");
    await checkPolicy(r, v, "policy while no agent runs");

    startAgent(r);
    const s = await ready(r);
    assert.equal(s.health, "ok");
    assert.deepEqual(servicesInMaps(), services, "every service keeps its ID");
    assert.deepEqual(backendsInMaps(), backends, "every backend keeps its ID");
    assert.deepEqual(endpointsInMaps(), endpoints, "every endpoint keeps its identity");
    assert.equal(s.counts.services, status.counts.services);
    assert.equal(s.counts.backends, status.counts.backends);
    for (const p of lab.pods) assert.equal(tcFilterCount(p.hostIface), 2, `${p.hostIface}: the restart replaced the filters (one per direction)`);

    await checkHeld(r, lab.backends.map((b) => b.name), "after the restart");
    const again = await view();
    await checkNorthSouth(r, again, "after the restart");
    await checkPolicy(r, again, "policy after the restart");

    // The restarted agent follows the state: the deny goes away, the client reaches the web pods again.
    model.deny = false;
    await change(r, model);
    const noDeny = await view();
    const verdicts = await checkPolicy(r, noDeny, "policy after the restarted agent removed the deny");
    assert.equal(verdicts.get(probeName(PROBES[3]!)), true);
  });
});

/** The library's verdicts for every probe on the state as it is on disk now. */
async function checkPolicyExpectations(): Promise<Map<string, boolean>> {
  const v = await view();
  return new Map(PROBES.map((p) => [probeName(p), allowed(v, p, p.host === CLUSTER_IP ? activeBackends(v, CLUSTER_IP, p.port, p.protocol)[0] : undefined).allowed]));
}
