/**
 * Typed errors of the kernel-facing host layer.
 *
 * libbpf returns `-errno`; these classes turn that number into an error that
 * names the operation and the object (map, program, interface) and keeps the
 * errno, its symbolic name and libbpf's text, the way cilium/ebpf wraps
 * syscall errors. A failed load carries the verifier log.
 *
 * Pure module: no koffi, safe to import anywhere.
 *
 * @module
 */
import { constants } from "node:os";
import { WasmplaneError } from "../errors.js";

/** Errno numbers the kernel uses that Node's `os.constants.errno` lacks, and libbpf's own codes. */
const EXTRA_ERRNO_NAMES: Record<number, string> = {
  524: "ENOTSUPP", // kernel-internal "operation not supported", leaks out of the bpf syscall
  4000: "LIBBPF_ERRNO__LIBELF",
  4001: "LIBBPF_ERRNO__FORMAT",
  4002: "LIBBPF_ERRNO__KVERSION",
  4003: "LIBBPF_ERRNO__ENDIAN",
  4004: "LIBBPF_ERRNO__INTERNAL",
  4005: "LIBBPF_ERRNO__RELOC",
  4006: "LIBBPF_ERRNO__LOAD",
  4007: "LIBBPF_ERRNO__VERIFY",
  4008: "LIBBPF_ERRNO__PROG2BIG",
  4009: "LIBBPF_ERRNO__KVER",
  4010: "LIBBPF_ERRNO__PROGTYPE",
  4011: "LIBBPF_ERRNO__WRNGPID",
  4012: "LIBBPF_ERRNO__INVSEQ",
  4013: "LIBBPF_ERRNO__NLPARSE",
};

let namesByNumber: Map<number, string> | undefined;

/** Symbolic name of a (positive) errno, e.g. 7 → "E2BIG"; "E<n>" when unknown. */
export function errnoName(errno: number): string {
  if (!namesByNumber) {
    namesByNumber = new Map();
    // os.constants.errno has aliases (EWOULDBLOCK = EAGAIN): keep the first name seen.
    for (const [name, value] of Object.entries(constants.errno)) if (!namesByNumber.has(value)) namesByNumber.set(value, name);
    for (const [value, name] of Object.entries(EXTRA_ERRNO_NAMES)) namesByNumber.set(Number(value), name);
  }
  return namesByNumber.get(errno) ?? `E${errno}`;
}

/** Errno number of a name, for comparisons that read better than literals. */
export const ERRNO = {
  EPERM: constants.errno.EPERM,
  ENOENT: constants.errno.ENOENT,
  E2BIG: constants.errno.E2BIG,
  EBADF: constants.errno.EBADF,
  EACCES: constants.errno.EACCES,
  EBUSY: constants.errno.EBUSY,
  EEXIST: constants.errno.EEXIST,
  ENODEV: constants.errno.ENODEV,
  EINVAL: constants.errno.EINVAL,
  ENOSPC: constants.errno.ENOSPC,
  ENOMEM: constants.errno.ENOMEM,
  EOPNOTSUPP: constants.errno.EOPNOTSUPP,
  ENOTSUPP: 524,
} as const;

/** What a failed call was doing, for messages: `update` on map `backends`. */
export interface ErrnoContext {
  /** The operation, e.g. `update`, `batch update`, `xdp attach`. */
  operation: string;
  /** What it operated on, e.g. `map "backends"`, `interface eth0`. */
  target: string;
}

/** A bpf syscall or libbpf call failed with an errno. */
export class BpfError extends WasmplaneError {
  /** Positive errno, e.g. 7. */
  readonly errno: number;
  /** Symbolic errno, e.g. "E2BIG". */
  readonly errnoName: string;
  /** The operation that failed. */
  readonly operation: string;
  /** What it operated on (`map "backends"`, `program "xdp_lb"`, `interface eth0`). */
  readonly target: string;
  /** libbpf's text for the errno. */
  readonly text: string;
  /** What wasmplane knows about this failure beyond the errno (e.g. "map ... is full"), or "". */
  readonly detail: string;
  /** Messages libbpf printed during the call (netlink extack, warnings). */
  readonly libbpfMessages: readonly string[];

  constructor(context: ErrnoContext, errno: number, text: string, options?: { detail?: string; libbpfMessages?: readonly string[]; cause?: unknown }) {
    const name = errnoName(errno);
    const detail = options?.detail ?? "";
    const said = options?.libbpfMessages?.length ? ` [libbpf: ${options.libbpfMessages.join(" | ")}]` : "";
    super("BPF_ERRNO", `${context.operation} on ${context.target} failed with ${name} (${text})${detail ? `: ${detail}` : ""}${said}`, { cause: options?.cause });
    this.errno = errno;
    this.errnoName = name;
    this.operation = context.operation;
    this.target = context.target;
    this.text = text;
    this.detail = detail;
    this.libbpfMessages = options?.libbpfMessages ?? [];
  }
}

