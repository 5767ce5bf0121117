// Compiles every bpf/*.c into bpf/build/<name>.o with clang's BPF target.
//
//   node scripts/build-bpf.mjs [--out-dir DIR] [-DNAME[=VALUE] ...] [file.c ...]
//   node scripts/build-bpf.mjs --package
//
// --package (part of `npm run build`) compiles the objects the npm package
// ships into dist/bpf/: xdp_lb.o and tc_endpoint.o with the default sizes,
// and the live demo's demo/xdp_pass.o and demo/xdp_decap.o (its addresses
// are written per backend at run time). DWARF is stripped with llvm-strip
// when it is there (`LLVM_STRIP` overrides it); the BTF stays. Without clang
// or the libbpf headers it prints one line on stderr, removes any older
// dist/bpf/ and succeeds: the library and the offline CLI need no objects.
//
// Flags: -O2 -g -target bpf -Wall -Werror, the multiarch include directory
// (asm/types.h), and every -D given on the command line, passed through
// unchanged (sizes such as -DWASMPLANE_MAGLEV_M=65521, knobs such as
// -DWASMPLANE_JHASH0=0x...). `CLANG` overrides the compiler binary.
// Also importable: `buildBpf({ outDir, defines, sources })` returns the
// object paths and throws BpfBuildError with clang's output.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { arch } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const BPF_SOURCE_DIR = join(root, "bpf");
export const BPF_BUILD_DIR = join(BPF_SOURCE_DIR, "build");
/** Where the package's prebuilt objects go (src/bpf/object-file.ts looks there). */
export const PACKAGE_BPF_DIR = join(root, "dist", "bpf");
/** The sources under bpf/ whose objects the package ships, built with the default sizes. */
export const PACKAGE_SOURCES = ["xdp_lb.c", "tc_endpoint.c", "demo/xdp_pass.c", "demo/xdp_decap.c"];

const MULTIARCH = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install -y clang llvm libbpf-dev)";

/**
 * A build failure: a compiler error, with clang's output, or a missing tool
 * (`missing` then names it in a few words, e.g. `clang not found`).
 */
export class BpfBuildError extends Error {
  constructor(message, output = "", missing = undefined) {
    super(output ? `${message}\n${output}` : message);
    this.name = "BpfBuildError";
    this.output = output;
    this.missing = missing;
  }
}

function findClang() {
  const clang = process.env.CLANG || "clang";
  const probe = spawnSync(clang, ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new BpfBuildError(`clang not found (tried "${clang}"): the BPF programs need clang with the BPF target; ${INSTALL_HINT}`, "", `clang not found (tried "${clang}")`);
  }
  return clang;
}

function includeFlags() {
  const multiarch = MULTIARCH[arch()];
  const flags = [];
  if (multiarch && existsSync(`/usr/include/${multiarch}/asm/types.h`)) flags.push(`-I/usr/include/${multiarch}`);
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) {
    throw new BpfBuildError(`libbpf headers not found (/usr/include/bpf/bpf_helpers.h); ${INSTALL_HINT}`, "", "libbpf headers not found");
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

/** Removes DWARF (.debug_*) from `object` in place when llvm-strip runs; BTF, which libbpf needs, stays. */
function stripDebug(object) {
  const strip = process.env.LLVM_STRIP || "llvm-strip";
  spawnSync(strip, ["-g", object], { stdio: "ignore" });
}

/**
 * Compiles {@link PACKAGE_SOURCES} into `outDir` (dist/bpf), keeping their
 * paths under bpf/ (demo/xdp_pass.c → demo/xdp_pass.o). The objects are
 * built in a scratch directory and replace `outDir` whole, so it never
 * holds a mix of old and new objects.
 * @param {{ outDir?: string }} [options]
 * @returns {string[]} the object paths
 * @throws BpfBuildError as buildBpf does (with `missing` when clang or the headers are missing)
 */
export function buildPackageObjects({ outDir = PACKAGE_BPF_DIR } = {}) {
  mkdirSync(dirname(outDir), { recursive: true });
  const scratch = mkdtempSync(join(dirname(outDir), ".bpf-"));
  try {
    const objects = PACKAGE_SOURCES.map((source) => {
      const [built] = buildBpf({ outDir: join(scratch, dirname(source)), sources: [join(BPF_SOURCE_DIR, source)] });
      stripDebug(built);
      return join(outDir, dirname(source), basename(built));
    });
    rmSync(outDir, { recursive: true, force: true });
    renameSync(scratch, outDir);
    return objects;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function relativeToRoot(path) {
  return path.startsWith(root) ? path.slice(root.length) : path;
}

function parseArgs(argv) {
  const opts = { outDir: BPF_BUILD_DIR, defines: [], sources: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--package") opts.package = true;
    else if (a === "--out-dir") opts.outDir = resolve(argv[++i] ?? "");
    else if (a.startsWith("-D") && a.length > 2) opts.defines.push(a);
    else if (a === "-h" || a === "--help") {
      console.log("usage: node scripts/build-bpf.mjs [--out-dir DIR] [-DNAME[=VALUE] ...] [file.c ...]\n       node scripts/build-bpf.mjs --package");
      process.exit(0);
    } else if (a.endsWith(".c")) opts.sources.push(resolve(a));
    else throw new BpfBuildError(`unknown argument: ${a}`);
  }
  if (opts.sources.length === 0) opts.sources = bpfSources();
  return opts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.package) {
      try {
        buildPackageObjects(); // quiet on success, as the rest of `npm run build`
      } catch (err) {
        if (!(err instanceof BpfBuildError && err.missing)) throw err;
        rmSync(PACKAGE_BPF_DIR, { recursive: true, force: true });
        console.error(`build-bpf: skipped the prebuilt datapath objects (${relativeToRoot(PACKAGE_BPF_DIR)}): ${err.missing}; ${INSTALL_HINT} to ship them`);
      }
    } else {
      for (const out of buildBpf(opts)) console.log(`built ${out}`);
    }
  } catch (err) {
    console.error(`build-bpf: ${err.message}`);
    process.exit(1);
  }
}
