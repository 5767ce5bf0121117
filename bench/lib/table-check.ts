/**
 * Table identity checks: the bench refuses to time implementations that do
 * not build the same table, since a faster wrong answer proves nothing.
 */

/** FNV-1a 32 over the table's u32 slots as little-endian bytes (bench/native/maglev.c prints the same). */
export function fnv1a(table: Uint32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < table.length; i++) {
    const v = table[i]!;
    for (let b = 0; b < 32; b += 8) {
      h ^= (v >>> b) & 0xff;
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

export const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, "0")}`;

/**
 * Throws, naming the first differing slot, unless `actual` equals `expected`.
 * `what` says which implementation and case, for the abort message.
 */
export function assertSameTable(what: string, expected: Uint32Array, actual: Uint32Array): void {
  if (expected.length !== actual.length) {
    throw new Error(`TABLE MISMATCH (${what}): ${actual.length} slots, expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] !== actual[i]) {
      throw new Error(`TABLE MISMATCH (${what}): slot ${i} holds ${actual[i]}, expected ${expected[i]}`);
    }
  }
}
