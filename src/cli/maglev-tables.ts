/**
 * Builds the Maglev table of each service and the manifest entry that
 * describes it. Tables are produced one at a time (a generator) so a run
 * over many services never holds more than one table beyond what the
 * caller keeps.
 *
 * @module
 */
import { InvalidInputError, type MaglevBuilder } from "../index.js";
import { ServicesFileError, serviceLabel, tableFileName, type ServiceSpec } from "../services/index.js";
import { round } from "./format.js";
import type { ManifestBackend, ManifestService } from "./manifest.js";
import { sha256Hex, tableToBytes } from "./table-bytes.js";

export interface BuiltService {
  readonly spec: ServiceSpec;
  readonly table: Uint32Array;
  /** The table file's content. */
  readonly bytes: Uint8Array;
  readonly entry: ManifestService;
}

/**
 * Services in manifest order: by name, in code-point order (not the locale's,
 * which differs between machines). Input order must not matter.
 */
export function manifestOrder(services: readonly ServiceSpec[]): ServiceSpec[] {
  return [...services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Builds every service, in manifest order. `file` names the input in (unexpected) build errors. */
export function* buildServices(builder: MaglevBuilder, services: readonly ServiceSpec[], file: string): Generator<BuiltService> {
  for (const spec of manifestOrder(services)) yield buildService(builder, spec, file);
}

export function buildService(builder: MaglevBuilder, spec: ServiceSpec, file: string): BuiltService {
  let table: Uint32Array;
  try {
    table = builder.build(spec.backends);
  } catch (error) {
    // Validation should have caught this; if the builder disagrees, still point at the input.
    if (!(error instanceof InvalidInputError)) throw error;
    const message = `${file}: ${serviceLabel(spec.index, spec.name)} ${error.message}`;
    throw new ServicesFileError(error.code, message, { file, field: `services[${spec.index}].${error.field}` }, { cause: error });
  }
  const bytes = tableToBytes(table);
  const stats = builder.stats(table);
  const backends: ManifestBackend[] = spec.backends
    .map((b) => ({ id: b.id, key: builder.keyOf(b), weight: b.weight ?? 1, slots: stats.slotsPerBackend.get(b.id) ?? 0 }))
    .sort((a, b) => a.id - b.id);
  const entry: ManifestService = {
    name: spec.name,
    frontend: spec.frontend,
    file: tableFileName(spec.name),
    sha256: sha256Hex(bytes),
    backends,
    maxMinRatio: round(stats.maxMinRatio),
  };
  return { spec, table, bytes, entry };
}
