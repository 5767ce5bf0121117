/**
 * `wasmplane build`: a folder of Kubernetes objects in, every datapath
 * table out (Maglev tables, services, backends, ipcache, per-endpoint
 * policy maps) with a manifest of checksums; or, with `--check`, a report
 * of what an existing output directory lacks. Offline: no root, no kernel.
 *
 * @module
 */
import { Command, Option } from "commander";
import { DEFAULT_TABLE_SIZE, KEY_FORMATS } from "../maglev/config.js";
import { LB_ALGORITHMS, type LbAlgorithm } from "../lb/services.js";
import type { TranslateOptions } from "../state/translate.js";
import { checkBuild } from "./build-check.js";
import { prepareBuild } from "./build-run.js";
import { writeBuild } from "./build-write.js";
import type { CommandContext } from "./context.js";
import { UsageError } from "./errors.js";
import { maglevOverrides } from "./options.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";

interface BuildOptions {
  state: string;
  out?: string;
  check?: boolean | string;
  node?: string;
  tableSize?: string;
  hashSeed?: string;
  keyFormat?: string;
  algorithm?: LbAlgorithm;
  output: OutputMode;
  quiet?: boolean;
}

export function addBuildCommand(program: Command, ctx: CommandContext): void {
  program
    .command("build")
    .description("build every datapath table from a folder of Kubernetes objects: Maglev tables, services, backends, ipcache, policy maps")
    .requiredOption("-s, --state <path>", "file or directory of Kubernetes YAML/JSON (kubectl get -o yaml)")
    .option("-o, --out <dir>", "output directory: manifest.json, tables/, lb/, policy/")
    .option("--check [dir]", "write nothing: compare <dir> (default --out) with the state; exit 1 if it drifted")
    .option("--node <name>", "the node to build for: NodePort frontends on its InternalIPs, its Local endpoints (default: the state's only Node)")
    .option("--table-size <n>", `Maglev table size, a prime; overrides the Node's annotation (default ${DEFAULT_TABLE_SIZE})`)
    .option("--hash-seed <base64>", "12-byte Maglev hash seed in base64; overrides the Node's annotation (default Cilium's)")
    .option("--key-format <format>", `Maglev backend key format, ${KEY_FORMATS.join(" or ")} (default cilium)`)
    .addOption(new Option("--algorithm <name>", "default algorithm of services without the wasmplane.io/lb-algorithm annotation").choices(LB_ALGORITHMS))
    .addOption(new Option("--output <format>", "result format on stdout").choices(OUTPUT_MODES).default("text"))
    .option("-q, --quiet", "no progress, warnings or text result: errors only (JSON output is still printed)")
    .addHelpText(
      "after",
      `
Objects that fail validation are reported one per line (file, object, field)
and left out; everything else is still built. The run then exits 2.
Formats: docs/build.md.

Exit codes: 0 ok, 1 drift (--check), 2 usage or input error (objects left out), 3 internal error.

Examples:
  wasmplane build --state examples/state --out build/node-a
  wasmplane build --state examples/state --check build/node-a
  wasmplane build --state cluster/ --out out --node node-b --output json`,
    )
    .action(async (options: BuildOptions) => {
      const output = new Output(ctx.io, options.output, options.quiet === true);
      ctx.output = output;
      ctx.exitCode = await runBuild(options, output, ctx);
    });
}

async function runBuild(options: BuildOptions, output: Output, ctx: CommandContext): Promise<number> {
  const checkDir = typeof options.check === "string" ? options.check : options.check ? options.out : undefined;
  if (options.check === true && options.out === undefined) throw new UsageError("--check needs a directory: --check <dir> or --out <dir>", "--check");
  if (options.check === undefined && options.out === undefined) throw new UsageError("--out <dir> is required (or --check <dir>)", "--out");
  // Flags first: a bad flag is reported before the state is read.
  const overrides = maglevOverrides(options);
  const translate: TranslateOptions = {
    node: options.node,
    tableSize: overrides.tableSize,
    hashSeed: overrides.hashSeed,
    keyFormat: overrides.keyFormat,
    defaultAlgorithm: options.algorithm,
  };
  const run = await prepareBuild(options.state, checkDir ?? options.out!, translate, output, ctx.io);
  return checkDir !== undefined ? checkBuild(run, checkDir) : writeBuild(run);
}
