/**
 * The live demo from start to end: checks what it needs, removes what an
 * interrupted run left, builds the network, starts the node agent on a copy
 * of examples/demo, sends traffic, and always cleans up, on success, on
 * error and when interrupted (the caller aborts `signal` on SIGINT or
 * SIGTERM; a process exit handler is the last resort).
 *
 * Everything the run creates carries the demo's prefix (`wpdemo`):
 * namespaces `wpdemo-*`, the pin root /sys/fs/bpf/wpdemo, and the run
 * directory (state copy, compiled XDP programs, the agent's socket and pid),
 * so a run can find and remove what an earlier one left. One demo at a time:
 * the run directory records its owner's pid.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canUseBpf } from "../bpf/privileges.js";
import { WasmplaneError } from "../errors.js";
import { withGlobals } from "../lb/elf-globals.js";
import { launchAgent, waitForStatus, type DemoAgent } from "./agent.js";
import { locateAssets, type DemoAssets } from "./assets.js";
import { destroyNamespaces } from "./netns.js";
import { alive, Child, ensureBpffs, onPath, sh } from "./process.js";
import type { CleanupSection, LiveDemoReport } from "./report.js";
import { copyState, readService } from "./state.js";
import {
  buildTopology, decapGlobals, DEMO_PIN_ROOT, DEMO_PREFIX, demoLeftovers, demoNamespaces, removePins, TOPOLOGY,
} from "./topology.js";
import { checkPolicy, measureSpread, removeBackend, SPREAD_CONNECTIONS, startTraffic } from "./traffic.js";

/** The run directory: state copy, XDP objects, the agent's socket, pid files. */
export const DEMO_RUN_DIR = existsSync("/run") ? `/run/${DEMO_PREFIX}` : join(tmpdir(), DEMO_PREFIX);

/** Options of {@link runLiveDemo}. */
export interface LiveDemoOptions {
  /** The `wasmplane` entry script the agent is started with (dist/cli.js). */
  readonly cli: string;
  /** One progress line (no newline), for stderr. */
  readonly progress: (line: string) => void;
  /** Aborted on SIGINT or SIGTERM: the run stops where it is and cleans up. */
  readonly signal?: AbortSignal;
}

/** The run was interrupted (its signal aborted); everything was cleaned up. */
export class DemoInterruptedError extends WasmplaneError {
  constructor(readonly cleanup: CleanupSection) {
    super("AGENT_ERROR", `interrupted; ${cleanup.ok ? "everything the demo created was removed" : `left behind: ${cleanup.left.join(", ")}`}`);
  }
}

/**
 * Why the live demo cannot run here, or undefined when it can: not Linux,
 * not root, eBPF refused, a missing tool, no source checkout, or no agent
 * command in this build (`hasAgent`).
 */
export async function liveDemoUnavailable(hasAgent: boolean): Promise<string | undefined> {
  if (process.platform !== "linux") return "the live demo needs Linux (network namespaces, XDP, tc)";
  if (process.getuid?.() !== 0) return "the live demo needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)";
  const bpf = await canUseBpf();
  if (!bpf.ok) return `the live demo needs eBPF: ${bpf.reason}`;
  const missing = ["ip", "nsenter"].filter((tool) => !onPath(tool));
  if (missing.length > 0) return `the live demo needs ${missing.join(", ")} (Debian: apt-get install -y iproute2 util-linux)`;
  const ip = spawnSync("ip", ["-V"], { encoding: "utf8" });
  if (!/libbpf/.test(`${ip.stdout}${ip.stderr}`)) return "the live demo needs iproute2 built with libbpf (`ip -V` names it) to attach the backends' XDP programs";
  const assets = locateAssets();
  if ("missing" in assets) return `the live demo needs ${assets.missing}`;
  // From a checkout the BPF objects are compiled from its sources; an installed package ships them.
  if (assets.compiles && !onPath("clang")) return "the live demo compiles this checkout's BPF programs and needs clang (Debian: apt-get install -y clang llvm libbpf-dev)";
  if (assets.compiles && !existsSync("/usr/include/bpf/bpf_helpers.h")) return "the live demo compiles this checkout's BPF programs and needs the libbpf headers (Debian: apt-get install -y libbpf-dev)";
  if (!hasAgent) return "the live demo needs the node agent (`wasmplane agent`), which this build lacks";
  return undefined;
}

/** Processes and resources of one run, and how to remove them. */
class Resources {
  readonly children: Child[] = [];
  readonly namespaces = new Set<string>();
  agent: DemoAgent | undefined;
  #done = false;
  readonly #onExit = () => this.emergency();

