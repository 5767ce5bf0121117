/**
 * Key and value encoders for map handles, and a typed view of a map built on
 * them.
 *
 * Integers are in host byte order, as the kernel stores map keys and values
 * (fields the C header declares in network order, such as addresses and
 * ports, are the caller's to swap). A struct codec is driven by the same
 * declarative {@link StructLayout} that `assertLayoutMatchesBtf` checks
 * against the C header, so the bytes have one owner. Encoders zero every
 * byte first: padding inside a hash key is part of the key.
 *
 * @module
 */
import { endianness } from "node:os";
import { InvalidInputError } from "../errors.js";
import type { StructLayout } from "./btf-layout.js";
import type { BatchResult, BpfMap } from "./map.js";
import { isPerCpu, mapTypeName, type UpdateMode } from "./map-types.js";

const LITTLE = endianness() === "LE";

/** Turns a `T` into exactly `size` bytes and back. */
export interface Codec<T> {
  /** Bytes of the encoded form. */
  readonly size: number;
  /** Writes `value` into `into[0..size)`. @throws {@link InvalidInputError} for a value out of range. */
  encode(value: T, into: Uint8Array): void;
  /** Reads a value from `bytes[0..size)`. */
  decode(bytes: Uint8Array): T;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkInteger(field: string, value: number, bits: 8 | 16 | 32): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) throw new InvalidInputError(field, value, `must be an unsigned ${bits}-bit integer`);
}

/** Unsigned 32-bit integer, host byte order. */
export const u32: Codec<number> = {
  size: 4,
  encode(value, into) {
    checkInteger("u32", value, 32);
    view(into).setUint32(0, value, LITTLE);
  },
  decode: (bytes) => view(bytes).getUint32(0, LITTLE),
};

/** Unsigned 64-bit integer, host byte order. */
export const u64: Codec<bigint> = {
  size: 8,
  encode(value, into) {
    if (value < 0n || value >= 1n << 64n) throw new InvalidInputError("u64", value, "must be an unsigned 64-bit integer");
    view(into).setBigUint64(0, value, LITTLE);
  },
  decode: (bytes) => view(bytes).getBigUint64(0, LITTLE),
};

/** Raw bytes of a fixed size (copied on decode). */
export function bytes(size: number): Codec<Uint8Array> {
  return {
    size,
    encode(value, into) {
      if (value.byteLength !== size) throw new InvalidInputError("bytes", `${value.byteLength} bytes`, `must be ${size} bytes`);
      into.set(value);
    },
    decode: (from) => from.slice(0, size),
  };
}

/** A struct value: 1-, 2- and 4-byte fields are numbers, 8-byte fields bigints, others bytes. */
export type StructValue = Record<string, number | bigint | Uint8Array>;

/**
 * A codec for the struct `layout` describes. Missing fields encode as zero;
 * bytes outside every field (padding) are always zero.
 */
