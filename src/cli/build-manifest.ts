/**
 * `manifest.json` of `wasmplane build`: the settings, every file with its
 * sha256, and the Maglev tables in a `maglev` section that is exactly the
 * manifest `wasmplane maglev` writes (manifest.ts), so tools that read one
 * read the other, and `--check` compares tables with the same code.
 *
 * Deterministic: fixed key order, files by path, no timestamps.
 *
 * @module
 */
import * as v from "valibot";
import type { NodeSettings } from "../state/translate.js";
import { BUILD_FORMAT_VERSION } from "./build-files.js";
import { manifestSchema, orderedManifest, type Manifest } from "./manifest.js";

/** A file of the output and its checksum. */
export interface BuildManifestFile {
  readonly file: string;
  readonly sha256: string;
}

export interface BuildManifest {
  readonly formatVersion: number;
  /** The node the tables are for; null when none. */
  readonly node: string | null;
  readonly settings: NodeSettings;
  /** Every file except the Maglev tables (those are in `maglev.services`), by path. */
  readonly files: readonly BuildManifestFile[];
  readonly maglev: Manifest;
}

export function renderBuildManifest(m: BuildManifest): string {
  const s = m.settings;
  const ordered = {
    formatVersion: m.formatVersion,
    generator: "wasmplane build",
    node: m.node,
    settings: {
      tableSize: s.tableSize, hashSeed: s.hashSeed, keyFormat: s.keyFormat, defaultAlgorithm: s.defaultAlgorithm, backendIdLimit: s.backendIdLimit,
    },
    files: [...m.files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)).map((f) => ({ file: f.file, sha256: f.sha256 })),
    maglev: orderedManifest(m.maglev),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

const buildSchema = v.object({
  formatVersion: v.number(),
  generator: v.literal("wasmplane build"),
  node: v.nullable(v.string()),
  settings: v.object({
    tableSize: v.number(), hashSeed: v.string(), keyFormat: v.string(), defaultAlgorithm: v.string(), backendIdLimit: v.number(),
  }),
  files: v.array(v.object({ file: v.string(), sha256: v.string() })),
  maglev: manifestSchema,
});

/** Parses an existing build manifest; a reason instead when it is not one this version can read. */
export function parseBuildManifest(text: string): { ok: true; manifest: BuildManifest } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "is not valid JSON" };
  }
  const result = v.safeParse(buildSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, reason: `is not a wasmplane build manifest (${v.getDotPath(issue) ?? "root"}: ${issue.message})` };
  }
  if (result.output.formatVersion !== BUILD_FORMAT_VERSION) {
    return { ok: false, reason: `has format version ${result.output.formatVersion}; this wasmplane reads ${BUILD_FORMAT_VERSION}` };
  }
  return { ok: true, manifest: result.output as unknown as BuildManifest };
}
