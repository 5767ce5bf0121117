/**
 * The output directory: `manifest.json` plus `tables/<service>.bin`, and how
 * it is replaced without ever showing a manifest that describes tables that
 * are missing or half-written.
 *
 * A run writes everything into a staging directory inside the output
 * directory (same file system, so renames are atomic), then:
 *   1. deletes the old manifest;
 *   2. moves the old `tables/` into the staging directory;
 *   3. moves the new `tables/` into place;
 *   4. moves the new manifest into place.
 * Interrupted anywhere, the directory holds the old manifest with the old
 * tables (before 1), no manifest (1 to 4), or the new manifest with the new
 * tables (after 4). Readers must treat "no manifest" as "not ready". A
 * killed run leaves its staging directory behind; the next run removes it.
 *
 * @module
 */
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UsageError } from "./errors.js";
import { MANIFEST_FILE, parseManifest, type Manifest } from "./manifest.js";
import { sha256Hex } from "./table-bytes.js";

const TABLES_DIR = "tables";
const STAGING_PREFIX = ".wasmplane-staging-";

/** A half-built output directory that becomes the real one on {@link Staging.commit}. */
export interface Staging {
  writeTable(file: string, bytes: Uint8Array): Promise<void>;
  /** Writes `file` (a path under one of the staging's directories), creating its parent directories. */
  writeFile(file: string, data: Uint8Array | string): Promise<void>;
  writeManifest(text: string): Promise<void>;
  commit(): Promise<void>;
  /** Removes the staging directory; safe to call after commit or twice. */
  discard(): Promise<void>;
}

/**
 * Creates `outDir` if needed and a fresh staging directory in it. `dirs`
 * are the top-level directories a run owns (`maglev`: `tables`; `build`
 * more): each is replaced whole on commit, as `tables/` is described above.
 */
export async function createStaging(outDir: string, dirs: readonly string[] = [TABLES_DIR]): Promise<Staging> {
  try {
    await mkdir(outDir, { recursive: true });
  } catch (error) {
    // mkdir says EEXIST for a file in the way, which reads as if nothing were wrong.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${outDir}: is not a directory`, "--out");
    throw error;
  }
  // Staging left by a run that was killed is garbage: remove it. (One writer
  // per output directory at a time; two concurrent runs were never safe.)
  for (const name of await readdir(outDir)) {
    if (name.startsWith(STAGING_PREFIX)) await rm(join(outDir, name), { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(outDir, STAGING_PREFIX));
  for (const owned of dirs) await mkdir(join(dir, owned));
  const writeFile = async (file: string, data: Uint8Array | string) => {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeDurably(join(dir, file), data);
  };
  return {
    writeTable: writeFile,
    writeFile,
    writeManifest: (text) => writeDurably(join(dir, MANIFEST_FILE), text),
    async commit() {
      const manifest = join(outDir, MANIFEST_FILE);
      await rm(manifest, { force: true });
      await syncDir(outDir);
      for (const owned of dirs) {
        try {
          await rename(join(outDir, owned), join(dir, `old-${owned}`));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        }
        await rename(join(dir, owned), join(outDir, owned));
      }
      await rename(join(dir, MANIFEST_FILE), manifest);
      await syncDir(outDir);
      await rm(dir, { recursive: true, force: true });
    },
    discard: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Writes a new file and flushes it to disk, so a rename after it never exposes an empty file after a crash. */
async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a directory's entries (the renames). Not possible everywhere (Windows); best effort. */
async function syncDir(path: string): Promise<void> {
  try {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the rename is a bonus; atomicity does not depend on it.
  }
}

/** What an output directory holds now. */
export type ExistingOutput =
  | { readonly state: "missing" }
  | { readonly state: "unreadable"; readonly reason: string }
  | { readonly state: "present"; readonly manifest: Manifest; readonly manifestText: string };

export async function readExistingOutput(outDir: string): Promise<ExistingOutput> {
  let text: string;
  try {
    text = await readFile(join(outDir, MANIFEST_FILE), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { state: "missing" };
    throw error;
  }
  const parsed = parseManifest(text);
  if (!parsed.ok) return { state: "unreadable", reason: parsed.reason };
  return { state: "present", manifest: parsed.manifest, manifestText: text };
}

/** A table file's bytes, `undefined` when it does not exist. `file` is one this program names. */
export async function readTableFile(outDir: string, file: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(join(outDir, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The files under `tables/`, as manifest paths (`tables/x.bin`). */
export async function listTableFiles(outDir: string): Promise<string[]> {
  try {
    const names = await readdir(join(outDir, TABLES_DIR));
    return names.map((n) => `${TABLES_DIR}/${n}`).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}

/**
 * True when `outDir` already holds exactly this manifest and these tables,
 * so a run can leave it untouched (mtimes and watchers stay quiet).
 */
export async function isCurrent(outDir: string, manifestText: string, entries: readonly { file: string; sha256: string }[]): Promise<boolean> {
  const existing = await readExistingOutput(outDir);
  if (existing.state !== "present" || existing.manifestText !== manifestText) return false;
  const files = await listTableFiles(outDir);
  if (files.length !== entries.length || !entries.every((e) => files.includes(e.file))) return false;
  for (const entry of entries) {
    const bytes = await readTableFile(outDir, entry.file);
    if (!bytes || sha256Hex(bytes) !== entry.sha256) return false;
  }
  return true;
}

/** Every file under `dir` of `outDir`, recursively, as manifest paths (`policy/identities/9972.json`), sorted. */
export async function listFiles(outDir: string, dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(outDir, dir), { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(outDir, path)));
    else out.push(path);
  }
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
