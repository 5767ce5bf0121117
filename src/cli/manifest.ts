/**
 * `manifest.json`: what a `maglev` run wrote, for the datapath loader and
 * for `--check`. Rendering is deterministic (fixed key order, services by
 * name, backends by ID, no timestamps) so the same input gives the same bytes.
 *
 * @module
 */
import * as v from "valibot";
import type { Frontend } from "../services/index.js";

/** Bumped when a reader of an older manifest would misread a newer one. */
export const MANIFEST_FORMAT_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";

export interface ManifestBackend {
  readonly id: number;
  /** The string the backend was hashed by (see the library's key formats). */
  readonly key: string;
  readonly weight: number;
  readonly slots: number;
}

export interface ManifestService {
  readonly name: string;
  readonly frontend: Frontend;
  /** Relative to the output directory. */
  readonly file: string;
  readonly sha256: string;
  readonly backends: readonly ManifestBackend[];
  /** Most slots of a backend over fewest (1 is perfectly even; weights skew it on purpose). */
  readonly maxMinRatio: number;
}

export interface Manifest {
  readonly formatVersion: number;
  readonly tableSize: number;
  readonly hashSeed: string;
  readonly keyFormat: string;
  readonly services: readonly ManifestService[];
}

/** The manifest's bytes. Objects are rebuilt field by field so key order never depends on the caller. */
export function renderManifest(m: Manifest): string {
  return `${JSON.stringify(orderedManifest(m), null, 2)}\n`;
}

/** The manifest as a plain object in its fixed key order (`build` nests it in its own manifest). */
export function orderedManifest(m: Manifest): unknown {
  return {
    formatVersion: m.formatVersion,
    tableSize: m.tableSize,
    hashSeed: m.hashSeed,
    keyFormat: m.keyFormat,
    services: m.services.map((s) => ({
      name: s.name,
      frontend: { address: s.frontend.address, port: s.frontend.port, protocol: s.frontend.protocol },
      file: s.file,
      sha256: s.sha256,
      backends: s.backends.map((b) => ({ id: b.id, key: b.key, weight: b.weight, slots: b.slots })),
      maxMinRatio: s.maxMinRatio,
    })),
  };
}

// Reading is lenient about extra fields (a newer writer may add some) and
// strict about the ones --check compares.
/** The schema of a manifest (also of `build`'s `maglev` section). */
export const manifestSchema = v.object({
  formatVersion: v.number(),
  tableSize: v.number(),
  hashSeed: v.string(),
  keyFormat: v.string(),
  services: v.array(
    v.object({
      name: v.string(),
      frontend: v.object({ address: v.string(), port: v.number(), protocol: v.string() }),
      file: v.string(),
      sha256: v.string(),
      backends: v.array(v.object({ id: v.number(), key: v.string(), weight: v.number(), slots: v.number() })),
      maxMinRatio: v.number(),
    }),
  ),
});

/** Parses an existing manifest; a reason instead when it is not one this version can read. */
export function parseManifest(text: string): { ok: true; manifest: Manifest } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "is not valid JSON" };
  }
  const result = v.safeParse(manifestSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const path = v.getDotPath(issue);
    return { ok: false, reason: `is not a wasmplane manifest (${path ?? "root"}: ${issue.message})` };
  }
  return { ok: true, manifest: result.output as Manifest };
}
