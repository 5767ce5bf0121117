/**
 * The published package: dist/index.js carries the engine inline (no .wasm
 * file to locate), loads from any directory, and its declared types exist.
 *
 * Then the package as a user gets it: `npm pack` (of the dist/ built
 * beforehand, scripts not run), installed from the tarball into a temporary
 * folder (dependencies from npm's cache). The tarball holds the prebuilt
 * datapath objects (dist/bpf), the live demo's objects and state folder
 * and no C sources or build products outside dist/; the installed
 * `locateObject` finds its prebuilt xdp_lb.o there, away from the checkout;
 * as root the installed package loads the load balancer and the endpoint
 * programs from it (requireBpf: skipped without eBPF, a failure with
 * CI=true, as is a dist/ built without clang).
 */
import { after, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { requireBpf, skipOrFail } from "./support/privileges.js";

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

/** What the package ships for the datapath and the live demo. */
const SHIPPED_OBJECTS = ["dist/bpf/xdp_lb.o", "dist/bpf/tc_endpoint.o", "dist/bpf/demo/xdp_pass.o", "dist/bpf/demo/xdp_decap.o"];

describe("the installed package", () => {
  const work = mkdtempSync(join(tmpdir(), "wasmplane-package-"));
  after(() => rmSync(work, { recursive: true, force: true }));
  const app = join(work, "app");
  const installed = join(app, "node_modules", "wasmplane");
  let packed: { ok: true; files: string[] } | { ok: false; reason: string } | undefined;

  // The npm on PATH, not the old one a dev dependency puts in node_modules/.bin (first on PATH under `npm test`).
  const npmEnv = { ...process.env, PATH: (process.env.PATH ?? "").split(":").filter((d) => !d.includes("node_modules/.bin")).join(":") };

  /** npm pack of the checkout (dist/ as built), then npm install of the tarball into `app`; once. */
  function packAndInstall(t: TestContext): string[] | undefined {
    if (packed === undefined) {
      if (!SHIPPED_OBJECTS.every((f) => existsSync(new URL(f, root)))) {
        packed = { ok: false, reason: "dist/bpf lacks the prebuilt objects: run npm run build where clang and the libbpf headers are installed" };
      } else {
        const pack = spawnSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: fileURLToPath(root), env: npmEnv, encoding: "utf8" });
        assert.equal(pack.status, 0, `npm pack: ${pack.stderr}`);
        const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
        mkdirSync(app, { recursive: true });
        writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
        const install = spawnSync("npm", ["install", "--offline", "--no-audit", "--no-fund", join(work, info.filename)], { cwd: app, env: npmEnv, encoding: "utf8" });
        assert.equal(install.status, 0, `npm install of the tarball (offline, from npm's cache): ${install.stderr}`);
        packed = { ok: true, files: info.files.map((f) => f.path) };
      }
    }
    if (!packed.ok) {
      skipOrFail(t, packed.reason);
      return undefined;
    }
    return packed.files;
  }

  /** Runs an ES module script with `node` in the app folder; returns its stdout. */
  function runInApp(script: string): string {
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: app, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    return run.stdout.trim();
  }

  test("the tarball holds the prebuilt objects and the demo's state, and no C sources or objects outside dist/", (t) => {
    const files = packAndInstall(t);
    if (!files) return;
    for (const f of SHIPPED_OBJECTS) assert.ok(files.includes(f), `${f} is in the package`);
    for (const f of readdirSync(new URL("examples/demo/", root))) assert.ok(files.includes(`examples/demo/${f}`), `examples/demo/${f} is in the package`);
    for (const f of ["dist/demo/server.mjs", "dist/demo/client.mjs", "dist/demo/tx-checksum.mjs"]) assert.ok(files.includes(f), f);
    assert.deepEqual(files.filter((f) => f.endsWith(".c") || f.endsWith(".h")), [], "no C sources");
    assert.deepEqual(files.filter((f) => f.endsWith(".o") && !f.startsWith("dist/bpf/")), [], "no objects outside dist/bpf");
    assert.ok(!files.some((f) => f.startsWith("bpf/") || f.startsWith("scripts/")), "no checkout directories");
  });

  test("locateObject of the installed package finds its prebuilt xdp_lb.o, without the checkout", (t) => {
    if (!packAndInstall(t)) return;
    assert.ok(!existsSync(join(installed, "bpf")), "the installed package has no bpf/ sources");
    const out = runInApp(`
      const { locateObject } = await import("wasmplane");
      console.log(await locateObject());
      try { await locateObject({ tableSize: 251 }); console.log("built"); } catch (e) { console.log(e.code); }`);
    assert.deepEqual(out.split("\n"), [join(installed, "dist", "bpf", "xdp_lb.o"), "INVALID_INPUT"],
      "the default size comes prebuilt; another size asks for an object (it would need the sources and clang)");
  });

  test("as root, the installed package loads the load balancer and the endpoint programs from its prebuilt objects", async (t) => {
    if (!packAndInstall(t) || !(await requireBpf(t))) return;
    const pinRoot = `/sys/fs/bpf/wasmplane-package-${process.pid}`;
    try {
      const out = runInApp(`
        const { openDatapath, openEndpointDatapath } = await import("wasmplane");
        const lb = await openDatapath({ pinRoot: ${JSON.stringify(pinRoot)}, onWarning: () => {} });
        const ep = await openEndpointDatapath({ loadBalancer: lb });
        console.log(lb.objectPath, lb.tableSize, ep.object.programs.size > 0);
        ep.close();
        lb.close();`);
      assert.equal(out, `${join(installed, "dist", "bpf", "xdp_lb.o")} 16381 true`);
    } finally {
      rmSync(pinRoot, { recursive: true, force: true });
    }
  });
});
