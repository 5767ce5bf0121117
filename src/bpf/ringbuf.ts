/**
 * Reading a BPF ring buffer (`BPF_MAP_TYPE_RINGBUF`, kernel 5.8+) from Node
 * through libbpf's consumer (`ring_buffer__new` / `__consume` / `__free`).
 *
 *   BPF program ──bpf_ringbuf_output──▶ ring (mmap, shared) ──▶ ring_buffer__consume
 *                                                                  │ per record, same thread
 *                                                                  ▼
 *                                              koffi callback ──▶ onRecord(bytes)
 *
 * libbpf maps the ring into this process and calls a sample callback for each
 * committed record, synchronously, on the thread that called
 * `ring_buffer__consume`. Here that is always the Node main thread: the
 * callback is a koffi-registered JS function, and nothing calls it from
 * another thread. `consume()` never blocks (an empty ring costs two memory
 * reads, no syscall).
 *
 * What drives `consume()` while started:
 *   - "readable" (default when available): libbpf's epoll descriptor
 *     (`ring_buffer__epoll_fd`) is watched by the Node event loop through
 *     koffi's libuv poll handle; the kernel wakes it when a record lands in
 *     an empty ring (producers using flags 0, adaptive notification), and it
 *     stays readable, level-triggered, until the ring is drained.
 *   - "interval": a timer every `intervalMs`. Used when asked for, or when the
 *     koffi in use has no poll handle.
 * Either way at most `maxRecordsPerCall` records are handed over per call, so
 * a fast producer cannot hold the event loop; the rest follow on the next
 * turn.
 *
 * @module
 */
import { closeSync, readFileSync } from "node:fs";
import { InvalidInputError } from "../errors.js";
import { ERRNO, LayoutMismatchError, type BpfError } from "./errors.js";
import { loadLibbpf, loadRingBufferApi, type Libbpf, type ReadableWatch, type RegisteredSampleCallback, type RingBufferApi } from "./libbpf.js";
import { BpfMap } from "./map.js";
import { MAP_TYPES, mapTypeName } from "./map-types.js";

/** Where a ring buffer comes from: an open map, a map file descriptor (not taken over), or a pin path on a bpffs. */
export type RingBufferSource = BpfMap | number | string;

/**
 * Receives one record. `bytes` is a view of a buffer the ring buffer reuses:
 * valid only during the call; copy it (`bytes.slice()`) to keep it. A throw
 * stops the current `consume()` (the record counts as consumed) and is
 * rethrown from it; when started, it goes to {@link RingBufferOptions.onError}.
 */
export type RecordHandler = (bytes: Uint8Array) => void;

/** Options of {@link openRingBuffer}. */
export interface RingBufferOptions {
  /** Name used in errors. Default: the map's name (kernel name, up to 15 characters) or the pin path. */
  name?: string;
  /**
   * Records handed over by one `consume()` at most, so that a producer
   * faster than the handler cannot keep the event loop in one call. Default
   * 4096; `Infinity` drains whatever is there (libbpf's own behaviour, which
   * also takes records that arrive meanwhile).
   */
  maxRecordsPerCall?: number;
  /** Called at the start of every `consume()`, before the first record (e.g. to take a timestamp for the batch). */
  beforeConsume?: () => void;
  /** Errors of consumption while started (a handler's throw, a kernel error). Default: rethrown from the timer or poll callback, as an uncaught exception. */
  onError?: (error: unknown) => void;
}

/** How a started ring buffer is driven; see {@link RingBuffer.start}. */
export interface RingBufferStartOptions {
  /** `"readable"`: woken by the kernel through the event loop; `"interval"`: polled by a timer. Default `"readable"` when available. */
  mode?: "readable" | "interval";
  /** Timer period in "interval" mode, in milliseconds (≥ 1). Default 10. */
  intervalMs?: number;
}

/** A ring buffer being read; see {@link openRingBuffer}. */
export interface RingBuffer {
  /** The name used in errors. */
  readonly name: string;
  /** Bytes of the ring (the map's `max_entries`). */
  readonly size: number;
  /** Records handed to the handler so far. */
  readonly received: number;
  /** How it is driven while started, or undefined when stopped. */
  readonly mode: "readable" | "interval" | undefined;
  /**
   * Hands every committed record (up to `limit`, default
   * `maxRecordsPerCall`) to the handler, now, on this thread. Never waits.
   *
   * @returns records handed over.
   * @throws what the handler threw; {@link BpfError} (code `BPF_ERRNO`)
   *   naming the map when libbpf fails; {@link InvalidInputError} when called
   *   from inside the handler or after {@link RingBuffer.close}.
   */
  consume(limit?: number): number;
  /**
   * Starts consuming from the event loop (see {@link RingBufferStartOptions});
   * a number is the interval in milliseconds and selects "interval" mode.
   * Restarts when already started. The watch or timer is unref'd: it does not
   * keep the process alive.
   */
  start(options?: RingBufferStartOptions | number): void;
  /** Stops consuming from the event loop (records stay in the ring). Idempotent. */
  stop(): void;
  /** Stops, frees libbpf's consumer and closes a descriptor this ring buffer opened. Idempotent. */
  close(): void;
}

