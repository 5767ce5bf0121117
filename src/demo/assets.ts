/**
 * Files the live demo needs besides its own code: the helper scripts it
 * runs inside namespaces (src/demo/*.mjs, copied next to the bundle as
 * dist/demo/*.mjs by scripts/bundle.mjs), the state folder it starts the
 * agent on (examples/demo), and the C sources of the backends' XDP programs
 * (bpf/demo), built with scripts/build-bpf.mjs. The last two come from the
 * source checkout wasmplane runs from.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WasmplaneError } from "../errors.js";

/** The scripts the demo runs inside namespaces. */
export type HelperScript = "server.mjs" | "client.mjs" | "tx-checksum.mjs";

/** Where everything is. */
export interface DemoAssets {
  /** The checkout: holds examples/, bpf/ and scripts/. */
  readonly root: string;
  /** examples/demo. */
  readonly state: string;
  /** bpf/demo/xdp_decap.c and bpf/demo/xdp_pass.c. */
  readonly decapSource: string;
  readonly passSource: string;
  /** The helper script's path. */
  helper(name: HelperScript): string;
  /** scripts/build-bpf.mjs's buildBpf. */
  buildBpf(options: { outDir: string; defines?: string[]; sources: string[] }): Promise<string[]>;
}

const here = dirname(fileURLToPath(import.meta.url));

function findRoot(): string | undefined {
  let dir = here;
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "examples", "demo")) && existsSync(join(dir, "bpf", "demo")) && existsSync(join(dir, "scripts", "build-bpf.mjs"))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * The demo's files, or the reason they cannot be found (a published
 * package has no examples/ or bpf/ sources: the live demo runs from a
 * checkout).
 */
export function locateAssets(): DemoAssets | { missing: string } {
  const root = findRoot();
  if (!root) return { missing: "a source checkout (examples/demo, bpf/demo and scripts/build-bpf.mjs next to wasmplane)" };
  // Bundled: dist/cli.js with dist/demo/*.mjs; from source: src/demo/*.ts next to the scripts.
  const helperDirs = [join(here, "demo"), here, join(root, "src", "demo")];
  const helperDir = helperDirs.find((d) => existsSync(join(d, "server.mjs")));
  if (!helperDir) return { missing: `the demo's helper scripts (server.mjs in ${helperDirs.join(" or ")}; run npm run build)` };
  return {
    root,
    state: join(root, "examples", "demo"),
    decapSource: join(root, "bpf", "demo", "xdp_decap.c"),
    passSource: join(root, "bpf", "demo", "xdp_pass.c"),
    helper: (name) => join(helperDir, name),
    async buildBpf(options) {
      const script = (await import(pathToFileURL(join(root, "scripts", "build-bpf.mjs")).href)) as {
        buildBpf(o: { outDir: string; defines?: string[]; sources: string[] }): string[];
      };
      try {
        return script.buildBpf(options);
      } catch (cause) {
        throw new WasmplaneError("KERNEL_FEATURE", `building the demo's XDP programs: ${(cause as Error).message}`, { cause });
      }
    },
  };
}
