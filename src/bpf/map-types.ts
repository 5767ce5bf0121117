/**
 * Map types and update flags of the kernel ABI (`enum bpf_map_type`,
 * `BPF_ANY`/`BPF_NOEXIST`/`BPF_EXIST` in `linux/bpf.h`). The numbers are
 * uapi: the kernel never renumbers them. Pure module, no koffi.
 *
 * @module
 */

/** `enum bpf_map_type` values by the lower-case name libbpf prints. */
export const MAP_TYPES = {
  /** BPF_MAP_TYPE_HASH */
  hash: 1,
  /** BPF_MAP_TYPE_ARRAY */
  array: 2,
  /** BPF_MAP_TYPE_PROG_ARRAY */
  prog_array: 3,
  /** BPF_MAP_TYPE_PERF_EVENT_ARRAY */
  perf_event_array: 4,
  /** BPF_MAP_TYPE_PERCPU_HASH */
  percpu_hash: 5,
  /** BPF_MAP_TYPE_PERCPU_ARRAY */
  percpu_array: 6,
  /** BPF_MAP_TYPE_STACK_TRACE */
  stack_trace: 7,
  /** BPF_MAP_TYPE_CGROUP_ARRAY */
  cgroup_array: 8,
  /** BPF_MAP_TYPE_LRU_HASH */
  lru_hash: 9,
  /** BPF_MAP_TYPE_LRU_PERCPU_HASH */
  lru_percpu_hash: 10,
  /** BPF_MAP_TYPE_LPM_TRIE */
  lpm_trie: 11,
  /** BPF_MAP_TYPE_ARRAY_OF_MAPS */
  array_of_maps: 12,
  /** BPF_MAP_TYPE_HASH_OF_MAPS */
  hash_of_maps: 13,
  /** BPF_MAP_TYPE_DEVMAP */
  devmap: 14,
  /** BPF_MAP_TYPE_SOCKMAP */
  sockmap: 15,
  /** BPF_MAP_TYPE_CPUMAP */
  cpumap: 16,
  /** BPF_MAP_TYPE_XSKMAP */
  xskmap: 17,
  /** BPF_MAP_TYPE_SOCKHASH */
  sockhash: 18,
  /** BPF_MAP_TYPE_CGROUP_STORAGE */
  cgroup_storage: 19,
  /** BPF_MAP_TYPE_REUSEPORT_SOCKARRAY */
  reuseport_sockarray: 20,
  /** BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE */
  percpu_cgroup_storage: 21,
  /** BPF_MAP_TYPE_QUEUE */
  queue: 22,
  /** BPF_MAP_TYPE_STACK */
  stack: 23,
  /** BPF_MAP_TYPE_SK_STORAGE */
  sk_storage: 24,
  /** BPF_MAP_TYPE_DEVMAP_HASH */
  devmap_hash: 25,
  /** BPF_MAP_TYPE_STRUCT_OPS */
  struct_ops: 26,
  /** BPF_MAP_TYPE_RINGBUF */
  ringbuf: 27,
  /** BPF_MAP_TYPE_INODE_STORAGE */
  inode_storage: 28,
  /** BPF_MAP_TYPE_TASK_STORAGE */
  task_storage: 29,
  /** BPF_MAP_TYPE_BLOOM_FILTER */
  bloom_filter: 30,
} as const;

/** Name of a map type. */
export type MapTypeName = keyof typeof MAP_TYPES;

/** Types whose values hold one slot per possible CPU (each rounded up to 8 bytes). */
const PER_CPU = new Set<number>([MAP_TYPES.percpu_hash, MAP_TYPES.percpu_array, MAP_TYPES.lru_percpu_hash, MAP_TYPES.percpu_cgroup_storage]);

/** Types whose values are other maps (userspace writes an fd, reads back an id). */
const OF_MAPS = new Set<number>([MAP_TYPES.array_of_maps, MAP_TYPES.hash_of_maps]);

/** Types indexed by a u32 below max_entries, where E2BIG means "index out of range", not "full". */
const ARRAY_LIKE = new Set<number>([MAP_TYPES.array, MAP_TYPES.percpu_array, MAP_TYPES.array_of_maps, MAP_TYPES.prog_array, MAP_TYPES.devmap, MAP_TYPES.cpumap, MAP_TYPES.xskmap]);

/** The numeric type of a name or number. */
export function mapTypeNumber(type: MapTypeName | number): number {
  return typeof type === "number" ? type : MAP_TYPES[type];
}

/** The name of a numeric map type, or `type <n>` for one this table does not know. */
export function mapTypeName(type: number): string {
  for (const [name, value] of Object.entries(MAP_TYPES)) if (value === type) return name;
  return `type ${type}`;
}

/** Whether values of this type are per CPU. */
export function isPerCpu(type: number): boolean {
  return PER_CPU.has(type);
}

/** Whether values of this type are maps. */
export function isMapOfMaps(type: number): boolean {
  return OF_MAPS.has(type);
}

/** Whether this type is indexed like an array. */
export function isArrayLike(type: number): boolean {
  return ARRAY_LIKE.has(type);
}

/** Update flags (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`) by intent. */
export const UPDATE_FLAGS = {
  /** BPF_ANY: create or replace. */
  any: 0,
  /** BPF_NOEXIST: create only; EEXIST when the key is there. */
  noexist: 1,
  /** BPF_EXIST: replace only; ENOENT when the key is missing. */
  exist: 2,
} as const;

/** When an update may happen: always, only for a new key, only for an existing key. */
export type UpdateMode = keyof typeof UPDATE_FLAGS;

/** `BPF_F_NO_PREALLOC`, required by LPM tries. */
export const BPF_F_NO_PREALLOC = 1;
