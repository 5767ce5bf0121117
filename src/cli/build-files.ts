/**
 * The files `wasmplane build` writes besides the Maglev tables, rendered
 * from a state's translation and policy. Every file is JSON in the layout
 * of json-text.ts (one backend, one entry, one prefix per line), with
 * lists in a fixed order, so the same state gives the same bytes.
 *
 *   lb/services.json            { formatVersion, services: LbService[] }      by name; what `Datapath.sync` takes
 *   lb/backends.json            { formatVersion, idLimit, backends }           by ID, with the frontends using each
 *   policy/ipcache.json         { formatVersion, entries: [{prefix, identity}] } by prefix
 *   policy/endpoints.json       { formatVersion, endpoints }                   pods by ns/name: identity, IPs, node
 *   policy/identities/<id>.json { formatVersion, identity, labels, endpoints, entries } one per endpoint identity
 *
 * @module
 */
import type { PolicyMapEntry } from "../policy/resolver-host.js";
import type { ServiceSpec } from "../services/index.js";
import type { LbService } from "../lb/services.js";
import { activeBackends } from "../lb/tables.js";
import { validateService } from "../lb/services.js";
import type { ServiceTranslation } from "../state/translate.js";
import type { StatePolicy } from "../state/policy.js";
import { renderJsonText } from "./json-text.js";
import { sha256Hex } from "./table-bytes.js";

/** Bumped when a reader of an older output would misread a newer one. */
export const BUILD_FORMAT_VERSION = 1;
/** Top-level directories a build owns (replaced whole on every write). */
export const BUILD_DIRS: readonly string[] = ["tables", "lb", "policy"];
/** Fixed file names. */
export const BUILD_FILES = {
  services: "lb/services.json",
  backends: "lb/backends.json",
  ipcache: "policy/ipcache.json",
  endpoints: "policy/endpoints.json",
} as const;
export const IDENTITY_DIR = "policy/identities";

/** The file of an endpoint identity's policy map. */
export function identityFile(identity: number): string {
  return `${IDENTITY_DIR}/${identity}.json`;
}

/** A rendered file. */
export interface BuildFile {
  readonly file: string;
  readonly text: string;
  readonly sha256: string;
}

function file(name: string, value: unknown): BuildFile {
  const text = renderJsonText(value);
  return { file: name, text, sha256: sha256Hex(Buffer.from(text, "utf8")) };
}

function serviceJson(s: LbService): unknown {
  return {
    name: s.name,
    vip: s.vip,
    port: s.port,
    protocol: s.protocol,
    algorithm: s.algorithm,
    sessionAffinity: s.sessionAffinity ? { timeoutSeconds: s.sessionAffinity.timeoutSeconds } : undefined,
    backends: s.backends.map((b) => ({ id: b.id, address: b.address, port: b.port, weight: b.weight, draining: b.draining })),
  };
}

function entryJson(e: PolicyMapEntry): unknown {
  return {
    identity: e.identity, direction: e.direction, protocol: e.protocol, port: e.port, endPort: e.endPort,
    prefixLength: e.prefixLength, precedence: e.precedence, deny: e.deny, proxy: e.proxy,
  };
}

/** lb/services.json and lb/backends.json. */
export function loadBalancerFiles(t: ServiceTranslation): BuildFile[] {
  return [
    file(BUILD_FILES.services, { formatVersion: BUILD_FORMAT_VERSION, services: t.services.map(serviceJson) }),
    file(BUILD_FILES.backends, {
      formatVersion: BUILD_FORMAT_VERSION,
      idLimit: t.settings.backendIdLimit,
      backends: t.backends.map((b) => ({ id: b.id, address: b.address, port: b.port, draining: b.draining, services: b.services })),
    }),
  ];
}

/** policy/ipcache.json and policy/endpoints.json. */
export function policyFiles(p: StatePolicy): BuildFile[] {
  return [
    file(BUILD_FILES.ipcache, { formatVersion: BUILD_FORMAT_VERSION, entries: p.cluster.ipcache().map((e) => ({ prefix: e.prefix, identity: e.identity })) }),
    file(BUILD_FILES.endpoints, {
      formatVersion: BUILD_FORMAT_VERSION,
      endpoints: p.endpoints.map((e) => ({ endpoint: e.endpoint, identity: e.identity, ips: e.ips, node: e.node ?? null })),
    }),
  ];
}

/** Endpoint identities, ascending, with their endpoints. */
export function endpointIdentities(p: StatePolicy): Array<{ identity: number; endpoints: string[] }> {
  const byIdentity = new Map<number, string[]>();
  for (const e of p.endpoints) byIdentity.set(e.identity, [...(byIdentity.get(e.identity) ?? []), e.endpoint]);
  return [...byIdentity].sort((a, b) => a[0] - b[0]).map(([identity, endpoints]) => ({ identity, endpoints }));
}

/** policy/identities/<id>.json: the policy map every endpoint of `identity` reads. */
export function identityMapFile(p: StatePolicy, identity: number, endpoints: readonly string[]): BuildFile {
  const entries = p.cluster.engine.policyMap(identity);
  return file(identityFile(identity), {
    formatVersion: BUILD_FORMAT_VERSION,
    identity,
    labels: [...(p.cluster.engine.identities.labels(identity) ?? [])],
    endpoints,
    entries: entries.map(entryJson),
  });
}

/**
 * The Maglev services of a translation in the services-file model the
 * `maglev` command builds from: active (not draining) backends only, as the
 * datapath builds its tables (src/lb/tables.ts).
 */
export function maglevSpecs(t: ServiceTranslation): ServiceSpec[] {
  return t.services
    .filter((s) => s.algorithm === "maglev")
    .map((s, index) => {
      const spec = validateService(s);
      const protocol = spec.protocol;
      return {
        name: s.name,
        index,
        frontend: { address: s.vip, port: s.port, protocol },
        backends: activeBackends(spec).map((b) => ({ id: b.id, address: b.addressText, port: b.port, protocol, weight: b.weight })),
      };
    });
}
