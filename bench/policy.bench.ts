/**
 * Policy resolver benchmark: a synthetic cluster of 10,000 identities, 1,000
 * endpoints and 1,000 rules (allow, deny, L4 and CIDR mixed), built with a
 * seeded generator so every run resolves the same policy.
 *
 * Why: policy computation must scale to real clusters and one change must
 * cost well under a millisecond. Measured: the full computation, then the
 * latency of single changes (one rule upserted, one identity added, one
 * pod's labels changed) with the size of each change's delta, and memory.
 * Goals: full computation under 2 s, one change's delta under 1 ms median.
 *
 *   npm run bench:policy            Markdown on stdout, progress on stderr
 *   npm run bench:policy -- --json  the same as JSON
 *
 * The baseline in the same run is the full recomputation itself: a change is
 * reported as a fraction of it, so the ratio says what incrementality buys.
 */
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { PolicyDelta, SubjectDelta } from "../src/index.js";
import { EngineCore } from "../src/policy/engine.js";
import { summarize } from "./lib/stats.js";
import { seededRandom } from "../test/support/seeded-random.js";

const args = new Set(process.argv.slice(2));
const asJson = args.has("--json");
const log = (m: string): void => void process.stderr.write(`${m}\n`);

const IDENTITIES = 10_000;
const ENDPOINTS = 1_000;
const RULES = 1_000;
const APPS = 200;
const TEAMS = 20;
const NAMESPACES = 50;
const CHANGES = 200;


function labelsOf(k: number): string[] {
  return [
    `k8s:app=app-${k % APPS}`,
    `k8s:team=team-${k % TEAMS}`,
    `k8s:tier=${["web", "api", "db"][k % 3]}`,
    `k8s:unit=u${k}`,
    `k8s:io.kubernetes.pod.namespace=ns-${k % NAMESPACES}`,
  ];
}

/** One raw Cilium rule; the mix: 40% L3+L4 allow, 20% L3 allow, 20% deny, 20% CIDR egress. */
function ruleOf(i: number, rand: () => number): Record<string, unknown> {
  const subject = { matchLabels: { app: `app-${i % APPS}` } };
  const peerApp = { matchLabels: { app: `app-${Math.floor(rand() * APPS)}` } };
  const port = String(1000 + Math.floor(rand() * 200));
  const kind = rand();
  if (kind < 0.4) return { endpointSelector: subject, ingress: [{ fromEndpoints: [peerApp], toPorts: [{ ports: [{ port, protocol: "TCP" }] }] }] };
  if (kind < 0.6) return { endpointSelector: subject, ingress: [{ fromEndpoints: [{ matchLabels: { tier: "web", team: `team-${i % TEAMS}` } }] }] };
  if (kind < 0.8) return { endpointSelector: subject, ingressDeny: [{ fromEndpoints: [peerApp], toPorts: [{ ports: [{ port, protocol: "ANY" }] }] }] };
  const net = Math.floor(rand() * 250);
  return {
    endpointSelector: subject,
    egress: [{ toCIDRSet: [{ cidr: `10.${net}.0.0/16`, except: [`10.${net}.${Math.floor(rand() * 250)}.0/24`] }], toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] }],
  };
}

const time = <T>(fn: () => T): [T, number] => {
  const start = performance.now();
  const out = fn();
  return [out, performance.now() - start];
};

const entryCount = (ds: readonly SubjectDelta[]): number => ds.reduce((n, e) => n + e.added.length + e.removed.length, 0);
const deltaSize = (d: PolicyDelta): number => entryCount(d.endpoints) + d.ipcache.added.length + d.ipcache.removed.length;

