/**
 * The one door to koffi and libbpf: a lazy, process-wide binding.
 *
 * Nothing here runs at import time. The first {@link loadLibbpf} call imports
 * koffi and `bindings/ffi/libbpf.ts` through dynamic `import()`s and opens
 * `libbpf.so.1`; every later call gets the same instance. Everything else in
 * wasmplane (tables, policy, offline generation) never reaches this code, so
 * it runs without koffi, libbpf, root or Linux.
 *
 * The bindings are located by URL rather than by a literal specifier: the
 * build compiles src/ only (rootDir), and a literal import would pull
 * bindings/ into it. Two places are tried: `./ffi/libbpf.js` next to the
 * running module (where a bundle step can emit it, beside dist/index.js) and
 * `../../bindings/ffi/libbpf.js` (running from source).
 *
 * The instance also owns libbpf's print callback: libbpf would otherwise
 * write warnings to stderr. Messages are collected per call instead, so an
 * error can carry what libbpf said (netlink extack text, map creation
 * failures) next to the errno.
 *
 * @module
 */
import type koffiModule from "koffi";
import type { LibbpfBindings } from "./ffi-types.js";
import { BpfError, ERRNO, KernelFeatureError, MissingPrivilegeError, type ErrnoContext } from "./errors.js";

/** libbpf print levels (enum libbpf_print_level). */
export const PRINT_LEVEL = { warn: 0, info: 1, debug: 2 } as const;

/** A message libbpf printed, with its level (0 warn, 1 info, 2 debug). */
export interface LibbpfMessage {
  /** 0 warn, 1 info, 2 debug. */
  level: number;
  /** The formatted line, without its trailing newline; starts with "libbpf: ". */
  text: string;
}

/** The bound library plus the error conventions every host module shares. */
export interface Libbpf {
  /** The raw koffi functions. */
  readonly raw: LibbpfBindings;
  /** libbpf's version string, e.g. "v1.1". */
  readonly version: string;
  /** libbpf's text for a positive errno (covers libbpf's own 4000+ codes). */
  strerror(errno: number): string;
  /**
   * Returns `ret` when it is not negative; otherwise throws the typed error
   * for `-ret`: {@link MissingPrivilegeError} for EPERM, else {@link BpfError}.
   */
  check(ret: number, context: ErrnoContext & { needs?: string; detail?: string }, messages?: readonly string[]): number;
  /** The typed error for a positive errno (see {@link Libbpf.check}). */
  error(errno: number, context: ErrnoContext & { needs?: string; detail?: string }, messages?: readonly string[]): Error;
  /** Runs `fn` and returns what libbpf printed meanwhile at `maxLevel` or more urgent. */
  collect<T>(fn: () => T, maxLevel?: number): { value: T; messages: LibbpfMessage[] };
  /** Possible CPUs, the multiplier of per-CPU map values. */
  possibleCpus(): number;
}

let pending: Promise<Libbpf> | undefined;
let loaded: Libbpf | undefined;

/**
 * The process-wide libbpf binding, loaded on first use.
 *
 * @throws {@link KernelFeatureError} (feature `libbpf`) when koffi or
 *   `libbpf.so.1` cannot be loaded (not Linux, `libbpf1` not installed).
 */
export function loadLibbpf(): Promise<Libbpf> {
  pending ??= (async () => {
    if (process.platform !== "linux") {
      throw new KernelFeatureError("libbpf", `eBPF needs Linux; this is ${process.platform}`);
    }
    let bindings: LibbpfBindings;
    try {
      const koffi = ((await import("koffi")) as { default: typeof koffiModule }).default;
      const ffi = await importBindings();
      bindings = ffi.bindLibbpf(koffi);
    } catch (cause) {
      throw new KernelFeatureError(
        "libbpf",
        `cannot load libbpf through koffi (${(cause as Error).message}); install libbpf 1.x (Debian: apt-get install libbpf1)`,
        { cause },
      );
    }
    loaded = createLibbpf(bindings);
    return loaded;
  })();
  // A failed load may be retried (e.g. after installing the library).
  pending.catch(() => { pending = undefined; });
  return pending;
}

/** The bindings module's shape (bindings/ffi/libbpf.ts). */
interface BindingsModule {
  bindLibbpf(koffi: typeof koffiModule, path?: string): LibbpfBindings;
}

/** Imports the bindings from the first place they exist (see the module comment). */
async function importBindings(): Promise<BindingsModule> {
  const candidates = ["./ffi/libbpf.js", "../../bindings/ffi/libbpf.js"].map((p) => new URL(p, import.meta.url));
  let firstError: unknown;
  for (const url of candidates) {
    try {
      return (await import(url.href)) as BindingsModule;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "ERR_MODULE_NOT_FOUND") throw error;
      firstError ??= error;
    }
  }
  throw firstError;
}

/** The binding if {@link loadLibbpf} already finished, else undefined. Never loads anything. */
export function libbpfIfLoaded(): Libbpf | undefined {
  return loaded;
}

function createLibbpf(raw: LibbpfBindings): Libbpf {
  // Collectors form a stack so that a collect() inside another one still
  // hands each message to the innermost caller.
  const collectors: Array<{ maxLevel: number; messages: LibbpfMessage[] }> = [];
  const wanted = (level: number) => {
    const top = collectors[collectors.length - 1];
    return top !== undefined && level <= top.maxLevel;
  };
  raw.setPrintHandler((level, text) => {
    collectors[collectors.length - 1]?.messages.push({ level, text: text.trimEnd() });
  }, wanted);
  const textBuffer = new Uint8Array(256);
  let cpus: number | undefined;

  const self: Libbpf = {
    raw,
    version: raw.version,
    strerror(errno) {
      // glibc has no text for the kernel-internal ENOTSUPP.
      if (errno === ERRNO.ENOTSUPP) return "Operation not supported for this map or program type";
      raw.libbpf_strerror(errno, textBuffer, textBuffer.length);
      const end = textBuffer.indexOf(0);
      return Buffer.from(textBuffer.buffer, textBuffer.byteOffset, end < 0 ? textBuffer.length : end).toString("utf8");
    },
    error(errno, context, messages) {
      if (errno === ERRNO.EPERM) return new MissingPrivilegeError(context, errno, context.needs ?? "CAP_BPF (or CAP_SYS_ADMIN)");
      const options: { detail?: string; libbpfMessages?: readonly string[] } = {};
      if (context.detail !== undefined) options.detail = context.detail;
      if (messages !== undefined) options.libbpfMessages = messages;
      return new BpfError(context, errno, self.strerror(errno), options);
    },
    check(ret, context, messages) {
      if (ret >= 0) return ret;
      throw self.error(-ret, context, messages);
    },
    collect(fn, maxLevel = PRINT_LEVEL.info) {
      const frame = { maxLevel, messages: [] as LibbpfMessage[] };
      collectors.push(frame);
      try {
        return { value: fn(), messages: frame.messages };
      } finally {
        collectors.pop();
      }
    },
    possibleCpus() {
      if (cpus === undefined) cpus = self.check(raw.libbpf_num_possible_cpus(), { operation: "count possible CPUs", target: "the system" });
      return cpus;
    },
  };
  return self;
}
