/**
 * Map sync benchmark of the load balancer's control plane: how long it takes
 * to program the XDP datapath's maps for 1, 100 and 1,000 services (M =
 * 16381, 10 backends each), and how long one backend change takes, Maglev
 * rebuild included.
 *
 * Why: a node must be able to program a whole cluster's services in under a
 * second at start, and follow one backend's churn in under 2 ms. The
 * baseline measured in the same run is the WebAssembly table builds alone
 * (what the sync cannot avoid), so the ratio says what the kernel writes cost
 * on top.
 *
 *   node --import tsx bench/lb-sync.bench.ts [--json]      (root: it loads the program)
 *
 * Pins under a private directory and removes it afterwards.
 */
import { performance } from "node:perf_hooks";
import { cpus, loadavg } from "node:os";
import { createMaglev, openDatapath, unpinDatapath, type LbService } from "../src/index.js";
import { summarize } from "./lib/stats.js";

const asJson = process.argv.includes("--json");
const log = (m: string): void => void process.stderr.write(`${m}\n`);

if (process.getuid?.() !== 0) {
  console.error("lb-sync bench cannot run: loading the XDP program needs root (CAP_BPF, CAP_NET_ADMIN)");
  process.exit(1);
}

function servicesOf(count: number, backendsEach: number, salt = 0): LbService[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `svc-${i}`,
    vip: `10.${100 + (i >> 8)}.${i & 255}.1`,
    port: 80,
    protocol: "TCP",
    algorithm: "maglev",
    backends: Array.from({ length: backendsEach }, (_, j) => {
      const n = i * backendsEach + j + salt;
      return { id: n + 1, address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, port: 8080 };
    }),
  }));
}

const time = (fn: () => unknown): number => {
  const start = performance.now();
  fn();
  return performance.now() - start;
};

const ROUNDS = 5;
const rows: Array<{ services: number; syncMs: number; tablesOnlyMs: number; resyncUnchangedMs: number }> = [];
const root = `/sys/fs/bpf/wasmplane-bench-${process.pid}`;
const maglev = await createMaglev({ tableSize: 16381 });

for (const count of [1, 100, 1000]) {
  const services = servicesOf(count, 10);
  const syncs: number[] = [];
  const tables: number[] = [];
  const resyncs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    unpinDatapath(root);
    const dp = await openDatapath({ pinRoot: root, encapSource4: "192.0.2.1", fallbackMac: "02:00:00:00:00:01" });
    try {
      // Baseline: the same tables, built by the WebAssembly engine alone.
      tables.push(time(() => services.forEach((s) => maglev.build(s.backends.map((b) => ({ ...b, protocol: "TCP" }))))));
      syncs.push(time(() => dp.sync(services)));
      resyncs.push(time(() => dp.sync(services)));
    } finally {
      dp.close();
      unpinDatapath(root);
    }
  }
  const row = { services: count, syncMs: summarize(syncs).median, tablesOnlyMs: summarize(tables).median, resyncUnchangedMs: summarize(resyncs).median };
  rows.push(row);
  log(`${count} services: sync ${row.syncMs.toFixed(1)} ms`);
}

// One backend change in a datapath holding 1,000 services.
const services = servicesOf(1000, 10);
const changes: number[] = [];
unpinDatapath(root);
const dp = await openDatapath({ pinRoot: root, encapSource4: "192.0.2.1", fallbackMac: "02:00:00:00:00:01" });
try {
  dp.sync(services);
  for (let c = 0; c < 200; c++) {
    const i = (c * 37) % 1000;
    const s = services[i]!;
    // Alternately drop and restore the first backend.
    const next = c % 2 === 0 ? { ...s, backends: s.backends.slice(1) } : s;
    changes.push(time(() => dp.upsertService(next)));
  }
} finally {
  dp.close();
  unpinDatapath(root);
}
const change = summarize(changes);
const p99 = [...changes].sort((a, b) => a - b)[Math.floor(changes.length * 0.99)]!;

const result = {
  sync: rows,
  oneBackendChange: { medianMs: change.median, p99Ms: p99, in: "1000 services, M=16381" },
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
};
if (asJson) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const lines = [
    "## Load balancer map sync (M = 16381, 10 backends per service, medians of 5)",
    "",
    "| services | full sync ms | tables alone (WASM) ms | sync ÷ tables | re-sync, nothing changed ms |",
    "|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.services} | ${r.syncMs.toFixed(2)} | ${r.tablesOnlyMs.toFixed(2)} | ${(r.syncMs / r.tablesOnlyMs).toFixed(1)}× | ${r.resyncUnchangedMs.toFixed(2)} |`),
    "",
    `One backend change among 1,000 services, Maglev rebuild included: median **${change.median.toFixed(3)} ms**, p99 ${p99.toFixed(3)} ms (200 changes; goal < 2 ms).`,
    "",
    `Machine: ${result.machine.cpus} × ${result.machine.model}, node ${result.machine.node}, load ${result.machine.loadavg.map((x) => x.toFixed(2)).join(" ")}.`,
  ];
  console.log(lines.join("\n"));
}
