/**
 * The endpoint policy datapath's control plane: loads tc_endpoint.o,
 * attaches its two programs to endpoints' host-side veths, and keeps its
 * maps equal to what the policy engine computes.
 *
 *   engine / cluster ──policyMap(), deltas, ipcache──▶ plan (state.ts: validate, minimal)
 *                                                        │ nothing written when refused
 *                                                        ▼
 *   wp_policy_counters (new slots zeroed) → wp_policy → wp_ipcache adds → wp_ipcache deletes → wp_policy deletes
 *
 * Writes go first and deletes last, so a peer's new identity has its
 * entries before the ipcache hands it out, and a removed prefix leaves the
 * ipcache before its identity's entries go. When the writes would not fit
 * a full map before the deletes free room, deletes go first.
 *
 * Maps are pinned by name under `pinRoot` and read back on open, so a
 * restarted control plane knows what the datapath holds. Two ways to pin:
 *
 *   - `loadBalancer: datapath` (src/lb's Datapath): the object is loaded on
 *     the load balancer's pin root with its knobs (lb/nat.ts,
 *     loadWithDatapath), so service translation reads the very services,
 *     backends, Maglev tables and flow LRU that the load balancer's control
 *     plane writes, and each shared map is checked to be the same kernel
 *     map. The endpoint's own maps are pinned next to them.
 *   - otherwise /sys/fs/bpf/wasmplane-endpoints (or `pinRoot`): a root of
 *     its own, with service maps of its own that nothing writes, so no
 *     ClusterIP is translated. Policy alone.
 *
 * @module
 */
import { existsSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { attachTc, interfaceIndex, type TcAttachment, type TcAttachOptions } from "../bpf/attach.js";
import { loadObject, type BpfObject, type BpfProgram } from "../bpf/object.js";
import { InvalidInputError } from "../errors.js";
import { LB_MAP_NAMES, type Datapath } from "../lb/datapath.js";
import { loadWithDatapath } from "../lb/nat.js";
import { formatIp } from "../net/ip.js";
import type { IpcacheEntry, PolicyDelta } from "../policy/delta.js";
import type { PolicyEngine } from "../policy/engine.js";
import type { PolicyMapEntry, SubjectDelta } from "../policy/resolver-host.js";
import { readDropCounters, readPolicyCounters, type EndpointDropReason, type PacketCount, type PolicyEntryCounter } from "./counters.js";
import { MapFullError } from "./errors.js";
import {
  decodeConntrack, decodeIdentityValue, decodeIpcachePrefix, decodePolicyKey, decodePolicyValue, encodeIdentityValue, u32Key,
  WP_FAMILY, WP_IPCACHE_PREFIX_BASE, WP_PREC, type ConntrackEntry,
} from "./layouts.js";
import { endpointMaps, type EndpointMaps } from "./maps.js";
import { locateEndpointObject } from "./object-file.js";
import { PolicyState, type HeldPolicyEntry, type Plan } from "./state.js";
import { writePlan } from "./write.js";

/** Where the endpoint datapath pins its maps by default. */
export const DEFAULT_ENDPOINT_PIN_ROOT = "/sys/fs/bpf/wasmplane-endpoints";
/** The program for tc ingress of the host-side veth: the endpoint's egress. */
export const FROM_ENDPOINT_PROGRAM = "wasmplane_from_endpoint";
/** The program for tc egress of the host-side veth: the endpoint's ingress. */
export const TO_ENDPOINT_PROGRAM = "wasmplane_to_endpoint";

/** Options of {@link openEndpointDatapath}. */
export interface EndpointDatapathOptions {
  /** A compiled tc_endpoint.o. Default: bpf/build/tc_endpoint.o of a checkout, built when stale; in an installed package, its prebuilt dist/bpf/tc_endpoint.o. */
  object?: string;
  /** bpffs directory for the pinned maps. Default {@link DEFAULT_ENDPOINT_PIN_ROOT}. */
  pinRoot?: string;
  /** false: pin nothing (fresh maps on every open; for tests). Default true. */
  pin?: boolean;
  /**
   * The load balancer (src/lb `openDatapath`) whose services pods reach
   * through ClusterIP translation: the object is loaded on its pin root
   * with its knobs and built for its table size, and every map it shares
   * with it (services, backends, tables, flow LRU, counters) is checked to
   * be the load balancer's own. Excludes `pinRoot` (other than the load
   * balancer's) and `pin: false`. Default: none (a pin root of its own; no
   * service is translated).
   */
  loadBalancer?: Datapath;
}

/** Where policy comes from: an engine, and (a cluster has one) the full ipcache. */
export interface PolicySource {
  /** The engine whose policy maps are written (`policyMap(subject)`). */
  readonly engine: PolicyEngine;
  /** The whole ipcache, when the source knows it (`Cluster.ipcache()`). */
  ipcache?(): Array<IpcacheEntry>;
}

/** What one change wrote. */
export interface ApplyResult {
  /** wp_policy entries written (new keys and changed values). */
  policyWritten: number;
  /** wp_policy entries deleted. */
  policyDeleted: number;
  /** wp_ipcache prefixes written. */
  ipcacheWritten: number;
  /** wp_ipcache prefixes deleted. */
  ipcacheDeleted: number;
}

/** Both programs attached to one endpoint's interface. */
export interface EndpointAttachment {
  /** The interface's index. */
  readonly ifindex: number;
  /** The endpoint's identity. */
  readonly identity: number;
  /** Detaches both programs and unregisters the endpoint. Idempotent. */
  detach(): void;
}

/** Every counter of the endpoint datapath. */
export interface EndpointCounters {
  /** Drops by reason. */
  drops: Record<EndpointDropReason, PacketCount>;
  /** Per policy entry: what it decided. */
  policy: PolicyEntryCounter[];
}

function entryOf(key: Uint8Array, value: Uint8Array): { subject: number; entry: PolicyMapEntry; slot: number } {
  const k = decodePolicyKey(key);
  const v = decodePolicyValue(value);
  const portBits = Math.max(0, k.prefixLength - 8);
  const entry: PolicyMapEntry = {
    identity: k.peer, direction: k.direction, protocol: k.protocol,
    port: k.prefixLength < 8 ? 0 : k.port,
    endPort: k.prefixLength < 8 ? 65535 : k.port + (1 << (16 - portBits)) - 1,
    prefixLength: k.prefixLength,
    deny: v.precedence === WP_PREC.DENY, proxy: v.precedence === WP_PREC.ALLOW_PROXY, precedence: v.precedence,
  };
  return { subject: k.subject, entry, slot: v.counter };
}

function prefixOf(key: Uint8Array): string {
  const bits = new DataView(key.buffer, key.byteOffset).getUint32(0, true) - WP_IPCACHE_PREFIX_BASE;
  const v6 = key[4] === WP_FAMILY.IPV6;
  return `${formatIp(v6 ? { family: 6, bytes: key.slice(8, 24) } : { family: 4, bytes: key.slice(8, 12) })}/${bits}`;
}

function checkIdentity(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 0xffffffff) throw new InvalidInputError(field, value, "must be an identity number (1 to 4294967295)");
  return value;
}

/** A loaded endpoint datapath. Close it when done; pins and attachments stay. */
export class EndpointDatapath {
  /** The loaded object. */
  readonly object: BpfObject;
  /** Its maps. */
  readonly maps: EndpointMaps;
  /** Where the maps are pinned (undefined with `pin: false`). */
  readonly pinRoot: string | undefined;
  readonly #state: PolicyState;
  readonly #endpoints = new Map<number, number>();
  readonly #attachments = new Map<number, TcAttachment[]>();

