/**
 * Loading a compiled BPF object file (clang `-target bpf` output) into the
 * kernel: its programs and maps by name, the verifier's log when it refuses.
 *
 * libbpf does the ELF work (relocations, BTF, map creation, pinning);
 * this module captures what it and the kernel say. The verifier log goes into
 * a buffer we own (`kernel_log_buf` in the open options), so a refused program
 * surfaces as a {@link BpfLoadError} carrying the log instead of text on
 * stderr. Maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are pinned
 * under `pinRoot` (default `/sys/fs/bpf/wasmplane`) and reused from there on
 * the next load, which is how map state survives an agent restart.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidInputError } from "../errors.js";
import { BpfError, BpfLoadError, ERRNO } from "./errors.js";
import { loadLibbpf, PRINT_LEVEL, type Libbpf, type LibbpfMessage } from "./libbpf.js";
import { BpfMap, type MapLayout } from "./map.js";
import { isMapOfMaps } from "./map-types.js";
import { DEFAULT_PIN_ROOT, ensurePinRoot } from "./pin.js";

/** Options of {@link loadObject}. */
export interface LoadObjectOptions {
  /**
   * Directory (on a bpffs) for maps declared with `LIBBPF_PIN_BY_NAME`;
   * created when missing. Default `/sys/fs/bpf/wasmplane`. Unused when the
   * object pins nothing.
   */
  pinRoot?: string;
  /**
   * false: pin nothing, even maps declared with `LIBBPF_PIN_BY_NAME` (each
   * load gets fresh maps; for tests and one-off runs). Default true.
   */
  pin?: boolean;
  /**
   * Verifier log level: 0 (default) logs only when a load fails (libbpf then
   * retries at level 1), 1 logs every program, 2 adds per-instruction state.
   * At 1 or 2 a log larger than `logSize` makes the load fail with ENOSPC.
   */
  logLevel?: 0 | 1 | 2;
  /** Bytes of the verifier log buffer. Default 1 MiB. */
  logSize?: number;
  /** Receives libbpf's warnings and info messages (debug ones too at logLevel 2). */
  onLibbpfMessage?: (message: LibbpfMessage) => void;
}

/** A program of a loaded object. Its descriptor closes with the object. */
export class BpfProgram {
  /** Function name in the C source. */
  readonly name: string;
  /** ELF section, e.g. `xdp`, `tc`. */
  readonly section: string;
  /** `enum bpf_prog_type` value. */
  readonly type: number;
  /** libbpf's name of the type, e.g. `xdp`, `sched_cls`. */
  readonly typeName: string;
  #fd: number;
  readonly #lib: Libbpf;

  /** @internal Programs come from {@link loadObject}. */
  constructor(lib: Libbpf, fd: number, name: string, section: string, type: number) {
    this.#lib = lib;
    this.#fd = fd;
    this.name = name;
    this.section = section;
    this.type = type;
    this.typeName = lib.raw.libbpf_bpf_prog_type_str(type) ?? `type ${type}`;
  }

  /** The program's descriptor. @throws {@link BpfError} (EBADF) once the object is closed. */
  get fd(): number {
    if (this.#fd < 0) throw new BpfError({ operation: "use", target: `program "${this.name}"` }, ERRNO.EBADF, "the object is closed");
    return this.#fd;
  }

  /** @internal The binding, for attach and test-run. */
  get libbpf(): Libbpf {
    return this.#lib;
  }

  /** @internal Called by the owning object when it closes. */
  markClosed(): void {
    this.#fd = -1;
  }
}

/** A loaded object: programs and maps by name. Call {@link BpfObject.close} when done. */
export class BpfObject {
  /** The object file it was loaded from. */
  readonly path: string;
  /** libbpf's object name (the file's base name without `.o`). */
  readonly name: string;
  /** Programs by function name. */
  readonly programs: ReadonlyMap<string, BpfProgram>;
  /** Maps by name (libbpf's internal `.data`/`.rodata`/`.bss` maps excluded). */
  readonly maps: ReadonlyMap<string, BpfMap>;
  /** Pin path of each pinned map, by map name. */
  readonly pinPaths: ReadonlyMap<string, string>;
  /** The verifier log of a successful load (empty at logLevel 0). */
  readonly log: string;
  #handle: bigint | undefined;
  readonly #lib: Libbpf;

