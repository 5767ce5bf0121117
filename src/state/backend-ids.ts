/**
 * Backend IDs for the backends of a state: one ID per address and port,
 * node-wide (wp_backends has one entry per ID, shared by every service
 * that lists the backend).
 *
 * Requirements, and how they are met:
 *
 * * **Deterministic.** The same set of backends gives the same IDs on every
 *   machine: IDs depend only on the endpoint texts, processed in code-point
 *   order.
 * * **Stable when unrelated services change.** Numbering the sorted list
 *   1, 2, 3, ... would renumber every backend sorting after a new one, in
 *   every service, so every Maglev table would change and every established
 *   flow would point at another backend's ID. Instead each backend's first
 *   choice is derived from its own text: the first four bytes of the
 *   SHA-256 of `10.0.1.5:8080` (`[fd00::5]:8080` for IPv6), modulo the ID
 *   range. A taken ID is probed linearly (the next one, wrapping). A backend
 *   therefore keeps its ID when others come and go, except when a new
 *   backend that sorts before it claims the ID it held through a collision:
 *   about `load` of the time for the backends that had collided, where
 *   `load` is the fraction of the range in use (1,000 backends in 16,383
 *   IDs: 6%). The same scheme as the identity allocator's numbers.
 * * **Small.** IDs stay below `limit` (default 16384, the datapath's
 *   WASMPLANE_MAX_BACKENDS): only IDs below it get per-backend counters and
 *   a next-hop cache entry. ID 0 is never handed out.
 * * **Continuity across runs** (the node agent): IDs the datapath already
 *   has (`previous`) are kept first when they are still in range and unique,
 *   so a backend never changes ID while it exists, whatever collides.
 *
 * Pure module.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { InvalidInputError } from "../errors.js";
import { byText } from "./fields.js";

/** The datapath's WASMPLANE_MAX_BACKENDS: IDs below it get counters and next-hop cache entries. */
export const DEFAULT_BACKEND_ID_LIMIT = 16384;

/** Options of {@link assignBackendIds}. */
export interface BackendIdOptions {
  /** IDs are chosen from 1 to `limit - 1`; default 16384. */
  limit?: number;
  /** IDs to keep where possible, by endpoint text (`10.0.1.5:8080`, `[fd00::5]:8080`). */
  previous?: ReadonlyMap<string, number>;
}

/** The first ID tried for `endpoint` in [1, limit). */
export function preferredBackendId(endpoint: string, limit = DEFAULT_BACKEND_ID_LIMIT): number {
  const digest = createHash("sha256").update(endpoint).digest();
  return (digest.readUInt32BE(0) % (limit - 1)) + 1;
}

/**
 * One ID per endpoint text (`10.0.1.5:8080`, `[fd00::5]:8080`).
 * @throws InvalidInputError (field `backends`) when there are more backends
 *   than IDs in the range, or for a bad `limit`.
 */
export function assignBackendIds(endpoints: Iterable<string>, options: BackendIdOptions = {}): Map<string, number> {
  const limit = options.limit ?? DEFAULT_BACKEND_ID_LIMIT;
  if (!Number.isInteger(limit) || limit < 2 || limit > 0xffffffff) {
    throw new InvalidInputError("backendIdLimit", limit, "must be an integer from 2 to 4294967295");
  }
  const sorted = [...new Set(endpoints)].sort(byText);
  if (sorted.length > limit - 1) {
    throw new InvalidInputError("backends", `${sorted.length} backends`, `must be at most ${limit - 1} (backend IDs 1 to ${limit - 1})`);
  }
  const ids = new Map<string, number>();
  const taken = new Set<number>();
  for (const endpoint of sorted) {
    const id = options.previous?.get(endpoint);
    if (id === undefined || !Number.isInteger(id) || id < 1 || id >= limit || taken.has(id)) continue;
    ids.set(endpoint, id);
    taken.add(id);
  }
  for (const endpoint of sorted) {
    if (ids.has(endpoint)) continue;
    let id = preferredBackendId(endpoint, limit);
    while (taken.has(id)) id = id === limit - 1 ? 1 : id + 1;
    ids.set(endpoint, id);
    taken.add(id);
  }
  return ids;
}

/** `10.0.1.5:8080`, `[fd00::5]:8080`: the text a backend's ID is derived from. */
export function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