export function structCodec(layout: StructLayout): Codec<StructValue> {
  const fields = Object.entries(layout.fields);
  for (const [name, f] of fields) {
    if (f.offset < 0 || f.offset + f.size > layout.size) throw new InvalidInputError(`fields.${name}`, f, `lies outside the ${layout.size}-byte struct`);
  }
  return {
    size: layout.size,
    encode(value, into) {
      into.fill(0, 0, layout.size);
      const dv = view(into);
      for (const [name, f] of fields) {
        const v = value[name];
        if (v === undefined) continue;
        const field = `${name}`;
        if (f.size === 8) {
          if (typeof v !== "bigint" || v < 0n || v >= 1n << 64n) throw new InvalidInputError(field, v, "must be an unsigned 64-bit bigint");
          dv.setBigUint64(f.offset, v, LITTLE);
        } else if (f.size === 1 || f.size === 2 || f.size === 4) {
          if (typeof v !== "number") throw new InvalidInputError(field, v, "must be a number");
          checkInteger(field, v, (f.size * 8) as 8 | 16 | 32);
          if (f.size === 1) dv.setUint8(f.offset, v);
          else if (f.size === 2) dv.setUint16(f.offset, v, LITTLE);
          else dv.setUint32(f.offset, v, LITTLE);
        } else {
          if (!(v instanceof Uint8Array) || v.byteLength !== f.size) throw new InvalidInputError(field, v, `must be a Uint8Array of ${f.size} bytes`);
          into.set(v, f.offset);
        }
      }
    },
    decode(from) {
      const dv = view(from);
      const out: StructValue = {};
      for (const [name, f] of fields) {
        if (f.size === 8) out[name] = dv.getBigUint64(f.offset, LITTLE);
        else if (f.size === 4) out[name] = dv.getUint32(f.offset, LITTLE);
        else if (f.size === 2) out[name] = dv.getUint16(f.offset, LITTLE);
        else if (f.size === 1) out[name] = dv.getUint8(f.offset);
        else out[name] = from.slice(f.offset, f.offset + f.size);
      }
      return out;
    },
  };
}

/**
 * A map seen through a key and a value codec. Not for per-CPU maps (their
 * values are one slot per CPU; use the byte-level {@link BpfMap}).
 */
export class TypedMap<K, V> {
  /** The underlying byte-level handle. */
  readonly map: BpfMap;
  readonly #key: Codec<K>;
  readonly #value: Codec<V>;
  readonly #keyBuffer: Uint8Array;
  readonly #valueBuffer: Uint8Array;

  /** @throws {@link InvalidInputError} when a codec's size differs from the map's, or the map is per CPU. */
  constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) {
    if (isPerCpu(map.type)) throw new InvalidInputError("map", map.name, `is ${mapTypeName(map.type)}: per-CPU values need the byte-level handle`);
    if (key.size !== map.keySize) throw new InvalidInputError("key codec", key.size, `must encode ${map.keySize} bytes for map "${map.name}"`);
    if (value.size !== map.valueBytes) throw new InvalidInputError("value codec", value.size, `must encode ${map.valueBytes} bytes for map "${map.name}"`);
    this.map = map;
    this.#key = key;
    this.#value = value;
    this.#keyBuffer = new Uint8Array(key.size);
    this.#valueBuffer = new Uint8Array(value.size);
  }

  /** The value under `key`, or undefined. */
  get(key: K): V | undefined {
    this.#key.encode(key, this.#keyBuffer);
    const found = this.map.lookup(this.#keyBuffer, this.#valueBuffer);
    return found && this.#value.decode(found);
  }

  /** Writes one entry (see {@link BpfMap.update}). */
  set(key: K, value: V, mode: UpdateMode = "any"): void {
    this.#key.encode(key, this.#keyBuffer);
    this.#value.encode(value, this.#valueBuffer);
    this.map.update(this.#keyBuffer, this.#valueBuffer, mode);
  }

  /** Removes `key`; false when it was absent. */
  delete(key: K): boolean {
    this.#key.encode(key, this.#keyBuffer);
    return this.map.delete(this.#keyBuffer);
  }

  /** Encodes every entry first (so bad input writes nothing), then one batch update. */
  setMany(entries: ReadonlyArray<readonly [K, V]>, mode: UpdateMode = "any"): BatchResult {
    const keys = new Uint8Array(entries.length * this.#key.size);
    const values = new Uint8Array(entries.length * this.#value.size);
    entries.forEach(([k, v], i) => {
      this.#key.encode(k, keys.subarray(i * this.#key.size, (i + 1) * this.#key.size));
      this.#value.encode(v, values.subarray(i * this.#value.size, (i + 1) * this.#value.size));
    });
    return this.map.updateBatch(keys, values, { mode });
  }

  /** Every entry, decoded. */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.map.entries()) yield [this.#key.decode(k), this.#value.decode(v)];
  }
}
