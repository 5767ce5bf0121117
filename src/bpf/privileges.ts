/**
 * Can this process use eBPF? Answered by doing the smallest real thing:
 * loading libbpf and creating (then closing) a one-entry array map.
 *
 * Asking the kernel beats reading capability bits: CAP_BPF, CAP_SYS_ADMIN,
 * `kernel.unprivileged_bpf_disabled`, LSMs and seccomp all have a say, and
 * only the syscall knows their sum.
 *
 * @module
 */
import { WasmplaneError, type ErrorCode } from "../errors.js";
import { loadLibbpf } from "./libbpf.js";
import { createMapWith } from "./map.js";

/** {@link canUseBpf}'s yes. */
export interface BpfAvailable {
  /** Yes. */
  ok: true;
  /** libbpf's version string, e.g. "v1.1". */
  libbpfVersion: string;
}

/** {@link canUseBpf}'s no, with the reason. */
export interface BpfUnavailable {
  /** No. */
  ok: false;
  /** Why, as the failing step's error message (e.g. "... refused (EPERM): needs CAP_BPF"). */
  reason: string;
  /** The failing step's error code (`MISSING_PRIVILEGE`, `KERNEL_FEATURE`, ...), "UNKNOWN" for an untyped error. */
  code: ErrorCode | "UNKNOWN";
}

/** The answer of {@link canUseBpf}. */
export type BpfAvailability = BpfAvailable | BpfUnavailable;

/**
 * Whether this process can create BPF maps (and so, with the same
 * privilege, load programs). Never throws.
 *
 * Needs: Linux, koffi's native package, `libbpf.so.1`, CAP_BPF (or
 * CAP_SYS_ADMIN). Attaching additionally needs CAP_NET_ADMIN, not checked here.
 */
export async function canUseBpf(): Promise<BpfAvailability> {
  try {
    const lib = await loadLibbpf();
    createMapWith(lib, { type: "array", keySize: 4, valueSize: 4, maxEntries: 1 }, "wp_probe").close();
    return { ok: true, libbpfVersion: lib.version };
  } catch (error) {
    const code = error instanceof WasmplaneError ? error.code : "UNKNOWN";
    return { ok: false, reason: (error as Error).message, code };
  }
}
