/**
 * The JavaScript-side shape of the libbpf binding: the option structs as
 * koffi reads them from objects, and the functions with their argument types.
 *
 * Declared here, in src/, rather than next to the koffi declarations in
 * bindings/ffi/libbpf.ts, because the build compiles only src/ (rootDir) and
 * a type import would pull the bindings file into it. The bindings implement
 * {@link LibbpfBindings}; `src/bpf/libbpf.ts` loads them at run time.
 *
 * Struct sizes (libbpf 1.1 headers, x86_64 / LP64), checked when the binding
 * is created and, in test/bpf-host.test.ts, against the BTF clang emits for
 * `<bpf/libbpf.h>` (bpf/test/libbpf_layout.c):
 *
 * | struct                 | bytes | notes                                          |
 * |------------------------|------:|------------------------------------------------|
 * | bpf_object_open_opts   |    80 | 4-byte hole at 32 (removed attach_prog_fd)     |
 * | bpf_test_run_opts      |    80 | retval, duration, data/ctx_size_out are output |
 * | bpf_map_batch_opts     |    24 |                                                |
 * | bpf_map_create_opts    |    48 | inner_map_fd at 24                             |
 * | bpf_tc_hook            |    24 | tail padded to 8 by `size_t :0`                |
 * | bpf_tc_opts            |    32 | prog_id, handle, priority are output of attach |
 * | bpf_xdp_attach_opts    |    16 |                                                |
 * | bpf_map_info (uapi)    |    88 | 4-byte hole at 80 before map_extra             |
 *
 * Every libbpf option struct starts with `size_t sz`: libbpf reads only the
 * first `sz` bytes and refuses a struct whose unknown tail is not zero, so
 * `sz` is always the size above, never a larger one.
 *
 * Pure module: types and one constant.
 *
 * @module
 */

/** Sizes of the structs bindings/ffi/libbpf.ts declares, in bytes (libbpf 1.1, LP64). */
export const STRUCT_SIZES = {
  bpf_object_open_opts: 80,
  bpf_test_run_opts: 80,
  bpf_map_batch_opts: 24,
  bpf_map_create_opts: 48,
  bpf_tc_hook: 24,
  bpf_tc_opts: 32,
  bpf_xdp_attach_opts: 16,
  bpf_map_info: 88,
} as const;

/** Name of a struct declared here. */
export type StructName = keyof typeof STRUCT_SIZES;

/** A native pointer as koffi 3 returns it. */
export type Pointer = bigint;

/** Memory koffi passes to C as a pointer to its bytes (no copy). */
export type Bytes = ArrayBufferView;

/** `struct bpf_object_open_opts` as koffi reads it from a JS object. */
export interface OpenOpts {
  sz: number;
  object_name: string | null;
  relaxed_maps: boolean;
  pin_root_path: string | null;
  /** `__u32 :32`, the removed attach_prog_fd: always 0. */
  _unused_attach_prog_fd: number;
  kconfig: string | null;
  btf_custom_path: string | null;
  kernel_log_buf: Pointer | null;
  kernel_log_size: number;
  kernel_log_level: number;
}

/** `struct bpf_test_run_opts`; the fields marked out are written back by the call. */
export interface TestRunOpts {
  sz: number;
  data_in: Pointer | null;
  data_out: Pointer | null;
  data_size_in: number;
  /** in: capacity of data_out; out: bytes written. */
  data_size_out: number;
  ctx_in: Pointer | null;
  ctx_out: Pointer | null;
  ctx_size_in: number;
  /** in: capacity of ctx_out; out: bytes written. */
  ctx_size_out: number;
  /** out: the program's return value. */
  retval: number;
  repeat: number;
  /** out: mean duration of one run, ns. */
  duration: number;
  flags: number;
  cpu: number;
  batch_size: number;
}

/** `struct bpf_map_batch_opts`. */
export interface MapBatchOpts {
  sz: number;
  elem_flags: number | bigint;
  flags: number | bigint;
}

/** `struct bpf_map_create_opts`. */
export interface MapCreateOpts {
  sz: number;
  btf_fd: number;
  btf_key_type_id: number;
  btf_value_type_id: number;
  btf_vmlinux_value_type_id: number;
  inner_map_fd: number;
  map_flags: number;
  map_extra: number | bigint;
  numa_node: number;
  map_ifindex: number;
}

/** `struct bpf_tc_hook`. */
export interface TcHook {
  sz: number;
  ifindex: number;
  /** BPF_TC_INGRESS = 1, BPF_TC_EGRESS = 2, both = 3 (hook create/destroy only). */
  attach_point: number;
  parent: number;
}

/** `struct bpf_tc_opts`. */
export interface TcOpts {
  sz: number;
  prog_fd: number;
  flags: number;
  prog_id: number;
  handle: number;
  priority: number;
}

/** `struct bpf_xdp_attach_opts`. */
export interface XdpAttachOpts {
  sz: number;
  old_prog_fd: number;
}

/** `struct bpf_map_info` (kernel uapi), as filled by `bpf_obj_get_info_by_fd`. */
export interface MapInfo {
  type: number;
  id: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  name: string;
  ifindex: number;
  btf_vmlinux_value_type_id: number;
  netns_dev: number | bigint;
  netns_ino: number | bigint;
  btf_id: number;
  btf_key_type_id: number;
  btf_value_type_id: number;
  _pad: number;
  map_extra: number | bigint;
}

/** libbpf's print callback: level 0 = warn, 1 = info, 2 = debug; `text` is formatted. */
export type PrintHandler = (level: number, text: string) => void;

