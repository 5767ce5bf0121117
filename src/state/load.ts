/**
 * Reads Kubernetes-style state from a file or a directory: YAML or JSON,
 * single documents, multi-document files and `List`s, as `kubectl get -o
 * yaml` writes them. Directories are read recursively in name order, so the
 * same folder always gives the same sequence of objects.
 *
 * @module
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { WasmplaneError } from "../errors.js";

/** A file of the state that cannot be read or parsed. */
export class StateFileError extends WasmplaneError {
  /** The file, and the line and column where known. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super("INVALID_INPUT", `${file}: ${problem}`);
    this.file = file;
  }
}

/** One document of the state and where it came from (`file` or `file#2` for the third document). */
export interface StateDocument {
  readonly source: string;
  readonly value: unknown;
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

async function filesOf(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new StateFileError(path, "no such file or directory");
  }
  if (info.isFile()) return [path];
  const out: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith(".")) continue;
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await filesOf(full)));
    else if (EXTENSIONS.test(entry.name)) out.push(full);
  }
  return out;
}

/** Parses one file's text into documents. @throws StateFileError with file:line:col */
export function parseStateText(file: string, text: string): StateDocument[] {
  const docs = parseAllDocuments(text);
  const out: StateDocument[] = [];
  // A stream of documents; a single bad one spoils the file (it may hide the rest).
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos?.[0];
      throw new StateFileError(pos ? `${file}:${pos.line}:${pos.col}` : file, error.message.split("\n")[0]!);
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) return; // an empty document (a trailing ---)
    out.push({ source: list.length > 1 ? `${file}#${i}` : file, value });
  });
  return out;
}

/**
 * Reads every document under `path`.
 * @throws StateFileError naming the file for a missing path or a parse error
 */
export async function loadState(path: string): Promise<StateDocument[]> {
  const out: StateDocument[] = [];
  for (const file of await filesOf(path)) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw new StateFileError(file, (error as Error).message);
    }
    out.push(...parseStateText(file, text));
  }
  return out;
}
