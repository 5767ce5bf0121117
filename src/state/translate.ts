/**
 * Services and EndpointSlices → the load balancer's service list
 * (src/lb/services.ts `LbService`), for one node.
 *
 * Frontends: one `LbService` per (service address × service port), for
 * every ClusterIP (`clusterIPs`, both families when dual-stack), external
 * IP and LoadBalancer ingress IP, and, when the node is known, one per
 * (node InternalIP × nodePort) of NodePort and LoadBalancer services.
 * Each frontend's name says what it is and stays put while the service
 * exists: `<namespace>/<service>:<port name or number>/<kind>/<address>`
 * with kind `cluster-ip`, `external-ip`, `load-balancer` or `node-port`.
 *
 * Backends: the addresses of the service's EndpointSlices (label
 * `kubernetes.io/service-name`) whose family is the frontend's, on the
 * slice port with the service port's name and protocol: the EndpointSlice
 * controller has already resolved `targetPort` (a number or a container
 * port name, per pod) into that port. As Cilium does for graceful
 * termination: a ready endpoint is an active backend; a not-ready one that
 * is still serving while terminating is kept as a draining backend (its
 * established flows continue, new flows skip it); anything else is left
 * out. `externalTrafficPolicy: Local` keeps only this node's endpoints for
 * NodePort, LoadBalancer and external IP frontends, `internalTrafficPolicy:
 * Local` for ClusterIP ones.
 *
 * Backend IDs come from backend-ids.ts. wp_backends holds one draining flag
 * per backend, so a backend draining in one slice is draining everywhere
 * (slices disagree only while the pod's termination propagates).
 *
 * Two services claiming one frontend: the one whose `namespace/name` sorts
 * first keeps it, the other gets an error naming the field; so the result
 * does not depend on input order either.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { DEFAULT_HASH_SEED, DEFAULT_TABLE_SIZE, checkKeyFormat, checkTableSize, decodeHashSeed, type KeyFormat } from "../maglev/config.js";
import { LB_ALGORITHMS, validateServices, type LbAlgorithm, type LbBackend, type LbService } from "../lb/services.js";
import { assignBackendIds, DEFAULT_BACKEND_ID_LIMIT, endpointText } from "./backend-ids.js";
import type { EndpointSliceObject } from "./endpoint-slice.js";
import { byText, familyOf } from "./fields.js";
import type { NodeObject } from "./node.js";
import type { ServiceObject, ServicePortSpec } from "./service.js";
import { describeObject, type KubeState, type StatePod } from "./snapshot.js";

/** Node-wide load-balancing settings, after options and the Node's annotations. */
export interface NodeSettings {
  /** Maglev table size M. */
  readonly tableSize: number;
  /** Maglev hash seed, base64 of 12 bytes. */
  readonly hashSeed: string;
  /** Maglev backend key format. */
  readonly keyFormat: KeyFormat;
  /** Algorithm of services without the `wasmplane.io/lb-algorithm` annotation. */
  readonly defaultAlgorithm: LbAlgorithm;
  /** Backend IDs are below this. */
  readonly backendIdLimit: number;
}

/** Options of {@link translateServices}. Explicit values win over the Node's annotations, which win over defaults. */
export interface TranslateOptions {
  /**
   * The node the tables are for: NodePort frontends listen on its
   * InternalIPs and `Local` traffic policies keep its endpoints. Default:
   * the state's only Node, if it has exactly one; otherwise none.
   */
  node?: string;
  /** Maglev table size (a prime); default the Node's annotation, else 16381. */
  tableSize?: number;
  /** Maglev hash seed; default the Node's annotation, else Cilium's. */
  hashSeed?: string;
  /** Maglev key format; default `cilium`. */
  keyFormat?: KeyFormat;
  /** Default algorithm; default the Node's annotation, else `maglev`. */
  defaultAlgorithm?: LbAlgorithm;
  /** Backend IDs are chosen below this; default 16384 (see {@link assignBackendIds}). */
  backendIdLimit?: number;
  /** Backend IDs to keep, by endpoint (`10.0.1.5:8080`): what the datapath holds now. */
  previousBackendIds?: ReadonlyMap<string, number>;
}

