/**
 * src/endpoint/layouts.ts against bpf/include/wasmplane/abi.h: every layout
 * against the BTF clang emits for tc_endpoint.o, the constants against the
 * header's #defines, and the encoders' bytes for known values.
 *
 * Needs clang and the libbpf headers (no root): skipped without them, a
 * failure with CI=true.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { assertLayoutMatchesBtf } from "../src/bpf/index.js";
import { parseCidr } from "../src/identity/cidr.js";
import * as L from "../src/endpoint/layouts.js";
import { buildBpf } from "../scripts/build-bpf.mjs";
import { requireTools, skipOrFail } from "./support/privileges.js";

const ABI = readFileSync(new URL("../bpf/include/wasmplane/abi.h", import.meta.url), "utf8");
let work: string | undefined;
let object: string | undefined;

function compiled(t: TestContext): string | undefined {
  if (!requireTools(t, "clang")) return undefined;
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return skipOrFail(t, "needs the libbpf headers (Debian: apt-get install libbpf-dev)") || undefined;
  if (!object) {
    work = mkdtempSync(join(tmpdir(), "wasmplane-endpoint-layouts-"));
    [object] = buildBpf({ outDir: work, sources: [new URL("../bpf/tc_endpoint.c", import.meta.url).pathname] });
  }
  return object;
}

after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

function define(name: string): number {
  const m = new RegExp(`#define\\s+${name}\\s+(\\S+)`).exec(ABI);
  assert.ok(m, `${name} is defined in abi.h`);
  return Number(m[1]);
}

describe("src/endpoint/layouts.ts mirrors abi.h", () => {
  it("every layout matches the BTF of tc_endpoint.o", (t) => {
    const obj = compiled(t);
    if (!obj) return;
    for (const [name, layout] of Object.entries(L.ENDPOINT_LAYOUTS)) assertLayoutMatchesBtf(obj, name, layout);
  });

  it("constants equal the header's", () => {
    assert.equal(L.WP_POLICY_PREFIX_BASE, define("WP_POLICY_PREFIX_BASE"));
    assert.equal(L.WP_POLICY_PREFIX_FULL, define("WP_POLICY_PREFIX_FULL"));
    for (const [name, value] of Object.entries(L.WP_POLICY_F)) assert.equal(value, define(`WP_POLICY_F_${name}`), name);
    assert.equal(L.WP_IPCACHE_PREFIX_BASE, define("WP_IPCACHE_PREFIX_BASE"));
    assert.equal(L.WP_IDENTITY_WORLD, define("WP_IDENTITY_WORLD"));
    assert.equal(L.WP_DIR.INGRESS, define("WP_DIR_INGRESS"));
    assert.equal(L.WP_DIR.EGRESS, define("WP_DIR_EGRESS"));
    assert.equal(L.WP_CT_F.CLOSING, define("WP_CT_F_CLOSING"));
    for (const [name, value] of Object.entries(L.WP_PREC)) assert.equal(value, define(`WP_PREC_${name}`), name);
  });

  it("policy keys: prefix length, big-endian port, bits beyond the prefix cleared", () => {
    const entry = { identity: 0x01020304, direction: "egress" as const, protocol: 6, port: 0x1f90, endPort: 0x1f97, prefixLength: 8 + 13, deny: false, proxy: false, precedence: 3 };
    const key = L.encodePolicyKey(0x0a0b0c0d, { ...entry, port: 0x1f95 });
    assert.deepEqual([...key], [93, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a, 0x04, 0x03, 0x02, 0x01, 1, 6, 0x1f, 0x90]);
    assert.deepEqual(L.decodePolicyKey(key), { subject: 0x0a0b0c0d, peer: 0x01020304, direction: "egress", protocol: 6, port: 0x1f90, prefixLength: 21 });
    const any = L.encodePolicyKey(7, { ...entry, protocol: 17, port: 99, prefixLength: 0, direction: "ingress" });
    assert.deepEqual([...any.subarray(12)], [0, 0, 0, 0]);
    assert.throws(() => L.encodePolicyKey(7, { ...entry, prefixLength: 25 }), /prefixLength/);
    assert.deepEqual([...L.encodePolicyValue(4, 258)], [4, 0, 0, 0, 2, 1, 0, 0]);
    assert.throws(() => L.encodePolicyValue(0, 1), /precedence/);
  });

  it("ipcache keys: family, prefix length from the family byte, address masked", () => {
    const k4 = L.encodeIpcacheKey(parseCidr("10.1.2.0/23"));
    assert.deepEqual([...k4], [55, 0, 0, 0, 4, 0, 0, 0, 10, 1, 2, 0, ...new Array(12).fill(0)]);
    const k6 = L.encodeIpcacheKey(parseCidr("fd00:1::10/128"));
    assert.equal(new DataView(k6.buffer).getUint32(0, true), 160);
    assert.equal(k6[4], 6);
    assert.equal(k6[23], 0x10);
  });
});
