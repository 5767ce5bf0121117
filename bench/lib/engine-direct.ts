/**
 * The WebAssembly engine without the builder around it.
 *
 * Why: `builder.build()` also validates backends, formats and encodes key
 * strings and copies the table out; this column times `maglevBuild` alone
 * (sort, hash, fill inside WebAssembly) so it compares like for like with the
 * native program. It drives the engine's ABI the way src/maglev/builder.ts
 * does, through the same `instantiateEngine`, without changing src/.
 */
import { instantiateEngine, type Engine } from "../../src/engine/wasm.js";
import type { PlainInput } from "../baseline/maglev-plain.js";

/** An engine instance loaded with one case's input, ready to rebuild it. */
export interface LoadedEngine {
  /** Rebuilds the table; the input buffers are not modified by a build, so repeats are valid. */
  build(): void;
  /** A copy of the current table. */
  table(): Uint32Array;
  /** Bytes of linear memory the instance holds. */
  memoryBytes(): number;
}

export type { Engine };

export async function createEngine(): Promise<Engine> {
  return instantiateEngine();
}

/** Writes `input` into the engine's buffers (as the builder does) for table size `m`. */
export function loadEngine(engine: Engine, input: PlainInput, m: number, seed: number): LoadedEngine {
  const n = input.keys.length;
  const keyBytes = input.keys.reduce((sum, k) => sum + k.length, 0);
  engine.maglevReserve(n, keyBytes, m);
  // Views after reserve: growing memory detaches earlier ones.
  const mem = engine.memory.buffer;
  const keys = new Uint8Array(mem, engine.maglevKeysPtr(), keyBytes);
  const keyEnds = new Uint32Array(mem, engine.maglevKeyEndsPtr(), n);
  let offset = 0;
  input.keys.forEach((k, i) => {
    keys.set(k, offset);
    offset += k.length;
    keyEnds[i] = offset;
  });
  new Uint32Array(mem, engine.maglevIdsPtr(), n).set(input.ids);
  new Uint32Array(mem, engine.maglevWeightsPtr(), n).set(input.weights);

  return {
    build() {
      const code = engine.maglevBuild(n, m, seed);
      if (code !== 0) throw new Error(`maglevBuild returned ${code}`);
    },
    table: () => new Uint32Array(engine.memory.buffer, engine.maglevTablePtr(), m).slice(),
    memoryBytes: () => engine.memory.buffer.byteLength,
  };
}
