/**
 * `build` without `--check`: everything into a staging directory, then
 * swapped in (output-dir.ts), or the output directory left alone when it
 * already holds exactly this result.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BUILD_DIRS } from "./build-files.js";
import { errorsJson, produce, reportErrors, type BuildRun } from "./build-run.js";
import { EXIT } from "./errors.js";
import { plural } from "./maglev-run.js";
import { MANIFEST_FILE } from "./manifest.js";
import { createStaging, listFiles, readTableFile } from "./output-dir.js";
import { sha256Hex } from "./table-bytes.js";

/** True when `out` holds exactly these files (no more) and this manifest. */
async function isCurrent(out: string, manifestText: string, expected: ReadonlyMap<string, string>): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(join(out, MANIFEST_FILE), "utf8");
  } catch {
    return false;
  }
  if (text !== manifestText) return false;
  const present = (await Promise.all(BUILD_DIRS.map((d) => listFiles(out, d)))).flat();
  if (present.length !== expected.size || !present.every((f) => expected.has(f))) return false;
  for (const [file, sha] of expected) {
    const bytes = await readTableFile(out, file);
    if (!bytes || sha256Hex(bytes) !== sha) return false;
  }
  return true;
}

function counted(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export async function writeBuild(run: BuildRun): Promise<number> {
  const { out, output, translation: t } = run;
  const staging = await createStaging(out, BUILD_DIRS);
  let status: "written" | "unchanged";
  let result;
  try {
    result = await produce(run, {
      table: (built) => staging.writeFile(built.entry.file, built.bytes),
      file: (f) => staging.writeFile(f.file, f.text),
    });
    const expected = new Map<string, string>([...result.entries.map((e) => [e.file, e.sha256] as const), ...result.files.map((f) => [f.file, f.sha256] as const)]);
    if (await isCurrent(out, result.manifestText, expected)) {
      status = "unchanged";
    } else {
      await staging.writeManifest(result.manifestText);
      await staging.commit();
      status = "written";
    }
  } finally {
    await staging.discard();
  }

  reportErrors(run);
  const counts = {
    services: t.services.length,
    maglevTables: result.entries.length,
    backends: t.backends.length,
    endpoints: run.policy.endpoints.length,
    identities: run.identities.length,
    ipcache: run.policy.cluster.ipcache().length,
  };
  output.result({
    status, state: run.statePath, out, manifest: join(out, MANIFEST_FILE), node: t.node ?? null, settings: t.settings, counts,
    files: [...result.entries.map((e) => ({ file: e.file, sha256: e.sha256 })), ...result.files.map((f) => ({ file: f.file, sha256: f.sha256 }))],
    ignored: run.state.ignored, warnings: run.warnings, errors: errorsJson(run),
  });
  for (const w of run.warnings) output.warn(w);
  const summary = `${plural(counts.services, "service")} (${plural(counts.maglevTables, "Maglev table")}), ${plural(counts.backends, "backend")}, ` +
    `${plural(counts.endpoints, "endpoint")} in ${counted(counts.identities, "identity", "identities")}, ${counted(counts.ipcache, "ipcache entry", "ipcache entries")}`;
  if (status === "unchanged") output.line(`${out} is up to date: ${summary}; nothing written`);
  else output.line(`wrote ${summary} to ${out} (node ${t.node ?? "none"}, table size ${t.settings.tableSize})`);
  if (run.state.ignored.length) output.line(`  ignored ${plural(run.state.ignored.length, "object")} of kinds wasmplane does not use: ${[...new Set(run.state.ignored.map((i) => i.kind))].join(", ")}`);
  if (run.errors.length) {
    output.line(`${plural(run.errors.length, "object")} left out (see the errors above): exit ${EXIT.USAGE}`);
    return EXIT.USAGE;
  }
  return EXIT.OK;
}
