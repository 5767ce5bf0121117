/**
 * `wasmplane demo`, the README's first command, run as a user runs it
 * (dist/cli.js, built by `npm test` beforehand):
 *
 *   1. live, with `--output json`: real connections reached all three
 *      backends, the deny policy's drop appeared in the agent's flow stream
 *      with reason policy-deny, the held connections to the backends that
 *      stayed survived the removal of another, the Maglev slots that moved
 *      stay within Maglev's bound, and nothing of the run is left (no
 *      namespace, root-namespace link or pin with the demo's prefix, no run
 *      directory, no agent process);
 *   2. live, interrupted with SIGINT while traffic flows: exit 130, and
 *      the same nothing-left checks;
 *   3. without root: one line saying why the live part is skipped, then
 *      the offline demo, exit 0 (as root, the CLI runs in a new user
 *      namespace, where it has no capability in the machine's namespaces).
 *
 * 1 and 2 need root, eBPF, iproute2 with libbpf, nsenter and clang with
 * the libbpf headers: skipped with the reason without them, a failure with
 * CI=true. No assertion depends on timing.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { describe, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";

import { alive } from "../src/demo/process.js";
import type { LiveDemoReport } from "../src/demo/report.js";
import { DEMO_RUN_DIR } from "../src/demo/run.js";
import { DEMO_PREFIX } from "../src/demo/topology.js";
import { requireBpf, requireTools, skipOrFail } from "./support/privileges.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
/** A bound on a whole run, only so a hang fails instead of blocking the suite. */
const RUN_LIMIT_MS = 180_000;

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the CLI; `onStderr` sees stderr as it grows and may return a signal to send. */
function runCli(args: string[], onStderr?: (stderr: string) => NodeJS.Signals | undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let sent = false;
    const limit = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MS);
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
      const signal = sent ? undefined : onStderr?.(stderr);
      if (signal) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function requireLive(t: TestContext): Promise<boolean> {
  if (process.getuid?.() !== 0) return skipOrFail(t, "the live demo needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)");
  if (!(await requireBpf(t))) return false;
  if (!requireTools(t, "ip", "nsenter", "clang")) return false;
  if (!existsSync(CLI)) return skipOrFail(t, "dist/cli.js is missing: run `npm run build` first");
  return true;
}

/** Asserts that nothing with the demo's prefix is left, and that the agent `pid` has exited. */
function assertNothingLeft(agentPid: number | undefined): void {
  const namespaces = (JSON.parse(spawnSync("ip", ["-j", "netns", "list"], { encoding: "utf8" }).stdout || "[]") as { name: string }[])
    .map((n) => n.name).filter((n) => n.startsWith(`${DEMO_PREFIX}-`));
  assert.deepEqual(namespaces, [], "no network namespace of the demo is left");
  const links = (JSON.parse(spawnSync("ip", ["-j", "link", "show"], { encoding: "utf8" }).stdout || "[]") as { ifname: string }[])
    .map((l) => l.ifname).filter((n) => n.startsWith(DEMO_PREFIX));
  assert.deepEqual(links, [], "no link of the demo in the root namespace");
  const pins = existsSync("/sys/fs/bpf") ? readdirSync("/sys/fs/bpf").filter((f) => f.startsWith(DEMO_PREFIX)) : [];
  assert.deepEqual(pins, [], "no pin directory of the demo under /sys/fs/bpf");
  assert.equal(existsSync(DEMO_RUN_DIR), false, `${DEMO_RUN_DIR} (state copy, socket, objects) is removed`);
  if (agentPid !== undefined) assert.equal(alive(agentPid), false, `the agent (pid ${agentPid}) has exited`);
}

