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
import type { XdpAttachment } from "../bpf/attach.js";
import type { Cluster, ReachabilityQuery } from "../cluster/cluster.js";
import { openEndpointDatapath, type EndpointAttachment, type EndpointDatapath } from "../endpoint/datapath.js";
import { InvalidInputError, WasmplaneError } from "../errors.js";
import { dropReasonName } from "../events/flow-event.js";
import { openFlowEventReader, type FlowEventReader } from "../events/reader.js";
import { openDatapath, unpinDatapath, type Datapath } from "../lb/datapath.js";
import type { LbService } from "../lb/services.js";
import { DROP_REASON } from "../bpf/drop-reasons.js";
import { DEFAULT_PIN_ROOT } from "../bpf/pin.js";
import { DeltaBuilder, type PolicyDelta } from "../policy/delta.js";
import { StateFileError } from "../state/load.js";
import { StateReader, type StateReadResult } from "../state/read.js";
import { applyStatePolicy } from "../state/policy.js";
import { endpointText } from "../state/backend-ids.js";
import { byText } from "../state/fields.js";
import { AGENT_API_VERSION, DEFAULT_AGENT_SOCKET, type AgentStatus, type AppliedChange } from "./api.js";
import { DesiredMemo, desiredFromState, type DesiredState, type KeyedObject } from "./desired.js";
import { diffObjects, diffServices } from "./diff.js";
import { FlowLog, observeFlow, type FlowNames } from "./flows.js";
import { createLogger, type AgentLogger } from "./log.js";
import { mapFill } from "./map-fill.js";
import { createAgentMetrics, parseListenAddress, type AgentMetrics, type MetricsServer } from "./metrics.js";
import { checkEndpoints, checkInterfaceName, type AgentOptions } from "./options.js";
import { prepareSocketPath, serveApi, type ApiServer } from "./server.js";
import { watchState, type StateWatcher } from "./watch.js";
import { describeRejection } from "./rejection.js";

/** tc filter handle and priority of the endpoint programs: fixed, so a restarted agent replaces its predecessor's filters in place. */
export const AGENT_TC_FILTER: Readonly<{
  /** tc filter handle. */
  handle: number;
  /** tc filter priority. */
  priority: number;
}> = Object.freeze({ handle: 0x7770, priority: 1 });

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

/** Order the cluster view takes objects in (as src/state applyStatePolicy): identities depend on it. */
const APPLY_ORDER = ["Namespace", "CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy", "NetworkPolicy", "Pod"];
const POLICY_KINDS = new Set(["CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy", "NetworkPolicy"]);

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

