/**
 * Instantiates the WebAssembly engine.
 *
 * The module is compiled once per process and instantiated once per engine
 * object, so two builders never share linear memory. The glue is the
 * `--bindings raw` output of `asc` (see docs/architecture.md for why not the
 * deprecated loader): it only converts `usize` and `u64` results.
 *
 * @module
 */
import { instantiate } from "../../bindings/wasm/release.js";
import { engineModuleBytes } from "./module-bytes.js";

/** The engine's exports, as the generated bindings type them. */
export type Engine = Awaited<ReturnType<typeof instantiate>>;

let compiled: Promise<WebAssembly.Module> | undefined;

/** A fresh engine instance with its own memory. */
export async function instantiateEngine(): Promise<Engine> {
  compiled ??= WebAssembly.compile(engineModuleBytes());
  return instantiate(await compiled, { env: {} });
}
