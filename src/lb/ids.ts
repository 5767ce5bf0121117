/**
 * Service IDs: which ID each service of a sync gets.
 *
 * The ID is the datapath's identity of a service: flow LRU entries and
 * affinity entries carry it, and an established flow keeps its backend only
 * while its entry's service ID is the service's. So an ID must stay with its
 * service across syncs and restarts: an explicit `id` wins; otherwise the
 * ID the datapath already has for the service's name, else for its
 * frontend (after a restart the maps know frontends, not names); otherwise
 * the lowest free ID, which keeps IDs below the counter maps' size.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { MAX_SERVICE_ID, type ServiceSpec } from "./services.js";

/** What the datapath holds now, as far as IDs are concerned. */
export interface CurrentIds {
  /** ID of the service with this name, if the control plane knows names. */
  byName(name: string): number | undefined;
  /** ID of the service at this frontend (`192.0.2.10:80/TCP`). */
  byFrontend(frontend: string): number | undefined;
  /** Whether `id` must not be handed out (it belongs to a service this change keeps). */
  isReserved(id: number): boolean;
}

/**
 * One ID per spec, in order. `field(i)` is the error path of spec `i`
 * (`services[3]`, `service`).
 *
 * @throws {@link InvalidInputError} when an explicit ID is reserved by a
 *   service this change keeps, or no ID is left.
 */
export function assignServiceIds(specs: readonly ServiceSpec[], current: CurrentIds, field = (i: number) => `services[${i}]`): number[] {
  const ids: (number | undefined)[] = specs.map(() => undefined);
  const taken = new Set<number>();
  specs.forEach((s, i) => {
    if (s.id === undefined) return;
    if (current.isReserved(s.id)) throw new InvalidInputError(`${field(i)}.id`, s.id, "is the ID of another service in the datapath");
    ids[i] = s.id;
    taken.add(s.id);
  });
  // Names first, then frontends: a renamed service keeps its ID by frontend
  // only when no other service claims it by name.
  for (const match of [(s: ServiceSpec) => current.byName(s.name), (s: ServiceSpec) => current.byFrontend(s.frontend)]) {
    specs.forEach((s, i) => {
      if (ids[i] !== undefined) return;
      const id = match(s);
      if (id === undefined || taken.has(id)) return;
      ids[i] = id;
      taken.add(id);
    });
  }
  let next = 1;
  return ids.map((id, i) => {
    if (id !== undefined) return id;
    while (taken.has(next) || current.isReserved(next)) next++;
    if (next > MAX_SERVICE_ID) throw new InvalidInputError(field(i), specs[i]!.name, "no service ID is left");
    taken.add(next);
    return next;
  });
}
