/**
 * Command-line values the library has rules for. Flags are checked by the
 * same validators as the file's settings, named after the flag, so
 * `--table-size 1000` and `tableSize: 1000` fail with the same words.
 *
 * @module
 */
import { InvalidInputError, type KeyFormat } from "../index.js";
import { checkKeyFormat, checkTableSize, decodeHashSeed } from "../maglev/config.js";
import type { SettingsOverrides } from "../services/index.js";

/** The raw strings commander collected for the Maglev flags. */
export interface MaglevFlags {
  tableSize?: string;
  hashSeed?: string;
  keyFormat?: string;
}

/** Validates the Maglev flags. @throws InvalidInputError naming the flag */
export function maglevOverrides(flags: MaglevFlags): SettingsOverrides {
  let tableSize: number | undefined;
  if (flags.tableSize !== undefined) {
    // Number("") is 0 and Number("1e3") is 1000: accept plain digits only.
    if (!/^[0-9]+$/.test(flags.tableSize)) {
      throw new InvalidInputError("--table-size", flags.tableSize, "must be an integer", "INVALID_TABLE_SIZE");
    }
    tableSize = Number(flags.tableSize);
    checkTableSize(tableSize, "--table-size");
  }
  if (flags.hashSeed !== undefined) decodeHashSeed(flags.hashSeed, "--hash-seed");
  const keyFormat: KeyFormat | undefined =
    flags.keyFormat === undefined ? undefined : checkKeyFormat(flags.keyFormat, "--key-format");
  return { tableSize, hashSeed: flags.hashSeed, keyFormat };
}
