// The request loop of the helpers that run inside network namespaces
// (client.mjs here, test/support/netns/pod-client.mjs in the tests): one
// JSON request per stdin line, `{ op, ... }`, each answered in order with
// one JSON line on stdout, `{ ok: true, ...result }` or `{ ok: false,
// error }`. An op that throws is answered with its error; the loop goes on.
import { createInterface } from "node:readline";

/**
 * Answers stdin's lines with `ops[request.op](request)` until stdin closes.
 * `describe(error)` gives the text of a failed answer.
 */
export async function answerJsonLines(ops, describe = (error) => String(error?.message ?? error)) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let answer;
    try {
      const req = JSON.parse(line);
      const op = ops[req.op];
      if (!op) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
      answer = { ok: true, ...(await op(req)) };
    } catch (error) {
      answer = { ok: false, error: describe(error) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}
