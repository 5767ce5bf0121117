/**
 * The load balancer's share of a change: the services that changed are
 * written one by one (`upsertService`, `removeService`), unless a backend
 * ID changed meaning, or the agent reconciles: then one `sync` replaces
 * every service, so that wp_backends (one entry per ID, shared by every
 * service) never disagrees with a service's table.
 *
 * The counts are added to as each write succeeds: a write the kernel
 * refuses still leaves the count of what was written before it, which the
 * `applied` log line reports.
 *
 * @module
 */
import type { Datapath } from "../lb/datapath.js";
import type { LbService } from "../lb/services.js";
import type { ServiceDiff } from "./diff.js";

/** Services and backends written or removed. */
export interface ServiceCounts {
  services: number;
  backends: number;
}

/** Every service at once, compared against what the maps hold. */
export function syncServices(lb: Datapath, services: readonly LbService[], counts: ServiceCounts): void {
  const r = lb.sync(services);
  counts.services = r.added + r.updated + r.removed;
  counts.backends = r.backendsWritten + r.backendsDeleted;
}

/** The services `diff` names (`services` is the whole translated list, for a sync). */
export function writeServiceDiff(lb: Datapath, diff: ServiceDiff, services: readonly LbService[], counts: ServiceCounts): void {
  if (diff.backendRedefined) {
    // A backend ID changed meaning (e.g. became draining): one sync keeps wp_backends consistent.
    syncServices(lb, services, counts);
    return;
  }
  for (const s of diff.upserts) {
    const r = lb.upsertService(s);
    counts.services += r.added + r.updated;
    counts.backends += r.backendsWritten + r.backendsDeleted;
  }
  for (const name of diff.removals) {
    const r = lb.removeService(name);
    counts.services += r.removed;
    counts.backends += r.backendsDeleted;
  }
}
