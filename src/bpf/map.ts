/**
 * Map handles: lookup, update, delete, batch update and iteration on a map
 * file descriptor, with keys and values as bytes.
 *
 * Keys and values are `ArrayBufferView`s handed to libbpf without a copy, so a
 * typed array viewing WebAssembly memory (a Maglev table, a policy entry
 * buffer) goes to the kernel straight from the engine. Sizes are checked
 * before any syscall: a wrong-sized buffer is an input error naming the map,
 * never a kernel read past its end.
 *
 * Typed access (numbers, bigints, structs) is layered on top in `codec.ts`.
 *
 * @module
 */
import { closeSync } from "node:fs";
import { InvalidInputError } from "../errors.js";
import { BpfError, ERRNO } from "./errors.js";
import { loadLibbpf, type Libbpf } from "./libbpf.js";
import { BPF_F_NO_PREALLOC, MAP_TYPES, isArrayLike, isMapOfMaps, isPerCpu, mapTypeName, mapTypeNumber, UPDATE_FLAGS, type MapTypeName, type UpdateMode } from "./map-types.js";

/** What a map is: the attributes the kernel checks on create and on reuse. */
export interface MapLayout {
  /** Map type, by name (`"hash"`) or number. */
  type: MapTypeName | number;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes, as declared (per CPU for per-CPU maps; 4 for maps of maps). */
  valueSize: number;
  /** Capacity. */
  maxEntries: number;
  /** `map_flags` (e.g. `BPF_F_NO_PREALLOC` = 1). Defaults to 0. */
  flags?: number;
  /** Template of the inner maps, for `array_of_maps` and `hash_of_maps`. */
  inner?: MapLayout;
}

/** Result of {@link BpfMap.updateBatch}. */
export interface BatchResult {
  /** Entries written. */
  count: number;
  /** True when one `BPF_MAP_UPDATE_BATCH` did it; false when the map type needed one syscall per entry. */
  batched: boolean;
}

/** A batch update stopped part way: the first `written` entries are in the map. */
export class BpfBatchError extends BpfError {
  /** Entries applied before the failure (batch updates are not atomic). */
  readonly written: number;

  constructor(base: BpfError, written: number, count: number) {
    const detail = [base.detail, `${written} of ${count} entries were written before the failure`].filter(Boolean).join("; ");
    super({ operation: base.operation, target: base.target }, base.errno, base.text, { detail, libbpfMessages: base.libbpfMessages });
    this.written = written;
  }
}

/** Resolved attributes of an open map. */
interface MapAttributes {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  inner: MapLayout | undefined;
}

/**
 * An open BPF map. Maps of a {@link BpfObject} belong to it and close with it;
 * maps from {@link createMap} or `openPinnedMap` own their descriptor and must
 * be closed. Every method throws {@link BpfError} (code `BPF_ERRNO`) on a
 * kernel error and {@link InvalidInputError} for a buffer of the wrong size.
 */
export class BpfMap {
  /** The map's name (as in the object file, or as given at creation). */
  readonly name: string;
  /** `enum bpf_map_type` value. */
  readonly type: number;
  /** Key size in bytes. */
  readonly keySize: number;
  /** Declared value size in bytes. */
  readonly valueSize: number;
  /**
   * Bytes of one value as userspace reads and writes it: `valueSize`, or
   * `roundUp(valueSize, 8) × possible CPUs` for per-CPU maps.
   */
  readonly valueBytes: number;
  /** Capacity. */
  readonly maxEntries: number;
  /** `map_flags`. */
  readonly flags: number;
  /** Inner map template, for maps of maps. */
  readonly inner: MapLayout | undefined;

  #fd: number;
  readonly #lib: Libbpf;
  readonly #owned: boolean;
  #batchUnsupported = false;

  /** @internal Use {@link createMap}, `openPinnedMap` or {@link BpfObject.map}. */
  constructor(lib: Libbpf, fd: number, attributes: MapAttributes, owned: boolean) {
    this.#lib = lib;
    this.#fd = fd;
    this.#owned = owned;
    this.name = attributes.name;
    this.type = attributes.type;
    this.keySize = attributes.keySize;
    this.valueSize = attributes.valueSize;
    this.maxEntries = attributes.maxEntries;
    this.flags = attributes.flags;
    this.inner = attributes.inner;
    this.valueBytes = isPerCpu(this.type) ? Math.ceil(this.valueSize / 8) * 8 * lib.possibleCpus() : this.valueSize;
  }

