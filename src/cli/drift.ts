/**
 * `maglev --check`: how an output directory differs from what the input
 * would produce. Every difference becomes one {@link Drift} with a message a
 * person can act on; the byte-level comparison of the manifest at the end
 * catches anything the field-by-field comparison does not name.
 *
 * @module
 */
import type { MaglevBuilder } from "../index.js";
import { formatFrontend, type MaglevSettings } from "../services/index.js";
import { percent } from "./format.js";
import type { BuiltService } from "./maglev-tables.js";
import { MANIFEST_FILE, MANIFEST_FORMAT_VERSION, type ManifestBackend, type ManifestService } from "./manifest.js";
import { listTableFiles, readTableFile, type ExistingOutput } from "./output-dir.js";
import { bytesToTable, sha256Hex } from "./table-bytes.js";

export type Drift =
  | { kind: "manifest-missing"; message: string }
  | { kind: "manifest-unreadable"; message: string }
  | { kind: "setting-changed"; setting: string; before: unknown; after: unknown; message: string }
  | { kind: "service-added"; service: string; message: string }
  | { kind: "service-removed"; service: string; message: string }
  | { kind: "service-changed"; service: string; changedSlots?: number; tableSize?: number; changes: string[]; message: string }
  | { kind: "file-unexpected"; file: string; message: string }
  | { kind: "file-added"; file: string; message: string }
  | { kind: "file-removed"; file: string; message: string }
  | { kind: "file-missing"; file: string; message: string }
  | { kind: "file-changed"; file: string; changes: string[]; message: string }
  | { kind: "manifest-differs"; message: string };

/** Compares services one at a time as they are built, then what only the whole run shows. */
export class DriftCheck {
  private readonly drift: Drift[] = [];
  private readonly existingByName: Map<string, ManifestService>;
  private readonly seen = new Set<string>();

  constructor(
    private readonly outDir: string,
    private readonly existing: Extract<ExistingOutput, { state: "present" }>,
    private readonly builder: MaglevBuilder,
  ) {
    this.existingByName = new Map(existing.manifest.services.map((s) => [s.name, s]));
  }

  /** Settings first: when they changed, every table changes and the cause should read first. */
  compareSettings(settings: MaglevSettings): void {
    const m = this.existing.manifest;
    const pairs: [string, unknown, unknown][] = [
      ["formatVersion", m.formatVersion, MANIFEST_FORMAT_VERSION],
      ["tableSize", m.tableSize, settings.tableSize],
      ["hashSeed", m.hashSeed, settings.hashSeed],
      ["keyFormat", m.keyFormat, settings.keyFormat],
    ];
    for (const [setting, before, after] of pairs) {
      if (before !== after) {
        this.drift.push({ kind: "setting-changed", setting, before, after, message: `${setting}: ${String(before)} → ${String(after)}` });
      }
    }
  }

  async compareService(built: BuiltService): Promise<void> {
    const { entry } = built;
    this.seen.add(entry.name);
    const before = this.existingByName.get(entry.name);
    if (!before) {
      this.drift.push({ kind: "service-added", service: entry.name, message: `${entry.name}: added` });
      return;
    }
    const changes: string[] = [];
    if (formatFrontend(before.frontend) !== formatFrontend(entry.frontend)) {
      changes.push(`frontend ${formatFrontend(before.frontend)} → ${formatFrontend(entry.frontend)}`);
    }
    changes.push(...backendChanges(before.backends, entry.backends));
    if (before.file !== entry.file) changes.push(`file ${before.file} → ${entry.file}`);

    let changedSlots: number | undefined;
    const bytes = await readTableFile(this.outDir, entry.file);
    if (!bytes) {
      changes.push(`${entry.file} is missing`);
    } else {
      if (sha256Hex(bytes) !== before.sha256) changes.push(`${entry.file} does not match the manifest's sha256`);
      const table = bytesToTable(bytes);
      if (!table || table.length !== built.table.length) {
        changes.push(`${entry.file} holds ${table ? `${table.length} slots` : `${bytes.length} bytes`}, expected ${built.table.length} slots`);
      } else {
        const diff = this.builder.compare(table, built.table);
        if (diff.changedSlots > 0) {
          changedSlots = diff.changedSlots;
          changes.unshift(`${diff.changedSlots} of ${table.length} slots changed (${percent(diff.changedFraction, 2)})`);
        }
      }
    }
    if (changes.length > 0) {
      this.drift.push({
        kind: "service-changed",
        service: entry.name,
        ...(changedSlots !== undefined ? { changedSlots, tableSize: built.table.length } : {}),
        changes,
        message: `${entry.name}: ${changes.join("; ")}`,
      });
    }
  }

  /** Removed services, stray files, and any byte difference left unexplained. */
  async finish(expectedManifestText: string, expectedFiles: ReadonlySet<string>): Promise<Drift[]> {
    const oldFiles = new Set<string>();
    for (const s of this.existing.manifest.services) {
      oldFiles.add(s.file);
      if (!this.seen.has(s.name)) this.drift.push({ kind: "service-removed", service: s.name, message: `${s.name}: removed` });
    }
    for (const file of await listTableFiles(this.outDir)) {
      if (!expectedFiles.has(file) && !oldFiles.has(file)) {
        this.drift.push({ kind: "file-unexpected", file, message: `${file}: not written by this input` });
      }
    }
    if (this.drift.length === 0 && this.existing.manifestText !== expectedManifestText) {
      this.drift.push({ kind: "manifest-differs", message: `${MANIFEST_FILE}: differs from what would be written (formatting or extra fields)` });
    }
    return this.drift;
  }
}

/** `backends added: 7; removed: 3; changed: 2` by ID; key or weight changes count as changed. */
function backendChanges(before: readonly ManifestBackend[], after: readonly ManifestBackend[]): string[] {
  const old = new Map(before.map((b) => [b.id, b]));
  const now = new Map(after.map((b) => [b.id, b]));
  const added = after.filter((b) => !old.has(b.id)).map((b) => b.id);
  const removed = before.filter((b) => !now.has(b.id)).map((b) => b.id);
  const changed = after
    .filter((b) => {
      const o = old.get(b.id);
      return o !== undefined && (o.key !== b.key || o.weight !== b.weight);
    })
    .map((b) => b.id);
  const out: string[] = [];
  if (added.length) out.push(`backends added: ${ids(added)}`);
  if (removed.length) out.push(`backends removed: ${ids(removed)}`);
  if (changed.length) out.push(`backends changed: ${ids(changed)}`);
  return out;
}

function ids(list: readonly number[]): string {
  const shown = list.slice(0, 5).join(", ");
  return list.length > 5 ? `${shown} and ${list.length - 5} more` : shown;
}
