/**
 * Tests of the services-file model (src/services): parsing, validation,
 * settings precedence, messages and warnings.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { DEFAULT_HASH_SEED, DEFAULT_TABLE_SIZE } from "../src/index.js";
import {
  loadServicesFile, parseServicesText, ServicesFileError, tableFileName, validateServices,
} from "../src/services/index.js";

/** A small valid file; tests change one thing in a copy. */
function sample() {
  return {
    services: [
      {
        name: "web",
        frontend: { address: "10.96.0.10", port: 80, protocol: "tcp" },
        backends: [
          { id: 1, address: "10.0.0.1", port: 8080 },
          { id: 2, address: "10.0.0.2", port: 8080, protocol: "UDP" },
        ],
      },
      {
        name: "dns",
        frontend: { address: "FD00:0:0::A", port: 53, protocol: "UDP" },
        backends: [{ id: 3, address: "fd00::3", port: 53 }],
      },
    ],
  } as { tableSize?: unknown; hashSeed?: unknown; keyFormat?: unknown; services: any[] };
}

/** Asserts that validating `raw` fails, and returns the error. */
function rejects(raw: unknown, overrides = {}): ServicesFileError {
  try {
    validateServices(raw, "s.yaml", overrides);
  } catch (error) {
    assert.ok(error instanceof ServicesFileError, `a ServicesFileError, got ${String(error)}`);
    assert.doesNotMatch(error.message, /\n/, "one line");
    assert.ok(error.message.startsWith("s.yaml"), "names the file");
    return error;
  }
  assert.fail("expected a validation error");
}

