/**
 * The kernel-facing host layer (src/bpf/) against a real kernel: load,
 * verifier errors, maps (single, batch, iteration, full), pinning and reopen,
 * test runs, maps of maps, XDP and tc attach in throwaway network
 * namespaces, and BTF layout checks.
 *
 * The programs come from bpf/test/ and are compiled here into a temporary
 * directory. Tests that need root, clang or iproute2 skip with the reason
 * locally and fail under CI=true (see test/support/privileges.ts). Timings
 * are reported as diagnostics, never asserted.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assertLayoutMatchesBtf, attachXdp, BpfError, BpfLoadError, compareLayoutWithBtf, createInnerMap, createMap,
  ensurePinRoot, innerMapId, interfaceIndex, KernelFeatureError, LayoutMismatchError, loadObject, openPinnedMap,
  readBtfStructs, structCodec, swapInnerMaps, testRun, TypedMap, u32, u64, UnknownInterfaceError, type StructLayout,
} from "../src/bpf/index.js";
import { InvalidInputError } from "../src/errors.js";
import { requireBpf, requireTools, requireX86_64, skipOrFail } from "./support/privileges.js";

const repo = new URL("../", import.meta.url).pathname;
const sources = join(repo, "bpf/test");
let build = "";

before(() => {
  build = mkdtempSync(join(tmpdir(), "wasmplane-bpf-"));
});
after(() => {
  rmSync(build, { recursive: true, force: true });
});

const compiled = new Map<string, string>();

/** Compiles bpf/test/<name>.c for the BPF target into the temporary build directory, once. */
function compile(name: string, extra: string[] = []): string {
  const cached = compiled.get(name);
  if (cached) return cached;
  const out = join(build, `${name}.o`);
  execFileSync("clang", ["-O2", "-g", "-target", "bpf", ...extra, "-I/usr/include/x86_64-linux-gnu", "-c", join(sources, `${name}.c`), "-o", out], { stdio: "pipe" });
  compiled.set(name, out);
  return out;
}

/** `struct wp_test_backend` of bpf/test/layout.h, described for the encoders. */
const BACKEND: StructLayout = {
  size: 16,
  fields: { addr: { offset: 0, size: 4 }, port: { offset: 4, size: 2 }, proto: { offset: 6, size: 1 }, flags: { offset: 7, size: 1 }, packets: { offset: 8, size: 8 } },
};

const key32 = (i: number) => new Uint32Array([i]);

// ---- no kernel needed ----------------------------------------------------------

test("importing wasmplane and its BPF layer, and building a table, load neither koffi nor libbpf", () => {
  // A resolve hook that fails on koffi or the FFI bindings, then a check of
  // the process's mappings for koffi's native module and libbpf.so.
  const hook = `export async function resolve(specifier, context, next) {
    if (specifier === "koffi" || specifier.startsWith("koffi/") || specifier.includes("bindings/ffi/")) {
      throw new Error("koffi was imported: " + specifier + " from " + context.parentURL);
    }
    return next(specifier, context);
  }`;
  const script = `
    import { register } from "node:module";
    import { readFileSync } from "node:fs";
    import { createRequire } from "node:module";
    register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hook)}));
    const lib = await import(${JSON.stringify(new URL("../src/index.ts", import.meta.url).href)});
    await import(${JSON.stringify(new URL("../src/bpf/index.ts", import.meta.url).href)});
    const maglev = await lib.createMaglev({ tableSize: 251 });
    const table = maglev.build([{ id: 1, address: "10.0.0.1", port: 80, protocol: "TCP" }]);
    const maps = readFileSync("/proc/self/maps", "utf8");
    const cjs = Object.keys(createRequire(import.meta.url).cache);
    // Control: the hook does catch the first real use of the kernel layer.
    const { loadLibbpf } = await import(${JSON.stringify(new URL("../src/bpf/libbpf.ts", import.meta.url).href)});
    const caught = await loadLibbpf().then(() => "loaded", (e) => e.code + ": " + e.message);
    console.log(JSON.stringify({ slots: table.length, koffiMapped: /koffi/.test(maps), libbpfMapped: /libbpf\\.so/.test(maps), koffiRequired: cjs.some((k) => k.includes("koffi")), control: /^KERNEL_FEATURE: .*koffi was imported/.test(caught) }));`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repo, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout.trim().split("\n").at(-1)!), { slots: 251, koffiMapped: false, libbpfMapped: false, koffiRequired: false, control: true });
});

