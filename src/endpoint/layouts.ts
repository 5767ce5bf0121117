/**
 * The TypeScript mirror of the endpoint policy section of
 * bpf/include/wasmplane/abi.h: ipcache, policy, endpoint and connection
 * tracking keys and values as declarative layouts, with the encoders the
 * control plane writes them with and the decoders it reads them back with.
 *
 * The C header owns the bytes; test/endpoint-layouts.test.ts compares every
 * layout here with the BTF clang emits for tc_endpoint.o. Byte order as
 * abi.h states it: addresses and ports network order, other integers host
 * order. Encoders zero the whole struct first (padding is part of a key)
 * and mask the bits of an LPM key beyond its prefix length.
 *
 * Pure module: no kernel, no koffi.
 *
 * @module
 */
import { endianness } from "node:os";
import type { StructLayout } from "../bpf/btf-layout.js";
import { InvalidInputError } from "../errors.js";
import type { CidrPrefix } from "../identity/cidr.js";
import { formatIp } from "../net/ip.js";
import type { PolicyMapEntry } from "../policy/resolver-host.js";

const HOST_LE = endianness() === "LE";

/** `WP_DIR_*`: the direction of a policy entry or a connection tracking entry. */
export const WP_DIR = { INGRESS: 0, EGRESS: 1 } as const;

/** `WP_PREC_*`: precedence of a policy entry (the resolver's levels). */
export const WP_PREC = {
  /** No entry: default deny (never written). */
  NONE: 0,
  /** The direction is not enforced: allowed unless denied. */
  NOT_ENFORCED: 1,
  /** Allowed, for the L7 proxy (the datapath forwards it as allowed). */
  ALLOW_PROXY: 2,
  /** Allowed. */
  ALLOW: 3,
  /** Explicit deny: wins over every allow. */
  DENY: 4,
} as const;

/** `WP_POLICY_PREFIX_BASE`: bits of subject, peer and direction in a policy key. */
export const WP_POLICY_PREFIX_BASE = 72;
/** `WP_POLICY_PREFIX_FULL`: bits of a whole policy key (prefix 24 over protocol and port). */
export const WP_POLICY_PREFIX_FULL = 96;
/** `WP_POLICY_F_*`: flags of a wp_policy_exact value. */
export const WP_POLICY_F = {
  /** At a group's prefix-0 key: the group has entries of prefix 1..23, ask the trie. */
  TRIE: 0x01,
  /** A peer's prefix-24 entry already decided against identity 0's longest match. */
  FINAL: 0x02,
} as const;
/** `WP_IPCACHE_PREFIX_BASE`: bits of family and padding in an ipcache key. */
export const WP_IPCACHE_PREFIX_BASE = 32;
/** `WP_IDENTITY_WORLD`: the identity of an address the ipcache does not know. */
export const WP_IDENTITY_WORLD = 2;
/** `WP_CT_F_*`: connection tracking entry flags. */
export const WP_CT_F = { CLOSING: 0x01 } as const;
/** `WP_FAMILY_*`. */
export const WP_FAMILY = { IPV4: 4, IPV6: 6 } as const;

