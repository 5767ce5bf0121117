/**
 * Bad input gets a typed error that names the field and the problem, and
 * nothing is built from half-valid input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createMaglev, InvalidInputError, WasmplaneError, type MaglevBackend } from "../src/index.js";

const good: MaglevBackend = { id: 1, address: "10.0.0.1", port: 80, protocol: "TCP" };

function expectInvalid(fn: () => unknown, field: string, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    assert.ok(err instanceof WasmplaneError);
    assert.equal(err.field, field);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    return true;
  });
}

test("each invalid backend field is named", async () => {
  const maglev = await createMaglev();
  const cases: Array<[Partial<MaglevBackend> | unknown, string, RegExp]> = [
    [{ ...good, address: "10.0.0.300" }, "backends[1].address", /not a valid IPv4 or IPv6/],
    [{ ...good, address: 17 }, "backends[1].address", /must be an IP address string/],
    [{ ...good, port: 70000 }, "backends[1].port", /integer from 0 to 65535/],
    [{ ...good, port: 80.5 }, "backends[1].port", /integer/],
    [{ ...good, protocol: "ICMP" }, "backends[1].protocol", /TCP, UDP, SCTP, ANY, NONE/],
    [{ ...good, id: 0xffffffff }, "backends[1].id", /0 to 4294967294/],
    [{ ...good, id: -1 }, "backends[1].id", /integer/],
    [{ ...good, weight: 70000 }, "backends[1].weight", /0 to 65535/],
    [{ ...good, scope: "cluster" }, "backends[1].scope", /external or internal/],
    [{ ...good, clusterId: 256 }, "backends[1].clusterId", /0 to 255/],
    ["10.0.0.1:80", "backends[1]", /must be an object/],
  ];
  for (const [bad, field, pattern] of cases) {
    const other = { ...good, id: 2, address: "10.0.0.2" };
    expectInvalid(() => maglev.build([other, bad as MaglevBackend]), field, "INVALID_INPUT", pattern);
  }
});

test("duplicate backends and duplicate IDs are rejected with both positions", async () => {
  const maglev = await createMaglev();
  expectInvalid(
    () => maglev.build([good, { ...good, id: 9 }]),
    "backends[1]",
    "DUPLICATE_BACKEND",
    /same backend as backends\[0\]/,
  );
  // The same address written two ways is the same backend.
  expectInvalid(
    () => maglev.build([{ ...good, address: "fd00::1" }, { ...good, id: 2, address: "FD00:0::1" }]),
    "backends[1]",
    "DUPLICATE_BACKEND",
    /same backend/,
  );
  expectInvalid(
    () => maglev.build([good, { ...good, address: "10.0.0.2" }]),
    "backends[1].id",
    "DUPLICATE_BACKEND",
    /already used by backends\[0\]/,
  );
});

test("bad options are rejected before anything is built", async () => {
  await assert.rejects(createMaglev({ tableSize: 1000 }), (e: unknown) => e instanceof InvalidInputError && e.code === "INVALID_TABLE_SIZE" && /prime/.test(e.message));
  await assert.rejects(createMaglev({ tableSize: 2 }), (e: unknown) => e instanceof InvalidInputError && e.field === "tableSize");
  await assert.rejects(createMaglev({ tableSize: (1 << 24) + 43 }), (e: unknown) => e instanceof InvalidInputError && /between 3 and/.test(e.message));
  await assert.rejects(createMaglev({ hashSeed: "c2hvcnQ=" }), (e: unknown) => e instanceof InvalidInputError && e.code === "INVALID_HASH_SEED" && /5 bytes/.test(e.message));
  await assert.rejects(createMaglev({ hashSeed: "JLfvgnHc2kaSUFa!" }), (e: unknown) => e instanceof InvalidInputError && /base64/.test(e.message));
  await assert.rejects(createMaglev({ keyFormat: "envoy" as never }), (e: unknown) => e instanceof InvalidInputError && e.field === "keyFormat");
});

test("a prime Cilium does not use is accepted with a warning; a known one without", async () => {
  const warnings: string[] = [];
  await createMaglev({ tableSize: 1009, onWarning: (w) => warnings.push(w) });
  await createMaglev({ tableSize: 65537, onWarning: (w) => warnings.push(w) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /1009 is prime but not one Cilium uses/);
});

test("a table not larger than the backend count is a typed error", async () => {
  const maglev = await createMaglev({ tableSize: 251 });
  const many = Array.from({ length: 251 }, (_, i) => ({ id: i, address: `10.0.${i >> 8}.${i & 255}`, port: 80, protocol: "TCP" }));
  expectInvalid(() => maglev.build(many), "backends", "INVALID_TABLE_SIZE", /table size is 251/);
  assert.equal(maglev.build(many.slice(0, 250)).length, 251);
});

test("no backends give an empty table; a failed build leaves the builder usable", async () => {
  const maglev = await createMaglev({ tableSize: 251 });
  assert.equal(maglev.build([]).length, 0);
  const before = maglev.build([good]);
  assert.throws(() => maglev.build([good, { ...good, id: 2, address: "nope" }]));
  assert.deepEqual(maglev.build([good]), before);
  assert.ok(before.every((id) => id === 1));
});

test("comparing tables of different sizes is an error", async () => {
  const a = await createMaglev({ tableSize: 251 });
  const b = await createMaglev({ tableSize: 509 });
  assert.throws(() => a.compare(a.build([good]), b.build([good])), InvalidInputError);
});
