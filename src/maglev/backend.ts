/**
 * Maglev backends: validation and the key string each one is hashed by.
 *
 * The key string decides a backend's permutation, so it must be written
 * exactly as Cilium writes it (`loadbalancer.L3n4Addr.String()` plus the
 * backend state for `cilium`; without protocol or brackets for
 * `cilium-legacy`, the format of Cilium 1.9 to 1.16):
 *
 *   cilium         [10.0.0.1:8080/TCP,State:active]   [[fd00::1@3]:443/UDP/i,State:active]
 *   cilium-legacy  10.0.0.1:8080                      [fd00::1@3]:443/i
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { formatIp, parseIp } from "../net/ip.js";
import type { KeyFormat } from "./config.js";

/** L4 protocols a backend can carry, spelled as Cilium spells them. */
export type BackendProtocol = "TCP" | "UDP" | "SCTP" | "ANY" | "NONE";
/** Every accepted backend protocol. */
export const BACKEND_PROTOCOLS: readonly BackendProtocol[] = Object.freeze(["TCP", "UDP", "SCTP", "ANY", "NONE"]);

/** One backend of a service. */
export interface MaglevBackend {
  /** Node-local backend ID written into the table: 0 to 0xFFFFFFFE. */
  id: number;
  /** IPv4 or IPv6 address, any valid text form. */
  address: string;
  /** L4 port, 0 to 65535. */
  port: number;
  /** `TCP`, `UDP`, `SCTP`, `ANY` or `NONE` (case-insensitive). */
  protocol: string;
  /**
   * Relative weight, 0 to 65535 (Cilium's range). Defaults to 1. As in
   * Cilium, weights apply only when their integer average
   * (`sum(weights) / N`) is above 1, so 1 and 2 give an even split while 100
   * and 200 give 1:2; a weight-0 backend still keeps about one slot (remove a
   * backend to drain it).
   */
  weight?: number;
  /** `external` (default) or `internal`. */
  scope?: "external" | "internal";
  /** Cluster ID of a cluster-mesh backend, 0 to 255; 0 means the local cluster. */
  clusterId?: number;
}

/** A backend after validation: canonical fields and its key string. */
export interface ResolvedBackend {
  readonly id: number;
  readonly key: string;
  readonly weight: number;
}

/** The largest backend ID; 0xFFFFFFFF marks an empty table slot. */
export const MAX_BACKEND_ID = 0xfffffffe;

function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Validates one backend and writes its key string. `field` names it in errors. */
export function resolveBackend(backend: unknown, format: KeyFormat, field: string): ResolvedBackend {
  if (typeof backend !== "object" || backend === null || Array.isArray(backend)) {
    throw new InvalidInputError(field, backend, "must be an object with id, address, port and protocol");
  }
  const b = backend as Record<string, unknown>;
  const id = checkInteger(b.id, `${field}.id`, 0, MAX_BACKEND_ID);
  if (typeof b.address !== "string") throw new InvalidInputError(`${field}.address`, b.address, "must be an IP address string");
  const ip = parseIp(b.address);
  if (!ip) throw new InvalidInputError(`${field}.address`, b.address, "is not a valid IPv4 or IPv6 address");
  const port = checkInteger(b.port, `${field}.port`, 0, 65535);
  const protocol = typeof b.protocol === "string" ? b.protocol.toUpperCase() : b.protocol;
  if (typeof protocol !== "string" || !(BACKEND_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new InvalidInputError(`${field}.protocol`, b.protocol, `must be one of ${BACKEND_PROTOCOLS.join(", ")}`);
  }
  const weight = b.weight === undefined ? 1 : checkInteger(b.weight, `${field}.weight`, 0, 65535);
  const scope = b.scope ?? "external";
  if (scope !== "external" && scope !== "internal") {
    throw new InvalidInputError(`${field}.scope`, b.scope, "must be external or internal");
  }
  const clusterId = b.clusterId === undefined ? 0 : checkInteger(b.clusterId, `${field}.clusterId`, 0, 255);

  const addr = formatIp(ip) + (clusterId > 0 ? `@${clusterId}` : "");
  const hostPort = `${ip.family === 6 ? `[${addr}]` : addr}:${port}`;
  const internal = scope === "internal" ? "/i" : "";
  const key =
    format === "cilium" ? `[${hostPort}/${protocol}${internal},State:active]` : `${hostPort}${internal}`;
  return { id, key, weight };
}