/** Default of {@link RingBufferOptions.maxRecordsPerCall}. */
export const DEFAULT_MAX_RECORDS_PER_CALL = 4096;

/** The handler's negative return that means "limit reached" (not an error); any negative stops libbpf. */
const STOP_LIMIT = -1;
/** The handler's negative return after the handler threw. */
const STOP_THROWN = -2;

/**
 * Opens a consumer on a `BPF_MAP_TYPE_RINGBUF` map. Needs CAP_BPF (or
 * CAP_SYS_ADMIN) for a pin path; kernel 5.8+; libbpf 0.0.9+.
 *
 * @param source an open {@link BpfMap}, a map descriptor (stays the caller's:
 *   keep it open while reading), or the path of a pinned map.
 * @param onRecord called once per record, on the main thread, inside `consume()`.
 * @throws {@link InvalidInputError} for a bad option or source.
 * @throws {@link LayoutMismatchError} (code `LAYOUT_MISMATCH`) when the map is not a ring buffer.
 * @throws {@link BpfError} (code `BPF_ERRNO`) when the pin cannot be opened or libbpf cannot map the ring, with the errno.
 * @throws {@link KernelFeatureError} when koffi or libbpf cannot be loaded.
 */
export async function openRingBuffer(source: RingBufferSource, onRecord: RecordHandler, options: RingBufferOptions = {}): Promise<RingBuffer> {
  const maxRecords = options.maxRecordsPerCall ?? DEFAULT_MAX_RECORDS_PER_CALL;
  if (!(maxRecords === Infinity || (Number.isInteger(maxRecords) && maxRecords >= 1))) {
    throw new InvalidInputError("maxRecordsPerCall", maxRecords, "must be a positive integer or Infinity");
  }
  if (typeof onRecord !== "function") throw new InvalidInputError("onRecord", typeof onRecord, "must be a function");
  const lib = await loadLibbpf();
  const api = await loadRingBufferApi();

  let fd: number;
  let owned = false;
  let name: string;
  if (source instanceof BpfMap) {
    fd = source.fd;
    name = options.name ?? source.name;
  } else if (typeof source === "number") {
    if (!Number.isInteger(source) || source < 0) throw new InvalidInputError("source", source, "must be an open file descriptor");
    fd = source;
    name = options.name ?? `map fd ${source}`;
  } else if (typeof source === "string") {
    fd = lib.check(lib.raw.bpf_obj_get(source), { operation: "open pinned ring buffer", target: source });
    owned = true;
    name = options.name ?? source;
  } else {
    throw new InvalidInputError("source", typeof source, "must be a BpfMap, a map file descriptor or a pin path");
  }
  try {
    const size = checkRingbuf(fd, name, source instanceof BpfMap ? source.name : undefined);
    return new RingBufferHandle(lib, api, fd, owned, name, size, onRecord, maxRecords, options);
  } catch (error) {
    if (owned) closeSync(fd);
    throw error;
  }
}

/** The ring's size; throws unless `fd` is a ring buffer map. */
function checkRingbuf(fd: number, name: string, mapName: string | undefined): number {
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  } catch (cause) {
    throw new InvalidInputError("source", fd, `is not an open file descriptor (${(cause as Error).message})`);
  }
  const field = (key: string) => {
    const m = new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const type = field("map_type");
  const subject = `ring buffer ${mapName !== undefined ? `map "${mapName}"` : JSON.stringify(name)}`;
  if (type === undefined) throw new LayoutMismatchError(subject, ["it is not a BPF map"]);
  if (type !== MAP_TYPES.ringbuf) throw new LayoutMismatchError(subject, [`type is ${mapTypeName(type)}, expected ringbuf`]);
  return field("max_entries") ?? 0;
}

class RingBufferHandle implements RingBuffer {
  readonly name: string;
  readonly size: number;
  #received = 0;
  #mode: "readable" | "interval" | undefined;
  readonly #lib: Libbpf;
  readonly #api: RingBufferApi;
  readonly #fd: number;
  readonly #owned: boolean;
  readonly #onRecord: RecordHandler;
  readonly #maxRecords: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #beforeConsume: (() => void) | undefined;
  #rb: bigint | undefined;
  #callback: RegisteredSampleCallback | undefined;
  #scratch = new Uint8Array(256);
  // State of the consume() in progress.
  #inside = false;
  #limit = 0;
  #count = 0;
  #thrown: { error: unknown } | undefined;
  #closeAfterConsume = false;
  #watch: ReadableWatch | undefined;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;

