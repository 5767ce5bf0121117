/**
 * East-west service translation (bpf/lib/nat.h) from the host: loading a tc
 * object so that it shares the load balancer's maps and knobs, and reading
 * or flushing its reverse-NAT map (wp_rev_nat).
 *
 * The tc programs on pods' veths translate ClusterIP traffic with the very
 * services, backends, Maglev tables and flow LRU that {@link Datapath}
 * writes for the XDP load balancer: every map is pinned by name under the
 * datapath's pin root, and libbpf reuses a pinned map of the same name and
 * shape. {@link loadWithDatapath} loads a tc object that way, with the
 * datapath's flow-hash seeds written into its `.rodata` (a client then
 * reaches the same backend through either path), and checks that each
 * shared map is the datapath's own (same kernel map ID), not a fresh one.
 *
 * Layout of wp_rev_nat (abi.h, "wp_rev_nat"): key struct wp_flow_key of the
 * reply (backend → client), value struct wp_rev_nat_value (the frontend the
 * client addressed, service and backend IDs). {@link REV_NAT_VALUE_LAYOUT} mirrors
 * the value; test/tc-nat.test.ts checks it against the object's BTF.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { StructLayout } from "../bpf/btf-layout.js";
import { LayoutMismatchError } from "../bpf/errors.js";
import type { BpfMap, MapLayout } from "../bpf/map.js";
import { loadObject, type BpfObject } from "../bpf/object.js";
import { openPinnedMap } from "../bpf/pin.js";
import { InvalidInputError } from "../errors.js";
import { formatIp } from "../net/ip.js";
import type { Datapath } from "./datapath.js";
import { withGlobals } from "./elf-globals.js";
import { knobGlobals } from "./knobs.js";
import { flowKey, LAYOUTS, readU32, WP_FAMILY, type WpFamily } from "./layouts.js";
import { LB_PROTOCOL_NUMBERS, type LbProtocol } from "./services.js";

/** Name of the reverse-NAT map in bpf/lib/nat.h. */
export const REV_NAT_MAP = "wp_rev_nat";

/** Default capacity of wp_rev_nat (abi.h WASMPLANE_REV_NAT_LRU_SIZE). */
export const DEFAULT_REV_NAT_ENTRIES = 131072;

/** struct wp_rev_nat_value, as const (offsets used by the decoder). */
const REV_NAT_VALUE = {
  size: 28,
  fields: {
    vip: { offset: 0, size: 16 }, port: { offset: 16, size: 2 }, pad: { offset: 18, size: 2 },
    service_id: { offset: 20, size: 4 }, backend_id: { offset: 24, size: 4 },
  },
} as const satisfies StructLayout;

/**
 * `struct wp_rev_nat_value` of abi.h (the value of wp_rev_nat): C member
 * offsets and sizes, for `assertLayoutMatchesBtf`.
 */
export const REV_NAT_VALUE_LAYOUT: StructLayout = REV_NAT_VALUE;

/** One translated flow as its reverse-NAT entry records it. */
export interface ReverseNatEntry {
  /** `TCP`, `UDP` or `SCTP`. */
  protocol: LbProtocol;
  /** Address family of every address of the entry: 4 or 6. */
  family: 4 | 6;
  /** The client (a pod) that addressed the frontend, canonical text. */
  client: string;
  /** The client's port. */
  clientPort: number;
  /** The backend the flow was translated to, canonical text. */
  backend: string;
  /** The backend's port. */
  backendPort: number;
  /** The frontend (VIP) the client addressed, canonical text: replies get it as their source. */
  frontend: string;
  /** The frontend's port. */
  frontendPort: number;
  /** Service ID of the frontend (as in {@link DatapathService.id}). */
  serviceId: number;
  /** Backend ID the flow was given. */
  backendId: number;
}

/** Which entries {@link ReverseNat.flush} deletes: every entry matching all given fields; none given: all. */
export interface ReverseNatFilter {
  /** Entries of this service ID. */
  serviceId?: number;
  /** Entries translated to this backend ID. */
  backendId?: number;
}

const PROTOCOL_NAMES = new Map<number, LbProtocol>(Object.entries(LB_PROTOCOL_NUMBERS).map(([name, n]) => [n, name as LbProtocol]));

function addressText(bytes: Uint8Array, family: WpFamily): string {
  return family === WP_FAMILY.IPV6 ? formatIp({ family: 6, bytes }) : formatIp({ family: 4, bytes: bytes.slice(0, 4) });
}

/** Decodes one wp_rev_nat entry (key: the reply's wp_flow_key; value: wp_rev_nat_value); undefined for an unknown protocol. */
export function decodeReverseNat(key: Uint8Array, value: Uint8Array): ReverseNatEntry | undefined {
  const k = flowKey.decode(key);
  const protocol = PROTOCOL_NAMES.get(k.protocol);
  if (!protocol) return undefined;
  const f = REV_NAT_VALUE.fields;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return {
    protocol, family: k.family,
    backend: addressText(k.saddr, k.family), backendPort: k.sport,
    client: addressText(k.daddr, k.family), clientPort: k.dport,
    frontend: addressText(value.slice(f.vip.offset, f.vip.offset + 16), k.family),
    frontendPort: view.getUint16(f.port.offset, false),
    serviceId: readU32(value, f.service_id.offset), backendId: readU32(value, f.backend_id.offset),
  };
}

