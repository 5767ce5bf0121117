/**
 * Entry point of the `wasmplane` binary (bundled to dist/cli.js).
 *
 * @module
 */
import { run } from "./program.js";

// `wasmplane demo | head` closes stdout early; that is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

// exitCode rather than exit(): pending output is flushed before the process ends.
process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