/** A backend of the node, across services. */
export interface BackendRecord {
  /** Backend ID. */
  readonly id: number;
  /** Address, canonical text. */
  readonly address: string;
  /** Port the backend serves on. */
  readonly port: number;
  /** True when it is draining (terminating) in any service. */
  readonly draining: boolean;
  /** Names of the frontends (`LbService.name`) that list it, sorted. */
  readonly services: readonly string[];
}

/** What {@link translateServices} returns. */
export interface ServiceTranslation {
  /** The node the tables are for, if any. */
  readonly node: string | undefined;
  /** Settings in effect. */
  readonly settings: NodeSettings;
  /** One entry per frontend, sorted by name; backends sorted by ID. Valid for `validateServices`. */
  readonly services: LbService[];
  /** Every backend, sorted by ID. */
  readonly backends: BackendRecord[];
  /** Things that are valid but may not be what was meant (a slice without its service, ...). */
  readonly warnings: string[];
  /** Frontends or settings left out, one error each. */
  readonly errors: InvalidInputError[];
}

type FrontendKind = "cluster-ip" | "external-ip" | "load-balancer" | "node-port";

interface Candidate {
  readonly address: string;
  readonly port: number;
  readonly draining: boolean;
  readonly weight: number | undefined;
  readonly nodeName: string | undefined;
}

interface Draft {
  readonly name: string;
  readonly vip: string;
  readonly port: number;
  readonly protocol: string;
  readonly algorithm: LbAlgorithm;
  readonly affinity: number;
  readonly backends: readonly Candidate[];
}

function pickNode(state: KubeState, options: TranslateOptions, warnings: string[]): NodeObject | undefined {
  if (options.node !== undefined) {
    const node = state.nodes.find((n) => n.name === options.node);
    if (!node) warnings.push(`node ${options.node} is not in the state: no NodePort frontends`);
    return node;
  }
  return state.nodes.length === 1 ? state.nodes[0] : undefined;
}

/**
 * Settings: options, then the Node's annotations, then defaults.
 * @throws InvalidInputError naming the option for a bad explicit value
 */
export function resolveSettings(node: NodeObject | undefined, options: TranslateOptions): NodeSettings {
  const tableSize = options.tableSize ?? node?.tableSize ?? DEFAULT_TABLE_SIZE;
  if (options.tableSize !== undefined) checkTableSize(options.tableSize, "tableSize");
  const hashSeed = options.hashSeed ?? node?.hashSeed ?? DEFAULT_HASH_SEED;
  if (options.hashSeed !== undefined) decodeHashSeed(options.hashSeed, "hashSeed");
  const keyFormat = checkKeyFormat(options.keyFormat ?? "cilium", "keyFormat");
  const defaultAlgorithm = options.defaultAlgorithm ?? node?.algorithm ?? "maglev";
  if (!LB_ALGORITHMS.includes(defaultAlgorithm)) {
    throw new InvalidInputError("defaultAlgorithm", defaultAlgorithm, `must be one of ${LB_ALGORITHMS.join(", ")}`);
  }
  return { tableSize, hashSeed, keyFormat, defaultAlgorithm, backendIdLimit: options.backendIdLimit ?? DEFAULT_BACKEND_ID_LIMIT };
}

/** The endpoints of one service port, by family: ready ones active, serving-and-terminating ones draining. */
function candidatesOf(port: ServicePortSpec, slices: readonly EndpointSliceObject[], pods: ReadonlyMap<string, StatePod>): Candidate[] {
  const byEndpoint = new Map<string, Candidate>();
  for (const slice of slices) {
    if (slice.addressType === "FQDN") continue;
    const target = slice.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    if (!target || target.port === undefined) continue;
    for (const e of slice.endpoints) {
      const draining = !e.ready;
      if (draining && !(e.serving && e.terminating)) continue;
      const weight = e.pod === undefined ? undefined : pods.get(e.pod)?.weight;
      for (const address of e.addresses) {
        const key = endpointText(address, target.port);
        const before = byEndpoint.get(key);
        // The same address in two slices (while the controller moves it): ready wins.
        if (before && !before.draining) continue;
        byEndpoint.set(key, { address, port: target.port, draining, weight, nodeName: e.nodeName });
      }
    }
  }
  return [...byEndpoint.values()];
}

