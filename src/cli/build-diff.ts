/**
 * What changed in one of `build`'s JSON files, in words: which services,
 * backends, prefixes, endpoints or policy entries were added, removed or
 * changed. Used by `build --check` for every file whose checksum moved.
 *
 * @module
 */
import { BUILD_FILES, IDENTITY_DIR } from "./build-files.js";

type Item = Record<string, unknown>;

/** Up to five names, then "and N more". */
function some(list: readonly string[]): string {
  const shown = list.slice(0, 5).join(", ");
  return list.length > 5 ? `${shown} and ${list.length - 5} more` : shown;
}

/** Added, removed and changed items by key; `describe` explains a change of one item. */
function keyed(before: Item[], after: Item[], key: (i: Item) => string, describe: (a: Item, b: Item) => string | undefined, noun: string): string[] {
  const old = new Map(before.map((i) => [key(i), i]));
  const now = new Map(after.map((i) => [key(i), i]));
  const added = [...now.keys()].filter((k) => !old.has(k));
  const removed = [...old.keys()].filter((k) => !now.has(k));
  const changed: string[] = [];
  for (const [k, item] of now) {
    const prev = old.get(k);
    if (prev && JSON.stringify(prev) !== JSON.stringify(item)) changed.push(`${k}${describe(prev, item) ? ` (${describe(prev, item)})` : ""}`);
  }
  const out: string[] = [];
  if (added.length) out.push(`${noun} added: ${some(added)}`);
  if (removed.length) out.push(`${noun} removed: ${some(removed)}`);
  if (changed.length) out.push(`${noun} changed: ${some(changed)}`);
  return out;
}

const endpointOf = (b: Item) => (String(b.address).includes(":") ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`);

function serviceChange(a: Item, b: Item): string {
  const parts: string[] = [];
  const ab = (a.backends as Item[]) ?? [];
  const bb = (b.backends as Item[]) ?? [];
  const before = new Map(ab.map((x) => [endpointOf(x), x]));
  const after = new Map(bb.map((x) => [endpointOf(x), x]));
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && JSON.stringify(before.get(k)) !== JSON.stringify(after.get(k)));
  if (added.length) parts.push(`backends added: ${some(added)}`);
  if (removed.length) parts.push(`backends removed: ${some(removed)}`);
  if (changed.length) parts.push(`backends changed: ${some(changed)}`);
  for (const field of ["vip", "port", "protocol", "algorithm"]) if (a[field] !== b[field]) parts.push(`${field} ${String(a[field])} → ${String(b[field])}`);
  if (JSON.stringify(a.sessionAffinity) !== JSON.stringify(b.sessionAffinity)) parts.push("session affinity changed");
  return parts.join(", ");
}

function entryKey(e: Item): string {
  return `${e.direction} peer ${e.identity} proto ${e.protocol} ${e.port}-${e.endPort}/${e.prefixLength}`;
}

function list(json: unknown, field: string): Item[] {
  const value = (json as Record<string, unknown> | null)?.[field];
  return Array.isArray(value) ? (value as Item[]) : [];
}

/** The differences between two versions of `file`; a generic line when it is not JSON this version knows. */
export function describeFileChange(file: string, beforeText: string, afterText: string): string[] {
  let before: unknown;
  let after: unknown;
  try {
    before = JSON.parse(beforeText);
    after = JSON.parse(afterText);
  } catch {
    return ["content differs (not readable JSON)"];
  }
  let changes: string[] = [];
  if (file === BUILD_FILES.services) {
    changes = keyed(list(before, "services"), list(after, "services"), (s) => String(s.name), serviceChange, "services");
  } else if (file === BUILD_FILES.backends) {
    changes = keyed(list(before, "backends"), list(after, "backends"), (b) => `${b.id} ${endpointOf(b)}`, (a, b) => (a.draining !== b.draining ? `draining ${String(b.draining)}` : "frontends changed"), "backends");
  } else if (file === BUILD_FILES.ipcache) {
    changes = keyed(list(before, "entries"), list(after, "entries"), (e) => String(e.prefix), (a, b) => `identity ${String(a.identity)} → ${String(b.identity)}`, "prefixes");
  } else if (file === BUILD_FILES.endpoints) {
    changes = keyed(list(before, "endpoints"), list(after, "endpoints"), (e) => String(e.endpoint), (a, b) => (a.identity !== b.identity ? `identity ${String(a.identity)} → ${String(b.identity)}` : "addresses or node changed"), "endpoints");
  } else if (file.startsWith(`${IDENTITY_DIR}/`)) {
    const eps = list(after, "endpoints").map(String);
    const counted = keyed(list(before, "entries"), list(after, "entries"), entryKey, (a, b) => `precedence ${String(a.precedence)} → ${String(b.precedence)}`, "entries");
    changes = counted.length ? [`endpoints ${some(eps)}`, ...counted] : [];
    if (JSON.stringify(list(before, "endpoints")) !== JSON.stringify(list(after, "endpoints"))) changes.push(`endpoints now ${some(eps)}`);
  }
  return changes.length ? changes : ["content differs (formatting or fields)"];
}
