/**
 * Pinning: where maps live on the BPF filesystem so that they survive a
 * restart of the agent, and reopening them by path.
 *
 * Pinned maps are the datapath's state across control-plane restarts (the
 * XDP program keeps using them while the agent is down). After a restart the
 * agent reopens each by path and checks that the kernel's attributes still
 * match the layout it expects, rather than writing into a map of another
 * shape left behind by an older version.
 *
 * @module
 */
import { closeSync, existsSync, mkdirSync, readFileSync, statSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { InvalidInputError } from "../errors.js";
import { KernelFeatureError, LayoutMismatchError } from "./errors.js";
import { loadLibbpf } from "./libbpf.js";
import { BpfMap, type MapLayout } from "./map.js";
import { isMapOfMaps, mapTypeName, mapTypeNumber } from "./map-types.js";

/** Where wasmplane pins by default: its own directory under the conventional bpffs mount. */
export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/wasmplane";

/** `BPF_FS_MAGIC` from `linux/magic.h`: the f_type statfs reports for a bpffs. */
const BPF_FS_MAGIC = 0xcafe4a11;

/** Whether `path` (which must exist) is on a BPF filesystem. */
export function isOnBpffs(path: string): boolean {
  return statfsSync(path).type === BPF_FS_MAGIC;
}

/**
 * Makes sure `dir` is a directory on a bpffs, creating it (and parents) when
 * missing. Does not mount anything: mounting is the host's decision.
 *
 * @returns the absolute directory.
 * @throws {@link KernelFeatureError} (feature `bpffs`) when the directory is
 *   not on a BPF filesystem, with the mount command to run.
 * @throws {@link InvalidInputError} when `dir` exists and is not a directory.
 */
export function ensurePinRoot(dir: string = DEFAULT_PIN_ROOT): string {
  const absolute = resolve(dir);
  let probe = absolute;
  while (!existsSync(probe)) probe = dirname(probe);
  if (!isOnBpffs(probe)) {
    throw new KernelFeatureError(
      "bpffs",
      `${absolute} is not on a BPF filesystem (${probe} is not a bpffs), so maps cannot be pinned there; mount one first: mount -t bpf bpf /sys/fs/bpf`,
    );
  }
  if (probe === absolute) {
    if (!statSync(absolute).isDirectory()) throw new InvalidInputError("pinRoot", absolute, "exists and is not a directory");
  } else {
    mkdirSync(absolute, { recursive: true, mode: 0o700 });
  }
  return absolute;
}

/** The attributes `/proc/self/fdinfo` reports for a BPF map fd, or undefined for another kind of fd. */
function mapFdInfo(fd: number): { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number } | undefined {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(text);
    return m ? Number.parseInt(m[1]!, name === "map_flags" ? 16 : 10) : undefined;
  };
  const type = field("map_type");
  if (type === undefined) return undefined;
  return { type, keySize: field("key_size") ?? 0, valueSize: field("value_size") ?? 0, maxEntries: field("max_entries") ?? 0, flags: field("map_flags") ?? 0 };
}

/**
 * Opens a map pinned at `path` (`BPF_OBJ_GET`) and checks it against
 * `layout`: type, key size, value size, capacity and, when given, flags.
 * The inner template of a map of maps cannot be read back from the kernel;
 * it is taken from `layout.inner` on trust (a mismatching inner map is
 * refused by the kernel at swap time with EINVAL). The caller owns the handle.
 *
 * Open from the root network namespace: `ip netns exec` mounts a fresh /sys,
 * where the pin is not visible.
 *
 * @throws {@link BpfError} ENOENT when nothing is pinned there.
 * @throws {@link LayoutMismatchError} (code `LAYOUT_MISMATCH`) when the pinned
 *   object is not a map or its attributes differ; the handle is closed.
 */
export async function openPinnedMap(path: string, layout: MapLayout, name?: string): Promise<BpfMap> {
  const lib = await loadLibbpf();
  const fd = lib.check(lib.raw.bpf_obj_get(path), { operation: "open pinned object", target: path });
  try {
    const actual = mapFdInfo(fd);
    if (!actual) throw new LayoutMismatchError(`pinned object ${path}`, ["it is not a map"]);
    const expected = { type: mapTypeNumber(layout.type), keySize: layout.keySize, valueSize: layout.valueSize, maxEntries: layout.maxEntries, flags: layout.flags };
    const differences: string[] = [];
    if (actual.type !== expected.type) differences.push(`type is ${mapTypeName(actual.type)}, expected ${mapTypeName(expected.type)}`);
    for (const field of ["keySize", "valueSize", "maxEntries", "flags"] as const) {
      const want = expected[field];
      if (want !== undefined && actual[field] !== want) differences.push(`${field} is ${actual[field]}, expected ${want}`);
    }
    if (isMapOfMaps(actual.type) && !layout.inner) differences.push("a map of maps needs layout.inner (its inner template)");
    if (differences.length > 0) throw new LayoutMismatchError(`pinned map ${path}`, differences);
    const info: Record<string, unknown> = {};
    lib.check(lib.raw.bpf_obj_get_info_by_fd(fd, info, [88]), { operation: "get info", target: path });
    return new BpfMap(lib, fd, {
      name: name ?? (info.name as string), type: actual.type, keySize: actual.keySize, valueSize: actual.valueSize,
      maxEntries: actual.maxEntries, flags: actual.flags, inner: layout.inner,
    }, true);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
