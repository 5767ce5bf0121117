/**
 * Files the live demo needs besides its own code: the helper scripts it
 * runs inside namespaces (src/demo/*.mjs, copied next to the bundle as
 * dist/demo/*.mjs by scripts/bundle.mjs), the state folder it starts the
 * agent on (examples/demo, shipped in the npm package), and the backends'
 * XDP programs (bpf/demo/xdp_pass.c and xdp_decap.c), located like the
 * datapath's objects (src/bpf/object-file.ts): compiled from a source
 * checkout, or prebuilt in the package's dist/bpf/demo/.
 *
 * The decapsulation program is compiled once, with its address globals
 * zero; each backend gets a copy with its own address written into
 * `.rodata` (decapGlobals in topology.ts), so an installed package needs no
 * compiler.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { locateBpfObject, objectOrigin, objectPlaces, type ObjectOrigin } from "../bpf/object-file.js";

/** The scripts the demo runs inside namespaces. */
export type HelperScript = "server.mjs" | "client.mjs" | "tx-checksum.mjs";

/** Where everything is. */
export interface DemoAssets {
  /** The package root: holds examples/ (and, in a checkout, bpf/ and scripts/). */
  readonly root: string;
  /** examples/demo. */
  readonly state: string;
  /** Whether some object (the demo's or the agent's) is compiled from a checkout's sources: clang and the libbpf headers are needed. */
  readonly compiles: boolean;
  /** The helper script's path. */
  helper(name: HelperScript): string;
  /** The compiled XDP_PASS program and the decapsulation program (addresses zero). */
  objects(): Promise<{ pass: string; decap: string }>;
}

/** Sources of the demo's own programs, under bpf/. */
const DEMO_SOURCES = { pass: "demo/xdp_pass.c", decap: "demo/xdp_decap.c" } as const;
/** Every object a live run loads: the demo's and the agent's. */
const ALL_SOURCES = [DEMO_SOURCES.pass, DEMO_SOURCES.decap, "xdp_lb.c", "tc_endpoint.c"];

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The demo's files, or the reason they cannot be found: no examples/demo,
 * no helper scripts (run npm run build), or BPF objects neither prebuilt
 * (a package built without clang) nor buildable from sources.
 */
export function locateAssets(): DemoAssets | { missing: string } {
  const places = objectPlaces();
  const root = places.root;
  if (root === undefined || !existsSync(join(root, "examples", "demo"))) {
    return { missing: "its state folder (examples/demo in the wasmplane package or checkout)" };
  }
  // Bundled: dist/cli.js with dist/demo/*.mjs; from source: src/demo/*.ts next to the scripts.
  const helperDirs = [join(here, "demo"), here, join(root, "src", "demo")];
  const helperDir = helperDirs.find((d) => existsSync(join(d, "server.mjs")));
  if (!helperDir) return { missing: `the demo's helper scripts (server.mjs in ${helperDirs.join(" or ")}; run npm run build)` };
  const origins = new Map<string, ObjectOrigin>(ALL_SOURCES.map((s) => [s, objectOrigin({ source: s }, places)]));
  const absent = ALL_SOURCES.filter((s) => origins.get(s) === "none");
  if (absent.length > 0) {
    return { missing: `the BPF objects ${absent.map((s) => s.replace(/\.c$/, ".o")).join(", ")} (prebuilt in dist/bpf by npm run build where clang is installed, or built from bpf/ of a checkout)` };
  }
  return {
    root,
    state: join(root, "examples", "demo"),
    compiles: [...origins.values()].includes("checkout"),
    helper: (name) => join(helperDir, name),
    async objects() {
      return {
        pass: await locateBpfObject({ source: DEMO_SOURCES.pass }, places),
        decap: await locateBpfObject({ source: DEMO_SOURCES.decap }, places),
      };
    },
  };
}
