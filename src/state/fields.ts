/**
 * Field readers shared by the state model's object readers (Service,
 * EndpointSlice, Node). Each one checks one field and throws an
 * {@link InvalidInputError} whose `field` is the path inside the object
 * (`spec.ports[0].port`); the caller adds the file and object in front with
 * `within()`.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { formatIp, parseIp, type IpAddress } from "../net/ip.js";

/** A JSON/YAML mapping. */
export type Obj = Record<string, unknown>;

/** True for a plain mapping (not null, not an array). */
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Kubernetes object names: DNS subdomains (RFC 1123), as the API server validates them. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** Port names: IANA service names (lower case, digits, dashes, at most 15). */
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

/** A mapping field, `{}` when absent. */
export function mapping(value: unknown, field: string): Obj {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) throw new InvalidInputError(field, value, "must be a mapping");
  return value;
}

/** A list field, `[]` when absent. */
export function list(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidInputError(field, value, "must be a list");
  return value;
}

/** A map of strings (labels, annotations), `{}` when absent. */
export function stringMap(value: unknown, field: string): Record<string, string> {
  const m = mapping(value, field);
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== "string") throw new InvalidInputError(`${field}.${k}`, v, "must be a string");
  }
  return m as Record<string, string>;
}

/** An optional string field. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new InvalidInputError(field, value, "must be a string");
  return value;
}

/** An integer in [min, max]. */
export function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** An optional boolean; `undefined` when absent (the API's "nil"). */
export function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new InvalidInputError(field, value, "must be true or false");
  return value;
}

/** An IP address in canonical text (Go netip form, as everywhere in wasmplane). */
export function ipText(value: unknown, field: string): string {
  return formatIp(ipAddress(value, field));
}

/** An IP address, parsed. */
export function ipAddress(value: unknown, field: string): IpAddress {
  if (typeof value !== "string") throw new InvalidInputError(field, value, "must be an IP address");
  const ip = parseIp(value);
  if (!ip) throw new InvalidInputError(field, value, "is not a valid IPv4 or IPv6 address");
  return ip;
}

/** The family of a canonical address text. */
export function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}

/** L4 protocols of service and endpoint ports. */
export type L4Protocol = "TCP" | "UDP" | "SCTP";

/** A port protocol, TCP when absent (the API's default). */
export function protocol(value: unknown, field: string): L4Protocol {
  if (value === undefined || value === null) return "TCP";
  if (value !== "TCP" && value !== "UDP" && value !== "SCTP") throw new InvalidInputError(field, value, "must be TCP, UDP or SCTP");
  return value;
}

/** An optional port name (IANA service name). */
export function portName(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || !PORT_NAME.test(value)) {
    throw new InvalidInputError(field, value, "must be a port name: at most 15 lower-case letters, digits and dashes");
  }
  return value;
}

/** `metadata.name` and (for namespaced kinds) `metadata.namespace`, default `default`. */
export function metadataOf(obj: Obj, namespaced: boolean): { name: string; namespace: string | undefined; meta: Obj } {
  const meta = obj.metadata;
  if (!isObj(meta)) throw new InvalidInputError("metadata", meta, "must be a mapping with a name");
  const name = meta.name;
  if (typeof name !== "string" || !NAME.test(name)) throw new InvalidInputError("metadata.name", name, "must be a DNS subdomain name");
  if (!namespaced) return { name, namespace: undefined, meta };
  const namespace = meta.namespace ?? "default";
  if (typeof namespace !== "string" || !NAME.test(namespace)) {
    throw new InvalidInputError("metadata.namespace", meta.namespace, "must be a namespace name");
  }
  return { name, namespace, meta };
}

/** Code-point order (never the locale's, which differs between machines). */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