/** Every struct of the endpoint section of abi.h, by C name. */
export const ENDPOINT_LAYOUTS = {
  wp_ipcache_key: {
    size: 24,
    fields: { prefixlen: { offset: 0, size: 4 }, family: { offset: 4, size: 1 }, pad: { offset: 5, size: 3 }, addr: { offset: 8, size: 16 } },
  },
  wp_ipcache_value: { size: 8, fields: { identity: { offset: 0, size: 4 }, flags: { offset: 4, size: 4 } } },
  wp_policy_key: {
    size: 16,
    fields: {
      prefixlen: { offset: 0, size: 4 }, subject: { offset: 4, size: 4 }, peer: { offset: 8, size: 4 },
      direction: { offset: 12, size: 1 }, protocol: { offset: 13, size: 1 }, port: { offset: 14, size: 2 },
    },
  },
  wp_policy_value: {
    size: 8,
    fields: { precedence: { offset: 0, size: 1 }, flags: { offset: 1, size: 1 }, pad: { offset: 2, size: 2 }, counter: { offset: 4, size: 4 } },
  },
  wp_endpoint_value: { size: 8, fields: { identity: { offset: 0, size: 4 }, flags: { offset: 4, size: 4 } } },
  wp_ct_key: {
    size: 40,
    fields: {
      saddr: { offset: 0, size: 16 }, daddr: { offset: 16, size: 16 }, sport: { offset: 32, size: 2 }, dport: { offset: 34, size: 2 },
      protocol: { offset: 36, size: 1 }, family: { offset: 37, size: 1 }, direction: { offset: 38, size: 1 }, pad: { offset: 39, size: 1 },
    },
  },
  wp_ct_value: {
    size: 16,
    fields: {
      expires_ns: { offset: 0, size: 8 }, peer_identity: { offset: 8, size: 4 }, tcp_fwd: { offset: 12, size: 1 },
      tcp_rev: { offset: 13, size: 1 }, flags: { offset: 14, size: 1 }, pad: { offset: 15, size: 1 },
    },
  },
} as const satisfies Record<string, StructLayout>;

const L = ENDPOINT_LAYOUTS;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkU32(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new InvalidInputError(field, value, "must be an unsigned 32-bit integer");
}

/** Zeroes the bits of `bytes` (big-endian bit order) from bit `keep` on. */
function maskFrom(bytes: Uint8Array, keep: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const bit = i * 8;
    if (bit >= keep) bytes[i] = 0;
    else if (bit + 8 > keep) bytes[i]! &= (0xff << (8 - (keep - bit))) & 0xff;
  }
}

/** A u32 in host order, 4 bytes (array and hash keys). */
export function u32Key(value: number): Uint8Array {
  checkU32("key", value);
  const out = new Uint8Array(4);
  view(out).setUint32(0, value, HOST_LE);
  return out;
}

/**
 * Writes the wp_policy key of `entry` in subject `subject`'s map into `into`
 * (16 bytes, zeroed first). Bits of (protocol, port) beyond the entry's
 * prefix are zero.
 *
 * @throws {@link InvalidInputError} for an identity, protocol, port or prefix out of range.
 */
export function encodePolicyKey(subject: number, entry: PolicyMapEntry, into: Uint8Array = new Uint8Array(L.wp_policy_key.size)): Uint8Array {
  checkU32("subject", subject);
  checkU32("entry.identity", entry.identity);
  const { prefixLength, protocol, port } = entry;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 24) throw new InvalidInputError("entry.prefixLength", prefixLength, "must be an integer from 0 to 24");
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw new InvalidInputError("entry.protocol", protocol, "must be an IP protocol number (0-255)");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError("entry.port", port, "must be an integer from 0 to 65535");
  if (entry.direction !== "ingress" && entry.direction !== "egress") throw new InvalidInputError("entry.direction", entry.direction, "must be ingress or egress");
  into.fill(0, 0, L.wp_policy_key.size);
  const v = view(into);
  const f = L.wp_policy_key.fields;
  v.setUint32(f.prefixlen.offset, WP_POLICY_PREFIX_BASE + prefixLength, HOST_LE);
  v.setUint32(f.subject.offset, subject, HOST_LE);
  v.setUint32(f.peer.offset, entry.identity, HOST_LE);
  into[f.direction.offset] = entry.direction === "egress" ? WP_DIR.EGRESS : WP_DIR.INGRESS;
  const tail = into.subarray(f.protocol.offset, f.protocol.offset + 3);
  tail[0] = protocol;
  tail[1] = port >>> 8;
  tail[2] = port & 0xff;
  maskFrom(tail, prefixLength);
  return into;
}

/** A decoded wp_policy key. */
export interface PolicyKey {
  /** The subject (endpoint) identity. */
  subject: number;
  /** The peer identity (0: any). */
  peer: number;
  /** Traffic direction of the entry. */
  direction: "ingress" | "egress";
  /** IP protocol (0 with prefix 0). */
  protocol: number;
  /** First port (or ICMP type) of the block. */
  port: number;
  /** The resolver's prefix length over (protocol, port), 0-24. */
  prefixLength: number;
}

