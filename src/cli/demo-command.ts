/**
 * `wasmplane demo`: the first thing to run.
 *
 * Live, as root on Linux: builds network namespaces on this machine (a
 * client, a load-balancing node, three backends, two pods), starts the node
 * agent in the node's namespace on a copy of examples/demo, and shows with
 * real traffic how connections spread over the backends next to the Maglev
 * table's shares, a flow the deny policy drops as the agent's flow stream
 * reports it, and what a backend's removal moves and keeps; then removes
 * everything it created, also when interrupted (src/demo).
 *
 * Offline, anywhere (without root, without the kernel features, or with
 * `--offline`): builds the Maglev tables of a few built-in services and
 * shows an even spread, minimal disruption and determinism, then decides a
 * few flows through a built-in cluster. Needs no kernel, no root, no input.
 *
 * @module
 */
import { Command, Option } from "commander";
import { createMaglev } from "../index.js";
import { validateServices } from "../services/index.js";
import { DemoInterruptedError, liveDemoUnavailable, runLiveDemo } from "../demo/run.js";
import { renderLiveDemo } from "../demo/report.js";
import type { CommandContext } from "./context.js";
import { EXIT } from "./errors.js";
import { demoReport } from "./demo-report.js";
import { renderDemo } from "./demo-render.js";
import { DEMO_SERVICES, DEMO_SOURCE } from "./demo-services.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";
import { policyDemo, renderPolicyDemo } from "./demo-policy.js";

/** Exit codes of a run stopped by a signal, as shells report them (128 + signal number). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function addDemoCommand(program: Command, ctx: CommandContext): void {
  program
    .command("demo")
    .description("show the load balancer and policy at work: live in network namespaces as root, offline otherwise")
    .addOption(new Option("--output <format>", "result format on stdout").choices(OUTPUT_MODES).default("text"))
    .option("--offline", "skip the live part: Maglev tables and policy verdicts computed offline (no root needed)")
    .addHelpText(
      "after",
      `
Live (root on Linux with iproute2 and nsenter; from a source checkout also
clang and the libbpf headers, an installed package ships its BPF objects):
builds network namespaces named wpdemo-*, runs \`wasmplane agent\` in one of
them on a copy of examples/demo, sends real traffic, and removes everything
it created (also on Ctrl-C). A few seconds; in a checkout longer the first
time, when the datapath is compiled. Progress goes to stderr.

Offline: Cilium's defaults (table size 16381, hash seed JLfvgnHc2kaSUFaI, key
format cilium), so the tables are the ones Cilium would program.`,
    )
    .action(async (options: { output: OutputMode; offline?: boolean }) => {
      const output = new Output(ctx.io, options.output);
      ctx.output = output;
      if (!options.offline) {
        const hasAgent = program.commands.some((c) => c.name() === "agent");
        const reason = await liveDemoUnavailable(hasAgent);
        if (reason === undefined) {
          ctx.exitCode = await live(ctx, output);
          return;
        }
        ctx.io.stderr.write(`wasmplane demo: ${reason}: showing the offline demo\n`);
      }
      await offline(output);
      ctx.exitCode = EXIT.OK;
    });
}

async function offline(output: Output): Promise<void> {
  const doc = validateServices(DEMO_SERVICES, DEMO_SOURCE);
  const builder = await createMaglev(doc.settings);
  const report = demoReport(builder, doc.services);
  const policy = await policyDemo();
  output.result({ mode: "offline", ...report, policy });
  for (const line of renderDemo(report)) output.line(line);
  for (const line of renderPolicyDemo(policy)) output.line(line);
}

/** The live demo, with SIGINT and SIGTERM turned into a clean stop. */
async function live(ctx: CommandContext, output: Output): Promise<number> {
  const progress = (line: string) => void ctx.io.stderr.write(`wasmplane demo: ${line}\n`);
  const controller = new AbortController();
  let caught: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (caught === undefined) {
      caught = signal;
      progress(`${signal}: stopping and cleaning up`);
      controller.abort();
    } else {
      progress(`${signal}: still cleaning up, one moment`);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const report = await runLiveDemo({ cli: process.argv[1] ?? "", progress, signal: controller.signal });
    output.result(report);
    for (const line of renderLiveDemo(report)) output.line(line);
    return report.cleanup.ok ? EXIT.OK : EXIT.INTERNAL;
  } catch (error) {
    if (!(error instanceof DemoInterruptedError)) throw error;
    output.error({ code: "INTERRUPTED", message: `demo ${error.message}`, expected: true });
    return SIGNAL_EXIT[caught ?? "SIGINT"] ?? EXIT.USAGE;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