/** The reverse-NAT map of the tc service translation. Methods are synchronous and need CAP_BPF. */
export class ReverseNat {
  /** The map (owned by the object or handle it came from). */
  readonly map: BpfMap;

  /**
   * Wraps `map`, checking its key and value sizes against abi.h.
   *
   * @throws {@link LayoutMismatchError} when the map is not shaped like wp_rev_nat.
   */
  constructor(map: BpfMap) {
    const differences: string[] = [];
    if (map.keySize !== LAYOUTS.wp_flow_key.size) differences.push(`key is ${map.keySize} bytes, abi.h says ${LAYOUTS.wp_flow_key.size}`);
    if (map.valueSize !== REV_NAT_VALUE.size) differences.push(`value is ${map.valueSize} bytes, abi.h says ${REV_NAT_VALUE.size}`);
    if (differences.length > 0) throw new LayoutMismatchError(`map "${map.name}" against wp_rev_nat (abi.h)`, differences);
    this.map = map;
  }

  /** Every entry (a snapshot: the datapath adds and the LRU evicts meanwhile). */
  entries(): ReverseNatEntry[] {
    const out: ReverseNatEntry[] = [];
    for (const [key, value] of this.map.entries()) {
      const entry = decodeReverseNat(key, value);
      if (entry) out.push(entry);
    }
    return out;
  }

  /**
   * Deletes the entries matching `filter` (all entries without one), e.g.
   * those of a removed service or backend, whose replies must no longer
   * be given the frontend as source. Returns how many were deleted.
   *
   * @throws {@link InvalidInputError} for an ID that is not an unsigned 32-bit integer.
   */
  flush(filter: ReverseNatFilter = {}): number {
    for (const field of ["serviceId", "backendId"] as const) {
      const v = filter[field];
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new InvalidInputError(`filter.${field}`, v, "must be an unsigned 32-bit integer");
    }
    const f = REV_NAT_VALUE.fields;
    const doomed: Uint8Array[] = [];
    for (const [key, value] of this.map.entries()) {
      if (filter.serviceId !== undefined && readU32(value, f.service_id.offset) !== filter.serviceId) continue;
      if (filter.backendId !== undefined && readU32(value, f.backend_id.offset) !== filter.backendId) continue;
      doomed.push(key);
    }
    let deleted = 0;
    for (const key of doomed) if (this.map.delete(key)) deleted++;
    return deleted;
  }
}

/**
 * Opens the pinned wp_rev_nat under `pinRoot` (a restarted agent, or a
 * process that did not load the tc object), checked against abi.h. The
 * caller closes `map` when done.
 *
 * @param maxEntries the object's WASMPLANE_REV_NAT_LRU_SIZE.
 * @throws {@link BpfError} ENOENT when nothing is pinned there.
 * @throws {@link LayoutMismatchError} when the pinned map has another shape.
 */
export async function openReverseNat(pinRoot: string, maxEntries: number = DEFAULT_REV_NAT_ENTRIES): Promise<ReverseNat> {
  const layout: MapLayout = { type: "lru_hash", keySize: LAYOUTS.wp_flow_key.size, valueSize: REV_NAT_VALUE.size, maxEntries };
  return new ReverseNat(await openPinnedMap(join(resolve(pinRoot), REV_NAT_MAP), layout, REV_NAT_MAP));
}

/**
 * Loads a BPF object that includes bpf/lib/nat.h (a tc program such as
 * tc_endpoint.o) so that it shares `datapath`'s maps and knobs: its
 * load-time globals (flow-hash seeds, UDP flow timeout) are set to the
 * datapath's in a private copy, and its pinned maps are taken from the
 * datapath's pin root. Then every map the object shares by name with the
 * load balancer is checked to be the datapath's own map (same kernel ID).
 * Needs CAP_BPF; the object must declare the knobs of bpf/lib/config.h.
 *
 * @throws {@link InvalidInputError} when the object lacks a knob global.
 * @throws {@link BpfLoadError} when the verifier refuses a program, or a
 *   pinned map has another shape.
 * @throws {@link LayoutMismatchError} when a shared map is not the
 *   datapath's (the object was not built from the same maps.h); the object
 *   is closed.
 */
export async function loadWithDatapath(path: string, datapath: Datapath): Promise<BpfObject> {
  const scratch = mkdtempSync(join(tmpdir(), "wasmplane-nat-"));
  let object: BpfObject;
  try {
    const copy = join(scratch, basename(path));
    writeFileSync(copy, withGlobals(readFileSync(path), knobGlobals(datapath.knobs), ".rodata", path));
    object = await loadObject(copy, { pinRoot: datapath.pinRoot });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  try {
    const differences: string[] = [];
    for (const [role, map] of Object.entries(datapath.maps) as [string, BpfMap][]) {
      if (!object.maps.has(map.name)) continue;
      const ours = object.map(map.name).id();
      const theirs = map.id();
      if (ours !== theirs) differences.push(`${map.name} (${role}) is map ${ours}, the datapath's is ${theirs}`);
    }
    if (differences.length > 0) throw new LayoutMismatchError(`the maps of ${path} against the datapath pinned at ${datapath.pinRoot}`, differences);
    return object;
  } catch (error) {
    object.close();
    throw error;
  }
}
