/**
 * The order in which BPF objects are found (src/bpf/object-file.ts): an
 * explicit `object`, then a checkout's sources (bpf/build/, rebuilt when
 * stale), then the package's prebuilt dist/bpf/, otherwise an error that
 * says what to pass. Runs on fake layouts in a temporary directory; the
 * checkout's build script is a stand-in that records what it was asked to
 * build, so no compiler and no privilege are needed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { locateBpfObject, objectOrigin, objectPlaces, type ObjectPlaces } from "../src/bpf/object-file.js";
import { InvalidInputError } from "../src/errors.js";
import { datapathObjectRequest } from "../src/lb/object-file.js";

const work = mkdtempSync(join(tmpdir(), "wasmplane-object-file-"));
after(() => rmSync(work, { recursive: true, force: true }));

function put(path: string, text = ""): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A checkout whose build script writes `built from <source> <defines>` and logs each call. */
function fakeCheckout(name: string): string {
  const root = join(work, name);
  put(join(root, "package.json"), "{}");
  put(join(root, "bpf", "xdp_lb.c"));
  put(join(root, "bpf", "demo", "xdp_pass.c"));
  put(join(root, "bpf", "lib", "common.h"));
  put(join(root, "scripts", "build-bpf.mjs"), `
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
export function buildBpf({ outDir, defines = [], sources }) {
  mkdirSync(outDir, { recursive: true });
  return sources.map((src) => {
    const out = join(outDir, basename(src, ".c") + ".o");
    writeFileSync(out, "built from " + basename(src) + " " + defines.join(" "));
    appendFileSync(${JSON.stringify(join(root, "builds.log"))}, basename(src) + "\\n");
    return out;
  });
}
`);
  return root;
}

const builds = (root: string) => (existsSync(join(root, "builds.log")) ? readFileSync(join(root, "builds.log"), "utf8").split("\n").filter(Boolean) : []);

/** A prebuilt dist/bpf as an installed package has it. */
function fakePrebuilt(name: string): string {
  const dir = join(work, name, "dist", "bpf");
  put(join(dir, "xdp_lb.o"), "prebuilt");
  put(join(dir, "demo", "xdp_pass.o"), "prebuilt");
  return dir;
}

describe("BPF object locator", () => {
  const checkout = fakeCheckout("checkout");
  const prebuilt = fakePrebuilt("installed");
  const both: ObjectPlaces = { checkout, prebuilt };

  it("1. an explicit object wins over the checkout and the prebuilt objects", async () => {
    const mine = put(join(work, "mine", "xdp_lb.o"));
    assert.equal(await locateBpfObject({ source: "xdp_lb.c", object: mine }, both), mine);
    assert.equal(objectOrigin({ source: "xdp_lb.c", object: mine }, both), "given");
    await assert.rejects(locateBpfObject({ source: "xdp_lb.c", object: join(work, "missing.o") }, both), InvalidInputError);
  });

  it("2. a checkout's sources come before the prebuilt objects: built when missing, reused when fresh, rebuilt when stale", async () => {
    assert.equal(objectOrigin({ source: "xdp_lb.c" }, both), "checkout");
    const path = await locateBpfObject({ source: "xdp_lb.c" }, both);
    assert.equal(path, join(checkout, "bpf", "build", "xdp_lb.o"));
    assert.equal(readFileSync(path, "utf8"), "built from xdp_lb.c ");
    assert.equal(await locateBpfObject({ source: "xdp_lb.c" }, both), path);
    assert.deepEqual(builds(checkout), ["xdp_lb.c"], "a fresh object is not rebuilt");
    // A header newer than the object makes it stale.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(checkout, "bpf", "lib", "common.h"), later, later);
    await locateBpfObject({ source: "xdp_lb.c" }, both);
    assert.deepEqual(builds(checkout), ["xdp_lb.c", "xdp_lb.c"]);
    // Sources in subdirectories keep their path under bpf/build.
    assert.equal(await locateBpfObject({ source: "demo/xdp_pass.c" }, both), join(checkout, "bpf", "build", "demo", "xdp_pass.o"));
  });

  it("2b. other sizes are built from the checkout into their own directory", async () => {
    const path = await locateBpfObject(datapathObjectRequest("xdp_lb.c", undefined, 251), both);
    assert.equal(path, join(checkout, "bpf", "build", "m251", "xdp_lb.o"));
    assert.equal(readFileSync(path, "utf8"), "built from xdp_lb.c WASMPLANE_MAGLEV_M=251");
    assert.equal(datapathObjectRequest("xdp_lb.c", undefined, 16381).variant, undefined, "the default M is no variant");
  });

  it("3. without sources, the prebuilt object of the default sizes", async () => {
    const installed: ObjectPlaces = { prebuilt };
    assert.equal(objectOrigin({ source: "xdp_lb.c" }, installed), "prebuilt");
    assert.equal(await locateBpfObject({ source: "xdp_lb.c" }, installed), join(prebuilt, "xdp_lb.o"));
    assert.equal(await locateBpfObject({ source: "demo/xdp_pass.c" }, installed), join(prebuilt, "demo", "xdp_pass.o"));
    // A checkout without this source does not hide the prebuilt one.
    assert.equal(await locateBpfObject({ source: "xdp_lb.c" }, { checkout: join(work, "empty"), prebuilt }), join(prebuilt, "xdp_lb.o"));
    // Other sizes are never prebuilt.
    assert.equal(objectOrigin(datapathObjectRequest("xdp_lb.c", undefined, 251), installed), "none");
    await assert.rejects(locateBpfObject(datapathObjectRequest("xdp_lb.c", undefined, 251), installed), (e: unknown) =>
      e instanceof InvalidInputError && /WASMPLANE_MAGLEV_M=251/.test(e.message) && /clang/.test(e.message));
  });

  it("4. nothing anywhere: an error asking for the object", async () => {
    const nothing: ObjectPlaces = { prebuilt: join(work, "nowhere", "dist", "bpf") };
    assert.equal(objectOrigin({ source: "tc_endpoint.c" }, nothing), "none");
    await assert.rejects(locateBpfObject({ source: "tc_endpoint.c" }, nothing), (e: unknown) =>
      e instanceof InvalidInputError && e.field === "object" && /tc_endpoint\.o/.test(e.message));
  });

  it("finds the places from the module's directory: a checkout from source, only dist/bpf in an installed package", () => {
    const repo = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
    assert.deepEqual(objectPlaces(join(repo, "src", "bpf")), { root: repo, checkout: repo, prebuilt: join(repo, "dist", "bpf") });
    const pkg = join(work, "app", "node_modules", "wasmplane");
    put(join(pkg, "package.json"), "{}");
    mkdirSync(join(pkg, "dist"), { recursive: true });
    assert.deepEqual(objectPlaces(join(pkg, "dist")), { root: pkg, checkout: undefined, prebuilt: join(pkg, "dist", "bpf") });
  });
});