describe("validateServices", () => {
  test("returns canonical frontends, backends with protocols, and Cilium's default settings", () => {
    const doc = validateServices(sample(), "s.yaml");
    assert.equal(doc.file, "s.yaml");
    assert.deepEqual(doc.settings, { tableSize: DEFAULT_TABLE_SIZE, hashSeed: DEFAULT_HASH_SEED, keyFormat: "cilium" });
    const [web, dns] = doc.services;
    assert.deepEqual(web!.frontend, { address: "10.96.0.10", port: 80, protocol: "TCP" });
    assert.deepEqual(dns!.frontend, { address: "fd00::a", port: 53, protocol: "UDP" });
    assert.deepEqual(web!.backends, [
      { id: 1, address: "10.0.0.1", port: 8080, protocol: "TCP" },
      { id: 2, address: "10.0.0.2", port: 8080, protocol: "UDP" },
    ]);
    assert.equal(dns!.backends[0]!.protocol, "UDP");
    assert.deepEqual(doc.services.map((s) => s.index), [0, 1]);
    assert.deepEqual(doc.warnings, []);
  });

  test("overrides beat the file, the file beats the defaults", () => {
    const raw = { ...sample(), tableSize: 251, hashSeed: "AAAAAAAAAAAAAAAA", keyFormat: "cilium-legacy" };
    assert.deepEqual(validateServices(raw, "s.yaml").settings, { tableSize: 251, hashSeed: "AAAAAAAAAAAAAAAA", keyFormat: "cilium-legacy" });
    assert.deepEqual(validateServices(raw, "s.yaml", { tableSize: 509, keyFormat: "cilium" }).settings, {
      tableSize: 509, hashSeed: "AAAAAAAAAAAAAAAA", keyFormat: "cilium",
    });
  });

  test("a bad file setting is an error even when a flag overrides it", () => {
    const e = rejects({ ...sample(), tableSize: 1000 }, { tableSize: 251 });
    assert.equal(e.code, "INVALID_TABLE_SIZE");
    assert.equal(e.field, "tableSize");
  });

  test("names the service and the field in the library's words", () => {
    const raw = sample();
    raw.services[1].backends[0].address = "10.0.0.300";
    const e = rejects(raw);
    assert.equal(e.message, 's.yaml: services[1] "dns" backends[0].address: is not a valid IPv4 or IPv6 address (got "10.0.0.300")');
    assert.equal(e.field, "services[1].backends[0].address");
    assert.equal(e.code, "INVALID_INPUT");
  });

  const shapeCases: [string, (raw: ReturnType<typeof sample>) => void, string][] = [
    ["no services", (r) => delete (r as { services?: unknown }).services, "s.yaml: services: is required"],
    ["services not a list", (r) => (r.services = "web" as never), 's.yaml: services: must be a list of services (got "web")'],
    ["a service not an object", (r) => (r.services[1] = 42), "s.yaml: services[1]: must be an object with name, frontend and backends (got 42)"],
    ["a missing frontend port", (r) => delete r.services[0].frontend.port, 's.yaml: services[0] "web" frontend.port: is required'],
    ["a port given as a string", (r) => (r.services[0].backends[1].port = "8080"), 's.yaml: services[0] "web" backends[1].port: must be a number (got "8080")'],
    ["a misspelt field", (r) => (r.services[0].backends[0].wieght = 2), 's.yaml: services[0] "web" backends[0].wieght: is not a known field (known fields: id, address, port, protocol, weight, scope, clusterId)'],
    ["an unknown top-level field", (r) => Object.assign(r, { tablesize: 251 }), "s.yaml: tablesize: is not a known field (known fields: tableSize, hashSeed, keyFormat, services)"],
    ["a missing name", (r) => delete r.services[1].name, "s.yaml: services[1] name: is required"],
  ];
  for (const [title, change, message] of shapeCases) {
    test(`shape: ${title}`, () => {
      const raw = sample();
      change(raw);
      assert.equal(rejects(raw).message, message);
    });
  }
  test("shape: an empty document", () => {
    assert.equal(rejects(null).message, "s.yaml: must be a mapping with a services list (got null)");
  });

  const valueCases: [string, (raw: ReturnType<typeof sample>) => void, string, string][] = [
    ["duplicate names", (r) => (r.services[1].name = "web"), "services[1].name", "is already used by services[0]"],
    ["names sharing a table file", (r) => (r.services[1].name = "WEB"), "services[1].name", "has the same table file as services[0]"],
    ["an unsafe name", (r) => (r.services[1].name = "../etc"), "services[1].name", "must start with a letter or digit"],
    ["one frontend for two services", (r) => (r.services[1].frontend = { address: "10.96.0.10", port: 80, protocol: "TCP" }), "services[1].frontend", 'is already the frontend of services[0] "web"'],
    ["a bad frontend address", (r) => (r.services[0].frontend.address = "10.96.0"), "services[0].frontend.address", "is not a valid IPv4 or IPv6 address"],
    ["a bad frontend port", (r) => (r.services[0].frontend.port = 70000), "services[0].frontend.port", "must be an integer from 0 to 65535"],
    ["a bad frontend protocol", (r) => (r.services[0].frontend.protocol = "HTTP"), "services[0].frontend.protocol", "must be one of TCP, UDP, SCTP, ANY, NONE"],
    ["a duplicate backend", (r) => (r.services[0].backends[1] = { id: 2, address: "10.0.0.1", port: 8080 }), "services[0].backends[1]", "is the same backend as backends[0]"],
    ["a duplicate backend ID", (r) => (r.services[0].backends[1].id = 1), "services[0].backends[1].id", "is already used by backends[0]"],
    ["one ID for two backends across services", (r) => (r.services[1].backends[0].id = 1), "services[1].backends[0].id", 'is already used by services[0] "web" backends[0] for 10.0.0.1:8080/TCP'],
    ["a bad weight", (r) => (r.services[0].backends[0].weight = -1), "services[0].backends[0].weight", "must be an integer from 0 to 65535"],
    ["a bad scope", (r) => (r.services[0].backends[0].scope = "global"), "services[0].backends[0].scope", "must be external or internal"],
    ["more backends than slots", (r) => (r.tableSize = 3, r.services[0].backends.push({ id: 9, address: "10.0.0.9", port: 1 })), "services[0].backends", "need a table larger than the number of backends"],
  ];
  for (const [title, change, field, text] of valueCases) {
    test(`values: ${title}`, () => {
      const raw = sample();
      change(raw);
      const e = rejects(raw);
      assert.equal(e.field, field);
      assert.ok(e.message.includes(text), e.message);
    });
  }

  test("the same backend may appear in two services with one ID", () => {
    const raw = sample();
    raw.services[1].backends.push({ id: 1, address: "10.0.0.1", port: 8080, protocol: "TCP" });
    assert.doesNotThrow(() => validateServices(raw, "s.yaml"));
  });

  test("duplicates follow the key format: protocol only tells backends apart in the cilium format", () => {
    const raw = sample();
    raw.services[0].backends[1] = { id: 2, address: "10.0.0.1", port: 8080, protocol: "UDP" };
    assert.doesNotThrow(() => validateServices(raw, "s.yaml"));
    assert.equal(rejects(raw, { keyFormat: "cilium-legacy" }).code, "DUPLICATE_BACKEND");
  });

  test("warns about weights Cilium ignores, weight 0, and small tables", () => {
    const raw = sample();
    raw.tableSize = 251;
    raw.services[0].backends[0].weight = 1;
    raw.services[0].backends[1].weight = 2;
    raw.services[1].backends.push({ id: 4, address: "fd00::4", port: 53, weight: 0 });
    raw.services[1].backends[0].weight = 300;
    const { warnings } = validateServices(raw, "s.yaml");
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^s\.yaml: services\[0\] "web" backends: weights are ignored/);
    assert.match(warnings[1]!, /^s\.yaml: services\[1\] "dns" backends\[1\]\.weight: 0 does not take a backend out/);

    const crowded = sample();
    crowded.tableSize = 251;
    crowded.services[0].backends.push({ id: 5, address: "10.0.0.5", port: 8080 }, { id: 6, address: "10.0.0.6", port: 8080 });
    assert.deepEqual(validateServices(crowded, "s.yaml").warnings, [
      's.yaml: table size 251 gives fewer than 100 slots per backend to 1 service (most: services[0] "web" with 4 backends); Cilium recommends at least 100 for an even spread',
    ]);
  });

  test("never throws anything but a ServicesFileError, whatever the input (property)", () => {
    const backend = fc.record(
      { id: fc.oneof(fc.nat(), fc.integer(), fc.string()), address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), port: fc.oneof(fc.nat(70000), fc.string()), weight: fc.anything() },
      { requiredKeys: [] },
    );
    const service = fc.record(
      { name: fc.oneof(fc.string(), fc.constantFrom("web", "dns")), frontend: fc.record({ address: fc.ipV4(), port: fc.nat(65535), protocol: fc.constantFrom("TCP", "udp", "x") }), backends: fc.array(backend, { maxLength: 4 }) },
      { requiredKeys: [] },
    );
    const file = fc.oneof(fc.anything(), fc.record({ tableSize: fc.constantFrom(251, 1000, "251"), services: fc.array(service, { maxLength: 4 }) }, { requiredKeys: ["services"] }));
    fc.assert(
      fc.property(file, (raw) => {
        try {
          validateServices(raw, "f.yaml");
        } catch (error) {
          assert.ok(error instanceof ServicesFileError, String(error));
          assert.doesNotMatch(error.message, /\n/);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("valid generated files keep every service and backend, in order (property)", () => {
    const files = fc.uniqueArray(fc.nat(200), { minLength: 1, maxLength: 12 }).map((ids) => ({
      tableSize: 251,
      services: ids.map((n, i) => ({
        name: `svc-${n}`,
        frontend: { address: `10.96.${i}.1`, port: 80, protocol: "TCP" },
        backends: [{ id: n, address: `10.0.${n}.1`, port: 8080 }],
      })),
    }));
    fc.assert(
      fc.property(files, (raw) => {
        const doc = validateServices(raw, "f.yaml");
        assert.deepEqual(doc.services.map((s) => s.name), raw.services.map((s) => s.name));
        assert.deepEqual(doc.services.map((s) => s.backends[0]!.id), raw.services.map((s) => s.backends[0]!.id));
      }),
    );
  });
});

describe("parseServicesText", () => {
  test("reads YAML and JSON", () => {
    assert.deepEqual(parseServicesText("services: []\n", "a.yaml"), { services: [] });
    assert.deepEqual(parseServicesText('{ "services": [] }', "a.json"), { services: [] });
  });

  test("a syntax error reports file:line:col on one line", () => {
    try {
      parseServicesText("services:\n  - name: web\n    frontend: [1, 2\n  - name: api\n", "bad.yaml");
      assert.fail("expected a parse error");
    } catch (error) {
      assert.ok(error instanceof ServicesFileError);
      assert.equal(error.code, "PARSE_ERROR");
      assert.match(error.message, /^bad\.yaml:\d+:\d+: \S/);
      assert.doesNotMatch(error.message, /\n/);
      assert.ok(error.line! >= 3);
    }
  });

  test("duplicate keys are an error, in JSON too", () => {
    assert.throws(() => parseServicesText('{ "services": [], "services": [] }', "d.json"), (e: ServicesFileError) =>
      e.code === "PARSE_ERROR" && /^d\.json:1:\d+: Map keys must be unique/.test(e.message));
  });

  test("an alias to a missing anchor is a parse error, not a crash", () => {
    assert.throws(() => parseServicesText("services: *nothing\n", "a.yaml"), (e: ServicesFileError) => e.code === "PARSE_ERROR");
  });
});

describe("loadServicesFile", () => {
  test("reads, parses and validates a file; a missing file is FILE_NOT_FOUND", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wasmplane-services-"));
    try {
      const path = join(dir, "s.json");
      await writeFile(path, `\ufeff${JSON.stringify(sample())}`);
      const doc = await loadServicesFile(path, { tableSize: 251 });
      assert.equal(doc.services.length, 2);
      assert.equal(doc.settings.tableSize, 251);
      await assert.rejects(loadServicesFile(join(dir, "none.yaml")), (e: ServicesFileError) =>
        e.code === "FILE_NOT_FOUND" && e.message === `${join(dir, "none.yaml")}: no such file`);
      await assert.rejects(loadServicesFile(dir), (e: ServicesFileError) => e.code === "FILE_UNREADABLE");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("tableFileName", () => {
  test("maps names to safe file names", () => {
    assert.equal(tableFileName("web"), "tables/web.bin");
    assert.equal(tableFileName("default/web:http"), "tables/default_web_http.bin");
  });
});
