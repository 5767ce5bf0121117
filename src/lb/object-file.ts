/**
 * Where the compiled XDP load balancer (xdp_lb.o) comes from: a path the
 * caller gives, or bpf/build/ of a source checkout, compiled there with
 * scripts/build-bpf.mjs when missing or older than the C sources.
 *
 * The table size M is a build-time constant of the object
 * (WASMPLANE_MAGLEV_M): the default M lives in bpf/build/xdp_lb.o (what
 * `npm run build:bpf` makes), any other in bpf/build/m<M>/xdp_lb.o. A build
 * goes to a private directory first and is renamed into place, so parallel
 * test processes never read a half-written object.
 *
 * The build script is imported by URL, like the libbpf bindings in
 * src/bpf/libbpf.ts: the TypeScript build compiles src/ only, and a
 * published package has no C sources (it must be given `object`).
 *
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidInputError } from "../errors.js";
import { KernelFeatureError } from "../bpf/errors.js";
import { DEFAULT_TABLE_SIZE } from "../maglev/config.js";

/** The build script's export (scripts/build-bpf.mjs). */
interface BuildScript {
  buildBpf(options: { outDir?: string; defines?: string[]; sources?: string[] }): string[];
}

/** The checkout holding bpf/xdp_lb.c, searched upwards from this module (src/lb or dist). */
function sourceRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "bpf", "xdp_lb.c")) && existsSync(join(dir, "scripts", "build-bpf.mjs"))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/** Newest modification time among the sources the object is built from. */
function newestSource(root: string): number {
  const files = [join(root, "bpf", "xdp_lb.c")];
  for (const dir of [join(root, "bpf", "lib"), join(root, "bpf", "include", "wasmplane")]) {
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith(".h")) files.push(join(dir, f));
  }
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/**
 * The path of an xdp_lb.o for table size `tableSize`: `object` when given,
 * else bpf/build/ of the source checkout, (re)built when missing or stale.
 *
 * Building needs clang and the libbpf headers (Debian: `apt-get install -y
 * clang llvm libbpf-dev`); no privilege.
 *
 * @throws {@link InvalidInputError} when `object` does not exist, or none is
 *   given and there are no sources to build from.
 * @throws {@link KernelFeatureError} (feature `clang`) when the build fails,
 *   with clang's output.
 */
export async function locateObject(options: { object?: string; tableSize?: number } = {}): Promise<string> {
  if (options.object !== undefined) {
    const path = resolve(options.object);
    if (!existsSync(path)) throw new InvalidInputError("object", options.object, "no such file (build one with node scripts/build-bpf.mjs)");
    return path;
  }
  const root = sourceRoot();
  if (!root) {
    throw new InvalidInputError("object", undefined, "is required: no bpf/xdp_lb.c next to wasmplane to build one from (pass the path of a compiled xdp_lb.o)");
  }
  const m = options.tableSize ?? DEFAULT_TABLE_SIZE;
  const outDir = m === DEFAULT_TABLE_SIZE ? join(root, "bpf", "build") : join(root, "bpf", "build", `m${m}`);
  const object = join(outDir, "xdp_lb.o");
  if (existsSync(object) && statSync(object).mtimeMs >= newestSource(root)) return object;

  const script = (await import(pathToFileURL(join(root, "scripts", "build-bpf.mjs")).href)) as BuildScript;
  mkdirSync(outDir, { recursive: true });
  const scratch = mkdtempSync(join(outDir, ".build-"));
  try {
    const defines = m === DEFAULT_TABLE_SIZE ? [] : [`WASMPLANE_MAGLEV_M=${m}`];
    const [built] = script.buildBpf({ outDir: scratch, defines, sources: [join(root, "bpf", "xdp_lb.c")] });
    renameSync(built!, object);
  } catch (cause) {
    throw new KernelFeatureError("clang", `building ${object} failed: ${(cause as Error).message}`, { cause });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return object;
}
