/**
 * What the demo shows, computed: the spread of each service's table over its
 * backends, what moves when one backend goes, and that input order does not
 * change the table. Pure data, rendered as text or JSON elsewhere.
 *
 * @module
 */
import type { MaglevBackend, MaglevBuilder } from "../index.js";
import { formatFrontend, type ServiceSpec } from "../services/index.js";
import { round } from "./format.js";
import { sha256Hex, tableToBytes } from "./table-bytes.js";

export interface DemoBackend {
  readonly id: number;
  readonly address: string;
  readonly weight: number;
  readonly slots: number;
  readonly share: number;
}

export interface DemoService {
  readonly name: string;
  readonly frontend: string;
  readonly weighted: boolean;
  readonly maxMinRatio: number;
  readonly backends: readonly DemoBackend[];
  /** One backend removed and the table rebuilt. */
  readonly removal: {
    readonly backend: { readonly id: number; readonly address: string };
    /** Slots the removed backend held: these have to move. */
    readonly removedSlots: number;
    readonly changedSlots: number;
    readonly changedFraction: number;
    /** Moved slots whose backend is still there: the disruption Maglev keeps small. */
    readonly changedFromRemaining: number;
    readonly changedFromRemainingFraction: number;
  };
  /** The table built from shuffled backends. */
  readonly order: { readonly sha256: string; readonly shuffledSha256: string; readonly identical: boolean };
}

export interface DemoReport {
  readonly tableSize: number;
  readonly hashSeed: string;
  readonly keyFormat: string;
  readonly services: readonly DemoService[];
}

export function demoReport(builder: MaglevBuilder, services: readonly ServiceSpec[]): DemoReport {
  return {
    tableSize: builder.tableSize,
    hashSeed: builder.hashSeed,
    keyFormat: builder.keyFormat,
    // File order: the services are listed to tell a story (plain, weighted, IPv6).
    services: services.map((s) => demoService(builder, s)),
  };
}

function demoService(builder: MaglevBuilder, spec: ServiceSpec): DemoService {
  const table = builder.build(spec.backends);
  const stats = builder.stats(table);
  const backends = spec.backends.map((b) => {
    const slots = stats.slotsPerBackend.get(b.id) ?? 0;
    return { id: b.id, address: endpoint(b), weight: b.weight ?? 1, slots, share: round(slots / table.length, 6) };
  });

  // The second backend: neither the first nor the last, so nothing about position helps it.
  const removed = spec.backends[1] ?? spec.backends[0]!;
  const after = builder.build(spec.backends.filter((b) => b !== removed));
  const diff = builder.compare(table, after);

  const shuffled = builder.build(shuffle(spec.backends));
  const sha256 = sha256Hex(tableToBytes(table));
  const shuffledSha256 = sha256Hex(tableToBytes(shuffled));

  return {
    name: spec.name,
    frontend: formatFrontend(spec.frontend),
    weighted: new Set(backends.map((b) => b.weight)).size > 1,
    maxMinRatio: round(stats.maxMinRatio),
    backends,
    removal: {
      backend: { id: removed.id, address: endpoint(removed) },
      removedSlots: stats.slotsPerBackend.get(removed.id) ?? 0,
      changedSlots: diff.changedSlots,
      changedFraction: round(diff.changedFraction, 6),
      changedFromRemaining: diff.changedFromRemaining,
      changedFromRemainingFraction: round(diff.changedFromRemainingFraction, 6),
    },
    order: { sha256, shuffledSha256, identical: sha256 === shuffledSha256 },
  };
}

/** `10.0.0.1:80`, `[fd00::1]:53`. */
function endpoint(b: MaglevBackend): string {
  return b.address.includes(":") ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`;
}

/**
 * A fixed-seed Fisher-Yates shuffle (mulberry32), so the demo prints the same
 * thing every run; rotated if it happens to return the input order.
 */
function shuffle<T>(items: readonly T[]): T[] {
  let state = 0x9e3779b9;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  if (out.length > 1 && out.every((x, i) => x === items[i])) out.push(out.shift()!);
  return out;
}
