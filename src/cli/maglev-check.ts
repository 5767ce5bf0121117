/**
 * `maglev --check`: builds in memory, compares with the output directory,
 * writes nothing. Exit 1 and a list of differences on drift, 0 otherwise.
 *
 * @module
 */
import { join } from "node:path";
import { DriftCheck, type Drift } from "./drift.js";
import { EXIT } from "./errors.js";
import { buildServices } from "./maglev-tables.js";
import { manifestOf, plural, type MaglevRun } from "./maglev-run.js";
import { MANIFEST_FILE, renderManifest, type ManifestService } from "./manifest.js";
import { readExistingOutput } from "./output-dir.js";
import { createProgress } from "./progress.js";

export async function checkTables(run: MaglevRun): Promise<number> {
  const { doc, out, output } = run;
  const drift = await findDrift(run);

  output.result({ status: drift.length ? "drift" : "up-to-date", input: doc.file, out, drift, warnings: run.warnings });
  if (drift.length === 0) {
    output.line(`up to date: ${out} matches ${doc.file} (${plural(doc.services.length, "service")})`);
    return EXIT.OK;
  }
  output.line(`drift: ${out} does not match ${doc.file}`);
  for (const d of drift) output.line(`  ${d.message}`);
  output.line(`${plural(drift.length, "difference")}; run without --check to update ${out}`);
  return EXIT.DRIFT;
}

async function findDrift(run: MaglevRun): Promise<Drift[]> {
  const { doc, builder, out, output } = run;
  const existing = await readExistingOutput(out);
  const manifestPath = join(out, MANIFEST_FILE);
  // Without a readable manifest there is nothing to compare table by table.
  if (existing.state === "missing") {
    return [{ kind: "manifest-missing", message: `${manifestPath}: missing (nothing has been written there)` }];
  }
  if (existing.state === "unreadable") {
    return [{ kind: "manifest-unreadable", message: `${manifestPath}: ${existing.reason}` }];
  }

  const comparison = new DriftCheck(out, existing, builder);
  comparison.compareSettings(doc.settings);
  const progress = createProgress(run.io, doc.services.length, { quiet: output.quiet });
  const entries: ManifestService[] = [];
  try {
    for (const built of buildServices(builder, doc.services, doc.file)) {
      await comparison.compareService(built);
      entries.push(built.entry);
      progress.update(entries.length);
    }
  } finally {
    progress.finish();
  }
  const expected = renderManifest(manifestOf(doc, entries));
  return comparison.finish(expected, new Set(entries.map((e) => e.file)));
}