function agentPidOf(stderr: string): number | undefined {
  const m = /agent ready \(pid (\d+)\)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

describe("wasmplane demo, live", () => {
  test("--output json: spread over every backend, the deny in the flow stream, held connections kept, nothing left", async (t) => {
    if (!(await requireLive(t))) return;
    const run = await runCli(["demo", "--output", "json"]);
    assert.equal(run.code, 0, `exit code; stderr:\n${run.stderr}`);
    const report = JSON.parse(run.stdout) as LiveDemoReport;
    assert.equal(report.mode, "live");

    // 1. Every backend answered; the table's shares are Maglev's even split.
    const { spread } = report;
    assert.equal(spread.failed, 0, `every connection was answered: ${spread.errors.join("; ")}`);
    assert.deepEqual(spread.backends.map((b) => b.name), ["web-1", "web-2", "web-3"]);
    for (const b of spread.backends) assert.ok(b.connections > 0, `${b.name} got connections`);
    assert.equal(spread.backends.reduce((n, b) => n + b.connections, 0), spread.connections);
    assert.equal(spread.backends.reduce((n, b) => n + b.slots, 0), spread.tableSize, "the table's slots all belong to the three backends");
    for (const b of spread.backends) assert.ok(Math.abs(b.expectedShare - 1 / 3) < 0.01, `${b.name}'s table share ${b.expectedShare}`);

    // 2. The world is let in; tools/debug is dropped by the deny, as the agent reports it.
    const [world, denied] = report.policy.flows;
    assert.equal(world?.answer, "frontend", `the world reaches shop/frontend (${world?.error})`);
    assert.equal(world?.observed?.verdict, "FORWARDED");
    assert.equal(denied?.answer, undefined, "tools/debug gets no answer");
    assert.ok(denied?.observed, "the drop appears in the agent's flow stream");
    assert.equal(denied.observed.verdict, "DROPPED");
    assert.equal(denied.observed.reason, "policy-deny");
    assert.equal(`${denied.observed.source.namespace}/${denied.observed.source.pod}`, "tools/debug");
    assert.equal(`${denied.observed.destination.namespace}/${denied.observed.destination.pod}`, "shop/frontend");

    // 3. The removal: the removed backend's slots move and few others (Maglev's bound);
    //    held connections to the others are kept; new connections avoid the removed one.
    const { removal } = report;
    assert.ok(removal.changedSlots >= removal.removedSlots, "the removed backend's slots all moved");
    assert.equal(removal.changedSlots - removal.removedSlots, removal.changedFromRemaining);
    assert.ok(removal.changedFromRemainingFraction < 0.01, `slots moved between backends that stayed: ${removal.changedFromRemainingFraction}`);
    assert.ok(removal.changedFraction <= removal.minimumFraction + 0.01);
    assert.ok(removal.held.toRemaining > 0, "connections to the remaining backends were held");
    assert.equal(removal.held.kept, removal.held.toRemaining, `held connections lost: ${removal.held.lost.join("; ")}`);
    assert.equal(removal.newConnections[removal.backend.name], 0, "no new connection reaches the removed backend");
    assert.equal(removal.newFailed, 0);

    assert.deepEqual(report.cleanup, { ok: true, left: [] });
    assertNothingLeft(report.agent.pid);
  });

  test("SIGINT while traffic flows: exit 130 and nothing left", async (t) => {
    if (!(await requireLive(t))) return;
    const run = await runCli(["demo"], (stderr) => (/opening \d+ connections/.test(stderr) ? "SIGINT" : undefined));
    assert.equal(run.code, 130, `exit code; stderr:\n${run.stderr}`);
    assert.match(run.stderr, /SIGINT: stopping and cleaning up/);
    assert.match(run.stderr, /interrupted; everything the demo created was removed/);
    const pid = agentPidOf(run.stderr);
    assert.ok(pid !== undefined, "the agent was running when the signal came");
    assertNothingLeft(pid);
  });
});

describe("wasmplane demo without root", () => {
  test("says why the live part is skipped, then shows the offline demo", (t) => {
    if (process.platform !== "linux") {
      t.skip("runs the CLI as another user: Linux only");
      return;
    }
    // As root, in a new user namespace: no capability in the machine's namespaces
    // and uid 65534 (unmapped), while files stay readable wherever the checkout is.
    // That is the README's quick start on a machine without privileges.
    const unprivileged = (args: string[]) => (process.getuid?.() === 0
      ? spawnSync("unshare", ["--user", process.execPath, CLI, ...args], { encoding: "utf8", cwd: "/" })
      : spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: "/" }));
    if (process.getuid?.() === 0 && !requireTools(t, "unshare")) return;
    const text = unprivileged(["demo"]);
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `one line on stderr:\n${text.stderr}`);
    assert.match(lines[0]!, /^wasmplane demo: the live demo needs root \(CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN\): showing the offline demo$/);
    assert.match(text.stdout, /1\. Spread/);
    assert.match(text.stdout, /4\. Policy/);

    const json = unprivileged(["demo", "--output", "json"]);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).mode, "offline");
  });
});