  /** @internal Objects come from {@link loadObject}. */
  constructor(lib: Libbpf, handle: bigint, path: string, log: string, innerTemplates: ReadonlyMap<string, MapLayout>) {
    this.#lib = lib;
    this.#handle = handle;
    this.path = path;
    this.log = log;
    const raw = lib.raw;
    this.name = raw.bpf_object__name(handle);
    const programs = new Map<string, BpfProgram>();
    for (let p = raw.bpf_object__next_program(handle, null); p !== null; p = raw.bpf_object__next_program(handle, p)) {
      const name = raw.bpf_program__name(p);
      programs.set(name, new BpfProgram(lib, raw.bpf_program__fd(p), name, raw.bpf_program__section_name(p), raw.bpf_program__type(p)));
    }
    const maps = new Map<string, BpfMap>();
    const pinPaths = new Map<string, string>();
    for (let m = raw.bpf_object__next_map(handle, null); m !== null; m = raw.bpf_object__next_map(handle, m)) {
      if (raw.bpf_map__is_internal(m)) continue;
      const name = raw.bpf_map__name(m);
      const layout = mapLayoutOf(lib, m);
      maps.set(name, new BpfMap(lib, raw.bpf_map__fd(m), { ...layout, name, flags: layout.flags ?? 0, inner: innerTemplates.get(name) }, false));
      const pinPath = raw.bpf_map__pin_path(m);
      if (pinPath) pinPaths.set(name, pinPath);
    }
    this.programs = programs;
    this.maps = maps;
    this.pinPaths = pinPaths;
  }

  /** The program called `name`. @throws {@link InvalidInputError} listing the programs there are. */
  program(name: string): BpfProgram {
    const program = this.programs.get(name);
    if (!program) throw new InvalidInputError("program", name, `is not in ${this.path} (programs: ${[...this.programs.keys()].join(", ") || "none"})`);
    return program;
  }

  /** The map called `name`. @throws {@link InvalidInputError} listing the maps there are. */
  map(name: string): BpfMap {
    const map = this.maps.get(name);
    if (!map) throw new InvalidInputError("map", name, `is not in ${this.path} (maps: ${[...this.maps.keys()].join(", ") || "none"})`);
    return map;
  }

  /** Whether {@link BpfObject.close} ran. */
  get closed(): boolean {
    return this.#handle === undefined;
  }

