/**
 * src/lb/layouts.ts against bpf/include/wasmplane/abi.h: every struct's
 * layout against the BTF clang emits for xdp_lb.o (any drift fails), every
 * abi.h struct mirrored, the WP_* constants equal, and the encoders' bytes
 * for known values. Also the load-time knobs (src/lb/knobs.ts,
 * elf-globals.ts) against the object's .rodata globals.
 *
 * Needs clang and the libbpf headers (no root): skipped without them,
 * a failure with CI=true.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";

import { assertLayoutMatchesBtf, LayoutMismatchError, readBtfStructs } from "../src/bpf/index.js";
import { InvalidInputError, decodeHashSeed, DEFAULT_HASH_SEED } from "../src/index.js";
import { readElfGlobals, withGlobals } from "../src/lb/elf-globals.js";
import { knobGlobals, resolveKnobs } from "../src/lb/knobs.js";
import * as L from "../src/lb/layouts.js";
import { buildBpf } from "../scripts/build-bpf.mjs";
import { ip16 } from "./fixtures/bpf/packets.js";
import { ABI_MIRRORS, SIZED_BY_BUILD } from "./support/abi-mirrors.js";
import { requireTools, skipOrFail } from "./support/privileges.js";

const ABI = readFileSync(new URL("../bpf/include/wasmplane/abi.h", import.meta.url), "utf8");

let work: string | undefined;
let object: string | undefined;

async function compiled(t: TestContext): Promise<string | undefined> {
  if (!requireTools(t, "clang")) return undefined;
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return skipOrFail(t, "needs the libbpf headers (Debian: apt-get install libbpf-dev)") || undefined;
  if (!object) {
    work = mkdtempSync(join(tmpdir(), "wasmplane-lb-layouts-"));
    [object] = buildBpf({ outDir: work, sources: [new URL("../bpf/xdp_lb.c", import.meta.url).pathname] });
  }
  return object;
}

after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe("src/lb/layouts.ts mirrors abi.h", () => {
  it("every layout matches the BTF of xdp_lb.o", async (t) => {
    const obj = await compiled(t);
    if (!obj) return;
    for (const [name, layout] of Object.entries(L.LAYOUTS)) assertLayoutMatchesBtf(obj, name, layout);
  });

  it("a drifted layout is reported field by field", async (t) => {
    const obj = await compiled(t);
    if (!obj) return;
    const drifted = { size: 12, fields: { ...L.LAYOUTS.wp_service_value.fields, table_slot: { offset: 13, size: 1 } } };
    assert.throws(() => assertLayoutMatchesBtf(obj, "wp_service_value", drifted), (e: unknown) => {
      assert.ok(e instanceof LayoutMismatchError);
      assert.equal(e.code, "LAYOUT_MISMATCH");
      assert.ok(e.differences.some((d) => d.includes("size is 16 in C, 12 in TypeScript")), e.message);
      assert.ok(e.differences.some((d) => d.includes("table_slot is at offset 12")), e.message);
      return true;
    });
  });

  it("every struct abi.h declares has one mirror (wp_maglev_table through its M-dependent layout)", async (t) => {
    const declared = [...ABI.matchAll(/^struct (wp_\w+) \{/gm)].map((m) => m[1]!);
    const mirrored = Object.values(ABI_MIRRORS).flatMap((layouts) => Object.keys(layouts));
    assert.deepEqual(declared.filter((n) => !SIZED_BY_BUILD.includes(n)).sort(), mirrored.sort(), "abi.h structs vs test/support/abi-mirrors.ts");
    assert.ok(declared.includes("wp_maglev_table"));
    assert.deepEqual(L.maglevTableLayout(16381), { size: 65524, fields: { backend_ids: { offset: 0, size: 65524 } } });
    // clang leaves a struct reached only through a map definition's pointer as a
    // forward declaration in BTF; the inner map's value size is checked after load
    // (test/lb-datapath.test.ts) and by _Static_assert in abi.h.
    const obj = await compiled(t);
    if (!obj) return;
    assert.equal(readBtfStructs(obj).get("wp_maglev_table"), undefined);
    assert.match(ABI, /_Static_assert\(sizeof\(struct wp_maglev_table\) == 4 \* WASMPLANE_MAGLEV_M/);
  });

  it("WP_* constants equal abi.h's", () => {
    const define = (name: string) => {
      const m = new RegExp(`^#define ${name}\\s+(0x[0-9a-fA-F]+|\\d+)u?\\b`, "m").exec(ABI) ?? assert.fail(`${name} not in abi.h`);
      return Number(m[1]);
    };
    assert.equal(L.WP_FAMILY.IPV4, define("WP_FAMILY_IPV4"));
    assert.equal(L.WP_FAMILY.IPV6, define("WP_FAMILY_IPV6"));
    assert.equal(L.WP_ALG.MAGLEV, define("WP_ALG_MAGLEV"));
    assert.equal(L.WP_ALG.RANDOM, define("WP_ALG_RANDOM"));
    assert.equal(L.WP_SVC_F.SESSION_AFFINITY, define("WP_SVC_F_SESSION_AFFINITY"));
    assert.equal(L.WP_BACKEND_F.DRAINING, define("WP_BACKEND_F_DRAINING"));
    assert.equal(L.WP_BACKEND_ID_NONE, define("WP_BACKEND_ID_NONE"));
    assert.equal(L.WP_MAGLEV_TABLE_SLOTS, define("WP_MAGLEV_TABLE_SLOTS"));
  });

  it("layouts agree with their own declared sizes (no overlapping or out-of-struct field)", () => {
    for (const [name, layout] of Object.entries(L.LAYOUTS)) {
      const covered = new Uint8Array(layout.size);
      for (const [field, f] of Object.entries(layout.fields) as [string, { offset: number; size: number }][]) {
        assert.ok(f.offset + f.size <= layout.size, `${name}.${field} inside the struct`);
        for (let i = f.offset; i < f.offset + f.size; i++) {
          assert.equal(covered[i], 0, `${name}.${field} overlaps at byte ${i}`);
          covered[i] = 1;
        }
      }
      assert.ok(covered.every((b) => b === 1), `${name}: every byte belongs to a member (padding is spelled out)`);
    }
  });
});

describe("encoders write abi.h's bytes", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

  it("keys and values, byte for byte", () => {
    const vip = ip16("192.0.2.10");
    assert.equal(hex(L.serviceKey.encode({ vip, port: 80, protocol: 6, family: 4 })), `${hex(vip)}0050${"06"}04`);
    assert.equal(hex(L.serviceValue.encode({ serviceId: 7, affinityTimeoutSec: 60, backendCount: 3, algorithm: 1, flags: 1, tableSlot: 1 })),
      "07000000" + "3c000000" + "0300" + "01" + "01" + "01" + "000000");
    assert.equal(hex(L.backendValue.encode({ addr: ip16("fd00:1::1"), port: 8080, family: 6, flags: 1 })), `${hex(ip16("fd00:1::1"))}1f900601`);
    assert.equal(hex(L.vipKey.encode({ vip, family: 4 })), `${hex(vip)}04000000`);
    assert.equal(hex(L.randomSlotKey.encode({ serviceId: 3, slot: 2 })), "0300000002000000");
    assert.equal(hex(L.flowValue.encode({ backendId: 9, serviceId: 1, lastSeenNs: 5n })), "09000000" + "01000000" + "0500000000000000");
    assert.equal(hex(L.affinityKey.encode({ serviceId: 6, family: 4, client: ip16("203.0.113.60") })), `06000000${"04000000"}${hex(ip16("203.0.113.60"))}`);
    const cfg = L.configValue.encode({ encapSrcV6: ip16("fd00:1::fe"), encapSrcV4: Uint8Array.of(10, 0, 0, 254), fallbackMac: Uint8Array.of(2, 0, 0, 0, 0, 0xfe) });
    assert.equal(hex(cfg), `${hex(ip16("fd00:1::fe"))}0a0000fe0200000000fe000000000000`);
  });

  it("decode(encode(x)) is x, and padding is zero", () => {
    const a16 = (text: string) => new Uint8Array(ip16(text));
    const flow = { saddr: a16("2001:db8::1"), daddr: a16("2001:db8::10"), sport: 40000, dport: 53, protocol: 17, family: 6 as const };
    const bytes = L.flowKey.encode(flow, new Uint8Array(40).fill(0xee));
    assert.deepEqual(L.flowKey.decode(bytes), flow);
    assert.equal(hex(bytes.subarray(38, 40)), "0000", "pad zeroed even in a dirty buffer");
    const frag = { saddr: a16("10.0.0.1"), daddr: a16("10.0.0.2"), id: 0x1234, protocol: 17, family: 4 as const };
    assert.deepEqual(L.fragKey.decode(L.fragKey.encode(frag)), frag);
    assert.deepEqual(L.affinityValue.decode(L.affinityValue.encode({ backendId: 4, lastUsedNs: 1n << 40n })), { backendId: 4, lastUsedNs: 1n << 40n });
    assert.deepEqual(L.fragValue.decode(L.fragValue.encode({ sport: 1, dport: 2 })), { sport: 1, dport: 2 });
  });

  it("per-CPU counters are summed over CPUs", () => {
    const two = new Uint8Array(32);
    L.counterValue.encode({ packets: 2n, bytes: 100n }, two.subarray(0, 16));
    L.counterValue.encode({ packets: 3n, bytes: 50n }, two.subarray(16, 32));
    assert.deepEqual(L.sumPerCpuCounter(two), { packets: 5n, bytes: 150n });
  });
});

describe("load-time knobs (.rodata of xdp_lb.o)", () => {
  it("the knob globals exist with the sizes knobs.ts writes, defaulting to config.h's values", async (t) => {
    const obj = await compiled(t);
    if (!obj) return;
    const file = readFileSync(obj);
    const globals = readElfGlobals(file, obj);
    const knobs = knobGlobals(resolveKnobs({ hashSeed: DEFAULT_HASH_SEED }));
    for (const [name, bytes] of Object.entries(knobs)) {
      const g = globals.get(name) ?? assert.fail(`${name} not in the object`);
      assert.equal(g.section, ".rodata", name);
      assert.equal(g.size, bytes.byteLength, `${name} size`);
      // Cilium's default seed gives config.h's defaults: the unpatched object already holds them.
      assert.equal(hex(file.subarray(g.fileOffset, g.fileOffset + g.size)), hex(bytes), `${name} default`);
    }
  });

  it("withGlobals writes each value at its symbol, nothing else", async (t) => {
    const obj = await compiled(t);
    if (!obj) return;
    const file = readFileSync(obj);
    const seeds = decodeHashSeed(Buffer.from("wasmplane-12").toString("base64"));
    const values = knobGlobals(resolveKnobs({ hashSeed: Buffer.from("wasmplane-12").toString("base64"), encapTtl: 17, udpFlowTimeoutSeconds: 5, nextHopCacheMs: 250 }));
    const patched = withGlobals(file, values, ".rodata", obj);
    const g = readElfGlobals(patched);
    const at = (name: string) => patched.subarray(g.get(name)!.fileOffset, g.get(name)!.fileOffset + g.get(name)!.size);
    assert.equal(at("wp_hash_seed_v4").readUInt32LE(0), seeds.jhash0);
    assert.equal(at("wp_hash_seed_v6").readUInt32LE(0), seeds.jhash1);
    assert.equal(at("wp_encap_ttl")[0], 17);
    assert.equal(at("wp_udp_flow_timeout_ns").readBigUInt64LE(0), 5_000_000_000n);
    assert.equal(at("wp_next_hop_cache_ns").readBigUInt64LE(0), 250_000_000n);
    let differing = 0;
    for (let i = 0; i < file.length; i++) if (file[i] !== patched[i]) differing++;
    assert.ok(differing <= 4 + 4 + 1 + 8 + 8, `${differing} bytes changed`);
  });

  it("unknown knobs and wrong sizes are refused by name", async (t) => {
    const obj = await compiled(t);
    if (!obj) return;
    const file = readFileSync(obj);
    assert.throws(() => withGlobals(file, { wp_no_such_knob: new Uint8Array(4) }), (e: unknown) => e instanceof InvalidInputError && e.field === "globals.wp_no_such_knob");
    assert.throws(() => withGlobals(file, { wp_encap_ttl: new Uint8Array(4) }), /must be 1 bytes/);
    assert.throws(() => resolveKnobs({ hashSeed: DEFAULT_HASH_SEED, encapTtl: 0 }), (e: unknown) => e instanceof InvalidInputError && e.field === "encapTtl");
    assert.throws(() => resolveKnobs({ hashSeed: "short" }), (e: unknown) => e instanceof InvalidInputError && e.code === "INVALID_HASH_SEED");
    assert.throws(() => readElfGlobals(Buffer.from("not an elf file at all, not at all, no, not at all, really not.....")), /not an ELF file/);
  });
});

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
