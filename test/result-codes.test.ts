/**
 * The engine's result codes are declared in assembly/errors.ts and mirrored
 * in src/engine/result-codes.ts; this keeps the two lists from drifting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ENGINE_RESULT, ENGINE_RESULT_MEANING } from "../src/engine/result-codes.js";

test("host and engine agree on every result code", () => {
  const source = readFileSync(new URL("../assembly/errors.ts", import.meta.url), "utf8");
  const declared = Object.fromEntries(
    [...source.matchAll(/export const (\w+): i32 = (\d+);/g)].map((m) => [m[1]!, Number(m[2])]),
  );
  assert.deepEqual(declared, { ...ENGINE_RESULT });
  for (const code of Object.values(ENGINE_RESULT)) assert.ok(ENGINE_RESULT_MEANING[code], `no meaning for ${code}`);
  assert.equal(new Set(Object.values(ENGINE_RESULT)).size, Object.keys(ENGINE_RESULT).length, "codes are unique");
});
