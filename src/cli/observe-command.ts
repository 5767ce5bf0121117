/**
 * `wasmplane observe`: the flows the node agent saw, one line each (see
 * src/observe/format.ts), or one JSON object per line with `--output json`
 * (the agent's ObservedFlow as sent, so `jq` reads a stream as well as a
 * finished list). `--follow` streams until Ctrl-C, which ends the command
 * with exit code 0.
 *
 * @module
 */
import { Command, Option } from "commander";
import { connectAgent } from "../agent/client.js";
import { InvalidInputError } from "../errors.js";
import { matchesFlow, parseFlowFilter } from "../observe/filter.js";
import { formatFlow } from "../observe/format.js";
import type { FlowFilter } from "../observe/types.js";
import type { CommandContext } from "./context.js";
import { UsageError } from "./errors.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";
import { socketOption } from "./status-command.js";

interface ObserveOptions {
  namespace?: string;
  pod?: string;
  verdict?: string;
  port?: string;
  protocol?: string;
  identity?: string;
  follow?: boolean;
  last?: string;
  socket: string;
  output: OutputMode;
}

/** The filter of the flags, validated with the API's own rules; errors name the flag. */
function filterOf(options: ObserveOptions): FlowFilter {
  try {
    const { namespace, pod, verdict, port, protocol, identity } = options;
    return parseFlowFilter({ namespace, pod, verdict, port, protocol, identity });
  } catch (error) {
    if (error instanceof InvalidInputError) throw new InvalidInputError(`--${error.field}`, error.value, error.problem);
    throw error;
  }
}

function lastOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(text) || Number(text) < 1) throw new UsageError(`--last: expected a number of flows, 1 or more (got "${text}")`, "--last");
  return Number(text);
}

export function addObserveCommand(program: Command, ctx: CommandContext): void {
  program
    .command("observe")
    .description("print the flows the node agent saw: forwarded connections and drops, with pods and reasons")
    .option("--namespace <ns>", "either side in this namespace")
    .option("--pod <pod>", "either side is this pod: name (with --namespace) or ns/name")
    .addOption(new Option("--verdict <verdict>", "FORWARDED or DROPPED"))
    .option("--port <port>", "either side's port")
    .option("--protocol <name>", "TCP, UDP, SCTP, ICMP, ICMPv6 (any case)")
    .option("--identity <id>", "either side's security identity")
    .option("-f, --follow", "keep printing new flows until Ctrl-C")
    .option("--last <n>", "start with the last n flows the agent kept (agent default: 100)")
    .addOption(socketOption())
    .addOption(new Option("--output <format>", "text lines, or json: one ObservedFlow object per line").choices(OUTPUT_MODES).default("text"))
    .addHelpText(
      "after",
      "\nAll filters given must match; namespace, pod, port and identity match either side.\n\nExit codes: 0 ok (Ctrl-C included), 2 a bad filter, no agent on the socket, or an error answer.\n\nExamples:\n  wasmplane observe --namespace shop --verdict DROPPED\n  wasmplane observe --pod shop/db --port 5432 --follow --output json",
    )
    .action(async (options: ObserveOptions) => {
      const out = new Output(ctx.io, options.output);
      ctx.output = out;
      const filter = filterOf(options);
      const last = lastOf(options.last);
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        await connectAgent(options.socket).flows(filter, { follow: options.follow === true, last, signal: abort.signal }, (flow) => {
          // The agent filters already; checking again costs little and keeps the output true to the flags.
          if (!matchesFlow(flow, filter)) return;
          if (out.json) ctx.io.stdout.write(`${JSON.stringify(flow)}\n`);
          else out.line(formatFlow(flow));
        });
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
