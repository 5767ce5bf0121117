/**
 * `wasmplane maglev`: its options, and the steps every run takes before it
 * writes (maglev-write.ts) or checks (maglev-check.ts): validate the flags,
 * load the services file, configure the builder, report warnings.
 *
 * @module
 */
import { Command, Option } from "commander";
import { createMaglev, DEFAULT_TABLE_SIZE, KEY_FORMATS } from "../index.js";
import { loadServicesFile } from "../services/index.js";
import type { CommandContext } from "./context.js";
import { checkTables } from "./maglev-check.js";
import { writeTables } from "./maglev-write.js";
import { maglevOverrides } from "./options.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";

interface MaglevOptions {
  input: string;
  out: string;
  tableSize?: string;
  hashSeed?: string;
  keyFormat?: string;
  check?: boolean;
  output: OutputMode;
  quiet?: boolean;
}

export function addMaglevCommand(program: Command, ctx: CommandContext): void {
  program
    .command("maglev")
    .description("build the Maglev lookup table of every service in a services file")
    .requiredOption("-i, --input <file>", "services file, YAML or JSON")
    .requiredOption("-o, --out <dir>", "output directory: manifest.json and tables/<service>.bin")
    .option("--table-size <n>", `prime table size; overrides the file (default ${DEFAULT_TABLE_SIZE})`)
    .option("--hash-seed <base64>", "12-byte hash seed in base64; overrides the file (default Cilium's)")
    .option("--key-format <format>", `backend key format, ${KEY_FORMATS.join(" or ")}; overrides the file (default cilium)`)
    .option("--check", "write nothing: compare <dir> with the input; exit 1 if it drifted")
    .addOption(new Option("--output <format>", "result format on stdout").choices(OUTPUT_MODES).default("text"))
    .option("-q, --quiet", "no progress, warnings or text result: errors only (JSON output is still printed)")
    .addHelpText(
      "after",
      `
Each table file holds table-size little-endian u32 backend IDs: the values of
a BPF array map of u32. manifest.json lists every service with its table
file, sha256 and the slots of each backend; the manifest is written last.

Examples:
  wasmplane maglev --input services.yaml --out build/maglev
  wasmplane maglev --input services.yaml --out build/maglev --check
  wasmplane maglev --input services.json --out out --table-size 65521 --output json`,
    )
    .action(async (options: MaglevOptions) => {
      const output = new Output(ctx.io, options.output, options.quiet === true);
      ctx.output = output;
      ctx.exitCode = await runMaglev(options, output, ctx);
    });
}

async function runMaglev(options: MaglevOptions, output: Output, ctx: CommandContext): Promise<number> {
  // Flags first: a bad flag is reported before the file is even read.
  const overrides = maglevOverrides(options);
  const doc = await loadServicesFile(options.input, overrides);
  const warnings = [...doc.warnings];
  const builder = await createMaglev({ ...doc.settings, onWarning: (message) => warnings.push(message) });
  for (const warning of warnings) output.warn(warning);
  const run = { doc, builder, warnings, out: options.out, output, io: ctx.io };
  return options.check ? checkTables(run) : writeTables(run);
}
