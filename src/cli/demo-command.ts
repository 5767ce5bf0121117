/**
 * `wasmplane demo`: the first thing to run. Builds the Maglev tables of a few
 * built-in services and shows what Maglev is for: an even spread, minimal
 * disruption when a backend goes, and tables that depend only on the set of
 * backends; then decides a few flows through a small built-in cluster to
 * show deny policies at work. Needs no kernel, no root and no input.
 *
 * @module
 */
import { Command, Option } from "commander";
import { createMaglev } from "../index.js";
import { validateServices } from "../services/index.js";
import type { CommandContext } from "./context.js";
import { EXIT } from "./errors.js";
import { demoReport } from "./demo-report.js";
import { renderDemo } from "./demo-render.js";
import { DEMO_SERVICES, DEMO_SOURCE } from "./demo-services.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";
import { policyDemo, renderPolicyDemo } from "./demo-policy.js";

export function addDemoCommand(program: Command, ctx: CommandContext): void {
  program
    .command("demo")
    .description("build Maglev tables for built-in services and decide flows through a built-in cluster")
    .addOption(new Option("--output <format>", "result format on stdout").choices(OUTPUT_MODES).default("text"))
    .addHelpText(
      "after",
      `
Uses Cilium's defaults (table size 16381, hash seed JLfvgnHc2kaSUFaI, key
format cilium), so the tables are the ones Cilium would program.`,
    )
    .action(async (options: { output: OutputMode }) => {
      const output = new Output(ctx.io, options.output);
      ctx.output = output;
      const doc = validateServices(DEMO_SERVICES, DEMO_SOURCE);
      const builder = await createMaglev(doc.settings);
      const report = demoReport(builder, doc.services);
      const policy = await policyDemo();
      output.result({ ...report, policy });
      for (const line of renderDemo(report)) output.line(line);
      for (const line of renderPolicyDemo(policy)) output.line(line);
      ctx.exitCode = EXIT.OK;
    });
}
