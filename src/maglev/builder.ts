/**
 * The Maglev builder: validates backends in TypeScript, then hands them to the
 * WebAssembly engine (`assembly/maglev/table.ts`) which sorts, hashes and fills.
 *
 * @module
 */
import { EngineError, InvalidInputError } from "../errors.js";
import { instantiateEngine, type Engine } from "../engine/wasm.js";
import { ENGINE_RESULT, ENGINE_RESULT_MEANING } from "../engine/result-codes.js";
import {
  checkKeyFormat, checkTableSize, decodeHashSeed, DEFAULT_HASH_SEED, DEFAULT_TABLE_SIZE,
  type DecodedSeed, type KeyFormat,
} from "./config.js";
import { resolveBackend, type MaglevBackend, type ResolvedBackend } from "./backend.js";
import { compareTables, tableStats, type TableDiff, type TableStats } from "./analysis.js";

/** Options of {@link createMaglev}. Every field is optional. */
export interface MaglevOptions {
  /** Prime table size M; default 16381. Primes Cilium does not use draw a warning. */
  tableSize?: number;
  /** Base64 of 12 bytes; default Cilium's `JLfvgnHc2kaSUFaI`. */
  hashSeed?: string;
  /** Key string format; default `cilium` (Cilium 1.17 and later). */
  keyFormat?: KeyFormat;
  /** Receives configuration warnings; default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** A configured builder. Its calls are synchronous, so one instance can serve a whole process. */
export interface MaglevBuilder {
  /** The table size M every build produces. */
  readonly tableSize: number;
  /** The base64 hash seed in use. */
  readonly hashSeed: string;
  /** The key string format backends are hashed by. */
  readonly keyFormat: KeyFormat;
  /** The seeds derived from `hashSeed` (the datapath needs the jhash ones). */
  readonly seeds: DecodedSeed;
  /**
   * Builds the lookup table: `tableSize` backend IDs. The same backends give
   * the same table in any order, on any machine, identical to Cilium's.
   * No backends give an empty array.
   * @throws InvalidInputError naming the field (`backends[i].address`, ...) on bad input;
   *   nothing is built from half-valid input.
   */
  build(backends: readonly MaglevBackend[]): Uint32Array;
  /** The key string a backend is hashed by. @throws InvalidInputError */
  keyOf(backend: MaglevBackend): string;
  /** Balance of a table. */
  stats(table: Uint32Array): TableStats;
  /** Slots moved between two builds. @throws InvalidInputError on a size mismatch */
  compare(before: Uint32Array, after: Uint32Array): TableDiff;
  /** Bytes of linear memory the engine holds (it grows to the largest build and stays). */
  engineMemoryBytes(): number;
}

const encoder = new TextEncoder();

/**
 * Creates a Maglev builder.
 * @throws InvalidInputError for a bad table size, hash seed or key format.
 */
export async function createMaglev(options: MaglevOptions = {}): Promise<MaglevBuilder> {
  if (typeof options !== "object" || options === null) throw new InvalidInputError("options", options, "must be an object");
  const tableSize = options.tableSize ?? DEFAULT_TABLE_SIZE;
  const warning = checkTableSize(tableSize);
  const hashSeed = options.hashSeed ?? DEFAULT_HASH_SEED;
  const seeds = decodeHashSeed(hashSeed);
  const keyFormat = checkKeyFormat(options.keyFormat ?? "cilium");
  if (warning) (options.onWarning ?? ((m: string) => process.emitWarning(m, "WasmplaneWarning")))(warning);

  const engine = await instantiateEngine();
  return {
    tableSize,
    hashSeed,
    keyFormat,
    seeds,
    build: (backends) => buildTable(engine, resolveAll(backends, keyFormat), tableSize, seeds.murmur),
    keyOf: (backend) => resolveBackend(backend, keyFormat, "backend").key,
    stats: tableStats,
    compare: compareTables,
    engineMemoryBytes: () => engine.memory.buffer.byteLength,
  };
}

/** Validates every backend before anything is built; duplicates are named by both positions. */
function resolveAll(backends: readonly MaglevBackend[], format: KeyFormat): ResolvedBackend[] {
  if (!Array.isArray(backends)) throw new InvalidInputError("backends", backends, "must be an array");
  const resolved = backends.map((b, i) => resolveBackend(b, format, `backends[${i}]`));
  const byKey = new Map<string, number>();
  const byId = new Map<number, number>();
  resolved.forEach((b, i) => {
    const sameKey = byKey.get(b.key);
    if (sameKey !== undefined) {
      throw new InvalidInputError(`backends[${i}]`, b.key, `is the same backend as backends[${sameKey}]`, "DUPLICATE_BACKEND");
    }
    const sameId = byId.get(b.id);
    if (sameId !== undefined) {
      throw new InvalidInputError(`backends[${i}].id`, b.id, `is already used by backends[${sameId}]`, "DUPLICATE_BACKEND");
    }
    byKey.set(b.key, i);
    byId.set(b.id, i);
  });
  return resolved;
}

function buildTable(engine: Engine, backends: ResolvedBackend[], m: number, seed: number): Uint32Array {
  const n = backends.length;
  if (n === 0) return new Uint32Array(0);
  if (m <= n) {
    throw new InvalidInputError("backends", n, `need a table larger than the number of backends; table size is ${m}`, "INVALID_TABLE_SIZE");
  }
  // Key strings are ASCII by construction (address text, digits, fixed
  // words), so one `encodeInto` of their concatenation fills the engine's key
  // buffer and each key's length in bytes is its length in characters.
  const joined = backends.map((b) => b.key).join("");
  engine.maglevReserve(n, joined.length, m);

  // Views are made after `reserve`, which may grow (and so detach) memory.
  const mem = engine.memory.buffer;
  encoder.encodeInto(joined, new Uint8Array(mem, engine.maglevKeysPtr(), joined.length));
  const keyEnds = new Uint32Array(mem, engine.maglevKeyEndsPtr(), n);
  const ids = new Uint32Array(mem, engine.maglevIdsPtr(), n);
  const weights = new Uint32Array(mem, engine.maglevWeightsPtr(), n);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const b = backends[i]!;
    offset += b.key.length;
    keyEnds[i] = offset;
    ids[i] = b.id;
    weights[i] = b.weight;
  }

  const code = engine.maglevBuild(n, m, seed);
  if (code !== ENGINE_RESULT.OK) {
    throw new EngineError("maglev build", code, ENGINE_RESULT_MEANING[code] ?? "unknown result");
  }
  return new Uint32Array(engine.memory.buffer, engine.maglevTablePtr(), m).slice();
}