test("BTF layout check: passes for the header's layout, fails for a wrong offset or a missing field", (t) => {
  if (!requireTools(t, "clang")) return;
  const obj = compile("host_test");
  const structs = readBtfStructs(obj);
  assert.deepEqual(structs.get("wp_test_backend")?.members.map((m) => [m.name, m.offset, m.size]), [
    ["addr", 0, 4], ["port", 4, 2], ["proto", 6, 1], ["flags", 7, 1], ["packets", 8, 8],
  ]);
  assertLayoutMatchesBtf(obj, "wp_test_backend", BACKEND);
  assertLayoutMatchesBtf(obj, "wp_test_lpm_key", { size: 8, fields: { prefixlen: { offset: 0, size: 4 }, addr: { offset: 4, size: 4 } } });

  const shifted: StructLayout = { size: 16, fields: { ...BACKEND.fields, proto: { offset: 7, size: 1 } } };
  assert.throws(() => assertLayoutMatchesBtf(obj, "wp_test_backend", shifted), (e: unknown) => {
    assert.ok(e instanceof LayoutMismatchError);
    assert.equal(e.code, "LAYOUT_MISMATCH");
    assert.deepEqual(e.differences, ["proto is at offset 6, 1 bytes in C; offset 7, 1 bytes in TypeScript"]);
    return true;
  });
  const { packets: _dropped, ...withoutPackets } = BACKEND.fields;
  assert.match(compareLayoutWithBtf(obj, "wp_test_backend", { size: 16, fields: withoutPackets }).join(), /packets .* is missing in TypeScript/);
  assert.deepEqual(compareLayoutWithBtf(obj, "no_such_struct", BACKEND), [`struct no_such_struct is not in the BTF of ${obj}`]);
});

test("BTF reader agrees with bpftool on every struct of the test object", (t) => {
  if (!requireTools(t, "clang", "bpftool")) return;
  const obj = compile("host_test");
  const dump = JSON.parse(execFileSync("bpftool", ["btf", "dump", "file", obj, "format", "raw", "-j"], { encoding: "utf8" })) as {
    types: Array<{ kind: string; name: string; size?: number; members?: Array<{ name: string; bits_offset: number }> }>;
  };
  const ours = readBtfStructs(obj);
  const theirs = dump.types.filter((ty) => (ty.kind === "STRUCT" || ty.kind === "UNION") && ty.name !== "(anon)");
  assert.ok(theirs.length >= 3);
  for (const ty of theirs) {
    const mine = ours.get(ty.name);
    assert.ok(mine, ty.name);
    assert.equal(mine.size, ty.size, ty.name);
    const members = (ty.members ?? []).map((m) => [m.name === "(anon)" ? "" : m.name, m.bits_offset]);
    assert.deepEqual(mine.members.map((m) => [m.name, m.bitOffset]), members, ty.name);
  }
});

test("koffi declarations of libbpf's option structs match libbpf.h as clang lays it out", async (t) => {
  if (!requireX86_64(t) || !requireTools(t, "clang") || !(await requireBpf(t))) return;
  const { loadLibbpf } = await import("../src/bpf/libbpf.js");
  const { STRUCT_SIZES } = await import("../src/bpf/ffi-types.js");
  // Type-check the bindings with the tests: the build compiles src/ only.
  const { bindLibbpf } = await import("../bindings/ffi/libbpf.js");
  assert.equal(typeof bindLibbpf, "function");
  const lib = await loadLibbpf();
  const probe = compile("libbpf_layout", ["-D__x86_64__"]);
  const btf = readBtfStructs(probe);
  for (const name of Object.keys(STRUCT_SIZES) as Array<keyof typeof STRUCT_SIZES>) {
    const declared = lib.raw.structLayout(name);
    const c = btf.get(name);
    assert.ok(c, `${name} in the probe's BTF`);
    assert.equal(declared.size, STRUCT_SIZES[name], name);
    assert.equal(c.size, declared.size, `${name}: sizeof in C`);
    // Unnamed bitfields (libbpf's `__u32 :32` holes) are not in BTF; our names for them start with "_".
    const named = Object.entries(declared.members).filter(([member]) => !member.startsWith("_"));
    assert.deepEqual(named.map(([member, m]) => [member, m.offset, m.size]), c.members.map((m) => [m.name, m.offset, m.size]), name);
  }
});