interface AttachedEndpoint {
  readonly pod: string;
  readonly iface: string;
  readonly ifindex: number;
  identity: number;
  readonly attachment: EndpointAttachment;
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
  /** Paths the watch named that no change has read yet; undefined: look at everything. */
  #pending: Set<string> | undefined = new Set();
  #pendingCount = 0;
  #lb: Datapath | undefined;
  #ep: EndpointDatapath | undefined;
  #cluster: Cluster | undefined;
  #reader: FlowEventReader | undefined;
  #server: ApiServer | undefined;
  #watcher: StateWatcher | undefined;
  #metrics: AgentMetrics | undefined;
  #metricsServer: MetricsServer | undefined;
  #metricsTimer: NodeJS.Timeout | undefined;
  #xdp: { iface: string; attachment: XdpAttachment } | undefined;
  readonly #endpoints = new Map<string, AttachedEndpoint>();
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
    try {
      const kube = (await this.#stateReader.read()).state;
      // Settings (hash seed, table size) come from the state's Node: read them before loading.
      const first = desiredFromState(kube, this.#statePath, { translate: { node: this.#options.node } });
      const settings = first.translation?.settings;
      this.#lb = await openDatapath({
        object: this.#options.lbObject, pinRoot: this.#options.pinRoot ?? DEFAULT_PIN_ROOT,
        ...(settings ? { hashSeed: settings.hashSeed, tableSize: settings.tableSize, keyFormat: settings.keyFormat } : {}),
        encapSource4: this.#options.encapSource4, encapSource6: this.#options.encapSource6,
        onWarning: (m) => this.#log.warn(m),
      });
      this.#ep = await openEndpointDatapath({ object: this.#options.endpointObject, loadBalancer: this.#lb });
      // Backend IDs the datapath holds: the translation keeps them.
      this.#backendIds = new Map(this.#lb.counters().backends.map((b) => [b.endpoint, b.id]));
      if (this.#lb.restored) {
        this.#log.info("reopened pinned maps", { pinRoot: this.#lb.pinRoot, services: this.#lb.services().length, backends: this.#backendIds.size, endpoints: this.#ep.endpoints().size });
      }
      const desired = this.#desired(kube);
      const change = await this.#reconcile(desired, t0, "start");
      if (this.#options.interface !== undefined) {
        const attachment = this.#lb.attach(this.#options.interface, { replace: true });
        this.#xdp = { iface: this.#options.interface, attachment };
        this.#log.info("attached XDP", { interface: this.#options.interface, mode: attachment.mode });
      }
      this.#reader = await openFlowEventReader(this.#ep.object, (event) => {
        const flow = observeFlow(event, this.#names);
        this.#flows.push(flow);
        this.#metrics?.recordFlow(flow);
      }, { onError: (error) => this.#log.error("flow events", { error: String(error) }) });
      this.#reader.start();
      await this.#startMetrics();
      if (this.socket !== undefined) {
        this.#server = await serveApi(this.socket, {
          status: () => this.status(),
          lastFlows: (n, filter) => this.#flows.last(n, filter),
          followFlows: (filter, listener) => this.#flows.follow(filter, listener),
          policyCheck: (query) => this.#policyCheck(query),
          policyMap: (endpoint) => this.#policyMap(endpoint),
        });
        this.#log.info("listening", { socket: this.socket });
      }
      if (this.#options.watch !== false) {
        this.#watcher = watchState(this.#statePath, { debounceMs: this.#options.debounceMs ?? DEBOUNCE_MS }, (paths) => this.#watched(paths), (error) => this.#log.error("watch", { error: error.message }));
      }
      this.#log.info("ready", { state: this.#statePath, pinRoot: this.#lb.pinRoot, durationMs: round(performance.now() - t0) });
      this.#emit(change, "start");
    } catch (error) {
      await this.#teardown(false);
      throw error;
    }
  }

  async #startMetrics(): Promise<void> {
    if (this.#options.metricsAddress === undefined) return;
    this.#metrics = createAgentMetrics();
    this.#metricsServer = await this.#metrics.serve(this.#options.metricsAddress);
    this.#refreshMetrics();
    // Map fill and drop counters change without a state change: refresh them between scrapes too.
    this.#metricsTimer = setInterval(() => this.#refreshMetrics(), METRICS_REFRESH_MS);
    this.#metricsTimer.unref();
    this.#log.info("serving metrics", { address: this.#metricsServer.address });
  }

  #refreshMetrics(): void {
    const metrics = this.#metrics;
    if (!metrics || !this.#lb || !this.#ep) return;
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

  get #names(): FlowNames {
    return {
      podOf: (ip) => {
        const pod = this.#podAddresses.get(ip);
        if (pod === undefined) return undefined;
        const slash = pod.indexOf("/");
        return { namespace: pod.slice(0, slash), pod: pod.slice(slash + 1) };
      },
      labelsOf: (identity) => this.#cluster?.engine.identities.labels(identity),
      serviceName: (id) => this.#serviceNames.get(id),
      interfaceName: (ifindex) => [...this.#endpoints.values()].find((e) => e.ifindex === ifindex)?.iface,
    };
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
    this.#metrics?.recordApply(kind, change.durationMs / 1000, !this.#writeFailed);
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
    return this.#writeFailed || (this.#lastApplied?.rejected.length ?? 0) > 0 ? "degraded" : "ok";
  }

  /** Everything from scratch against what the maps hold: at start, and after a failed write. */
  async #reconcile(desired: DesiredState, t0: number, trigger: string): Promise<AppliedChange> {
    const lb = this.#lb!;
    const ep = this.#ep!;
    const rejected = [...desired.rejected];
    await this.#resolveInterfaces(desired);
    const policy = await applyStatePolicy(desired.kube);
    rejected.push(...policy.errors.map((e) => e.message));
    const endpoints = this.#planEndpoints(desired, policy.cluster, rejected);
    // Computed; now written.
    const changed: Record<string, number> = { services: 0, backends: 0, policies: 0, pods: 0, namespaces: 0, policyEntries: 0, ipcache: 0, endpoints: 0 };
    try {
      if (desired.translation) {
        const r = lb.sync(desired.translation.services);
        changed.services = r.added + r.updated + r.removed;
        changed.backends = r.backendsWritten + r.backendsDeleted;
      }
      const subjects = policy.endpoints.map((e) => e.identity);
      const p = ep.sync({ engine: policy.cluster.engine, ipcache: () => policy.cluster.ipcache() }, { subjects });
      changed.policyEntries = p.policyWritten + p.policyDeleted;
      changed.ipcache = p.ipcacheWritten + p.ipcacheDeleted;
      changed.endpoints = await this.#writeEndpoints(endpoints, true);
    } catch (error) {
      this.#cluster = policy.cluster;
      this.#failed(error);
      return this.#record(t0, trigger, changed, rejected);
    }
    this.#cluster = policy.cluster;
    this.#translation = undefined; // everything was compared against the maps: take every record afresh
    for (const kind of ["policies", "pods", "namespaces"] as const) changed[kind] = 0;
    for (const o of desired.objects.values()) changed[kindCount(o.kind)]! += 1;
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
    await this.#resolveInterfaces(desired);

    const lb = this.#lb!;
    const ep = this.#ep!;
    const cluster = this.#cluster!;
    const rejected = [...desired.rejected];
    const services = desired.translation ? diffServices(this.#services, desired.translation.services) : undefined;

    // Policy: the cluster view's deltas of every changed object, folded into one.
    const objects = diffObjects(this.#objects, desired.objects);
    const applied = new Map(this.#objects);
    const delta = new DeltaBuilder();
    const absorb = (change: PolicyDelta) => {
      delta.addEndpoints(change.endpoints);
      for (const e of change.ipcache.removed) delta.addIpcache(e, false);
      for (const e of change.ipcache.added) delta.addIpcache(e, true);
    };
    const counts: Record<string, number> = { services: 0, backends: 0, policies: 0, pods: 0, namespaces: 0, policyEntries: 0, ipcache: 0, endpoints: 0 };
    for (const o of [...objects.deletes].sort((a, b) => -byApplyOrder(a, b))) {
      absorb(cluster.delete(o.value));
      applied.delete(o.key);
      counts[kindCount(o.kind)]! += 1;
    }
    for (const o of [...objects.upserts].sort(byApplyOrder)) {
      try {
        absorb(cluster.apply(o.value, o.source));
        applied.set(o.key, o);
        counts[kindCount(o.kind)]! += 1;
      } catch (error) {
        if (!(error instanceof WasmplaneError)) throw error;
        rejected.push(error instanceof InvalidInputError && error.context?.startsWith(o.source) ? error.message : `${o.source}: ${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}: ${error.message}`);
      }
    }
    const policyDelta = delta.build();
    const endpoints = this.#planEndpoints(desired, cluster, rejected);
    const tWrite = performance.now();
    this.#phase.policy = tWrite - t0 - this.#phase.read - this.#phase.desired;

    // Everything is computed: write.
    try {
      if (services && desired.translation) {
        if (services.backendRedefined) {
          // A backend ID changed meaning (e.g. became draining): one sync keeps wp_backends consistent.
          const r = lb.sync(desired.translation.services);
          counts.services = r.added + r.updated + r.removed;
          counts.backends = r.backendsWritten + r.backendsDeleted;
        } else {
          for (const s of services.upserts) {
            const r = lb.upsertService(s);
            counts.services! += r.added + r.updated;
            counts.backends! += r.backendsWritten + r.backendsDeleted;
          }
          for (const name of services.removals) {
            const r = lb.removeService(name);
            counts.services! += r.removed;
            counts.backends! += r.backendsDeleted;
          }
        }
      }
      const p = ep.applyDelta(policyDelta);
      counts.policyEntries = p.policyWritten + p.policyDeleted;
      counts.ipcache = p.ipcacheWritten + p.ipcacheDeleted;
      counts.endpoints = await this.#writeEndpoints(endpoints, false);
    } catch (error) {
      this.#failed(error);
      return this.#record(t0, "watch", counts, rejected);
    }
    this.#writeFailed = false;
    this.#phase.write = performance.now() - tWrite;
    this.#committed(desired, applied);
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
      this.#serviceNames = new Map(this.#lb!.services().filter((s) => s.name !== undefined).map((s) => [s.id, s.name!]));
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

  // ---- endpoints --------------------------------------------------------------------------

  /** Endpoints wanted: pod → interface and identity, interfaces checked. Problems go to `rejected`. */
  #planEndpoints(desired: DesiredState, cluster: Cluster, rejected: string[]): Map<string, { iface: string; ifindex: number; identity: number }> {
    const wanted = new Map<string, string>(this.#flagEndpoints);
    for (const [pod, iface] of desired.interfaces) wanted.set(pod, iface);
    const out = new Map<string, { iface: string; ifindex: number; identity: number }>();
    for (const [pod, iface] of [...wanted].sort((a, b) => byText(a[0], b[0]))) {
      const identity = cluster.identityOf(pod);
      if (identity === undefined) {
        rejected.push(`${this.#statePath}: endpoint ${pod} (${iface}): no such pod in the state: not attached`);
        continue;
      }
      const ifindex = this.#ifindex(iface);
      if (ifindex === undefined) {
        rejected.push(`${this.#statePath}: endpoint ${pod}: interface ${JSON.stringify(iface)} does not exist in this network namespace: not attached`);
        continue;
      }
      out.set(pod, { iface, ifindex, identity });
    }
    return out;
  }

  #ifindexCache = new Map<string, number | undefined>();

  #ifindex(iface: string): number | undefined {
    return this.#ifindexCache.get(iface);
  }

  /** Resolves interface names (async: libbpf's if_nametoindex) before a change is computed. */
  async #resolveInterfaces(desired: DesiredState): Promise<void> {
    const names = new Set<string>([...this.#flagEndpoints.values(), ...desired.interfaces.values()]);
    this.#ifindexCache = new Map();
    for (const name of names) {
      try {
        this.#ifindexCache.set(name, await interfaceIndex(name));
      } catch (error) {
        if (!(error instanceof WasmplaneError) || error.code !== "UNKNOWN_INTERFACE") throw error;
        this.#ifindexCache.set(name, undefined);
      }
    }
  }

  /** Attaches, re-identifies and detaches endpoints; returns how many changed. */
  async #writeEndpoints(plan: Map<string, { iface: string; ifindex: number; identity: number }>, reconcile: boolean): Promise<number> {
    const ep = this.#ep!;
    let n = 0;
    for (const [pod, want] of plan) {
      const have = this.#endpoints.get(pod);
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
        this.#endpoints.delete(pod);
      }
      const before = ep.endpoints().get(want.ifindex);
      const attachment = await ep.attach(want.ifindex, want.identity, { ...AGENT_TC_FILTER, replace: true });
      this.#endpoints.set(pod, { pod, iface: want.iface, ifindex: want.ifindex, identity: want.identity, attachment });
      if (before !== want.identity) n++;
      this.#log.info("attached endpoint", { endpoint: pod, interface: want.iface, identity: want.identity });
    }
    for (const [pod, have] of [...this.#endpoints]) {
      if (plan.has(pod)) continue;
      have.attachment.detach();
      this.#endpoints.delete(pod);
      n++;
      this.#log.info("detached endpoint", { endpoint: pod, interface: have.iface });
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
        this.#log.info("removed stale endpoint", { ifindex });
      }
    }
    return n;
  }

  // ---- API --------------------------------------------------------------------------------

  status(): AgentStatus {
    const lb = this.#lb;
    const ep = this.#ep;
    const identities = new Set<number>();
    for (const o of this.#objects.values()) {
      if (o.kind !== "Pod") continue;
      const id = this.#cluster?.identityOf(`${o.namespace}/${o.name}`);
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
      health: this.#health(),
      startedAt: this.#startedAt,
      state: this.#statePath,
      ...(this.#xdp ? { xdp: { interface: this.#xdp.iface, mode: this.#xdp.attachment.mode } } : {}),
      endpoints: Object.fromEntries([...this.#endpoints.values()].sort((a, b) => byText(a.pod, b.pod)).map((e) => [e.pod, e.iface])),
      counts: {
        services: lb?.services().length ?? 0,
        backends: this.#backendIds.size,
        identities: identities.size,
        endpoints: this.#endpoints.size,
        policyEntries: ep?.policyEntries().length ?? 0,
      },
      maps: lb && ep ? mapFill(lb, ep) : [],
      ...(this.#lastApplied ? { lastApplied: this.#lastApplied } : {}),
      flowsPerSecond: this.#flows.rate(),
      dropsByReason: drops,
      flowEventsLost: (this.#reader?.lost() ?? 0n).toString(),
    };
  }

  #policyCheck(query: ReachabilityQuery): unknown {
    const cluster = this.#cluster;
    if (!cluster) throw new WasmplaneError("INVALID_INPUT", "the agent is not ready");
    const q = query as unknown as Record<string, unknown>;
    for (const field of ["from", "to"]) if (typeof q[field] !== "string") throw new InvalidInputError(field, q[field], "must be ns/pod or an IP address");
    const protocol = typeof q.protocol === "string" ? q.protocol.toUpperCase() : q.protocol ?? "TCP";
    const r = cluster.reachability({ from: q.from as string, to: q.to as string, port: q.port as number, protocol: protocol as "TCP" });
    return { from: q.from, to: q.to, port: q.port, protocol, ...r };
  }

  #policyMap(endpoint: string): unknown {
    const cluster = this.#cluster;
    if (!cluster) throw new WasmplaneError("INVALID_INPUT", "the agent is not ready");
    const identity = cluster.identityOf(endpoint);
    if (identity === undefined) throw new InvalidInputError("endpoint", endpoint, "is not a pod the agent knows");
    return { endpoint, identity, entries: cluster.engine.policyMap(identity) };
  }

  // ---- stop -------------------------------------------------------------------------------

  async stop(options: { cleanup?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#watcher?.close();
    clearTimeout(this.#retryTimer);
    await this.#queue; // let a change being written finish
    await this.#teardown(options.cleanup === true);
    this.#log.info("stopped", { cleanup: options.cleanup === true });
  }

  async #teardown(cleanup: boolean): Promise<void> {
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (error) {
        this.#log.error(`stop: ${what}`, { error: error instanceof Error ? error.message : String(error) });
      }
    };
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#server) await step("close API", () => this.#server!.close());
    this.#server = undefined;
    clearInterval(this.#metricsTimer);
    if (this.#metricsServer) await step("close metrics", () => this.#metricsServer!.close());
    this.#metricsServer = undefined;
    this.#metrics = undefined;
    if (this.#reader) await step("close flow reader", () => this.#reader!.close());
    this.#reader = undefined;
    if (cleanup) {
      for (const e of this.#endpoints.values()) await step(`detach ${e.iface}`, () => e.attachment.detach());
      if (this.#xdp && this.#lb) await step(`detach XDP from ${this.#xdp.iface}`, () => this.#lb!.detach(this.#xdp!.iface));
      if (this.#ep) await step("unpin endpoint maps", () => this.#ep!.unpin());
    }
    this.#endpoints.clear();
    this.#xdp = undefined;
    if (this.#ep) await step("close endpoint datapath", () => this.#ep!.close());
    this.#ep = undefined;
    if (this.#lb) {
      const pinRoot = this.#lb.pinRoot;
      await step("close load balancer", () => this.#lb!.close());
      if (cleanup) await step("unpin load balancer maps", () => unpinDatapath(pinRoot));
    }
    this.#lb = undefined;
  }

}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function byApplyOrder(a: KeyedObject, b: KeyedObject): number {
  return APPLY_ORDER.indexOf(a.kind) - APPLY_ORDER.indexOf(b.kind) || byText(a.namespace ?? "", b.namespace ?? "") || byText(a.name, b.name);
}

function kindCount(kind: string): "policies" | "pods" | "namespaces" {
  return POLICY_KINDS.has(kind) ? "policies" : kind === "Pod" ? "pods" : "namespaces";
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
