/**
 * The local API's answers built from the agent's current view: its status
 * (`GET /v1/status`), a reachability check (`POST /v1/policy/check`) and an
 * endpoint's policy map (`GET /v1/policy/map`). The agent hands in what it
 * holds; nothing here keeps state of its own.
 *
 * The status reads the maps (fill, drop counters, policy entries), so it
 * needs CAP_BPF; the policy answers come from the cluster view alone.
 *
 * @module
 */
import type { Cluster, ReachabilityQuery } from "../cluster/cluster.js";
import type { EndpointDatapath } from "../endpoint/datapath.js";
import { InvalidInputError, WasmplaneError } from "../errors.js";
import { DROP_REASON } from "../bpf/drop-reasons.js";
import { dropReasonName } from "../events/flow-event.js";
import type { FlowEventReader } from "../events/reader.js";
import type { Datapath } from "../lb/datapath.js";
import { byText } from "../state/fields.js";
import { AGENT_API_VERSION, type AgentStatus, type AppliedChange } from "./api.js";
import type { KeyedObject } from "./desired.js";
import type { AttachedEndpoint } from "./endpoints.js";
import type { FlowLog } from "./flows.js";
import { mapFill } from "./map-fill.js";
import type { AttachedXdp } from "./resources.js";

/** What the agent holds when asked for its status. */
export interface StatusView {
  readonly health: AgentStatus["health"];
  readonly startedAt: string;
  readonly statePath: string;
  readonly lb: Datapath | undefined;
  readonly ep: EndpointDatapath | undefined;
  readonly cluster: Cluster | undefined;
  readonly xdp: AttachedXdp | undefined;
  readonly endpoints: ReadonlyMap<string, AttachedEndpoint>;
  /** Cluster objects as last applied, by key: their pods give the identity count. */
  readonly objects: ReadonlyMap<string, KeyedObject>;
  /** Backends as last applied. */
  readonly backends: number;
  readonly lastApplied: AppliedChange | undefined;
  readonly flows: FlowLog;
  readonly reader: FlowEventReader | undefined;
}

/** `degraded` while the last write failed or the last change rejected something; `ok` otherwise. */
export function healthOf(writeFailed: boolean, lastApplied: AppliedChange | undefined): AgentStatus["health"] {
  return writeFailed || (lastApplied?.rejected.length ?? 0) > 0 ? "degraded" : "ok";
}

/** The agent's status. Reads map fill and counters: needs CAP_BPF. */
export function agentStatus(view: StatusView): AgentStatus {
  const { lb, ep } = view;
  const identities = new Set<number>();
  for (const o of view.objects.values()) {
    if (o.kind !== "Pod") continue;
    const id = view.cluster?.identityOf(`${o.namespace}/${o.name}`);
    if (id !== undefined) identities.add(id);
  }
  const drops: Record<string, string> = {};
  if (ep) {
    for (const [name, count] of Object.entries(ep.counters().drops)) {
      if (count.packets > 0n) drops[dropReasonName(DROP_REASON[name as keyof typeof DROP_REASON])] = count.packets.toString();
    }
  }
  return {
    apiVersion: AGENT_API_VERSION,
    health: view.health,
    startedAt: view.startedAt,
    state: view.statePath,
    ...(view.xdp ? { xdp: { interface: view.xdp.iface, mode: view.xdp.attachment.mode } } : {}),
    endpoints: Object.fromEntries([...view.endpoints.values()].sort((a, b) => byText(a.pod, b.pod)).map((e) => [e.pod, e.iface])),
    counts: {
      services: lb?.services().length ?? 0,
      backends: view.backends,
      identities: identities.size,
      endpoints: view.endpoints.size,
      policyEntries: ep?.policyEntries().length ?? 0,
    },
    maps: lb && ep ? mapFill(lb, ep) : [],
    ...(view.lastApplied ? { lastApplied: view.lastApplied } : {}),
    flowsPerSecond: view.flows.rate(),
    dropsByReason: drops,
    flowEventsLost: (view.reader?.lost() ?? 0n).toString(),
  };
}

function readyCluster(cluster: Cluster | undefined): Cluster {
  if (!cluster) throw new WasmplaneError("INVALID_INPUT", "the agent is not ready");
  return cluster;
}

/**
 * Whether `query.from` may reach `query.to` under the cluster view (the
 * protocol defaults to TCP, any case accepted), echoing the query.
 *
 * @throws {@link WasmplaneError} `INVALID_INPUT` before the agent is ready;
 *   {@link InvalidInputError} when `from` or `to` is not a string.
 */
export function policyCheck(cluster: Cluster | undefined, query: ReachabilityQuery): unknown {
  const ready = readyCluster(cluster);
  const q = query as unknown as Record<string, unknown>;
  for (const field of ["from", "to"]) if (typeof q[field] !== "string") throw new InvalidInputError(field, q[field], "must be ns/pod or an IP address");
  const protocol = typeof q.protocol === "string" ? q.protocol.toUpperCase() : q.protocol ?? "TCP";
  const r = ready.reachability({ from: q.from as string, to: q.to as string, port: q.port as number, protocol: protocol as "TCP" });
  return { from: q.from, to: q.to, port: q.port, protocol, ...r };
}

/**
 * The policy map entries of `endpoint` (`ns/pod`) with its identity.
 *
 * @throws {@link WasmplaneError} `INVALID_INPUT` before the agent is ready;
 *   {@link InvalidInputError} for a pod the cluster view does not know.
 */
export function policyMap(cluster: Cluster | undefined, endpoint: string): unknown {
  const ready = readyCluster(cluster);
  const identity = ready.identityOf(endpoint);
  if (identity === undefined) throw new InvalidInputError("endpoint", endpoint, "is not a pod the agent knows");
  return { endpoint, identity, entries: ready.engine.policyMap(identity) };
}
