/**
 * Progress on stderr for long runs: "built 120/1000 services".
 *
 * On a terminal one line is rewritten in place and cleared at the end; in a
 * log (stderr not a TTY) a line is printed now and then and at the end, so
 * CI logs show progress without one line per service.
 *
 * @module
 */
import type { Io } from "./output.js";

/** Inputs above this many services report progress even when stderr is not a terminal. */
export const PROGRESS_THRESHOLD = 50;

export interface Progress {
  /** `done` of `total` services are built. */
  update(done: number): void;
  /** The run is over (successfully or not). */
  finish(): void;
}

const SILENT: Progress = { update() {}, finish() {} };

export function createProgress(io: Io, total: number, options: { quiet: boolean; verb?: string; unit?: string }): Progress {
  const tty = io.stderr.isTTY === true;
  if (options.quiet || !(tty || total > PROGRESS_THRESHOLD)) return SILENT;
  const verb = options.verb ?? "built";
  const unit = options.unit ?? "services";
  const text = (done: number) => `${verb} ${done}/${total} ${unit}`;
  // Redrawing more than every 100 ms costs time and shows nothing new; logs get a line per second.
  const interval = tty ? 100 : 1000;
  let last = Date.now();
  let lastDone = -1;
  return {
    update(done) {
      const now = Date.now();
      if (done < total && now - last < interval) return;
      last = now;
      lastDone = done;
      io.stderr.write(tty ? `\r${text(done)}` : `${text(done)}\n`);
    },
    finish() {
      if (tty) io.stderr.write("\r\x1b[K");
      else if (lastDone !== total && lastDone >= 0) io.stderr.write(`${text(lastDone)}\n`);
    },
  };
}
