/* Probe of libbpf's option structs: compiled for the BPF target only so that
 * clang emits their BTF. The host test checks the koffi declarations in
 * bindings/ffi/libbpf.ts against it (x86_64 and the BPF target are both LP64,
 * so sizes and offsets agree; -D__x86_64__ lets glibc's headers pick the
 * 64-bit stubs).
 */
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

struct bpf_object_open_opts probe_open_opts;
struct bpf_test_run_opts probe_test_run_opts;
struct bpf_map_batch_opts probe_map_batch_opts;
struct bpf_map_create_opts probe_map_create_opts;
struct bpf_tc_hook probe_tc_hook;
struct bpf_tc_opts probe_tc_opts;
struct bpf_xdp_attach_opts probe_xdp_attach_opts;
struct bpf_map_info probe_map_info;
