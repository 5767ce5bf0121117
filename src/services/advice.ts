/**
 * Warnings about services that are valid but probably not what the author
 * meant: quirks of Cilium's weights, which the library copies faithfully (it
 * must: tables have to match Cilium's slot for slot), and tables too small
 * for an even spread.
 *
 * @module
 */
import type { MaglevBackend } from "../index.js";
import { serviceLabel } from "./errors.js";
import type { ServiceSpec } from "./model.js";

/** Cilium's guidance: M ≥ 100·N keeps every backend within about 1% of its share. */
const SLOTS_PER_BACKEND = 100;

/** Problems of one service's backends, as `field: text` pairs (fields relative to the service). */
export function backendAdvice(backends: readonly MaglevBackend[]): { field: string; text: string }[] {
  const advice: { field: string; text: string }[] = [];
  const n = backends.length;
  if (n === 0) return advice;
  const weights = backends.map((b) => b.weight ?? 1);
  const sum = weights.reduce((a, b) => a + b, 0);

  // Cilium applies weights only when floor(sum / count) > 1, so 1 and 2 are
  // silently an even split while 100 and 200 are 1:2.
  const weightsUsed = Math.floor(sum / n) > 1;
  if (!weightsUsed && new Set(weights).size > 1) {
    advice.push({
      field: "backends",
      text: "weights are ignored: Cilium's Maglev applies them only when their average is above 1; scale them up (e.g. 100 and 200 rather than 1 and 2)",
    });
  }
  // A weight of 0 does not drain a backend: it still gets slots (one, or an
  // even share when weights are ignored).
  const zero = weights.findIndex((w) => w === 0);
  if (zero >= 0) {
    advice.push({
      field: `backends[${zero}].weight`,
      text: "0 does not take a backend out of the table (Cilium's Maglev still gives it slots); remove the backend to drain it",
    });
  }
  return advice;
}

/**
 * One warning for the whole file when the table is small for some services
 * (one per service would bury everything else on a big file).
 */
export function tableSizeAdvice(services: readonly ServiceSpec[], tableSize: number): string | undefined {
  const crowded = services.filter((s) => tableSize < SLOTS_PER_BACKEND * s.backends.length);
  if (crowded.length === 0) return undefined;
  const worst = crowded.reduce((a, b) => (b.backends.length > a.backends.length ? b : a));
  const which = crowded.length === 1 ? "1 service" : `${crowded.length} services`;
  return `table size ${tableSize} gives fewer than ${SLOTS_PER_BACKEND} slots per backend to ${which} (most: ${serviceLabel(worst.index, worst.name)} with ${worst.backends.length} backends); Cilium recommends at least ${SLOTS_PER_BACKEND} for an even spread`;
}
