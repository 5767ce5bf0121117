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
  | "ENGINE_FAILURE"
  | "INVALID_LABEL"
  | "IDENTITY_EXHAUSTED"
  | "UNKNOWN_IDENTITY"
  | "INVALID_SNAPSHOT"
  | "UNSUPPORTED_FIELD"
  | "INVALID_POLICY"
  | "POLICY_MAP_OVERFLOW"
  | "BPF_LOAD_FAILED"
  | "BPF_ERRNO"
  | "MISSING_PRIVILEGE"
  | "KERNEL_FEATURE"
  | "UNKNOWN_INTERFACE"
  | "LAYOUT_MISMATCH"
  | "MAP_FULL"
  | "AGENT_UNAVAILABLE"
  | "AGENT_ERROR";

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
  /** What is wrong with it, without field or value. */
  readonly problem: string;
  /** Where the input came from (a file, an object), when known. */
  readonly context: string | undefined;

  constructor(field: string, value: unknown, problem: string, code: ErrorCode = "INVALID_INPUT", context?: string) {
    super(code, `${context ? `${context}: ` : ""}${field}: ${problem} (got ${describe(value)})`);
    this.field = field;
    this.value = value;
    this.problem = problem;
    this.context = context;
  }

  /** The same error with `context` (a file name, an object) in front of what it had. */
  within(context: string): InvalidInputError {
    const joined = this.context ? `${context}: ${this.context}` : context;
    return new InvalidInputError(this.field, this.value, this.problem, this.code, joined);
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

/**
 * Every number of an identity range is in use. Live identities are never
 * reused or wrapped: release some, or widen the range.
 */
export class IdentityExhaustedError extends WasmplaneError {
  /** `cluster` (pod identities) or `cidr` (node-local CIDR identities). */
  readonly scope: "cluster" | "cidr";
  /** The first identity number of the range. */
  readonly first: number;
  /** The last identity number of the range. */
  readonly last: number;

  constructor(scope: "cluster" | "cidr", first: number, last: number) {
    super("IDENTITY_EXHAUSTED", `no free ${scope} identity: all ${last - first + 1} numbers ${first}..${last} are in use`);
    this.scope = scope;
    this.first = first;
    this.last = last;
  }
}
