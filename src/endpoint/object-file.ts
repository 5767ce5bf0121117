/**
 * Where the compiled endpoint policy programs (tc_endpoint.o) come from: a
 * path the caller gives, or bpf/build/ of a source checkout, compiled there
 * with scripts/build-bpf.mjs when missing or older than its C sources. A
 * build goes to a private directory first and is renamed into place, so
 * parallel processes never read a half-written object.
 *
 * The object declares the load balancer's maps (service translation reads
 * them), whose Maglev table size M is a build-time constant: an object that
 * shares a load balancer's pins must be built with that load balancer's M.
 * The default M lives in bpf/build/tc_endpoint.o, any other in
 * bpf/build/m<M>/tc_endpoint.o, as src/lb/object-file.ts does for xdp_lb.o.
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

const SOURCE = "tc_endpoint.c";

function sourceRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "bpf", SOURCE)) && existsSync(join(dir, "scripts", "build-bpf.mjs"))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function newestSource(root: string): number {
  const files = [join(root, "bpf", SOURCE)];
  for (const dir of [join(root, "bpf", "lib"), join(root, "bpf", "include", "wasmplane")]) {
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith(".h")) files.push(join(dir, f));
  }
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/**
 * The path of a tc_endpoint.o: `object` when given, else bpf/build/ of the
 * source checkout, (re)built when missing or stale, for Maglev tables of
 * `tableSize` slots (default 16381). Building needs clang and the libbpf
 * headers; no privilege.
 *
 * @throws {@link InvalidInputError} when `object` does not exist, or none is given and there are no sources.
 * @throws {@link KernelFeatureError} (feature `clang`) when the build fails, with clang's output.
 */
export async function locateEndpointObject(object?: string, tableSize: number = DEFAULT_TABLE_SIZE): Promise<string> {
  if (object !== undefined) {
    const path = resolve(object);
    if (!existsSync(path)) throw new InvalidInputError("object", object, "no such file (build one with node scripts/build-bpf.mjs)");
    return path;
  }
  const root = sourceRoot();
  if (!root) throw new InvalidInputError("object", undefined, `is required: no bpf/${SOURCE} next to wasmplane to build one from`);
  const outDir = tableSize === DEFAULT_TABLE_SIZE ? join(root, "bpf", "build") : join(root, "bpf", "build", `m${tableSize}`);
  const path = join(outDir, "tc_endpoint.o");
  if (existsSync(path) && statSync(path).mtimeMs >= newestSource(root)) return path;

  const script = (await import(pathToFileURL(join(root, "scripts", "build-bpf.mjs")).href)) as BuildScript;
  mkdirSync(outDir, { recursive: true });
  const scratch = mkdtempSync(join(outDir, ".build-"));
  try {
    const defines = tableSize === DEFAULT_TABLE_SIZE ? [] : [`WASMPLANE_MAGLEV_M=${tableSize}`];
    const [built] = script.buildBpf({ outDir: scratch, defines, sources: [join(root, "bpf", SOURCE)] });
    renameSync(built!, path);
  } catch (cause) {
    throw new KernelFeatureError("clang", `building ${SOURCE} failed: ${(cause as Error).message}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return path;
}