/**
 * The process lacks a capability: the kernel answered EPERM. Loading programs
 * and creating maps need CAP_BPF (or CAP_SYS_ADMIN), attaching needs
 * CAP_NET_ADMIN.
 */
export class MissingPrivilegeError extends WasmplaneError {
  /** Positive errno (EPERM, sometimes EACCES). */
  readonly errno: number;
  /** The operation that was refused. */
  readonly operation: string;
  /** What it operated on. */
  readonly target: string;

  constructor(context: ErrnoContext, errno: number, needs: string) {
    super("MISSING_PRIVILEGE", `${context.operation} on ${context.target} was refused (${errnoName(errno)}): needs ${needs}`);
    this.errno = errno;
    this.operation = context.operation;
    this.target = context.target;
  }
}

/** The kernel or the system lacks something the call needs (bpffs, libbpf, a map type). */
export class KernelFeatureError extends WasmplaneError {
  /** Short name of the feature, e.g. `bpffs`, `libbpf`. */
  readonly feature: string;

  constructor(feature: string, message: string, options?: { cause?: unknown }) {
    super("KERNEL_FEATURE", message, options);
    this.feature = feature;
  }
}

/** Loading a BPF object failed; `verifierLog` holds the kernel's explanation. */
export class BpfLoadError extends WasmplaneError {
  /** The object file. */
  readonly path: string;
  /** Positive errno of the failed load. */
  readonly errno: number;
  /** Symbolic errno, e.g. "EACCES" (the verifier rejected a program). */
  readonly errnoName: string;
  /** The program the kernel rejected, when libbpf said which. */
  readonly program: string | undefined;
  /** The verifier's (or BTF loader's) log, possibly truncated to the log buffer size; "" when none. */
  readonly verifierLog: string;
  /** Warnings libbpf printed during open and load. */
  readonly libbpfMessages: readonly string[];

  constructor(path: string, errno: number, text: string, details: { program?: string; verifierLog: string; libbpfMessages: readonly string[]; hint?: string }) {
    const name = errnoName(errno);
    const which = details.program ? ` (program "${details.program}")` : "";
    // The verifier's verdict when there is one; otherwise libbpf's first
    // warning, which names the failing step (map creation, relocation, BTF).
    const summary = summarizeVerifierLog(details.verifierLog);
    const firstWarning = details.libbpfMessages[0]?.replace(/^libbpf: /, "");
    const reason = summary ? `verifier: ${summary}` : firstWarning ? `libbpf: ${firstWarning}` : "";
    const rest = [reason, details.hint].filter(Boolean).join("; ");
    super("BPF_LOAD_FAILED", `loading ${path} failed${which}: ${name} (${text})${rest ? `: ${rest}` : ""}`);
    this.path = path;
    this.errno = errno;
    this.errnoName = name;
    this.program = details.program;
    this.verifierLog = details.verifierLog;
    this.libbpfMessages = details.libbpfMessages;
  }
}

/** The interface named does not exist in this network namespace. */
export class UnknownInterfaceError extends WasmplaneError {
  /** The name or index asked for. */
  readonly iface: string | number;

  constructor(iface: string | number) {
    super("UNKNOWN_INTERFACE", `no network interface ${typeof iface === "number" ? `with index ${iface}` : JSON.stringify(iface)} in this network namespace`);
    this.iface = iface;
  }
}

/** A byte layout disagrees with its owner (the BTF of the C header, or a pinned map's kernel attributes). */
export class LayoutMismatchError extends WasmplaneError {
  /** The struct or map compared. */
  readonly subject: string;
  /** Every difference found, one line each. */
  readonly differences: readonly string[];

  constructor(subject: string, differences: readonly string[]) {
    super("LAYOUT_MISMATCH", `${subject} does not match: ${differences.join("; ")}`);
    this.subject = subject;
    this.differences = differences;
  }
}

/**
 * The lines of a verifier log that say why it gave up: the last lines before
 * the "processed N insns" statistics, which is where the kernel prints its
 * verdict. "" for an empty log.
 */
export function summarizeVerifierLog(log: string): string {
  const lines = log.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  let end = lines.length;
  while (end > 0 && /^(processed \d+ insns|verification time|stack depth)/.test(lines[end - 1]!)) end--;
  return lines.slice(Math.max(0, end - 2), end).join(" / ");
}
