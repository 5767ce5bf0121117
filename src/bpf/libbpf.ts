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

// ---- Ring buffers (libbpf's ring_buffer__* consumer) ------------------------------
//
// Declared here rather than in bindings/ffi/libbpf.ts: the consumer is only
// bound when a ring buffer is first opened, on top of the binding above (the
// same libbpf.so.1, already open, so dlopen hands back the same handle).

/** A native pointer (koffi 3: bigint). */
type NativePointer = bigint;

/** A sample callback as koffi registered it; pass to {@link RingBufferApi.ring_buffer__new}. */
export type RegisteredSampleCallback = NativePointer;

/** What a readable-watch on a descriptor (libuv `uv_poll_t`) gives back. */
export interface ReadableWatch {
  /** Stops and frees the watch. Idempotent. */
  close(): void;
}

/** libbpf's ring buffer consumer and the koffi glue it needs. */
export interface RingBufferApi {
  /** `ring_buffer__new(map_fd, sample_cb, ctx, opts)`: NULL (null) on failure, errno set. */
  ring_buffer__new(mapFd: number, sampleCb: RegisteredSampleCallback, ctx: NativePointer | null, opts: null): NativePointer | null;
  /** Consumes every committed record without waiting: records seen, or -errno (or the callback's negative return). */
  ring_buffer__consume(rb: NativePointer): number;
  /** `epoll_wait` on the rings for up to `timeoutMs`, then consumes: records seen, or -errno. */
  ring_buffer__poll(rb: NativePointer, timeoutMs: number): number;
  /** The epoll descriptor libbpf waits on: readable while a ring holds a record. */
  ring_buffer__epoll_fd(rb: NativePointer): number;
  /** Unmaps the rings and closes the epoll descriptor (not the map's). */
  ring_buffer__free(rb: NativePointer): void;
  /**
   * Registers `fn` as a `ring_buffer_sample_fn`: libbpf calls it on the
   * thread that called `ring_buffer__consume`/`__poll` (here always the Node
   * main thread, synchronously inside that call) with the record's address
   * and length. A negative return stops the consume call, which returns it.
   */
  registerSample(fn: (data: NativePointer, size: number) => number): RegisteredSampleCallback;
  /** Frees a registered callback; never while libbpf may still call it. */
  unregister(callback: RegisteredSampleCallback): void;
  /** Copies `size` bytes at `ptr` into `into` (from offset 0; it must hold them). */
  copyIn(ptr: NativePointer, size: number, into: Uint8Array): void;
  /**
   * Calls `onReadable` from the event loop whenever `fd` is readable (koffi's
   * libuv poll handle: level-triggered, on the main thread), or undefined
   * when this koffi has no such handle.
   */
  watchReadable(fd: number, onReadable: () => void): ReadableWatch | undefined;
}

let ringBufferApi: Promise<RingBufferApi> | undefined;

/**
 * Binds libbpf's ring buffer consumer on first use (after {@link loadLibbpf}).
 *
 * @throws {@link KernelFeatureError} (feature `libbpf`) when koffi or
 *   `libbpf.so.1` cannot be loaded, or this libbpf has no ring buffer API
 *   (libbpf before 0.0.9).
 */
export function loadRingBufferApi(): Promise<RingBufferApi> {
  ringBufferApi ??= (async () => {
    await loadLibbpf();
    try {
      const koffi = ((await import("koffi")) as { default: typeof koffiModule }).default;
      return bindRingBuffer(koffi);
    } catch (cause) {
      throw new KernelFeatureError("libbpf", `cannot bind libbpf's ring buffer API through koffi (${(cause as Error).message}); it needs libbpf 0.0.9 or later`, { cause });
    }
  })();
  ringBufferApi.catch(() => { ringBufferApi = undefined; });
  return ringBufferApi;
}

function bindRingBuffer(koffi: typeof koffiModule): RingBufferApi {
  // koffi's type names are process-wide; a failed first bind may have declared them.
  const declared = (name: string) => {
    try {
      koffi.type(name);
      return true;
    } catch {
      return false;
    }
  };
  if (!declared("wasmplane_ring_buffer")) koffi.opaque("wasmplane_ring_buffer");
  if (!declared("wasmplane_ring_buffer_sample_fn")) koffi.proto("int wasmplane_ring_buffer_sample_fn(void *ctx, void *data, size_t size)");
  const lib = koffi.load("libbpf.so.1");
  const f = (proto: string) => lib.func(proto);
  const sampleFn = koffi.pointer("wasmplane_ring_buffer_sample_fn");
  // Copying a record with libc's memcpy into a JS buffer costs about 150 ns
  // here; a koffi.view of the record (a new external ArrayBuffer each time)
  // or koffi.decode costs about 1.1 µs.
  const memcpy = koffi.load("libc.so.6").func("void *memcpy(void *dst, const void *src, size_t n)");
  const poll = (koffi as unknown as { node?: { poll?: PollFunction } }).node?.poll;
  return {
    ring_buffer__new: f("wasmplane_ring_buffer *ring_buffer__new(int map_fd, wasmplane_ring_buffer_sample_fn *sample_cb, void *ctx, const void *opts)"),
    ring_buffer__consume: f("int ring_buffer__consume(wasmplane_ring_buffer *rb)"),
    ring_buffer__poll: f("int ring_buffer__poll(wasmplane_ring_buffer *rb, int timeout_ms)"),
    ring_buffer__epoll_fd: f("int ring_buffer__epoll_fd(const wasmplane_ring_buffer *rb)"),
    ring_buffer__free: f("void ring_buffer__free(wasmplane_ring_buffer *rb)"),
    registerSample: (fn) => koffi.register((_ctx: NativePointer, data: NativePointer, size: number | bigint) => fn(data, Number(size)), sampleFn) as NativePointer,
    unregister: (callback) => koffi.unregister(callback),
    copyIn(ptr, size, into) {
      if (into.byteLength < size) throw new RangeError(`copyIn: ${size} bytes do not fit ${into.byteLength}`);
      memcpy(into, ptr, size);
    },
    watchReadable(fd, onReadable) {
      if (typeof poll !== "function") return undefined;
      // koffi calls back with (status, events), not what its index.d.ts
      // says; a negative status (an error on the descriptor) is handed on
      // too: the consume call that follows reports it.
      const handle = poll(fd, { readable: true }, (status, events) => {
        if (status < 0 || events.readable) onReadable();
      });
      handle.unref();
      let open = true;
      return {
        close() {
          if (!open) return;
          open = false;
          handle.stop();
          handle.close();
        },
      };
    },
  };
}

/** koffi's (not yet documented) libuv poll handle, `koffi.node.poll`. */
type PollFunction = (fd: number, opts: { readable?: boolean }, callback: (status: number, events: { readable: boolean }) => void) => { stop(): void; close(): void; unref(): void };
