/**
 * Labels, as Cilium parses, prints and keys them (`pkg/labels/labels.go`).
 *
 * A label is `source:key=value`: `k8s:app=web`, `reserved:world`,
 * `cidr:10.0.0.0/8`. The source is the text before the first `:` when that
 * text is a source name; without one the source is `unspec`, as in Cilium's
 * ParseLabel. The key runs to the first `=`, the value is the rest and may be
 * empty (`k8s:foo` and `k8s:foo=` are the same label). Cilium's shorthands are
 * accepted too: `$host` and `reserved.host` are `reserved:host`.
 *
 * A label set is keyed the way Cilium keys identities in its kvstore
 * (`Labels.SortedList`): labels sorted by key (byte order), each written
 * `source:key=value;`, always with the `=`: `k8s:app=web;reserved:world=;`.
 * Cilium's `Labels` is a map by key, so two labels of one key cannot share a
 * set; here that is an error rather than the silent last-one-wins of a Go map.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { parseCidrLabelKey } from "./cidr.js";
import { isReservedName } from "./reserved.js";

/** One label. */
export interface Label {
  /** `k8s`, `reserved`, `cidr`, `unspec`, ... */
  readonly source: string;
  /** Non-empty; unique within a label set. */
  readonly key: string;
  /** Empty for a label without a value. */
  readonly value: string;
}

/** Label sources with a meaning of their own (Cilium's LabelSource* constants). */
export const LABEL_SOURCES = {
  /** A label written without a source. */
  unspec: "unspec",
  /** Matches every source; selectors only, never an identity's label. */
  any: "any",
  /** Kubernetes labels (checked against Kubernetes' label rules). */
  k8s: "k8s",
  /** Container runtime labels. */
  container: "container",
  /** Reserved identity labels (`reserved:host`, ...). */
  reserved: "reserved",
  /** CIDR prefix labels (`cidr:10.0.0.0/8`). */
  cidr: "cidr",
} as const;

/** A source name: lower-case letters, digits and inner dashes (`k8s`, `cilium-generated`). */
const SOURCE_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** Kubernetes label name (and value): alphanumeric ends, `-_.` inside. */
const K8S_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** Kubernetes label key prefix: a DNS subdomain. */
const K8S_PREFIX = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
/** Cilium carries a namespace's labels on its pods under this key prefix. */
const NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels.";

/** Error codes a label problem is reported with: INVALID_SNAPSHOT for labels read from a snapshot. */
export type LabelErrorCode = "INVALID_LABEL" | "INVALID_SNAPSHOT";

function bad(field: string, text: unknown, problem: string, code: LabelErrorCode = "INVALID_LABEL"): never {
  throw new InvalidInputError(field, text, problem, code);
}

/** Control characters, and `;` which separates labels in a canonical key. */
function hasForbidden(text: string, allowSpace: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x3b || (!allowSpace && c === 0x20)) return true;
  }
  return false;
}

function checkKubernetesKey(key: string, field: string, text: string, code: LabelErrorCode): void {
  const slash = key.indexOf("/");
  const prefix = slash < 0 ? "" : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && (prefix.length === 0 || prefix.length > 253 || !K8S_PREFIX.test(prefix))) {
    bad(field, text, `key prefix "${prefix}" is not a DNS subdomain (Kubernetes label key rules)`, code);
  }
  // Namespace labels arrive as io.cilium.k8s.namespace.labels.<the namespace's key>:
  // the 63-character limit applies to the namespace's own name part.
  const own = slash < 0 && name.startsWith(NAMESPACE_LABELS_PREFIX) ? name.slice(NAMESPACE_LABELS_PREFIX.length) : name;
  if (!K8S_NAME.test(name) || own.length === 0 || own.length > 63) {
    bad(field, text, `key name "${name}" breaks the Kubernetes label key rules (1-63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends)`, code);
  }
}

function checkKubernetesValue(value: string, field: string, text: string, code: LabelErrorCode): void {
  if (value !== "" && (value.length > 63 || !K8S_NAME.test(value))) {
    bad(field, text, "value breaks the Kubernetes label value rules (0-63 of A-Z a-z 0-9 - _ ., alphanumeric at both ends)", code);
  }
}

/**
 * Parses and validates one label. `cidr:` keys are canonicalised (masked
 * prefix, Cilium's `-` form for IPv6); nothing else is rewritten.
 * @throws InvalidInputError with code INVALID_LABEL (or `code`) naming `field`
 */
