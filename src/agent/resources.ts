/**
 * What a running agent holds open (the watch, the API and metrics servers,
 * the flow reader, the attachments and both datapaths), and how it lets go
 * of them: on `stop`, and when starting failed half-way.
 *
 * Each part is closed, then cleared, in turn, so that whatever still runs
 * meanwhile (a flow event, a metrics refresh) sees only parts still open.
 * The order: stop taking input (watch, API, metrics), stop reading flow
 * events, then, with `cleanup`, detach and unpin, and last close the
 * datapaths. Without `cleanup` the programs stay attached and the maps
 * pinned, for the next agent to take over. A part that fails to close is
 * logged and the rest still closed.
 *
 * @module
 */
import type { XdpAttachment } from "../bpf/attach.js";
import type { EndpointDatapath } from "../endpoint/datapath.js";
import type { FlowEventReader } from "../events/reader.js";
import { unpinDatapath, type Datapath } from "../lb/datapath.js";
import type { AttachedEndpoint } from "./endpoints.js";
import type { AgentLogger } from "./log.js";
import type { AgentMetrics, MetricsServer } from "./metrics.js";
import type { ApiServer } from "./server.js";
import type { StateWatcher } from "./watch.js";

/** The XDP load balancer's attachment, with the interface it is on. */
export interface AttachedXdp {
  readonly iface: string;
  readonly attachment: XdpAttachment;
}

/** What the agent holds open; undefined before it is opened and after it is closed. */
export interface AgentResources {
  watcher: StateWatcher | undefined;
  server: ApiServer | undefined;
  metrics: AgentMetrics | undefined;
  metricsServer: MetricsServer | undefined;
  metricsTimer: NodeJS.Timeout | undefined;
  reader: FlowEventReader | undefined;
  xdp: AttachedXdp | undefined;
  lb: Datapath | undefined;
  ep: EndpointDatapath | undefined;
  /** Endpoints with the tc programs attached, by pod. */
  readonly endpoints: Map<string, AttachedEndpoint>;
}

/** Nothing open yet. */
export function noResources(): AgentResources {
  return {
    watcher: undefined, server: undefined, metrics: undefined, metricsServer: undefined, metricsTimer: undefined,
    reader: undefined, xdp: undefined, lb: undefined, ep: undefined, endpoints: new Map(),
  };
}

/** Closes and clears every part of `held`; with `cleanup`, detaches every program and removes every pin too. Never throws. */
export async function closeResources(held: AgentResources, cleanup: boolean, log: AgentLogger): Promise<void> {
  const step = async (what: string, fn: () => unknown) => {
    try {
      await fn();
    } catch (error) {
      log.error(`stop: ${what}`, { error: error instanceof Error ? error.message : String(error) });
    }
  };
  held.watcher?.close();
  held.watcher = undefined;
  if (held.server) await step("close API", () => held.server!.close());
  held.server = undefined;
  clearInterval(held.metricsTimer);
  if (held.metricsServer) await step("close metrics", () => held.metricsServer!.close());
  held.metricsServer = undefined;
  held.metrics = undefined;
  if (held.reader) await step("close flow reader", () => held.reader!.close());
  held.reader = undefined;
  if (cleanup) {
    for (const e of held.endpoints.values()) await step(`detach ${e.iface}`, () => e.attachment.detach());
    if (held.xdp && held.lb) await step(`detach XDP from ${held.xdp.iface}`, () => held.lb!.detach(held.xdp!.iface));
    if (held.ep) await step("unpin endpoint maps", () => held.ep!.unpin());
  }
  held.endpoints.clear();
  held.xdp = undefined;
  if (held.ep) await step("close endpoint datapath", () => held.ep!.close());
  held.ep = undefined;
  if (held.lb) {
    const pinRoot = held.lb.pinRoot;
    await step("close load balancer", () => held.lb!.close());
    if (cleanup) await step("unpin load balancer maps", () => unpinDatapath(pinRoot));
  }
  held.lb = undefined;
}
