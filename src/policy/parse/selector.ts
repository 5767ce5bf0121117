/**
 * Label selectors: Cilium endpoint selectors and Kubernetes label selectors,
 * parsed into a draft that namespace rewriting can inspect and extend, then
 * into the normalized {@link Selector}.
 *
 * Cilium reads a selector key as `source:key`, the way its
 * `labels.GetExtendedKeyFrom` does: the text before the first `:` is the
 * source; a key without one gets the source `any`; `$host` is short for
 * `reserved:host`, and `reserved.host` (no `:`) also means the reserved
 * source; anything after a `=` in a key is dropped. Kubernetes selectors (in
 * a NetworkPolicy) have plain keys, which Cilium prefixes with `k8s:`.
 *
 * Validation follows `ValidateLabelSelector` as Cilium calls it: keys are
 * qualified names (checked in Cilium's internal `source.key` form), values
 * are label values, In/NotIn need values and Exists/DoesNotExist take none.
 *
 * @module
 */
import type { Requirement, Selector } from "../model.js";
import { LABEL_SOURCE } from "../model.js";
import { at, checkFields, expectObj, invalid, item, member, type Obj } from "./fields.js";

/**
 * A selector being built: `matchLabels` (key to value, insertion ordered) and
 * `matchExpressions`. Cilium adds its namespace match to `matchLabels`
 * (replacing an equal key) and its Exists requirement to the expressions;
 * the draft keeps that distinction so the result is the same.
 */
export interface SelectorDraft {
  readonly labels: Map<string, string>;
  readonly expressions: Requirement[];
}

type Operator = Requirement["operator"];
const OPERATORS: readonly Operator[] = ["In", "NotIn", "Exists", "DoesNotExist"];

/** A label name part: 1-63 characters, alphanumeric at both ends, `-_.` inside. */
const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why `text` is not a Kubernetes qualified name (`prefix/name`), or `undefined`. */
export function qualifiedNameProblem(text: string): string | undefined {
  const parts = text.split("/");
  if (parts.length > 2) return "a label key has at most one '/'";
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === "") return "the prefix before '/' must not be empty";
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      return "the prefix before '/' must be a DNS subdomain (lower-case letters, digits, '-' and '.')";
    }
  }
  if (name === "") return "the label name must not be empty";
  if (name.length > 63) return "the label name must be at most 63 characters";
  if (!NAME.test(name)) {
    return "the label name must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit";
  }
  return undefined;
}

/** Why `text` is not a Kubernetes label value, or `undefined`. */
export function labelValueProblem(text: string): string | undefined {
  if (text.length > 63) return "a label value must be at most 63 characters";
  if (!VALUE.test(text)) {
    return "a label value must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit";
  }
  return undefined;
}

/** Source and key of a Cilium selector key, as `labels.GetExtendedKeyFrom` splits it. */
export function splitCiliumKey(raw: string): { source: string; key: string } {
  let source: string;
  let rest: string;
  if (raw.startsWith("$")) {
    source = LABEL_SOURCE.reserved;
    rest = raw.slice(1);
  } else {
    const colon = raw.indexOf(":");
    if (colon >= 0) {
      source = raw.slice(0, colon);
      rest = raw.slice(colon + 1);
    } else if (raw.startsWith("reserved.")) {
      source = LABEL_SOURCE.reserved;
      rest = raw.slice("reserved.".length);
    } else {
      source = "";
      rest = raw;
    }
  }
  if (source === "") source = LABEL_SOURCE.any;
  const eq = rest.indexOf("=");
  return { source, key: eq >= 0 ? rest.slice(0, eq) : rest };
}

/** How a selector's keys are read. */
export type KeyStyle =
  /** Cilium: `source:key`, default source `any`. */
  | { readonly kind: "cilium" }
  /** Kubernetes: a plain key, given the source `k8s` and an optional key prefix. */
  | { readonly kind: "k8s"; readonly keyPrefix?: string };

/** The normalized `source:key` of a raw selector key, validated. */
function selectorKey(raw: string, style: KeyStyle, path: string): string {
  if (style.kind === "cilium") {
    const { source, key } = splitCiliumKey(raw);
    // Cilium validates its internal form `source.key` as a qualified name.
    const problem = key === "" ? "the label key must not be empty" : qualifiedNameProblem(`${source}.${key}`);
    if (problem) throw invalid(path, raw, problem);
    return `${source}:${key}`;
  }
  const problem = qualifiedNameProblem(raw);
  if (problem) throw invalid(path, raw, problem);
  return `${LABEL_SOURCE.k8s}:${style.keyPrefix ?? ""}${raw}`;
}

