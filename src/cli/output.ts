/**
 * Where the CLI's words go. stdout carries the result (text, or one JSON
 * document with `--output json`); stderr carries errors, warnings and
 * progress, so piping stdout into `jq` always works.
 *
 * @module
 */
import type { ReportedError } from "./errors.js";

export type OutputMode = "text" | "json";
export const OUTPUT_MODES: readonly OutputMode[] = ["text", "json"];

/** The streams a command writes to (the process's, or a test's). */
export interface Io {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
}

/** A command's view of the terminal, with its mode and `--quiet` applied. */
export class Output {
  constructor(
    readonly io: Io,
    readonly mode: OutputMode,
    readonly quiet = false,
  ) {}

  get json(): boolean {
    return this.mode === "json";
  }

  /** A line of the text result; nothing in JSON mode or with --quiet. */
  line(text = ""): void {
    if (this.mode === "text" && !this.quiet) this.io.stdout.write(`${text}\n`);
  }

  /** The JSON result; nothing in text mode. */
  result(value: unknown): void {
    if (this.mode === "json") this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  warn(message: string): void {
    if (!this.quiet) this.io.stderr.write(`wasmplane: warning: ${message}\n`);
  }

  /** One line on stderr (plus the stack for bugs), and the JSON error document in JSON mode. */
  error(reported: ReportedError, stack?: string): void {
    this.io.stderr.write(`wasmplane: error: ${reported.message}\n`);
    if (!reported.expected && stack) this.io.stderr.write(`${stack}\n`);
    if (this.mode === "json") {
      const error = { code: reported.code, message: reported.message, ...(reported.field ? { field: reported.field } : {}) };
      this.io.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
    }
  }
}
