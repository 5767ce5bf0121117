/**
 * What the live demo found, as data (the `--output json` document) and as
 * text: the spread of real connections next to the Maglev table's shares,
 * the flows the policy decided as the agent's flow stream shows them, and
 * what a backend's removal moved and kept.
 *
 * @module
 */
import type { ObservedFlow } from "../observe/types.js";
import { bar, columns, percent } from "../cli/format.js";

/** One backend in the spread. */
export interface SpreadBackend {
  readonly name: string;
  /** `10.244.2.11:80`. */
  readonly endpoint: string;
  /** Backend ID in the datapath. */
  readonly id: number;
  /** Connections it answered. */
  readonly connections: number;
  /** `connections / total answered`. */
  readonly share: number;
  /** Slots of the Maglev table it owns. */
  readonly slots: number;
  /** `slots / tableSize`: the share of new flows the table gives it. */
  readonly expectedShare: number;
}

/** Section 1. */
export interface SpreadSection {
  /** The service's frontend name as the agent knows it. */
  readonly service: string;
  /** `203.0.113.10:80/TCP`. */
  readonly frontend: string;
  readonly tableSize: number;
  /** Connections opened, each from its own source port. */
  readonly connections: number;
  /** Those that got no answer, with the first few errors. */
  readonly failed: number;
  readonly errors: readonly string[];
  readonly backends: readonly SpreadBackend[];
}

/** One flow of section 2. */
export interface PolicyFlowResult {
  /** Who sent it: `world (client 10.100.0.2)`, `tools/debug`. */
  readonly from: string;
  /** `shop/frontend:8080`. */
  readonly to: string;
  /** What the state says should happen, and why. */
  readonly expected: "FORWARDED" | "DROPPED";
  readonly why: string;
  /** What the sender saw: the server's answer, or the error. */
  readonly answer?: string;
  readonly error?: string;
  /** The agent's flow event for it (`GET /v1/flows`), when one arrived. */
  readonly observed?: ObservedFlow;
}

/** Section 2. */
export interface PolicySection {
  readonly flows: readonly PolicyFlowResult[];
}

/** Held connections across the change, by what they were connected to. */
export interface HeldConnections {
  /** Connections to backends that stay. */
  readonly toRemaining: number;
  /** Of those, still answered by the same backend after the change. */
  readonly kept: number;
  /** The first few that were not, with why. */
  readonly lost: readonly string[];
  /** Connections to the removed backend. */
  readonly toRemoved: number;
  /** What happened to those: outcome → count (`answered by web-2`, `ECONNRESET`, ...). */
  readonly removedOutcomes: Readonly<Record<string, number>>;
}

/** Section 3. */
export interface RemovalSection {
  readonly backend: { readonly name: string; readonly endpoint: string; readonly id: number };
  /** The agent's generation of the change, and how long it took to apply (its own figure). */
  readonly generation: number;
  readonly applyMs: number;
  /** Slots of the removed backend: these have to move. */
  readonly removedSlots: number;
  readonly changedSlots: number;
  readonly changedFraction: number;
  /** The removed backend's own share: the least a table can move. */
  readonly minimumFraction: number;
  /** Moved slots whose backend stayed: the disruption Maglev keeps small. */
  readonly changedFromRemaining: number;
  readonly changedFromRemainingFraction: number;
  readonly held: HeldConnections;
  /** New connections after the change, by backend name (the removed one must get none). */
  readonly newConnections: Readonly<Record<string, number>>;
  readonly newFailed: number;
}

/** The cleanup at the end. */
export interface CleanupSection {
  /** True when nothing of the run is left. */
  readonly ok: boolean;
  /** What could not be removed. */
  readonly left: readonly string[];
}

/** `wasmplane demo --output json` when the live demo ran. */
export interface LiveDemoReport {
  readonly mode: "live";
  readonly topology: {
    readonly namespaces: readonly string[];
    readonly node: string;
    readonly vip: string;
    readonly backends: readonly { readonly name: string; readonly ip: string }[];
    readonly pods: readonly { readonly pod: string; readonly ip: string; readonly interface: string }[];
  };
  readonly agent: { readonly pid: number; readonly socket: string; readonly pinRoot: string; readonly xdp?: { readonly interface: string; readonly mode: string } };
  readonly spread: SpreadSection;
  readonly policy: PolicySection;
  readonly removal: RemovalSection;
  readonly cleanup: CleanupSection;
  /** Wall-clock time of the whole run, setup and cleanup included. */
  readonly durationMs: number;
}