export function parseLabel(text: unknown, field = "label", code: LabelErrorCode = "INVALID_LABEL"): Label {
  if (typeof text !== "string") bad(field, text, "must be a string", code);
  if (text.length === 0) bad(field, text, "is empty", code);
  let source: string;
  let rest: string;
  const colon = text.indexOf(":");
  const equals = text.indexOf("=");
  if (text.startsWith("$")) {
    source = "reserved";
    rest = text.slice(1);
  } else if (colon >= 0 && (equals < 0 || colon < equals)) {
    source = text.slice(0, colon);
    rest = text.slice(colon + 1);
    if (!SOURCE_NAME.test(source)) bad(field, text, `source "${source}" is not a source name (lower-case letters, digits, dashes)`, code);
  } else if (text.startsWith("reserved.")) {
    source = "reserved";
    rest = text.slice("reserved.".length);
  } else {
    source = LABEL_SOURCES.unspec;
    rest = text;
  }
  const eq = rest.indexOf("=");
  const key = eq < 0 ? rest : rest.slice(0, eq);
  const value = eq < 0 ? "" : rest.slice(eq + 1);

  if (key.length === 0) bad(field, text, "has an empty key", code);
  if (source === LABEL_SOURCES.any) bad(field, text, 'source "any" only appears in selectors, not in an identity\'s labels', code);
  // A cidr key may be an IPv6 prefix written with colons; it is rewritten below.
  if (source !== LABEL_SOURCES.cidr && (key.includes(":") || hasForbidden(key, false))) {
    bad(field, text, "key holds a ':', ';', space or control character", code);
  }
  if (hasForbidden(value, true)) bad(field, text, "value holds a ';' or control character", code);

  switch (source) {
    case LABEL_SOURCES.reserved:
      if (!isReservedName(key)) {
        bad(field, text, `"${key}" is not a reserved identity name (host, world, unmanaged, health, init, remote-node, kube-apiserver, ingress, world-ipv4, world-ipv6)`, code);
      }
      if (value !== "") bad(field, text, "a reserved label has no value", code);
      return { source, key, value };
    case LABEL_SOURCES.cidr: {
      if (value !== "") bad(field, text, "a cidr label has no value", code);
      return { source, key: parseCidrLabelKey(key, field, text, code).labelKey, value };
    }
    case LABEL_SOURCES.k8s:
      checkKubernetesKey(key, field, text, code);
      checkKubernetesValue(value, field, text, code);
      return { source, key, value };
    default:
      return { source, key, value };
  }
}

/** Cilium's `Label.String()`: `source:key=value`, or `source:key` when the value is empty. */
export function formatLabel(label: Label): string {
  return label.value === "" ? `${label.source}:${label.key}` : `${label.source}:${label.key}=${label.value}`;
}

/** Cilium's `Label.FormatForKVStore()`: `source:key=value;`, `=` written even for an empty value. */
export function kvstoreForm(label: Label): string {
  return `${label.source}:${label.key}=${label.value};`;
}

/** Compares two strings by code point, which is the byte order of their UTF-8 (Go's sort.Strings). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (a code point above U+FFFF) sorts after every BMP code point in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Labels sorted by key (a new array). */
export function sortLabels<T extends Label>(labels: readonly T[]): T[] {
  return [...labels].sort((a, b) => compareKeys(a.key, b.key));
}

/**
 * The canonical key of a label set: Cilium's `SortedList()`, e.g.
 * `k8s:app=web;k8s:io.kubernetes.pod.namespace=default;`.
 * @throws InvalidInputError (INVALID_LABEL) when two labels share a key
 */
export function canonicalKey(labels: readonly Label[]): string {
  const sorted = sortLabels(labels);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.key === sorted[i - 1]!.key) {
      bad("labels", formatLabel(sorted[i]!), `has the same key as ${formatLabel(sorted[i - 1]!)}`);
    }
  }
  return sorted.map(kvstoreForm).join("");
}

/** The labels of a canonical key (the inverse of {@link canonicalKey}), sorted by key. */
export function parseCanonicalKey(key: string): Label[] {
  const out: Label[] = [];
  // Keys and values never hold ';' and sources never hold ':', so the split is exact.
  for (const part of key.split(";")) {
    if (part === "") continue;
    const colon = part.indexOf(":");
    const eq = part.indexOf("=", colon + 1);
    out.push({ source: part.slice(0, colon), key: part.slice(colon + 1, eq), value: part.slice(eq + 1) });
  }
  return out;
}

/**
 * Parses a list of labels into a set sorted by key. A label given twice is
 * kept once; two different labels with one key are an error naming both.
 * @throws InvalidInputError (INVALID_LABEL) naming `field[i]`
 */
export function parseLabelSet(texts: unknown, field = "labels"): Label[] {
  if (!Array.isArray(texts)) throw new InvalidInputError(field, texts, "must be an array of label strings", "INVALID_LABEL");
  const byKey = new Map<string, { label: Label; index: number }>();
  texts.forEach((text: unknown, i) => {
    const label = parseLabel(text, `${field}[${i}]`);
    const seen = byKey.get(label.key);
    if (!seen) {
      byKey.set(label.key, { label, index: i });
    } else if (seen.label.source !== label.source || seen.label.value !== label.value) {
      bad(`${field}[${i}]`, text, `has the same key "${label.key}" as ${field}[${seen.index}] (${formatLabel(seen.label)}); a label set holds one label per key`);
    }
  });
  return sortLabels([...byKey.values()].map((e) => e.label));
}
