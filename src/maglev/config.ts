/**
 * Maglev configuration: table sizes, the hash seed and key formats, checked
 * as Cilium checks them.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";

/** Cilium's default table size (`--bpf-lb-maglev-table-size`). */
export const DEFAULT_TABLE_SIZE = 16381;

/** Cilium's default hash seed (`--bpf-lb-maglev-hash-seed`): 12 random bytes in base64. */
export const DEFAULT_HASH_SEED = "JLfvgnHc2kaSUFaI";

/**
 * Table sizes Cilium accepts, plus 65537 (Katran's and Envoy's default).
 * Other primes work and draw a warning; they are not tested against Cilium.
 */
export const KNOWN_TABLE_SIZES: readonly number[] = Object.freeze([
  251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 65537, 131071,
]);

/** The largest table size accepted: 2^24 slots, 64 MiB of u32 entries. */
export const MAX_TABLE_SIZE = 1 << 24;

/** How a backend's key string is written before hashing. */
export type KeyFormat = "cilium" | "cilium-legacy";
/** Every accepted key format. */
export const KEY_FORMATS: readonly KeyFormat[] = Object.freeze(["cilium", "cilium-legacy"]);

/** The three 32-bit seeds derived from a 12-byte hash seed. */
export interface DecodedSeed {
  /** Bytes 0-3, big-endian: the MurmurHash3 seed of the Maglev permutations. */
  readonly murmur: number;
  /** Bytes 4-7, big-endian: the jhash seed of the IPv4 flow hash. */
  readonly jhash0: number;
  /** Bytes 8-11, big-endian: the jhash seed of the IPv6 flow hash. */
  readonly jhash1: number;
}

/**
 * Decodes a base64 hash seed that must hold exactly 12 bytes, as Cilium's
 * `maglev.Init` requires (standard alphabet, padding as base64 defines it).
 * @throws InvalidInputError (code `INVALID_HASH_SEED`) naming `field`.
 */
export function decodeHashSeed(seed: unknown, field = "hashSeed"): DecodedSeed {
  if (typeof seed !== "string") {
    throw new InvalidInputError(field, seed, "must be a base64 string", "INVALID_HASH_SEED");
  }
  if (seed.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(seed)) {
    throw new InvalidInputError(field, seed, "is not valid standard base64", "INVALID_HASH_SEED");
  }
  const bytes = Buffer.from(seed, "base64");
  if (bytes.length !== 12) {
    throw new InvalidInputError(field, seed, `decodes to ${bytes.length} bytes; a hash seed must be exactly 12 bytes`, "INVALID_HASH_SEED");
  }
  return { murmur: bytes.readUInt32BE(0), jhash0: bytes.readUInt32BE(4), jhash1: bytes.readUInt32BE(8) };
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Checks a table size. Returns a warning text for a prime that is not in
 * {@link KNOWN_TABLE_SIZES}, `undefined` for a known one.
 * @throws InvalidInputError (code `INVALID_TABLE_SIZE`) for anything that is not a prime in range.
 */
export function checkTableSize(size: unknown, field = "tableSize"): string | undefined {
  if (typeof size !== "number" || !Number.isInteger(size)) {
    throw new InvalidInputError(field, size, "must be an integer", "INVALID_TABLE_SIZE");
  }
  if (size < 3 || size > MAX_TABLE_SIZE) {
    throw new InvalidInputError(field, size, `must be between 3 and ${MAX_TABLE_SIZE}`, "INVALID_TABLE_SIZE");
  }
  if (!isPrime(size)) {
    throw new InvalidInputError(field, size, "must be a prime number (Maglev permutations need it)", "INVALID_TABLE_SIZE");
  }
  if (!KNOWN_TABLE_SIZES.includes(size)) {
    return `table size ${size} is prime but not one Cilium uses (${KNOWN_TABLE_SIZES.join(", ")}); tables will not be comparable with Cilium's`;
  }
  return undefined;
}

/** @throws InvalidInputError when `format` is not a known key format. */
export function checkKeyFormat(format: unknown, field = "keyFormat"): KeyFormat {
  if (typeof format !== "string" || !(KEY_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidInputError(field, format, `must be one of ${KEY_FORMATS.join(", ")}`);
  }
  return format as KeyFormat;
}
