/**
 * A state path (file or directory) to a {@link KubeState}, keeping going
 * past files that do not parse: each becomes one error naming the file, line
 * and column, and every other file still applies.
 *
 * Files are taken as load.ts takes them: `.yaml`, `.yml` and `.json`,
 * directories recursively in code-point name order, dot files skipped.
 *
 * {@link StateReader} keeps what it read, per file: a file is parsed again
 * only when its content changed (a SHA-256 of the text), and only the
 * objects of changed files are validated again (snapshot.ts
 * `StateSnapshot`). The node agent reads through one, so a change costs in
 * proportion to the files it touched, not to the size of the state.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import type { WasmplaneError } from "../errors.js";
import { byText } from "./fields.js";
import { parseStateText, StateFileError } from "./load.js";
import { StateSnapshot, type KubeState } from "./snapshot.js";

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

/** What a {@link StateReader} knows of one file. */
interface FileRecord {
  /** size, mtime, ctime and inode: a full scan re-reads a file only when one of these moved. */
  readonly stamp: string;
  /** SHA-256 of the text: a file re-read with the same text is not parsed again. */
  readonly hash: string;
}

/** What {@link StateReader.read} did. */
export interface StateReadResult {
  /** The whole state, validated (objects that did not change are the same JavaScript objects as before). */
  readonly state: KubeState;
  /** Keys (`Kind\0namespace\0name`) of objects added, changed or removed since the previous read. */
  readonly changed: ReadonlySet<string>;
  /** Files parsed again. */
  readonly parsed: number;
}

/**
 * Reads a state path and keeps it, file by file, for cheap re-reads.
 *
 * @internal The node agent's; {@link loadKubeState} reads a state once.
 */
export class StateReader {
  /** The state path, as given. */
  readonly path: string;
  readonly #files = new Map<string, FileRecord>();
  readonly #snapshot = new StateSnapshot();

  constructor(path: string) {
    this.path = path;
  }

  /**
   * Reads the state again.
   *
   * * `paths` given (files or directories the watch reported, absolute or
   *   relative to the state directory): only those are looked at; a file
   *   is read and compared by content, a directory scanned, a path gone
   *   forgotten with everything under it.
   * * `paths` undefined: a full scan; every file whose size, times or
   *   inode moved is read again (with `content`, every file is read and
   *   compared by content: nothing can be missed).
   *
   * @throws StateFileError only when the state path itself does not exist.
   */
  async read(options: { paths?: Iterable<string>; content?: boolean } = {}): Promise<StateReadResult> {
    let parsed = 0;
    const info = await statOrUndefined(this.path);
    if (!info) throw new StateFileError(this.path, "no such file or directory");
    if (info.isFile()) {
      for (const file of [...this.#snapshot.units()]) if (file !== this.path) this.#forget(file);
      if (await this.#load(this.path, options.paths !== undefined || options.content === true)) parsed++;
    } else if (options.paths === undefined) {
      const files = await stateFiles(this.path, true);
      const keep = new Set(files);
      for (const file of [...this.#snapshot.units()]) if (!keep.has(file)) this.#forget(file);
      for (const file of files) if (await this.#load(file, options.content === true)) parsed++;
    } else {
      for (const p of new Set(options.paths)) parsed += await this.#update(p);
    }
    const state = this.#snapshot.state();
    return { state, changed: this.#snapshot.takeChanged(), parsed };
  }

  /** One path the watch named, under a directory state path. */
  async #update(name: string): Promise<number> {
    const rel = relative(this.path, isAbsolute(name) ? name : join(this.path, name));
    const full = join(this.path, rel);
    if (rel === "" || rel.startsWith("..")) return (await this.read({})).parsed; // not under the state: look at everything
    if (rel.split(sep).some((s) => s.startsWith("."))) return 0; // dot files and what is under dot directories are not state
    const info = await statOrUndefined(full);
    const under = `${full}${sep}`;
    if (!info?.isDirectory()) for (const file of [...this.#snapshot.units()]) if (file.startsWith(under)) this.#forget(file);
    if (!info) {
      this.#forget(full);
      return 0;
    }
    if (info.isFile()) {
      if (!EXTENSIONS.test(full)) return 0;
      return (await this.#load(full, true)) ? 1 : 0;
    }
    if (!info.isDirectory()) return 0;
    this.#forget(full);
    let files: string[];
    try {
      files = await stateFiles(full, false);
    } catch {
      files = []; // gone while being read: its own event follows
    }
    const keep = new Set(files);
    for (const file of [...this.#snapshot.units()]) if (file.startsWith(under) && !keep.has(file)) this.#forget(file);
    let n = 0;
    for (const file of files) if (await this.#load(file, false)) n++;
    return n;
  }

  #forget(file: string): void {
    this.#files.delete(file);
    this.#snapshot.delete(file);
  }

  /** Reads `file` when it may have changed; true when it was parsed again. */
  async #load(file: string, force: boolean): Promise<boolean> {
    const info = await statOrUndefined(file);
    if (!info) {
      this.#forget(file);
      return false;
    }
    const stamp = `${info.size}:${info.mtimeNs}:${info.ctimeNs}:${info.ino}`;
    const before = this.#files.get(file);
    if (!force && before?.stamp === stamp) return false;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        this.#forget(file);
        return false;
      }
      this.#files.set(file, { stamp, hash: "" });
      this.#snapshot.set(file, [], [new StateFileError(file, (error as Error).message)]);
      return true;
    }
    const hash = createHash("sha256").update(text).digest("base64");
    if (before?.hash === hash) {
      this.#files.set(file, { stamp, hash });
      return false;
    }
    this.#files.set(file, { stamp, hash });
    try {
      this.#snapshot.set(file, parseStateText(file, text));
    } catch (error) {
      if (!(error instanceof StateFileError)) throw error;
      this.#snapshot.set(file, [], [error]);
    }
    return true;
  }
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path, { bigint: true });
  } catch {
    return undefined;
  }
}

/**
 * Reads and validates every object under `path`.
 * @throws StateFileError only when `path` itself does not exist; every
 *   other problem is in the result's `errors`.
 */
export async function loadKubeState(path: string): Promise<KubeState> {
  return (await new StateReader(path).read()).state;
}
