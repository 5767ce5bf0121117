/**
 * What `maglev` writing and checking share: the loaded input, the builder
 * configured for it, and the manifest they both produce.
 *
 * @module
 */
import type { MaglevBuilder } from "../index.js";
import type { ServicesDocument } from "../services/index.js";
import { MANIFEST_FORMAT_VERSION, type Manifest, type ManifestService } from "./manifest.js";
import type { Io, Output } from "./output.js";

export interface MaglevRun {
  readonly doc: ServicesDocument;
  readonly builder: MaglevBuilder;
  /** The input's warnings and the builder's, also reported in JSON results. */
  readonly warnings: readonly string[];
  readonly out: string;
  readonly output: Output;
  readonly io: Io;
}

export function manifestOf(doc: ServicesDocument, services: readonly ManifestService[]): Manifest {
  return { formatVersion: MANIFEST_FORMAT_VERSION, ...doc.settings, services };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
