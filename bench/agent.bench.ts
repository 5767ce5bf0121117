/**
 * Time from a state change on disk to the datapath enforcing it, through a
 * real `wasmplane agent` process, in a state of 1,000 services and 1,000
 * pods (bench/agent/state.ts). Goal: under 50 ms at the median.
 *
 *   npm run bench:agent                 Markdown on stdout, progress on stderr
 *   ... --json                          the same results as JSON
 *   ... --reps N                        changes per kind (default 20, each measured
 *                                       both ways: applied and reverted)
 *
 * Needs root (BPF, network namespaces). The agent runs in a network
 * namespace of its own (`nsenter --net`, so it sees the same bpffs), watching
 * a generated state folder, with the tc programs on that namespace's `lo`
 * as the endpoint of pod ns-0/pod-0000. The bench loads its own copy of
 * tc_endpoint.o on the agent's pinned maps and asks the kernel, with
 * BPF_PROG_TEST_RUN, what the datapath does now; the clock runs from just
 * before the file is written until the first answer that shows the change:
 *
 *   backend change   rewrite one EndpointSlice (3 → 2 endpoints and back);
 *                    done when wp_services says the new backend count
 *                    (the table flip is in the same value update)
 *   policy change    add / remove a CiliumNetworkPolicy that denies app-10 →
 *                    app-0; done when a packet pod-0010 → pod-0000:8080 gets
 *                    the new verdict from wasmplane_to_endpoint
 *   pod relabel      add / remove quarantine=true on pod-0010, which a
 *                    clusterwide deny names; same packet, same check
 *
 * What the time includes: the file write, the agent's watch and debounce
 * (5 ms), reading the changed file, validating and translating what it
 * changed, the policy resolver, the map writes, and the bench's polling
 * (about 20 µs per poll). The agent's own `applied` log lines give the
 * part spent inside the agent, by phase (read, desired, policy, write).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { buildBpf } from "../scripts/build-bpf.mjs";
import { canUseBpf, loadObject, testRun, type BpfObject } from "../src/bpf/index.js";
import { connectAgent } from "../src/agent/client.js";
import { serviceKey, serviceValue, WP_FAMILY } from "../src/lb/layouts.js";
import { ip16 } from "../test/fixtures/bpf/packets.js";
import { frame, skbContext, TC_ACT } from "../test/support/endpoint-packets.js";
import { benchDenyObject, podIp, podObject, podName, podsOfService, serviceIp, sliceObject, writeState } from "./agent/state.js";
import { summarize } from "./lib/stats.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const argv = process.argv.slice(2);
const asJson = argv.includes("--json");
const repsArg = argv.indexOf("--reps");
const REPS = repsArg >= 0 ? Math.max(1, Number(argv[repsArg + 1]) || 1) : 20;
const PODS = 1000;
const SERVICES = 1000;
const GOAL_MS = 50;
const TIMEOUT_MS = 10_000;
const SUBJECT = 0; // pod-0000, ns-0, app-0: the endpoint on lo
const PEER = 10; // pod-0010, ns-0, app-10
const SERVICE = 500; // the service whose backends change

const log = (message: string): void => void process.stderr.write(`${message}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const yamlOf = (o: object) => stringify(o);

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}${r.stdout}`);
}

interface Kind {
  name: string;
  /** Makes the change (forward: apply, else revert) and returns the predicate that says the datapath shows it. */
  change(forward: boolean): () => boolean;
}

