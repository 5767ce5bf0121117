/**
 * `maglev` without `--check`: builds every table into a staging directory
 * and swaps it in (see output-dir.ts), or leaves the output directory alone
 * when it already holds exactly this result.
 *
 * @module
 */
import { join } from "node:path";
import { EXIT } from "./errors.js";
import { columns } from "./format.js";
import { buildServices } from "./maglev-tables.js";
import { manifestOf, plural, type MaglevRun } from "./maglev-run.js";
import { MANIFEST_FILE, renderManifest, type ManifestService } from "./manifest.js";
import { createStaging, isCurrent } from "./output-dir.js";
import { createProgress } from "./progress.js";

/** Text output lists services one per line up to this many; beyond, the manifest is the list. */
const MAX_LISTED = 20;

export async function writeTables(run: MaglevRun): Promise<number> {
  const { doc, builder, out, output } = run;
  const staging = await createStaging(out);
  const progress = createProgress(run.io, doc.services.length, { quiet: output.quiet });
  const entries: ManifestService[] = [];
  let status: "written" | "unchanged";
  try {
    for (const built of buildServices(builder, doc.services, doc.file)) {
      await staging.writeTable(built.entry.file, built.bytes);
      entries.push(built.entry);
      progress.update(entries.length);
    }
    progress.finish();
    const text = renderManifest(manifestOf(doc, entries));
    if (await isCurrent(out, text, entries)) {
      status = "unchanged";
    } else {
      await staging.writeManifest(text);
      await staging.commit();
      status = "written";
    }
  } finally {
    progress.finish();
    await staging.discard();
  }

  output.result({
    status,
    input: doc.file,
    out,
    manifest: join(out, MANIFEST_FILE),
    ...doc.settings,
    services: entries.map((e) => ({ name: e.name, file: e.file, sha256: e.sha256, backends: e.backends.length, maxMinRatio: e.maxMinRatio })),
    warnings: run.warnings,
  });
  if (status === "unchanged") {
    output.line(`${out} is up to date: ${plural(entries.length, "table")} unchanged, nothing written`);
    return EXIT.OK;
  }
  const { tableSize, keyFormat } = doc.settings;
  output.line(`wrote ${plural(entries.length, "table")} and ${MANIFEST_FILE} to ${out} (table size ${tableSize}, key format ${keyFormat})`);
  if (entries.length > MAX_LISTED) {
    output.line(`  (${entries.length} services: see ${join(out, MANIFEST_FILE)})`);
  } else {
    const rows = entries.map((e) => [e.name, e.file, plural(e.backends.length, "backend"), `max/min ${e.maxMinRatio}`]);
    for (const line of columns(rows)) output.line(`  ${line}`);
  }
  return EXIT.OK;
}