function frontendName(svc: ServiceObject, port: ServicePortSpec, kind: FrontendKind, address: string): string {
  return `${svc.namespace}/${svc.name}:${port.name ?? port.port}/${kind}/${address}`;
}

/** A frontend a service asks for, before two services claiming one frontend are sorted out. */
interface ProposedFrontend {
  /** `vip:port/protocol`. */
  readonly frontend: string;
  /** The field that names its address, for the error when another service holds it. */
  readonly field: string;
  /** `file: Service ns/name`. */
  readonly context: string;
  readonly draft: Draft;
}

/** One service's frontends and what they were computed from. */
interface Proposal {
  readonly svc: ServiceObject;
  readonly node: NodeObject | undefined;
  readonly nodeName: string | undefined;
  readonly defaultAlgorithm: LbAlgorithm;
  /** The weights of the pods its slices name. */
  readonly weights: string;
  readonly slices: readonly EndpointSliceObject[];
  readonly frontends: readonly ProposedFrontend[];
  readonly warning: string | undefined;
}

/**
 * What one translation keeps for the next, so that a state where few
 * objects changed is translated in proportion to the change: each service's
 * frontends (recomputed only when its Service, its EndpointSlices, the
 * weights of their pods, the Node or the default algorithm changed, told
 * apart by object identity as snapshot.ts `StateSnapshot` keeps unchanged
 * objects), and each frontend's `LbService` (the same object while its
 * backends' IDs and draining flags stay). The result equals a translation
 * without a memo.
 *
 * @internal The node agent's.
 */
export class TranslationMemo {
  /** By `namespace/name`. */
  readonly services = new Map<string, Proposal>();
  readonly built = new WeakMap<Draft, { signature: string; service: LbService }>();
  /** The last call: what it read, the backend IDs it was handed and gave, and its result. */
  last: { inputs: TranslationInputs; previous: ReadonlyMap<string, number> | undefined; ids: ReadonlyMap<string, number>; result: ServiceTranslation } | undefined;
}

/** Everything a translation reads: the objects by identity, the pods' weights and the options by value. */
interface TranslationInputs {
  readonly services: readonly ServiceObject[];
  readonly slices: readonly EndpointSliceObject[];
  readonly nodes: readonly NodeObject[];
  readonly weights: string;
  readonly options: string;
}

function inputsOf(state: KubeState, options: TranslateOptions): TranslationInputs {
  let weights = "";
  for (const p of state.pods) if (p.weight !== undefined) weights += `${p.namespace}/${p.name}=${p.weight},`;
  const { previousBackendIds: _ids, ...rest } = options;
  return { services: state.services, slices: state.endpointSlices, nodes: state.nodes, weights, options: JSON.stringify(rest) };
}

function sameInputs(a: TranslationInputs, b: TranslationInputs): boolean {
  return a.weights === b.weights && a.options === b.options && sameList(a.services, b.services) && sameList(a.slices, b.slices) && sameList(a.nodes, b.nodes);
}

/**
 * Whether the backend IDs handed in give the last result's IDs again: the
 * same map as last time, or exactly the IDs the last result assigned (the
 * same backends keep them all).
 */
