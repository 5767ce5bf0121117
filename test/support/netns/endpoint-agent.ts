/**
 * The node's control plane for test/endpoint-e2e.test.ts, run inside the
 * node's network namespace with
 *
 *   nsenter --net=/run/netns/<node namespace> node --import tsx test/support/netns/endpoint-agent.ts
 *
 * (`nsenter --net` keeps the root mount namespace, so /sys/fs/bpf and the
 * pins are the root ones; tc attach resolves interfaces and talks netlink
 * in the calling thread's network namespace, so it has to happen in here).
 * It runs what a node agent would: src/lb's Datapath (services, no XDP
 * attachment), src/endpoint's datapath on the load balancer's maps, a
 * src/cluster view whose changes it writes, and a FlowEventReader.
 *
 * Protocol (agent-protocol.ts): one JSON request per stdin line, one JSON
 * answer per stdout line (`{ ok: true, ... }` or `{ ok: false, error }`).
 * stdin closing cleans up (detach, close, unpin) and exits. Requests:
 *
 *   { op: "start", pinRoot, hashSeed, lbObject, endpointObject, services, objects }
 *       openDatapath + sync(services), openEndpointDatapath({ loadBalancer }),
 *       createCluster + apply(objects) written with applyDelta, flow event
 *       reader started → { identities: { "<ns>/<pod>": id }, services: { name: id } }
 *   { op: "attach", iface, pod }     EndpointDatapath.attach(iface, the pod's identity) → { ifindex }
 *   { op: "apply", objects }         cluster.apply → applyDelta → { result }
 *   { op: "events" }                 every flow event received since the last call → { events }
 *   { op: "stats" }                  service and backend packets, drops by reason → { services, backends, drops }
 *   { op: "stop" }                   detach, close, unpin → {}
 */
import { createCluster, type Cluster } from "../../../src/index.js";
import { openEndpointDatapath, type EndpointAttachment, type EndpointDatapath } from "../../../src/endpoint/index.js";
import { openFlowEventReader, type FlowEvent, type FlowEventReader } from "../../../src/events/index.js";
import { openDatapath, unpinDatapath, type Datapath, type LbService } from "../../../src/lb/index.js";
import { cleanupSteps, serveRequests, type Handler } from "./agent-protocol.js";

let lb: Datapath | undefined;
let ep: EndpointDatapath | undefined;
let cluster: Cluster | undefined;
let reader: FlowEventReader | undefined;
let pinRoot: string | undefined;
const attachments: EndpointAttachment[] = [];
let events: FlowEvent[] = [];

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("send \"start\" first");
  return value;
}

async function start(req: { pinRoot: string; hashSeed: string; lbObject?: string; endpointObject?: string; services: LbService[]; objects: unknown[] }) {
  pinRoot = req.pinRoot;
  lb = await openDatapath({ object: req.lbObject, pinRoot: req.pinRoot, hashSeed: req.hashSeed, onWarning: (m) => process.stderr.write(`endpoint-agent warning: ${m}\n`) });
  lb.sync(req.services);
  ep = await openEndpointDatapath({ object: req.endpointObject, loadBalancer: lb });
  cluster = await createCluster();
  ep.applyDelta(cluster.apply(req.objects));
  reader = await openFlowEventReader(ep.object, (e) => events.push(e));
  reader.start();
  const identities: Record<string, number> = {};
  for (const o of req.objects as { kind: string; metadata: { name: string; namespace?: string } }[]) {
    if (o.kind !== "Pod") continue;
    const name = `${o.metadata.namespace}/${o.metadata.name}`;
    identities[name] = cluster.identityOf(name) ?? (() => { throw new Error(`${name} has no identity`); })();
  }
  return { identities, services: Object.fromEntries(lb.services().map((s) => [s.name, s.id])) };
}

async function attach(req: { iface: string; pod: string }) {
  const identity = must(cluster).identityOf(req.pod);
  if (identity === undefined) throw new Error(`${req.pod} has no identity`);
  const a = await must(ep).attach(req.iface, identity);
  attachments.push(a);
  return { ifindex: a.ifindex };
}

function apply(req: { objects: unknown }) {
  return { result: must(ep).applyDelta(must(cluster).apply(req.objects)) };
}

function drain() {
  must(reader).consume();
  const out = events;
  events = [];
  return { events: out };
}

function stats() {
  const c = must(lb).counters();
  const n = (x: bigint) => Number(x);
  return {
    services: c.services.map((s) => ({ id: s.id, name: s.name, packets: n(s.packets) })),
    backends: c.backends.map((b) => ({ id: b.id, endpoint: b.endpoint, packets: n(b.packets) })),
    drops: Object.fromEntries(Object.entries(must(ep).counters().drops).filter(([, v]) => v.packets > 0n).map(([k, v]) => [k, n(v.packets)])),
  };
}

function stop() {
  const { step, finish } = cleanupSteps();
  for (const a of attachments.splice(0)) step(`detach ${a.ifindex}`, () => a.detach());
  if (reader) step("reader", () => reader!.close());
  reader = undefined;
  if (ep) {
    step("unpin endpoint maps", () => ep!.unpin());
    step("close endpoint datapath", () => ep!.close());
  }
  ep = undefined;
  if (lb) step("close load balancer", () => lb!.close());
  lb = undefined;
  if (pinRoot) step("unpin", () => unpinDatapath(pinRoot));
  pinRoot = undefined;
  return finish();
}

const handlers: Record<string, Handler> = { start, attach, apply, events: drain, stats, stop };

await serveRequests(handlers, (v) => v.toString());
try {
  stop();
} catch (error) {
  process.stderr.write(`endpoint-agent: cleanup on exit: ${String(error)}\n`);
}
process.exit(0);
