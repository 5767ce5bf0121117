/**
 * Watching a directory tree one directory at a time: a non-recursive
 * `fs.watch` on the directory and on every directory under it, the set
 * brought up to date after each `rename` event (a directory created,
 * moved or removed).
 *
 * Why not `fs.watch(dir, { recursive: true })`: on Linux, Node 20 builds
 * the recursive watch from watches on the files it found, and a file
 * replaced by a rename (how controllers, editors and `kubectl get -o yaml >
 * f.new && mv f.new f` write) is reported once, then never again, not even
 * for plain writes: the watch stayed on the old file. A watch on the
 * directory itself sees every rename into it and every write to its files.
 *
 * @module
 */
import { readdirSync, watch, type FSWatcher } from "node:fs";
import { join, relative } from "node:path";

/** `root` and every directory under it (symbolic links are not followed). */
function directoriesUnder(root: string): string[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    let entries;
    try {
      entries = readdirSync(out[i]!, { withFileTypes: true });
    } catch {
      continue; // removed meanwhile: its parent's watch reports it
    }
    for (const e of entries) if (e.isDirectory()) out.push(join(out[i]!, e.name));
  }
  return out;
}

/**
 * Calls `onEvent(event, name)` for every change under `root`, `name`
 * relative to `root` (as a recursive `fs.watch` names it) or null when the
 * platform gave none. Errors of the watch on `root` go to `onError`; a
 * subdirectory's watch that fails is dropped (the directory is gone).
 * @throws the `fs.watch` error when `root` cannot be watched.
 */
export function watchTree(root: string, onEvent: (event: string, name: string | null) => void, onError: (error: Error) => void): { close(): void } {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  const refresh = () => {
    if (closed) return;
    const dirs = new Set(directoriesUnder(root));
    for (const [dir, w] of watchers) {
      if (dirs.has(dir)) continue;
      w.close();
      watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      let w: FSWatcher;
      try {
        w = watch(dir, (event, name) => {
          onEvent(event, name === null ? null : relative(root, join(dir, String(name))));
          if (event === "rename") refresh();
        });
      } catch (error) {
        if (dir === root) throw error;
        continue;
      }
      w.on("error", dir === root ? onError : () => {
        w.close();
        watchers.delete(dir);
      });
      watchers.set(dir, w);
    }
  };
  refresh();
  return {
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
