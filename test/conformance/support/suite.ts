/**
 * Turns case files into node:test suites: one `describe` per file, one
 * `test` per case, each on a fresh cluster.
 *
 * @module
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { clusterAvailable, newCluster } from "./cluster.js";
import { loadCaseDir, type CaseFile } from "./cases.js";
import { Model } from "./model.js";
import { runCase } from "./run.js";

/** The absolute path of a data directory under test/conformance/data. */
export function dataDir(name: string): string {
  return fileURLToPath(new URL(`../data/${name}/`, import.meta.url));
}

/** Loads the case files of a data directory against the e2e model. */
export function loadCases(name: string): CaseFile[] {
  const model = new Model();
  return loadCaseDir(dataDir(name), { pods: model.pods, namespaces: model.namespaces });
}

const UNAVAILABLE = "src/index.ts does not export createCluster yet";

/** Registers the suites of a data directory. */
export function registerConformanceSuites(name: string): void {
  const files = loadCases(name);

  test(`${name}: the cluster API is available`, () => {
    assert.ok(clusterAvailable, `${UNAVAILABLE}: every ${name} case is skipped (see test/conformance/support/cluster.ts)`);
  });

  for (const file of files) {
    describe(`${file.suite} [${name}/${file.file}]`, () => {
      for (const c of file.cases) {
        test(c.name, { skip: clusterAvailable ? false : UNAVAILABLE, todo: c.todo ?? false }, async () => {
          const report = runCase(c, await newCluster());
          if (report !== undefined) assert.fail(report);
        });
      }
    });
  }
}