// ---- kernel ------------------------------------------------------------------------

test("loadObject: programs and maps by name, inner template of a map of maps; close invalidates handles", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  const pins = mountBpffs(t);
  if (!pins) return;
  try {
    const obj = await loadObject(compile("host_test"), { pinRoot: join(pins, "load") });
    assert.deepEqual([...obj.programs.keys()].sort(), ["tc_mark", "xdp_count", "xdp_swap_mac"]);
    assert.equal(obj.program("xdp_count").typeName, "xdp");
    assert.equal(obj.program("tc_mark").typeName, "sched_cls");
    assert.deepEqual([...obj.maps.keys()].sort(), ["backends", "packets", "pinned", "prefixes", "services"]);
    const services = obj.map("services");
    assert.deepEqual(services.inner, { type: 2, keySize: 4, valueSize: 4, maxEntries: 16, flags: 0 });
    assert.throws(() => obj.map("nope"), (e: unknown) => e instanceof InvalidInputError && /maps: .*backends/.test(e.message));
    const program = obj.program("xdp_count");
    obj.close();
    assert.throws(() => program.fd, BpfError);
    assert.throws(() => services.lookup(key32(0)), (e: unknown) => e instanceof BpfError && e.errnoName === "EBADF");
    obj.close(); // idempotent
  } finally {
    unmount(pins);
  }
});

test("a program the verifier rejects: BpfLoadError with the verifier log, errno and program", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  await assert.rejects(loadObject(compile("verifier_reject")), (e: unknown) => {
    assert.ok(e instanceof BpfLoadError);
    assert.equal(e.code, "BPF_LOAD_FAILED");
    assert.equal(e.errnoName, "EACCES");
    assert.equal(e.program, "xdp_unchecked");
    assert.match(e.verifierLog, /invalid access to packet/);
    assert.match(e.message, /program "xdp_unchecked".*verifier: .*invalid access to packet/);
    assert.ok(e.libbpfMessages.some((m) => m.includes("xdp_unchecked")));
    return true;
  });
  await assert.rejects(loadObject(join(build, "missing.o")), InvalidInputError);
});

test("maps: typed update, lookup, delete, iteration; a full map names itself", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  const obj = await loadObject(compile("host_test"), { pin: false });
  try {
    const backends = new TypedMap(obj.map("backends"), u32, structCodec(BACKEND));
    const value = (i: number) => ({ addr: 0x0a000000 + i, port: 8080, proto: 6, flags: i, packets: BigInt(i) << 40n });
    for (let i = 1; i <= 4; i++) backends.set(i, value(i));
    assert.deepEqual(backends.get(3), value(3));
    assert.equal(backends.get(9), undefined);
    assert.deepEqual([...backends.entries()].map(([k]) => k).sort(), [1, 2, 3, 4]);

    // Full: the fifth key does not fit in max_entries 4.
    assert.throws(() => backends.set(5, value(5)), (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.equal(e.code, "BPF_ERRNO");
      assert.equal(e.errnoName, "E2BIG");
      assert.equal(e.operation, "update");
      assert.match(e.message, /map "backends" is full \(max_entries 4\)/);
      return true;
    });
    assert.throws(() => backends.set(1, value(1), "noexist"), (e: unknown) => e instanceof BpfError && e.errnoName === "EEXIST");
    assert.equal(backends.delete(2), true);
    assert.equal(backends.delete(2), false);
    backends.set(5, value(5));

    // Arrays: out of range is E2BIG too, said differently; deleting is EINVAL.
    const pinned = obj.map("pinned");
    assert.throws(() => pinned.update(key32(8), key32(1)), /index out of range: map "pinned" has 8 slots/);
    assert.throws(() => pinned.delete(key32(0)), (e: unknown) => e instanceof BpfError && e.errnoName === "EINVAL");
    assert.equal([...pinned.keys()].length, 8);

    // Wrong sizes never reach the kernel.
    assert.throws(() => pinned.update(new Uint8Array(3), key32(1)), (e: unknown) => e instanceof InvalidInputError && /must be 4 bytes for map "pinned"/.test(e.message));
    assert.throws(() => backends.set(1, { ...value(1), port: 70000 }), InvalidInputError);

    // Byte-level handle, u64 codec, a view on a bigger buffer (as on WASM memory).
    const packets = new TypedMap(obj.map("packets"), u32, u64);
    packets.set(0, 7n);
    const memory = new Uint8Array(64);
    obj.map("packets").lookup(key32(0), memory.subarray(16, 24));
    assert.equal(new DataView(memory.buffer).getBigUint64(16, true), 7n);
  } finally {
    obj.close();
  }
});

