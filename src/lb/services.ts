/**
 * The load balancer's service model and its validation: what a caller
 * describes (a VIP, port and protocol with backends and an algorithm), and
 * the checked, canonical form the sync works from.
 *
 * Validation happens before anything is written to the kernel, so bad input
 * never half-applies. Every error is an {@link InvalidInputError} whose
 * `field` is a path into the input (`services[3].backends[1].address`).
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { MAX_BACKEND_ID } from "../maglev/backend.js";
import { formatIp, parseIp, type IpAddress } from "../net/ip.js";

/** L4 protocols a service can serve. */
export type LbProtocol = "TCP" | "UDP" | "SCTP";
/** How a service picks the backend of a new flow. */
export type LbAlgorithm = "maglev" | "random";

/** IANA protocol numbers of {@link LbProtocol}. */
export const LB_PROTOCOL_NUMBERS: Readonly<Record<LbProtocol, number>> = { TCP: 6, UDP: 17, SCTP: 132 };
/** Accepted algorithms. */
export const LB_ALGORITHMS: readonly LbAlgorithm[] = Object.freeze(["maglev", "random"]);

/** The largest service ID (0 and 0xFFFFFFFF are reserved). */
export const MAX_SERVICE_ID = 0xfffffffe;
/** Backends per service: wp_service_value.backend_count is 16 bits. */
export const MAX_BACKENDS_PER_SERVICE = 0xffff;
/** Longest session affinity timeout, Kubernetes' limit (`sessionAffinityConfig.clientIP.timeoutSeconds`). */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

/** One backend of a service. */
export interface LbBackend {
  /** Node-wide backend ID: an index of the wp_backends array, so below its size (WASMPLANE_MAX_BACKENDS, 16384 by default; checked when the service is written). A backend shared by services has one ID (same address and port everywhere). */
  id: number;
  /** IPv4 or IPv6 address; its family decides the outer header (IPIP/6in4 or IP6IP6/4in6). */
  address: string;
  /** The port the backend serves, 0 to 65535. IP-in-IP does not rewrite it: it is part of the Maglev key only. */
  port: number;
  /** Maglev weight, 0 to 65535, default 1 (Cilium's semantics; see `MaglevBackend.weight`). Random selection ignores it. */
  weight?: number;
  /**
   * Draining: keeps its established flows but gets no new ones (left out
   * of the Maglev table and the random slots, never chosen by affinity).
   * Default false.
   */
  draining?: boolean;
}

/** A load-balanced service. */
export interface LbService {
  /** Service ID, 1 to 0xFFFFFFFE. Default: the ID the datapath already has for this name or frontend, else the lowest free one. */
  id?: number;
  /** Unique name, for messages and counters. */
  name: string;
  /** Virtual IP, IPv4 or IPv6. */
  vip: string;
  /** Frontend port, 1 to 65535. */
  port: number;
  /** `TCP`, `UDP` or `SCTP` (any case). */
  protocol: string;
  /** `maglev` (consistent hashing, Cilium-identical tables) or `random`. */
  algorithm: LbAlgorithm;
  /** Kubernetes `sessionAffinity: ClientIP`: one backend per client address for `timeoutSeconds` (1 to 86400) after its last packet. */
  sessionAffinity?: {
    /** Seconds a client stays on its backend after its last packet. */
    timeoutSeconds: number;
  };
  /** Backends; may be empty (new flows are then dropped with the no-backend reason). */
  backends: readonly LbBackend[];
}

/** A backend after validation. */
export interface BackendSpec {
  /** Backend ID. */
  readonly id: number;
  /** Parsed address. */
  readonly address: IpAddress;
  /** Canonical text (Go netip form). */
  readonly addressText: string;
  /** Port. */
  readonly port: number;
  /** Maglev weight (default 1 applied). */
  readonly weight: number;
  /** Draining (default false applied). */
  readonly draining: boolean;
}

/** A service after validation: canonical values, backends in input order. */
export interface ServiceSpec {
  /** Name. */
  readonly name: string;
  /** The ID asked for, if any. */
  readonly id: number | undefined;
  /** Parsed VIP. */
  readonly vip: IpAddress;
  /** Frontend port. */
  readonly port: number;
  /** Upper-case protocol. */
  readonly protocol: LbProtocol;
  /** IANA number of `protocol`. */
  readonly protocolNumber: number;
  /** Algorithm. */
  readonly algorithm: LbAlgorithm;
  /** 0 without session affinity. */
  readonly affinityTimeoutSeconds: number;
  /** Backends, in input order. */
  readonly backends: readonly BackendSpec[];
  /** `192.0.2.10:80/TCP`, `[2001:db8::10]:53/UDP`: the datapath's identity of the service. */
  readonly frontend: string;
}

