/**
 * Validation of a whole services file: shape first (valibot), then values
 * (the library's validators), then what only the whole file can tell (unique
 * names, frontends and backend IDs). The first problem in file order is
 * reported; nothing downstream ever sees a half-valid file.
 *
 * @module
 */
import { InvalidInputError, type KeyFormat, type MaglevBackend } from "../index.js";
import { describe } from "../errors.js";
import { resolveBackend } from "../maglev/backend.js";
import { formatIp, parseIp } from "../net/ip.js";
import { backendAdvice, tableSizeAdvice } from "./advice.js";
import { ServicesFileError, serviceLabel } from "./errors.js";
import { formatFrontend, resolveFrontend } from "./frontend.js";
import type { MaglevSettings, ServiceSpec, ServicesDocument } from "./model.js";
import { serviceNameProblem, tableFileKey, tableFileName } from "./names.js";
import { checkShape, type ServiceShape, type ShapeProblem } from "./schema.js";
import { checkFileSettings, effectiveSettings, type SettingsOverrides } from "./settings.js";

/**
 * Validates a parsed services file. `file` names it in messages; `overrides`
 * (already validated) take precedence over the file's settings.
 * @throws ServicesFileError naming the file, the service and the field
 */
export function validateServices(raw: unknown, file: string, overrides: SettingsOverrides = {}): ServicesDocument {
  const shape = checkShape(raw);
  if (!shape.ok) throw shapeError(raw, file, shape.problem);

  let settings: MaglevSettings;
  try {
    settings = effectiveSettings(checkFileSettings(shape.value), overrides);
  } catch (error) {
    throw wrap(error, file, "", "");
  }

  const seen = new Registry();
  const warnings: string[] = [];
  const services = shape.value.services.map((input, index) => {
    const label = serviceLabel(index, input.name);
    try {
      const service = validateService(input, index, settings, seen);
      for (const { field, text } of backendAdvice(service.backends)) {
        warnings.push(`${file}: ${label} ${field}: ${text}`);
      }
      return service;
    } catch (error) {
      throw wrap(error, file, `${label} `, `services[${index}].`);
    }
  });
  const crowded = tableSizeAdvice(services, settings.tableSize);
  if (crowded) warnings.push(`${file}: ${crowded}`);
  return { file, settings, services, warnings };
}

/** What earlier services claimed, so a later one can be told whom it clashes with. */
class Registry {
  readonly names = new Map<string, number>();
  readonly files = new Map<string, string>();
  readonly frontends = new Map<string, string>();
  /** Backend ID → the backend it stands for; the datapath's backend map holds one per ID. */
  readonly backendIds = new Map<number, { identity: string; where: string }>();
}

function validateService(input: ServiceShape, index: number, settings: MaglevSettings, seen: Registry): ServiceSpec {
  const { name } = input;
  const label = serviceLabel(index, name);
  const nameProblem = serviceNameProblem(name);
  if (nameProblem) throw new InvalidInputError("name", name, nameProblem);
  const sameName = seen.names.get(name);
  if (sameName !== undefined) throw new InvalidInputError("name", name, `is already used by services[${sameName}]`);
  const fileKey = tableFileKey(name);
  const sameFile = seen.files.get(fileKey);
  if (sameFile !== undefined) {
    throw new InvalidInputError("name", name, `has the same table file as ${sameFile} (${tableFileName(name)}, ignoring case)`);
  }

  const frontend = resolveFrontend(input.frontend);
  const vip = formatFrontend(frontend);
  const sameVip = seen.frontends.get(vip);
  if (sameVip !== undefined) throw new InvalidInputError("frontend", vip, `is already the frontend of ${sameVip}`);

  const backends = input.backends.map((b) => withProtocol(b, frontend.protocol));
  checkBackends(backends, settings.keyFormat, label, seen);
  if (backends.length >= settings.tableSize) {
    // The builder would refuse too; saying it here keeps "validate everything first" true.
    throw new InvalidInputError(
      "backends", backends.length,
      `need a table larger than the number of backends; table size is ${settings.tableSize}`, "INVALID_TABLE_SIZE",
    );
  }

  seen.names.set(name, index);
  seen.files.set(fileKey, label);
  seen.frontends.set(vip, label);
  return { name, index, frontend, backends };
}

