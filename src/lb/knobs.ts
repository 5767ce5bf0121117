/**
 * The datapath's load-time knobs (bpf/lib/config.h): which `const volatile`
 * global each option sets, and its bytes. They are fixed for the life of a
 * loaded program; values that may change at runtime live in wp_config.
 *
 * Pure module.
 *
 * @module
 */
import { endianness } from "node:os";
import { InvalidInputError } from "../errors.js";
import { decodeHashSeed } from "../maglev/config.js";
import { u32Bytes } from "./layouts.js";

/** Knob values, validated. */
export interface Knobs {
  /** IPv4 flow-hash seed: bytes 4-7 of the 12-byte hash seed, big-endian (Cilium's jhash0). */
  jhash0: number;
  /** IPv6 flow-hash seed: bytes 8-11 (Cilium's jhash1). */
  jhash1: number;
  /** TTL / hop limit of the outer header, 1 to 255. */
  encapTtl: number;
  /** Idle seconds after which a UDP flow is balanced again; 0 never. */
  udpFlowTimeoutSeconds: number;
  /** Milliseconds a FIB answer is reused per backend (wp_next_hops); 0 looks the FIB up for every packet. */
  nextHopCacheMs: number;
}

/** Defaults of config.h: TTL 64 (Katran's), UDP flows forgotten after 30 s idle (Katran's LRU_UDP_TIMEOUT). */
export const DEFAULT_ENCAP_TTL = 64;
/** See {@link DEFAULT_ENCAP_TTL}. */
export const DEFAULT_UDP_FLOW_TIMEOUT_SECONDS = 30;
/** Default of config.h: a next hop from the FIB is reused for one second per backend. */
export const DEFAULT_NEXT_HOP_CACHE_MS = 1000;

/**
 * Validates the knob options. The hash seed is the same base64 12-byte seed
 * the Maglev tables are built with, so tables and flow hashes agree with
 * Cilium's for one seed.
 *
 * @throws {@link InvalidInputError} naming the option.
 */
export function resolveKnobs(options: { hashSeed: string; encapTtl?: number; udpFlowTimeoutSeconds?: number; nextHopCacheMs?: number }): Knobs {
  const { jhash0, jhash1 } = decodeHashSeed(options.hashSeed);
  const encapTtl = options.encapTtl ?? DEFAULT_ENCAP_TTL;
  if (!Number.isInteger(encapTtl) || encapTtl < 1 || encapTtl > 255) throw new InvalidInputError("encapTtl", encapTtl, "must be an integer from 1 to 255");
  const udp = options.udpFlowTimeoutSeconds ?? DEFAULT_UDP_FLOW_TIMEOUT_SECONDS;
  // 2^32 s keeps seconds × 10^9 well inside the u64 knob.
  if (!Number.isInteger(udp) || udp < 0 || udp > 0xffffffff) throw new InvalidInputError("udpFlowTimeoutSeconds", udp, "must be an integer from 0 to 4294967295");
  const nextHop = options.nextHopCacheMs ?? DEFAULT_NEXT_HOP_CACHE_MS;
  if (!Number.isInteger(nextHop) || nextHop < 0 || nextHop > 0xffffffff) throw new InvalidInputError("nextHopCacheMs", nextHop, "must be an integer from 0 to 4294967295");
  return { jhash0, jhash1, encapTtl, udpFlowTimeoutSeconds: udp, nextHopCacheMs: nextHop };
}

/** The bytes of each `.rodata` global, host order (BPF objects use the host's byte order). */
export function knobGlobals(k: Knobs): Record<string, Uint8Array> {
  const u64 = (value: bigint) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, value, endianness() === "LE");
    return bytes;
  };
  return {
    wp_hash_seed_v4: u32Bytes(k.jhash0),
    wp_hash_seed_v6: u32Bytes(k.jhash1),
    wp_encap_ttl: Uint8Array.of(k.encapTtl),
    wp_udp_flow_timeout_ns: u64(BigInt(k.udpFlowTimeoutSeconds) * 1_000_000_000n),
    wp_next_hop_cache_ns: u64(BigInt(k.nextHopCacheMs) * 1_000_000n),
  };
}
