/**
 * Reading a services file from disk: read, parse, validate. File-system
 * failures become {@link ServicesFileError}s with a one-line message, so the
 * CLI can treat them like any other input mistake.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { ServicesFileError } from "./errors.js";
import type { ServicesDocument } from "./model.js";
import { parseServicesText } from "./parse.js";
import type { SettingsOverrides } from "./settings.js";
import { validateServices } from "./validate.js";

/**
 * Loads and validates the services file at `path` (YAML or JSON; JSON is
 * YAML). Messages name the file as `path` was given.
 * @throws ServicesFileError
 */
export async function loadServicesFile(path: string, overrides: SettingsOverrides = {}): Promise<ServicesDocument> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw readError(error, path);
  }
  // A byte-order mark is legal in YAML but easy to trip over elsewhere; drop it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return validateServices(parseServicesText(text, path), path, overrides);
}

function readError(error: unknown, file: string): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOENT") return new ServicesFileError("FILE_NOT_FOUND", `${file}: no such file`, { file }, { cause: error });
  if (code === "EISDIR") return new ServicesFileError("FILE_UNREADABLE", `${file}: is a directory, not a services file`, { file }, { cause: error });
  if (code === "EACCES" || code === "EPERM") {
    return new ServicesFileError("FILE_UNREADABLE", `${file}: permission denied`, { file }, { cause: error });
  }
  if (typeof code === "string") {
    return new ServicesFileError("FILE_UNREADABLE", `${file}: cannot be read (${code})`, { file }, { cause: error });
  }
  return error;
}
