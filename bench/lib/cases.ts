/**
 * The backends the bench builds tables from.
 *
 * Why shuffled: real services list backends in arbitrary order, and every
 * implementation must sort them by key first; generating them pre-sorted
 * would let the sort do no work and flatter all columns.
 */
import type { MaglevBackend } from "../../src/maglev/backend.js";
import type { PlainInput } from "../baseline/maglev-plain.js";

/** A small deterministic PRNG (xorshift32), so every run times the same input. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/**
 * `n` distinct IPv4 backends 10.a.b.c:8080/TCP with IDs 1..n in a shuffled
 * order. `weightOf(i)` gives backend i's weight (unit weights by default).
 */
export function makeBackends(n: number, weightOf: (i: number) => number = () => 1): MaglevBackend[] {
  const backends: MaglevBackend[] = [];
  for (let i = 0; i < n; i++) {
    const a = i + 1; // skip 10.0.0.0
    backends.push({
      id: i + 1,
      address: `10.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`,
      port: 8080,
      protocol: "TCP",
      weight: weightOf(i),
    });
  }
  const random = xorshift(0x5eed + n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [backends[i], backends[j]] = [backends[j]!, backends[i]!];
  }
  return backends;
}

/** The engine-level input: key bytes, IDs and weights, in the backends' order. */
export function toPlainInput(backends: readonly MaglevBackend[], keyOf: (b: MaglevBackend) => string): PlainInput {
  const encoder = new TextEncoder();
  return {
    keys: backends.map((b) => encoder.encode(keyOf(b))),
    ids: Uint32Array.from(backends, (b) => b.id),
    weights: Uint32Array.from(backends, (b) => b.weight ?? 1),
  };
}
