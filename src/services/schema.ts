/**
 * The shape of a services file, checked with valibot: which fields exist,
 * which are required, and their JSON types. Values (addresses, port ranges,
 * seeds, ...) are checked later by the library's own validators, so each rule
 * lives in one place and messages read the same from the CLI and the library.
 *
 * @module
 */
import * as v from "valibot";

const number = () => v.number("must be a number");
const string = () => v.string("must be a string");

/**
 * A strict object (unknown fields are errors: a typo such as `wieght` must
 * not silently fall back to a default) with messages in the library's style.
 */
function strictObject<E extends v.ObjectEntries>(entries: E, what: string) {
  const known = Object.keys(entries).join(", ");
  return v.strictObject(entries, (issue) => {
    if (issue.expected === "never") return `is not a known field (known fields: ${known})`;
    // A missing key is reported with the key's name, quoted, as the expectation.
    if (issue.expected?.startsWith('"')) return "is required";
    return `must be ${what}`;
  });
}

const backendShape = strictObject(
  {
    id: number(),
    address: string(),
    port: number(),
    protocol: v.optional(string()),
    weight: v.optional(number()),
    scope: v.optional(string()),
    clusterId: v.optional(number()),
  },
  "an object with id, address and port",
);

const frontendShape = strictObject(
  { address: string(), port: number(), protocol: string() },
  "an object with address, port and protocol",
);

const serviceShape = strictObject(
  {
    name: string(),
    frontend: frontendShape,
    backends: v.array(backendShape, "must be a list of backends"),
  },
  "an object with name, frontend and backends",
);

const fileShape = strictObject(
  {
    tableSize: v.optional(number()),
    hashSeed: v.optional(string()),
    keyFormat: v.optional(string()),
    services: v.array(serviceShape, "must be a list of services"),
  },
  "a mapping with a services list",
);

/** A services file whose shape is right; its values are not checked yet. */
export type ServicesFileShape = v.InferOutput<typeof fileShape>;
export type ServiceShape = v.InferOutput<typeof serviceShape>;

/** The first shape problem of an input: where, what, and the offending value. */
export interface ShapeProblem {
  /** Keys and indexes from the root to the offending value. */
  readonly path: readonly (string | number)[];
  readonly problem: string;
  readonly value: unknown;
  /** False when the value says nothing useful (a missing field, an unknown field's content). */
  readonly showValue: boolean;
}

/** Checks the shape of `raw`; returns the typed value or the first problem. */
export function checkShape(raw: unknown): { ok: true; value: ServicesFileShape } | { ok: false; problem: ShapeProblem } {
  const result = v.safeParse(fileShape, raw);
  if (result.success) return { ok: true, value: result.output };
  const issue = result.issues[0];
  const path = (issue.path ?? []).map((item) => item.key as string | number);
  const missing = issue.input === undefined && typeof issue.expected === "string" && issue.expected.startsWith('"');
  const unknownField = issue.expected === "never";
  return {
    ok: false,
    problem: { path, problem: issue.message, value: issue.input, showValue: !missing && !unknownField },
  };
}
