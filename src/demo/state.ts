/**
 * The demo's copy of examples/demo, which the agent watches: copied into the
 * run directory at the start, edited while the agent runs (one backend
 * removed from the EndpointSlice, as the EndpointSlice controller does when
 * a pod goes away), and read with the same translation the agent uses, so
 * the demo knows the service's backends, their IDs and the Maglev table
 * they give.
 *
 * @module
 */
import { cpSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { createMaglev } from "../maglev/builder.js";
import { WasmplaneError } from "../errors.js";
import type { LbService } from "../lb/services.js";
import { loadKubeState } from "../state/read.js";
import { translateServices, type NodeSettings } from "../state/translate.js";
import { TOPOLOGY } from "./topology.js";

/** The file of the copy that holds the service's EndpointSlice. */
const SLICE_FILE = "50-endpointslices.yaml";

/** The load-balanced service as the agent derives it from the state, and its Maglev table. */
export interface ServiceView {
  readonly service: LbService;
  readonly settings: NodeSettings;
  /** Backend ID by endpoint text (`10.244.2.11:80`), to keep IDs across a change as the agent does. */
  readonly backendIds: ReadonlyMap<string, number>;
  /** The Maglev table of the service's active backends (backend IDs, M entries). */
  readonly table: Uint32Array;
}

/** Copies `source` (examples/demo) to `target`. */
export function copyState(source: string, target: string): void {
  cpSync(source, target, { recursive: true });
}

/**
 * The service with the demo's LoadBalancer address, as translated from the
 * state in `dir` (keeping the IDs in `previous`), and its Maglev table.
 * @throws WasmplaneError when the state has errors or lacks that service
 */
export async function readService(dir: string, previous?: ReadonlyMap<string, number>): Promise<ServiceView> {
  const state = await loadKubeState(dir);
  if (state.errors.length > 0) throw new WasmplaneError("INVALID_INPUT", `the demo's state ${dir}: ${state.errors[0]!.message}`);
  const t = translateServices(state, previous ? { previousBackendIds: previous } : {});
  const service = t.services.find((s) => s.vip === TOPOLOGY.vip && s.port === TOPOLOGY.vipPort);
  if (!service) throw new WasmplaneError("INVALID_INPUT", `the demo's state ${dir} has no service on ${TOPOLOGY.vip}:${TOPOLOGY.vipPort}`);
  const builder = await createMaglev({ tableSize: t.settings.tableSize, hashSeed: t.settings.hashSeed, keyFormat: t.settings.keyFormat });
  // As src/lb/tables.ts builds it: active backends only, the service's protocol, weights.
  const active = service.backends.filter((b) => !b.draining);
  const table = builder.build(active.map((b) => ({ id: b.id, address: b.address, port: b.port, protocol: service.protocol as "TCP", weight: b.weight ?? 1 })));
  const backendIds = new Map(t.backends.map((b) => [`${b.address}:${b.port}`, b.id]));
  return { service, settings: t.settings, backendIds, table };
}

/**
 * Removes the endpoint with `address` from the EndpointSlice of the copy in
 * `dir`. The file is replaced with a rename, so the agent never reads half
 * of it (the temporary name starts with a dot, which state readers skip).
 */
export function removeEndpoint(dir: string, address: string): void {
  const file = join(dir, SLICE_FILE);
  const doc = parseDocument(readFileSync(file, "utf8"));
  const endpoints = doc.get("endpoints") as { items: { toJSON(): { addresses?: string[] } }[] } | undefined;
  const index = endpoints?.items.findIndex((e) => e.toJSON().addresses?.includes(address)) ?? -1;
  if (index < 0) throw new WasmplaneError("INVALID_INPUT", `${file}: no endpoint with address ${address}`);
  endpoints!.items.splice(index, 1);
  const scratch = join(dir, `.${SLICE_FILE}.new`);
  writeFileSync(scratch, doc.toString());
  renameSync(scratch, file);
}
