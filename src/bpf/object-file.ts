/**
 * Where a compiled BPF object comes from. The one place that decides it,
 * for the load balancer (xdp_lb.o), the endpoint programs (tc_endpoint.o)
 * and the live demo's backend programs (demo/*.o), in this order:
 *
 *   1. `object`, a path the caller gives;
 *   2. a source checkout: bpf/<source> next to scripts/build-bpf.mjs. The
 *      object lives in bpf/build/ (a variant compiled with other `-D`
 *      sizes in bpf/build/<variant>/) and is compiled there when missing
 *      or older than its C sources;
 *   3. the objects prebuilt into the package at build time (dist/bpf/, by
 *      `node scripts/build-bpf.mjs --package`, part of `npm run build`),
 *      for the default sizes only;
 *   4. otherwise an {@link InvalidInputError} that says what to pass.
 *
 *   package root (the first directory above this module with package.json)
 *   ├── bpf/xdp_lb.c, bpf/demo/xdp_pass.c ...  sources: a checkout only
 *   ├── bpf/build/xdp_lb.o, bpf/build/m251/... built from them on demand
 *   ├── scripts/build-bpf.mjs                   the compiler driver
 *   └── dist/bpf/xdp_lb.o, dist/bpf/demo/...    prebuilt, shipped in the npm package
 *
 * A build goes to a private directory first and is renamed into place, so
 * parallel processes never read a half-written object. The build script is
 * imported by URL: the TypeScript build compiles src/ only.
 *
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidInputError } from "../errors.js";
import { KernelFeatureError } from "./errors.js";

/** What to locate. */
export interface ObjectRequest {
  /** The C source under bpf/, e.g. `xdp_lb.c` or `demo/xdp_pass.c`; the object is named after it. */
  readonly source: string;
  /** A compiled object to use as is; must exist. */
  readonly object?: string | undefined;
  /**
   * An object compiled with other sizes: `-D` definitions and the
   * subdirectory of bpf/build/ it lives in (e.g. `m251`). Variants are
   * never prebuilt: they need the sources and clang.
   */
  readonly variant?: { readonly dir: string; readonly defines: readonly string[] } | undefined;
}

/** Where objects are looked for; {@link objectPlaces} finds them next to this module. */
export interface ObjectPlaces {
  /** The package root: the first directory above this module with a package.json. */
  readonly root?: string | undefined;
  /** The checkout root: holds bpf/ and scripts/build-bpf.mjs. Absent in an installed package. */
  readonly checkout?: string | undefined;
  /** The directory of the prebuilt objects (dist/bpf of the package). */
  readonly prebuilt?: string | undefined;
}

/** How {@link locateBpfObject} would find an object, without building anything. */
export type ObjectOrigin = "given" | "checkout" | "prebuilt" | "none";

/** The build script's export (scripts/build-bpf.mjs). */
interface BuildScript {
  buildBpf(options: { outDir?: string; defines?: string[]; sources?: string[] }): string[];
}

const BUILD_SCRIPT = join("scripts", "build-bpf.mjs");

