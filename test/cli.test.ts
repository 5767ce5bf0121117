/**
 * End-to-end tests of the `wasmplane` binary: they spawn dist/cli.js (built
 * by `npm test` beforehand) and check files, exit codes and output streams.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { createMaglev, type MaglevBackend } from "../src/index.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/cli/", import.meta.url));
const PACKAGE = fileURLToPath(new URL("../package.json", import.meta.url));

interface RawBackend { id: number; address: string; port: number; protocol?: string; weight?: number; scope?: string; clusterId?: number }
interface RawService { name: string; frontend: { address: string; port: number; protocol: string }; backends: RawBackend[] }
interface RawFile { tableSize?: number; hashSeed?: string; keyFormat?: string; services: RawService[] }

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the CLI from the fixtures directory, so messages name fixtures as the user would type them. */
function cli(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: FIXTURES, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
let counter = 0;
/** A fresh, not yet existing path under the test's temp dir. */
const fresh = (label: string) => join(tmp, `${label}-${++counter}`);

before(async () => {
  assert.ok(existsSync(CLI), "dist/cli.js is missing: run `npm run build` first");
  tmp = await mkdtemp(join(tmpdir(), "wasmplane-cli-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function fixture(name: string): Promise<RawFile> {
  return parse(await readFile(join(FIXTURES, name), "utf8")) as RawFile;
}

/** Writes a services file into the temp dir and returns its path. */
async function writeServices(content: RawFile, ext = "json"): Promise<string> {
  const path = `${fresh("services")}.${ext}`;
  await writeFile(path, JSON.stringify(content, null, 2));
  return path;
}

/** Every file under `dir` (relative path → bytes). */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out.set(full.slice(dir.length + 1), await readFile(full));
  }
  return out;
}

function littleEndian(table: Uint32Array): Buffer {
  const bytes = Buffer.alloc(table.length * 4);
  table.forEach((id, i) => bytes.writeUInt32LE(id, i * 4));
  return bytes;
}

function backendsOf(service: RawService): MaglevBackend[] {
  return service.backends.map((b) => ({ ...b, protocol: b.protocol ?? service.frontend.protocol }) as MaglevBackend);
}

/** A deterministic shuffle, so a failure can be reproduced. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Checks the one-line error convention and returns the line. */
function oneLineError(run: Run): string {
  assert.equal(run.code, 2, `exit code (stderr: ${run.stderr})`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${run.stderr}`);
  assert.match(lines[0]!, /^wasmplane: error: /);
  assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
  return lines[0]!;
}

describe("wasmplane maglev", () => {
  test("writes tables whose bytes are the builder's output, and a manifest whose checksums verify", async () => {
    const out = fresh("out");
    const run = cli(["maglev", "--input", "services.yaml", "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /wrote 3 tables and manifest.json/);

    const raw = await fixture("services.yaml");
    const builder = await createMaglev({ tableSize: raw.tableSize! });
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    assert.equal(manifest.formatVersion, 1);
    assert.equal(manifest.tableSize, 1021);
    assert.equal(manifest.hashSeed, "JLfvgnHc2kaSUFaI");
    assert.equal(manifest.keyFormat, "cilium");
    assert.deepEqual(manifest.services.map((s: { name: string }) => s.name), ["dns-v6", "shop/checkout", "web"], "sorted by name");

    for (const service of raw.services) {
      const entry = manifest.services.find((s: { name: string }) => s.name === service.name);
      assert.ok(entry, service.name);
      const bytes = await readFile(join(out, entry.file));
      const table = builder.build(backendsOf(service));
      assert.equal(bytes.length, 1021 * 4);
      assert.ok(bytes.equals(littleEndian(table)), `${service.name}: bytes equal builder.build()`);
      assert.equal(entry.sha256, createHash("sha256").update(bytes).digest("hex"));

      const stats = builder.stats(table);
      for (const b of entry.backends) {
        assert.equal(b.slots, stats.slotsPerBackend.get(b.id) ?? 0);
        assert.equal(b.key, builder.keyOf(backendsOf(service).find((x) => x.id === b.id)!));
      }
      assert.deepEqual(entry.backends.map((b: { id: number }) => b.id), [...service.backends.map((b) => b.id)].sort((a, b) => a - b));
    }
    const checkout = manifest.services.find((s: { name: string }) => s.name === "shop/checkout");
    assert.equal(checkout.file, "tables/shop_checkout.bin");
    assert.deepEqual(checkout.frontend, { address: "10.96.0.20", port: 443, protocol: "TCP" });
    const dns = manifest.services.find((s: { name: string }) => s.name === "dns-v6");
    assert.deepEqual(dns.frontend, { address: "fd00:96::a", port: 53, protocol: "UDP" }, "canonical frontend");

    assert.deepEqual((await readdir(out)).sort(), ["manifest.json", "tables"], "no staging left behind");
  });

  test("output is byte-identical across runs, across shuffled input order and across YAML and JSON", async () => {
    const raw = await fixture("services.yaml");
    const reordered: RawFile = {
      ...raw,
      services: shuffled(raw.services, 7).map((s) => ({ ...s, backends: shuffled(s.backends, 11) })),
    };
    assert.notDeepEqual(reordered.services.map((s) => s.name), raw.services.map((s) => s.name));

    const outs = [fresh("a"), fresh("b"), fresh("c"), fresh("d")];
    const inputs = ["services.yaml", "services.yaml", await writeServices(reordered), "services.json"];
    for (const [i, out] of outs.entries()) {
      const run = cli(["maglev", "--input", inputs[i]!, "--out", out, "--quiet"]);
      assert.equal(run.code, 0, run.stderr);
    }
    const [first, ...rest] = await Promise.all(outs.map(snapshot));
    assert.equal(first!.size, 4);
    for (const other of rest) {
      assert.deepEqual([...other.keys()].sort(), [...first!.keys()].sort());
      for (const [file, bytes] of first!) assert.ok(other.get(file)!.equals(bytes), `${file} differs`);
    }
  });

  test("command-line flags override the file's settings", async () => {
    const out = fresh("out");
    const run = cli(["maglev", "--input", "services.yaml", "--out", out, "--table-size", "251", "--key-format", "cilium-legacy",
      "--hash-seed", "AAAAAAAAAAAAAAAA", "--quiet"]);
    assert.equal(run.code, 0, run.stderr);
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    assert.equal(manifest.tableSize, 251);
    assert.equal(manifest.keyFormat, "cilium-legacy");
    assert.equal(manifest.hashSeed, "AAAAAAAAAAAAAAAA");
    const web = manifest.services.find((s: { name: string }) => s.name === "web");
    assert.equal(web.backends[0].key, "10.244.1.11:8080");
    assert.equal((await stat(join(out, web.file))).size, 251 * 4);
  });

  test("a second run over an up-to-date directory writes nothing", async () => {
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const before = (await stat(join(out, "manifest.json"))).mtimeMs;
    const run = cli(["maglev", "--input", "services.yaml", "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /up to date/);
    assert.equal((await stat(join(out, "manifest.json"))).mtimeMs, before);
  });

  test("rewriting replaces the tables directory: a removed service's table goes", async () => {
    const raw = await fixture("services.yaml");
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const fewer = await writeServices({ ...raw, services: raw.services.filter((s) => s.name !== "web") });
    assert.equal(cli(["maglev", "--input", fewer, "--out", out]).code, 0);
    assert.deepEqual((await readdir(join(out, "tables"))).sort(), ["dns-v6.bin", "shop_checkout.bin"]);
    assert.deepEqual((await readdir(out)).sort(), ["manifest.json", "tables"]);
  });

  test("the staging directory of a killed run is ignored by --check and removed by the next write", async () => {
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const leftover = join(out, ".wasmplane-staging-killed");
    await mkdir(join(leftover, "tables"), { recursive: true });
    await writeFile(join(leftover, "tables", "web.bin"), "partial");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out, "--check"]).code, 0);
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    assert.deepEqual((await readdir(out)).sort(), ["manifest.json", "tables"]);
  });

  test("an --out that is a file is an input error", async () => {
    const file = fresh("file");
    await writeFile(file, "");
    assert.match(oneLineError(cli(["maglev", "--input", "services.yaml", "--out", file])), /: is not a directory$/);
  });

  test("--output json prints one JSON document on stdout", async () => {
    const out = fresh("out");
    const run = cli(["maglev", "--input", "services.yaml", "--out", out, "--output", "json"]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.status, "written");
    assert.equal(result.tableSize, 1021);
    assert.equal(result.keyFormat, "cilium");
    assert.equal(result.manifest, join(out, "manifest.json"));
    assert.equal(result.services.length, 3);
    for (const s of result.services) {
      assert.deepEqual(Object.keys(s), ["name", "file", "sha256", "backends", "maxMinRatio"]);
      assert.match(s.sha256, /^[0-9a-f]{64}$/);
    }
    assert.ok(Array.isArray(result.warnings));
  });

  test("progress goes to stderr on large inputs, never into --output json, and --quiet silences it", async () => {
    const services: RawService[] = Array.from({ length: 60 }, (_, i) => ({
      name: `svc-${String(i).padStart(2, "0")}`,
      frontend: { address: `10.96.1.${i}`, port: 80, protocol: "TCP" },
      backends: [1, 2].map((k) => ({ id: i * 10 + k, address: `10.1.${i}.${k}`, port: 8080 })),
    }));
    const input = await writeServices({ tableSize: 251, services });

    const loud = cli(["maglev", "--input", input, "--out", fresh("out"), "--output", "json"]);
    assert.equal(loud.code, 0, loud.stderr);
    assert.match(loud.stderr, /built 60\/60 services/);
    assert.equal(JSON.parse(loud.stdout).services.length, 60);

    const quiet = cli(["maglev", "--input", input, "--out", fresh("out"), "--output", "json", "--quiet"]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
    assert.equal(JSON.parse(quiet.stdout).services.length, 60);
  });
});

describe("wasmplane maglev --check", () => {
  test("exits 0 on an unchanged directory and writes nothing", async () => {
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const before = await snapshot(out);
    const mtime = (await stat(join(out, "manifest.json"))).mtimeMs;

    const run = cli(["maglev", "--input", "services.yaml", "--out", out, "--check"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /up to date/);
    assert.deepEqual(await snapshot(out), before);
    assert.equal((await stat(join(out, "manifest.json"))).mtimeMs, mtime);
    assert.deepEqual((await readdir(out)).sort(), ["manifest.json", "tables"]);

    const json = cli(["maglev", "--input", "services.yaml", "--out", out, "--check", "--output", "json"]);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), { status: "up-to-date", input: "services.yaml", out, drift: [], warnings: [] });
  });

  test("exits 1 after a one-backend change, names the service and counts the slots", async () => {
    const raw = await fixture("services.yaml");
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const before = await snapshot(out);

    const changed = structuredClone(raw);
    changed.services.find((s) => s.name === "web")!.backends.pop();
    const input = await writeServices(changed);
    const run = cli(["maglev", "--input", input, "--out", out, "--check"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^drift: /);
    assert.match(run.stdout, /web: \d+ of 1021 slots changed \([\d.]+%\); backends removed: 4/);
    assert.doesNotMatch(run.stdout, /checkout|dns-v6/, "only the changed service");
    assert.deepEqual(await snapshot(out), before, "--check writes nothing");

    const json = JSON.parse(cli(["maglev", "--input", input, "--out", out, "--check", "--output", "json"]).stdout);
    assert.equal(json.status, "drift");
    assert.equal(json.drift.length, 1);
    const [drift] = json.drift;
    assert.equal(drift.kind, "service-changed");
    assert.equal(drift.service, "web");
    assert.equal(drift.tableSize, 1021);
    // The removed backend held about a quarter of the table, and those slots all moved.
    const builder = await createMaglev({ tableSize: 1021 });
    const old = builder.build(backendsOf(raw.services.find((s) => s.name === "web")!));
    assert.ok(drift.changedSlots >= builder.stats(old).slotsPerBackend.get(4)!);
    assert.ok(drift.changedSlots < 1021 / 2);
  });

  test("reports added and removed services and changed settings", async () => {
    const raw = await fixture("services.yaml");
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const renamed = structuredClone(raw);
    renamed.services[0]!.name = "web2";
    const input = await writeServices(renamed);

    const run = cli(["maglev", "--input", input, "--out", out, "--check", "--hash-seed", "AAAAAAAAAAAAAAAA"]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /hashSeed: JLfvgnHc2kaSUFaI → AAAAAAAAAAAAAAAA/);
    assert.match(run.stdout, /web2: added/);
    assert.match(run.stdout, /web: removed/);
  });

  test("exits 1 when the directory holds nothing yet, without creating it", () => {
    const out = fresh("out");
    const run = cli(["maglev", "--input", "services.yaml", "--out", out, "--check"]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /manifest.json: missing/);
    assert.equal(existsSync(out), false);
  });

  test("notices a table file that was tampered with", async () => {
    const out = fresh("out");
    assert.equal(cli(["maglev", "--input", "services.yaml", "--out", out]).code, 0);
    const file = join(out, "tables", "web.bin");
    const bytes = await readFile(file);
    bytes.writeUInt32LE(bytes.readUInt32LE(0) === 1 ? 2 : 1, 0);
    await writeFile(file, bytes);
    const run = cli(["maglev", "--input", "services.yaml", "--out", out, "--check"]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /web: 1 of 1021 slots changed .*does not match the manifest's sha256/);
  });
});

describe("input errors", () => {
  // Each case: exit 2, one line naming the file, the service and the field; nothing written.
  const cases: { title: string; args: string[]; expect: RegExp; code: string; field?: string }[] = [
    {
      title: "an invalid IP",
      args: ["--input", "invalid-ip.yaml"],
      expect: /^wasmplane: error: invalid-ip\.yaml: services\[2\] "web" backends\[1\]\.address: is not a valid IPv4 or IPv6 address \(got "10\.0\.0\.300"\)$/,
      code: "INVALID_INPUT",
      field: "services[2].backends[1].address",
    },
    {
      title: "a file that does not parse",
      args: ["--input", "invalid-syntax.yaml"],
      expect: /^wasmplane: error: invalid-syntax\.yaml:\d+:\d+: .+/,
      code: "PARSE_ERROR",
    },
    {
      title: "a duplicate backend",
      args: ["--input", "duplicate-backend.yaml"],
      expect: /^wasmplane: error: duplicate-backend\.yaml: services\[0\] "web" backends\[2\]: is the same backend as backends\[0\]/,
      code: "DUPLICATE_BACKEND",
      field: "services[0].backends[2]",
    },
    {
      title: "a duplicate service name",
      args: ["--input", "duplicate-service.yaml"],
      expect: /^wasmplane: error: duplicate-service\.yaml: services\[1\] "web" name: is already used by services\[0\]/,
      code: "INVALID_INPUT",
      field: "services[1].name",
    },
    {
      title: "a non-prime table size in the file",
      args: ["--input", "invalid-table-size.yaml"],
      expect: /^wasmplane: error: invalid-table-size\.yaml: tableSize: must be a prime number/,
      code: "INVALID_TABLE_SIZE",
      field: "tableSize",
    },
    {
      title: "a non-prime table size on the command line",
      args: ["--input", "services.yaml", "--table-size", "1000"],
      expect: /^wasmplane: error: --table-size: must be a prime number .*\(got 1000\)$/,
      code: "INVALID_TABLE_SIZE",
      field: "--table-size",
    },
    {
      title: "a bad hash seed in the file",
      args: ["--input", "invalid-hash-seed.yaml"],
      expect: /^wasmplane: error: invalid-hash-seed\.yaml: hashSeed: is not valid standard base64/,
      code: "INVALID_HASH_SEED",
      field: "hashSeed",
    },
    {
      title: "a bad hash seed on the command line",
      args: ["--input", "services.yaml", "--hash-seed", "c2hvcnQ="],
      expect: /^wasmplane: error: --hash-seed: decodes to 5 bytes; a hash seed must be exactly 12 bytes/,
      code: "INVALID_HASH_SEED",
      field: "--hash-seed",
    },
    {
      title: "an unknown key format in the file",
      args: ["--input", "invalid-key-format.yaml"],
      expect: /^wasmplane: error: invalid-key-format\.yaml: keyFormat: must be one of cilium, cilium-legacy \(got "katran"\)$/,
      code: "INVALID_INPUT",
      field: "keyFormat",
    },
    {
      title: "an unknown key format on the command line",
      args: ["--input", "services.yaml", "--key-format", "katran"],
      expect: /^wasmplane: error: --key-format: must be one of cilium, cilium-legacy/,
      code: "INVALID_INPUT",
      field: "--key-format",
    },
    {
      title: "a misspelt field",
      args: ["--input", "unknown-field.yaml"],
      expect: /^wasmplane: error: unknown-field\.yaml: services\[0\] "web" backends\[0\]\.wieght: is not a known field/,
      code: "INVALID_INPUT",
      field: "services[0].backends[0].wieght",
    },
    {
      title: "a missing file",
      args: ["--input", "no-such-file.yaml"],
      expect: /^wasmplane: error: no-such-file\.yaml: no such file$/,
      code: "FILE_NOT_FOUND",
    },
  ];

  for (const c of cases) {
    test(`${c.title}: exit 2, one line, nothing written`, () => {
      const out = fresh("out");
      const text = cli(["maglev", ...c.args, "--out", out]);
      assert.match(oneLineError(text), c.expect);
      assert.equal(text.stdout, "");
      assert.equal(existsSync(out), false, "nothing written");

      const json = cli(["maglev", ...c.args, "--out", out, "--output", "json"]);
      assert.equal(json.code, 2);
      const { error } = JSON.parse(json.stdout);
      assert.equal(error.code, c.code);
      assert.equal(`wasmplane: error: ${error.message}`, oneLineError(text));
      if (c.field) assert.equal(error.field, c.field);
      else assert.equal("field" in error, false);
      assert.deepEqual(Object.keys(error).sort(), c.field ? ["code", "field", "message"] : ["code", "message"]);
      assert.equal(existsSync(out), false);
    });
  }

  test("usage errors exit 2 with one line, in JSON too", () => {
    assert.match(oneLineError(cli(["maglev", "--out", fresh("out")])), /required option '-i, --input <file>' not specified/);
    assert.match(oneLineError(cli(["maglev", "--input", "services.yaml", "--out", "x", "--bogus"])), /unknown option '--bogus'/);
    assert.match(oneLineError(cli(["frobnicate"])), /unknown command 'frobnicate'/);
    const json = cli(["maglev", "--input", "services.yaml", "--out", "x", "--bogus", "--output", "json"]);
    assert.equal(json.code, 2);
    assert.equal(JSON.parse(json.stdout).error.code, "USAGE");
  });

  test("no command prints the help to stderr and exits 2", () => {
    const run = cli([]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage: wasmplane/);
  });
});

// The offline demo, asked for explicitly: as root the plain command runs the
// live one (test/demo.test.ts).
describe("wasmplane demo --offline", () => {
  test("prints the four sections", () => {
    const run = cli(["demo", "--offline"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, /table size 16381, hash seed JLfvgnHc2kaSUFaI, key format cilium/);
    assert.match(run.stdout, /1\. Spread/);
    assert.match(run.stdout, /2\. Minimal disruption/);
    assert.match(run.stdout, /3\. Determinism/);
    assert.match(run.stdout, /weighted/);
    assert.match(run.stdout, /\[fd00:/, "an IPv6 service");
    assert.match(run.stdout, /█/);
    assert.equal(run.stdout.match(/identical/g)?.length, 3);
    assert.doesNotMatch(run.stdout, /DIFFERENT/);
    assert.match(run.stdout, /4\. Policy/);
    assert.match(run.stdout, /tools\/debug -> shop\/web:8080 +DROPPED +policy-deny +ccnp\/quarantine-tools ingressDeny\[0\]/);
    assert.match(run.stdout, /shop\/web -> shop\/db:5432 +FORWARDED +allowed/);
    assert.match(run.stdout, /shop\/worker -> shop\/db:5432 +DROPPED +default-deny/);
  });

  test("--output json has the numbers behind the text", () => {
    const run = cli(["demo", "--offline", "--output", "json"]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.mode, "offline");
    assert.equal(report.tableSize, 16381);
    assert.ok(report.services.length >= 2 && report.services.length <= 3);
    assert.ok(report.services.some((s: { weighted: boolean }) => s.weighted));
    for (const s of report.services) {
      assert.ok(s.backends.length >= 3 && s.backends.length <= 10);
      assert.equal(s.backends.reduce((sum: number, b: { slots: number }) => sum + b.slots, 0), 16381);
      // Minimal disruption: the removed backend's slots move, and only a few others.
      assert.ok(s.removal.changedSlots >= s.removal.removedSlots);
      assert.equal(s.removal.changedSlots - s.removal.removedSlots, s.removal.changedFromRemaining);
      assert.ok(s.removal.changedFromRemainingFraction < 0.01);
      assert.equal(s.order.identical, true);
      assert.equal(s.order.sha256, s.order.shuffledSha256);
    }
    const checkout = report.services.find((s: { weighted: boolean }) => s.weighted);
    const [light, , heavy] = checkout.backends;
    assert.ok(Math.abs(heavy.slots / light.slots - 2) < 0.01, "weight 200 gets twice the slots of weight 100");
  });
});

describe("conventions", () => {
  test("--help works for the program and every command", () => {
    for (const args of [["--help"], ["maglev", "--help"], ["demo", "--help"], ["help", "maglev"]]) {
      const run = cli(args);
      assert.equal(run.code, 0, args.join(" "));
      assert.match(run.stdout, /^Usage: wasmplane/);
    }
    assert.match(cli(["maglev", "--help"]).stdout, /--check/);
  });

  test("--version prints package.json's version", async () => {
    const { version } = JSON.parse(await readFile(PACKAGE, "utf8"));
    const run = cli(["--version"]);
    assert.equal(run.code, 0);
    assert.equal(run.stdout.trim(), version);
  });
});