/** Reads a wp_policy key. */
export function decodePolicyKey(bytes: Uint8Array): PolicyKey {
  const v = view(bytes);
  const f = L.wp_policy_key.fields;
  return {
    subject: v.getUint32(f.subject.offset, HOST_LE),
    peer: v.getUint32(f.peer.offset, HOST_LE),
    direction: bytes[f.direction.offset] === WP_DIR.EGRESS ? "egress" : "ingress",
    protocol: bytes[f.protocol.offset]!,
    port: v.getUint16(f.port.offset, false),
    prefixLength: v.getUint32(f.prefixlen.offset, HOST_LE) - WP_POLICY_PREFIX_BASE,
  };
}

/** Writes a wp_policy value: precedence (WP_PREC_*) and the counter slot. */
export function encodePolicyValue(precedence: number, counter: number, into: Uint8Array = new Uint8Array(L.wp_policy_value.size)): Uint8Array {
  if (!Number.isInteger(precedence) || precedence < WP_PREC.NOT_ENFORCED || precedence > WP_PREC.DENY) {
    throw new InvalidInputError("entry.precedence", precedence, "must be 1 (not enforced), 2 (proxy), 3 (allow) or 4 (deny)");
  }
  checkU32("counter", counter);
  into.fill(0, 0, L.wp_policy_value.size);
  into[L.wp_policy_value.fields.precedence.offset] = precedence;
  view(into).setUint32(L.wp_policy_value.fields.counter.offset, counter, HOST_LE);
  return into;
}

/**
 * A wp_policy_exact value of a peer's prefix-24 entry decided against
 * identity 0's: the winner's precedence and counter, flags
 * {@link WP_POLICY_F}.FINAL.
 */
export function encodeDecidedPolicyValue(precedence: number, counter: number): Uint8Array {
  const out = encodePolicyValue(precedence, counter);
  out[L.wp_policy_value.fields.flags.offset] = WP_POLICY_F.FINAL;
  return out;
}

/**
 * The wp_policy_exact marker of a group that has entries of prefix 1..23:
 * precedence 0, flags {@link WP_POLICY_F}.TRIE, counter 0.
 */
export function encodePolicyTrieMarker(into: Uint8Array = new Uint8Array(L.wp_policy_value.size)): Uint8Array {
  into.fill(0, 0, L.wp_policy_value.size);
  into[L.wp_policy_value.fields.flags.offset] = WP_POLICY_F.TRIE;
  return into;
}

/**
 * The prefix-0 key of the group (subject, peer, direction) that `key` (a
 * wp_policy key) belongs to: prefix length {@link WP_POLICY_PREFIX_BASE},
 * protocol and port zero.
 */
export function policyGroupKey(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(L.wp_policy_key.size);
  out.set(key.subarray(0, L.wp_policy_key.fields.protocol.offset));
  view(out).setUint32(L.wp_policy_key.fields.prefixlen.offset, WP_POLICY_PREFIX_BASE, HOST_LE);
  return out;
}

/** Reads a wp_policy value. */
export function decodePolicyValue(bytes: Uint8Array): { precedence: number; counter: number } {
  return { precedence: bytes[0]!, counter: view(bytes).getUint32(L.wp_policy_value.fields.counter.offset, HOST_LE) };
}

/** Writes the wp_ipcache key of a parsed prefix (address masked to its length). */
export function encodeIpcacheKey(prefix: CidrPrefix, into: Uint8Array = new Uint8Array(L.wp_ipcache_key.size)): Uint8Array {
  into.fill(0, 0, L.wp_ipcache_key.size);
  const f = L.wp_ipcache_key.fields;
  view(into).setUint32(f.prefixlen.offset, WP_IPCACHE_PREFIX_BASE + prefix.bits, HOST_LE);
  into[f.family.offset] = prefix.family === 6 ? WP_FAMILY.IPV6 : WP_FAMILY.IPV4;
  const addr = into.subarray(f.addr.offset, f.addr.offset + 16);
  addr.set(prefix.bytes);
  maskFrom(addr, prefix.bits);
  return into;
}

