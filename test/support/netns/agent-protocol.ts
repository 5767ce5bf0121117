/**
 * What the control-plane helpers of the namespace tests (lb-agent.ts,
 * endpoint-agent.ts) share: their request loop and their cleanup.
 *
 * Protocol: one JSON request per stdin line, `{ op, ... }`, each answered in
 * order with one JSON line on stdout, `{ ok: true, ...result }` or
 * `{ ok: false, error }` (the error's name and message); bigints in a
 * result are written with `bigint`. src/demo/json-lines.mjs is the same
 * loop for the helpers written in plain JavaScript.
 */
import { createInterface } from "node:readline";

/** A request handler: the request as sent, the result (or a promise of it) to answer with. */
export type Handler = (req: never) => unknown;

/** Answers stdin's lines with `handlers[req.op](req)` until stdin closes. */
export async function serveRequests(handlers: Record<string, Handler>, bigint: (value: bigint) => number | string): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let answer: unknown;
    try {
      const req = JSON.parse(line) as { op: string };
      const handler = handlers[req.op];
      if (!handler) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
      answer = { ok: true, ...(await handler(req as never) as object) };
    } catch (error) {
      answer = { ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    process.stdout.write(`${JSON.stringify(answer, (_, v: unknown) => (typeof v === "bigint" ? bigint(v) : v))}\n`);
  }
}

/**
 * Cleanup that goes on past a failed step: `step(what, fn)` runs `fn` and
 * keeps its error; `finish()` throws every kept error at once, or returns `{}`.
 */
export function cleanupSteps(): { step(what: string, fn: () => void): void; finish(): object } {
  const errors: string[] = [];
  return {
    step(what, fn) {
      try {
        fn();
      } catch (error) {
        errors.push(`${what}: ${String(error)}`);
      }
    },
    finish() {
      if (errors.length > 0) throw new Error(errors.join("; "));
      return {};
    },
  };
}