test("batch updates: one syscall where the kernel batches, a loop where it does not; 65,537 entries", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  const obj = await loadObject(compile("host_test"), { pin: false });
  try {
    const pinned = obj.map("pinned");
    assert.deepEqual(pinned.updateBatch(new Uint32Array([0, 1, 2]), new Uint32Array([10, 11, 12])), { count: 3, batched: true });
    assert.deepEqual([...pinned.entries()].slice(0, 4).map(([k, v]) => [u32.decode(k), u32.decode(v)]), [[0, 10], [1, 11], [2, 12], [3, 0]]);

    // Struct keys: an LPM trie written in one batch.
    const lpmKey = structCodec({ size: 8, fields: { prefixlen: { offset: 0, size: 4 }, addr: { offset: 4, size: 4 } } });
    const prefixes = new TypedMap(obj.map("prefixes"), lpmKey, u32);
    assert.equal(prefixes.setMany([[{ prefixlen: 24, addr: 0x0000000a }, 1], [{ prefixlen: 16, addr: 0x0000000b }, 2]]).count, 2);
    assert.equal(prefixes.get({ prefixlen: 32, addr: 0x0500000a }), 1); // longest-prefix match on 10.0.0.5

    // A devmap has no batch update (ENOTSUPP): the loop takes over, and stays.
    const devmap = await createMap({ type: "devmap", keySize: 4, valueSize: 4, maxEntries: 4 }, "wp_devmap");
    try {
      const lo = await interfaceIndex("lo");
      assert.deepEqual(devmap.updateBatch(new Uint32Array([0, 1]), new Uint32Array([lo, lo])), { count: 2, batched: false });
      assert.deepEqual(devmap.updateBatch(new Uint32Array([2]), new Uint32Array([lo])), { count: 1, batched: false });
      assert.equal(u32.decode(devmap.lookup(key32(1))!), lo);
    } finally {
      devmap.close();
    }

    // A Maglev-sized table: 65,537 u32 slots, batch versus one update per slot.
    const size = 65_537;
    const table = await createMap({ type: "array", keySize: 4, valueSize: 4, maxEntries: size }, "wp_maglev");
    try {
      const keys = Uint32Array.from({ length: size }, (_, i) => i);
      const values = Uint32Array.from({ length: size }, (_, i) => (i * 2_654_435_761) >>> 0);
      let start = performance.now();
      assert.deepEqual(table.updateBatch(keys, values), { count: size, batched: true });
      const batchMs = performance.now() - start;
      for (const i of [0, 1, 32_768, size - 1]) assert.equal(u32.decode(table.lookup(key32(i))!), values[i]);
      start = performance.now();
      for (let i = 0; i < size; i++) table.update(keys.subarray(i, i + 1), values.subarray(i, i + 1));
      const loopMs = performance.now() - start;
      t.diagnostic(`65,537 u32 entries: one batch ${batchMs.toFixed(1)} ms, one update each ${loopMs.toFixed(1)} ms (${(loopMs / batchMs).toFixed(1)}x)`);
      assert.throws(() => table.updateBatch(keys.subarray(0, 3), values.subarray(0, 2)), InvalidInputError);
    } finally {
      table.close();
    }
  } finally {
    obj.close();
  }
});

