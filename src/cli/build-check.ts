/**
 * `build --check`: builds in memory, compares with an output directory,
 * writes nothing. Maglev tables are compared by drift.ts (the code `maglev
 * --check` uses: slots moved, backends added or removed); every other file
 * by checksum, and a changed one is explained by build-diff.ts (which
 * services, backends, prefixes, endpoints or policy entries).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeFileChange } from "./build-diff.js";
import { BUILD_DIRS } from "./build-files.js";
import { parseBuildManifest } from "./build-manifest.js";
import { errorsJson, produce, reportErrors, type BuildRun } from "./build-run.js";
import { DriftCheck, type Drift } from "./drift.js";
import { EXIT } from "./errors.js";
import { plural } from "./maglev-run.js";
import { MANIFEST_FILE, renderManifest } from "./manifest.js";
import { listFiles, readTableFile } from "./output-dir.js";
import { sha256Hex } from "./table-bytes.js";

export async function checkBuild(run: BuildRun, dir: string): Promise<number> {
  const drift = await findDrift(run, dir);
  reportErrors(run);
  for (const w of run.warnings) run.output.warn(w);
  run.output.result({ status: drift.length ? "drift" : "up-to-date", state: run.statePath, out: dir, drift, warnings: run.warnings, errors: errorsJson(run) });
  if (drift.length === 0) run.output.line(`up to date: ${dir} matches ${run.statePath}`);
  else {
    run.output.line(`drift: ${dir} does not match ${run.statePath}`);
    for (const d of drift) run.output.line(`  ${d.message}`);
    run.output.line(`${plural(drift.length, "difference")}; run without --check to update ${dir}`);
  }
  // Input errors outrank drift: the comparison was made without the objects left out.
  if (run.errors.length) return EXIT.USAGE;
  return drift.length ? EXIT.DRIFT : EXIT.OK;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

async function findDrift(run: BuildRun, dir: string): Promise<Drift[]> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const text = await readText(manifestPath);
  if (text === undefined) return [{ kind: "manifest-missing", message: `${manifestPath}: missing (nothing has been written there)` }];
  const parsed = parseBuildManifest(text);
  if (!parsed.ok) return [{ kind: "manifest-unreadable", message: `${manifestPath}: ${parsed.reason}` }];
  const old = parsed.manifest;
  const t = run.translation;

  const drift: Drift[] = [];
  const setting = (name: string, before: unknown, after: unknown) => {
    if (before !== after) drift.push({ kind: "setting-changed", setting: name, before, after, message: `${name}: ${String(before)} → ${String(after)}` });
  };
  setting("node", old.node, t.node ?? null);
  setting("defaultAlgorithm", old.settings.defaultAlgorithm, t.settings.defaultAlgorithm);
  setting("backendIdLimit", old.settings.backendIdLimit, t.settings.backendIdLimit);

  // Maglev tables: the maglev command's comparison, on the nested manifest.
  const tables = new DriftCheck(dir, { state: "present", manifest: old.maglev, manifestText: renderManifest(old.maglev) }, run.builder);
  tables.compareSettings(t.settings);
  const oldFiles = new Map(old.files.map((f) => [f.file, f.sha256]));
  const fileDrift: Drift[] = [];
  const expected = new Set<string>();
  const result = await produce(run, {
    table: (built) => {
      expected.add(built.entry.file);
      return tables.compareService(built);
    },
    file: async (f) => {
      expected.add(f.file);
      const bytes = await readTableFile(dir, f.file);
      if (!bytes) {
        fileDrift.push(oldFiles.has(f.file)
          ? { kind: "file-missing", file: f.file, message: `${f.file}: missing` }
          : { kind: "file-added", file: f.file, message: `${f.file}: added${describeAdded(f.file, f.text)}` });
        return;
      }
      if (sha256Hex(bytes) === f.sha256) return;
      const changes = describeFileChange(f.file, Buffer.from(bytes).toString("utf8"), f.text);
      fileDrift.push({ kind: "file-changed", file: f.file, changes, message: `${f.file}: ${changes.join("; ")}` });
    },
  });
  const tableDrift = await tables.finish(renderManifest({ ...old.maglev, services: result.entries, formatVersion: old.maglev.formatVersion }), expected);
  drift.push(...tableDrift.filter((d) => d.kind !== "manifest-differs"));
  drift.push(...fileDrift);
  for (const f of old.files) {
    if (!expected.has(f.file)) drift.push({ kind: "file-removed", file: f.file, message: `${f.file}: removed` });
  }
  for (const owned of BUILD_DIRS.filter((d) => d !== "tables")) {
    for (const file of await listFiles(dir, owned)) {
      if (!expected.has(file) && !oldFiles.has(file)) drift.push({ kind: "file-unexpected", file, message: `${file}: not written by this state` });
    }
  }
  if (drift.length === 0 && text !== result.manifestText) {
    drift.push({ kind: "manifest-differs", message: `${MANIFEST_FILE}: differs from what would be written (formatting or extra fields)` });
  }
  return drift;
}

/** ` (identity 9972: shop/web, shop/web-1)` for a new policy map file. */
function describeAdded(file: string, text: string): string {
  if (!file.startsWith("policy/identities/")) return "";
  try {
    const json = JSON.parse(text) as { endpoints?: string[] };
    return json.endpoints?.length ? ` (endpoints ${json.endpoints.slice(0, 5).join(", ")}${json.endpoints.length > 5 ? ", ..." : ""})` : "";
  } catch {
    return "";
  }
}
