/**
 * The node agent: keeps the datapath of one node equal to a state on disk.
 *
 *   state path ──read, validate (desired.ts)──▶ diff against the last applied (diff.ts)
 *        ▲                                        │ services: upsert/remove only those that changed
 *        │ fs.watch (watch.ts), SIGHUP            │ policy: cluster view deltas, folded into one
 *        │                                        │ endpoints: attach, detach, new identity on relabel
 *        │                                        ▼
 *        └──────────────────────────── src/lb Datapath + src/endpoint EndpointDatapath (pinned maps)
 *
 *   flow events ring ──openFlowEventReader──▶ FlowLog (names) ──▶ local API (server.ts)
 *
 * Every change is computed in full before the first write: the state is
 * read and validated, the translation and the policy deltas computed and
 * the interfaces checked; only then are maps written. An invalid object is
 * left out (one line in `rejected`) and the rest applies. A write the
 * kernel refuses leaves the datapath serving what it had, marks the agent
 * `degraded` and schedules a full reconcile (the next attempt compares
 * everything against what the maps hold).
 *
 * This file is the orchestration; each step lives in a file of its own:
 * policy-change.ts (cluster objects into one policy delta), service-writes.ts
 * (the load balancer's writes), endpoints.ts (which pods get the tc
 * programs, and attaching them), status.ts (the local API's answers),
 * resources.ts (what the agent holds open, and closing it).
 *
 * Restart: the maps are pinned; a new agent reopens them (src/lb and
 * src/endpoint read them back), keeps every service's ID (by frontend)
 * and every backend's ID (read back from wp_backends and handed to the
 * translation), and reconciles. Established flows keep their backends. The
 * programs are attached with fixed handles and `replace`, so a restart
 * swaps programs in place.
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { interfaceIndex } from "../bpf/attach.js";
import { canUseBpf } from "../bpf/privileges.js";
import type { Cluster } from "../cluster/cluster.js";
import { openEndpointDatapath } from "../endpoint/datapath.js";
import { InvalidInputError, WasmplaneError } from "../errors.js";
import { openFlowEventReader } from "../events/reader.js";
import { openDatapath } from "../lb/datapath.js";
import type { LbService } from "../lb/services.js";
import { DEFAULT_PIN_ROOT } from "../bpf/pin.js";
import { StateFileError } from "../state/load.js";
import { StateReader, type StateReadResult } from "../state/read.js";
import { applyStatePolicy } from "../state/policy.js";
import { endpointText } from "../state/backend-ids.js";
import { DEFAULT_AGENT_SOCKET, type AgentStatus, type AppliedChange } from "./api.js";
import { DesiredMemo, desiredFromState, type DesiredState, type KeyedObject } from "./desired.js";
import { diffServices } from "./diff.js";
import { planEndpoints, resolveInterfaces, writeEndpoints, type InterfaceIndexes, type PlannedEndpoint } from "./endpoints.js";
import { FlowLog, flowNamesOf, observeFlow, type FlowNames } from "./flows.js";
import { createLogger, type AgentLogger } from "./log.js";
import { createAgentMetrics, parseListenAddress } from "./metrics.js";
import { checkEndpoints, checkInterfaceName, type AgentOptions } from "./options.js";
import { applyObjectChanges, countObjects } from "./policy-change.js";
import { closeResources, noResources } from "./resources.js";
import { prepareSocketPath, serveApi } from "./server.js";
import { syncServices, writeServiceDiff } from "./service-writes.js";
import { agentStatus, healthOf, policyCheck, policyMap } from "./status.js";
import { watchState } from "./watch.js";
import { describeRejection } from "./rejection.js";

/** Milliseconds between refreshes of the map fill and drop gauges. */
const METRICS_REFRESH_MS = 5000;

/**
 * Milliseconds of quiet after a file event before the files it named are
 * read: enough for a file written in a few chunks to be read whole, short
 * since it is part of every change's latency.
 */
const DEBOUNCE_MS = 5;

