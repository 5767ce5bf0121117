/**
 * Reading the datapath's per-CPU counters: forwarded packets and bytes per
 * service and per backend, drops per reason (named as in
 * src/bpf/drop-reasons.ts). Each value is the sum over possible CPUs.
 *
 * Only IDs in use are read (one lookup each), and only IDs below the
 * counter arrays' sizes are counted by the datapath at all.
 *
 * @module
 */
import { DROP_REASON } from "../bpf/drop-reasons.js";
import type { BpfMap } from "../bpf/map.js";
import { formatIp } from "../net/ip.js";
import { backendValue, sumPerCpuCounter, u32Bytes, WP_BACKEND_F, WP_FAMILY, type CounterValue } from "./layouts.js";
import type { LbMaps } from "./maps.js";
import type { DatapathState } from "./state.js";

/** Name of a drop reason (`NO_BACKEND`, `MALFORMED`, ...). */
export type DropReasonName = keyof typeof DROP_REASON;

/** Forwarded traffic of one service. */
export interface ServiceCounter extends CounterValue {
  /** Service ID. */
  id: number;
  /** Undefined for a service restored from pins and not synced since. */
  name: string | undefined;
  /** `192.0.2.10:80/TCP`. */
  frontend: string;
}

/** Forwarded traffic of one backend. */
export interface BackendCounter extends CounterValue {
  /** Backend ID. */
  id: number;
  /** `10.0.0.1:8080`, `[fd00::1]:8080`. */
  endpoint: string;
  /** Keeps its flows, gets no new ones. */
  draining: boolean;
}

/** Every counter of the datapath. Bytes count frames as received (before encapsulation). */
export interface DatapathCounters {
  /** Services in the datapath, by ID. */
  services: ServiceCounter[];
  /** Backends in the datapath, by ID. */
  backends: BackendCounter[];
  /** Dropped packets by reason. */
  drops: Record<DropReasonName, CounterValue>;
}

function read(map: BpfMap, index: number): CounterValue {
  if (index >= map.maxEntries) return { packets: 0n, bytes: 0n };
  const value = map.lookup(u32Bytes(index));
  return value ? sumPerCpuCounter(value) : { packets: 0n, bytes: 0n };
}

/** Reads every counter (one lookup per service, backend and drop reason). Needs CAP_BPF. */
export function readCounters(maps: LbMaps, state: DatapathState): DatapathCounters {
  const services = [...state.services.values()].sort((a, b) => a.id - b.id)
    .map((s) => ({ id: s.id, name: s.name, frontend: s.frontend, ...read(maps.serviceCounters, s.id) }));
  const backends = [...state.backends.entries()].sort(([a], [b]) => a - b).map(([id, b]) => {
    const v = backendValue.decode(b.value);
    const ip = v.family === WP_FAMILY.IPV6 ? { family: 6 as const, bytes: v.addr } : { family: 4 as const, bytes: v.addr.slice(0, 4) };
    const host = formatIp(ip);
    const endpoint = `${ip.family === 6 ? `[${host}]` : host}:${v.port}`;
    return { id, endpoint, draining: (v.flags & WP_BACKEND_F.DRAINING) !== 0, ...read(maps.backendCounters, id) };
  });
  const drops = {} as Record<DropReasonName, CounterValue>;
  for (const [name, code] of Object.entries(DROP_REASON) as [DropReasonName, number][]) drops[name] = read(maps.dropCounters, code);
  return { services, backends, drops };
}