test("pinning: maps pinned by name under the pin root survive the object and reopen by path", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  // Not a bpffs: a clear error with the mount command, before anything is created.
  assert.throws(() => ensurePinRoot(join(build, "not-bpffs")), (e: unknown) => e instanceof KernelFeatureError && e.code === "KERNEL_FEATURE" && /mount -t bpf bpf/.test(e.message));
  const pins = mountBpffs(t);
  if (!pins) return;
  try {
    const root = join(pins, "wasmplane");
    const obj = await loadObject(compile("host_test"), { pinRoot: root });
    const path = join(root, "pinned");
    assert.equal(obj.pinPaths.get("pinned"), path);
    assert.ok(existsSync(path));
    obj.map("pinned").update(key32(3), key32(33));
    obj.map("backends").pin(join(root, "backends-by-hand"));
    obj.close();

    // "After a restart": reopen by path with the layout we expect.
    const layout = { type: "array" as const, keySize: 4, valueSize: 4, maxEntries: 8 };
    const reopened = await openPinnedMap(path, layout);
    try {
      assert.equal(reopened.name, "pinned");
      assert.equal(u32.decode(reopened.lookup(key32(3))!), 33);
    } finally {
      reopened.close();
    }
    const byHand = await openPinnedMap(join(root, "backends-by-hand"), { type: "hash", keySize: 4, valueSize: 16, maxEntries: 4 });
    byHand.close();
    await assert.rejects(openPinnedMap(path, { ...layout, maxEntries: 16 }), (e: unknown) => e instanceof LayoutMismatchError && /maxEntries is 8, expected 16/.test(e.message));
    await assert.rejects(openPinnedMap(join(root, "nothing"), layout), (e: unknown) => e instanceof BpfError && e.errnoName === "ENOENT");

    // Loading again reuses the pinned map and its contents.
    const again = await loadObject(compile("host_test"), { pinRoot: root });
    try {
      assert.equal(u32.decode(again.map("pinned").lookup(key32(3))!), 33);
    } finally {
      again.close();
    }
  } finally {
    unmount(pins);
  }
});

test("test run: verdict, rewritten packet, output context; repeat reruns the program", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  const obj = await loadObject(compile("host_test"), { pin: false });
  try {
    const frame = new Uint8Array(64);
    frame.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00]);
    const swapped = testRun(obj.program("xdp_swap_mac"), { data: frame });
    assert.equal(swapped.retval, 3); // XDP_TX
    assert.deepEqual([...swapped.dataOut.subarray(0, 12)], [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
    assert.equal(swapped.dataOut.length, 64);
    assert.deepEqual([...frame.subarray(0, 6)], [1, 2, 3, 4, 5, 6], "the input is not modified");

    const skb = new Uint8Array(192); // struct __sk_buff; mark at offset 8
    new DataView(skb.buffer).setUint32(8, 41, true);
    const marked = testRun(obj.program("tc_mark"), { data: frame, ctxIn: skb });
    assert.equal(marked.retval, 0); // TC_ACT_OK
    assert.equal(new DataView(marked.ctxOut!.buffer).getUint32(8, true), 42);

    const counted = testRun(obj.program("xdp_count"), { data: frame, repeat: 100 });
    assert.equal(counted.retval, 2); // XDP_PASS
    assert.equal(u64.decode(obj.map("packets").lookup(key32(0))!), 100n);
    assert.ok(counted.durationNs >= 0);

    assert.throws(() => testRun(obj.program("xdp_count"), { data: new Uint8Array(10) }), InvalidInputError);
  } finally {
    obj.close();
  }
});

