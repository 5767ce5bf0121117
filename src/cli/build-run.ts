/**
 * What `build` writing and checking share: the state read and translated,
 * the policy applied, the Maglev builder configured from the node's
 * settings, and the outputs they both produce (tables one at a time, the
 * JSON files, the manifest).
 *
 * @module
 */
import { createMaglev, type MaglevBuilder } from "../maglev/builder.js";
import type { WasmplaneError } from "../errors.js";
import { loadKubeState } from "../state/read.js";
import { translateServices, type ServiceTranslation, type TranslateOptions } from "../state/translate.js";
import { applyStatePolicy, type StatePolicy } from "../state/policy.js";
import type { KubeState } from "../state/snapshot.js";
import type { ServiceSpec } from "../services/index.js";
import {
  BUILD_FORMAT_VERSION, endpointIdentities, identityMapFile, loadBalancerFiles, maglevSpecs, policyFiles, type BuildFile,
} from "./build-files.js";
import { renderBuildManifest } from "./build-manifest.js";
import { buildServices, type BuiltService } from "./maglev-tables.js";
import { MANIFEST_FORMAT_VERSION, type ManifestService } from "./manifest.js";
import type { Io, Output } from "./output.js";
import { createProgress } from "./progress.js";

export interface BuildRun {
  readonly statePath: string;
  readonly out: string;
  readonly state: KubeState;
  readonly translation: ServiceTranslation;
  readonly policy: StatePolicy;
  readonly builder: MaglevBuilder;
  readonly specs: readonly ServiceSpec[];
  readonly identities: ReadonlyArray<{ identity: number; endpoints: string[] }>;
  /** Everything left out of the state, in order: its files and objects, then frontends, then policy. */
  readonly errors: readonly WasmplaneError[];
  readonly warnings: readonly string[];
  readonly output: Output;
  readonly io: Io;
}

/** Reads, validates and translates the state. @throws for a missing state path or a bad option */
export async function prepareBuild(statePath: string, out: string, options: TranslateOptions, output: Output, io: Io): Promise<BuildRun> {
  const state = await loadKubeState(statePath);
  const translation = translateServices(state, options);
  const policy = await applyStatePolicy(state);
  const warnings = [...translation.warnings];
  const { tableSize, hashSeed, keyFormat } = translation.settings;
  const builder = await createMaglev({ tableSize, hashSeed, keyFormat, onWarning: (m) => warnings.push(m) });
  const errors = [...state.errors, ...translation.errors, ...policy.errors];
  return {
    statePath, out, state, translation, policy, builder, specs: maglevSpecs(translation), identities: endpointIdentities(policy),
    errors, warnings, output, io,
  };
}

/** Callbacks for each output as it is produced. */
export interface BuildSink {
  table(built: BuiltService): Promise<void>;
  file(file: BuildFile): Promise<void>;
}

/**
 * Produces every output in a fixed order (tables by name, then the JSON
 * files), with progress on stderr, and returns the manifest's text.
 */
export async function produce(run: BuildRun, sink: BuildSink): Promise<{ manifestText: string; entries: ManifestService[]; files: BuildFile[] }> {
  const progress = createProgress(run.io, run.specs.length + run.identities.length, { quiet: run.output.quiet, unit: "tables and policy maps" });
  const entries: ManifestService[] = [];
  const files: BuildFile[] = [];
  let done = 0;
  try {
    for (const built of buildServices(run.builder, run.specs, run.statePath)) {
      await sink.table(built);
      entries.push(built.entry);
      progress.update(++done);
    }
    for (const f of [...loadBalancerFiles(run.translation), ...policyFiles(run.policy)]) {
      await sink.file(f);
      files.push(f);
    }
    for (const { identity, endpoints } of run.identities) {
      const f = identityMapFile(run.policy, identity, endpoints);
      await sink.file(f);
      files.push(f);
      progress.update(++done);
    }
  } finally {
    progress.finish();
  }
  const { tableSize, hashSeed, keyFormat } = run.translation.settings;
  const manifestText = renderBuildManifest({
    formatVersion: BUILD_FORMAT_VERSION,
    node: run.translation.node ?? null,
    settings: run.translation.settings,
    files: files.map((f) => ({ file: f.file, sha256: f.sha256 })),
    maglev: { formatVersion: MANIFEST_FORMAT_VERSION, tableSize, hashSeed, keyFormat, services: entries },
  });
  return { manifestText, entries, files };
}

/** Every error on its own line on stderr, as the CLI reports errors. */
export function reportErrors(run: BuildRun): void {
  for (const e of run.errors) run.io.stderr.write(`wasmplane: error: ${e.message}\n`);
}

/** Errors as JSON results carry them. */
export function errorsJson(run: BuildRun): unknown[] {
  return run.errors.map((e) => ({ code: e.code, message: e.message, ...("field" in e && typeof e.field === "string" ? { field: e.field } : {}) }));
}
