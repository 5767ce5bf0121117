/**
 * CIDR peers: prefixes parsed as Go's `netip.ParsePrefix` does, their
 * canonical text, and the selectors `fromCIDR`, `fromCIDRSet` and Kubernetes
 * `ipBlock` turn into.
 *
 * A prefix becomes a selector on the label `cidr:<prefix>` (an `Exists`:
 * CIDR labels have empty values); each `except` adds a `DoesNotExist` on its
 * own label. The text is canonical: the address is masked to the prefix
 * length and printed as `netip.Addr.String()` prints it (`10.0.0.0/8`,
 * `fd00::/8`). A `/0` also selects the world identities, which carry no
 * CIDR labels (Cilium adds `reserved:world` for `0.0.0.0/0` and `::/0`).
 *
 * @module
 */
import { formatIp, parseIp, type IpAddress } from "../../net/ip.js";
import type { NormalizedRule, Selector } from "../model.js";
import { LABEL_SOURCE } from "../model.js";
import { existsSelector } from "./selector.js";

/** A parsed, masked prefix. */
export interface Prefix {
  readonly family: 4 | 6;
  /** The masked address bytes. */
  readonly bytes: Uint8Array;
  readonly bits: number;
  /** Canonical text, e.g. `10.0.0.0/8`. */
  readonly text: string;
}

function mask(addr: IpAddress, bits: number): Uint8Array {
  const out = new Uint8Array(addr.bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

function makePrefix(addr: IpAddress, bits: number): Prefix {
  const bytes = mask(addr, bits);
  return { family: addr.family, bytes, bits, text: `${formatIp({ family: addr.family, bytes })}/${bits}` };
}

/**
 * Parses `address/bits` like Go's `netip.ParsePrefix`: no zones, no leading
 * zeros or signs in the length, length within the family. Returns the
 * problem as a string when the text is not a prefix.
 */
export function parsePrefix(text: string): Prefix | string {
  const slash = text.lastIndexOf("/");
  if (slash < 0) return "must be a prefix such as 10.0.0.0/8 (no '/' found)";
  const addr = parseIp(text.slice(0, slash));
  if (!addr) return "the address before '/' is not a valid IPv4 or IPv6 address";
  const bitsText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText)) return "the prefix length after '/' must be a decimal number without leading zeros";
  const bits = Number(bitsText);
  const max = addr.family === 4 ? 32 : 128;
  if (bits > max) return `the prefix length must be at most ${max} for an IPv${addr.family} address`;
  return makePrefix(addr, bits);
}

/**
 * Parses a `fromCIDR`/`toCIDR` entry: a prefix, or a bare address (Cilium's
 * `CIDR.Validate` accepts one and means the single address).
 */
export function parseCidrOrAddress(text: string): Prefix | string {
  if (!text.includes("/")) {
    const addr = parseIp(text);
    if (!addr) return "must be an address or a prefix such as 10.0.0.0/8";
    return makePrefix(addr, addr.family === 4 ? 32 : 128);
  }
  return parsePrefix(text);
}

/** True when `inner` lies inside `outer` (same family, at least as long, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || inner.bits < outer.bits) return false;
  const masked = mask({ family: inner.family, bytes: inner.bytes }, outer.bits);
  return masked.every((b, i) => b === outer.bytes[i]);
}

/** The world selectors a `/0` adds: `reserved:world` and the family's `reserved:world-ipv4`/`-ipv6`. */
export function worldSelectorsFor(prefix: Prefix): Selector[] {
  if (prefix.bits !== 0) return [];
  return [
    existsSelector(`${LABEL_SOURCE.reserved}:world`),
    existsSelector(`${LABEL_SOURCE.reserved}:${prefix.family === 4 ? "world-ipv4" : "world-ipv6"}`),
  ];
}

/** The selector of a prefix with exceptions, on labels of `source` (`cidr` or `ipblock`). */
export function prefixSelector(prefix: Prefix, excepts: readonly Prefix[], source: "cidr" | "ipblock"): Selector {
  return {
    requirements: [
      { key: `${source}:${prefix.text}`, operator: "Exists", values: [] },
      ...excepts.map((e) => ({ key: `${source}:${e.text}`, operator: "DoesNotExist" as const, values: [] })),
    ],
  };
}

/**
 * Every canonical prefix the rules name (allowed blocks and exceptions, from
 * `cidr:` and `ipblock:` labels), first occurrence first. The identity layer
 * must hold a CIDR identity for each.
 */
export function referencedCidrs(rules: readonly NormalizedRule[]): string[] {
  const seen = new Set<string>();
  const visit = (selector: Selector): void => {
    for (const { key } of selector.requirements) {
      for (const source of [LABEL_SOURCE.cidr, LABEL_SOURCE.ipblock]) {
        if (key.startsWith(`${source}:`)) seen.add(key.slice(source.length + 1));
      }
    }
  };
  for (const rule of rules) {
    visit(rule.subject);
    for (const peerRule of rule.peerRules) peerRule.peers?.forEach(visit);
  }
  return [...seen];
}
