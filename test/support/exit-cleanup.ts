/**
 * The last resort of tests that create namespaces, pins and processes:
 * cleanup that runs even when the test process ends without its `after`
 * hooks (a signal, an uncaught error).
 */

/**
 * Runs `cleanup` (synchronous, and safe to run twice) when the process
 * exits, and on SIGINT or SIGTERM, after which the process exits with
 * 128 + the signal's number.
 */
export function cleanUpOnExit(cleanup: () => void): void {
  process.on("exit", cleanup);
  for (const [signal, number] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(128 + number);
    });
  }
}
