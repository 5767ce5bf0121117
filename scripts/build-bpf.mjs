// Compiles every bpf/*.c into bpf/build/<name>.o with clang's BPF target.
//
//   node scripts/build-bpf.mjs [--out-dir DIR] [-DNAME[=VALUE] ...] [file.c ...]
//
// Flags: -O2 -g -target bpf -Wall -Werror, the multiarch include directory
// (asm/types.h), and every -D given on the command line, passed through
// unchanged (sizes such as -DWASMPLANE_MAGLEV_M=65521, knobs such as
// -DWASMPLANE_JHASH0=0x...). `CLANG` overrides the compiler binary.
// Also importable: `buildBpf({ outDir, defines, sources })` returns the
// object paths and throws BpfBuildError with clang's output.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { arch } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const BPF_SOURCE_DIR = join(root, "bpf");
export const BPF_BUILD_DIR = join(BPF_SOURCE_DIR, "build");

const MULTIARCH = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install -y clang llvm libbpf-dev)";

/** A build failure: a missing tool or a compiler error, with clang's output. */
export class BpfBuildError extends Error {
  constructor(message, output = "") {
    super(output ? `${message}\n${output}` : message);
    this.name = "BpfBuildError";
    this.output = output;
  }
}

function findClang() {
  const clang = process.env.CLANG || "clang";
  const probe = spawnSync(clang, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new BpfBuildError(`clang not found (tried "${clang}"): the BPF programs need clang with the BPF target; ${INSTALL_HINT}`);
  }
  return clang;
}

function includeFlags() {
  const multiarch = MULTIARCH[arch()];
  const flags = [];
  if (multiarch && existsSync(`/usr/include/${multiarch}/asm/types.h`)) flags.push(`-I/usr/include/${multiarch}`);
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) {
    throw new BpfBuildError(`libbpf headers not found (/usr/include/bpf/bpf_helpers.h); ${INSTALL_HINT}`);
  }
  return flags;
}

/** Every bpf/*.c, sorted. @returns {string[]} */
export function bpfSources() {
  return readdirSync(BPF_SOURCE_DIR)
    .filter((f) => f.endsWith(".c"))
    .sort()
    .map((f) => join(BPF_SOURCE_DIR, f));
}

/**
 * Compiles BPF sources. `defines` are passed as given ("NAME=VALUE" or
 * "-DNAME=VALUE"). Returns the object paths, in source order.
 * @param {{ outDir?: string, defines?: string[], sources?: string[] }} [options]
 * @returns {string[]}
 * @throws BpfBuildError when clang or libbpf headers are missing, or clang fails.
 */
export function buildBpf({ outDir = BPF_BUILD_DIR, defines = [], sources = bpfSources() } = {}) {
  const clang = findClang();
  const base = ["-O2", "-g", "-target", "bpf", "-Wall", "-Werror", ...includeFlags()];
  const dflags = defines.map((d) => (d.startsWith("-D") ? d : `-D${d}`));
  mkdirSync(outDir, { recursive: true });
  return sources.map((src) => {
    const out = join(outDir, `${basename(src, ".c")}.o`);
    try {
      execFileSync(clang, [...base, ...dflags, "-c", src, "-o", out], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      throw new BpfBuildError(`clang failed on ${src}`, `${err.stdout ?? ""}${err.stderr ?? ""}`.trim());
    }
    return out;
  });
}

function parseArgs(argv) {
  const opts = { outDir: BPF_BUILD_DIR, defines: [], sources: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out-dir") opts.outDir = resolve(argv[++i] ?? "");
    else if (a.startsWith("-D") && a.length > 2) opts.defines.push(a);
    else if (a === "-h" || a === "--help") {
      console.log("usage: node scripts/build-bpf.mjs [--out-dir DIR] [-DNAME[=VALUE] ...] [file.c ...]");
      process.exit(0);
    } else if (a.endsWith(".c")) opts.sources.push(resolve(a));
    else throw new BpfBuildError(`unknown argument: ${a}`);
  }
  if (opts.sources.length === 0) opts.sources = bpfSources();
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    for (const out of buildBpf(parseArgs(process.argv.slice(2)))) console.log(`built ${out}`);
  } catch (err) {
    console.error(`build-bpf: ${err.message}`);
    process.exit(1);
  }
}
