/**
 * The `wasmplane` program: its commands and the conventions they share.
 *
 * Every run ends in one of the exit codes of {@link EXIT}. Commander's own
 * errors (unknown option, missing argument) are reported like ours, on one
 * line and with exit code 2, instead of commander's exit code 1, which means
 * "drift" here.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import type { CommandContext } from "./context.js";
import { addAgentCommand } from "./agent-command.js";
import { addBuildCommand } from "./build-command.js";
import { addDemoCommand } from "./demo-command.js";
import { describeError, EXIT } from "./errors.js";
import { addMaglevCommand } from "./maglev-command.js";
import { addObserveCommand } from "./observe-command.js";
import { addPolicyCommand } from "./policy-command.js";
import { Output, type Io } from "./output.js";
import { addStatusCommand } from "./status-command.js";
import { packageVersion } from "./version.js";

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const ctx: CommandContext = { io, exitCode: EXIT.OK };
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    // Errors before an action knew its options still honour --output json.
    const output = ctx.output ?? new Output(io, jsonRequested(argv) ? "json" : "text");
    if (error instanceof CommanderError) return commanderExit(error, output);
    const reported = describeError(error);
    output.error(reported, error instanceof Error ? error.stack : undefined);
    return reported.expected ? EXIT.USAGE : EXIT.INTERNAL;
  }
}

function createProgram(ctx: CommandContext): Command {
  // Settings made before .command() are inherited by every subcommand.
  const program = new Command("wasmplane")
    .description("load balancer and network policy for eBPF datapaths: Maglev tables and policy maps computed in WebAssembly (as Cilium computes them), a node agent that programs XDP and tc")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void ctx.io.stdout.write(text),
      writeErr: (text) => void ctx.io.stderr.write(text),
      // Reported by run(), in our format.
      outputError: () => {},
    })
    .addHelpText(
      "after",
      `
Start with: wasmplane demo

Exit codes: 0 ok, 1 drift (maglev or build --check) or denied (policy check), 2 usage or input error (or no agent on the socket), 3 internal error (a bug).`,
    );
  addDemoCommand(program, ctx);
  addMaglevCommand(program, ctx);
  addPolicyCommand(program, ctx);
  addBuildCommand(program, ctx);
  addAgentCommand(program, ctx);
  addStatusCommand(program, ctx);
  addObserveCommand(program, ctx);
  return program;
}

function commanderExit(error: CommanderError, output: Output): number {
  // Help (`--help`, `help <command>`) and version were asked for, and are printed.
  if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT.OK;
  // `commander.help` is both `help <command>` (exit 0) and no command at all
  // (help printed to stderr, exit 1 in commander's terms: a usage error).
  if (error.code === "commander.help") return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  const message = error.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
  output.error({ code: "USAGE", message: `${message} (see --help)`, expected: true });
  return EXIT.USAGE;
}

/** Whether argv asks for JSON, read before commander has parsed it. */
function jsonRequested(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg === "--output=json" || (arg === "--output" && argv[i + 1] === "json"));
}
