/**
 * Watching the state path: `fs.watch` on a directory and each directory
 * under it (watch-tree.ts) or on
 * the directory of a file (a file is often replaced rather than written:
 * editors and `kubectl get > file` rename a new file over it, which ends a
 * watch on the file itself), debounced so that a burst of events (a file
 * written in several chunks, a `cp -r`) makes one change.
 *
 * The names the events carry are collected over the burst and handed on,
 * so that the reader looks at those files only (src/state/read.ts
 * `StateReader`). An event without a name (the platform did not say) hands
 * on `undefined`: look at everything.
 *
 * @module
 */
import { watch, statSync, type FSWatcher } from "node:fs";
import { basename, dirname, join } from "node:path";
import { watchTree } from "./watch-tree.js";

/** A running watch. */
export interface StateWatcher {
  /** Stops watching and cancels a pending call. Idempotent. */
  close(): void;
}

/**
 * Calls `onChange` `debounceMs` after the last event under `path`, with
 * the paths the events named (joined to `path` for a directory, `path`
 * itself for a file) or `undefined` when an event named none.
 * @throws the `fs.watch` error when the path cannot be watched.
 */
export function watchState(path: string, options: { debounceMs: number }, onChange: (paths: string[] | undefined) => void, onError: (error: Error) => void): StateWatcher {
  const isDirectory = statSync(path).isDirectory();
  const file = isDirectory ? undefined : basename(path);
  let timer: NodeJS.Timeout | undefined;
  let names: Set<string> | undefined = new Set();
  const flush = () => {
    const paths = names === undefined ? undefined : [...names];
    names = new Set();
    onChange(paths);
  };
  const fire = (_event: string, name: string | Buffer | null) => {
    if (file !== undefined && name !== null && String(name) !== file) return;
    if (name === null) names = undefined;
    else names?.add(file !== undefined ? path : join(path, String(name)));
    clearTimeout(timer);
    timer = setTimeout(flush, options.debounceMs);
  };
  // A folder one directory at a time (watch-tree.ts): Node 20's recursive watch misses files replaced by a rename.
  const watcher: Pick<FSWatcher, "close"> = isDirectory ? watchTree(path, fire, onError) : watch(dirname(path), fire).on("error", onError);
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