test("maps of maps: 1,000 inner maps swapped in one batch; mismatched inner maps are refused before the syscall", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  const obj = await loadObject(compile("host_test"), { pin: false });
  const inner: Array<{ close(): void }> = [];
  try {
    const services = obj.map("services");
    const generation = (n: number) => Array.from({ length: n }, (_, i) => {
      const map = createInnerMap(services);
      inner.push(map);
      map.update(key32(0), key32(i));
      return map;
    });
    const first = generation(1000);
    swapInnerMaps(services, first.map((map, i) => ({ key: key32(i), inner: map })));
    const second = generation(1000);
    let start = performance.now();
    assert.deepEqual(swapInnerMaps(services, second.map((map, i) => ({ key: key32(i), inner: map }))), { count: 1000, batched: true });
    const batchMs = performance.now() - start;
    assert.equal(innerMapId(services, key32(999)), second[999]!.id());
    assert.equal(innerMapId(services, key32(5000)), undefined);

    // A few single swaps for the ratio (each waits for an RCU grace period).
    const singles = 5;
    start = performance.now();
    for (let i = 0; i < singles; i++) services.update(key32(i), new Uint32Array([first[i]!.fd]));
    const singleMs = (performance.now() - start) / singles;
    t.diagnostic(`1,000 inner-map swaps in one batch: ${batchMs.toFixed(1)} ms; one swap alone: ${singleMs.toFixed(1)} ms (1,000 alone ≈ ${(singleMs * 1000 / batchMs).toFixed(0)}x the batch)`);

    const wrong = await createMap({ type: "array", keySize: 4, valueSize: 4, maxEntries: 32 }, "wp_wrong");
    inner.push(wrong);
    assert.throws(() => swapInnerMaps(services, [{ key: key32(1), inner: second[1]! }, { key: key32(2), inner: wrong }]), (e: unknown) => {
      assert.ok(e instanceof LayoutMismatchError);
      assert.match(e.message, /swaps\[1\]\.inner .*maxEntries is 32, template 16/);
      return true;
    });
    assert.equal(innerMapId(services, key32(1)), first[1]!.id(), "nothing was applied");
    assert.throws(() => swapInnerMaps(services, [{ key: key32(1), inner: second[1]! }, { key: key32(1), inner: second[2]! }]), /appears twice/);
  } finally {
    for (const map of inner) map.close();
    obj.close();
  }
});

test("an unknown interface is a typed error", async (t) => {
  if (!requireTools(t, "clang") || !(await requireBpf(t))) return;
  assert.equal(await interfaceIndex("lo"), 1);
  await assert.rejects(interfaceIndex("wpnosuch0"), (e: unknown) => e instanceof UnknownInterfaceError && e.code === "UNKNOWN_INTERFACE" && /"wpnosuch0"/.test(e.message));
  await assert.rejects(interfaceIndex(999_999), UnknownInterfaceError);
  await assert.rejects(interfaceIndex("../etc"), InvalidInputError);
  const obj = await loadObject(compile("host_test"), { pin: false });
  try {
    assert.throws(() => attachXdp(obj.program("xdp_count"), "wpnosuch0"), UnknownInterfaceError);
  } finally {
    obj.close();
  }
});

