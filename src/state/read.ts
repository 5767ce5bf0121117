/**
 * A state path (file or directory) to a {@link KubeState}, keeping going
 * past files that do not parse: each becomes one error naming the file, line
 * and column, and every other file still applies.
 *
 * Files are taken as load.ts takes them: `.yaml`, `.yml` and `.json`,
 * directories recursively in code-point name order, dot files skipped.
 *
 * @module
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { WasmplaneError } from "../errors.js";
import { byText } from "./fields.js";
import { loadState, StateFileError, type StateDocument } from "./load.js";
import { readState, type KubeState } from "./snapshot.js";

const EXTENSIONS = /\.(ya?ml|json)$/i;

async function stateFiles(path: string, top: boolean): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new StateFileError(path, "no such file or directory");
  }
  if (info.isFile()) return top || EXTENSIONS.test(path) ? [path] : [];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => byText(a.name, b.name));
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await stateFiles(full, false)));
    else if (EXTENSIONS.test(entry.name)) out.push(full);
  }
  return out;
}

/**
 * Reads and validates every object under `path`.
 * @throws StateFileError only when `path` itself does not exist; every
 *   other problem is in the result's `errors`.
 */
export async function loadKubeState(path: string): Promise<KubeState> {
  const documents: StateDocument[] = [];
  const errors: WasmplaneError[] = [];
  for (const file of await stateFiles(path, true)) {
    try {
      documents.push(...(await loadState(file)));
    } catch (error) {
      if (!(error instanceof StateFileError)) throw error;
      errors.push(error);
    }
  }
  return readState(documents, errors);
}
