/**
 * The agent's endpoints: the pods whose host-side interface gets the tc
 * programs (src/endpoint), and the writes that bring what is attached to
 * what the state asks for.
 *
 *   --endpoints flag ─┐                         ┌─▶ attach (new pod or new interface)
 *                     ├─▶ plan: pod → interface ├─▶ new identity (pod relabelled)
 *   pod annotations ──┘   index and identity    └─▶ detach (pod gone)
 *
 * A change resolves the interface names first (libbpf's if_nametoindex is
 * asynchronous), then plans without touching the kernel, then writes: the
 * plan is part of "computed in full before the first write".
 *
 * @module
 */
import { interfaceIndex } from "../bpf/attach.js";
import type { EndpointAttachment, EndpointDatapath } from "../endpoint/datapath.js";
import { WasmplaneError } from "../errors.js";
import { byText } from "../state/fields.js";
import type { AgentLogger } from "./log.js";

/** tc filter handle and priority of the endpoint programs: fixed, so a restarted agent replaces its predecessor's filters in place. */
export const AGENT_TC_FILTER: Readonly<{
  /** tc filter handle. */
  handle: number;
  /** tc filter priority. */
  priority: number;
}> = Object.freeze({ handle: 0x7770, priority: 1 });

/** An endpoint this agent attached the tc programs to. */
export interface AttachedEndpoint {
  readonly pod: string;
  readonly iface: string;
  readonly ifindex: number;
  /** Changes in place when the pod is relabelled (the filter stays attached). */
  identity: number;
  readonly attachment: EndpointAttachment;
}

/** One endpoint the state asks for. */
export interface PlannedEndpoint {
  readonly iface: string;
  readonly ifindex: number;
  readonly identity: number;
}

/** Interface name → index; undefined when no such interface exists in this network namespace. */
export type InterfaceIndexes = ReadonlyMap<string, number | undefined>;

/**
 * Indexes of every interface the flag or the pods' annotations name.
 * A missing interface is not an error here (the plan rejects its endpoint);
 * any other failure is thrown.
 */
export async function resolveInterfaces(flagEndpoints: ReadonlyMap<string, string>, annotated: ReadonlyMap<string, string>): Promise<InterfaceIndexes> {
  const names = new Set<string>([...flagEndpoints.values(), ...annotated.values()]);
  const indexes = new Map<string, number | undefined>();
  for (const name of names) {
    try {
      indexes.set(name, await interfaceIndex(name));
    } catch (error) {
      if (!(error instanceof WasmplaneError) || error.code !== "UNKNOWN_INTERFACE") throw error;
      indexes.set(name, undefined);
    }
  }
  return indexes;
}

/** What {@link planEndpoints} works from. */
export interface EndpointPlanInput {
  /** `ns/pod` → interface, from `--endpoints`. */
  readonly flagEndpoints: ReadonlyMap<string, string>;
  /** `ns/pod` → interface, from the pods' annotation: wins over the flag. */
  readonly annotated: ReadonlyMap<string, string>;
  /** From {@link resolveInterfaces} of the same change. */
  readonly interfaces: InterfaceIndexes;
  /** The cluster view the change applies to (a pod it does not know has no identity). */
  readonly identityOf: (pod: string) => number | undefined;
  /** Named in rejection lines. */
  readonly statePath: string;
}

/**
 * Endpoints wanted, by pod in name order: interface, its index and the
 * pod's identity. A pod the cluster view does not know, or an interface
 * that does not exist, adds a line to `rejected` and leaves that endpoint out.
 */
export function planEndpoints(input: EndpointPlanInput, rejected: string[]): Map<string, PlannedEndpoint> {
  const wanted = new Map<string, string>(input.flagEndpoints);
  for (const [pod, iface] of input.annotated) wanted.set(pod, iface);
  const out = new Map<string, PlannedEndpoint>();
  for (const [pod, iface] of [...wanted].sort((a, b) => byText(a[0], b[0]))) {
    const identity = input.identityOf(pod);
    if (identity === undefined) {
      rejected.push(`${input.statePath}: endpoint ${pod} (${iface}): no such pod in the state: not attached`);
      continue;
    }
    const ifindex = input.interfaces.get(iface);
    if (ifindex === undefined) {
      rejected.push(`${input.statePath}: endpoint ${pod}: interface ${JSON.stringify(iface)} does not exist in this network namespace: not attached`);
      continue;
    }
    out.set(pod, { iface, ifindex, identity });
  }
  return out;
}

/**
 * Brings `attached` (updated in place) to `plan`: attaches new endpoints
 * (an endpoint that moved to another interface is detached first), gives a
 * relabelled pod its new identity, detaches endpoints no longer planned.
 * With `reconcile`, also removes endpoints the datapath holds that nothing
 * asks for (a previous agent's). Returns how many endpoints changed.
 */
export async function writeEndpoints(
  ep: EndpointDatapath,
  attached: Map<string, AttachedEndpoint>,
  plan: ReadonlyMap<string, PlannedEndpoint>,
  reconcile: boolean,
  log: AgentLogger,
): Promise<number> {
  let n = 0;
  for (const [pod, want] of plan) {
    const have = attached.get(pod);
    if (have && have.ifindex === want.ifindex) {
      if (have.identity !== want.identity) {
        ep.registerEndpoint(have.ifindex, want.identity);
        have.identity = want.identity;
        n++;
      }
      continue;
    }
    if (have) {
      have.attachment.detach();
      attached.delete(pod);
    }
    const before = ep.endpoints().get(want.ifindex);
    const attachment = await ep.attach(want.ifindex, want.identity, { ...AGENT_TC_FILTER, replace: true });
    attached.set(pod, { pod, iface: want.iface, ifindex: want.ifindex, identity: want.identity, attachment });
    if (before !== want.identity) n++;
    log.info("attached endpoint", { endpoint: pod, interface: want.iface, identity: want.identity });
  }
  for (const [pod, have] of [...attached]) {
    if (plan.has(pod)) continue;
    have.attachment.detach();
    attached.delete(pod);
    n++;
    log.info("detached endpoint", { endpoint: pod, interface: have.iface });
  }
  if (reconcile) {
    // Endpoints a previous agent registered that nothing asks for now: take over their filters, then remove them.
    const wanted = new Set([...plan.values()].map((p) => p.ifindex));
    for (const [ifindex, identity] of ep.endpoints()) {
      if (wanted.has(ifindex)) continue;
      try {
        (await ep.attach(ifindex, identity, { ...AGENT_TC_FILTER, replace: true })).detach();
      } catch {
        ep.unregisterEndpoint(ifindex); // the interface is gone
      }
      n++;
      log.info("removed stale endpoint", { ifindex });
    }
  }
  return n;
}