async function main(): Promise<void> {
  const rand = seededRandom(0x5eed);
  const engine = await EngineCore.create({ endpoints: "explicit" });
  log(`allocating ${IDENTITIES} identities...`);
  const ids: number[] = [];
  for (let k = 0; k < IDENTITIES; k++) ids.push(engine.identities.allocate(labelsOf(k)));
  for (let k = 0; k < ENDPOINTS; k++) engine.addEndpoint(ids[k]!);

  log(`computing ${RULES} rules over ${ENDPOINTS} endpoints...`);
  const rules = Array.from({ length: RULES }, (_, i) => ruleOf(i, rand));
  // The full computation: every rule, in one transaction, against every identity.
  const [full, fullMs] = time(() => engine.upsertRules("bulk", rules));
  const entries = ids.slice(0, ENDPOINTS).reduce((n, id) => n + engine.policyMap(id).length, 0);
  log(`full: ${fullMs.toFixed(0)} ms, ${entries} map entries`);

  // The same rules as 1,000 separate policies replace the bulk one, one by one.
  engine.deletePolicy("bulk");
  const perPolicy: number[] = [];
  rules.forEach((r, i) => perPolicy.push(time(() => engine.upsertRules(`r${i}`, [r]))[1]));

  log(`timing ${CHANGES} single changes of each kind...`);
  const upsert: number[] = [];
  const upsertSize: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    const i = Math.floor(rand() * RULES);
    const [d, ms] = time(() => engine.upsertRules(`r${i}`, [ruleOf(i + RULES * (c + 1), rand)]));
    upsert.push(ms);
    upsertSize.push(deltaSize(d));
  }
  const added: number[] = [];
  const addedSize: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    const k = IDENTITIES + c;
    const [d, ms] = time(() => engine.allocateIdentity(labelsOf(k)).delta);
    added.push(ms);
    addedSize.push(entryCount(d));
  }
  const relabel: number[] = [];
  const relabelSize: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    // A pod's labels change: its endpoint moves to the identity of its new labels.
    const k = c;
    const next = [...labelsOf(k).filter((l) => !l.startsWith("k8s:app=")), `k8s:app=app-${(k + 7) % APPS}`];
    const [size, ms] = time(() => {
      const { id, delta } = engine.allocateIdentity(next);
      const moved = entryCount(delta) + deltaSize(engine.addEndpoint(id)) + deltaSize(engine.removeEndpoint(ids[k]!));
      const released = entryCount(engine.releaseIdentity(ids[k]!));
      ids[k] = id;
      return moved + released;
    });
    relabel.push(ms);
    relabelSize.push(size);
  }

  const median = (xs: number[]): number => summarize(xs).median;
  const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;
  const memory = engine.memoryBytes();
  const result = {
    cluster: { identities: IDENTITIES, endpoints: ENDPOINTS, rules: RULES, mapEntries: entries, fullDeltaEndpoints: full.endpoints.length },
    fullComputationMs: fullMs,
    onePolicyAtATimeMs: perPolicy.reduce((a, b) => a + b, 0),
    changes: {
      ruleUpsert: { medianMs: median(upsert), p99Ms: p99(upsert), medianDelta: median(upsertSize) },
      identityAdded: { medianMs: median(added), p99Ms: p99(added), medianDelta: median(addedSize) },
      podRelabel: { medianMs: median(relabel), p99Ms: p99(relabel), medianDelta: median(relabelSize) },
    },
    memory: { resolverWasmMiB: memory / 1048576, rssMiB: process.memoryUsage().rss / 1048576 },
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
  };
  if (asJson) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const f = (x: number): string => x.toFixed(3);
  const lines = [
    `## Policy resolver: ${IDENTITIES} identities, ${ENDPOINTS} endpoints, ${RULES} rules`,
    "",
    `Full computation (all rules in one transaction): **${fullMs.toFixed(0)} ms** for ${entries} map entries (goal < 2000 ms).`,
    `The same rules as ${RULES} separate policies, one at a time: ${result.onePolicyAtATimeMs.toFixed(0)} ms in total.`,
    "",
    "| change | median ms | p99 ms | median delta (entries) | median ÷ full |",
    "|---|---:|---:|---:|---:|",
    `| one rule upserted | ${f(median(upsert))} | ${f(p99(upsert))} | ${median(upsertSize)} | ${(median(upsert) / fullMs).toExponential(1)} |`,
    `| one identity added | ${f(median(added))} | ${f(p99(added))} | ${median(addedSize)} | ${(median(added) / fullMs).toExponential(1)} |`,
    `| one pod relabelled | ${f(median(relabel))} | ${f(p99(relabel))} | ${median(relabelSize)} | ${(median(relabel) / fullMs).toExponential(1)} |`,
    "",
    `Memory: resolver WebAssembly ${result.memory.resolverWasmMiB.toFixed(1)} MiB, process RSS ${result.memory.rssMiB.toFixed(0)} MiB.`,
    `Machine: ${result.machine.cpus} × ${result.machine.model}, node ${result.machine.node}, load ${result.machine.loadavg.map((x) => x.toFixed(2)).join(" ")}.`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
