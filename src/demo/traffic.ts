/**
 * The live demo's traffic: servers and clients inside the namespaces (Node
 * processes running src/demo/server.mjs and client.mjs), and the three
 * experiments: the spread of connections over the backends, flows the
 * policy decides, and a backend removed while connections are held open.
 *
 * Every connection comes from a fixed source port, so every flow, and with
 * it the backend Maglev picks, is the same on every run.
 *
 * @module
 */
import { round } from "../cli/format.js";
import { compareTables, tableStats } from "../maglev/analysis.js";
import type { ObservedFlow } from "../observe/types.js";
import { findFlows, waitForStatus, type DemoAgent } from "./agent.js";
import type { DemoAssets } from "./assets.js";
import { Child } from "./process.js";
import type { HeldConnections, PolicyFlowResult, PolicySection, RemovalSection, SpreadSection } from "./report.js";
import { readService, removeEndpoint, type ServiceView } from "./state.js";
import { TOPOLOGY, type DemoBackend } from "./topology.js";

/** Connections of the spread, held open across the removal. */
export const SPREAD_CONNECTIONS = 600;
/** New connections after the removal. */
export const NEW_CONNECTIONS = 90;
const SPREAD_FIRST_PORT = 20000;
const NEW_FIRST_PORT = 30000;
/** Per connect and per request: a lost SYN is sent again after 1 s, so this allows a few. */
const CONNECT_TIMEOUT_MS = 3000;
/** For a connection the policy should drop: long enough for a SYN retransmission. */
const DENIED_TIMEOUT_MS = 1500;
/** The backend removed: the second, so its position helps nothing. */
const REMOVED = 1;

/** Answers of client.mjs. */
interface Outcome { localPort: number; backend?: string; error?: string }

/** The processes of the traffic. */
export interface Traffic {
  readonly servers: Child[];
  readonly client: Child;
  readonly podClient: Child;
}

function inNamespace(ns: string, script: string, ...args: string[]): [string, string[]] {
  return ["nsenter", [`--net=/run/netns/${ns}`, process.execPath, script, ...args]];
}

/** Starts the backends' and the frontend pod's servers, and the clients; resolves once every server listens. */
export async function startTraffic(assets: DemoAssets, track: (c: Child) => void): Promise<Traffic> {
  const server = assets.helper("server.mjs");
  const client = assets.helper("client.mjs");
  const servers = [
    ...TOPOLOGY.backends.map((b) => new Child(`server ${b.name}`, ...inNamespace(b.ns, server, b.name, TOPOLOGY.vip, String(TOPOLOGY.vipPort)))),
    new Child("server shop/frontend", ...inNamespace(TOPOLOGY.pods[0]!.ns, server, "frontend", TOPOLOGY.pods[0]!.ip, String(TOPOLOGY.podPort))),
  ];
  servers.forEach(track);
  const traffic: Traffic = {
    servers,
    client: new Child("client", ...inNamespace(TOPOLOGY.client.ns, client)),
    podClient: new Child("client in tools/debug", ...inNamespace(TOPOLOGY.pods[1]!.ns, client)),
  };
  track(traffic.client);
  track(traffic.podClient);
  await Promise.all(servers.map((s) => s.waitForLine((l) => l.startsWith("ready "), 15_000, `${s.name} listening`)));
  return traffic;
}

