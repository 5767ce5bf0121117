/**
 * The agent's flow log: datapath flow events (src/events) turned into
 * {@link ObservedFlow}s with both sides named, the last `capacity` kept in
 * memory (a ring), new ones pushed to followers, and the rate over the
 * last ten seconds.
 *
 * Names come from a {@link FlowNames} the agent refreshes after each
 * change: pod addresses from the state, identity labels from the cluster
 * view, service names from the load balancer, interface names from the
 * endpoints it attached.
 *
 * @module
 */
import type { FlowEvent } from "../events/flow-event.js";
import type { FlowFilter, ObservedFlow, ObservedPeer } from "../observe/types.js";
import { matchesFlow } from "../observe/filter.js";
import type { EngineIdentities } from "../policy/engine.js";

/** Flows kept in memory by default. */
export const DEFAULT_FLOW_CAPACITY = 4096;

/** Seconds the rate is averaged over. */
const RATE_WINDOW_S = 10;

/** How the agent names what a flow event carries as numbers. */
export interface FlowNames {
  /** Pod of an address. */
  podOf(ip: string): { namespace: string; pod: string } | undefined;
  /** Labels of an identity. */
  labelsOf(identity: number): readonly string[] | undefined;
  /** Name of a service ID. */
  serviceName(id: number): string | undefined;
  /** Name of an interface index. */
  interfaceName(ifindex: number): string | undefined;
}

/** What the agent knows at the time of a flow event, to name its numbers by. */
export interface NamingView {
  /** Address → `ns/pod`. */
  readonly podAddresses: ReadonlyMap<string, string>;
  /** The cluster view's identities (undefined before the first change). */
  readonly identities: Pick<EngineIdentities, "labels"> | undefined;
  /** Load-balancer service ID → frontend name. */
  readonly serviceNames: ReadonlyMap<number, string>;
  /** Endpoints attached, with their interface index and name. */
  readonly endpoints: ReadonlyMap<string, { readonly ifindex: number; readonly iface: string }>;
}

/** {@link FlowNames} that look `view` up. */
export function flowNamesOf(view: NamingView): FlowNames {
  return {
    podOf: (ip) => {
      const pod = view.podAddresses.get(ip);
      if (pod === undefined) return undefined;
      const slash = pod.indexOf("/");
      return { namespace: pod.slice(0, slash), pod: pod.slice(slash + 1) };
    },
    labelsOf: (identity) => view.identities?.labels(identity),
    serviceName: (id) => view.serviceNames.get(id),
    interfaceName: (ifindex) => [...view.endpoints.values()].find((e) => e.ifindex === ifindex)?.iface,
  };
}

/** A follower: receives each new flow that passes its filter. */
export type FlowListener = (flow: ObservedFlow) => void;

function peer(ip: string, port: number, identity: number, names: FlowNames): ObservedPeer {
  const pod = names.podOf(ip);
  const labels = names.labelsOf(identity);
  return {
    ip, port, identity,
    ...(pod ? { namespace: pod.namespace, pod: pod.pod } : {}),
    ...(labels ? { labels: [...labels] } : {}),
  };
}

/**
 * The Service (`namespace/name`) a load-balancer frontend name belongs to:
 * frontends are named `namespace/name:port/kind/address` (src/state), and
 * Kubernetes names hold no ':'. Other names are returned as they are.
 */
export function serviceOfFrontend(frontend: string): string {
  const colon = frontend.indexOf(":");
  return colon > 0 && frontend.slice(0, colon).includes("/") ? frontend.slice(0, colon) : frontend;
}

/** One flow event with names. */
export function observeFlow(e: FlowEvent, names: FlowNames): ObservedFlow {
  // Egress leaves the endpoint: the source is the endpoint, the destination its peer.
  const egress = e.direction === "egress";
  const source = peer(e.source, e.sourcePort, egress ? e.endpointIdentity : e.peerIdentity, names);
  const destination = peer(e.destination, e.destinationPort, egress ? e.peerIdentity : e.endpointIdentity, names);
  const frontend = e.serviceId === undefined ? undefined : names.serviceName(e.serviceId);
  return {
    time: e.time,
    verdict: e.verdict,
    ...(e.reason !== undefined && e.verdict === "DROPPED" ? { reason: e.reason } : {}),
    direction: e.direction,
    protocol: String(e.protocol),
    source,
    destination,
    ...(e.serviceId !== undefined ? { service: { id: e.serviceId, ...(frontend !== undefined ? { name: serviceOfFrontend(frontend), frontend } : {}) } } : {}),
    tcpFlags: e.tcpFlags,
    reply: e.reply,
    interface: names.interfaceName(e.ifindex) ?? String(e.ifindex),
  };
}

/** The ring of recent flows and its followers. */
export class FlowLog {
  readonly #capacity: number;
  readonly #ring: ObservedFlow[] = [];
  #next = 0;
  #total = 0;
  readonly #followers = new Set<{ filter: FlowFilter; listener: FlowListener }>();
  /** Flows per second bucket, keyed by whole second of the receiving clock. */
  readonly #buckets = new Map<number, number>();
  readonly #now: () => number;

  constructor(capacity = DEFAULT_FLOW_CAPACITY, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#now = now;
  }

  /** Flows received since the start. */
  get total(): number {
    return this.#total;
  }

  /** Keeps a flow and hands it to the followers whose filter it passes. */
  push(flow: ObservedFlow): void {
    if (this.#ring.length < this.#capacity) this.#ring.push(flow);
    else this.#ring[this.#next] = flow;
    this.#next = (this.#next + 1) % this.#capacity;
    this.#total++;
    const second = Math.floor(this.#now() / 1000);
    this.#buckets.set(second, (this.#buckets.get(second) ?? 0) + 1);
    if (this.#buckets.size > RATE_WINDOW_S + 2) {
      for (const s of this.#buckets.keys()) if (s <= second - RATE_WINDOW_S) this.#buckets.delete(s);
    }
    for (const f of this.#followers) if (matchesFlow(flow, f.filter)) f.listener(flow);
  }

  /** The last `n` kept flows passing `filter`, oldest first. */
  last(n: number, filter: FlowFilter = {}): ObservedFlow[] {
    const out: ObservedFlow[] = [];
    const size = this.#ring.length;
    for (let i = 1; i <= size && out.length < n; i++) {
      const flow = this.#ring[(this.#next - i + size * 2) % size]!;
      if (matchesFlow(flow, filter)) out.push(flow);
    }
    return out.reverse();
  }

  /** Flows per second over the last ten whole seconds. */
  rate(): number {
    const second = Math.floor(this.#now() / 1000);
    let sum = 0;
    for (const [s, n] of this.#buckets) if (s > second - RATE_WINDOW_S && s <= second) sum += n;
    return Math.round((sum / RATE_WINDOW_S) * 10) / 10;
  }

  /** Hands every new flow passing `filter` to `listener` until the returned function is called. */
  follow(filter: FlowFilter, listener: FlowListener): () => void {
    const entry = { filter, listener };
    this.#followers.add(entry);
    return () => void this.#followers.delete(entry);
  }
}