/** Milliseconds before a full reconcile is retried after a failed write (doubling up to 30 s). */
const RETRY_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** A running agent; see {@link startAgent}. */
export interface Agent {
  /** Resolves once the datapath is programmed from the state, attached, and the API listens; rejects when that failed (nothing is left attached then). */
  readonly ready: Promise<void>;
  /** Where the local API listens (undefined without one). */
  readonly socket: string | undefined;
  /** The agent's status, as `GET /v1/status` answers. Needs CAP_BPF (it reads map fill and counters). */
  status(): AgentStatus;
  /** Reads the state now and applies what changed (changes are applied one at a time, in order). */
  apply(): Promise<AppliedChange>;
  /** Calls `listener` after every change applied; returns a function that stops it. */
  onApplied(listener: (change: AppliedChange) => void): () => void;
  /**
   * Stops watching, closes the API and the flow reader. The datapath stays
   * (programs attached, maps pinned) unless `cleanup` is set: then every
   * program this agent attached is detached and every pin removed.
   * Idempotent.
   */
  stop(options?: { cleanup?: boolean }): Promise<void>;
}

/** What one change wrote, in the order the `applied` log line and {@link AppliedChange.changed} list it. */
type ChangeCounts = {
  services: number; backends: number; policies: number; pods: number; namespaces: number; policyEntries: number; ipcache: number; endpoints: number;
};

function noChanges(): ChangeCounts {
  return { services: 0, backends: 0, policies: 0, pods: 0, namespaces: 0, policyEntries: 0, ipcache: 0, endpoints: 0 };
}

/** A problem found before anything was applied. */
function missingPrivilege(reason: string): WasmplaneError {
  return new WasmplaneError("MISSING_PRIVILEGE", `the agent needs root (CAP_BPF, CAP_NET_ADMIN and a bpffs): ${reason}`);
}

