/**
 * The WebAssembly builder against an independent reference of Cilium's
 * algorithm (test/support/maglev-reference.ts) on random inputs: random
 * addresses of both families, ports, protocols, scopes, cluster IDs, weights
 * and seeds. Any difference in hashing, key strings, sorting or fill fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createMaglev, decodeHashSeed } from "../src/index.js";
import { murmur3Reference, referenceTable } from "./support/maglev-reference.js";
import { backendsArb } from "./support/backends.js";

const SMALL_PRIMES = [251, 509, 1021, 2039];
const seedArb = fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b).toString("base64"));

test("the reference murmur3 agrees with a published vector", () => {
  assert.deepEqual(murmur3Reference(new TextEncoder().encode("hello"), 0), [0xcbd8a7b341bd9b02n, 0x5b1e906a48ae1d19n]);
  assert.deepEqual(murmur3Reference(new TextEncoder().encode("The quick brown fox jumps over the lazy dog."), 1), [
    0xfb3325171f9744dan, 0xaaf8b92a5f722952n,
  ]);
});

for (const weighted of [false, true]) {
  test(`engine equals reference on random ${weighted ? "weighted" : "unweighted"} backends`, async () => {
    const builders = new Map<string, Awaited<ReturnType<typeof createMaglev>>>();
    await fc.assert(
      fc.asyncProperty(
        backendsArb(40, weighted),
        fc.constantFrom(...SMALL_PRIMES),
        seedArb,
        fc.constantFrom("cilium" as const, "cilium-legacy" as const),
        async (backends, m, hashSeed, keyFormat) => {
          fc.pre(backends.length < m);
          const cacheKey = `${m}|${hashSeed}|${keyFormat}`;
          let maglev = builders.get(cacheKey);
          if (!maglev) {
            maglev = await createMaglev({ tableSize: m, hashSeed, keyFormat, onWarning: () => {} });
            builders.set(cacheKey, maglev);
          }
          const actual = maglev.build(backends);
          const expected = referenceTable(
            backends.map((b) => ({ key: maglev!.keyOf(b), id: b.id, weight: b.weight ?? 1 })),
            m,
            decodeHashSeed(hashSeed).murmur,
          );
          assert.deepEqual(actual, expected);
        },
      ),
      { numRuns: 150, seed: 0x5eed },
    );
  });
}
