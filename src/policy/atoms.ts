/**
 * Label atoms: the integers the resolver matches selectors with.
 *
 * Every string a selector can ask about is interned once. An identity with
 * label `k8s:app=web` matches four atoms:
 *
 *   k8s:app=web   In / NotIn on key k8s:app
 *   any:app=web   In / NotIn on key any:app (a selector key without a source)
 *   k8s:app       Exists / DoesNotExist on k8s:app
 *   any:app       Exists / DoesNotExist on any:app
 *
 * A CIDR identity's `cidr:10.1.0.0/16` label also matches the key atoms of
 * every shorter prefix that contains it (`cidr:10.0.0.0/15` … `cidr:0.0.0.0/0`):
 * a CIDR selector selects every CIDR identity inside it, as Cilium's CIDR
 * labels do. Value atoms carry `=`, key atoms never do, so they cannot clash.
 *
 * @module
 */
import { formatIp, parseIp } from "../net/ip.js";

/** Interns strings to atoms starting at 1 (0 means "no atom" in the engine). Atoms are never freed. */
export class AtomTable {
  private readonly ids = new Map<string, number>();

  /** The atom of `text`, interning it if new. */
  atom(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(text, id);
    }
    return id;
  }

  /** Number of interned strings. */
  get size(): number {
    return this.ids.size;
  }
}

/** Splits `source:key=value` (value may be empty, `=` optional when it is). */
export function splitLabel(label: string): { source: string; key: string; value: string } {
  const colon = label.indexOf(":");
  const source = colon > 0 ? label.slice(0, colon) : "unspec";
  const rest = colon > 0 ? label.slice(colon + 1) : label;
  const eq = rest.indexOf("=");
  return eq < 0 ? { source, key: rest, value: "" } : { source, key: rest.slice(0, eq), value: rest.slice(eq + 1) };
}

/** Every prefix containing `prefix` (a canonical CIDR), itself included, as canonical text. */
export function containingPrefixes(prefix: string): string[] {
  const slash = prefix.lastIndexOf("/");
  const ip = parseIp(prefix.slice(0, slash));
  const bits = Number(prefix.slice(slash + 1));
  if (!ip || !Number.isInteger(bits)) return [prefix];
  const out: string[] = [];
  for (let len = bits; len >= 0; len--) {
    const masked = new Uint8Array(ip.bytes);
    for (let b = 0; b < masked.length * 8; b++) {
      if (b >= len) masked[b >> 3]! &= ~(0x80 >> (b & 7));
    }
    out.push(`${formatIp({ family: ip.family, bytes: masked })}/${len}`);
  }
  return out;
}

/**
 * A CIDR label key in canonical prefix text. Cilium writes IPv6 label keys
 * with `-` for `:` (a `:` would end the label's source) and a trailing `0`
 * after a final `-` (`2001-db8--0/32`); selectors name prefixes in address
 * text (`2001:db8::/32`). Both forms must meet on the same atoms.
 */
export function naturalCidr(key: string): string {
  if (key.includes(":") || !key.includes("-")) return key;
  const slash = key.lastIndexOf("/");
  const ip = parseIp(key.slice(0, slash).replaceAll("-", ":"));
  return ip ? `${formatIp(ip)}${key.slice(slash)}` : key;
}

/** The sorted atoms an identity with `labels` matches. */
export function identityAtoms(table: AtomTable, labels: readonly string[]): Uint32Array {
  const atoms = new Set<number>();
  for (const label of labels) {
    const { source, key, value } = splitLabel(label);
    atoms.add(table.atom(`${source}:${key}=${value}`));
    atoms.add(table.atom(`any:${key}=${value}`));
    atoms.add(table.atom(`${source}:${key}`));
    atoms.add(table.atom(`any:${key}`));
    if (source === "cidr") {
      for (const wider of containingPrefixes(naturalCidr(key))) atoms.add(table.atom(`cidr:${wider}`));
    }
  }
  return Uint32Array.from([...atoms].sort((a, b) => a - b));
}