  /** The file descriptor. @throws {@link BpfError} (EBADF) after {@link BpfMap.close}. */
  get fd(): number {
    if (this.#fd < 0) throw new BpfError({ operation: "use", target: this.#target() }, ERRNO.EBADF, "the map handle is closed");
    return this.#fd;
  }

  /** @internal The binding, for modules that issue their own calls on this map. */
  get libbpf(): Libbpf {
    return this.#lib;
  }

  /** Whether {@link BpfMap.close} (or the owning object's close) ran. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * The value stored under `key`, or undefined when there is none. Writes
   * into `into` when given (it must hold {@link BpfMap.valueBytes}); for maps
   * of maps the value is the inner map's id.
   */
  lookup(key: ArrayBufferView, into?: Uint8Array): Uint8Array | undefined {
    this.#checkKey(key);
    const out = into ?? new Uint8Array(this.valueBytes);
    if (into) this.#checkSize("value", into, this.valueBytes);
    const ret = this.#lib.raw.bpf_map_lookup_elem(this.fd, key, out);
    if (ret === -ERRNO.ENOENT) return undefined;
    this.#lib.check(ret, { operation: "lookup", target: this.#target() });
    return out;
  }

  /**
   * Writes one entry. `mode` = `noexist` fails with EEXIST on an existing key,
   * `exist` with ENOENT on a missing one. For maps of maps the value is an
   * inner map's file descriptor (u32).
   *
   * @throws {@link BpfError} E2BIG/ENOSPC with a message naming the map when
   *   it is full (or, for arrays, when the index is out of range).
   */
  update(key: ArrayBufferView, value: ArrayBufferView, mode: UpdateMode = "any"): void {
    this.#checkKey(key);
    this.#checkSize("value", value, this.valueBytes);
    const ret = this.#lib.raw.bpf_map_update_elem(this.fd, key, value, UPDATE_FLAGS[mode]);
    if (ret < 0) throw this.#updateError(-ret, "update");
  }

  /** Removes `key`; false when it was not there. Arrays cannot delete (EINVAL). */
  delete(key: ArrayBufferView): boolean {
    this.#checkKey(key);
    const ret = this.#lib.raw.bpf_map_delete_elem(this.fd, key);
    if (ret === -ERRNO.ENOENT) return false;
    this.#lib.check(ret, { operation: "delete", target: this.#target() });
    return true;
  }

  /**
   * Writes `count` entries: `keys` holds them back to back (`count × keySize`
   * bytes), `values` likewise (`count × valueBytes`). One
   * `BPF_MAP_UPDATE_BATCH` syscall (kernel 5.6+) when the map type supports
   * it; when the kernel answers EINVAL/ENOTSUPP/EOPNOTSUPP for the type
   * (devmap, cpumap and sockmap on Linux 6.18) it falls back to one update
   * per entry, and remembers.
   *
   * Not atomic: on failure the first entries stay written.
   *
   * @throws {@link InvalidInputError} when the buffer sizes disagree.
   * @throws {@link BpfBatchError} (code `BPF_ERRNO`) with `written` set.
   */
  updateBatch(keys: ArrayBufferView, values: ArrayBufferView, options: { mode?: UpdateMode } = {}): BatchResult {
    if (keys.byteLength % this.keySize !== 0) {
      throw new InvalidInputError("keys", `${keys.byteLength} bytes`, `must be a whole number of ${this.keySize}-byte keys for map "${this.name}"`);
    }
    const count = keys.byteLength / this.keySize;
    this.#checkSize("values", values, count * this.valueBytes);
    if (count === 0) return { count: 0, batched: true };
    const flags = UPDATE_FLAGS[options.mode ?? "any"];
    if (this.#batchUnsupported) return { count: this.#updateLoop(keys, values, count, flags, 0), batched: false };

    const counter: [number] = [count];
    const ret = this.#lib.raw.bpf_map_update_batch(this.fd, keys, values, counter, { sz: 24, elem_flags: flags, flags: 0 });
    if (ret >= 0) return { count, batched: true };
    const errno = -ret;
    // The kernel writes the processed count back only once it has started;
    // when it refuses up front (no batch op for the type, bad flags) the
    // count comes back as we sent it, and nothing was written.
    const written = counter[0] >= count ? 0 : counter[0];
    if ((errno === ERRNO.ENOTSUPP || errno === ERRNO.EOPNOTSUPP) && written === 0) {
      this.#batchUnsupported = true;
      return { count: this.#updateLoop(keys, values, count, flags, 0), batched: false };
    }
    if (errno === ERRNO.EINVAL && written === 0) {
      // Older kernels answer EINVAL for a type without batch ops, but so does
      // a bad first entry: a single update of it tells the two apart.
      const first = this.#updateOne(keys, values, 0, flags);
      if (first !== undefined) throw new BpfBatchError(first, 0, count);
      this.#batchUnsupported = true;
      return { count: this.#updateLoop(keys, values, count, flags, 1), batched: false };
    }
    const error = this.#updateError(errno, "batch update");
    throw error instanceof BpfError ? new BpfBatchError(error, written, count) : error;
  }

  /**
   * Every key, in the kernel's order, each as a fresh `Uint8Array`
   * (`BPF_MAP_GET_NEXT_KEY`). Yields at most `maxEntries` keys: when entries
   * are deleted concurrently, a hash walk restarts from the first key, and
   * the cap keeps that from looping.
   */
  *keys(): IterableIterator<Uint8Array> {
    let previous: Uint8Array | null = null;
    for (let i = 0; i < this.maxEntries; i++) {
      const next: Uint8Array = new Uint8Array(this.keySize);
      const ret = this.#lib.raw.bpf_map_get_next_key(this.fd, previous, next);
      if (ret === -ERRNO.ENOENT) return;
      this.#lib.check(ret, { operation: "iterate", target: this.#target() });
      yield next;
      previous = next;
    }
  }

  /** Every `[key, value]`; entries deleted during the walk are skipped. */
  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  /**
   * Pins the map at `path` (on a bpffs; see `ensurePinRoot`) so that it
   * outlives this process and can be reopened with `openPinnedMap`.
   *
   * @throws {@link BpfError} EEXIST when something is pinned there already.
   */
  pin(path: string): void {
    this.#lib.check(this.#lib.raw.bpf_obj_pin(this.fd, path), { operation: `pin at ${path}`, target: this.#target() });
  }

  /** The kernel's id of this map (stable while it exists; what maps of maps return on lookup). */
  id(): number {
    const info: Record<string, unknown> = {};
    const length: [number] = [88];
    this.#lib.check(this.#lib.raw.bpf_obj_get_info_by_fd(this.fd, info, length), { operation: "get info", target: this.#target() });
    return info.id as number;
  }

  /**
   * Closes the descriptor of a map this handle owns (the kernel frees the map
   * once nothing else holds it: no program, pin or outer map). Maps of an
   * object only become unusable; the object closes them. Idempotent.
   */
  close(): void {
    if (this.#fd < 0) return;
    if (this.#owned) closeSync(this.#fd);
    this.#fd = -1;
  }

  /** @internal Called by the owning object when it closes. */
  markClosed(): void {
    this.#fd = -1;
  }

  #target(): string {
    return `map "${this.name}"`;
  }

  #checkKey(key: ArrayBufferView): void {
    this.#checkSize("key", key, this.keySize);
  }

  #checkSize(field: string, buffer: ArrayBufferView, expected: number): void {
    if (buffer.byteLength !== expected) {
      throw new InvalidInputError(field, `${buffer.byteLength} bytes`, `must be ${expected} bytes for map "${this.name}" (${mapTypeName(this.type)})`);
    }
  }

  #updateError(errno: number, operation: string): Error {
    let detail: string | undefined;
    if (errno === ERRNO.E2BIG || errno === ERRNO.ENOSPC) {
      detail = isArrayLike(this.type)
        ? `index out of range: map "${this.name}" has ${this.maxEntries} slots`
        : `map "${this.name}" is full (max_entries ${this.maxEntries}); delete entries or raise max_entries`;
    } else if (errno === ERRNO.EBADF && isMapOfMaps(this.type)) {
      detail = "the value must be the file descriptor of an open inner map";
    } else if (errno === ERRNO.EINVAL && isMapOfMaps(this.type)) {
      detail = "the inner map must match the outer map's template (type, key, value size, max_entries)";
    }
    const context = detail === undefined ? { operation, target: this.#target() } : { operation, target: this.#target(), detail };
    return this.#lib.error(errno, context);
  }

  /** Writes entry `i`; returns the error instead of throwing so the caller decides. */
  #updateOne(keys: ArrayBufferView, values: ArrayBufferView, i: number, flags: number): BpfError | undefined {
    const key = new Uint8Array(keys.buffer, keys.byteOffset + i * this.keySize, this.keySize);
    const value = new Uint8Array(values.buffer, values.byteOffset + i * this.valueBytes, this.valueBytes);
    const ret = this.#lib.raw.bpf_map_update_elem(this.fd, key, value, flags);
    if (ret >= 0) return undefined;
    const error = this.#updateError(-ret, "update");
    if (error instanceof BpfError) return error;
    throw error;
  }

  #updateLoop(keys: ArrayBufferView, values: ArrayBufferView, count: number, flags: number, from: number): number {
    for (let i = from; i < count; i++) {
      const error = this.#updateOne(keys, values, i, flags);
      if (error) throw new BpfBatchError(error, i, count);
    }
    return count;
  }
}

/** Kernel map names: up to 15 characters of `[A-Za-z0-9_.]`. */
const MAP_NAME = /^[A-Za-z0-9_.]{0,15}$/;

/**
 * Creates a map that is not part of an object file (`BPF_MAP_CREATE`); the
 * caller owns it and must close it. For maps of maps, `layout.inner` is the
 * template; a temporary template map is created and closed again.
 *
 * @throws {@link InvalidInputError} for a bad name or size.
 * @throws {@link MissingPrivilegeError} without CAP_BPF.
 * @throws {@link BpfError} when the kernel refuses the attributes.
 */
export function createMapWith(lib: Libbpf, layout: MapLayout, name = ""): BpfMap {
  if (!MAP_NAME.test(name)) throw new InvalidInputError("name", name, "must be at most 15 characters of letters, digits, '_' and '.'");
  for (const field of ["keySize", "valueSize", "maxEntries"] as const) {
    const v = layout[field];
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidInputError(field, v, "must be an unsigned 32-bit integer");
  }
  const type = mapTypeNumber(layout.type);
  const target = `map "${name}" (${mapTypeName(type)})`;
  let template: BpfMap | undefined;
  try {
    if (isMapOfMaps(type)) {
      if (!layout.inner) throw new InvalidInputError("inner", undefined, `a ${mapTypeName(type)} map needs an inner map template`);
      template = createMapWith(lib, layout.inner, "");
    }
    const opts = {
      sz: 48, btf_fd: 0, btf_key_type_id: 0, btf_value_type_id: 0, btf_vmlinux_value_type_id: 0,
      inner_map_fd: template ? template.fd : 0, map_flags: layout.flags ?? 0, map_extra: 0, numa_node: 0, map_ifindex: 0,
    };
    const fd = lib.check(lib.raw.bpf_map_create(type, name || null, layout.keySize, layout.valueSize, layout.maxEntries, opts), { operation: "create", target });
    return new BpfMap(lib, fd, {
      name, type, keySize: layout.keySize, valueSize: layout.valueSize, maxEntries: layout.maxEntries,
      flags: layout.flags ?? 0, inner: layout.inner,
    }, true);
  } finally {
    template?.close();
  }
}

/**
 * Creates a map that is not part of an object file (`BPF_MAP_CREATE`),
 * loading libbpf first; the caller owns it and must close it. For maps of
 * maps, `layout.inner` is the template. LPM tries need
 * `flags: BPF_F_NO_PREALLOC`; it is added when missing. Needs CAP_BPF.
 *
 * @throws {@link InvalidInputError} for a bad name or size.
 * @throws {@link MissingPrivilegeError} without CAP_BPF.
 * @throws {@link BpfError} when the kernel refuses the attributes.
 * @throws {@link KernelFeatureError} when libbpf cannot be loaded.
 */
export async function createMap(layout: MapLayout, name = ""): Promise<BpfMap> {
  const lib = await loadLibbpf();
  const type = mapTypeNumber(layout.type);
  const flags = type === MAP_TYPES.lpm_trie ? (layout.flags ?? 0) | BPF_F_NO_PREALLOC : layout.flags;
  return createMapWith(lib, flags === undefined ? layout : { ...layout, flags }, name);
}
