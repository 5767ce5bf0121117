/** fast-check generators of Maglev backends, shared by property tests. */
import fc from "fast-check";
import type { MaglevBackend } from "../../src/index.js";

const ipv4 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 }))
  .map((o) => o.join("."));
const ipv6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(":"));

const backendShape = fc.record({
  address: fc.oneof({ weight: 3, arbitrary: ipv4 }, { weight: 1, arbitrary: ipv6 }),
  port: fc.integer({ min: 1, max: 65535 }),
  protocol: fc.constantFrom("TCP", "UDP", "SCTP"),
  weight: fc.integer({ min: 0, max: 200 }),
  scope: fc.constantFrom("external" as const, "internal" as const),
  clusterId: fc.integer({ min: 0, max: 255 }),
});

/** 1 to `max` distinct backends with distinct IDs; weights optional. */
export function backendsArb(max: number, weighted: boolean): fc.Arbitrary<MaglevBackend[]> {
  return fc
    .uniqueArray(backendShape, {
      minLength: 1,
      maxLength: max,
      selector: (b) => `${b.address}|${b.port}|${b.protocol}|${b.scope}|${b.clusterId}`,
    })
    .chain((shapes) =>
      fc.shuffledSubarray(
        Array.from({ length: 5000 }, (_, i) => i * 7 + 3),
        { minLength: shapes.length, maxLength: shapes.length },
      ).map((ids) => shapes.map((s, i) => ({ ...s, id: ids[i]!, weight: weighted ? s.weight : 1 }))),
    );
}

/** `n` distinct IPv4 backends on port 8080, IDs 1..n, unit weight. */
export function plainBackends(n: number, base = 0): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => {
    const x = base + i;
    return { id: i + 1, address: `10.${(x >> 16) & 255}.${(x >> 8) & 255}.${x & 255}`, port: 8080, protocol: "TCP" };
  });
}