/** The functions of libbpf and libc wasmplane calls, with JS-side types. */
export interface LibbpfBindings {
  /** `libbpf_version_string()`, e.g. "v1.1". */
  readonly version: string;

  // ---- objects and programs ------------------------------------------------
  bpf_object__open_file(path: string, opts: OpenOpts): Pointer | null;
  bpf_object__load(obj: Pointer): number;
  bpf_object__close(obj: Pointer): void;
  bpf_object__name(obj: Pointer): string;
  bpf_object__next_program(obj: Pointer, prev: Pointer | null): Pointer | null;
  bpf_object__next_map(obj: Pointer, prev: Pointer | null): Pointer | null;
  bpf_program__name(prog: Pointer): string;
  bpf_program__section_name(prog: Pointer): string;
  bpf_program__fd(prog: Pointer): number;
  bpf_program__type(prog: Pointer): number;
  bpf_map__name(map: Pointer): string;
  bpf_map__fd(map: Pointer): number;
  bpf_map__type(map: Pointer): number;
  bpf_map__key_size(map: Pointer): number;
  bpf_map__value_size(map: Pointer): number;
  bpf_map__max_entries(map: Pointer): number;
  bpf_map__map_flags(map: Pointer): number;
  bpf_map__inner_map(map: Pointer): Pointer | null;
  bpf_map__pin_path(map: Pointer): string | null;
  /** Before load: where to pin the map; null to not pin it. */
  bpf_map__set_pin_path(map: Pointer, path: string | null): number;
  bpf_map__is_internal(map: Pointer): boolean;

  // ---- maps (fd based) -----------------------------------------------------
  bpf_map_create(type: number, name: string | null, keySize: number, valueSize: number, maxEntries: number, opts: MapCreateOpts | null): number;
  bpf_map_lookup_elem(fd: number, key: Bytes, value: Bytes): number;
  bpf_map_update_elem(fd: number, key: Bytes, value: Bytes, flags: number): number;
  bpf_map_delete_elem(fd: number, key: Bytes): number;
  bpf_map_get_next_key(fd: number, key: Bytes | null, next: Bytes): number;
  /** `count` is in/out: entries to write, then entries written (also on error). */
  bpf_map_update_batch(fd: number, keys: Bytes, values: Bytes, count: [number], opts: MapBatchOpts | null): number;
  bpf_obj_pin(fd: number, path: string): number;
  bpf_obj_get(path: string): number;
  /** `info` and `len` are in/out. */
  bpf_obj_get_info_by_fd(fd: number, info: Partial<MapInfo>, len: [number]): number;
  /**
   * The same call into raw bytes, for info structs not declared here (e.g. `struct bpf_prog_info`,
   * 232 bytes in kernel 6.x uapi: run_time_ns at 192, run_cnt at 200). `len` is in/out.
   */
  bpf_obj_get_info_by_fd_bytes(fd: number, info: Bytes, len: [number]): number;
  /**
   * `BPF_ENABLE_STATS` (kernel 5.8+; type 0 = BPF_STATS_RUN_TIME): a file descriptor; while it is
   * open the kernel counts each program's runs and run time (bpf_prog_info run_cnt, run_time_ns).
   * Close it with `fs.closeSync`. -errno on failure.
   */
  bpf_enable_stats(type: number): number;

  // ---- test run and attach -------------------------------------------------
  bpf_prog_test_run_opts(progFd: number, opts: TestRunOpts): number;
  bpf_xdp_attach(ifindex: number, progFd: number, flags: number, opts: XdpAttachOpts | null): number;
  bpf_xdp_detach(ifindex: number, flags: number, opts: XdpAttachOpts | null): number;
  bpf_xdp_query_id(ifindex: number, flags: number, progId: [number]): number;
  bpf_tc_hook_create(hook: TcHook): number;
  bpf_tc_hook_destroy(hook: TcHook): number;
  bpf_tc_attach(hook: TcHook, opts: TcOpts): number;
  bpf_tc_detach(hook: TcHook, opts: TcOpts): number;

  // ---- misc ----------------------------------------------------------------
  libbpf_strerror(err: number, buf: Bytes, size: number): number;
  libbpf_num_possible_cpus(): number;
  libbpf_bpf_map_type_str(type: number): string | null;
  libbpf_bpf_prog_type_str(type: number): string | null;
  /** libc `if_nametoindex`: 0 when there is no such interface in this network namespace. */
  if_nametoindex(name: string): number;
  /** libc `if_indextoname` into a 16-byte buffer: NULL (null) when there is no such index. */
  if_indextoname(index: number, name: Bytes): Pointer | null;

  /** errno as the last native call left it (libbpf's pointer-returning functions report failure there). */
  errno(): number;
  /**
   * Install `handler` as libbpf's print function (process-wide; replaces
   * stderr output). Messages of a level `wanted` rejects are not even
   * formatted: libbpf prints dozens of debug lines per object.
   */
  setPrintHandler(handler: PrintHandler, wanted: (level: number) => boolean): void;
  /** Native memory that stays put until {@link LibbpfBindings.free}. */
  alloc(bytes: number): Pointer;
  free(ptr: Pointer): void;
  /** A zero-copy view of native memory. */
  view(ptr: Pointer, bytes: number): Uint8Array;
  /** koffi's layout of a declared struct: size and member offsets, for the layout tests. */
  structLayout(name: StructName): { size: number; members: Record<string, { offset: number; size: number }> };
}
