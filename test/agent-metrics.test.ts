/**
 * The agent's metrics as Prometheus scrapes them: the served endpoint is
 * fetched over HTTP and its exposition text parsed into series, whose names,
 * labels, types and values are checked against what was recorded.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APPLY_LATENCY_BUCKETS, createAgentMetrics, parseListenAddress, type AgentMetrics, type MetricsServer } from "../src/agent/metrics.js";
import { InvalidInputError } from "../src/errors.js";
import { FLOWS } from "./support/observed-flows.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Scrape {
  samples: Sample[];
  types: Map<string, string>;
}

/** Parses the text exposition format (version 0.0.4): `# TYPE` lines and samples. */
function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of m[2] ? m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) : []) labels[l[1]!] = l[2]!;
    const value = m[3] === "+Inf" ? Infinity : Number(m[3]);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

/** The value of the one sample of `name` whose labels include `labels`. */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = scrape.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value;
}

function get(server: MetricsServer, path: string, method = "GET"): Promise<{ status: number; type: string | undefined; body: string }> {
  const [host, port] = [server.address.slice(0, server.address.lastIndexOf(":")), Number(server.address.slice(server.address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host: host.replace(/^\[|\]$/g, ""), port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

let metrics: AgentMetrics;
let server: MetricsServer;

before(async () => {
  metrics = createAgentMetrics();
  server = await metrics.serve("127.0.0.1:0");
});
after(async () => {
  await server.close();
});

async function scrape(): Promise<Scrape> {
  const r = await get(server, "/metrics");
  assert.equal(r.status, 200);
  assert.match(r.type ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
}

test("the served address names the port actually bound", () => {
  assert.match(server.address, /^127\.0\.0\.1:[1-9][0-9]*$/);
});

test("inventory gauges", async () => {
  metrics.setInventory({ services: 3, backends: 9, identities: 6, endpoints: 2, policyEntries: 17 });
  let s = await scrape();
  for (const [name, v] of [["wasmplane_services", 3], ["wasmplane_backends", 9], ["wasmplane_identities", 6], ["wasmplane_endpoints", 2], ["wasmplane_policy_entries", 17]] as const) {
    assert.equal(s.types.get(name), "gauge", name);
    assert.equal(value(s, name), v, name);
  }
  metrics.setInventory({ services: 2, backends: 4, identities: 6, endpoints: 2, policyEntries: 0 });
  s = await scrape();
  assert.equal(value(s, "wasmplane_services"), 2, "a gauge is set, not added to");
  assert.equal(value(s, "wasmplane_policy_entries"), 0);
  assert.throws(() => metrics.setInventory({ services: -1, backends: 0, identities: 0, endpoints: 0, policyEntries: 0 }), (e: unknown) => e instanceof InvalidInputError && e.field === "services");
});

test("map fill per map: entries, capacity and their ratio", async () => {
  metrics.setMapFill("wp_lb_services", 1024, 4096);
  metrics.setMapFill("wp_policy_exact", 2048, 2048);
  metrics.setMapFill("wp_empty", 0, 0);
  const s = await scrape();
  assert.equal(s.types.get("wasmplane_map_fill_ratio"), "gauge");
  assert.equal(value(s, "wasmplane_map_fill_ratio", { map: "wp_lb_services" }), 0.25);
  assert.equal(value(s, "wasmplane_map_fill_ratio", { map: "wp_policy_exact" }), 1);
  assert.equal(value(s, "wasmplane_map_fill_ratio", { map: "wp_empty" }), 0);
  assert.equal(value(s, "wasmplane_map_entries", { map: "wp_lb_services" }), 1024);
  assert.equal(value(s, "wasmplane_map_max_entries", { map: "wp_lb_services" }), 4096);
});

test("drops by reason mirror the datapath's counters, bigints included", async () => {
  metrics.setDrops("policy-deny", 42);
  metrics.setDrops("default-deny", 7n);
  let s = await scrape();
  assert.equal(s.types.get("wasmplane_datapath_drops"), "gauge");
  assert.equal(value(s, "wasmplane_datapath_drops", { reason: "policy-deny" }), 42);
  assert.equal(value(s, "wasmplane_datapath_drops", { reason: "default-deny" }), 7);
  metrics.setDrops("policy-deny", 3);
  s = await scrape();
  assert.equal(value(s, "wasmplane_datapath_drops", { reason: "policy-deny" }), 3, "a reloaded datapath's counter starts again");
});

test("flows counted by verdict and reason", async () => {
  for (const flow of FLOWS) metrics.recordFlow(flow);
  metrics.recordFlow(FLOWS[1]!);
  const s = await scrape();
  assert.equal(s.types.get("wasmplane_flows_total"), "counter");
  assert.equal(value(s, "wasmplane_flows_total", { verdict: "FORWARDED", reason: "none" }), 3);
  assert.equal(value(s, "wasmplane_flows_total", { verdict: "DROPPED", reason: "policy-deny" }), 2);
  assert.equal(value(s, "wasmplane_flows_total", { verdict: "DROPPED", reason: "default-deny" }), 1);
});

test("apply latency histogram by kind, buckets from 1 ms to 10 s, and failures", async () => {
  metrics.recordApply("services", 0.003, true);
  metrics.recordApply("services", 0.02, true);
  metrics.recordApply("policy", 2, false);
  metrics.recordApply("policy", 30, false);
  const s = await scrape();
  assert.equal(s.types.get("wasmplane_apply_duration_seconds"), "histogram");
  const les = s.samples.filter((x) => x.name === "wasmplane_apply_duration_seconds_bucket" && x.labels.kind === "services").map((x) => x.labels.le);
  assert.deepEqual(les, [...APPLY_LATENCY_BUCKETS.map(String), "+Inf"]);
  assert.equal(APPLY_LATENCY_BUCKETS[0], 0.001);
  assert.equal(APPLY_LATENCY_BUCKETS.at(-1), 10);
  const bucket = (kind: string, le: string) => value(s, "wasmplane_apply_duration_seconds_bucket", { kind, le });
  assert.equal(bucket("services", "0.0025"), 0);
  assert.equal(bucket("services", "0.005"), 1);
  assert.equal(bucket("services", "0.025"), 2);
  assert.equal(bucket("policy", "1"), 0);
  assert.equal(bucket("policy", "2.5"), 1);
  assert.equal(bucket("policy", "10"), 1);
  assert.equal(bucket("policy", "+Inf"), 2);
  assert.equal(value(s, "wasmplane_apply_duration_seconds_count", { kind: "services" }), 2);
  assert.equal(value(s, "wasmplane_apply_duration_seconds_sum", { kind: "services" }), 0.023);
  assert.equal(s.types.get("wasmplane_apply_failures_total"), "counter");
  assert.equal(value(s, "wasmplane_apply_failures_total", { kind: "services" }), 0);
  assert.equal(value(s, "wasmplane_apply_failures_total", { kind: "policy" }), 2);
  assert.throws(() => metrics.recordApply("services", -1, true), InvalidInputError);
});

test("every series has the wasmplane_ prefix; two metric sets do not share series", async () => {
  const s = await scrape();
  assert.ok(s.samples.length > 0);
  for (const sample of s.samples) assert.match(sample.name, /^wasmplane_/);
  const other = createAgentMetrics();
  const text = await other.registry.metrics();
  assert.equal(value(parseExposition(text), "wasmplane_services"), 0);
});

test("404 away from /metrics, 405 for other methods", async () => {
  assert.equal((await get(server, "/")).status, 404);
  assert.equal((await get(server, "/metricsx")).status, 404);
  assert.equal((await get(server, "/metrics?x=1")).status, 200);
  assert.equal((await get(server, "/metrics", "POST")).status, 405);
});

test("serves on a Unix socket too; bad addresses name the field", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasmplane-metrics-"));
  try {
    const path = join(dir, "metrics.sock");
    const m = createAgentMetrics();
    const unix = await m.serve(path);
    assert.equal(unix.address, path);
    const body = await new Promise<string>((resolve, reject) => {
      request({ socketPath: path, path: "/metrics" }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve(text));
      })
        .on("error", reject)
        .end();
    });
    assert.match(body, /^wasmplane_services 0$/m);
    await unix.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(parseListenAddress(":9090"), { host: undefined, port: 9090 });
  assert.deepEqual(parseListenAddress("[::1]:9090"), { host: "::1", port: 9090 });
  for (const bad of ["9090", "localhost:99999", "relative.sock", "a:b:1"]) {
    assert.throws(() => parseListenAddress(bad), (e: unknown) => e instanceof InvalidInputError && e.field === "metrics address", bad);
  }
});