async function main(): Promise<void> {
  const bpf = await canUseBpf();
  if (!bpf.ok) throw new Error(`needs eBPF (root): ${bpf.reason}`);
  const tag = `wp-agent-bench-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), `${tag}-`));
  const state = join(work, "state");
  const pinRoot = `/sys/fs/bpf/${tag}`;
  const socket = join(work, "agent.sock");
  let agent: ChildProcess | undefined;
  let object: BpfObject | undefined;
  let netnsMade = false;
  try {
    log(`writing a state of ${SERVICES} services and ${PODS} pods...`);
    writeState(state, { pods: PODS, services: SERVICES });
    sh("ip", ["netns", "add", tag]);
    netnsMade = true;
    sh("ip", ["-n", tag, "link", "set", "lo", "up"]);

    log("starting the agent...");
    const started = performance.now();
    agent = spawn("nsenter", [`--net=/run/netns/${tag}`, process.execPath, join(root, "dist/cli.js"), "agent",
      "--state", state, "--pin-root", pinRoot, "--socket", socket, "--endpoints", `ns-0/${podName(SUBJECT)}=lo`], { stdio: ["ignore", "ignore", "pipe"] });
    let agentLog = "";
    // The agent's `applied` lines say where each change's time went (phasesMs: read, desired, policy, write).
    const applied: Array<{ durationMs: number; phasesMs?: Record<string, number> }> = [];
    let partial = "";
    agent.stderr!.on("data", (d: Buffer) => {
      agentLog = (agentLog + d.toString()).slice(-20_000);
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; trigger?: string; durationMs: number; phasesMs?: Record<string, number> };
          if (entry.msg === "applied" && entry.trigger === "watch") applied.push(entry);
        } catch {
          // not a JSON line
        }
      }
    });
    const exited = new Promise<number | null>((resolve) => agent!.on("exit", (code) => resolve(code)));
    const client = connectAgent(socket);
    for (;;) {
      const code = await Promise.race([exited, sleep(100).then(() => "waiting" as const)]);
      if (code !== "waiting") throw new Error(`the agent exited (${code}):\n${agentLog}`);
      if (!existsSync(socket)) continue;
      const status = await client.status().catch(() => undefined);
      if (status?.lastApplied) break;
      if (performance.now() - started > 120_000) throw new Error(`the agent did not apply the state within 120 s:\n${agentLog}`);
    }
    const firstApply = performance.now() - started;
    log(`agent ready: first full apply after ${firstApply.toFixed(0)} ms (process start included)`);

    const [objectPath] = buildBpf({ outDir: join(work, "bpf"), sources: [join(root, "bpf", "tc_endpoint.c")] });
    object = await loadObject(objectPath!, { pinRoot });
    const toEndpoint = object.program("wasmplane_to_endpoint");
    const services = object.map("wp_services");
    let sport = 20000;
    const verdict = (): number => {
      sport = sport >= 60000 ? 20000 : sport + 1; // a new connection each time: no conntrack shortcut
      return testRun(toEndpoint, { data: frame({ src: podIp(PEER), dst: podIp(SUBJECT), protocol: "TCP", sport, dport: 8080 }), ctxIn: skbContext(1) }).retval;
    };
    const key = serviceKey.encode({ vip: ip16(serviceIp(SERVICE)), port: 80, protocol: 6, family: WP_FAMILY.IPV4 });
    const backendCount = (): number | undefined => {
      const v = services.lookup(key);
      return v ? serviceValue.decode(v).backendCount : undefined;
    };
    if (verdict() !== TC_ACT.OK) throw new Error("pod-0010 → pod-0000:8080 should be allowed before any change");
    if (backendCount() !== 3) throw new Error(`svc-${SERVICE} should have 3 backends, wp_services says ${backendCount()}`);

    const kinds: Kind[] = [
      {
        name: "backend change (one EndpointSlice: 3 → 2 endpoints and back)",
        change(forward) {
          const pods = podsOfService(SERVICE, PODS);
          writeFileSync(join(state, "slices", `svc-${SERVICE}.yaml`), yamlOf(sliceObject(SERVICE, forward ? pods.slice(0, 2) : pods)));
          const want = forward ? 2 : 3;
          return () => backendCount() === want;
        },
      },
      {
        name: "policy change (a CiliumNetworkPolicy deny added and removed)",
        change(forward) {
          const file = join(state, "policies", "bench-deny.yaml");
          if (forward) writeFileSync(file, yamlOf(benchDenyObject()));
          else unlinkSync(file);
          const want = forward ? TC_ACT.SHOT : TC_ACT.OK;
          return () => verdict() === want;
        },
      },
      {
        name: "pod relabel (quarantine=true added and removed on the peer)",
        change(forward) {
          writeFileSync(join(state, "pods", `${podName(PEER)}.yaml`), yamlOf(podObject(PEER, forward ? { quarantine: "true" } : {})));
          const want = forward ? TC_ACT.SHOT : TC_ACT.OK;
          return () => verdict() === want;
        },
      },
    ];

    const results = [];
    for (const kind of kinds) {
      const samples: number[] = [];
      const firstApplied = applied.length;
      for (let rep = 0; rep < REPS; rep++) {
        for (const forward of [true, false]) {
          await sleep(50); // let the previous change settle (debounce windows do not overlap)
          const t0 = performance.now();
          const done = kind.change(forward);
          for (;;) {
            if (done()) break;
            if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`${kind.name}: not enforced within ${TIMEOUT_MS} ms\n${agentLog.slice(-4000)}`);
            await new Promise((r) => setImmediate(r));
          }
          samples.push(performance.now() - t0);
        }
      }
      const s = summarize(samples);
      const sorted = [...samples].sort((a, b) => a - b);
      const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
      await sleep(50); // the last change's log line
      const inAgent = applied.slice(firstApplied);
      const phaseMedians: Record<string, number> = { agent: summarize(inAgent.map((a) => a.durationMs)).median };
      for (const phase of Object.keys(inAgent[0]?.phasesMs ?? {})) phaseMedians[phase] = summarize(inAgent.map((a) => a.phasesMs?.[phase] ?? 0)).median;
      results.push({ kind: kind.name, samples: samples.length, medianMs: s.median, p99Ms: p99, minMs: s.min, maxMs: s.max, goalMet: s.median < GOAL_MS, agentMs: phaseMedians, applies: inAgent.length });
      log(`${kind.name}: median ${s.median.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; in the agent (median ms, ${inAgent.length} applies): ${Object.entries(phaseMedians).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
    }
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, kernel: release(), node: process.version };
    if (asJson) {
      process.stdout.write(`${JSON.stringify({ services: SERVICES, pods: PODS, goalMs: GOAL_MS, firstApplyMs: firstApply, results, machine }, null, 2)}\n`);
      return;
    }
    const lines = [
      `State: ${SERVICES} services (ClusterIP, 3 endpoints each), ${PODS} pods in 10 namespaces, ${100 + 1} policies. ${REPS} changes of each kind, each applied and reverted (${2 * REPS} samples).`,
      "",
      "| change | median ms | p99 ms | min ms | max ms | goal < 50 ms (median) |",
      "|---|---:|---:|---:|---:|:---:|",
      ...results.map((r) => `| ${r.kind} | ${r.medianMs.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.minMs.toFixed(1)} | ${r.maxMs.toFixed(1)} | ${r.goalMet ? "yes" : "no"} |`),
      "",
      "Inside the agent (median ms of its `applied` lines: the whole change, then reading the changed files, computing the desired state, the cluster view's deltas, the map writes):",
      "",
      "| change | applies | agent | read | desired | policy | write |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...results.map((r) => `| ${r.kind} | ${r.applies} | ${["agent", "read", "desired", "policy", "write"].map((k) => r.agentMs[k]?.toFixed(1) ?? "-").join(" | ")} |`),
      "",
      `First full apply of the state (agent process start, load, attach, every map): ${firstApply.toFixed(0)} ms.`,
      `Machine: ${machine.cpus} × ${machine.cpu}, Linux ${machine.kernel}, node ${machine.node}.`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    object?.close();
    if (agent && agent.exitCode === null) {
      agent.kill("SIGTERM");
      await new Promise((r) => { agent!.once("exit", r); setTimeout(r, 5000); });
    }
    if (netnsMade) spawnSync("ip", ["netns", "del", tag]);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  log(`BENCH FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
