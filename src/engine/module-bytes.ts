/**
 * The compiled engine's bytes.
 *
 * From source (tests, `tsx`) they are read from the build output next to the
 * generated bindings. The published bundle never runs this file: the bundler
 * (`scripts/bundle.mjs`) replaces it with a module that holds the bytes
 * inline, so no user ever has to locate a `.wasm` file.
 *
 * @module
 */
import { readFileSync } from "node:fs";

/** The release build of `assembly/index.ts`. */
export function engineModuleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(new URL("../../bindings/wasm/release.wasm", import.meta.url)));
}