const BAR_WIDTH = 16;

function peer(p: ObservedFlow["source"]): string {
  const who = p.pod !== undefined ? `${p.namespace}/${p.pod}` : p.ip;
  return `${who}:${p.port}`;
}

/** The report as text lines, 80 columns wide. */
export function renderLiveDemo(r: LiveDemoReport): string[] {
  const lines: string[] = [];
  lines.push("wasmplane demo: live, in network namespaces on this machine");
  lines.push(`node agent pid ${r.agent.pid}${r.agent.xdp ? `, XDP on ${r.agent.xdp.interface} (${r.agent.xdp.mode})` : ""}, tc on ${r.topology.pods.map((p) => `${p.interface} (${p.pod})`).join(", ")}`);

  const s = r.spread;
  lines.push("", `1. Spread: ${s.connections} TCP connections from the client to ${s.frontend}`);
  lines.push(`   Maglev table of ${s.tableSize} slots; each answer names the backend that served it`);
  const rows = s.backends.map((b) => [b.name, b.endpoint, `${b.connections} conns`, percent(b.share), `table ${percent(b.expectedShare)}`, bar(b.share, BAR_WIDTH)]);
  for (const line of columns(rows, [false, false, true, true, true, false])) lines.push(`   ${line}`);
  if (s.failed > 0) lines.push(`   ${s.failed} connections got no answer: ${s.errors.join("; ")}`);

  lines.push("", "2. Policy: flows to shop/frontend, as the agent's flow stream reports them");
  for (const f of r.policy.flows) {
    const seen = f.answer !== undefined ? `answered by ${f.answer}` : `no answer (${f.error})`;
    lines.push(`   ${f.from} -> ${f.to}: ${seen}`);
    const o = f.observed;
    if (o) {
      lines.push(`     flow  ${o.verdict}${o.reason ? ` ${o.reason}` : ""}  ${o.direction} ${peer(o.source)} -> ${peer(o.destination)} ${o.protocol} ${o.tcpFlags}  on ${o.interface}`);
    } else {
      lines.push(`     flow  none reported for it`);
    }
    lines.push(`     ${f.why}`);
  }

  const m = r.removal;
  lines.push("", `3. Removing ${m.backend.name} (${m.backend.endpoint}) from the EndpointSlice while connections are open`);
  lines.push(`   the agent applied it as change ${m.generation} in ${m.applyMs.toFixed(1)} ms`);
  lines.push(`   Maglev slots moved: ${m.changedSlots} of ${r.spread.tableSize} (${percent(m.changedFraction, 2)}); ${m.backend.name} had ${m.removedSlots} (${percent(m.minimumFraction, 2)}), which must move`);
  lines.push(`   moved from backends that stayed: ${m.changedFromRemaining} (${percent(m.changedFromRemainingFraction, 2)})`);
  const h = m.held;
  lines.push(`   held connections to the backends that stayed: ${h.kept} of ${h.toRemaining} still answered by the same backend`);
  for (const l of h.lost) lines.push(`     lost: ${l}`);
  const outcomes = Object.entries(h.removedOutcomes).map(([k, v]) => `${v} ${k}`).join(", ");
  lines.push(`   held connections to ${m.backend.name}: ${h.toRemoved}${outcomes ? ` (${outcomes})` : ""}`);
  if (h.toRemoved > 0) lines.push(`     (its flows go to a backend that stayed, which has no such connection and resets it)`);
  const fresh = Object.entries(m.newConnections).map(([k, v]) => `${k} ${v}`).join(", ");
  lines.push(`   new connections after the change: ${fresh}${m.newFailed ? `, ${m.newFailed} without an answer` : ""}`);

  lines.push("", `4. Cleanup: ${r.cleanup.ok ? "namespaces, agent, pins and temporary files removed" : `left behind: ${r.cleanup.left.join(", ")}`}`);
  lines.push(`   the whole run took ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines;
}
