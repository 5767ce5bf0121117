/**
 * The three ways services reach the datapath: a full sync (the desired set;
 * everything else is removed), one service's upsert, one service's removal.
 * Each validates its input completely, decides every service's ID
 * (ids.ts), and hands one change to apply.ts, which writes it.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { formatIp } from "../net/ip.js";
import { applyChange, backendBytes, type SyncContext, type SyncResult } from "./apply.js";
import { assignServiceIds } from "./ids.js";
import { backendValue, WP_BACKEND_F, WP_FAMILY } from "./layouts.js";
import { validateService, validateServices, type LbService } from "./services.js";
import { hexOf } from "./state.js";

export type { SyncContext, SyncResult } from "./apply.js";

/**
 * Full sync: makes the datapath hold exactly `services`. Services keep
 * their IDs (by name, else by frontend); a table is rebuilt only when its
 * backends changed.
 *
 * @throws {@link InvalidInputError} naming the field for an invalid service,
 *   or for more services, VIPs, backends or random slots than the maps hold;
 *   nothing is written then.
 * @throws {@link BpfError} when the kernel refuses a write.
 */
export function syncServices(ctx: SyncContext, services: readonly LbService[]): SyncResult {
  const specs = validateServices(services);
  const { state } = ctx;
  const ids = assignServiceIds(specs, { byName: (n) => state.idOfName(n), byFrontend: (f) => state.idOfFrontend(f), isReserved: () => false });
  const kept = new Set(ids);
  return applyChange(ctx, {
    upserts: specs.map((spec, i) => ({ spec, id: ids[i]!, field: `services[${i}]` })),
    removals: [...state.services.values()].filter((s) => !kept.has(s.id)),
    full: true,
  });
}

/** `10.0.0.1:8080`, `[fd00::1]:80 (draining)` of a wp_backend value. */
function describeBackend(bytes: Uint8Array): string {
  const b = backendValue.decode(bytes);
  const ip = b.family === WP_FAMILY.IPV6 ? { family: 6 as const, bytes: b.addr } : { family: 4 as const, bytes: b.addr.slice(0, 4) };
  const host = formatIp(ip);
  return `${ip.family === 6 ? `[${host}]` : host}:${b.port}${b.flags & WP_BACKEND_F.DRAINING ? " (draining)" : ""}`;
}

/**
 * Adds or replaces one service: the one with the same name, else the one at
 * the same frontend. A backend it shares with other services must be the
 * same there (address, port, draining): wp_backends has one entry per ID.
 *
 * @throws {@link InvalidInputError} naming the field (`service.backends[0].address`);
 *   `DUPLICATE_BACKEND` for a backend ID that is another address elsewhere.
 * @throws {@link BpfError} when the kernel refuses a write.
 */
export function upsertService(ctx: SyncContext, service: LbService): SyncResult {
  const spec = validateService(service, "service");
  const { state } = ctx;
  const byName = state.idOfName(spec.name);
  const byFrontend = state.idOfFrontend(spec.frontend);
  if (byName !== undefined && byFrontend !== undefined && byName !== byFrontend) {
    const other = state.services.get(byFrontend)!;
    throw new InvalidInputError("service", spec.frontend, `is the frontend of another service (${other.name !== undefined ? `"${other.name}"` : `ID ${other.id}`})`);
  }
  const replaced = byName ?? byFrontend;
  const [id] = assignServiceIds([spec], {
    byName: () => byName, byFrontend: () => byFrontend, isReserved: (sid) => sid !== replaced && state.services.has(sid),
  }, () => "service");
  spec.backends.forEach((b, i) => {
    const applied = state.backends.get(b.id);
    if (!applied || hexOf(applied.value) === hexOf(backendBytes(b))) return;
    // The entry may change only when no other service lists it.
    const users = applied.users === undefined ? undefined : [...applied.users].filter((sid) => sid !== replaced);
    if (users !== undefined && users.length === 0) return;
    const where = users === undefined
      ? "the datapath (written before this process started; a full sync redefines backends)"
      : `service "${state.services.get(users[0]!)?.name ?? users[0]}"`;
    throw new InvalidInputError(`service.backends[${i}]`, b.id, `has ID ${b.id}, which is ${describeBackend(applied.value)} in ${where}: one backend ID is one address, port and draining state`, "DUPLICATE_BACKEND");
  });
  const previous = replaced === undefined ? undefined : state.services.get(replaced);
  return applyChange(ctx, {
    upserts: [{ spec, id: id!, field: "service" }],
    removals: previous && previous.id !== id ? [previous] : [],
    full: false,
  });
}

/**
 * Removes the service called `name` (or, for one restored from pins and not
 * synced since, at frontend `name`, e.g. `192.0.2.10:80/TCP`). `removed` is
 * 0 in the result when there is none.
 *
 * @throws {@link BpfError} when the kernel refuses a delete.
 */
export function removeService(ctx: SyncContext, name: string): SyncResult {
  const { state } = ctx;
  const id = state.idOfName(name) ?? state.idOfFrontend(name);
  return applyChange(ctx, { upserts: [], removals: id === undefined ? [] : [state.services.get(id)!], full: false });
}
