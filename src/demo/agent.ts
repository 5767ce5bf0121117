/**
 * The node agent as the demo runs it: a real `wasmplane agent` process in
 * the node's network namespace, with the demo's state copy, pin root and
 * socket, spoken to through its local API (src/agent/client.ts).
 *
 * `nsenter --net` switches the network namespace only: the agent attaches
 * its programs to the node's interfaces while its pins stay in the root
 * mount namespace's bpffs (`ip netns exec` would mount a fresh /sys, where
 * the pins are not visible).
 *
 * @module
 */
import { connectAgent, type AgentClient } from "../agent/client.js";
import type { AgentStatus } from "../agent/api.js";
import { WasmplaneError } from "../errors.js";
import type { FlowFilter, ObservedFlow } from "../observe/types.js";
import { Child } from "./process.js";

/** How the demo starts the agent. */
export interface AgentLaunch {
  /** The `wasmplane` entry script (dist/cli.js). */
  readonly cli: string;
  readonly netns: string;
  readonly state: string;
  readonly iface: string;
  /** `ns/pod` → host-side interface. */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly pinRoot: string;
  readonly socket: string;
  readonly encapSource4: string;
}

/** A running agent. */
export interface DemoAgent {
  readonly child: Child;
  readonly api: AgentClient;
}

const POLL_MS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts the agent; `ready()` waits until it serves. */
export function launchAgent(l: AgentLaunch): DemoAgent {
  const endpoints = Object.entries(l.endpoints).map(([pod, iface]) => `${pod}=${iface}`).join(",");
  const child = new Child("wasmplane agent", "nsenter", [
    `--net=/run/netns/${l.netns}`, process.execPath, ...process.execArgv, l.cli, "agent",
    "--state", l.state, "--interface", l.iface, "--endpoints", endpoints,
    "--pin-root", l.pinRoot, "--socket", l.socket, "--encap-source4", l.encapSource4,
    "--cleanup", "--log-format", "text",
  ]);
  return { child, api: connectAgent(l.socket) };
}

/**
 * Polls `GET /v1/status` until `done(status)` holds, within `timeoutMs`.
 * @throws WasmplaneError (AGENT_UNAVAILABLE) when the agent exits or the time runs out
 */
export async function waitForStatus(agent: DemoAgent, what: string, timeoutMs: number, done: (s: AgentStatus) => boolean): Promise<AgentStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    if (!agent.child.running) throw new WasmplaneError("AGENT_UNAVAILABLE", `${what}: ${agent.child.describe()}`);
    try {
      const status = await agent.api.status();
      if (done(status)) return status;
      last = `last status: ${JSON.stringify({ health: status.health, endpoints: status.endpoints, xdp: status.xdp, lastApplied: status.lastApplied })}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new WasmplaneError("AGENT_UNAVAILABLE", `${what}: not within ${timeoutMs} ms (${last}); ${agent.child.describe()}`);
    await sleep(POLL_MS);
  }
}

/**
 * The kept flows that pass `filter` and `match`, polled until at least one
 * is there or `timeoutMs` passes (events reach the agent's ring buffer
 * reader a moment after the packet). Returns what there is.
 */
export async function findFlows(agent: DemoAgent, filter: FlowFilter, match: (f: ObservedFlow) => boolean, timeoutMs: number): Promise<ObservedFlow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found: ObservedFlow[] = [];
    await agent.api.flows(filter, { last: 1000 }, (f) => {
      if (match(f)) found.push(f);
    });
    if (found.length > 0 || Date.now() > deadline) return found;
    await sleep(POLL_MS * 2);
  }
}
