/**
 * The published package: dist/index.js carries the engine inline (no .wasm
 * file to locate), loads from any directory, and its declared types exist.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

const root = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
  name: string; type: string; exports: Record<string, { import: string; types: string }>; bin: Record<string, string>;
};

test("package.json declares an ESM package with typed exports and the wasmplane binary", () => {
  assert.equal(pkg.name, "wasmplane");
  assert.equal(pkg.type, "module");
  const main = pkg.exports["."]!;
  assert.ok(existsSync(new URL(main.import, root)), main.import);
  assert.ok(existsSync(new URL(main.types, root)), main.types);
  assert.ok(existsSync(new URL(pkg.bin.wasmplane!, root)));
});

test("dist ships no .wasm file and builds a table from a clean process", () => {
  const files = readdirSync(new URL("dist/", root), { recursive: true }).map(String);
  assert.ok(!files.some((f) => f.endsWith(".wasm")), "a .wasm file is in dist/");
  // A child process that imports only the bundle, from another directory.
  const script = `
    const { createMaglev } = await import(${JSON.stringify(new URL("dist/index.js", root).href)});
    const m = await createMaglev({ tableSize: 251 });
    const t = m.build([{ id: 4, address: "10.0.0.1", port: 80, protocol: "TCP" }, { id: 5, address: "10.0.0.2", port: 80, protocol: "TCP" }]);
    console.log(t.length, new Set(t).size);`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: "/", encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "251 2");
});
