/**
 * JSON text for the files `build` writes: deterministic and diffable.
 *
 * Containers are indented two spaces, one member per line, except "flat"
 * values (an object whose members are all scalars or lists of scalars, a
 * list of scalars), which are written on one line. So a backend or a policy
 * entry is one line, and a change to one shows as one changed line in a
 * diff. Key order is the caller's: callers build objects field by field.
 *
 * @module
 */

const isScalar = (v: unknown): boolean => v === null || typeof v !== "object";

function isFlat(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(isScalar);
  if (value === null || typeof value !== "object") return true;
  return Object.values(value).every((v) => isScalar(v) || (Array.isArray(v) && v.every(isScalar)));
}

function render(value: unknown, indent: string): string {
  if (isFlat(value)) return compact(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + render(v, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${render(v, inner)}`).join(",\n")}\n${indent}}`;
}

/** `{"a": 1, "b": [1, 2]}`: one line, a space after each colon and comma. */
function compact(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(compact).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${compact(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The file text of `value`, ending in a newline. */
export function renderJsonText(value: unknown): string {
  return `${render(value, "")}\n`;
}
