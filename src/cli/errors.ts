/**
 * How the CLI tells user mistakes from bugs, and the exit codes it uses.
 *
 * A user mistake (bad input, a missing file, a bad flag, a file system that
 * refuses a write) is reported on one line with no stack trace: the message
 * alone says what to fix. Anything else is a bug and keeps its stack.
 *
 * @module
 */
import { EngineError, InvalidInputError, WasmplaneError } from "../index.js";
import { ServicesFileError } from "../services/index.js";

/** Exit codes, stable for scripts. */
export const EXIT = {
  OK: 0,
  /** `--check` found drift. */
  DRIFT: 1,
  /** Usage or input error: fix the command line or the input. */
  USAGE: 2,
  /** An unexpected error, i.e. a bug in wasmplane. */
  INTERNAL: 3,
} as const;

/** A mistake on the command line that commander itself does not catch. */
export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** An error as the CLI reports it. */
export interface ReportedError {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  /** False for bugs: those are printed with their stack. */
  readonly expected: boolean;
}

/** Node's errno codes that mean "the environment said no", not "wasmplane is broken". */
const FILE_SYSTEM_REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ENOTDIR: "a parent is not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  ENOTEMPTY: "directory not empty",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EMFILE: "too many open files",
  ENAMETOOLONG: "name too long",
};

/** Classifies any thrown value. */
export function describeError(error: unknown): ReportedError {
  if (error instanceof ServicesFileError) {
    return { code: error.code, message: error.message, expected: true, ...(error.field ? { field: error.field } : {}) };
  }
  if (error instanceof UsageError) {
    return { code: error.code, message: error.message, expected: true, ...(error.field ? { field: error.field } : {}) };
  }
  // The engine failing is documented as a bug, not as bad input.
  if (error instanceof EngineError) return { code: error.code, message: error.message, expected: false };
  if (error instanceof InvalidInputError) {
    return { code: error.code, message: error.message, field: error.field, expected: true };
  }
  if (error instanceof WasmplaneError) return { code: error.code, message: error.message, expected: true };
  const errno = error as NodeJS.ErrnoException | null;
  if (errno instanceof Error && typeof errno.code === "string" && FILE_SYSTEM_REASONS[errno.code]) {
    const where = errno.path ? `${errno.path}: ` : "";
    return { code: "IO_ERROR", message: `${where}${FILE_SYSTEM_REASONS[errno.code]}`, expected: true };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message, expected: false };
}
