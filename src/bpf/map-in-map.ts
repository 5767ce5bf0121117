/**
 * Maps of maps: one inner array per service (a Maglev table, a backend
 * list), swapped into an outer hash-of-maps in one step.
 *
 * Why batches: replacing an inner map with a single `BPF_MAP_UPDATE_ELEM` on
 * a hash-of-maps waits for an RCU grace period before it returns (the kernel
 * must know no program still reads the old inner map), about 11 ms each on
 * the reference machine, so 1,000 services one by one take seconds. One
 * `BPF_MAP_UPDATE_BATCH` over the outer map pays that wait once for the whole
 * batch. Measured figures are in docs/bpf-host.md.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { u32 } from "./codec.js";
import { LayoutMismatchError } from "./errors.js";
import { createMapWith, type BatchResult, type BpfMap, type MapLayout } from "./map.js";
import { isMapOfMaps, mapTypeName, mapTypeNumber } from "./map-types.js";

/** One swap: the outer key and the inner map to store under it. */
export interface InnerMapSwap {
  /** Outer map key, `outer.keySize` bytes. */
  key: ArrayBufferView;
  /** An open inner map that matches the outer map's template. */
  inner: BpfMap;
}

function templateOf(outer: BpfMap): MapLayout {
  if (!isMapOfMaps(outer.type)) throw new InvalidInputError("outer", outer.name, `must be an array_of_maps or hash_of_maps, not ${mapTypeName(outer.type)}`);
  if (!outer.inner) throw new InvalidInputError("outer", outer.name, "has no known inner map template (pass layout.inner when opening it)");
  return outer.inner;
}

/**
 * Creates an inner map shaped like `outer`'s template (`BPF_MAP_CREATE`).
 * The caller owns it: close it once it is in the outer map (the outer map
 * keeps it alive) or when it is no longer wanted.
 *
 * @throws {@link InvalidInputError} when `outer` is not a map of maps with a known template.
 * @throws {@link BpfError} / {@link MissingPrivilegeError} from the kernel.
 */
export function createInnerMap(outer: BpfMap, name = ""): BpfMap {
  return createMapWith(outer.libbpf, templateOf(outer), name);
}

/** Whether an inner map matches the template: the kernel refuses the swap with EINVAL otherwise. */
function differencesFromTemplate(inner: BpfMap, template: MapLayout): string[] {
  const differences: string[] = [];
  const type = mapTypeNumber(template.type);
  if (inner.type !== type) differences.push(`type is ${mapTypeName(inner.type)}, template ${mapTypeName(type)}`);
  if (inner.keySize !== template.keySize) differences.push(`keySize is ${inner.keySize}, template ${template.keySize}`);
  if (inner.valueSize !== template.valueSize) differences.push(`valueSize is ${inner.valueSize}, template ${template.valueSize}`);
  if (inner.maxEntries !== template.maxEntries) differences.push(`maxEntries is ${inner.maxEntries}, template ${template.maxEntries}`);
  return differences;
}

/**
 * Stores every `swaps[i].inner` under `swaps[i].key` in `outer` with one
 * `BPF_MAP_UPDATE_BATCH` (kernel 5.6+): one RCU grace period for the whole
 * batch instead of one per swap. Programs see each key switch from the old
 * inner map to the new one atomically; keys switch one after the other.
 * Everything is validated before the syscall; a kernel failure part way
 * leaves the first entries swapped (see {@link BpfBatchError}).
 *
 * @throws {@link InvalidInputError} for a wrong key size, a closed inner map or a duplicate key.
 * @throws {@link LayoutMismatchError} when an inner map does not match the template.
 * @throws {@link BpfBatchError} when the kernel fails part way.
 */
export function swapInnerMaps(outer: BpfMap, swaps: readonly InnerMapSwap[]): BatchResult {
  const template = templateOf(outer);
  const keys = new Uint8Array(swaps.length * outer.keySize);
  const fds = new Uint32Array(swaps.length);
  const seen = new Set<string>();
  swaps.forEach((swap, i) => {
    const { key, inner } = swap;
    if (key.byteLength !== outer.keySize) throw new InvalidInputError(`swaps[${i}].key`, `${key.byteLength} bytes`, `must be ${outer.keySize} bytes for map "${outer.name}"`);
    if (inner.closed) throw new InvalidInputError(`swaps[${i}].inner`, inner.name, "is closed");
    const differences = differencesFromTemplate(inner, template);
    if (differences.length > 0) throw new LayoutMismatchError(`swaps[${i}].inner (map "${inner.name}") against the template of "${outer.name}"`, differences);
    const bytes = new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
    // Duplicate keys in one batch: only the last would stay, silently.
    const id = Buffer.from(bytes).toString("hex");
    if (seen.has(id)) throw new InvalidInputError(`swaps[${i}].key`, id, "appears twice in one batch");
    seen.add(id);
    keys.set(bytes, i * outer.keySize);
    fds[i] = inner.fd;
  });
  return outer.updateBatch(keys, fds);
}

/** The id of the inner map stored under `key` (what the kernel returns for a map of maps), or undefined. */
export function innerMapId(outer: BpfMap, key: ArrayBufferView): number | undefined {
  const value = outer.lookup(key);
  return value && u32.decode(value);
}