  constructor(lib: Libbpf, api: RingBufferApi, fd: number, owned: boolean, name: string, size: number, onRecord: RecordHandler, maxRecords: number, options: RingBufferOptions) {
    this.#lib = lib;
    this.#api = api;
    this.#fd = fd;
    this.#owned = owned;
    this.name = name;
    this.size = size;
    this.#onRecord = onRecord;
    this.#maxRecords = maxRecords;
    this.#onError = options.onError;
    this.#beforeConsume = options.beforeConsume;
    this.#callback = api.registerSample((data, length) => this.#sample(data, length));
    const { value: rb, messages } = lib.collect(() => api.ring_buffer__new(fd, this.#callback!, null, null));
    if (rb === null) {
      const errno = lib.raw.errno() || ERRNO.EINVAL;
      api.unregister(this.#callback);
      this.#callback = undefined;
      throw lib.error(errno, { operation: "open ring buffer consumer", target: this.#target() }, messages.map((m) => m.text));
    }
    this.#rb = rb;
  }

  get received(): number {
    return this.#received;
  }

  get mode(): "readable" | "interval" | undefined {
    return this.#mode;
  }

  consume(limit: number = this.#maxRecords): number {
    if (this.#inside) throw new InvalidInputError("consume", this.name, "was called from inside the record handler");
    if (this.#rb === undefined) throw new InvalidInputError("consume", this.name, "the ring buffer is closed");
    if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1))) throw new InvalidInputError("limit", limit, "must be a positive integer or Infinity");
    this.#beforeConsume?.();
    this.#inside = true;
    this.#limit = limit;
    this.#count = 0;
    this.#thrown = undefined;
    let ret: number;
    try {
      ret = this.#api.ring_buffer__consume(this.#rb);
    } finally {
      this.#inside = false;
    }
    const count = this.#count;
    // Set by #sample during the call (TypeScript cannot see that).
    const thrown = this.#thrown as { error: unknown } | undefined;
    this.#thrown = undefined;
    if (this.#closeAfterConsume) this.close();
    if (thrown) throw thrown.error;
    if (ret < 0 && ret !== STOP_LIMIT) throw this.#lib.error(-ret, { operation: "consume", target: this.#target() });
    return count;
  }

  start(options: RingBufferStartOptions | number = {}): void {
    const opts: RingBufferStartOptions = typeof options === "number" ? { mode: "interval", intervalMs: options } : options;
    const intervalMs = opts.intervalMs ?? 10;
    if (!(Number.isFinite(intervalMs) && intervalMs >= 1)) throw new InvalidInputError("intervalMs", intervalMs, "must be a number of milliseconds ≥ 1");
    if (opts.mode !== undefined && opts.mode !== "readable" && opts.mode !== "interval") throw new InvalidInputError("mode", opts.mode, 'must be "readable" or "interval"');
    if (this.#rb === undefined) throw new InvalidInputError("start", this.name, "the ring buffer is closed");
    this.stop();
    if (opts.mode !== "interval") {
      const epollFd = this.#lib.check(this.#api.ring_buffer__epoll_fd(this.#rb), { operation: "get epoll descriptor", target: this.#target() });
      this.#watch = this.#api.watchReadable(epollFd, () => this.#tick());
      if (this.#watch) {
        this.#mode = "readable";
        // Records already waiting raise no new wakeup; take them now.
        this.#immediate = setImmediate(() => this.#tick());
        return;
      }
      if (opts.mode === "readable") throw new InvalidInputError("mode", "readable", "this koffi has no libuv poll handle (koffi.node.poll); use \"interval\"");
    }
    this.#mode = "interval";
    this.#timer = setInterval(() => this.#tick(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#mode = undefined;
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  close(): void {
    this.stop();
    if (this.#inside) {
      // From the handler: libbpf is still walking the ring; free afterwards.
      this.#closeAfterConsume = true;
      return;
    }
    this.#closeAfterConsume = false;
    if (this.#rb !== undefined) this.#api.ring_buffer__free(this.#rb);
    this.#rb = undefined;
    if (this.#callback !== undefined) this.#api.unregister(this.#callback);
    this.#callback = undefined;
    if (this.#owned && this.#fd >= 0) closeSync(this.#fd);
  }

  /** One event-loop turn of consumption; more follows on the next turn when the limit was reached. */
  #tick(): void {
    this.#immediate = undefined;
    if (this.#rb === undefined || this.#inside) return;
    let count: number;
    try {
      count = this.consume();
    } catch (error) {
      if (this.#onError) this.#onError(error);
      else throw error;
      return;
    }
    // In "readable" mode the descriptor stays readable while records are
    // left, so the watch fires again by itself.
    if (count >= this.#maxRecords && this.#mode === "interval") this.#immediate = setImmediate(() => this.#tick());
  }

  /** libbpf's sample callback: one committed record at `data`. */
  #sample(data: bigint, length: number): number {
    if (this.#scratch.byteLength < length) this.#scratch = new Uint8Array(Math.max(length, this.#scratch.byteLength * 2));
    this.#api.copyIn(data, length, this.#scratch);
    this.#count++;
    this.#received++;
    try {
      this.#onRecord(this.#scratch.subarray(0, length));
    } catch (error) {
      this.#thrown = { error };
      return STOP_THROWN;
    }
    return this.#count >= this.#limit ? STOP_LIMIT : 0;
  }

  #target(): string {
    return `ring buffer ${JSON.stringify(this.name)}`;
  }
}

