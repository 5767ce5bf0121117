/**
 * CIDR labels, as Cilium writes them (`pkg/labels/cidr.go`).
 *
 * A prefix becomes the label `cidr:<address>/<bits>` with the address in
 * Go's `netip` text form, masked to the prefix. Label selectors cannot hold a
 * `:`, so in IPv6 addresses every `:` is written `-`, and a leading or
 * trailing `:` becomes `0-` or `-0`: `2001:db8::/32` is `cidr:2001-db8--0/32`,
 * `::1/128` is `cidr:0--1/128`. Every CIDR identity also carries the world
 * label: `reserved:world`, or in dual-stack clusters `reserved:world-ipv4` /
 * `reserved:world-ipv6` by family. A `/0` prefix has no `cidr:` label at all
 * and is the world identity itself.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { formatIp, parseIp } from "../net/ip.js";

/** A parsed, masked prefix. */
export interface CidrPrefix {
  /** IP version. */
  readonly family: 4 | 6;
  /** Network address, masked to `bits`, network byte order. */
  readonly bytes: Uint8Array;
  /** Prefix length. */
  readonly bits: number;
  /** Canonical text: `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
  /** The key of its `cidr:` label: `10.0.0.0/8`, `2001-db8--0/32`. */
  readonly labelKey: string;
}

type CidrErrorCode = "INVALID_INPUT" | "INVALID_LABEL" | "INVALID_SNAPSHOT";

function invalid(field: string, value: unknown, problem: string, code: CidrErrorCode): never {
  throw new InvalidInputError(field, value, problem, code);
}

/** The `cidr:` label key of an address text and prefix length (Cilium's maskedIPToLabel). */
function labelKeyOf(address: string, bits: number): string {
  let out = "";
  for (let i = 0; i < address.length; i++) {
    const ch = address[i]!;
    if (ch !== ":") out += ch;
    else if (i === 0) out += "0-";
    else if (i === address.length - 1) out += "-0";
    else out += "-";
  }
  return `${out}/${bits}`;
}

function build(family: 4 | 6, raw: Uint8Array, bits: number): CidrPrefix {
  const bytes = new Uint8Array(raw);
  for (let bit = bits; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const address = formatIp({ family, bytes });
  return { family, bytes, bits, text: `${address}/${bits}`, labelKey: labelKeyOf(address, bits) };
}

function parseWith(text: string, field: string, value: unknown, code: CidrErrorCode): CidrPrefix {
  const slash = text.lastIndexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addressText);
  if (!ip) invalid(field, value, "is not an IPv4 or IPv6 prefix (address/bits)", code);
  const maxBits = ip.family === 4 ? 32 : 128;
  let bits = maxBits;
  if (slash >= 0) {
    const bitsText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > maxBits) {
      invalid(field, value, `has a prefix length that is not 0..${maxBits}`, code);
    }
    bits = Number(bitsText);
  }
  return build(ip.family, ip.bytes, bits);
}

/**
 * Parses a prefix such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is
 * a full-length prefix (as Cilium's IPStringToLabel does). Host bits are
 * cleared: `10.1.2.3/8` is `10.0.0.0/8`.
 * @throws InvalidInputError (INVALID_INPUT) naming `field`
 */
export function parseCidr(text: unknown, field = "prefix"): CidrPrefix {
  if (typeof text !== "string") invalid(field, text, "must be a string", "INVALID_INPUT");
  return parseWith(text, field, text, "INVALID_INPUT");
}

/**
 * Parses the key of a `cidr:` label, in Cilium's `-` form
 * (`2001-db8--0/32`) or with colons (`2001:db8::/32`).
 * @throws InvalidInputError (INVALID_LABEL, or `code`) naming `field`
 */
export function parseCidrLabelKey(
  key: string, field: string, label: unknown, code: "INVALID_LABEL" | "INVALID_SNAPSHOT" = "INVALID_LABEL",
): CidrPrefix {
  if (!key.includes("/")) invalid(field, label, "a cidr label key must be a prefix such as 10.0.0.0/8", code);
  return parseWith(key.replaceAll("-", ":"), field, label, code);
}

/** The world label of a prefix of `family`: `world`, or `world-ipv4` / `world-ipv6` in dual-stack clusters. */
export function worldLabelName(family: 4 | 6, dualStack: boolean): "world" | "world-ipv4" | "world-ipv6" {
  if (!dualStack) return "world";
  return family === 4 ? "world-ipv4" : "world-ipv6";
}

/**
 * The labels of a prefix's CIDR identity, sorted by key, as Cilium's
 * GetCIDRLabels gives them: `["cidr:10.0.0.0/8", "reserved:world"]`; a `/0`
 * prefix gives only the world label.
 * @throws InvalidInputError naming `prefix`
 */
export function cidrLabels(prefix: string, options: { dualStack?: boolean } = {}): string[] {
  const parsed = parseCidr(prefix);
  const world = `reserved:${worldLabelName(parsed.family, options.dualStack ?? false)}`;
  // Sorted by key: a cidr key starts with a digit, `world...` with a letter.
  return parsed.bits === 0 ? [world] : [`cidr:${parsed.labelKey}`, world];
}
