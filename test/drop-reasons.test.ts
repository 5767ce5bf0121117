/**
 * The datapath's drop reasons are declared in
 * bpf/include/wasmplane/drop_reasons.h and mirrored in
 * src/bpf/drop-reasons.ts; this keeps the two lists from drifting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DROP_REASON, DROP_REASON_MEANING, DROP_REASON_SLOTS } from "../src/bpf/drop-reasons.js";

test("host and datapath agree on every drop reason", () => {
  const header = readFileSync(new URL("../bpf/include/wasmplane/drop_reasons.h", import.meta.url), "utf8");
  const declared = Object.fromEntries(
    [...header.matchAll(/^#define WP_DROP_(\w+)\s+(\d+)\b/gm)]
      .filter((m) => !["NONE", "REASON_MAX", "SLOTS"].includes(m[1]!))
      .map((m) => [m[1]!, Number(m[2])]),
  );
  assert.deepEqual(declared, { ...DROP_REASON });
  const slots = /^#define WP_DROP_SLOTS\s+(\d+)/m.exec(header);
  assert.equal(Number(slots?.[1]), DROP_REASON_SLOTS);
  for (const code of Object.values(DROP_REASON)) assert.ok(DROP_REASON_MEANING[code], `no meaning for ${code}`);
});