  /**
   * Frees the object: closes its program and map descriptors. Programs stay
   * attached where they were attached (XDP and tc hold their own reference)
   * and pinned maps stay pinned. Idempotent.
   */
  close(): void {
    if (this.#handle === undefined) return;
    for (const p of this.programs.values()) p.markClosed();
    for (const m of this.maps.values()) m.markClosed();
    this.#lib.raw.bpf_object__close(this.#handle);
    this.#handle = undefined;
  }
}

/** The layout libbpf parsed for map `m`. */
function mapLayoutOf(lib: Libbpf, m: bigint): MapLayout & { type: number } {
  const raw = lib.raw;
  return {
    type: raw.bpf_map__type(m), keySize: raw.bpf_map__key_size(m), valueSize: raw.bpf_map__value_size(m),
    maxEntries: raw.bpf_map__max_entries(m), flags: raw.bpf_map__map_flags(m),
  };
}

/** Which program libbpf said failed, from "prog 'name': ... failed ...". */
function failedProgram(messages: readonly LibbpfMessage[]): string | undefined {
  for (const { text } of messages) {
    const m = /prog '([^']+)': (?:BPF program load failed|failed to load)/.exec(text);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Opens and loads the BPF object file at `path`: creates (or reuses pinned)
 * maps, loads every program through the verifier.
 *
 * Needs CAP_BPF (or CAP_SYS_ADMIN); kernel 5.x with BTF for CO-RE programs.
 *
 * @throws {@link InvalidInputError} when the file does not exist.
 * @throws {@link KernelFeatureError} when libbpf cannot be loaded, or the
 *   object pins maps and `pinRoot` is not on a bpffs.
 * @throws {@link BpfLoadError} (code `BPF_LOAD_FAILED`) when libbpf or the
 *   kernel refuses the object: `errno`, `program`, `verifierLog` and
 *   `libbpfMessages` say why.
 */
export async function loadObject(path: string, options: LoadObjectOptions = {}): Promise<BpfObject> {
  const file = resolve(path);
  if (!existsSync(file)) throw new InvalidInputError("path", path, "no such BPF object file");
  const logSize = options.logSize ?? 1 << 20;
  if (!Number.isInteger(logSize) || logSize < 4096 || logSize > 0x7fffffff) throw new InvalidInputError("logSize", logSize, "must be an integer from 4096 to 2^31-1");
  const logLevel = options.logLevel ?? 0;
  const pinRoot = resolve(options.pinRoot ?? DEFAULT_PIN_ROOT);
  const lib = await loadLibbpf();
  const raw = lib.raw;
  const maxLevel = logLevel >= 2 ? PRINT_LEVEL.debug : PRINT_LEVEL.info;
  const said: LibbpfMessage[] = [];
  const collect = <T>(fn: () => T): T => {
    const { value, messages } = lib.collect(fn, maxLevel);
    said.push(...messages);
    if (options.onLibbpfMessage) for (const m of messages) options.onLibbpfMessage(m);
    return value;
  };
  const warnings = () => said.filter((m) => m.level === PRINT_LEVEL.warn).map((m) => m.text);

  // libbpf keeps the log buffer's address from open to load: native memory.
  const logBuffer = raw.alloc(logSize);
  const readLog = () => {
    const bytes = raw.view(logBuffer, logSize);
    const end = bytes.indexOf(0);
    return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? logSize : end).toString("utf8");
  };
  raw.view(logBuffer, 1)[0] = 0;
  let handle: bigint | null = null;
  try {
    handle = collect(() => raw.bpf_object__open_file(file, {
      sz: 80, object_name: null, relaxed_maps: false, pin_root_path: pinRoot, _unused_attach_prog_fd: 0,
      kconfig: null, btf_custom_path: null, kernel_log_buf: logBuffer, kernel_log_size: logSize, kernel_log_level: logLevel,
    }));
    if (handle === null) {
      const errno = raw.errno();
      throw new BpfLoadError(file, errno, lib.strerror(errno), { verifierLog: "", libbpfMessages: warnings(), hint: "libbpf could not open the ELF object" });
    }
    // Inner templates must be read now: libbpf frees them once the outer map exists.
    let pins = false;
    const innerTemplates = new Map<string, MapLayout>();
    for (let m = raw.bpf_object__next_map(handle, null); m !== null; m = raw.bpf_object__next_map(handle, m)) {
      if (raw.bpf_map__pin_path(m)) {
        if (options.pin === false) lib.check(raw.bpf_map__set_pin_path(m, null), { operation: "unpin", target: `map "${raw.bpf_map__name(m)}"` });
        else pins = true;
      }
      const inner = isMapOfMaps(raw.bpf_map__type(m)) ? raw.bpf_map__inner_map(m) : null;
      if (inner !== null) innerTemplates.set(raw.bpf_map__name(m), mapLayoutOf(lib, inner));
    }
    if (pins) ensurePinRoot(pinRoot);

    const ret = collect(() => raw.bpf_object__load(handle!));
    if (ret < 0) {
      const errno = -ret;
      const hint = errno === ERRNO.ENOSPC && logLevel > 0 ? `the verifier log did not fit in ${logSize} bytes; raise logSize` : undefined;
      const program = failedProgram(said);
      throw new BpfLoadError(file, errno, lib.strerror(errno), {
        verifierLog: readLog(), libbpfMessages: warnings(),
        ...(program !== undefined ? { program } : {}), ...(hint !== undefined ? { hint } : {}),
      });
    }
    const object = new BpfObject(lib, handle, file, logLevel > 0 ? readLog() : "", innerTemplates);
    handle = null; // owned by the object now
    return object;
  } finally {
    if (handle !== null) raw.bpf_object__close(handle);
    raw.free(logBuffer);
  }
}
