/**
 * The version `--version` prints: package.json's, read at run time.
 *
 * Importing package.json would bundle it, but it lies outside `src/`, which
 * the declaration build (rootDir `src`) rejects. So the file is looked up
 * next to the running code: `dist/cli.js` and `src/cli/version.ts` both have
 * it one or two directories up.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "wasmplane" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // Not here (or not readable): keep walking up.
    }
    dir = dirname(dir);
  }
  return "unknown";
}
