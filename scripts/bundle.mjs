// Bundles the package with esbuild: dist/index.js (the library) and
// dist/cli.js (the `wasmplane` binary).
//
// The engine's bytes are inlined: `src/engine/module-bytes.ts`, which reads
// the .wasm file from disk when running from source, is swapped for a module
// that imports the file through esbuild's `binary` loader. Users never locate
// a .wasm file.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const wasmPath = `${root}bindings/wasm/release.wasm`;

const inlineEngine = {
  name: "inline-engine",
  setup(b) {
    b.onLoad({ filter: /src[\\/]engine[\\/]module-bytes\.ts$/ }, () => ({
      contents: `import bytes from ${JSON.stringify(wasmPath)};\nexport function engineModuleBytes() { return bytes; }\n`,
      loader: "ts",
      resolveDir: root,
    }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  packages: "external",
  loader: { ".wasm": "binary" },
  plugins: [inlineEngine],
  logLevel: "warning",
};

await build({ ...common, entryPoints: [`${root}src/index.ts`], outfile: `${root}dist/index.js` });
// The libbpf FFI declarations, loaded lazily (src/bpf/libbpf.ts) next to the bundle.
await build({ ...common, entryPoints: [`${root}bindings/ffi/libbpf.ts`], outfile: `${root}dist/ffi/libbpf.js` });
await build({
  ...common,
  entryPoints: [`${root}src/cli/main.ts`],
  outfile: `${root}dist/cli.js`,
  banner: { js: "#!/usr/bin/env node" },
});
// The live demo's helper scripts, run as separate processes inside network
// namespaces (src/demo/assets.ts finds them next to the bundle).
mkdirSync(`${root}dist/demo`, { recursive: true });
for (const file of readdirSync(`${root}src/demo`).filter((f) => f.endsWith(".mjs"))) {
  copyFileSync(`${root}src/demo/${file}`, `${root}dist/demo/${file}`);
}
