/**
 * The agent's watch of a state folder (src/agent/watch.ts): every change is
 * seen, however the file is written. Controllers and editors replace a file
 * with a rename; Node 20's recursive fs.watch on Linux reported only the
 * first such replacement of a file and nothing after it (found by
 * test/agent-e2e.test.ts, whose second EndpointSlice edit was never
 * applied). No privilege needed.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { watchState } from "../src/agent/watch.js";

const dir = mkdtempSync(join(tmpdir(), "wasmplane-watch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `edit` and resolves with the next onChange call's paths, or "none" after 3 s. */
function nextChange(calls: (string[] | undefined)[], edit: () => void): Promise<(string[] | undefined) | "none"> {
  const seen = calls.length;
  edit();
  return new Promise((resolve) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (calls.length > seen) {
        clearInterval(poll);
        resolve(calls[seen]);
      } else if (Date.now() - started > 3000) {
        clearInterval(poll);
        resolve("none");
      }
    }, 10);
  });
}

function replace(path: string, text: string): void {
  const scratch = join(dir, ".scratch");
  writeFileSync(scratch, text);
  renameSync(scratch, path);
}

describe("watchState on a folder", () => {
  it("sees a file replaced by a rename every time, plain writes after that, new files and subfolders", async () => {
    const state = join(dir, "state");
    mkdirSync(state);
    const file = join(state, "50-endpointslices.yaml");
    writeFileSync(file, "a: 1\n");
    const calls: (string[] | undefined)[] = [];
    const watcher = watchState(state, { debounceMs: 20 }, (paths) => calls.push(paths), (error) => assert.fail(error));
    try {
      for (let i = 0; i < 3; i++) {
        const change = await nextChange(calls, () => replace(file, `a: ${i + 2}\n`));
        assert.notEqual(change, "none", `replacement ${i + 1} of the file is seen`);
      }
      assert.notEqual(await nextChange(calls, () => writeFileSync(file, "a: 9\n")), "none", "a plain write after the replacements is seen");
      assert.notEqual(await nextChange(calls, () => writeFileSync(join(state, "60-deny.yaml"), "b: 1\n")), "none", "a new file is seen");
      const sub = join(state, "more");
      assert.notEqual(await nextChange(calls, () => mkdirSync(sub)), "none", "a new folder is seen");
      const change = await nextChange(calls, () => writeFileSync(join(sub, "x.yaml"), "c: 1\n"));
      assert.notEqual(change, "none", "a file in the new folder is seen");
      if (change !== undefined) assert.ok(change.includes(join(sub, "x.yaml")), `the event names the file: ${JSON.stringify(change)}`);
      assert.notEqual(await nextChange(calls, () => replace(join(sub, "x.yaml"), "c: 2\n")), "none", "a replacement in the folder is seen");
    } finally {
      watcher.close();
    }
  });
});
