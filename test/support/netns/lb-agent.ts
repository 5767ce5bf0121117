/**
 * The load balancer's control plane for test/lb-e2e.test.ts: src/lb's
 * Datapath (openDatapath, upsertService, attach) running on the "LB host",
 * i.e. inside the load balancer's network namespace, started with
 *
 *   nsenter --net=/run/netns/<lb namespace> node --import tsx test/support/netns/lb-agent.ts
 *
 * `nsenter --net` switches the network namespace only: the mount namespace,
 * hence /sys/fs/bpf and the pins, stays the root one (`ip netns exec` would
 * mount a fresh /sys where no pin is visible). The network namespace matters
 * for attaching: XDP attach resolves the interface and talks netlink in the
 * calling thread's namespace, so it has to happen in here.
 *
 * Protocol (agent-protocol.ts): one JSON request per stdin line, one JSON
 * answer per stdout line (`{ ok: true, ... }` or `{ ok: false, error }`).
 * stdin closing detaches, closes and unpins, then exits. Requests:
 *
 *   { op: "start", object, pinRoot, iface, hashSeed, encapSource4, encapSource6 }
 *       openDatapath, attach in native mode (no fallback to generic)
 *       → { mode, ifindex, tableSize }
 *   { op: "upsertService", service: LbService }
 *       Datapath.upsertService, then read back from the kernel what packets
 *       now use: the service's ID, its active buffer and that buffer's
 *       Maglev table (bpftool: the host layer cannot open a map by ID)
 *       → { result, serviceId, tableSlot, table: base64 of M u32, backendIds }
 *   { op: "stats" } → { counters (numbers), flows: entries of wp_flows }
 *   { op: "stop" } → detach, close, unpin → {}
 */
import { spawnSync } from "node:child_process";

import { openDatapath, unpinDatapath, type Datapath, type LbService } from "../../../src/lb/index.js";
import type { XdpAttachment } from "../../../src/bpf/index.js";
import { cleanupSteps, serveRequests, type Handler } from "./agent-protocol.js";

let datapath: Datapath | undefined;
let attachment: { iface: string; attachment: XdpAttachment } | undefined;
let pinRoot: string | undefined;

const u32le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };

function must(): Datapath {
  if (!datapath) throw new Error("send \"start\" first");
  return datapath;
}

async function start(req: { object: string; pinRoot: string; iface: string; hashSeed: string; encapSource4: string; encapSource6: string }) {
  pinRoot = req.pinRoot;
  datapath = await openDatapath({
    object: req.object, pinRoot: req.pinRoot, hashSeed: req.hashSeed,
    encapSource4: req.encapSource4, encapSource6: req.encapSource6,
    onWarning: (m) => process.stderr.write(`lb-agent warning: ${m}\n`),
  });
  attachment = { iface: req.iface, attachment: datapath.attach(req.iface, { mode: "native" }) };
  return { mode: attachment.attachment.mode, ifindex: attachment.attachment.ifindex, tableSize: datapath.tableSize };
}

/** The table in buffer `slot` of the inner map with kernel ID `innerId`, read with bpftool. */
function readTable(innerId: number, slot: number): Buffer {
  const r = spawnSync("bpftool", ["-j", "map", "lookup", "id", String(innerId), "key", "hex", ...u32le(slot).toString("hex").match(/../g)!],
    { encoding: "utf8", maxBuffer: 64 << 20, timeout: 30_000 });
  if (r.error || r.status !== 0) throw new Error(`bpftool map lookup id ${innerId}: ${r.error?.message ?? ""}${r.stderr}${r.stdout}`);
  const parsed = JSON.parse(r.stdout) as { value: string[] };
  return Buffer.from(parsed.value.map((x) => parseInt(x, 16)));
}

function upsertService(req: { service: LbService }) {
  const dp = must();
  const result = dp.upsertService(req.service);
  const svc = dp.services().find((s) => s.name === req.service.name) ?? (() => { throw new Error(`service ${req.service.name} not in the datapath after upsert`); })();
  const inner = dp.maps.maglevOuter.lookup(u32le(svc.id));
  if (!inner) throw new Error(`wp_maglev_outer has no table for service ${svc.id}`);
  const innerId = Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength).readUInt32LE(0);
  const table = readTable(innerId, svc.tableSlot);
  const backendIds = [...dp.maps.backends.keys()].map((k) => Buffer.from(k.buffer, k.byteOffset, 4).readUInt32LE(0)).sort((a, b) => a - b);
  return { result, serviceId: svc.id, tableSlot: svc.tableSlot, table: table.toString("base64"), backendIds };
}

function stats() {
  const dp = must();
  const c = dp.counters();
  let flows = 0;
  for (const _ of dp.maps.flows.keys()) flows++;
  const n = (x: bigint) => Number(x);
  return {
    services: c.services.map((s) => ({ id: s.id, name: s.name, packets: n(s.packets) })),
    backends: c.backends.map((b) => ({ id: b.id, endpoint: b.endpoint, draining: b.draining, packets: n(b.packets) })),
    drops: Object.fromEntries(Object.entries(c.drops).filter(([, v]) => v.packets > 0n).map(([k, v]) => [k, n(v.packets)])),
    flows,
  };
}

function stop() {
  const { step, finish } = cleanupSteps();
  if (datapath && attachment) step("detach", () => datapath!.detach(attachment!.iface));
  attachment = undefined;
  if (datapath) step("close", () => datapath!.close());
  datapath = undefined;
  if (pinRoot) step("unpin", () => unpinDatapath(pinRoot));
  pinRoot = undefined;
  return finish();
}

const handlers: Record<string, Handler> = { start, upsertService, stats, stop };

await serveRequests(handlers, (v) => Number(v));
try {
  stop();
} catch (error) {
  process.stderr.write(`lb-agent: cleanup on exit: ${String(error)}\n`);
}
