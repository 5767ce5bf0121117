/**
 * Reading Maglev tables: how evenly they spread, and how much moved between
 * two builds. Pure functions over the `Uint32Array`s a builder returns.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";

/** Balance of one table. */
export interface TableStats {
  /** Number of slots in the table. */
  readonly tableSize: number;
  /** Slots held by each backend ID present in the table, in ascending ID order. */
  readonly slotsPerBackend: ReadonlyMap<number, number>;
  /** Fewest slots any backend holds (0 for an empty table). */
  readonly minSlots: number;
  /** Most slots any backend holds. */
  readonly maxSlots: number;
  /**
   * `maxSlots / minSlots`; 1 is a perfect spread of equal weights (0 for an
   * empty table). Weighted tables are uneven on purpose.
   */
  readonly maxMinRatio: number;
}

/** Counts the slots of each backend in `table`. */
export function tableStats(table: Uint32Array): TableStats {
  const counts = new Map<number, number>();
  for (const id of table) counts.set(id, (counts.get(id) ?? 0) + 1);
  const sorted = new Map([...counts.entries()].sort((a, b) => a[0] - b[0]));
  const values = [...sorted.values()];
  const minSlots = values.length ? Math.min(...values) : 0;
  const maxSlots = values.length ? Math.max(...values) : 0;
  return { tableSize: table.length, slotsPerBackend: sorted, minSlots, maxSlots, maxMinRatio: minSlots ? maxSlots / minSlots : 0 };
}

/** What changed between two tables of the same size. */
export interface TableDiff {
  /** Slots whose backend differs. */
  readonly changedSlots: number;
  /** `changedSlots / tableSize`. */
  readonly changedFraction: number;
  /**
   * Changed slots whose old backend is still in the new table: flows moved
   * without need. Maglev keeps this small; it is the disruption to watch.
   */
  readonly changedFromRemaining: number;
  /** `changedFromRemaining / tableSize`. */
  readonly changedFromRemainingFraction: number;
}

/**
 * Compares two builds of one service.
 * @throws InvalidInputError when the tables differ in size.
 */
export function compareTables(before: Uint32Array, after: Uint32Array): TableDiff {
  if (before.length !== after.length) {
    throw new InvalidInputError("after", after.length, `table size differs from before (${before.length}); only tables of one size compare`);
  }
  const remaining = new Set(after);
  let changed = 0;
  let fromRemaining = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i]) {
      changed++;
      if (remaining.has(before[i]!)) fromRemaining++;
    }
  }
  const size = before.length || 1;
  return {
    changedSlots: changed,
    changedFraction: changed / size,
    changedFromRemaining: fromRemaining,
    changedFromRemainingFraction: fromRemaining / size,
  };
}