/** A backend as the library takes it, with the frontend's protocol when none is given. */
function withProtocol(b: ServiceShape["backends"][number], protocol: string): MaglevBackend {
  const backend: MaglevBackend = { id: b.id, address: b.address, port: b.port, protocol: b.protocol ?? protocol };
  // Only present fields are copied, so the model never holds `undefined` keys.
  if (b.weight !== undefined) backend.weight = b.weight;
  if (b.scope !== undefined) backend.scope = b.scope as MaglevBackend["scope"];
  if (b.clusterId !== undefined) backend.clusterId = b.clusterId;
  return backend;
}

/**
 * Each backend through the library's validator, then duplicates as the
 * builder defines them (same key string, or same ID), then IDs across
 * services: one ID must mean one backend address on the whole node.
 */
function checkBackends(backends: readonly MaglevBackend[], keyFormat: KeyFormat, label: string, seen: Registry): void {
  const byKey = new Map<string, number>();
  const byId = new Map<number, number>();
  const pending: [number, { identity: string; where: string }][] = [];
  backends.forEach((backend, i) => {
    const { id, key } = resolveBackend(backend, keyFormat, `backends[${i}]`);
    const sameKey = byKey.get(key);
    if (sameKey !== undefined) {
      throw new InvalidInputError(`backends[${i}]`, key, `is the same backend as backends[${sameKey}]`, "DUPLICATE_BACKEND");
    }
    const sameId = byId.get(id);
    if (sameId !== undefined) {
      throw new InvalidInputError(`backends[${i}].id`, id, `is already used by backends[${sameId}]`, "DUPLICATE_BACKEND");
    }
    const identity = backendIdentity(backend);
    const elsewhere = seen.backendIds.get(id);
    if (elsewhere && elsewhere.identity !== identity) {
      throw new InvalidInputError(
        `backends[${i}].id`, id,
        `is already used by ${elsewhere.where} for ${elsewhere.identity}; one ID names one backend on a node`, "DUPLICATE_BACKEND",
      );
    }
    byKey.set(key, i);
    byId.set(id, i);
    pending.push([id, { identity, where: `${label} backends[${i}]` }]);
  });
  for (const [id, entry] of pending) if (!seen.backendIds.has(id)) seen.backendIds.set(id, entry);
}

/** What a backend ID stands for in the datapath: address, port, protocol and cluster (not scope). */
function backendIdentity(b: MaglevBackend): string {
  const ip = parseIp(b.address)!; // resolveBackend has accepted it
  const cluster = b.clusterId ? `@${b.clusterId}` : "";
  const addr = formatIp(ip) + cluster;
  return `${ip.family === 6 ? `[${addr}]` : addr}:${b.port}/${b.protocol.toUpperCase()}`;
}

/** Adds the file and the service to a library error; anything else is not ours to explain. */
function wrap(error: unknown, file: string, label: string, fieldPrefix: string): unknown {
  if (!(error instanceof InvalidInputError)) return error;
  return new ServicesFileError(error.code, `${file}: ${label}${error.message}`, { file, field: fieldPrefix + error.field }, { cause: error });
}

function shapeError(raw: unknown, file: string, p: ShapeProblem): ServicesFileError {
  const got = p.showValue ? ` (got ${describe(p.value)})` : "";
  const field = formatPath(p.path);
  let where = field;
  if (p.path[0] === "services" && typeof p.path[1] === "number") {
    const index = p.path[1];
    const rest = formatPath(p.path.slice(2));
    const label = serviceLabel(index, rawServiceName(raw, index));
    where = rest ? `${label} ${rest}` : label;
  }
  const message = `${file}: ${where ? `${where}: ` : ""}${p.problem}${got}`;
  return new ServicesFileError("INVALID_INPUT", message, { file, ...(field ? { field } : {}) });
}

/** The name of a service that failed the shape check, if it has a usable one. */
function rawServiceName(raw: unknown, index: number): unknown {
  const services = (raw as { services?: unknown } | null)?.services;
  if (!Array.isArray(services)) return undefined;
  return (services[index] as { name?: unknown } | null | undefined)?.name;
}

/** `services[2].backends[1].address`, the notation of the library's `field`s. */
function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}
