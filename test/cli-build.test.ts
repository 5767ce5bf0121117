/**
 * `wasmplane build`: every file with its checksum in the manifest, the same
 * bytes for a shuffled state, `--check` passing on an unchanged state and
 * naming the service and the slots moved after a one-backend change, JSON
 * output, and one-line errors with exit 2 while the rest is still built.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { validateServices } from "../src/index.js";

const cli = new URL("../dist/cli.js", import.meta.url).pathname;
const examples = new URL("../examples/state", import.meta.url).pathname;

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "wasmplane-build-"));
}

/** Every file under `dir` with its bytes' sha256, by relative path. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out[relative(dir, full)] = createHash("sha256").update(readFileSync(full)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

test("build writes every table and a manifest whose checksums match the files", () => {
  const out = tmp();
  try {
    const r = run("build", "--state", examples, "--out", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wrote 10 services \(9 Maglev tables\), 7 backends, 5 endpoints in 3 identities, 7 ipcache entries to /);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const files = tree(out);
    const listed = [...manifest.files, ...manifest.maglev.services.map((s: { file: string; sha256: string }) => ({ file: s.file, sha256: s.sha256 }))];
    assert.deepEqual(Object.keys(files).filter((f) => f !== "manifest.json").sort(), listed.map((f) => f.file).sort());
    for (const f of listed) assert.equal(files[f.file], f.sha256, f.file);
    assert.equal(manifest.node, "node-a");
    assert.equal(manifest.maglev.tableSize, 16381);
    // services.json is what the datapath's sync takes.
    const services = JSON.parse(readFileSync(join(out, "lb/services.json"), "utf8")).services;
    validateServices(services);
    const web = services.find((s: { name: string }) => s.name === "shop/web:http/load-balancer/203.0.113.10");
    assert.equal(web.backends.length, 3);
    assert.equal(web.backends.filter((b: { draining?: boolean }) => b.draining).length, 1);
    // A Maglev table holds M u32s; one of a service with no active backend is empty.
    assert.equal(readFileSync(join(out, "tables/shop_web_http_load-balancer_203.0.113.10.bin")).length, 16381 * 4);
    const ipcache = JSON.parse(readFileSync(join(out, "policy/ipcache.json"), "utf8"));
    assert.ok(ipcache.entries.some((e: { prefix: string }) => e.prefix === "fd00:244:1::12/128"));
    const identity = JSON.parse(readFileSync(join(out, "policy/endpoints.json"), "utf8")).endpoints.find((e: { endpoint: string }) => e.endpoint === "shop/db").identity;
    const map = JSON.parse(readFileSync(join(out, `policy/identities/${identity}.json`), "utf8"));
    assert.deepEqual(map.endpoints, ["shop/db"]);
    assert.ok(map.entries.some((e: { direction: string; port: number; deny: boolean }) => e.direction === "ingress" && e.port === 5432 && !e.deny));

    // Unchanged: --check passes, and a second write leaves everything alone.
    const check = run("build", "--state", examples, "--check", out);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^up to date/);
    const again = run("build", "--state", examples, "--out", out);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /is up to date: .*nothing written/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the same objects shuffled into other files give the same bytes", () => {
  const objects: unknown[] = [];
  for (const name of readdirSync(examples).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(examples, name), "utf8")) as unknown as Array<{ toJS(): unknown }>) {
      const v = doc.toJS() as { kind?: string; items?: unknown[] } | null;
      if (v) objects.push(...(v.kind === "List" ? v.items! : [v]));
    }
  }
  const a = tmp();
  const b = tmp();
  const state = tmp();
  try {
    // Reverse order, three files, alternating Lists and documents.
    objects.reverse().forEach((o, i) => {
      const file = join(state, `part-${i % 3}.yaml`);
      const text = stringify(i % 2 ? { apiVersion: "v1", kind: "List", items: [o] } : o);
      writeFileSync(file, existsSync(file) ? `${readFileSync(file, "utf8")}---\n${text}` : text);
    });
    assert.equal(run("build", "--state", examples, "--out", a).code, 0);
    const r = run("build", "--state", state, "--out", b);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tree(b), tree(a));
  } finally {
    for (const d of [a, b, state]) rmSync(d, { recursive: true, force: true });
  }
});

test("build --check: a one-backend change names the service and the slots moved; exit 1; JSON drift", () => {
  const out = tmp();
  const state = tmp();
  try {
    assert.equal(run("build", "--state", examples, "--out", out).code, 0);
    cpSync(examples, state, { recursive: true });
    const slices = join(state, "50-endpointslices.yaml");
    // The database's only endpoint moves to another pod address.
    writeFileSync(slices, readFileSync(slices, "utf8").replace("addresses: [10.244.1.11]", "addresses: [10.244.1.19]"));
    // shop/db is random (no table); give web's IPv4 slice one more ready endpoint instead, too.
    writeFileSync(slices, readFileSync(slices, "utf8").replace(
      "      - addresses: [10.244.2.13]",
      "      - addresses: [10.244.1.30]\n        conditions: { ready: true }\n        nodeName: node-a\n      - addresses: [10.244.2.13]",
    ));
    const r = run("build", "--state", state, "--check", out);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^drift: /);
    const line = r.stdout.split("\n").find((l) => l.includes("shop/web:http/cluster-ip/10.96.10.20:"));
    assert.ok(line, r.stdout);
    const m = /(\d+) of 16381 slots changed/.exec(line!);
    assert.ok(m && Number(m[1]) > 0 && Number(m[1]) < 16381, line);
    assert.match(line!, /backends added: \d+/);
    assert.match(r.stdout, /lb\/services\.json: services changed: shop\/db:postgres\/cluster-ip\/10\.96\.10\.30 \(backends added: 10\.244\.1\.19:5432, backends removed: 10\.244\.1\.11:5432\)/);
    assert.match(r.stdout, /lb\/backends\.json: backends added: /);
    // The IPv6 frontends did not change.
    assert.ok(!r.stdout.includes("cluster-ip/fd00:96::20:"));

    const json = run("build", "--state", state, "--check", out, "--output", "json");
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as { status: string; drift: Array<{ kind: string; service?: string; changedSlots?: number; tableSize?: number }> };
    assert.equal(report.status, "drift");
    const web = report.drift.find((d) => d.service === "shop/web:http/cluster-ip/10.96.10.20")!;
    assert.equal(web.kind, "service-changed");
    assert.equal(web.changedSlots, Number(m![1]));
    assert.equal(web.tableSize, 16381);

    // Writing the new state makes the check pass again.
    assert.equal(run("build", "--state", state, "--out", out).code, 0);
    assert.equal(run("build", "--state", state, "--check", out).code, 0);
    // A hand-edited file is drift too.
    writeFileSync(join(out, "policy/ipcache.json"), "{}\n");
    const edited = run("build", "--state", state, "--check", out);
    assert.equal(edited.code, 1);
    assert.match(edited.stdout, /policy\/ipcache\.json: prefixes added: /);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});

test("bad input: one line per object left out, no stack, exit 2; the rest is still built", () => {
  const out = tmp();
  const state = tmp();
  try {
    cpSync(examples, state, { recursive: true });
    writeFileSync(join(state, "60-broken.yaml"), "kind: Service\nmetadata: {name: a\n");
    writeFileSync(join(state, "61-bad.yaml"), "apiVersion: v1\nkind: Service\nmetadata: { name: bad, namespace: shop }\nspec:\n  clusterIP: 10.96.0.40\n  ports: [{ name: http, port: 0 }]\n");
    const r = run("build", "--state", state, "--out", out);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0]!, /^wasmplane: error: .*60-broken\.yaml:\d+:\d+: /);
    assert.match(lines[1]!, /^wasmplane: error: .*61-bad\.yaml: Service shop\/bad: spec\.ports\[0\]\.port: must be an integer from 1 to 65535 \(got 0\)$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(existsSync(join(out, "manifest.json")));
    assert.equal(JSON.parse(readFileSync(join(out, "lb/services.json"), "utf8")).services.length, 10);

    const json = run("build", "--state", state, "--out", out, "--output", "json");
    assert.equal(json.code, 2);
    const result = JSON.parse(json.stdout) as { errors: Array<{ field?: string }> };
    assert.deepEqual(result.errors.map((e) => e.field), [undefined, "spec.ports[0].port"]);

    // Usage errors: one line, exit 2.
    for (const args of [["build", "--state", state], ["build", "--state", join(state, "missing"), "--out", out], ["build", "--state", state, "--out", out, "--table-size", "1000"]]) {
      const u = run(...args);
      assert.equal(u.code, 2, args.join(" "));
      assert.equal(u.stderr.trim().split("\n").length, 1, u.stderr);
      assert.match(u.stderr, /^wasmplane: error: /);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