  constructor() {
    process.on("exit", this.#onExit);
  }

  track = (child: Child) => {
    this.children.push(child);
  };

  /** Stops every process: the helpers exit when their stdin closes; the agent cleans up (detach, unpin) on SIGTERM. */
  async stopProcesses(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop(1500)));
    if (this.agent) await this.agent.child.stop(8000, "SIGTERM");
  }

  /** Stops every process, deletes the namespaces, pins and run directory; says what is left. */
  async cleanup(): Promise<CleanupSection> {
    const left: string[] = [];
    await this.stopProcesses();
    for (const c of [...this.children, ...(this.agent ? [this.agent.child] : [])]) if (c.running) left.push(`process ${c.name} (pid ${c.pid})`);
    left.push(...destroyNamespaces([...this.namespaces, ...safe(() => demoLeftovers().namespaces, [])]).map((ns) => `namespace ${ns}`));
    left.push(...removePins([DEMO_PIN_ROOT, ...safe(() => demoLeftovers().pins, [])]).map((p) => `pin ${p}`));
    try {
      rmSync(DEMO_RUN_DIR, { recursive: true, force: true });
    } catch {
      // reported below
    }
    if (existsSync(DEMO_RUN_DIR)) left.push(`directory ${DEMO_RUN_DIR}`);
    this.#done = true;
    process.off("exit", this.#onExit);
    return { ok: left.length === 0, left };
  }

  /** Synchronous last resort when the process exits without the cleanup having run. */
  emergency(): void {
    if (this.#done) return;
    for (const c of [...this.children, ...(this.agent ? [this.agent.child] : [])]) c.killNow();
    for (const ns of this.namespaces) spawnSync("ip", ["netns", "del", ns], { timeout: 10_000 });
    rmSync(DEMO_PIN_ROOT, { recursive: true, force: true });
    rmSync(DEMO_RUN_DIR, { recursive: true, force: true });
  }
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to run beside another demo, and removes what an interrupted run
 * left: its agent (found by the pid it recorded, and only if that process
 * is still an agent on the demo's socket), namespaces and pins with the
 * demo's prefix, and the run directory. Returns what it removed.
 */
async function removeLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const owner = readPid(join(DEMO_RUN_DIR, "owner.pid"));
  if (owner !== undefined && owner !== process.pid && alive(owner) && / demo( |$)/.test(cmdline(owner))) {
    throw new WasmplaneError("AGENT_ERROR", `another wasmplane demo is running (pid ${owner}); wait for it or stop it first`);
  }
  const agent = readPid(join(DEMO_RUN_DIR, "agent.pid"));
  if (agent !== undefined && alive(agent) && cmdline(agent).includes(join(DEMO_RUN_DIR, "agent.sock"))) {
    // SIGTERM lets it detach and unpin (it runs with --cleanup); what it leaves goes below.
    process.kill(agent, "SIGTERM");
    for (let i = 0; i < 50 && alive(agent); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(agent)) process.kill(agent, "SIGKILL");
    removed.push(`agent pid ${agent}`);
  }
  const { namespaces, pins } = demoLeftovers();
  const stuck = [...destroyNamespaces(namespaces), ...removePins(pins)];
  if (stuck.length > 0) throw new WasmplaneError("AGENT_ERROR", `cannot remove what an earlier demo left: ${stuck.join(", ")}`);
  removed.push(...namespaces.map((ns) => `namespace ${ns}`), ...pins.map((p) => `pin ${p}`));
  if (existsSync(DEMO_RUN_DIR)) {
    rmSync(DEMO_RUN_DIR, { recursive: true, force: true });
    removed.push(`directory ${DEMO_RUN_DIR}`);
  }
  return removed;
}

/**
 * Runs the live demo and returns its report, after cleaning up.
 *
 * Needs what {@link liveDemoUnavailable} checks. Takes a few seconds
 * (longer the first time, when the agent compiles the datapath).
 *
 * @throws DemoInterruptedError when `signal` aborts (after cleaning up)
 * @throws WasmplaneError when a step fails (after cleaning up); the message
 *   names the step and ends with the output of the process that failed
 */
export async function runLiveDemo(options: LiveDemoOptions): Promise<LiveDemoReport> {
  const started = Date.now();
  const { progress, signal } = options;
  const assets = locateAssets();
  if ("missing" in assets) throw new WasmplaneError("KERNEL_FEATURE", `the live demo needs ${assets.missing}`);

  const leftovers = await removeLeftovers();
  if (leftovers.length > 0) progress(`removed what an interrupted run left: ${leftovers.join(", ")}`);
  const res = new Resources();
  mkdirSync(DEMO_RUN_DIR, { recursive: true });
  writeFileSync(join(DEMO_RUN_DIR, "owner.pid"), `${process.pid}\n`);

  // An abort stops the processes at once, which ends whatever step waits on them;
  // the steps check for the abort between them, so the run settles quickly and
  // creates nothing more before the cleanup.
  const onAbort = () => void res.stopProcesses();
  signal?.addEventListener("abort", onAbort, { once: true });
  let outcome: { report: Omit<LiveDemoReport, "cleanup" | "durationMs"> } | { error: unknown };
  try {
    outcome = { report: await steps(options.cli, assets, res, progress, () => signal?.aborted === true) };
  } catch (error) {
    outcome = { error };
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  progress(signal?.aborted ? "interrupted: cleaning up" : "cleaning up");
  const cleanup = await res.cleanup();
  if (!cleanup.ok) progress(`left behind: ${cleanup.left.join(", ")}`);
  if (signal?.aborted) throw new DemoInterruptedError(cleanup);
  if ("error" in outcome) throw outcome.error;
  return { ...outcome.report, cleanup, durationMs: Date.now() - started };
}

async function steps(cli: string, assets: DemoAssets, res: Resources, progress: (line: string) => void, aborted: () => boolean): Promise<Omit<LiveDemoReport, "cleanup" | "durationMs">> {
  const check = () => {
    if (aborted()) throw new Error("interrupted");
  };
  ensureBpffs();

  progress(assets.compiles ? "compiling the backends' XDP programs (bpf/demo)" : "preparing the backends' XDP programs (dist/bpf/demo)");
  const { pass, decap: decapObject } = await assets.objects();
  // One copy of the decapsulation program per backend, its address written into .rodata.
  const objDir = join(DEMO_RUN_DIR, "bpf");
  mkdirSync(objDir, { recursive: true });
  const decapBytes = readFileSync(decapObject);
  const decap = new Map<string, string>();
  for (const b of TOPOLOGY.backends) {
    const object = join(objDir, `xdp_decap-${b.name}.o`);
    writeFileSync(object, withGlobals(decapBytes, decapGlobals(b.ip), ".rodata", decapObject));
    decap.set(b.name, object);
  }
  check();

  progress(`building ${demoNamespaces().length} network namespaces (${DEMO_PREFIX}-*): client, node, 3 backends, 2 pods`);
  buildTopology(TOPOLOGY, {
    pass, decap: (b) => decap.get(b.name)!,
    txChecksumOff: (ns, iface) => sh("nsenter", [`--net=/run/netns/${ns}`, process.execPath, assets.helper("tx-checksum.mjs"), iface]),
  }, (ns) => res.namespaces.add(ns));
  check();

  const stateDir = join(DEMO_RUN_DIR, "state");
  copyState(assets.state, stateDir);
  const socket = join(DEMO_RUN_DIR, "agent.sock");
  progress(`starting the node agent in ${TOPOLOGY.node.ns} on ${stateDir} (a copy of examples/demo)`);
  const agent = launchAgent({
    cli, netns: TOPOLOGY.node.ns, state: stateDir, iface: TOPOLOGY.node.iface,
    endpoints: Object.fromEntries(TOPOLOGY.pods.map((p) => [p.pod, p.hostIface])),
    pinRoot: DEMO_PIN_ROOT, socket, encapSource4: TOPOLOGY.node.ip,
  });
  res.agent = agent;
  writeFileSync(join(DEMO_RUN_DIR, "agent.pid"), `${agent.child.pid}\n`);
  const status = await waitForStatus(agent, "the agent starting", 90_000, (s) =>
    s.xdp !== undefined && TOPOLOGY.pods.every((p) => s.endpoints[p.pod] !== undefined) && s.lastApplied !== undefined);
  progress(`agent ready (pid ${agent.child.pid}): XDP on ${status.xdp!.interface} (${status.xdp!.mode}), tc on ${TOPOLOGY.pods.map((p) => p.hostIface).join(", ")}, ${status.counts.services} services`);
  check();

  const traffic = await startTraffic(assets, res.track);
  check();
  const before = await readService(stateDir);
  progress(`opening ${SPREAD_CONNECTIONS} connections to ${TOPOLOGY.vip}:${TOPOLOGY.vipPort}`);
  const { section: spread, held } = await measureSpread(traffic, before);
  check();
  progress("trying shop/frontend from the world and from tools/debug");
  const policy = await checkPolicy(traffic, agent);
  check();
  progress(`removing ${TOPOLOGY.backends[1]!.name} from the state copy; the agent applies it`);
  const removal = await removeBackend(traffic, agent, stateDir, before, held);
  check();

  return {
    mode: "live",
    topology: {
      namespaces: demoNamespaces(), node: TOPOLOGY.node.ns, vip: `${TOPOLOGY.vip}:${TOPOLOGY.vipPort}`,
      backends: TOPOLOGY.backends.map((b) => ({ name: b.name, ip: b.ip })),
      pods: TOPOLOGY.pods.map((p) => ({ pod: p.pod, ip: p.ip, interface: p.hostIface })),
    },
    agent: { pid: agent.child.pid ?? 0, socket, pinRoot: DEMO_PIN_ROOT, ...(status.xdp ? { xdp: status.xdp } : {}) },
    spread, policy, removal,
  };
}
