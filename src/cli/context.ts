/**
 * What a command's action shares with the program around it: the streams,
 * and the exit code and output settings it decided on (commander actions
 * cannot return a value).
 *
 * @module
 */
import type { Io, Output } from "./output.js";

export interface CommandContext {
  readonly io: Io;
  /** Set by the action; 0 when it returns without setting it. */
  exitCode: number;
  /** Set by the action as soon as its options are known, so errors use its mode. */
  output?: Output;
}