class NodeAgent implements Agent {
  readonly ready: Promise<void>;
  readonly socket: string | undefined;
  readonly #options: AgentOptions;
  readonly #log: AgentLogger;
  readonly #statePath: string;
  readonly #flagEndpoints: ReadonlyMap<string, string>;
  readonly #startedAt = new Date().toISOString();
  readonly #flows = new FlowLog();
  readonly #listeners = new Set<(change: AppliedChange) => void>();
  /** The state, kept file by file: a change reads only the files the watch named. */
  readonly #stateReader: StateReader;
  /** What computing the desired state keeps from one change to the next. */
  readonly #memo = new DesiredMemo();
  /** The datapaths, attachments, servers and watch: opened by #start, closed by closeResources. */
  readonly #held = noResources();
  /** Paths the watch named that no change has read yet; undefined: look at everything. */
  #pending: Set<string> | undefined = new Set();
  #pendingCount = 0;
  #cluster: Cluster | undefined;
  /** Services as last applied, by name. */
  #services = new Map<string, LbService>();
  /** Backend IDs as last applied, by endpoint text. */
  #backendIds = new Map<string, number>();
  /** Cluster objects as last applied, by key. */
  #objects = new Map<string, KeyedObject>();
  #podAddresses = new Map<string, string>();
  #serviceNames = new Map<number, string>();
  /** The translation last committed (its services are `#services`). */
  #translation: DesiredState["translation"];
  #podAddressesFrom: DesiredState["podAddresses"] | undefined;
  #lastApplied: AppliedChange | undefined;
  #generation = 0;
  #writeFailed = false;
  #resync = false;
  #retryMs = RETRY_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: AgentOptions, flagEndpoints: ReadonlyMap<string, string>, socket: string | undefined, log: AgentLogger) {
    this.#options = options;
    this.#log = log;
    this.#statePath = resolve(options.state);
    this.#stateReader = new StateReader(this.#statePath);
    this.#flagEndpoints = flagEndpoints;
    this.socket = socket;
    if (options.onApplied) this.#listeners.add(options.onApplied);
    this.ready = this.#serialize(() => this.#start());
    this.ready.catch(() => {}); // the caller is told through `ready`; never an unhandled rejection
  }

  // ---- start ------------------------------------------------------------------------------

  async #start(): Promise<void> {
    const t0 = performance.now();
    const held = this.#held;
    try {
      const kube = (await this.#stateReader.read()).state;
      // Settings (hash seed, table size) come from the state's Node: read them before loading.
      const first = desiredFromState(kube, this.#statePath, { translate: { node: this.#options.node } });
      const settings = first.translation?.settings;
      const lb = held.lb = await openDatapath({
        object: this.#options.lbObject, pinRoot: this.#options.pinRoot ?? DEFAULT_PIN_ROOT,
        ...(settings ? { hashSeed: settings.hashSeed, tableSize: settings.tableSize, keyFormat: settings.keyFormat } : {}),
        encapSource4: this.#options.encapSource4, encapSource6: this.#options.encapSource6,
        onWarning: (m) => this.#log.warn(m),
      });
      const ep = held.ep = await openEndpointDatapath({ object: this.#options.endpointObject, loadBalancer: lb });
      // Backend IDs the datapath holds: the translation keeps them.
      this.#backendIds = new Map(lb.counters().backends.map((b) => [b.endpoint, b.id]));
      if (lb.restored) {
        this.#log.info("reopened pinned maps", { pinRoot: lb.pinRoot, services: lb.services().length, backends: this.#backendIds.size, endpoints: ep.endpoints().size });
      }
      const desired = this.#desired(kube);
      const change = await this.#reconcile(desired, t0, "start");
      if (this.#options.interface !== undefined) {
        const attachment = lb.attach(this.#options.interface, { replace: true });
        held.xdp = { iface: this.#options.interface, attachment };
        this.#log.info("attached XDP", { interface: this.#options.interface, mode: attachment.mode });
      }
      const reader = held.reader = await openFlowEventReader(ep.object, (event) => {
        const flow = observeFlow(event, this.#flowNames());
        this.#flows.push(flow);
        held.metrics?.recordFlow(flow);
      }, { onError: (error) => this.#log.error("flow events", { error: String(error) }) });
      reader.start();
      await this.#startMetrics();
      if (this.socket !== undefined) {
        held.server = await serveApi(this.socket, {
          status: () => this.status(),
          lastFlows: (n, filter) => this.#flows.last(n, filter),
          followFlows: (filter, listener) => this.#flows.follow(filter, listener),
          policyCheck: (query) => policyCheck(this.#cluster, query),
          policyMap: (endpoint) => policyMap(this.#cluster, endpoint),
        });
        this.#log.info("listening", { socket: this.socket });
      }
      if (this.#options.watch !== false) {
        held.watcher = watchState(this.#statePath, { debounceMs: this.#options.debounceMs ?? DEBOUNCE_MS }, (paths) => this.#watched(paths), (error) => this.#log.error("watch", { error: error.message }));
      }
      this.#log.info("ready", { state: this.#statePath, pinRoot: lb.pinRoot, durationMs: round(performance.now() - t0) });
      this.#emit(change, "start");
    } catch (error) {
      await closeResources(held, false, this.#log);
      throw error;
    }
  }

  async #startMetrics(): Promise<void> {
    if (this.#options.metricsAddress === undefined) return;
    const held = this.#held;
    const metrics = held.metrics = createAgentMetrics();
    held.metricsServer = await metrics.serve(this.#options.metricsAddress);
    this.#refreshMetrics();
    // Map fill and drop counters change without a state change: refresh them between scrapes too.
    held.metricsTimer = setInterval(() => this.#refreshMetrics(), METRICS_REFRESH_MS);
    held.metricsTimer.unref();
    this.#log.info("serving metrics", { address: held.metricsServer.address });
  }

  #refreshMetrics(): void {
    const metrics = this.#held.metrics;
    if (!metrics || !this.#held.lb || !this.#held.ep) return;
    try {
      const s = this.status();
      metrics.setInventory(s.counts);
      for (const m of s.maps) metrics.setMapFill(m.name, m.entries, m.maxEntries);
      for (const [reason, packets] of Object.entries(s.dropsByReason)) metrics.setDrops(reason, BigInt(packets));
    } catch (error) {
      this.#log.error("metrics refresh", { error: error instanceof Error ? error.message : String(error) });
    }
  }

  #desired(kube: StateReadResult["state"]): DesiredState {
    return desiredFromState(kube, this.#statePath, { translate: { node: this.#options.node, previousBackendIds: this.#backendIds }, memo: this.#memo });
  }

  /** Names for a flow event, from what was last applied. */
  #flowNames(): FlowNames {
    return flowNamesOf({
      podAddresses: this.#podAddresses,
      identities: this.#cluster?.engine.identities,
      serviceNames: this.#serviceNames,
      endpoints: this.#held.endpoints,
    });
  }

  // ---- applying ----------------------------------------------------------------------------

  /** Runs `fn` after every earlier change. */
  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  apply(): Promise<AppliedChange> {
    // Asked for (SIGHUP, the API): every file is read and compared by content, nothing can be missed.
    return this.#serialize(() => this.#applyNow(undefined, true));
  }

  /** The watch named `paths` (undefined: it could not say which): read those, apply what changed. */
  #watched(paths: string[] | undefined): void {
    if (paths === undefined) this.#pending = undefined;
    else if (this.#pending) for (const p of paths) this.#pending.add(p);
    this.#pendingCount++;
    void this.#serialize(async () => {
      if (this.#pendingCount === 0) return; // an earlier change read these already
      const pending = this.#pending;
      this.#pending = new Set();
      this.#pendingCount = 0;
      await this.#applyNow(pending, false);
    }).catch(() => {});
  }

  async #applyNow(paths: ReadonlySet<string> | undefined, content: boolean): Promise<AppliedChange> {
    if (this.#stopped) throw new WasmplaneError("INVALID_INPUT", "the agent is stopped");
    await this.ready;
    if (paths === undefined || content) {
      // Whatever the watch named is covered by a full read.
      this.#pending = new Set();
      this.#pendingCount = 0;
    }
    const resync = this.#resync;
    const change = await this.#applyChange(resync || paths === undefined ? { content } : { paths });
    this.#emit(change, resync ? "full" : "change");
    return change;
  }

  onApplied(listener: (change: AppliedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #emit(change: AppliedChange, kind: string): void {
    this.#held.metrics?.recordApply(kind, change.durationMs / 1000, !this.#writeFailed);
    this.#refreshMetrics();
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#log.error("onApplied listener threw", { error: String(error) });
      }
    }
  }

  /** Milliseconds of the last change's phases, for the `applied` log line. */
  #phase = { read: 0, desired: 0, policy: 0, write: 0 };

  #record(t0: number, trigger: string, changed: Record<string, number>, rejected: string[], phases?: Record<string, number>): AppliedChange {
    const change: AppliedChange = {
      at: new Date().toISOString(), generation: ++this.#generation, durationMs: round(performance.now() - t0), changed, rejected,
    };
    this.#lastApplied = change;
    for (const line of rejected) this.#log.warn("rejected", describeRejection(line));
    const phasesMs = phases ? { phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(v)])) } : {};
    this.#log.info("applied", { generation: change.generation, trigger, durationMs: change.durationMs, ...phasesMs, changed, rejected: rejected.length, health: this.#health() });
    return change;
  }

  #health(): "ok" | "degraded" {
    return healthOf(this.#writeFailed, this.#lastApplied);
  }

  /** Endpoints the state asks for, against `cluster`; problems go to `rejected`. */
  #planEndpoints(desired: DesiredState, interfaces: InterfaceIndexes, cluster: Cluster, rejected: string[]): Map<string, PlannedEndpoint> {
    return planEndpoints({
      flagEndpoints: this.#flagEndpoints, annotated: desired.interfaces, interfaces,
      identityOf: (pod) => cluster.identityOf(pod), statePath: this.#statePath,
    }, rejected);
  }

  /** Everything from scratch against what the maps hold: at start, and after a failed write. */
  async #reconcile(desired: DesiredState, t0: number, trigger: string): Promise<AppliedChange> {
    const lb = this.#held.lb!;
    const ep = this.#held.ep!;
    const rejected = [...desired.rejected];
    const interfaces = await resolveInterfaces(this.#flagEndpoints, desired.interfaces);
    const policy = await applyStatePolicy(desired.kube);
    rejected.push(...policy.errors.map((e) => e.message));
    const endpoints = this.#planEndpoints(desired, interfaces, policy.cluster, rejected);
    // Computed; now written.
    const changed = noChanges();
    try {
      if (desired.translation) syncServices(lb, desired.translation.services, changed);
      const subjects = policy.endpoints.map((e) => e.identity);
      const p = ep.sync({ engine: policy.cluster.engine, ipcache: () => policy.cluster.ipcache() }, { subjects });
      changed.policyEntries = p.policyWritten + p.policyDeleted;
      changed.ipcache = p.ipcacheWritten + p.ipcacheDeleted;
      changed.endpoints = await writeEndpoints(ep, this.#held.endpoints, endpoints, true, this.#log);
    } catch (error) {
      this.#cluster = policy.cluster;
      this.#failed(error);
      return this.#record(t0, trigger, changed, rejected);
    }
    this.#cluster = policy.cluster;
    this.#translation = undefined; // everything was compared against the maps: take every record afresh
    Object.assign(changed, countObjects(desired.objects.values()));
    this.#committed(desired, new Map(desired.objects));
    return this.#record(t0, trigger, changed, rejected);
  }

  async #applyChange(read: { paths?: Iterable<string>; content?: boolean }): Promise<AppliedChange> {
    const t0 = performance.now();
    let kube;
    try {
      kube = (await this.#stateReader.read(read)).state;
    } catch (error) {
      if (!(error instanceof StateFileError)) throw error;
      // The path went away (a directory being replaced): keep serving what was applied.
      return this.#record(t0, "watch", {}, [error.message]);
    }
    this.#phase.read = performance.now() - t0;
    const desired = this.#desired(kube);
    this.#phase.desired = performance.now() - t0 - this.#phase.read;
    if (this.#resync) return this.#reconcile(desired, t0, "resync");
    const interfaces = await resolveInterfaces(this.#flagEndpoints, desired.interfaces);

    const lb = this.#held.lb!;
    const ep = this.#held.ep!;
    const cluster = this.#cluster!;
    const rejected = [...desired.rejected];
    const services = desired.translation ? diffServices(this.#services, desired.translation.services) : undefined;
    const objects = applyObjectChanges(cluster, this.#objects, desired.objects, rejected);
    const counts: ChangeCounts = { ...noChanges(), ...objects.counts };
    const endpoints = this.#planEndpoints(desired, interfaces, cluster, rejected);
    const tWrite = performance.now();
    this.#phase.policy = tWrite - t0 - this.#phase.read - this.#phase.desired;

    // Everything is computed: write.
    try {
      if (services && desired.translation) writeServiceDiff(lb, services, desired.translation.services, counts);
      const p = ep.applyDelta(objects.delta);
      counts.policyEntries = p.policyWritten + p.policyDeleted;
      counts.ipcache = p.ipcacheWritten + p.ipcacheDeleted;
      counts.endpoints = await writeEndpoints(ep, this.#held.endpoints, endpoints, false, this.#log);
    } catch (error) {
      this.#failed(error);
      return this.#record(t0, "watch", counts, rejected);
    }
    this.#writeFailed = false;
    this.#phase.write = performance.now() - tWrite;
    this.#committed(desired, objects.applied);
    return this.#record(t0, "watch", counts, rejected, this.#phase);
  }

  /** A write failed: the datapath keeps what it had; reconcile everything soon. */
  #failed(error: unknown): void {
    this.#writeFailed = true;
    this.#resync = true;
    this.#log.error("write failed: serving the last good state, full reconcile scheduled", { error: error instanceof Error ? error.message : String(error), retryMs: this.#retryMs });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.apply().catch(() => {}), this.#retryMs);
    this.#retryTimer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }

  #committed(desired: DesiredState, objects: Map<string, KeyedObject>): void {
    this.#writeFailed = false;
    this.#resync = false;
    this.#retryMs = RETRY_MS;
    // The translation the last change committed comes back unchanged when no service input changed: nothing to redo.
    if (desired.translation && desired.translation !== this.#translation) {
      this.#services = new Map(desired.translation.services.map((s) => [s.name, s]));
      this.#backendIds = new Map(desired.translation.backends.map((b) => [endpointText(b.address, b.port), b.id]));
      this.#serviceNames = new Map(this.#held.lb!.services().filter((s) => s.name !== undefined).map((s) => [s.id, s.name!]));
    }
    this.#translation = desired.translation;
    this.#objects = objects;
    if (desired.podAddresses !== this.#podAddressesFrom) {
      this.#podAddresses = new Map();
      for (const [pod, ips] of desired.podAddresses) for (const ip of ips) this.#podAddresses.set(ip, pod);
      this.#podAddressesFrom = desired.podAddresses;
    }
    for (const w of desired.warnings) this.#log.warn(w);
  }

  // ---- API --------------------------------------------------------------------------------

  status(): AgentStatus {
    const held = this.#held;
    return agentStatus({
      health: this.#health(), startedAt: this.#startedAt, statePath: this.#statePath,
      lb: held.lb, ep: held.ep, cluster: this.#cluster, xdp: held.xdp, endpoints: held.endpoints,
      objects: this.#objects, backends: this.#backendIds.size, lastApplied: this.#lastApplied,
      flows: this.#flows, reader: held.reader,
    });
  }

  // ---- stop -------------------------------------------------------------------------------

  async stop(options: { cleanup?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#held.watcher?.close();
    clearTimeout(this.#retryTimer);
    await this.#queue; // let a change being written finish
    await closeResources(this.#held, options.cleanup === true, this.#log);
    this.#log.info("stopped", { cleanup: options.cleanup === true });
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Starts the node agent: checks what can be checked before touching the
 * kernel (the state path exists, the process may use eBPF, every
 * interface given exists, the socket is free), then, in the background,
 * loads or reopens the datapath, programs it from the state, attaches the
 * programs, starts the local API and watches the state. Await
 * {@link Agent.ready} for that to finish.
 *
 * Needs root (CAP_BPF, CAP_NET_ADMIN), a bpffs, libbpf and a kernel with
 * BTF, XDP and tc. Without an object given, the programs come from a source
 * checkout (compiled with clang when stale) or, in an installed package,
 * from its prebuilt dist/bpf/.
 *
 * @throws {@link InvalidInputError} for a bad option, or a socket another agent answers on.
 * @throws `StateFileError` when the state path does not exist.
 * @throws {@link WasmplaneError} with code `MISSING_PRIVILEGE` without the privileges.
 * @throws `UnknownInterfaceError` for an interface that does not exist.
 */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  if (typeof options?.state !== "string" || options.state === "") throw new InvalidInputError("state", options?.state, "must be a state file or directory");
  if (options.interface !== undefined) checkInterfaceName("interface", options.interface);
  const endpoints = checkEndpoints("endpoints", options.endpoints);
  try {
    await stat(options.state);
  } catch {
    throw new StateFileError(options.state, "no such file or directory");
  }
  const bpf = await canUseBpf();
  if (!bpf.ok) throw missingPrivilege(bpf.reason);
  for (const iface of [...(options.interface !== undefined ? [options.interface] : []), ...endpoints.values()]) await interfaceIndex(iface);
  if (options.metricsAddress !== undefined) parseListenAddress(options.metricsAddress);
  const socket = options.socket === null ? undefined : resolve(options.socket ?? DEFAULT_AGENT_SOCKET);
  if (socket !== undefined) await prepareSocketPath(socket);
  const log = options.logger ?? createLogger(process.stderr, "json");
  const agent = new NodeAgent(options, endpoints, socket, log);
  return agent;
}