function sameIds(previous: ReadonlyMap<string, number> | undefined, last: NonNullable<TranslationMemo["last"]>): boolean {
  if (previous === last.previous) return true;
  if (previous === undefined || previous.size !== last.ids.size) return false;
  for (const [endpoint, id] of last.ids) if (previous.get(endpoint) !== id) return false;
  return true;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function weightsOf(slices: readonly EndpointSliceObject[], pods: ReadonlyMap<string, StatePod>): string {
  let out = "";
  for (const slice of slices) for (const e of slice.endpoints) if (e.pod !== undefined) out += `${pods.get(e.pod)?.weight ?? ""},`;
  return out;
}

function lbServiceOf(d: Draft, backends: LbBackend[]): LbService {
  const service: LbService = { name: d.name, vip: d.vip, port: d.port, protocol: d.protocol, algorithm: d.algorithm, backends };
  if (d.affinity > 0) service.sessionAffinity = { timeoutSeconds: d.affinity };
  return service;
}

/** The frontends of one service, with their backends (before IDs). */
function proposeFrontends(
  svc: ServiceObject, slices: readonly EndpointSliceObject[], pods: ReadonlyMap<string, StatePod>, node: NodeObject | undefined,
  nodeName: string | undefined, defaultAlgorithm: LbAlgorithm,
): { frontends: ProposedFrontend[]; warning: string | undefined } {
  const algorithm = svc.algorithm ?? defaultAlgorithm;
  const context = `${svc.source}: ${describeObject(svc)}`;
  const frontends: ProposedFrontend[] = [];
  const localNeeded = (svc.externalTrafficPolicy === "Local" && (svc.externalIPs.length || svc.loadBalancerIPs.length || svc.type !== "ClusterIP")) ||
    svc.internalTrafficPolicy === "Local";
  const warning = localNeeded && nodeName === undefined ? `${context}: a Local traffic policy without a node: every endpoint is kept` : undefined;
  svc.ports.forEach((port, pi) => {
    const candidates = candidatesOf(port, slices, pods);
    const add = (kind: FrontendKind, vip: string, frontPort: number, field: string, local: boolean) => {
      const name = frontendName(svc, port, kind, vip);
      const frontend = `${endpointText(vip, frontPort)}/${port.protocol}`;
      const family = familyOf(vip);
      const backends = candidates.filter((c) => familyOf(c.address) === family && (!local || nodeName === undefined || c.nodeName === nodeName));
      frontends.push({ frontend, field, context, draft: { name, vip, port: frontPort, protocol: port.protocol, algorithm, affinity: svc.affinityTimeoutSeconds, backends } });
    };
    svc.clusterIPs.forEach((ip, i) => add("cluster-ip", ip, port.port, `spec.clusterIPs[${i}]`, svc.internalTrafficPolicy === "Local"));
    const externalLocal = svc.externalTrafficPolicy === "Local";
    svc.externalIPs.forEach((ip, i) => add("external-ip", ip, port.port, `spec.externalIPs[${i}]`, externalLocal));
    svc.loadBalancerIPs.forEach((ip, i) => add("load-balancer", ip, port.port, `status.loadBalancer.ingress[${i}].ip`, externalLocal));
    if (port.nodePort !== undefined && node) {
      for (const ip of node.internalIPs) add("node-port", ip, port.nodePort, `spec.ports[${pi}].nodePort`, externalLocal);
    }
  });
  return { frontends, warning };
}

/**
 * Translates the Services and EndpointSlices of a state into the load
 * balancer's services for one node. Never throws for bad input: problems go
 * to `errors` (with file, object and field) or `warnings`.
 *
 * @throws InvalidInputError for a bad explicit option (`tableSize`, ...),
 *   or when there are more backends than backend IDs.
 */
export function translateServices(state: KubeState, options: TranslateOptions = {}): ServiceTranslation {
  return translateWithMemo(state, options, undefined);
}

/**
 * {@link translateServices} with a `memo` kept from one call to the next
 * on the same, changing, state: only what changed is computed again; the
 * result is the same.
 *
 * @internal The node agent's.
 */
export function translateWithMemo(state: KubeState, options: TranslateOptions, memo: TranslationMemo | undefined): ServiceTranslation {
  // Nothing the translation reads changed (a policy or a pod's labels did): the last result stands.
  const inputs = memo ? inputsOf(state, options) : undefined;
  const last = memo?.last;
  if (last && inputs && sameInputs(last.inputs, inputs) && sameIds(options.previousBackendIds, last)) return last.result;
  const warnings: string[] = [];
  const errors: InvalidInputError[] = [];
  const node = pickNode(state, options, warnings);
  const settings = resolveSettings(node, options);
  const nodeName = node?.name ?? options.node;
  const pods = new Map(state.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  const seen = memo ? new Set<string>() : undefined;

  const slicesOf = new Map<string, EndpointSliceObject[]>();
  const serviceKeys = new Set(state.services.map((s) => `${s.namespace}/${s.name}`));
  for (const slice of state.endpointSlices) {
    if (slice.service === undefined) {
      warnings.push(`${slice.source}: ${describeObject(slice)} has no kubernetes.io/service-name label: ignored`);
      continue;
    }
    const key = `${slice.namespace}/${slice.service}`;
    if (!serviceKeys.has(key)) {
      warnings.push(`${slice.source}: ${describeObject(slice)} belongs to Service ${key}, which is not in the state: ignored`);
      continue;
    }
    const list = slicesOf.get(key) ?? [];
    list.push(slice);
    slicesOf.set(key, list);
  }

  const drafts: Draft[] = [];
  const owners = new Map<string, string>();
  for (const svc of state.services) {
    const key = `${svc.namespace}/${svc.name}`;
    const slices = slicesOf.get(key) ?? [];
    const weights = memo ? weightsOf(slices, pods) : "";
    const before = memo?.services.get(key);
    const proposal = before && before.svc === svc && before.node === node && before.nodeName === nodeName &&
        before.defaultAlgorithm === settings.defaultAlgorithm && before.weights === weights && sameList(before.slices, slices)
      ? before
      : { svc, node, nodeName, defaultAlgorithm: settings.defaultAlgorithm, weights, slices, ...proposeFrontends(svc, slices, pods, node, nodeName, settings.defaultAlgorithm) };
    seen?.add(key);
    memo?.services.set(key, proposal);
    if (proposal.warning !== undefined) warnings.push(proposal.warning);
    for (const f of proposal.frontends) {
      const owner = owners.get(f.frontend);
      if (owner !== undefined) {
        errors.push(new InvalidInputError(f.field, f.draft.vip, `${f.frontend} is already a frontend of ${owner}: left out`, "INVALID_INPUT", f.context));
        continue;
      }
      owners.set(f.frontend, f.draft.name);
      drafts.push(f.draft);
    }
  }
  if (memo) for (const key of [...memo.services.keys()]) if (!seen!.has(key)) memo.services.delete(key);

  // IDs and the node-wide draining flag, over every frontend's backends.
  const draining = new Map<string, boolean>();
  const users = new Map<string, string[]>();
  const samples = new Map<string, Candidate>();
  for (const d of drafts) {
    for (const b of d.backends) {
      const key = endpointText(b.address, b.port);
      samples.set(key, b);
      draining.set(key, (draining.get(key) ?? false) || b.draining);
      const list = users.get(key) ?? [];
      list.push(d.name);
      users.set(key, list);
    }
  }
  const ids = assignBackendIds(draining.keys(), { limit: settings.backendIdLimit, previous: options.previousBackendIds });

  const fresh: LbService[] = [];
  const services: LbService[] = drafts
    .sort((a, b) => byText(a.name, b.name))
    .map((d) => {
      const backends: LbBackend[] = d.backends
        .map((b) => {
          const key = endpointText(b.address, b.port);
          const out: LbBackend = { id: ids.get(key)!, address: b.address, port: b.port };
          if (b.weight !== undefined && b.weight !== 1) out.weight = b.weight;
          if (draining.get(key)) out.draining = true;
          return out;
        })
        .sort((a, b) => a.id - b.id);
      if (memo) {
        // The same draft with the same IDs and draining flags: the very same service object as last time.
        const signature = backends.map((b) => `${b.id}${b.draining ? "d" : ""}`).join(",");
        const before = memo.built.get(d);
        if (before?.signature === signature) return before.service;
        const service = lbServiceOf(d, backends);
        memo.built.set(d, { signature, service });
        fresh.push(service);
        return service;
      }
      return lbServiceOf(d, backends);
    });
  // What goes out must be what the datapath accepts; a failure here is a bug in this module.
  // (Services reused from the memo were checked when they were made; names and frontends are unique by construction.)
  validateServices(memo ? fresh : services);

  const backends: BackendRecord[] = [...ids]
    .map(([key, id]) => {
      const sample = samples.get(key)!;
      return { id, address: sample.address, port: sample.port, draining: draining.get(key)!, services: [...new Set(users.get(key))].sort(byText) };
    })
    .sort((a, b) => a.id - b.id);
  const result: ServiceTranslation = { node: nodeName, settings, services, backends, warnings: warnings.sort(byText), errors };
  if (memo && inputs) memo.last = { inputs, previous: options.previousBackendIds, ids, result };
  return result;
}