  /** @internal Use {@link openEndpointDatapath}. */
  constructor(object: BpfObject, maps: EndpointMaps, pinRoot: string | undefined) {
    this.object = object;
    this.maps = maps;
    this.pinRoot = pinRoot;
    this.#state = new PolicyState(maps.policy.maxEntries, maps.ipcache.maxEntries);
    this.#restore();
    this.#apply(this.#state.plan([])); // the hashes in front of the tries, repaired if they differ
  }

  /** The program for tc ingress of a host-side veth (the endpoint's egress). */
  get fromEndpoint(): BpfProgram {
    return this.object.program(FROM_ENDPOINT_PROGRAM);
  }

  /** The program for tc egress of a host-side veth (the endpoint's ingress). */
  get toEndpoint(): BpfProgram {
    return this.object.program(TO_ENDPOINT_PROGRAM);
  }

  #restore(): void {
    for (const [key, value] of this.maps.policy.entries()) {
      const { subject, entry, slot } = entryOf(key, value);
      this.#state.restoreEntry({ subject, entry, key, slot });
    }
    this.#state.restoreFreeSlots();
    for (const [key, value] of this.maps.ipcache.entries()) this.#state.ipcache.set(prefixOf(key), decodeIdentityValue(value));
    this.#state.restoreExact(this.maps.policyExact.entries(), [...this.maps.ipcacheExact.entries()].map(([k, v]) => [decodeIpcachePrefix(k), decodeIdentityValue(v)]));
    for (const [key, value] of this.maps.endpoints.entries()) {
      this.#endpoints.set(new DataView(key.buffer).getUint32(0, true), decodeIdentityValue(value));
    }
  }

  // ---- endpoints ------------------------------------------------------------------

  /**
   * Names the endpoint behind interface `ifindex`: its packets are decided
   * by `identity`'s policy map (write that map first: an identity without
   * entries denies everything). Re-registering changes the identity.
   *
   * @throws {@link InvalidInputError} for a bad ifindex or identity.
   * @throws {@link MapFullError} when wp_endpoints is full.
   */
  registerEndpoint(ifindex: number, identity: number): void {
    if (!Number.isInteger(ifindex) || ifindex < 1 || ifindex > 0x7fffffff) throw new InvalidInputError("ifindex", ifindex, "must be an interface index");
    checkIdentity("identity", identity);
    if (!this.#endpoints.has(ifindex) && this.#endpoints.size >= this.maps.endpoints.maxEntries) {
      throw new MapFullError("wp_endpoints", this.#endpoints.size + 1, this.maps.endpoints.maxEntries, `endpoint ${ifindex}`);
    }
    this.maps.endpoints.update(u32Key(ifindex), encodeIdentityValue(identity));
    this.#endpoints.set(ifindex, identity);
  }

  /** Forgets an endpoint: its packets pass untouched. False when it was not registered. */
  unregisterEndpoint(ifindex: number): boolean {
    if (!this.#endpoints.has(ifindex)) return false;
    this.maps.endpoints.delete(u32Key(ifindex));
    this.#endpoints.delete(ifindex);
    return true;
  }

  /** Registered endpoints: ifindex → identity. */
  endpoints(): ReadonlyMap<number, number> {
    return new Map(this.#endpoints);
  }

  /**
   * Registers the endpoint behind `iface` (name or index, in this network
   * namespace) and attaches both programs to it: from_endpoint on tc
   * ingress, to_endpoint on tc egress. Needs CAP_NET_ADMIN.
   *
   * `options` go to both filters: a fixed `handle` and `priority` with
   * `replace: true` swap in this object's programs in place of the filters
   * a previous run attached there (a restarted node agent), without a
   * moment with no program.
   *
   * @throws {@link UnknownInterfaceError} for an unknown interface.
   * @throws {@link BpfError} from netlink (nothing stays registered or attached).
   */
  async attach(iface: string | number, identity: number, options: TcAttachOptions = {}): Promise<EndpointAttachment> {
    const ifindex = await interfaceIndex(iface);
    const previous = this.#endpoints.get(ifindex);
    this.registerEndpoint(ifindex, identity);
    const attached: TcAttachment[] = [];
    try {
      attached.push(attachTc(this.fromEndpoint, ifindex, "ingress", options));
      attached.push(attachTc(this.toEndpoint, ifindex, "egress", options));
    } catch (error) {
      for (const a of attached) a.detach();
      if (previous === undefined) this.unregisterEndpoint(ifindex);
      else this.registerEndpoint(ifindex, previous);
      throw error;
    }
    this.#attachments.set(ifindex, [...(this.#attachments.get(ifindex) ?? []), ...attached]);
    let live = true;
    return {
      ifindex,
      identity,
      detach: () => {
        if (!live) return;
        live = false;
        for (const a of attached) a.detach();
        this.#attachments.set(ifindex, (this.#attachments.get(ifindex) ?? []).filter((a) => !attached.includes(a)));
        this.unregisterEndpoint(ifindex);
      },
    };
  }

  // ---- policy and ipcache ------------------------------------------------------------

  /**
   * Applies a policy engine delta (or a cluster change): the entries of
   * every subject it lists and the ipcache prefixes it adds and removes, as
   * the minimal set of map writes. Everything is validated first; a change
   * that cannot be encoded or does not fit is refused whole.
   *
   * @throws {@link InvalidInputError} for an entry or prefix that cannot be encoded.
   * @throws {@link MapFullError} when wp_policy or wp_ipcache would overflow (nothing written).
   * @throws {@link BpfError} when the kernel refuses a write (the bookkeeping is then read back from the maps).
   */
  applyDelta(delta: PolicyDelta): ApplyResult {
    return this.#apply(this.#state.plan(delta.endpoints, delta.ipcache));
  }

  /**
   * Makes `subject`'s entries exactly `entries` (from `engine.policyMap(subject)`).
   * @throws as {@link EndpointDatapath.applyDelta}.
   */
  writePolicyMap(subject: number, entries: readonly PolicyMapEntry[]): ApplyResult {
    checkIdentity("subject", subject);
    return this.#apply(this.#state.plan([this.#state.replaceDelta(subject, entries)]));
  }

  /**
   * Makes the ipcache exactly `entries`.
   * @throws as {@link EndpointDatapath.applyDelta}.
   */
  setIpcache(entries: readonly IpcacheEntry[]): ApplyResult {
    return this.#apply(this.#state.plan([], this.#state.replaceIpcache(entries)));
  }

  /**
   * Full sync from a source: the policy maps of `subjects` (default: the
   * registered endpoints' identities and every subject the datapath holds;
   * a subject the engine no longer knows loses its entries) and, when the
   * source has one (a cluster), the whole ipcache. One validated plan.
   *
   * @throws as {@link EndpointDatapath.applyDelta}.
   */
  sync(source: PolicySource, options: { subjects?: readonly number[] } = {}): ApplyResult {
    const subjects = new Set<number>(options.subjects ?? [...this.#endpoints.values(), ...this.#state.subjects()]);
    for (const s of this.#state.subjects()) subjects.add(s);
    const deltas: SubjectDelta[] = [];
    for (const subject of [...subjects].sort((a, b) => a - b)) {
      let entries: PolicyMapEntry[] = [];
      try {
        entries = source.engine.policyMap(subject);
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
      }
      deltas.push(this.#state.replaceDelta(subject, entries));
    }
    const ipcache = source.ipcache ? this.#state.replaceIpcache(source.ipcache()) : undefined;
    return this.#apply(this.#state.plan(deltas, ipcache));
  }

  /** The entries the datapath holds (of `subject` only, when given). */
  policyEntries(subject?: number): HeldPolicyEntry[] {
    return subject === undefined ? [...this.#state.entries.values()] : this.#state.entriesOf(subject);
  }

  /** The ipcache the datapath holds: prefix → identity. */
  ipcache(): ReadonlyMap<string, number> {
    return new Map(this.#state.ipcache);
  }

  #apply(plan: Plan): ApplyResult {
    try {
      writePlan(this.maps, plan);
    } catch (error) {
      // The kernel refused part of the plan: learn what the maps hold now.
      this.#state.clear();
      this.#restore();
      throw error;
    }
    this.#state.commit(plan);
    return {
      policyWritten: plan.policyWrites.length,
      policyDeleted: plan.policyDeletes.length,
      ipcacheWritten: plan.ipcacheWrites.length,
      ipcacheDeleted: plan.ipcacheDeletes.length,
    };
  }

  // ---- reading -------------------------------------------------------------------------

  /** Drop counters and per-entry counters (of `subject` only, when given). Needs CAP_BPF. */
  counters(subject?: number): EndpointCounters {
    return { drops: readDropCounters(this.maps.dropCounters), policy: readPolicyCounters(this.maps.policyCounters, this.#state, subject) };
  }

  /** Every connection tracking entry, live or expired (compare `expiresNs` with CLOCK_MONOTONIC). */
  conntrack(): ConntrackEntry[] {
    return [...this.maps.conntrack.entries()].map(([k, v]) => decodeConntrack(k, v));
  }

  /**
   * Removes the pins of the maps only the endpoint object has (policy,
   * ipcache, endpoints, conntrack, reverse NAT, flow events; not the load
   * balancer's maps, even in a root of its own: `unpinDatapath(pinRoot)`
   * of src/lb removes those and the emptied directory). The maps live on
   * while this object or an attached program holds them. Returns the names
   * unpinned; nothing when not pinned.
   */
  unpin(): string[] {
    if (this.pinRoot === undefined) return [];
    const removed: string[] = [];
    for (const name of this.object.maps.keys()) {
      if (LB_MAP_NAMES.includes(name) || name.includes(".")) continue;
      const path = join(this.pinRoot, name);
      if (!existsSync(path)) continue;
      unlinkSync(path);
      removed.push(name);
    }
    return removed;
  }

  /** Closes the object. Pinned maps and attached programs stay in the kernel. */
  close(): void {
    this.object.close();
  }
}

/**
 * Loads the endpoint policy programs and their maps (reusing pinned maps)
 * and reads back what the maps hold. With `loadBalancer`, on that load
 * balancer's pin root and maps (see {@link EndpointDatapathOptions.loadBalancer}).
 *
 * @throws {@link InvalidInputError} when no object is given and none can be built,
 *   or `loadBalancer` comes with `pin: false` or another `pinRoot`.
 * @throws {@link KernelFeatureError} when libbpf, a bpffs or clang is missing.
 * @throws {@link BpfLoadError} when the verifier refuses a program or a pinned map has another shape.
 * @throws {@link LayoutMismatchError} when the object's maps differ from abi.h,
 *   or a map shared with `loadBalancer` is not the load balancer's.
 */
export async function openEndpointDatapath(options: EndpointDatapathOptions = {}): Promise<EndpointDatapath> {
  const lb = options.loadBalancer;
  if (lb !== undefined) {
    if (options.pin === false) throw new InvalidInputError("pin", false, "cannot be false with loadBalancer: the maps are shared through the load balancer's pins");
    if (options.pinRoot !== undefined && resolve(options.pinRoot) !== resolve(lb.pinRoot)) {
      throw new InvalidInputError("pinRoot", options.pinRoot, `must be the load balancer's (${lb.pinRoot}) or left out`);
    }
  }
  const path = await locateEndpointObject(options.object, lb?.tableSize);
  const pin = options.pin ?? true;
  const pinRoot = lb ? resolve(lb.pinRoot) : pin ? resolve(options.pinRoot ?? DEFAULT_ENDPOINT_PIN_ROOT) : undefined;
  const object = lb ? await loadWithDatapath(path, lb) : await loadObject(path, pin ? { pinRoot } : { pin: false });
  try {
    return new EndpointDatapath(object, endpointMaps(object), pinRoot);
  } catch (error) {
    object.close();
    throw error;
  }
}