const SERVICE_FIELDS = new Set(["id", "name", "vip", "port", "protocol", "algorithm", "sessionAffinity", "backends"]);
const BACKEND_FIELDS = new Set(["id", "address", "port", "weight", "draining"]);

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function address(value: unknown, field: string): IpAddress {
  if (typeof value !== "string") throw new InvalidInputError(field, value, "must be an IP address string");
  const ip = parseIp(value);
  if (!ip) throw new InvalidInputError(field, value, "is not a valid IPv4 or IPv6 address");
  return ip;
}

function object(value: unknown, field: string, what: string, known: Set<string>): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidInputError(field, value, `must be an object (${what})`);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new InvalidInputError(`${field}.${key}`, (value as Record<string, unknown>)[key], `is not a field of ${what} (fields: ${[...known].join(", ")})`);
  }
  return value as Record<string, unknown>;
}

/** `host:port/PROTO` with IPv6 in brackets. */
export function formatFrontend(vip: IpAddress, port: number, protocol: LbProtocol): string {
  const host = formatIp(vip);
  return `${vip.family === 6 ? `[${host}]` : host}:${port}/${protocol}`;
}

function validateBackend(input: unknown, field: string): BackendSpec {
  const b = object(input, field, "a backend", BACKEND_FIELDS);
  const id = integer(b.id, `${field}.id`, 0, MAX_BACKEND_ID);
  const ip = address(b.address, `${field}.address`);
  const port = integer(b.port, `${field}.port`, 0, 65535);
  const weight = b.weight === undefined ? 1 : integer(b.weight, `${field}.weight`, 0, 65535);
  if (b.draining !== undefined && typeof b.draining !== "boolean") throw new InvalidInputError(`${field}.draining`, b.draining, "must be true or false");
  return { id, address: ip, addressText: formatIp(ip), port, weight, draining: b.draining === true };
}

/**
 * Validates one service on its own. `field` names it in errors
 * (`services[3]`, `service`).
 *
 * @throws {@link InvalidInputError} (code `INVALID_INPUT`, or
 *   `DUPLICATE_BACKEND` for a backend listed twice) naming the field.
 */
export function validateService(input: unknown, field = "service"): ServiceSpec {
  const s = object(input, field, "a service", SERVICE_FIELDS);
  if (typeof s.name !== "string" || s.name.trim() === "" || s.name.length > 253 || /[\u0000-\u001f]/.test(s.name)) {
    throw new InvalidInputError(`${field}.name`, s.name, "must be a non-empty string of at most 253 characters without control characters");
  }
  const id = s.id === undefined ? undefined : integer(s.id, `${field}.id`, 1, MAX_SERVICE_ID);
  const vip = address(s.vip, `${field}.vip`);
  const port = integer(s.port, `${field}.port`, 1, 65535);
  const protocol = typeof s.protocol === "string" ? s.protocol.toUpperCase() : s.protocol;
  if (typeof protocol !== "string" || !(protocol in LB_PROTOCOL_NUMBERS)) {
    throw new InvalidInputError(`${field}.protocol`, s.protocol, `must be one of ${Object.keys(LB_PROTOCOL_NUMBERS).join(", ")}`);
  }
  if (!(LB_ALGORITHMS as readonly unknown[]).includes(s.algorithm)) {
    throw new InvalidInputError(`${field}.algorithm`, s.algorithm, `is not a known algorithm (${LB_ALGORITHMS.join(", ")})`);
  }
  let affinityTimeoutSeconds = 0;
  if (s.sessionAffinity !== undefined) {
    const a = object(s.sessionAffinity, `${field}.sessionAffinity`, "session affinity", new Set(["timeoutSeconds"]));
    affinityTimeoutSeconds = integer(a.timeoutSeconds, `${field}.sessionAffinity.timeoutSeconds`, 1, MAX_AFFINITY_TIMEOUT_SECONDS);
  }
  if (!Array.isArray(s.backends)) throw new InvalidInputError(`${field}.backends`, s.backends, "must be an array (possibly empty)");
  if (s.backends.length > MAX_BACKENDS_PER_SERVICE) {
    throw new InvalidInputError(`${field}.backends`, `${s.backends.length} backends`, `must hold at most ${MAX_BACKENDS_PER_SERVICE} (backend_count is 16 bits)`);
  }
  const backends = s.backends.map((b, i) => validateBackend(b, `${field}.backends[${i}]`));
  const byId = new Map<number, number>();
  const byEndpoint = new Map<string, number>();
  backends.forEach((b, i) => {
    const sameId = byId.get(b.id);
    if (sameId !== undefined) throw new InvalidInputError(`${field}.backends[${i}].id`, b.id, `is already used by ${field}.backends[${sameId}]`, "DUPLICATE_BACKEND");
    const endpoint = endpointOf(b);
    const sameEndpoint = byEndpoint.get(endpoint);
    if (sameEndpoint !== undefined) {
      throw new InvalidInputError(`${field}.backends[${i}]`, endpoint, `is the same backend as ${field}.backends[${sameEndpoint}]`, "DUPLICATE_BACKEND");
    }
    byId.set(b.id, i);
    byEndpoint.set(endpoint, i);
  });
  const proto = protocol as LbProtocol;
  return {
    name: s.name, id, vip, port, protocol: proto, protocolNumber: LB_PROTOCOL_NUMBERS[proto], algorithm: s.algorithm as LbAlgorithm,
    affinityTimeoutSeconds, backends, frontend: formatFrontend(vip, port, proto),
  };
}

