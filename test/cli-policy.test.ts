/**
 * `wasmplane policy check` and `policy map` on the example state and on
 * broken states: verdicts with their rules, exit codes, JSON, one-line errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cli = new URL("../dist/cli.js", import.meta.url).pathname;
const state = new URL("../examples/state", import.meta.url).pathname;

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("policy check: a deny beats the allow, with the deciding policy named; exit 1", () => {
  const r = run("policy", "check", "--state", state, "--from", "tools/debug", "--to", "shop/web", "--port", "8080/TCP");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /DENIED/);
  assert.match(r.stdout, /ingress .* deny +policy-deny +ccnp\/quarantine-tools rule 0 ingressDeny\[0\]/);
});

test("policy check: named port allow; exit 0; JSON output", () => {
  const r = run("policy", "check", "--state", state, "--from", "shop/web", "--to", "shop/db", "--port", "5432", "--output", "json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { allowed: boolean; ingress: { reason: string; rules: Array<{ policy: string }> }; egress: { reason: string } };
  assert.equal(out.allowed, true);
  assert.equal(out.ingress.reason, "allowed");
  assert.equal(out.ingress.rules[0]!.policy, "knp/shop/db-from-web");
  assert.equal(out.egress.reason, "not-enforced");
});

test("policy check: the world is default-denied by the NetworkPolicy", () => {
  const r = run("policy", "check", "--state", state, "--from", "8.8.8.8", "--to", "shop/db", "--port", "5432/TCP", "--output", "json");
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { ingress: { reason: string } };
  assert.equal(out.ingress.reason, "default-deny");
});

test("policy map lists the endpoint's entries", () => {
  const r = run("policy", "map", "--state", state, "--endpoint", "shop/db", "--output", "json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { entries: Array<{ direction: string; protocol: number; port: number; prefixLength: number; deny: boolean }> };
  assert.ok(out.entries.some((e) => e.direction === "ingress" && e.protocol === 6 && e.port === 5432 && e.prefixLength === 24 && !e.deny));
  assert.ok(out.entries.some((e) => e.direction === "ingress" && e.deny));
});

test("bad input: one-line errors naming the file and field, exit 2", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasmplane-policy-"));
  try {
    writeFileSync(join(dir, "broken.yaml"), "kind: Pod\nmetadata: {name: a\n");
    let r = run("policy", "check", "--state", dir, "--from", "a/b", "--to", "c/d", "--port", "80");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^wasmplane: error: .*broken\.yaml:\d+:\d+: /);
    assert.equal(r.stderr.trim().split("\n").length, 1);

    writeFileSync(join(dir, "broken.yaml"), [
      "apiVersion: cilium.io/v2", "kind: CiliumNetworkPolicy", "metadata: { name: bad, namespace: x }",
      "spec:", "  endpointSelector: {}", "  ingress:", "    - fromCIDR: [10.0.0.300/8]",
    ].join("\n"));
    r = run("policy", "check", "--state", dir, "--from", "a/b", "--to", "c/d", "--port", "80");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /broken\.yaml.*fromCIDR\[0\]/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);

    r = run("policy", "check", "--state", state, "--from", "shop/web", "--to", "shop/nope", "--port", "80");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /query\.to: .*not a known pod/);

    r = run("policy", "check", "--state", state, "--from", "shop/web", "--to", "shop/db", "--port", "80/ICMP");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port/);

    r = run("policy", "map", "--state", join(dir, "missing"), "--endpoint", "x/a");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing: no such file or directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