function ports(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

function callTimeout(count: number): number {
  return Math.ceil(count / 32) * 2 * CONNECT_TIMEOUT_MS + 10_000;
}

function backendOf(view: ServiceView, name: string): { backend: DemoBackend; id: number } {
  const backend = TOPOLOGY.backends.find((b) => b.name === name)!;
  const id = view.service.backends.find((b) => b.address === backend.ip)?.id ?? 0;
  return { backend, id };
}

/** Section 1: connections through the VIP, left open for section 3. */
export async function measureSpread(t: Traffic, view: ServiceView): Promise<{ section: SpreadSection; held: Outcome[] }> {
  const { results } = await t.client.call<{ results: Outcome[] }>({
    op: "open", host: TOPOLOGY.vip, port: TOPOLOGY.vipPort, localPorts: ports(SPREAD_FIRST_PORT, SPREAD_CONNECTIONS), timeoutMs: CONNECT_TIMEOUT_MS,
  }, callTimeout(SPREAD_CONNECTIONS));
  const answered = results.filter((r) => r.backend !== undefined);
  const stats = tableStats(view.table);
  const backends = TOPOLOGY.backends.map((b) => {
    const { id } = backendOf(view, b.name);
    const slots = stats.slotsPerBackend.get(id) ?? 0;
    const connections = answered.filter((r) => r.backend === b.name).length;
    return {
      name: b.name, endpoint: `${b.ip}:${TOPOLOGY.vipPort}`, id, connections,
      share: round(answered.length ? connections / answered.length : 0, 6), slots, expectedShare: round(slots / view.table.length, 6),
    };
  });
  const failed = results.filter((r) => r.backend === undefined);
  return {
    section: {
      service: view.service.name, frontend: `${TOPOLOGY.vip}:${TOPOLOGY.vipPort}/TCP`, tableSize: view.table.length,
      connections: results.length, failed: failed.length, errors: [...new Set(failed.map((f) => f.error ?? "?"))].slice(0, 3), backends,
    },
    held: answered,
  };
}

/** Section 2: the world and tools/debug try shop/frontend; the agent's flow stream says what the datapath did. */
export async function checkPolicy(t: Traffic, agent: DemoAgent): Promise<PolicySection> {
  const [frontend, debug] = TOPOLOGY.pods as [typeof TOPOLOGY.pods[0], typeof TOPOLOGY.pods[0]];
  const target = { host: frontend.ip, port: TOPOLOGY.podPort };
  const to = `${frontend.pod}:${TOPOLOGY.podPort}`;

  const fromWorld = await t.client.call<{ backend?: string; error?: string }>({ op: "once", ...target, timeoutMs: CONNECT_TIMEOUT_MS }, CONNECT_TIMEOUT_MS + 5000);
  const fromDebug = await t.podClient.call<{ backend?: string; error?: string }>({ op: "once", ...target, timeoutMs: DENIED_TIMEOUT_MS }, DENIED_TIMEOUT_MS + 5000);

  const toFrontend = (f: ObservedFlow) => f.destination.ip === frontend.ip && f.destination.port === TOPOLOGY.podPort && f.direction === "ingress" && !f.reply;
  const [world] = await findFlows(agent, { pod: frontend.pod, verdict: "FORWARDED" }, (f) => toFrontend(f) && f.source.ip === TOPOLOGY.client.ip, 3000);
  const [denied] = await findFlows(agent, { pod: frontend.pod, verdict: "DROPPED" }, (f) => toFrontend(f) && f.source.ip === debug.ip, 3000);

  const flows: PolicyFlowResult[] = [
    {
      from: `world (client ${TOPOLOGY.client.ip})`, to, expected: "FORWARDED",
      why: "cnp shop/frontend-open lets every entity, the world included, reach port 8080",
      ...(fromWorld.backend !== undefined ? { answer: fromWorld.backend } : { error: fromWorld.error ?? "?" }),
      ...(world ? { observed: world } : {}),
    },
    {
      from: debug.pod, to, expected: "DROPPED",
      why: "ccnp quarantine-tools denies the tools namespace everywhere: a deny beats every allow",
      ...(fromDebug.backend !== undefined ? { answer: fromDebug.backend } : { error: fromDebug.error ?? "?" }),
      ...(denied ? { observed: denied } : {}),
    },
  ];
  return { flows };
}

/**
 * Section 3: removes a backend from the state copy, waits for the agent to
 * apply it, then asks every held connection again and opens new ones.
 */
export async function removeBackend(t: Traffic, agent: DemoAgent, stateDir: string, before: ServiceView, held: Outcome[]): Promise<RemovalSection> {
  const removed = TOPOLOGY.backends[REMOVED]!;
  const generation = (await agent.api.status()).lastApplied?.generation ?? 0;
  removeEndpoint(stateDir, removed.ip);
  const status = await waitForStatus(agent, "the agent applying the removal", 20_000, (s) => (s.lastApplied?.generation ?? 0) > generation);
  const after = await readService(stateDir, before.backendIds);
  const diff = compareTables(before.table, after.table);
  const removedId = backendOf(before, removed.name).id;
  const removedSlots = tableStats(before.table).slotsPerBackend.get(removedId) ?? 0;

  const { results } = await t.client.call<{ results: Outcome[] }>({
    op: "request", localPorts: held.map((h) => h.localPort), timeoutMs: CONNECT_TIMEOUT_MS,
  }, callTimeout(held.length));
  const was = new Map(held.map((h) => [h.localPort, h.backend!]));
  const toRemaining = results.filter((r) => was.get(r.localPort) !== removed.name);
  const kept = toRemaining.filter((r) => r.backend === was.get(r.localPort));
  const lost = toRemaining.filter((r) => r.backend !== was.get(r.localPort))
    .map((r) => `port ${r.localPort} (was ${was.get(r.localPort)}): ${r.backend !== undefined ? `answered by ${r.backend}` : r.error}`);
  const removedOutcomes: Record<string, number> = {};
  for (const r of results.filter((x) => was.get(x.localPort) === removed.name)) {
    const key = r.backend !== undefined ? `answered by ${r.backend}` : (r.error ?? "?");
    removedOutcomes[key] = (removedOutcomes[key] ?? 0) + 1;
  }
  const heldSection: HeldConnections = {
    toRemaining: toRemaining.length, kept: kept.length, lost: lost.slice(0, 5),
    toRemoved: results.length - toRemaining.length, removedOutcomes,
  };

  const fresh = await t.client.call<{ results: Outcome[] }>({
    op: "open", host: TOPOLOGY.vip, port: TOPOLOGY.vipPort, localPorts: ports(NEW_FIRST_PORT, NEW_CONNECTIONS), timeoutMs: CONNECT_TIMEOUT_MS,
  }, callTimeout(NEW_CONNECTIONS));
  const newConnections: Record<string, number> = Object.fromEntries(TOPOLOGY.backends.map((b) => [b.name, 0]));
  for (const r of fresh.results) if (r.backend !== undefined) newConnections[r.backend] = (newConnections[r.backend] ?? 0) + 1;
  await t.client.call({ op: "close" }, 10_000);

  return {
    backend: { name: removed.name, endpoint: `${removed.ip}:${TOPOLOGY.vipPort}`, id: removedId },
    generation: status.lastApplied!.generation, applyMs: status.lastApplied!.durationMs,
    removedSlots, changedSlots: diff.changedSlots, changedFraction: round(diff.changedFraction, 6),
    minimumFraction: round(removedSlots / before.table.length, 6),
    changedFromRemaining: diff.changedFromRemaining, changedFromRemainingFraction: round(diff.changedFromRemainingFraction, 6),
    held: heldSection, newConnections, newFailed: fresh.results.filter((r) => r.backend === undefined).length,
  };
}
