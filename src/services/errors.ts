/**
 * Errors about a services file. Each names the file and, when it can, the
 * service (by index and name) and the field, so a message alone is enough to
 * find the mistake in a file of a thousand services.
 *
 * @module
 */
import type { ErrorCode } from "../index.js";

/**
 * Codes of this module: the library's own, plus the ways a file can fail
 * before its content is looked at (the library's `ErrorCode` has no such codes).
 */
export type ServicesErrorCode = ErrorCode | "FILE_NOT_FOUND" | "FILE_UNREADABLE" | "PARSE_ERROR";

/** Where in the file an error is, as far as it is known. */
export interface ErrorLocation {
  readonly file: string;
  /** Path into the input, e.g. `services[2].backends[1].address`. */
  readonly field?: string;
  /** 1-based line and column, for syntax errors. */
  readonly line?: number;
  readonly column?: number;
}

/** A services file that cannot be used. The message is one line and complete. */
export class ServicesFileError extends Error {
  readonly code: ServicesErrorCode;
  readonly file: string;
  readonly field: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(code: ServicesErrorCode, message: string, location: ErrorLocation, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServicesFileError";
    this.code = code;
    this.file = location.file;
    this.field = location.field;
    this.line = location.line;
    this.column = location.column;
  }
}

/** `services[2] "web" `: how messages point at a service. The name is left out when it is unusable. */
export function serviceLabel(index: number, name: unknown): string {
  return typeof name === "string" && name !== "" ? `services[${index}] ${JSON.stringify(name)}` : `services[${index}]`;
}
