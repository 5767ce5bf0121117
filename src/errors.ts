/**
 * Typed errors of wasmplane.
 *
 * Every error carries a stable `code` that scripts can match on, and names the
 * input that was wrong. User mistakes are {@link InvalidInputError}s; the CLI
 * prints their message on one line without a stack trace.
 *
 * @module
 */

/** Stable error codes. Never renamed: scripts and the CLI's JSON output match on them. */
export type ErrorCode =
  | "INVALID_INPUT"
  | "INVALID_TABLE_SIZE"
  | "INVALID_HASH_SEED"
  | "DUPLICATE_BACKEND"
  | "ENGINE_FAILURE";

/** Base class of every error wasmplane throws on purpose. */
export class WasmplaneError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Input that fails validation. `field` is a path into the input such as
 * `backends[3].address`, `value` the offending value.
 */
export class InvalidInputError extends WasmplaneError {
  /** Path of the offending field in the input, e.g. `backends[3].address`. */
  readonly field: string;
  /** The offending value as it was given. */
  readonly value: unknown;

  constructor(field: string, value: unknown, problem: string, code: ErrorCode = "INVALID_INPUT") {
    super(code, `${field}: ${problem} (got ${describe(value)})`);
    this.field = field;
    this.value = value;
  }
}

/** The WebAssembly engine returned a failure the host did not expect: a bug, reported as such. */
export class EngineError extends WasmplaneError {
  /** The engine's result code (see `assembly/errors.ts`). */
  readonly engineCode: number;

  constructor(operation: string, engineCode: number, meaning: string) {
    super("ENGINE_FAILURE", `${operation} failed in the engine: ${meaning} (code ${engineCode})`);
    this.engineCode = engineCode;
  }
}

/** A short, safe rendering of a value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === undefined) return "nothing";
  if (typeof value === "bigint") return `${value}n`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
