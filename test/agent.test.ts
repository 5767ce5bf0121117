/**
 * The node agent (`wasmplane agent`) as a process, in a network namespace
 * of its own ("node") holding the interfaces it attaches to: a veth for the
 * XDP load balancer and two pod-side veths for the endpoint programs (one
 * named by --endpoints, one by the pod's wasmplane.io/interface
 * annotation). The agent runs with `nsenter --net`, so its pins are in the
 * root bpffs where this test reads them with bpftool.
 *
 * The state is a copy of examples/state in a temporary folder; every
 * expected value (frontends, identities, verdicts) is computed from the
 * state on disk with the library (translateServices, applyStatePolicy),
 * never written down here. Each change is made on disk and the test waits
 * for the agent's next generation, then checks the maps and the API.
 *
 * CLI errors (no state, an unknown interface, no privilege) need no kernel
 * beyond the privilege probe and check: one line, exit 2, nothing pinned.
 *
 * Cleanup in `after`: the agent process (SIGKILL by pid), the namespace,
 * the pins, the temporary folder with the socket.
 */
import { after, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { applyStatePolicy, loadKubeState, translateServices } from "../src/index.js";
import type { AgentStatus } from "../src/agent/api.js";
import { existingNamespaces } from "../src/demo/netns.js";
import { requireBpf, requireTools } from "./support/privileges.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(ROOT, "src/cli/main.ts");
const TAG = `wpag${process.pid % 100000}`;
const NODE_NS = `${TAG}-node`;
const PIN_ROOT = `/sys/fs/bpf/${TAG}`;
const dir = mkdtempSync(join(tmpdir(), "wasmplane-agent-test-"));
const STATE = join(dir, "state");
const SOCKET = join(dir, "run", "agent.sock");
cpSync(join(ROOT, "examples/state"), STATE, { recursive: true });

let agent: ChildProcess | undefined;
let agentLog = "";
let nsCreated = false;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? ""}${r.stderr}${r.stdout.slice(0, 2000)}`);
  return r.stdout;
}

after(() => {
  if (agent && agent.exitCode === null) agent.kill("SIGKILL");
  if (nsCreated && existingNamespaces().includes(NODE_NS)) spawnSync("ip", ["netns", "del", NODE_NS]);
  rmSync(PIN_ROOT, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

/** The node namespace: ext0 (XDP), lx-web and lx-db (endpoints), each a veth whose peer stays in the namespace. */
function buildNode(): void {
  sh("ip", ["netns", "add", NODE_NS]);
  nsCreated = true;
  const ipn = (...args: string[]) => sh("ip", ["-n", NODE_NS, ...args]);
  ipn("link", "set", "lo", "up");
  for (const [a, b] of [["ext0", "ext1"], ["lx-web", "pod-web"], ["lx-db", "pod-db"]] as const) {
    ipn("link", "add", a, "type", "veth", "peer", "name", b);
    ipn("link", "set", a, "up");
    ipn("link", "set", b, "up");
  }
}

function ifindexOf(name: string): number {
  const out = sh("ip", ["-n", NODE_NS, "-j", "link", "show", name]);
  return (JSON.parse(out) as { ifindex: number }[])[0]!.ifindex;
}

function agentArgs(extra: string[] = []): string[] {
  return ["--net=/run/netns/" + NODE_NS, process.execPath, "--import", "tsx", CLI, "agent", "--state", STATE, "--interface", "ext0",
    "--endpoints", "shop/web=lx-web", "--socket", SOCKET, "--pin-root", PIN_ROOT, ...extra];
}

function startAgentProcess(extra: string[] = []): ChildProcess {
  agentLog = "";
  const child = spawn("nsenter", agentArgs(extra), { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => { agentLog += d.toString(); });
  agent = child;
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: SOCKET, method, path, headers: body ? { "content-type": "application/json" } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

async function status(): Promise<AgentStatus> {
  const r = await call("GET", "/v1/status");
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text) as AgentStatus;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `test` holds (at most 60 s), failing with the agent's log. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (agent && agent.exitCode !== null) break;
    await sleep(100);
  }
  assert.fail(`${what}: timed out (${String(last)})\nagent log:\n${agentLog}`);
}

const ready = () => until("agent ready", async () => ((await status()).lastApplied ? await status() : undefined));
const generation = (n: number) => until(`generation ${n}`, async () => {
  const s = await status();
  return (s.lastApplied?.generation ?? 0) >= n ? s : undefined;
});

interface Dumped { formatted: { key: unknown; value: Record<string, unknown> } }
const dump = (map: string) => JSON.parse(sh("bpftool", ["-j", "map", "dump", "pinned", join(PIN_ROOT, map)])) as Dumped[];

/** wp_services as frontend text → service ID. */
function serviceIds(): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of dump("wp_services")) {
    const k = e.formatted.key as { vip: number[]; port: number; protocol: number; family: number };
    const port = ((k.port & 0xff) << 8) | (k.port >> 8); // network order as a little-endian u16
    out.set(`${k.family === 4 ? k.vip.slice(0, 4).join(".") : k.vip.join(",")}:${port}/${k.protocol}`, e.formatted.value.service_id as number);
  }
  return out;
}

/** wp_backends (an array by ID) as its used IDs. */
function backendIds(): number[] {
  return dump("wp_backends").filter((e) => (e.formatted.value.port as number) !== 0).map((e) => e.formatted.key as number).sort((a, b) => a - b);
}

/** wp_endpoints as ifindex → identity. */
function endpointIdentities(): Map<number, number> {
  return new Map(dump("wp_endpoints").map((e) => [e.formatted.key as number, (e.formatted.value as { identity: number }).identity]));
}

async function expected() {
  const kube = await loadKubeState(STATE);
  const translation = translateServices(kube);
  const policy = await applyStatePolicy(kube);
  return { kube, translation, policy };
}

function edit(file: string, from: string, to: string): void {
  const path = join(STATE, file);
  const text = readFileSync(path, "utf8");
  assert.ok(text.includes(from), `${file} contains ${JSON.stringify(from)}`);
  writeFileSync(path, text.replace(from, to));
}

function xdpAttached(): boolean {
  return sh("ip", ["-n", NODE_NS, "link", "show", "ext0"]).includes(" xdp");
}

function tcFilters(iface: string): string {
  return sh("tc", ["-n", NODE_NS, "filter", "show", "dev", iface, "ingress"]);
}

async function kernelReady(t: TestContext): Promise<boolean> {
  return (await requireBpf(t)) && requireTools(t, "clang", "ip", "nsenter", "bpftool", "tc");
}

describe("wasmplane agent in a network namespace", { concurrency: false }, () => {
  let ok = false;

  it("starts, programs every map from the state and answers on its socket", async (t) => {
    if (!(await kernelReady(t))) return;
    // shop/db's interface comes from its annotation, shop/web's from --endpoints.
    edit("10-pods.yaml", "metadata: { name: db, namespace: shop, labels: { app: db } }",
      "metadata: { name: db, namespace: shop, labels: { app: db }, annotations: { wasmplane.io/interface: lx-db } }");
    buildNode();
    startAgentProcess();
    const s = await ready();
    const want = await expected();
    assert.equal(s.health, "ok", JSON.stringify(s.lastApplied));
    assert.deepEqual(s.endpoints, { "shop/db": "lx-db", "shop/web": "lx-web" });
    assert.equal(s.xdp?.interface, "ext0");
    assert.equal(s.counts.services, want.translation.services.length);
    assert.equal(s.counts.backends, want.translation.backends.length);
    assert.equal(serviceIds().size, want.translation.services.length, "one wp_services entry per frontend");
    assert.deepEqual(backendIds(), want.translation.backends.map((b) => b.id).sort((a, b) => a - b));
    const ids = endpointIdentities();
    assert.equal(ids.get(ifindexOf("lx-web")), want.policy.cluster.identityOf("shop/web"));
    assert.equal(ids.get(ifindexOf("lx-db")), want.policy.cluster.identityOf("shop/db"));
    const fill = new Map(s.maps.map((m) => [m.name, m]));
    assert.equal(fill.get("wp_services")?.entries, want.translation.services.length);
    assert.equal(fill.get("wp_endpoints")?.entries, 2);
    assert.ok(xdpAttached(), "XDP is attached to ext0");
    assert.match(tcFilters("lx-db"), /wasmplane_from/);
    // The socket is private.
    assert.equal(sh("stat", ["-c", "%a", SOCKET]).trim(), "600");
    ok = true;
  });

  it("applies a scaled EndpointSlice as a change of the services that list the backend only", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    const before = await status();
    const idsBefore = serviceIds();
    const was = new Map((await expected()).translation.services.map((x) => [x.name, JSON.stringify(x)]));
    edit("50-endpointslices.yaml", "      - addresses: [10.244.1.12]\n        conditions: { ready: true, serving: true, terminating: false }",
      "      - addresses: [10.244.1.12]\n        conditions: { ready: false, serving: false, terminating: false }");
    const s = await generation(before.lastApplied!.generation + 1);
    const want = await expected();
    const changed = s.lastApplied!.changed;
    // The frontends that listed 10.244.1.12:8080: shop/web's IPv4 ones.
    const differ = want.translation.services.filter((x) => was.get(x.name) !== JSON.stringify(x));
    assert.ok(differ.length > 0 && differ.every((x) => x.name.startsWith("shop/web:")));
    assert.equal(changed.services, differ.length, `only the frontends that listed the backend are rewritten (${JSON.stringify(changed)})`);
    assert.equal(changed.backends, 1, "one backend leaves wp_backends");
    assert.equal(changed.policies, 0);
    assert.equal(s.counts.backends, want.translation.backends.length);
    assert.deepEqual(backendIds(), want.translation.backends.map((b) => b.id).sort((a, b) => a - b));
    assert.deepEqual(serviceIds(), idsBefore, "every service keeps its ID");
  });

  it("applies a deny policy through the resolver's deltas", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    const before = await status();
    const query = { from: "shop/web", to: "shop/db", port: 5432, protocol: "TCP" };
    const allowedBefore = (JSON.parse((await call("POST", "/v1/policy/check", query)).text) as { allowed: boolean }).allowed;
    writeFileSync(join(STATE, "60-deny.yaml"), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: deny-web-to-db, namespace: shop }
spec:
  endpointSelector: { matchLabels: { app: db } }
  ingressDeny:
    - fromEndpoints: [{ matchLabels: { app: web } }]
      toPorts: [{ ports: [{ port: "5432", protocol: TCP }] }]
`);
    const s = await generation(before.lastApplied!.generation + 1);
    const want = await expected();
    assert.equal(s.lastApplied!.changed.policies, 1);
    assert.equal(s.lastApplied!.changed.services, 0, "no service is touched by a policy change");
    assert.ok((s.lastApplied!.changed.policyEntries ?? 0) > 0);
    const r = JSON.parse((await call("POST", "/v1/policy/check", query)).text) as { allowed: boolean };
    assert.equal(r.allowed, want.policy.cluster.reachability(query as never).allowed);
    assert.equal(r.allowed, false);
    assert.equal(allowedBefore, true, "the example state allows shop/web to reach shop/db on 5432 before the deny");
    const dbIdentity = want.policy.cluster.identityOf("shop/db")!;
    const map = JSON.parse((await call("GET", "/v1/policy/map?endpoint=shop/db")).text) as { identity: number; entries: unknown[] };
    assert.equal(map.identity, dbIdentity);
    assert.deepEqual(map.entries, want.policy.cluster.engine.policyMap(dbIdentity));
    assert.equal(s.counts.policyEntries, dump("wp_policy").length);
  });

  it("gives a relabelled pod's endpoint its new identity", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    const before = await status();
    const old = endpointIdentities().get(ifindexOf("lx-web"));
    edit("10-pods.yaml", "metadata: { name: web, namespace: shop, labels: { app: web } }", "metadata: { name: web, namespace: shop, labels: { app: web, tier: front } }");
    const s = await generation(before.lastApplied!.generation + 1);
    const want = await expected();
    const identity = want.policy.cluster.identityOf("shop/web");
    assert.notEqual(identity, old);
    assert.equal(endpointIdentities().get(ifindexOf("lx-web")), identity);
    assert.ok((s.lastApplied!.changed.endpoints ?? 0) >= 1);
    assert.equal(s.lastApplied!.changed.pods, 1);
  });

  it("rejects an invalid object with file, object and field, and applies the rest", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    const before = await status();
    writeFileSync(join(STATE, "70-bad.yaml"), `apiVersion: v1
kind: Service
metadata: { name: broken, namespace: shop }
spec: { type: ClusterIP, clusterIP: 10.96.10.99, ports: [{ name: http, protocol: TCP, port: 70000 }] }
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: bad-cidr, namespace: shop }
spec:
  endpointSelector: { matchLabels: { app: web } }
  ingress:
    - fromCIDR: [10.0.0.300/8]
---
apiVersion: v1
kind: Namespace
metadata: { name: extra, labels: { team: extra } }
`);
    writeFileSync(join(STATE, "71-unparsable.yaml"), "kind: Pod\nmetadata: { name: [unclosed\n");
    // Two files: the watch may deliver them as one change or two.
    let s = await generation(before.lastApplied!.generation + 1);
    const both = (x: typeof s) => ["70-bad.yaml", "71-unparsable.yaml"].every((f) => x.lastApplied!.rejected.some((l) => l.includes(f)));
    for (let i = 0; i < 3 && !both(s); i++) {
      s = await generation(s.lastApplied!.generation + 1);
    }
    assert.equal(s.health, "degraded");
    const line = s.lastApplied!.rejected.find((l) => l.includes("70-bad.yaml"));
    assert.ok(line, JSON.stringify(s.lastApplied!.rejected));
    assert.match(line, /Service shop\/broken/);
    assert.match(line, /spec\.ports\[0\]\.port/);
    const cidr = s.lastApplied!.rejected.find((l) => l.includes("CiliumNetworkPolicy shop/bad-cidr"));
    assert.ok(cidr, `the policy with an invalid CIDR is rejected by name: ${JSON.stringify(s.lastApplied!.rejected)}`);
    assert.match(cidr, /70-bad\.yaml.*fromCIDR\[0\]/);
    assert.ok(s.lastApplied!.rejected.some((l) => l.includes("71-unparsable.yaml")), "a file that does not parse is named");
    assert.equal(s.lastApplied!.changed.namespaces, 1, "the valid Namespace in the same file is applied");
    const logged = agentLog.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, string>)
      .find((l) => l.msg === "rejected" && l.object === "Service shop/broken");
    assert.ok(logged, `a JSON log line names the object:\n${agentLog}`);
    assert.equal(logged.field, "spec.ports[0].port");
    // Fixing the file clears the degraded health.
    rmSync(join(STATE, "70-bad.yaml"));
    rmSync(join(STATE, "71-unparsable.yaml"));
    const fixed = await generation(s.lastApplied!.generation + 1);
    assert.equal(fixed.health, "ok");
  });

  it("streams enriched flows with filters", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    // Traffic from the pod side of lx-web: the veth peers' IPv6 router solicitations and an IPv4 datagram.
    spawnSync("ip", ["netns", "exec", NODE_NS, "ip", "addr", "add", "10.244.1.10/32", "dev", "pod-web"]);
    spawnSync("ip", ["netns", "exec", NODE_NS, "ping", "-c", "1", "-W", "1", "-I", "pod-web", "10.244.1.11"]);
    const flows = await until("a flow from lx-web", async () => {
      const r = await call("GET", "/v1/flows?last=50&verdict=DROPPED");
      const list = r.text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { interface: string; verdict: string; source: { pod?: string }; destination: { labels?: string[] } });
      return list.some((f) => f.interface === "lx-web") ? list : undefined;
    });
    assert.ok(flows.every((f) => f.verdict === "DROPPED"), "the verdict filter applies");
    const named = flows.find((f) => f.interface === "lx-web")!;
    assert.ok(named.destination.labels || named.source.pod, `flows carry names: ${JSON.stringify(named)}`);
    const none = await call("GET", "/v1/flows?verdict=FORWARDED&namespace=nowhere");
    assert.equal(none.text, "");
    const bad = await call("GET", "/v1/flows?port=70000");
    assert.equal(bad.status, 400);
  });

  it("leaves the datapath in place on SIGTERM, and a restart keeps service and backend IDs", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    const services = serviceIds();
    const backends = backendIds();
    const endpoints = endpointIdentities();
    agent!.kill("SIGTERM");
    assert.equal(await exited(agent!), 0, agentLog);
    assert.ok(existsSync(join(PIN_ROOT, "wp_services")), "maps stay pinned");
    assert.ok(xdpAttached(), "XDP stays attached");
    assert.match(tcFilters("lx-web"), /wasmplane_from/);
    assert.ok(!existsSync(SOCKET), "the socket is removed");

    startAgentProcess();
    const s = await ready();
    assert.match(agentLog, /reopened pinned maps/);
    assert.deepEqual(serviceIds(), services);
    assert.deepEqual(backendIds(), backends);
    assert.deepEqual(endpointIdentities(), endpoints);
    assert.equal(s.health, "ok");
    // One filter per direction: the restart replaced the previous agent's in place.
    assert.equal(tcFilters("lx-web").split("\n").filter((l) => l.includes("wasmplane_from")).length, 1);
  });

  it("--cleanup detaches everything and removes the pins", async (t) => {
    if (!ok) return t.skip("the agent did not start");
    agent!.kill("SIGTERM");
    assert.equal(await exited(agent!), 0, agentLog);
    startAgentProcess(["--cleanup", "--log-format", "text"]);
    await ready();
    assert.match(agentLog, / INFO  ready /);
    agent!.kill("SIGINT");
    assert.equal(await exited(agent!), 0, agentLog);
    assert.ok(!existsSync(PIN_ROOT), `the pin root is gone: ${existsSync(PIN_ROOT) ? sh("ls", [PIN_ROOT]) : ""}`);
    assert.ok(!xdpAttached(), "XDP is detached");
    assert.doesNotMatch(tcFilters("lx-web"), /wasmplane_from/);
  });
});

