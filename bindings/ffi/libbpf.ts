/**
 * koffi declarations of the system libbpf (`libbpf.so.1`, API of libbpf 1.1)
 * and the three libc functions the host needs.
 *
 * This file never imports koffi at run time: `src/bpf/libbpf.ts`, the one
 * door to the kernel, imports koffi with a dynamic `import()` and hands it to
 * {@link bindLibbpf}. A static import here would be hoisted to the top of the
 * bundle, loading koffi with the package.
 *
 * Struct layouts follow libbpf 1.1's headers byte for byte; the table of sizes
 * and why `sz` matters are in src/bpf/ffi-types.ts. koffi computes offsets
 * with the C ABI; explicit `_unused`/`_pad` members stand for libbpf's unnamed
 * bitfield holes (`__u32 :32`), and trailing `size_t :0` padding falls out of
 * the 8-byte alignment that `size_t sz` gives every struct.
 *
 * Pointers are `bigint` in koffi 3 (`null` for NULL). Typed arrays passed as
 * `void *` arguments reach C without a copy and must not be kept by C after
 * the call returns; memory that libbpf keeps across calls (the verifier log
 * buffer from open to load) and pointers inside option structs (test-run
 * buffers) are allocated with `koffi.alloc`.
 *
 * @module
 */
import type koffiModule from "koffi";
import { STRUCT_SIZES, type LibbpfBindings, type Pointer } from "../../src/bpf/ffi-types.js";

type Koffi = typeof koffiModule;

let declared = false;

/** Declares the struct types once per process (koffi's type names are global). */
function declareTypes(koffi: Koffi): void {
  if (declared) return;
  koffi.opaque("bpf_object");
  koffi.opaque("bpf_program");
  koffi.opaque("bpf_map");
  koffi.struct("bpf_object_open_opts", {
    sz: "size_t",
    object_name: "const char *",
    relaxed_maps: "bool",
    pin_root_path: "const char *",
    _unused_attach_prog_fd: "uint32_t",
    kconfig: "const char *",
    btf_custom_path: "const char *",
    kernel_log_buf: "void *",
    kernel_log_size: "size_t",
    kernel_log_level: "uint32_t",
  });
  koffi.struct("bpf_test_run_opts", {
    sz: "size_t",
    data_in: "void *",
    data_out: "void *",
    data_size_in: "uint32_t",
    data_size_out: "uint32_t",
    ctx_in: "void *",
    ctx_out: "void *",
    ctx_size_in: "uint32_t",
    ctx_size_out: "uint32_t",
    retval: "uint32_t",
    repeat: "int",
    duration: "uint32_t",
    flags: "uint32_t",
    cpu: "uint32_t",
    batch_size: "uint32_t",
  });
  koffi.struct("bpf_map_batch_opts", { sz: "size_t", elem_flags: "uint64_t", flags: "uint64_t" });
  koffi.struct("bpf_map_create_opts", {
    sz: "size_t",
    btf_fd: "uint32_t",
    btf_key_type_id: "uint32_t",
    btf_value_type_id: "uint32_t",
    btf_vmlinux_value_type_id: "uint32_t",
    inner_map_fd: "uint32_t",
    map_flags: "uint32_t",
    map_extra: "uint64_t",
    numa_node: "uint32_t",
    map_ifindex: "uint32_t",
  });
  koffi.struct("bpf_tc_hook", { sz: "size_t", ifindex: "int", attach_point: "int", parent: "uint32_t" });
  koffi.struct("bpf_tc_opts", {
    sz: "size_t", prog_fd: "int", flags: "uint32_t", prog_id: "uint32_t", handle: "uint32_t", priority: "uint32_t",
  });
  koffi.struct("bpf_xdp_attach_opts", { sz: "size_t", old_prog_fd: "int" });
  koffi.struct("bpf_map_info", {
    type: "uint32_t",
    id: "uint32_t",
    key_size: "uint32_t",
    value_size: "uint32_t",
    max_entries: "uint32_t",
    map_flags: "uint32_t",
    name: koffi.array("char", 16, "String"),
    ifindex: "uint32_t",
    btf_vmlinux_value_type_id: "uint32_t",
    netns_dev: "uint64_t",
    netns_ino: "uint64_t",
    btf_id: "uint32_t",
    btf_key_type_id: "uint32_t",
    btf_value_type_id: "uint32_t",
    _pad: "uint32_t",
    map_extra: "uint64_t",
  });
  // libbpf_print_fn_t: the va_list travels as a pointer (x86_64 SysV and
  // aarch64 both pass it by reference), handed straight to vsnprintf.
  koffi.proto("int wasmplane_libbpf_print_fn(int level, void *fmt, void *args)");
  for (const [name, size] of Object.entries(STRUCT_SIZES)) {
    const actual = koffi.sizeof(name);
    if (actual !== size) throw new Error(`koffi lays out struct ${name} in ${actual} bytes, libbpf 1.1 uses ${size}`);
  }
  declared = true;
}

/**
 * Opens `libbpf.so.1` (or `path`) and libc through `koffi` and declares the
 * functions.
 *
 * @throws Error from koffi when a library or a symbol is missing, or when
 *   koffi lays a struct out in another size than libbpf 1.1 does.
 */
