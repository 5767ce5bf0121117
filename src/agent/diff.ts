/**
 * What changed between the state last applied and the state just read,
 * so that the agent writes only that:
 *
 *   services: by frontend name, compared as JSON (the same object is the
 *     same service: the translation's memo hands back an unchanged service
 *     as the object it was); a service whose backend
 *     list is unchanged keeps its Maglev table (src/lb rebuilds a table only
 *     when its backends change);
 *   cluster objects (Namespaces, Pods, policies): by kind, namespace and
 *     name, compared as JSON of the object as read (the same object, as
 *     the agent's memo keeps it, is unchanged).
 *
 * Pure module.
 *
 * @module
 */
import type { LbService } from "../lb/services.js";
import type { KeyedObject } from "./desired.js";

/** The services to write and remove. */
export interface ServiceDiff {
  /** New or changed services, in name order. */
  readonly upserts: LbService[];
  /** Names of services no longer in the state. */
  readonly removals: string[];
  /** Upserts whose backend list changed (a Maglev table to rebuild for `maglev` services). */
  readonly backendChanges: number;
  /**
   * A backend ID now means another address, port or draining state than
   * before. wp_backends holds one entry per ID shared by every service, so
   * such a change cannot go one service at a time: it needs one sync.
   */
  readonly backendRedefined: boolean;
}

function backendsText(s: LbService): string {
  return JSON.stringify(s.backends.map((b) => [b.id, b.address, b.port, b.weight ?? 1, b.draining ?? false]));
}

function serviceText(s: LbService): string {
  return JSON.stringify([s.vip, s.port, s.protocol, s.algorithm, s.sessionAffinity ?? null, backendsText(s)]);
}

function backendRecords(services: Iterable<LbService>): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of services) for (const b of s.backends) out.set(b.id, `${b.address}|${b.port}|${b.draining ?? false}`);
  return out;
}

/** The services of `after` that differ from `before` (by name), and the names gone. */
export function diffServices(before: ReadonlyMap<string, LbService>, after: readonly LbService[]): ServiceDiff {
  const upserts: LbService[] = [];
  let backendChanges = 0;
  const names = new Set<string>();
  for (const s of after) {
    names.add(s.name);
    const old = before.get(s.name);
    if (old === s || (old && serviceText(old) === serviceText(s))) continue;
    upserts.push(s);
    if (!old || backendsText(old) !== backendsText(s)) backendChanges++;
  }
  const removals = [...before.keys()].filter((n) => !names.has(n));
  // A service that is not upserted lists its backends exactly as before, so
  // an ID that changed meaning shows in the upserts: only they are checked.
  let backendRedefined = false;
  if (upserts.length) {
    const was = backendRecords(before.values());
    for (const [id, text] of backendRecords(upserts)) {
      const old = was.get(id);
      if (old !== undefined && old !== text) backendRedefined = true;
    }
  }
  return { upserts, removals, backendChanges, backendRedefined };
}

/** Cluster objects to upsert and delete. */
export interface ObjectDiff {
  /** New or changed objects. */
  readonly upserts: KeyedObject[];
  /** Objects gone from the state (as they were last applied). */
  readonly deletes: KeyedObject[];
}

/** The objects of `after` that are new or changed against `before`, and those gone. */
export function diffObjects(before: ReadonlyMap<string, KeyedObject>, after: ReadonlyMap<string, KeyedObject>): ObjectDiff {
  const upserts: KeyedObject[] = [];
  const deletes: KeyedObject[] = [];
  for (const [key, o] of after) {
    const old = before.get(key);
    if (old !== o && old?.text !== o.text) upserts.push(o);
  }
  for (const [key, o] of before) if (!after.has(key)) deletes.push(o);
  return { upserts, deletes };
}
