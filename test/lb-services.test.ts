/**
 * The load balancer's service model (src/lb/services.ts) and service IDs
 * (src/lb/ids.ts): every invalid input is refused with a typed error naming
 * the field, and IDs stay with their services. Pure: no kernel.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { InvalidInputError } from "../src/index.js";
import { assignServiceIds } from "../src/lb/ids.js";
import { validateService, validateServices, type LbService } from "../src/lb/services.js";

const web: LbService = {
  name: "web", vip: "192.0.2.10", port: 80, protocol: "TCP", algorithm: "maglev",
  backends: [{ id: 1, address: "10.0.0.1", port: 8080 }, { id: 2, address: "10.0.0.2", port: 8080, weight: 3 }],
};
const dns: LbService = {
  name: "dns", vip: "2001:db8::10", port: 53, protocol: "udp", algorithm: "random", sessionAffinity: { timeoutSeconds: 60 },
  backends: [{ id: 4, address: "fd00:1::1", port: 53, draining: true }],
};

/** A copy of `base` with `patch` applied at `path` (dot and [i] segments). */
function variant(base: LbService, path: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  const parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let at: Record<string, unknown> = copy;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  at[parts.at(-1)!] = value;
  return copy;
}

describe("validateService", () => {
  it("canonicalizes a valid service", () => {
    const s = validateService(dns);
    assert.equal(s.protocol, "UDP");
    assert.equal(s.protocolNumber, 17);
    assert.equal(s.frontend, "[2001:db8::10]:53/UDP");
    assert.equal(s.affinityTimeoutSeconds, 60);
    assert.deepEqual(s.backends.map((b) => [b.id, b.addressText, b.weight, b.draining]), [[4, "fd00:1::1", 1, true]]);
    assert.equal(validateService({ ...web, vip: "192.0.2.10" }).frontend, "192.0.2.10:80/TCP");
  });

  const cases: { name: string; input: unknown; field: string; code?: string; message?: RegExp }[] = [
    { name: "not an object", input: 42, field: "service" },
    { name: "unknown field", input: { ...web, sessionAfinity: {} }, field: "service.sessionAfinity", message: /not a field of a service/ },
    { name: "empty name", input: variant(web, "name", " "), field: "service.name" },
    { name: "bad VIP", input: variant(web, "vip", "192.0.2.300"), field: "service.vip", message: /not a valid IPv4 or IPv6/ },
    { name: "VIP with a zone", input: variant(web, "vip", "fe80::1%eth0"), field: "service.vip" },
    { name: "port 0", input: variant(web, "port", 0), field: "service.port" },
    { name: "port too large", input: variant(web, "port", 65536), field: "service.port" },
    { name: "unknown protocol", input: variant(web, "protocol", "ICMP"), field: "service.protocol" },
    { name: "unknown algorithm", input: variant(web, "algorithm", "round-robin"), field: "service.algorithm", message: /not a known algorithm \(maglev, random\)/ },
    { name: "service ID 0", input: variant(web, "id", 0), field: "service.id" },
    { name: "affinity timeout 0", input: variant(web, "sessionAffinity", { timeoutSeconds: 0 }), field: "service.sessionAffinity.timeoutSeconds" },
    { name: "affinity over a day", input: variant(web, "sessionAffinity", { timeoutSeconds: 86401 }), field: "service.sessionAffinity.timeoutSeconds" },
    { name: "backends not an array", input: variant(web, "backends", {}), field: "service.backends" },
    { name: "bad backend address", input: variant(web, "backends[1].address", "10.0.0"), field: "service.backends[1].address" },
    { name: "backend ID out of range", input: variant(web, "backends[0].id", 0xffffffff), field: "service.backends[0].id" },
    { name: "backend weight", input: variant(web, "backends[0].weight", -1), field: "service.backends[0].weight" },
    { name: "backend draining not a boolean", input: variant(web, "backends[0].draining", "yes"), field: "service.backends[0].draining" },
    { name: "unknown backend field", input: variant(web, "backends[0].zone", "a"), field: "service.backends[0].zone" },
    {
      name: "one backend ID twice", input: variant(web, "backends[1].id", 1), field: "service.backends[1].id", code: "DUPLICATE_BACKEND",
      message: /already used by service.backends\[0\]/,
    },
    {
      name: "one address twice under two IDs", input: variant(web, "backends[1].address", "10.0.0.1"), field: "service.backends[1]",
      code: "DUPLICATE_BACKEND",
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} (${c.field})`, () => {
      assert.throws(() => validateService(c.input), (e: unknown) => {
        assert.ok(e instanceof InvalidInputError, `an InvalidInputError, got ${String(e)}`);
        assert.equal(e.field, c.field);
        assert.equal(e.code, c.code ?? "INVALID_INPUT");
        if (c.message) assert.match(e.message, c.message);
        return true;
      });
    });
  }
});

describe("validateServices (across services)", () => {
  const check = (input: unknown, field: string, code = "INVALID_INPUT", message?: RegExp) =>
    assert.throws(() => validateServices(input), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.equal(e.field, field);
      assert.equal(e.code, code);
      if (message) assert.match(e.message, message);
      return true;
    });

  it("accepts services sharing a backend declared identically", () => {
    const other = { ...web, name: "web-tls", port: 443 };
    assert.equal(validateServices([web, other, dns]).length, 3);
  });

  it("refuses a backend ID that is another address in another service", () => {
    const other = { ...web, name: "web-tls", port: 443, backends: [{ id: 2, address: "10.9.9.9", port: 8080 }] };
    check([web, other], "services[1].backends[0].id", "DUPLICATE_BACKEND", /10\.0\.0\.2:8080 in services\[0\]\.backends\[1\] but 10\.9\.9\.9:8080 here/);
  });

  it("refuses a backend draining in one service and not in another", () => {
    const other = { ...web, name: "web-tls", port: 443, backends: [{ id: 1, address: "10.0.0.1", port: 8080, draining: true }] };
    check([web, other], "services[1].backends[0].draining", "DUPLICATE_BACKEND");
  });

  it("refuses duplicate names, frontends and IDs", () => {
    check([web, { ...dns, name: "web" }], "services[1].name");
    check([web, { ...web, name: "web2" }], "services[1]", "INVALID_INPUT", /same VIP, port and protocol as services\[0\]/);
    check([{ ...web, id: 5 }, { ...dns, id: 5 }], "services[1].id");
    check("web", "services");
  });
});

describe("assignServiceIds", () => {
  const specs = validateServices([web, dns, { ...web, name: "api", port: 8080 }]);
  const none = { byName: () => undefined, byFrontend: () => undefined, isReserved: () => false };

  it("gives the lowest free IDs in order", () => {
    assert.deepEqual(assignServiceIds(specs, none), [1, 2, 3]);
  });

  it("keeps an ID by name, else by frontend; explicit IDs win", () => {
    const current = {
      byName: (n: string) => (n === "dns" ? 7 : undefined),
      byFrontend: (f: string) => (f === "192.0.2.10:80/TCP" ? 9 : undefined),
      isReserved: () => false,
    };
    assert.deepEqual(assignServiceIds(specs, current), [9, 7, 1]);
    const explicit = validateServices([{ ...web, id: 7 }, dns]);
    assert.deepEqual(assignServiceIds(explicit, current), [7, 1], "dns loses 7 to the explicit claim");
  });

  it("never hands out a reserved ID, and refuses an explicit one", () => {
    const reserved = { ...none, isReserved: (id: number) => id <= 2 };
    assert.deepEqual(assignServiceIds(specs, reserved), [3, 4, 5]);
    assert.throws(() => assignServiceIds(validateServices([{ ...web, id: 2 }]), reserved, () => "service"),
      (e: unknown) => e instanceof InvalidInputError && e.field === "service.id");
  });
});
