/**
 * `wasmplane status`: what the node agent serves, asked over its socket:
 * health, object counts, map fill, the last applied change, flow rate and
 * drops by reason. `--output json` prints the agent's AgentStatus as is.
 *
 * @module
 */
import { Command, Option } from "commander";
import type { AgentStatus } from "../agent/api.js";
import { DEFAULT_AGENT_SOCKET } from "../agent/api.js";
import { connectAgent } from "../agent/client.js";
import type { CommandContext } from "./context.js";
import { columns } from "./format.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";

/** The status as lines of text; pure, so tests can feed it any status. */
export function renderStatus(status: AgentStatus, socket: string): string[] {
  const lines: string[] = [];
  const c = status.counts;
  const summary: string[][] = [
    ["health", status.health],
    ["agent", `${socket}, API v${status.apiVersion}, started ${status.startedAt}`],
    ["state", status.state],
    ["xdp", status.xdp ? `${status.xdp.interface} (${status.xdp.mode})` : "not attached"],
    ["counts", `${c.services} services, ${c.backends} backends, ${c.identities} identities, ${c.endpoints} endpoints, ${c.policyEntries} policy entries`],
    ["flows", `${formatRate(status.flowsPerSecond)}/s over the last 10 s, ${status.flowEventsLost} events lost`],
  ];
  const last = status.lastApplied;
  if (last) {
    const changed = Object.entries(last.changed).map(([kind, n]) => `${kind} ${n}`).join(", ");
    summary.push(["last applied", `generation ${last.generation} at ${last.at} in ${last.durationMs} ms${changed ? ` (${changed})` : ""}`]);
  } else summary.push(["last applied", "nothing yet"]);
  lines.push(...columns(summary));
  for (const line of last?.rejected ?? []) lines.push(`  rejected: ${line}`);

  const endpoints = Object.entries(status.endpoints).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (endpoints.length) {
    lines.push("", "endpoints");
    lines.push(...columns(endpoints.map(([ep, iface]) => [ep, iface])).map((l) => `  ${l}`));
  }
  if (status.maps.length) {
    lines.push("", "maps");
    const rows = [["name", "entries", "max", "fill"], ...status.maps.map((m) => [m.name, String(m.entries), String(m.maxEntries), `${m.percent.toFixed(1)}%`])];
    lines.push(...columns(rows, [false, true, true, true]).map((l) => `  ${l}`));
  }
  const drops = Object.entries(status.dropsByReason).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  lines.push("", drops.length ? "drops" : "drops: none");
  if (drops.length) lines.push(...columns([["reason", "packets"], ...drops], [false, true]).map((l) => `  ${l}`));
  return lines;
}

function formatRate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

/** The `--socket` option of the agent's clients. */
export function socketOption(): Option {
  return new Option("--socket <path>", "the agent's Unix socket").default(DEFAULT_AGENT_SOCKET);
}

export function addStatusCommand(program: Command, ctx: CommandContext): void {
  program
    .command("status")
    .description("ask the node agent what it serves: health, counts, map fill, last change, flows and drops")
    .addOption(socketOption())
    .addOption(new Option("--output <format>", "result format on stdout (json: the agent's status as it sent it)").choices(OUTPUT_MODES).default("text"))
    .addHelpText("after", "\nExit codes: 0 ok (also when the agent reports degraded), 2 no agent on the socket or an error answer.\n\nExample:\n  wasmplane status --socket /run/wasmplane/agent.sock")
    .action(async (options: { socket: string; output: OutputMode }) => {
      const out = new Output(ctx.io, options.output);
      ctx.output = out;
      const status = await connectAgent(options.socket).status();
      out.result(status);
      for (const line of renderStatus(status, options.socket)) out.line(line);
    });
}
