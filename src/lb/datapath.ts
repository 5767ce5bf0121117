/**
 * The XDP load balancer as one object: load (or reuse) the compiled
 * program and its pinned maps, write services, attach to interfaces, read
 * counters.
 *
 * Loading. The object (object-file.ts) gets its load-time knobs (flow-hash
 * seeds from the Maglev hash seed, outer TTL, UDP flow timeout) written into
 * a private copy (elf-globals.ts), which libbpf then loads. Every map is
 * pinned by name under `pinRoot`; when pins exist, libbpf reuses them, so a
 * restarted control plane sees the flows, affinity entries, counters and
 * services of the previous one, and established flows keep their backends.
 * What the pins hold is read back (state.ts) so that the next sync keeps
 * every service's ID.
 *
 * Attachments are netlink attachments: they outlive this process (the
 * datapath keeps forwarding while the control plane restarts).
 *
 * @module
 */
import { mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, unlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { attachXdp, type XdpAttachment, type XdpAttachOptions } from "../bpf/attach.js";
import { InvalidInputError } from "../errors.js";
import { loadObject, type BpfObject, type BpfProgram } from "../bpf/object.js";
import { DEFAULT_PIN_ROOT } from "../bpf/pin.js";
import { LayoutMismatchError } from "../bpf/errors.js";
import { createMaglev } from "../maglev/builder.js";
import { DEFAULT_HASH_SEED, type KeyFormat } from "../maglev/config.js";
import { mergeConfig, type DatapathConfig } from "./config.js";
import { readCounters, type DatapathCounters } from "./counters.js";
import { withGlobals } from "./elf-globals.js";
import { knobGlobals, resolveKnobs, type Knobs } from "./knobs.js";
import { configValue, u32Bytes, WP_ALG } from "./layouts.js";
import { compiledTableSize, lbMaps, type LbMaps } from "./maps.js";
import { locateObject } from "./object-file.js";
import type { LbService } from "./services.js";
import { restoreState, type DatapathState } from "./state.js";
import { removeService, syncServices, upsertService, type SyncContext, type SyncResult } from "./sync.js";
import { MaglevTables } from "./tables.js";

/** The XDP program's name in xdp_lb.c. */
export const LB_PROGRAM = "wasmplane_xdp_lb";

/** Names of the maps xdp_lb.o pins (bpf/lib/maps.h). */
export const LB_MAP_NAMES: readonly string[] = Object.freeze([
  "wp_vips", "wp_services", "wp_backends", "wp_maglev_outer", "wp_random_slots", "wp_flows", "wp_affinity", "wp_fragments",
  "wp_service_counters", "wp_backend_counters", "wp_drop_counters", "wp_config", "wp_next_hops",
]);

/** Options of {@link openDatapath}. */
export interface DatapathOptions extends DatapathConfig {
  /**
   * A compiled xdp_lb.o. Default: bpf/build/ of a source checkout, built with
   * clang when missing or stale; in an installed package, its prebuilt
   * dist/bpf/xdp_lb.o (default table size only).
   */
  object?: string;
  /** bpffs directory of the pinned maps; created when missing. Default `/sys/fs/bpf/wasmplane`. */
  pinRoot?: string;
  /** Base64 of 12 bytes: the Maglev permutation seed and the flow-hash seeds. Default Cilium's `JLfvgnHc2kaSUFaI`. */
  hashSeed?: string;
  /** Maglev table size M: the object's WASMPLANE_MAGLEV_M (read from it when not given; checked when given). */
  tableSize?: number;
  /** Maglev key format (see `createMaglev`). Default `cilium`. */
  keyFormat?: KeyFormat;
  /** TTL / hop limit of the outer header, 1 to 255. Default 64. Load-time knob. */
  encapTtl?: number;
  /** Idle seconds after which a UDP flow is balanced again; 0 never. Default 30. Load-time knob. */
  udpFlowTimeoutSeconds?: number;
  /**
   * Milliseconds a next hop from the kernel's FIB is reused per backend
   * before it is looked up again; 0 looks it up for every packet. Default
   * 1000. A route or neighbour change reaches established streams within
   * this time, or at once after {@link Datapath.flushNextHops}. Load-time knob.
   */
  nextHopCacheMs?: number;
  /** Receives warnings (a table size Cilium does not use; XDP falling back to generic mode). Default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** A service as the datapath holds it. */
export interface DatapathService {
  /** Service ID (flow and affinity entries and counters carry it). */
  id: number;
  /** Undefined for a service restored from pins and not synced since. */
  name: string | undefined;
  /** `192.0.2.10:80/TCP`, `[2001:db8::10]:53/UDP`. */
  frontend: string;
  /** How new flows pick a backend. */
  algorithm: "maglev" | "random";
  /** Active (not draining) backends. */
  backendCount: number;
  /** Seconds of session affinity, 0 for none. */
  affinityTimeoutSeconds: number;
  /** The Maglev table buffer packets read (0 or 1). */
  tableSlot: number;
}

/** The loaded load balancer. Methods are synchronous; call {@link Datapath.close} when done. */
export class Datapath {
  /** The loaded object (programs and maps), e.g. for `testRun(datapath.program, ...)`. */
  readonly object: BpfObject;
  /** The XDP program. */
  readonly program: BpfProgram;
  /** The object file it was loaded from (before its knobs were written). */
  readonly objectPath: string;
  /** Where the maps are pinned. */
  readonly pinRoot: string;
  /** M. */
  readonly tableSize: number;
  /** The base64 hash seed of tables and flow hashes. */
  readonly hashSeed: string;
  /** The load-time knobs the program was loaded with. */
  readonly knobs: Readonly<Knobs>;
  /** Whether the pinned maps already held services, backends or VIPs (a restart). */
  readonly restored: boolean;
  readonly #maps: LbMaps;
  readonly #state: DatapathState;
  readonly #sync: SyncContext;
  /** Attachments made here, with the name or index they were asked for. */
  readonly #attachments: { asked: string | number; attachment: XdpAttachment }[] = [];
  readonly #onWarning: (message: string) => void;

  /** @internal Use {@link openDatapath}. */
  constructor(parts: {
    object: BpfObject; objectPath: string; pinRoot: string; maps: LbMaps; state: DatapathState; tables: MaglevTables;
    hashSeed: string; knobs: Knobs; restored: boolean; onWarning: (message: string) => void;
  }) {
    this.object = parts.object;
    this.program = parts.object.program(LB_PROGRAM);
    this.objectPath = parts.objectPath;
    this.pinRoot = parts.pinRoot;
    this.tableSize = parts.tables.tableSize;
    this.hashSeed = parts.hashSeed;
    this.knobs = parts.knobs;
    this.restored = parts.restored;
    this.#maps = parts.maps;
    this.#state = parts.state;
    this.#sync = { maps: parts.maps, state: parts.state, tables: parts.tables };
    this.#onWarning = parts.onWarning;
  }

  /** The maps, by their role (for inspection and tests; writing them bypasses the sync's bookkeeping). */
  get maps(): Readonly<LbMaps> {
    return this.#maps;
  }

  /**
   * Makes the datapath hold exactly `services`: computes every changed
   * Maglev table in WebAssembly, writes backends, tables, random slots,
   * services and VIPs, and removes what is no longer listed. Established
   * flows keep their backends while those stay in some service.
   *
   * @throws {@link InvalidInputError} naming the field (`services[2].backends[0].address`),
   *   before anything is written.
   * @throws {@link BpfError} when the kernel refuses a write.
   */
  sync(services: readonly LbService[]): SyncResult {
    return syncServices(this.#sync, services);
  }

  /**
   * Adds or replaces one service (same name, else same frontend); other
   * services are untouched. A changed Maglev table goes into the service's
   * inactive buffer, then one update flips it.
   *
   * @throws {@link InvalidInputError} naming the field (`service.vip`), or
   *   `DUPLICATE_BACKEND` when a backend ID disagrees with another service.
   * @throws {@link BpfError} when the kernel refuses a write.
   */
  upsertService(service: LbService): SyncResult {
    return upsertService(this.#sync, service);
  }

  /**
   * Removes the service called `name` (a restored, unnamed service by its
   * frontend, `192.0.2.10:80/TCP`). Deleting its table waits one RCU grace
   * period (~10 ms).
   *
   * @throws {@link BpfError} when the kernel refuses a delete.
   */
  removeService(name: string): SyncResult {
    return removeService(this.#sync, name);
  }

  /** The services the datapath holds, by ID. */
  services(): DatapathService[] {
    return [...this.#state.services.values()].sort((a, b) => a.id - b.id).map((s) => ({
      id: s.id, name: s.name, frontend: s.frontend, algorithm: s.value.algorithm === WP_ALG.RANDOM ? "random" : "maglev",
      backendCount: s.value.backendCount, affinityTimeoutSeconds: s.value.affinityTimeoutSec, tableSlot: s.value.tableSlot,
    }));
  }

  /**
   * Changes the runtime configuration (wp_config); options not given keep
   * their value.
   *
   * @throws {@link InvalidInputError} naming the option.
   */
  configure(config: DatapathConfig): void {
    const key = u32Bytes(0);
    const current = configValue.decode(this.#maps.config.lookup(key)!);
    this.#maps.config.update(key, configValue.encode(mergeConfig(current, config)));
    // The cached FIB answers were looked up from the old source address.
    this.flushNextHops();
  }

  /**
   * Forgets every cached next hop (wp_next_hops), so that the next packet
   * to each backend asks the FIB again. Call it after a route, neighbour or
   * MTU change that must take effect before the cache expires
   * (`nextHopCacheMs`). Needs CAP_BPF.
   */
  flushNextHops(): void {
    const map = this.#maps.nextHops;
    const keys = new Uint32Array(map.maxEntries).map((_, id) => id); // host order, as the kernel reads u32 keys
    map.updateBatch(keys, new Uint8Array(map.valueBytes * map.maxEntries));
  }

  /**
   * Attaches the XDP program to `iface` (driver mode, else generic mode with
   * a warning). The attachment outlives this process. After a restart, pass
   * `replace: true` to take over from the previous instance of the program.
   * Needs CAP_NET_ADMIN.
   *
   * @throws {@link UnknownInterfaceError} (code `UNKNOWN_INTERFACE`) when there is no such interface.
   * @throws {@link BpfError} EBUSY when a program is attached and `replace` is not set.
   */
  attach(iface: string | number, options: XdpAttachOptions = {}): XdpAttachment {
    const attachment = attachXdp(this.program, iface, { onWarning: this.#onWarning, ...options });
    this.#attachments.push({ asked: iface, attachment });
    return attachment;
  }

  /**
   * Detaches this program from `iface` (the name or index given to
   * {@link Datapath.attach}), only if it is still the one attached there.
   * False when this object did not attach it there.
   *
   * @throws {@link BpfError} when the kernel refuses.
   */
  detach(iface: string | number): boolean {
    const i = this.#attachments.findIndex((a) => a.asked === iface || a.attachment.ifindex === iface);
    if (i < 0) return false;
    this.#attachments[i]!.attachment.detach();
    this.#attachments.splice(i, 1);
    return true;
  }

  /** Forwarded packets and bytes per service and backend, drops per reason. Needs CAP_BPF. */
  counters(): DatapathCounters {
    return readCounters(this.#maps, this.#state);
  }

  /**
   * Closes this process's descriptors (object, maps, inner tables).
   * Attachments and pins stay: the datapath keeps running. Idempotent.
   */
  close(): void {
    this.#state.closeTables();
    this.object.close();
  }
}

/**
 * Loads the XDP load balancer (or reuses its pinned maps) and returns a
 * handle to write services into it.
 *
 * Needs root or CAP_BPF + CAP_NET_ADMIN, a bpffs where `pinRoot` goes
 * (`mount -t bpf bpf /sys/fs/bpf`), libbpf 1.x, a kernel with BTF, XDP,
 * hash-of-maps and batch map operations (5.6+). Building the object (from a
 * checkout, or for a table size the package does not ship) needs clang and
 * the libbpf headers.
 *
 * @throws {@link InvalidInputError} for a bad option (hash seed, table size,
 *   address, MAC), or when no object is given and none is prebuilt or can be built.
 * @throws {@link KernelFeatureError} when libbpf, a bpffs or clang is missing.
 * @throws {@link BpfLoadError} when the verifier refuses the program, or a
 *   pinned map has another shape (libbpf: "couldn't reuse pinned map").
 * @throws {@link LayoutMismatchError} when the object's maps or table size
 *   differ from what this control plane writes.
 */
export async function openDatapath(options: DatapathOptions = {}): Promise<Datapath> {
  const onWarning = options.onWarning ?? ((m: string) => process.emitWarning(m, "WasmplaneWarning"));
  const hashSeed = options.hashSeed ?? DEFAULT_HASH_SEED;
  const knobs = resolveKnobs({
    hashSeed, encapTtl: options.encapTtl, udpFlowTimeoutSeconds: options.udpFlowTimeoutSeconds, nextHopCacheMs: options.nextHopCacheMs,
  });
  mergeConfig(configValue.decode(new Uint8Array(configValue.layout.size)), options); // validate before loading
  const objectPath = await locateObject({ object: options.object, tableSize: options.tableSize });
  const pinRoot = resolve(options.pinRoot ?? DEFAULT_PIN_ROOT);

  // libbpf reads .rodata from the file: load a private copy with the knobs written in.
  const scratch = mkdtempSync(join(tmpdir(), "wasmplane-lb-"));
  let object: BpfObject;
  try {
    const copy = join(scratch, "xdp_lb.o");
    writeFileSync(copy, withGlobals(readFileSync(objectPath), knobGlobals(knobs), ".rodata", objectPath));
    object = await loadObject(copy, { pinRoot });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  try {
    const maps = lbMaps(object);
    const compiled = compiledTableSize(maps);
    if (options.tableSize !== undefined && options.tableSize !== compiled) {
      throw new LayoutMismatchError(`table size of ${objectPath}`, [`the object holds tables of ${compiled} slots, tableSize is ${options.tableSize}; build with -DWASMPLANE_MAGLEV_M=${options.tableSize}`]);
    }
    const maglev = await createMaglev({ tableSize: compiled, hashSeed, keyFormat: options.keyFormat, onWarning });
    const state = restoreState(maps);
    const restored = state.services.size + state.backends.size + state.vips.size + state.outerIds.size > 0;
    const datapath = new Datapath({
      object, objectPath, pinRoot, maps, state, tables: new MaglevTables(maglev, maps.maglevOuter), hashSeed, knobs, restored, onWarning,
    });
    if (options.encapSource4 !== undefined || options.encapSource6 !== undefined || options.fallbackMac !== undefined) datapath.configure(options);
    return datapath;
  } catch (error) {
    object.close();
    throw error;
  }
}

/**
 * Removes the pins of the load balancer's maps under `pinRoot` (and the
 * directory when that leaves it empty). The maps are freed once no program
 * or process holds them: detach the program first. Needs root.
 *
 * @throws {@link InvalidInputError} when `pinRoot` is not a directory.
 */
export function unpinDatapath(pinRoot: string = DEFAULT_PIN_ROOT): void {
  const dir = resolve(pinRoot);
  if (!existsSync(dir)) return;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (cause) {
    throw new InvalidInputError("pinRoot", pinRoot, `cannot be listed: ${(cause as Error).message}`);
  }
  for (const name of LB_MAP_NAMES) if (entries.includes(name)) unlinkSync(join(dir, name));
  if (readdirSync(dir).length === 0) rmdirSync(dir);
}