test("XDP and tc attach/detach on a veth pair in throwaway network namespaces; generic fallback", async (t) => {
  if (!requireTools(t, "clang", "ip", "tc") || !(await requireBpf(t))) return;
  const tag = `${process.pid % 100000}`;
  const nsA = `wp-test-a-${tag}`;
  const nsB = `wp-test-b-${tag}`;
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
  try {
    ip("netns", "add", nsA);
    ip("netns", "add", nsB);
    ip("-n", nsA, "link", "add", "wpveth0", "type", "veth", "peer", "name", "wpveth1", "netns", nsB);
    ip("-n", nsA, "addr", "add", "10.77.0.1/24", "dev", "wpveth0");
    ip("-n", nsB, "addr", "add", "10.77.0.2/24", "dev", "wpveth1");
    for (const [ns, dev] of [[nsA, "wpveth0"], [nsA, "lo"], [nsB, "wpveth1"]] as const) ip("-n", ns, "link", "set", dev, "up");
  } catch (error) {
    cleanupNamespaces(nsA, nsB);
    skipOrFail(t, `cannot create network namespaces and veth pairs: ${(error as Error).message}`);
    return;
  }
  try {
    // Attach runs inside namespace A (netlink and if_nametoindex act in the
    // caller's namespace); traffic comes from namespace B.
    const send = `const s = require("node:dgram").createSocket("udp4");
      let n = 0; const tick = () => s.send("x", 9, "10.77.0.1", () => (++n < 5 ? setTimeout(tick, 20) : s.close())); tick();`;
    const child = `
      import { spawnSync, execFileSync } from "node:child_process";
      const bpf = await import(${JSON.stringify(new URL("../src/bpf/index.ts", import.meta.url).href)});
      const out = {};
      const obj = await bpf.loadObject(${JSON.stringify(compile("host_test"))}, { pin: false });
      const counter = obj.map("packets");
      const count = () => Number(bpf.u64.decode(counter.lookup(new Uint32Array([0]))));

      const xdp = bpf.attachXdp(obj.program("xdp_count"), "wpveth0");
      out.mode = xdp.mode;
      out.attachedId = await bpf.xdpProgramId("wpveth0", "native");
      try { bpf.attachXdp(obj.program("xdp_swap_mac"), "wpveth0"); out.second = "attached"; } catch (e) { out.second = e.errnoName; }
      const sent = spawnSync("ip", ["netns", "exec", ${JSON.stringify(nsB)}, process.execPath, "-e", ${JSON.stringify(send)}], { encoding: "utf8" });
      out.sendStatus = sent.status;
      await new Promise((r) => setTimeout(r, 200));
      out.counted = count();
      xdp.detach();
      out.afterDetach = await bpf.xdpProgramId("wpveth0", "native");

      const warnings = [];
      // Loopback has no driver-mode XDP: the fallback to generic mode.
      const generic = bpf.attachXdp(obj.program("xdp_count"), "lo", { onWarning: (m) => warnings.push(m) });
      out.loMode = generic.mode;
      out.warning = warnings.join(" | ");
      out.loGenericId = await bpf.xdpProgramId("lo", "generic");
      generic.detach();
      out.loAfterDetach = await bpf.xdpProgramId("lo", "generic");

      const tcShow = (dir) => execFileSync("tc", ["filter", "show", "dev", "wpveth0", dir], { encoding: "utf8" });
      const ingress = bpf.attachTc(obj.program("tc_mark"), "wpveth0", "ingress");
      const egress = bpf.attachTc(obj.program("tc_mark"), "wpveth0", "egress", { priority: 7 });
      out.tc = { ingressId: ingress.programId, egressPriority: egress.priority, ingressShown: tcShow("ingress").includes("tc_mark"), egressShown: tcShow("egress").includes("tc_mark") };
      ingress.detach();
      egress.detach();
      out.tcAfter = { ingress: tcShow("ingress").includes("tc_mark"), egress: tcShow("egress").includes("tc_mark") };
      await bpf.removeClsact("wpveth0");
      obj.close();
      console.log(JSON.stringify(out));`;
    const run = spawnSync("ip", ["netns", "exec", nsA, process.execPath, "--import", "tsx", "--input-type=module", "-e", child], { cwd: repo, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    assert.equal(out.mode, "native");
    assert.ok((out.attachedId as number) > 0);
    assert.equal(out.second, "EBUSY", "a second attach without replace is refused");
    assert.equal(out.sendStatus, 0);
    assert.ok((out.counted as number) >= 1, `the XDP program saw traffic from the peer namespace (${out.counted})`);
    assert.equal(out.afterDetach, 0);
    assert.equal(out.loMode, "generic");
    assert.match(out.warning as string, /native XDP is not available on interface lo .*generic/);
    assert.ok((out.loGenericId as number) > 0);
    assert.equal(out.loAfterDetach, 0);
    const tc = out.tc as { ingressId: number; egressPriority: number; ingressShown: boolean; egressShown: boolean };
    assert.ok(tc.ingressId > 0);
    assert.equal(tc.egressPriority, 7);
    assert.ok(tc.ingressShown && tc.egressShown, "tc lists both filters");
    assert.deepEqual(out.tcAfter, { ingress: false, egress: false });
  } finally {
    cleanupNamespaces(nsA, nsB);
  }
});

// ---- helpers -----------------------------------------------------------------------

/** Mounts a private bpffs in a temporary directory (each mount is its own instance), or skips/fails. */
function mountBpffs(t: import("node:test").TestContext): string | undefined {
  const dir = join(build, `bpffs-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  const r = spawnSync("mount", ["-t", "bpf", "bpf", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    skipOrFail(t, `cannot mount a bpffs (needs CAP_SYS_ADMIN): ${r.stderr.trim()}`);
    return undefined;
  }
  return dir;
}

function unmount(dir: string): void {
  spawnSync("umount", [dir]);
}

function cleanupNamespaces(...names: string[]): void {
  for (const name of names) spawnSync("ip", ["netns", "del", name], { stdio: "ignore" });
}