export function bindLibbpf(koffi: Koffi, path = "libbpf.so.1"): LibbpfBindings {
  declareTypes(koffi);
  const lib = koffi.load(path);
  const libc = koffi.load("libc.so.6");
  const f = (proto: string) => lib.func(proto);

  const vsnprintf = libc.func("int vsnprintf(void *buf, size_t size, void *fmt, void *args)");
  const setPrint = f("void *libbpf_set_print(wasmplane_libbpf_print_fn *fn)");
  const versionString = f("const char *libbpf_version_string(void)");
  // One print callback for the process, kept alive by this closure.
  let printCallback: bigint | undefined;
  const printBuffer = Buffer.alloc(8192);

  const bindings: LibbpfBindings = {
    version: versionString() as string,

    bpf_object__open_file: f("bpf_object *bpf_object__open_file(const char *path, const bpf_object_open_opts *opts)"),
    bpf_object__load: f("int bpf_object__load(bpf_object *obj)"),
    bpf_object__close: f("void bpf_object__close(bpf_object *obj)"),
    bpf_object__name: f("const char *bpf_object__name(const bpf_object *obj)"),
    bpf_object__next_program: f("bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prev)"),
    bpf_object__next_map: f("bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *prev)"),
    bpf_program__name: f("const char *bpf_program__name(const bpf_program *prog)"),
    bpf_program__section_name: f("const char *bpf_program__section_name(const bpf_program *prog)"),
    bpf_program__fd: f("int bpf_program__fd(const bpf_program *prog)"),
    bpf_program__type: f("int bpf_program__type(const bpf_program *prog)"),
    bpf_map__name: f("const char *bpf_map__name(const bpf_map *map)"),
    bpf_map__fd: f("int bpf_map__fd(const bpf_map *map)"),
    bpf_map__type: f("int bpf_map__type(const bpf_map *map)"),
    bpf_map__key_size: f("uint32_t bpf_map__key_size(const bpf_map *map)"),
    bpf_map__value_size: f("uint32_t bpf_map__value_size(const bpf_map *map)"),
    bpf_map__max_entries: f("uint32_t bpf_map__max_entries(const bpf_map *map)"),
    bpf_map__map_flags: f("uint32_t bpf_map__map_flags(const bpf_map *map)"),
    bpf_map__inner_map: f("bpf_map *bpf_map__inner_map(bpf_map *map)"),
    bpf_map__pin_path: f("const char *bpf_map__pin_path(const bpf_map *map)"),
    bpf_map__set_pin_path: f("int bpf_map__set_pin_path(bpf_map *map, const char *path)"),
    bpf_map__is_internal: f("bool bpf_map__is_internal(const bpf_map *map)"),

    bpf_map_create: f("int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const bpf_map_create_opts *opts)"),
    bpf_map_lookup_elem: f("int bpf_map_lookup_elem(int fd, const void *key, void *value)"),
    bpf_map_update_elem: f("int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)"),
    bpf_map_delete_elem: f("int bpf_map_delete_elem(int fd, const void *key)"),
    bpf_map_get_next_key: f("int bpf_map_get_next_key(int fd, const void *key, void *next_key)"),
    bpf_map_update_batch: f("int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)"),
    bpf_obj_pin: f("int bpf_obj_pin(int fd, const char *path)"),
    bpf_obj_get: f("int bpf_obj_get(const char *path)"),
    bpf_obj_get_info_by_fd: f("int bpf_obj_get_info_by_fd(int fd, _Inout_ bpf_map_info *info, _Inout_ uint32_t *len)"),
    bpf_obj_get_info_by_fd_bytes: f("int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *len)"),
    bpf_enable_stats: f("int bpf_enable_stats(int type)"),

    bpf_prog_test_run_opts: f("int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)"),
    bpf_xdp_attach: f("int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const bpf_xdp_attach_opts *opts)"),
    bpf_xdp_detach: f("int bpf_xdp_detach(int ifindex, uint32_t flags, const bpf_xdp_attach_opts *opts)"),
    bpf_xdp_query_id: f("int bpf_xdp_query_id(int ifindex, int flags, _Out_ uint32_t *prog_id)"),
    bpf_tc_hook_create: f("int bpf_tc_hook_create(bpf_tc_hook *hook)"),
    bpf_tc_hook_destroy: f("int bpf_tc_hook_destroy(bpf_tc_hook *hook)"),
    bpf_tc_attach: f("int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)"),
    bpf_tc_detach: f("int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)"),

    libbpf_strerror: f("int libbpf_strerror(int err, void *buf, size_t size)"),
    libbpf_num_possible_cpus: f("int libbpf_num_possible_cpus(void)"),
    libbpf_bpf_map_type_str: f("const char *libbpf_bpf_map_type_str(int type)"),
    libbpf_bpf_prog_type_str: f("const char *libbpf_bpf_prog_type_str(int type)"),
    if_nametoindex: libc.func("unsigned int if_nametoindex(const char *name)"),
    if_indextoname: libc.func("void *if_indextoname(unsigned int index, void *name)"),

    errno: () => koffi.errno(),
    setPrintHandler(handler, wanted) {
      const callback = koffi.register((level: number, fmt: bigint, args: bigint) => {
        if (!wanted(level)) return 0;
        const n = vsnprintf(printBuffer, printBuffer.length, fmt, args) as number;
        const end = Math.max(0, Math.min(n, printBuffer.length - 1));
        handler(level, printBuffer.toString("utf8", 0, end));
        return 0;
      }, koffi.pointer("wasmplane_libbpf_print_fn"));
      setPrint(callback);
      if (printCallback !== undefined) koffi.unregister(printCallback);
      printCallback = callback;
    },
    alloc: (bytes) => koffi.alloc("uint8_t", bytes) as Pointer,
    free: (ptr) => koffi.free(ptr),
    view: (ptr, bytes) => new Uint8Array(koffi.view(ptr, bytes)),
    structLayout(name) {
      const type = koffi.type(name);
      const members: Record<string, { offset: number; size: number }> = {};
      for (const m of Object.values(type.members ?? {})) members[m.name] = { offset: m.offset, size: m.type.size };
      return { size: type.size, members };
    },
  };
  return bindings;
}