/** The package root above `from`: the first directory (up to 4 levels) with a package.json. */
function packageRoot(from: string): string | undefined {
  let dir = from;
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * The places of this copy of wasmplane: from source (src/bpf) the checkout
 * and its dist/bpf; from the bundle (dist/) the package root, which is a
 * checkout only when it holds the C sources and the build script.
 */
export function objectPlaces(from: string = dirname(fileURLToPath(import.meta.url))): ObjectPlaces {
  const root = packageRoot(from);
  if (root === undefined) return {};
  const checkout = existsSync(join(root, "bpf")) && existsSync(join(root, BUILD_SCRIPT)) ? root : undefined;
  return { root, checkout, prebuilt: join(root, "dist", "bpf") };
}

/** `xdp_lb.c` → `xdp_lb.o`, `demo/xdp_pass.c` → `demo/xdp_pass.o`. */
function objectName(source: string): string {
  return join(dirname(source), `${basename(source, ".c")}.o`);
}

function hasSources(places: ObjectPlaces, source: string): places is ObjectPlaces & { checkout: string } {
  return places.checkout !== undefined && existsSync(join(places.checkout, "bpf", source));
}

/**
 * Which of the places {@link locateBpfObject} would use for `request`
 * (`none`: it would throw). Cheap and synchronous: for requirement checks
 * such as whether clang is needed.
 */
export function objectOrigin(request: ObjectRequest, places: ObjectPlaces = objectPlaces()): ObjectOrigin {
  if (request.object !== undefined) return "given";
  if (hasSources(places, request.source)) return "checkout";
  if (request.variant === undefined && places.prebuilt !== undefined && existsSync(join(places.prebuilt, objectName(request.source)))) return "prebuilt";
  return "none";
}

/** Newest modification time among the source and the shared headers it includes. */
function newestSource(checkout: string, source: string): number {
  const files = [join(checkout, "bpf", source)];
  for (const dir of [join(checkout, "bpf", "lib"), join(checkout, "bpf", "include", "wasmplane")]) {
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith(".h")) files.push(join(dir, f));
  }
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** The checkout's object for `request`, compiled when missing or stale. */
async function checkoutObject(checkout: string, request: ObjectRequest): Promise<string> {
  const name = objectName(request.source);
  const buildDir = request.variant ? join(checkout, "bpf", "build", request.variant.dir) : join(checkout, "bpf", "build");
  const object = join(buildDir, name);
  if (existsSync(object) && statSync(object).mtimeMs >= newestSource(checkout, request.source)) return object;

  const script = (await import(pathToFileURL(join(checkout, BUILD_SCRIPT)).href)) as BuildScript;
  const outDir = dirname(object);
  mkdirSync(outDir, { recursive: true });
  const scratch = mkdtempSync(join(outDir, ".build-"));
  try {
    const [built] = script.buildBpf({ outDir: scratch, defines: [...(request.variant?.defines ?? [])], sources: [join(checkout, "bpf", request.source)] });
    renameSync(built!, object);
  } catch (cause) {
    throw new KernelFeatureError("clang", `building ${object} failed: ${(cause as Error).message}`, { cause });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return object;
}

/**
 * The path of the compiled object for `request`, from the first place that
 * has it (see the module comment for the order). Building from a checkout
 * needs clang and the libbpf headers (Debian: `apt-get install -y clang llvm
 * libbpf-dev`), no privilege; the prebuilt objects need neither.
 *
 * @throws {@link InvalidInputError} when `object` does not exist, or no
 *   place has the object (an installed package asked for a variant, or a
 *   package built without clang).
 * @throws {@link KernelFeatureError} (feature `clang`) when building from the
 *   checkout fails, with clang's output.
 */
export async function locateBpfObject(request: ObjectRequest, places: ObjectPlaces = objectPlaces()): Promise<string> {
  const name = objectName(request.source);
  if (request.object !== undefined) {
    const path = resolve(request.object);
    if (!existsSync(path)) throw new InvalidInputError("object", request.object, `no such file (build one with node scripts/build-bpf.mjs)`);
    return path;
  }
  if (hasSources(places, request.source)) return checkoutObject(places.checkout, request);
  const prebuilt = places.prebuilt === undefined ? undefined : join(places.prebuilt, name);
  if (prebuilt !== undefined && existsSync(prebuilt)) {
    if (request.variant === undefined) return prebuilt;
    throw new InvalidInputError("object", undefined,
      `is required for ${name} with ${request.variant.defines.join(" ")}: the prebuilt ${prebuilt} has the default sizes, and other sizes are compiled from a source checkout with clang`);
  }
  throw new InvalidInputError("object", undefined,
    `is required: no prebuilt ${name} in this package${places.prebuilt ? ` (${places.prebuilt})` : ""} and no bpf/${request.source} to build one from (pass the path of a compiled ${basename(name)})`);
}
