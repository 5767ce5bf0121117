/**
 * IP address parsing and canonical text, as Go's `net/netip` does them.
 *
 * Cilium hashes backends by a string that embeds the address in the form Go's
 * `netip.Addr.String()` prints, so our text must match it byte for byte:
 * dotted quad for IPv4; RFC 5952 for IPv6 (lower-case hex, no leading zeros,
 * the first longest run of two or more zero groups written `::`), and IPv4
 * mapped addresses as `::ffff:a.b.c.d`. Parsing is as strict as netip's:
 * no leading zeros in IPv4 octets, no zones, no surrounding brackets.
 *
 * @module
 */

/** A parsed address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
export interface IpAddress {
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The address in network byte order: 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
}

/** Parses `text` as an IPv4 or IPv6 address; returns `undefined` when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(":")) {
    const bytes = parseIPv6(text);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIPv4(text);
  return bytes && { family: 4, bytes };
}

function parseIPv4(text: string): Uint8Array | undefined {
  // A character loop rather than split and regex: backends are parsed on
  // every table build, and this is most of the host's share of that cost.
  const out = new Uint8Array(4);
  let octet = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const ch = i < text.length ? text.charCodeAt(i) : 0x2e; // a virtual final "."
    if (ch === 0x2e) {
      if (digits === 0 || octet > 3) return undefined;
      out[octet++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    if (ch < 0x30 || ch > 0x39) return undefined;
    // netip rejects leading zeros ("010" would be ambiguous octal).
    if (digits === 1 && value === 0) return undefined;
    value = value * 10 + (ch - 0x30);
    if (++digits > 3 || value > 255) return undefined;
  }
  return octet === 4 ? out : undefined;
}

function parseIPv6(text: string): Uint8Array | undefined {
  if (text.includes("%")) return undefined; // zones have no meaning in a backend key
  let head = text;
  let embedded: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.indexOf(".", lastColon) !== -1) {
    embedded = parseIPv4(text.slice(lastColon + 1));
    if (!embedded) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === "") return [];
    const groups: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      groups.push(parseInt(g, 16));
    }
    return groups;
  };
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined; // "::" stands for at least one group
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (embedded) out.set(embedded, 12);
  return out;
}

/** The canonical text of an address, identical to Go's `netip.Addr.String()`. */
export function formatIp(addr: IpAddress): string {
  const b = addr.bytes;
  if (addr.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

  const isV4Mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (isV4Mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;

  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // The first longest run of at least two zero groups is elided (RFC 5952 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
