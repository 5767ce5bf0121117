/**
 * Shape helpers shared by the policy parsers: field paths, typed errors, and
 * checks of objects, lists and scalars with precise messages.
 *
 * Every problem is an {@link InvalidInputError} whose `field` is the path of
 * the offending value (`spec.ingress[0].toPorts[0].ports[1].port`). Input that
 * Cilium rejects, or that has no meaning, is `INVALID_POLICY`; a field Cilium
 * supports but wasmplane does not (yet) is `UNSUPPORTED_FIELD`, so a user can
 * tell "my policy is wrong" from "this tool cannot model it".
 *
 * JSON `null` is read as Go's decoder reads it: an optional list, object or
 * string that is `null` is absent.
 *
 * @module
 */
import { InvalidInputError } from "../../errors.js";

/** A plain object as produced by a YAML or JSON parser. */
export type Obj = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The path of member `key` of the value at `path` (`a.b`, `a["k8s:app"]`). */
export function at(path: string, key: string): string {
  const member = IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  return path === "" ? (IDENTIFIER.test(key) ? key : member) : `${path}${member}`;
}

/** The path of element `index` of the list at `path`. */
export function item(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** An input Cilium rejects or that has no meaning. */
export function invalid(field: string, value: unknown, problem: string): InvalidInputError {
  return new InvalidInputError(field, value, problem, "INVALID_POLICY");
}

/** A field Cilium supports that wasmplane does not model. */
export function unsupported(field: string, value: unknown, problem: string): InvalidInputError {
  return new InvalidInputError(field, value, problem, "UNSUPPORTED_FIELD");
}

/** True for a plain (non-null, non-array) object. */
export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Asserts that `value` is an object; `what` completes "must be ...". */
export function expectObj(value: unknown, path: string, what = "an object"): Obj {
  if (!isObj(value)) throw invalid(path, value, `must be ${what}`);
  return value;
}

/**
 * Which fields an object may have. `supported` fields are read by the caller;
 * `unsupported` ones are Cilium fields wasmplane cannot model (the value is
 * the reason shown); `ignored` ones are accepted and not read. Anything else
 * is an unknown field.
 */
export interface FieldSet {
  readonly supported: readonly string[];
  readonly unsupported?: Readonly<Record<string, string>>;
  readonly ignored?: readonly string[];
}

/** Rejects unsupported and unknown fields of `obj`, in the order they appear. */
export function checkFields(obj: Obj, path: string, fields: FieldSet): void {
  for (const key of Object.keys(obj)) {
    if (fields.supported.includes(key) || fields.ignored?.includes(key)) continue;
    const reason = fields.unsupported?.[key];
    if (reason !== undefined) throw unsupported(at(path, key), obj[key], reason);
    const known = [...fields.supported, ...(fields.ignored ?? []), ...Object.keys(fields.unsupported ?? {})];
    // Field names are case-sensitive in Kubernetes (Go's JSON decoder would accept `HTTP` for `http`).
    const sameLetters = known.find((k) => k.toLowerCase() === key.toLowerCase());
    const hint = sameLetters ? `did you mean ${sameLetters}? field names are case-sensitive` : `known fields: ${known.join(", ")}`;
    throw invalid(at(path, key), obj[key], `unknown field (${hint})`);
  }
}

/** The member `key` of `obj`, `undefined` when absent or `null`. */
export function member(obj: Obj, key: string): unknown {
  const value = obj[key];
  return value === null ? undefined : value;
}

/** An optional list member: `undefined` when absent or `null`. */
export function optionalList(obj: Obj, key: string, path: string): unknown[] | undefined {
  const value = member(obj, key);
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid(at(path, key), value, "must be a list");
  return value;
}

/** An optional object member: `undefined` when absent or `null`. */
export function optionalObj(obj: Obj, key: string, path: string, what = "an object"): Obj | undefined {
  const value = member(obj, key);
  if (value === undefined) return undefined;
  return expectObj(value, at(path, key), what);
}

/** An optional string member: `undefined` when absent or `null`. */
export function optionalString(obj: Obj, key: string, path: string): string | undefined {
  const value = member(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalid(at(path, key), value, "must be a string");
  return value;
}

/** A required string member. */
export function requiredString(obj: Obj, key: string, path: string): string {
  const value = optionalString(obj, key, path);
  if (value === undefined) throw invalid(at(path, key), undefined, "is required");
  return value;
}

/** An optional boolean member. */
export function optionalBool(obj: Obj, key: string, path: string): boolean | undefined {
  const value = member(obj, key);
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw invalid(at(path, key), value, "must be true or false");
  return value;
}

/** DNS-1123 subdomain (Kubernetes object names). */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** DNS-1123 label (Kubernetes namespace names). */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True for a valid DNS-1123 subdomain (at most 253 characters). */
export function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && DNS1123_SUBDOMAIN.test(text);
}

/** True for a valid DNS-1123 label (at most 63 characters). */
export function isDnsLabel(text: string): boolean {
  return text.length <= 63 && DNS1123_LABEL.test(text);
}