function endpointOf(b: BackendSpec): string {
  return b.address.family === 6 ? `[${b.addressText}]:${b.port}` : `${b.addressText}:${b.port}`;
}

/** Where a backend ID was first declared, to name both places in a conflict. */
export interface BackendOrigin {
  readonly backend: BackendSpec;
  /** e.g. `services[2].backends[0]` or `service "web" (in the datapath)`. */
  readonly where: string;
}

/**
 * Checks that `backend` (declared at `field`) agrees with an earlier
 * declaration of its ID: the datapath keeps one address, port and draining
 * flag per backend ID.
 *
 * @throws {@link InvalidInputError} (code `DUPLICATE_BACKEND`) naming both places.
 */
export function checkSameBackend(backend: BackendSpec, field: string, earlier: BackendOrigin | undefined): void {
  if (!earlier) return;
  const a = earlier.backend;
  if (endpointOf(a) !== endpointOf(backend)) {
    throw new InvalidInputError(`${field}.id`, backend.id, `is ${endpointOf(a)} in ${earlier.where} but ${endpointOf(backend)} here: one backend ID is one address and port`, "DUPLICATE_BACKEND");
  }
  if (a.draining !== backend.draining) {
    throw new InvalidInputError(`${field}.draining`, backend.draining, `differs from ${earlier.where} for backend ${backend.id}: draining is a property of the backend, not of the service`, "DUPLICATE_BACKEND");
  }
}

/**
 * Validates a full set of services: each one, then across them (unique
 * names, frontends and IDs; one address per backend ID).
 *
 * @throws {@link InvalidInputError} naming the field (`services[i]...`).
 */
export function validateServices(input: unknown): ServiceSpec[] {
  if (!Array.isArray(input)) throw new InvalidInputError("services", input, "must be an array of services");
  const specs = input.map((s, i) => validateService(s, `services[${i}]`));
  const names = new Map<string, number>();
  const frontends = new Map<string, number>();
  const ids = new Map<number, number>();
  const backends = new Map<number, BackendOrigin>();
  specs.forEach((s, i) => {
    const sameName = names.get(s.name);
    if (sameName !== undefined) throw new InvalidInputError(`services[${i}].name`, s.name, `is already the name of services[${sameName}]`);
    const sameFrontend = frontends.get(s.frontend);
    if (sameFrontend !== undefined) {
      throw new InvalidInputError(`services[${i}]`, s.frontend, `has the same VIP, port and protocol as services[${sameFrontend}] ("${specs[sameFrontend]!.name}")`);
    }
    if (s.id !== undefined) {
      const sameId = ids.get(s.id);
      if (sameId !== undefined) throw new InvalidInputError(`services[${i}].id`, s.id, `is already the ID of services[${sameId}] ("${specs[sameId]!.name}")`);
      ids.set(s.id, i);
    }
    names.set(s.name, i);
    frontends.set(s.frontend, i);
    s.backends.forEach((b, j) => {
      const field = `services[${i}].backends[${j}]`;
      checkSameBackend(b, field, backends.get(b.id));
      if (!backends.has(b.id)) backends.set(b.id, { backend: b, where: field });
    });
  });
  return specs;
}