describe("wasmplane agent: errors before anything is applied", () => {
  function runCli(args: string[], prefix: string[] = []): { status: number | null; stderr: string } {
    const r = spawnSync(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), "--import", "tsx", CLI, "agent", ...args],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stderr: r.stderr };
  }
  const pins = `/sys/fs/bpf/${TAG}-err`;

  it("a state path that does not exist: one line, exit 2", () => {
    const r = runCli(["--state", join(dir, "missing"), "--socket", join(dir, "e.sock"), "--pin-root", pins]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^wasmplane: error: .*missing: no such file or directory/);
    assert.ok(!existsSync(pins));
  });

  it("an unknown interface: one line, exit 2, nothing pinned", async (t) => {
    if (!(await requireBpf(t))) return;
    const r = runCli(["--state", STATE, "--interface", "nope0", "--socket", join(dir, "e.sock"), "--pin-root", pins]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /no network interface "nope0"/);
    assert.ok(!existsSync(pins));
  });

  it("malformed --endpoints: one line, exit 2", () => {
    const r = runCli(["--state", STATE, "--endpoints", "web=lx-web", "--pin-root", pins]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /--endpoints/);
  });

  it("without eBPF privileges: one line, exit 2, nothing pinned", async (t) => {
    if (!(await requireBpf(t)) || !requireTools(t, "setpriv")) return;
    // Root without any capability: the privilege probe fails.
    const r = runCli(["--state", STATE, "--socket", join(dir, "e.sock"), "--pin-root", pins], ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /needs root \(CAP_BPF/);
    assert.ok(!existsSync(pins));
  });
});