/** Parses a label selector (`matchLabels`, `matchExpressions`) at `path`. */
export function parseSelector(raw: unknown, path: string, style: KeyStyle): SelectorDraft {
  const obj = expectObj(raw, path, "a label selector (an object with matchLabels and/or matchExpressions; {} selects everything)");
  checkFields(obj, path, { supported: ["matchLabels", "matchExpressions"] });
  const draft: SelectorDraft = { labels: new Map(), expressions: [] };
  const origin = new Map<string, string>();

  const labels = member(obj, "matchLabels");
  if (labels !== undefined) {
    const labelsPath = at(path, "matchLabels");
    const map = expectObj(labels, labelsPath, "a map of label keys to values");
    for (const [rawKey, rawValue] of Object.entries(map)) {
      const keyPath = at(labelsPath, rawKey);
      const key = selectorKey(rawKey, style, keyPath);
      // Go's decoder reads a null string as "": `reserved:host:` is `reserved:host: ""`.
      const value = rawValue === null ? "" : rawValue;
      if (typeof value !== "string") throw invalid(keyPath, rawValue, "a label value must be a string (quote numbers and booleans)");
      const valueProblem = labelValueProblem(value);
      if (valueProblem) throw invalid(keyPath, rawValue, valueProblem);
      const first = origin.get(key);
      if (first !== undefined) {
        throw invalid(keyPath, rawKey, `names the same label (${key}) as ${JSON.stringify(first)}`);
      }
      origin.set(key, rawKey);
      draft.labels.set(key, value);
    }
  }

  const expressions = member(obj, "matchExpressions");
  if (expressions !== undefined) {
    const listPath = at(path, "matchExpressions");
    if (!Array.isArray(expressions)) throw invalid(listPath, expressions, "must be a list of requirements");
    expressions.forEach((entry, index) => {
      draft.expressions.push(parseRequirement(entry, item(listPath, index), style));
    });
  }
  return draft;
}

function parseRequirement(raw: unknown, path: string, style: KeyStyle): Requirement {
  const obj: Obj = expectObj(raw, path, "a requirement ({key, operator, values})");
  checkFields(obj, path, { supported: ["key", "operator", "values"] });
  const rawKey = member(obj, "key");
  if (rawKey === undefined) throw invalid(at(path, "key"), undefined, "is required");
  if (typeof rawKey !== "string") throw invalid(at(path, "key"), rawKey, "must be a string");
  const key = selectorKey(rawKey, style, at(path, "key"));

  const operator = member(obj, "operator");
  if (operator === undefined) throw invalid(at(path, "operator"), undefined, "is required");
  if (typeof operator !== "string" || !OPERATORS.includes(operator as Operator)) {
    throw invalid(at(path, "operator"), operator, `must be one of ${OPERATORS.join(", ")}`);
  }
  const op = operator as Operator;

  const rawValues = member(obj, "values") ?? [];
  const valuesPath = at(path, "values");
  if (!Array.isArray(rawValues)) throw invalid(valuesPath, rawValues, "must be a list of strings");
  const values = rawValues.map((value, index) => {
    if (typeof value !== "string") throw invalid(item(valuesPath, index), value, "a label value must be a string (quote numbers and booleans)");
    const problem = labelValueProblem(value);
    if (problem) throw invalid(item(valuesPath, index), value, problem);
    return value;
  });
  if ((op === "In" || op === "NotIn") && values.length === 0) {
    throw invalid(valuesPath, obj["values"], `must list at least one value for operator ${op}`);
  }
  if ((op === "Exists" || op === "DoesNotExist") && values.length > 0) {
    throw invalid(valuesPath, rawValues, `must be empty for operator ${op}`);
  }
  return { key, operator: op, values };
}

/** True when the draft has a requirement or match on exactly `key`. */
export function hasKey(draft: SelectorDraft, key: string): boolean {
  return draft.labels.has(key) || draft.expressions.some((r) => r.key === key);
}

/** True when the draft has a requirement or match on a key starting with `prefix`. */
export function hasKeyPrefix(draft: SelectorDraft, prefix: string): boolean {
  for (const key of draft.labels.keys()) if (key.startsWith(prefix)) return true;
  return draft.expressions.some((r) => r.key.startsWith(prefix));
}

/** Sets a match `key` = `value` (Cilium's `AddMatch`: replaces an existing match on the key). */
export function addMatch(draft: SelectorDraft, key: string, value: string): void {
  draft.labels.set(key, value);
}

/** Appends a requirement (Cilium's `AddMatchExpression`). */
export function addExpression(draft: SelectorDraft, requirement: Requirement): void {
  draft.expressions.push(requirement);
}

/** The normalized selector: match labels (as In with one value) first, then expressions. */
export function toSelector(draft: SelectorDraft): Selector {
  const requirements: Requirement[] = [];
  for (const [key, value] of draft.labels) requirements.push({ key, operator: "In", values: [value] });
  for (const requirement of draft.expressions) {
    requirements.push({ key: requirement.key, operator: requirement.operator, values: [...requirement.values] });
  }
  return { requirements };
}

/** A selector of one `Exists` requirement (reserved and CIDR labels have empty values). */
export function existsSelector(key: string): Selector {
  return { requirements: [{ key, operator: "Exists", values: [] }] };
}

/** A stable text of a selector, for de-duplication. */
export function selectorText(selector: Selector): string {
  return JSON.stringify(selector.requirements);
}

/** `selectors` without repeats, first occurrence kept. */
export function uniqueSelectors(selectors: readonly Selector[]): Selector[] {
  const seen = new Set<string>();
  const out: Selector[] = [];
  for (const selector of selectors) {
    const text = selectorText(selector);
    if (seen.has(text)) continue;
    seen.add(text);
    out.push(selector);
  }
  return out;
}
