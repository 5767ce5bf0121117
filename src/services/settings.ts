/**
 * Maglev settings of a services file, and how they combine with the
 * command line: an override wins over the file, the file over Cilium's
 * defaults. Each value is checked by the library's own validator, wherever
 * it comes from, so `tableSize: 1000` and `--table-size 1000` fail alike.
 *
 * @module
 */
import { DEFAULT_HASH_SEED, DEFAULT_TABLE_SIZE, type KeyFormat } from "../index.js";
import { checkKeyFormat, checkTableSize, decodeHashSeed } from "../maglev/config.js";
import type { MaglevSettings } from "./model.js";

/** Settings given outside the file (command-line flags). Callers validate them first. */
export interface SettingsOverrides {
  readonly tableSize?: number | undefined;
  readonly hashSeed?: string | undefined;
  readonly keyFormat?: KeyFormat | undefined;
}

/** The settings a file states, validated. @throws InvalidInputError naming the field */
export function checkFileSettings(input: { tableSize?: number; hashSeed?: string; keyFormat?: string }): SettingsOverrides {
  // Warnings about unusual primes are left to createMaglev, which sees the effective size.
  if (input.tableSize !== undefined) checkTableSize(input.tableSize, "tableSize");
  if (input.hashSeed !== undefined) decodeHashSeed(input.hashSeed, "hashSeed");
  const keyFormat = input.keyFormat === undefined ? undefined : checkKeyFormat(input.keyFormat, "keyFormat");
  return { tableSize: input.tableSize, hashSeed: input.hashSeed, keyFormat };
}

/** Overrides, then the file, then Cilium's defaults. */
export function effectiveSettings(file: SettingsOverrides, overrides: SettingsOverrides): MaglevSettings {
  return {
    tableSize: overrides.tableSize ?? file.tableSize ?? DEFAULT_TABLE_SIZE,
    hashSeed: overrides.hashSeed ?? file.hashSeed ?? DEFAULT_HASH_SEED,
    keyFormat: overrides.keyFormat ?? file.keyFormat ?? "cilium",
  };
}