/** The prefix of a wp_ipcache key, as text (`10.1.0.0/16`, `fd00::1/128`). */
export function decodeIpcachePrefix(key: Uint8Array): string {
  const f = L.wp_ipcache_key.fields;
  const bits = view(key).getUint32(f.prefixlen.offset, HOST_LE) - WP_IPCACHE_PREFIX_BASE;
  const v6 = key[f.family.offset] === WP_FAMILY.IPV6;
  const addr = key.slice(f.addr.offset, f.addr.offset + (v6 ? 16 : 4));
  return `${formatIp(v6 ? { family: 6, bytes: addr } : { family: 4, bytes: addr })}/${bits}`;
}

/** Whether a wp_ipcache key is of full length (/32 for IPv4, /128 for IPv6): one that wp_ipcache_exact holds too. */
export function isFullLengthIpcacheKey(key: Uint8Array): boolean {
  const f = L.wp_ipcache_key.fields;
  const bits = view(key).getUint32(f.prefixlen.offset, HOST_LE) - WP_IPCACHE_PREFIX_BASE;
  return bits === (key[f.family.offset] === WP_FAMILY.IPV6 ? 128 : 32);
}

/** Writes a wp_ipcache value (or a wp_endpoint_value: same shape): an identity, flags 0. */
export function encodeIdentityValue(identity: number, into: Uint8Array = new Uint8Array(8)): Uint8Array {
  checkU32("identity", identity);
  into.fill(0, 0, 8);
  view(into).setUint32(0, identity, HOST_LE);
  return into;
}

/** Reads the identity of a wp_ipcache_value or wp_endpoint_value. */
export function decodeIdentityValue(bytes: Uint8Array): number {
  return view(bytes).getUint32(0, HOST_LE);
}

/** A decoded connection tracking entry. */
export interface ConntrackEntry {
  /** Source address of the connection's first packet (4 or 16 bytes). */
  saddr: Uint8Array;
  /** Destination address of the connection's first packet. */
  daddr: Uint8Array;
  /** Source port (ICMP echo: the identifier). */
  sport: number;
  /** Destination port. */
  dport: number;
  /** IP protocol. */
  protocol: number;
  /** 4 or 6. */
  family: 4 | 6;
  /** Which program made the entry: egress (the endpoint opened it) or ingress. */
  direction: "ingress" | "egress";
  /** CLOCK_MONOTONIC deadline in nanoseconds. */
  expiresNs: bigint;
  /** The peer identity when the entry was made. */
  peerIdentity: number;
  /** TCP flags seen in the original direction. */
  tcpForward: number;
  /** TCP flags seen in the reply direction. */
  tcpReply: number;
  /** Closing: RST, or FIN both ways. */
  closing: boolean;
}

/** Reads a wp_conntrack key and value. */
export function decodeConntrack(key: Uint8Array, value: Uint8Array): ConntrackEntry {
  const k = view(key);
  const v = view(value);
  const fk = L.wp_ct_key.fields;
  const fv = L.wp_ct_value.fields;
  const family = key[fk.family.offset] === WP_FAMILY.IPV6 ? 6 : 4;
  const n = family === 6 ? 16 : 4;
  return {
    saddr: key.slice(fk.saddr.offset, fk.saddr.offset + n),
    daddr: key.slice(fk.daddr.offset, fk.daddr.offset + n),
    sport: k.getUint16(fk.sport.offset, false),
    dport: k.getUint16(fk.dport.offset, false),
    protocol: key[fk.protocol.offset]!,
    family,
    direction: key[fk.direction.offset] === WP_DIR.EGRESS ? "egress" : "ingress",
    expiresNs: v.getBigUint64(fv.expires_ns.offset, HOST_LE),
    peerIdentity: v.getUint32(fv.peer_identity.offset, HOST_LE),
    tcpForward: value[fv.tcp_fwd.offset]!,
    tcpReply: value[fv.tcp_rev.offset]!,
    closing: (value[fv.flags.offset]! & WP_CT_F.CLOSING) !== 0,
  };
}
