/**
 * The services-file model: what a validated services file holds.
 *
 * A services file describes load-balanced services (a frontend and its
 * backends) plus optional Maglev settings. Everything here has passed
 * validation: frontends are canonical, backends carry a protocol, names are
 * unique. Commands build from this model and never from raw input.
 *
 * @module
 */
import type { BackendProtocol, KeyFormat, MaglevBackend } from "../index.js";

/** The Maglev settings every table of one run shares. */
export interface MaglevSettings {
  readonly tableSize: number;
  readonly hashSeed: string;
  readonly keyFormat: KeyFormat;
}

/** A service's virtual address, canonical (Go `netip` text, upper-case protocol). */
export interface Frontend {
  readonly address: string;
  readonly port: number;
  readonly protocol: BackendProtocol;
}

/** One service of the file. */
export interface ServiceSpec {
  readonly name: string;
  /** Position in the file, so later errors can still point at the input. */
  readonly index: number;
  readonly frontend: Frontend;
  /** As written, except that `protocol` is always set (it defaults to the frontend's). */
  readonly backends: readonly MaglevBackend[];
}

/** A validated services file. */
export interface ServicesDocument {
  /** The file as the user named it; every message about it starts with this. */
  readonly file: string;
  /** Effective settings: command-line overrides, then the file, then Cilium's defaults. */
  readonly settings: MaglevSettings;
  /** Services in file order. */
  readonly services: readonly ServiceSpec[];
  /** Things that are valid but probably not what the author meant. */
  readonly warnings: readonly string[];
}
