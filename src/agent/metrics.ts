/**
 * The node agent's Prometheus metrics, and the HTTP endpoint that serves
 * them (`GET /metrics`, text exposition format 0.0.4).
 *
 * Every metric lives in the agent's own registry (not prom-client's global
 * one), so two agents in one process, or a test next to an agent, never
 * share series. Names follow the Prometheus conventions: a `wasmplane_`
 * prefix, base units (seconds, ratios), `_total` on counters only.
 *
 *   wasmplane_services, _backends, _identities, _endpoints, _policy_entries   gauges
 *   wasmplane_map_entries{map}, _map_max_entries{map}, _map_fill_ratio{map}    gauges
 *   wasmplane_datapath_drops{reason}     gauge: the datapath's own per-reason
 *                                        counters, copied as they are read (they
 *                                        restart at 0 when the datapath is reloaded,
 *                                        which a Prometheus counter may not do here)
 *   wasmplane_flows_total{verdict,reason}         counter of flow events seen
 *   wasmplane_apply_duration_seconds{kind}        histogram, 1 ms to 10 s
 *   wasmplane_apply_failures_total{kind}          counter
 *
 * No kernel access: the agent hands in what it read.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { InvalidInputError } from "../errors.js";
import type { ObservedFlow } from "../observe/types.js";

/**
 * Upper bounds of the apply latency buckets in seconds: 1-2.5-5 steps from
 * 1 ms to 10 s. A small change applies in milliseconds; a full resync of a
 * large state, or a map write stalled on the kernel, takes seconds.
 */
export const APPLY_LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The `reason` label of forwarded flows, which have no drop reason. */
export const FORWARDED_REASON_LABEL = "none";

/** Object counts of the state the datapath currently serves. */
export interface AgentInventory {
  /** Service frontends. */
  readonly services: number;
  /** Backends over all services. */
  readonly backends: number;
  /** Security identities allocated. */
  readonly identities: number;
  /** Endpoints with the tc programs attached. */
  readonly endpoints: number;
  /** Policy map entries over all endpoints. */
  readonly policyEntries: number;
}

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** Where it listens: `host:port` (`[v6]:port` for IPv6) with the port actually bound, or the Unix socket path. */
  readonly address: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** The agent's metrics; see the module comment for the series each method writes. */
export interface AgentMetrics {
  /** The registry holding every series below; `registry.metrics()` renders the exposition text. */
  readonly registry: Registry;
  /**
   * One state change applied (`ok`) or refused/failed: `seconds` goes into
   * `wasmplane_apply_duration_seconds{kind}` either way, and a failure counts
   * in `wasmplane_apply_failures_total{kind}`. `kind` is what was applied
   * (`services`, `policy`, `endpoints`, `full`...).
   *
   * @throws {@link InvalidInputError} when `seconds` is negative or not finite.
   */
  recordApply(kind: string, seconds: number, ok: boolean): void;
  /** Sets the inventory gauges. @throws {@link InvalidInputError} on a negative or non-integer count, naming it. */
  setInventory(inventory: AgentInventory): void;
  /**
   * Sets `map`'s entries, capacity and fill ratio (entries / maxEntries; 0
   * for a map of capacity 0).
   *
   * @throws {@link InvalidInputError} on a negative or non-integer number.
   */
  setMapFill(map: string, entries: number, maxEntries: number): void;
  /** Sets the datapath's drop counter of `reason` (`policy-deny`, ...) to `packets`. */
  setDrops(reason: string, packets: number | bigint): void;
  /** Counts one observed flow in `wasmplane_flows_total{verdict, reason}` (reason {@link FORWARDED_REASON_LABEL} when forwarded). */
  recordFlow(flow: ObservedFlow): void;
  /**
   * Serves `GET /metrics` (404 for other paths, 405 for other methods) on
   * `address`: `host:port`, `:port` (all interfaces), `[v6]:port`, or an
   * absolute Unix socket path. Port 0 picks a free port; the result names it.
   *
   * @throws {@link InvalidInputError} for an address of none of these forms.
   * @throws the listen error (`EADDRINUSE`, `EACCES`) as Node reports it.
   */
  serve(address: string): Promise<MetricsServer>;
}

/** Where to listen: a Unix socket path, or a TCP host (undefined: all interfaces) and port. */
export type ListenAddress =
  | {
      /** Absolute path of the Unix socket. */
      readonly path: string;
    }
  | {
      /** Host or address to bind; undefined for all interfaces. */
      readonly host: string | undefined;
      /** TCP port; 0 picks a free one. */
      readonly port: number;
    };

/**
 * Reads a listen address: `host:port`, `:port`, `[ipv6]:port`, or an absolute Unix socket path.
 *
 * @throws {@link InvalidInputError} naming `metrics address` for any other form or a port above 65535.
 */
export function parseListenAddress(address: string): ListenAddress {
  if (address.startsWith("/")) return { path: address };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new InvalidInputError("metrics address", address, "must be host:port, :port, [ipv6]:port or an absolute Unix socket path");
  }
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}

function count(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new InvalidInputError(field, value, "must be a non-negative integer");
  return value;
}

/** Creates the agent's metrics in a registry of their own. */
export function createAgentMetrics(): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const inventory = {
    services: gauge("wasmplane_services", "Service frontends the datapath serves."),
    backends: gauge("wasmplane_backends", "Backends over all services the datapath serves."),
    identities: gauge("wasmplane_identities", "Security identities allocated."),
    endpoints: gauge("wasmplane_endpoints", "Endpoints with the tc programs attached."),
    policyEntries: gauge("wasmplane_policy_entries", "Policy map entries over all endpoints."),
  };
  const mapEntries = new Gauge({ name: "wasmplane_map_entries", help: "Entries in a BPF map.", labelNames: ["map"], registers });
  const mapMax = new Gauge({ name: "wasmplane_map_max_entries", help: "Capacity of a BPF map.", labelNames: ["map"], registers });
  const mapFill = new Gauge({ name: "wasmplane_map_fill_ratio", help: "Entries of a BPF map over its capacity (0 to 1).", labelNames: ["map"], registers });
  const drops = new Gauge({
    name: "wasmplane_datapath_drops",
    help: "Packets the datapath dropped since it was loaded, by reason (its own counters, as last read).",
    labelNames: ["reason"],
    registers,
  });
  const flows = new Counter({ name: "wasmplane_flows_total", help: "Flow events observed, by verdict and drop reason.", labelNames: ["verdict", "reason"], registers });
  const applyDuration = new Histogram({
    name: "wasmplane_apply_duration_seconds",
    help: "Time from reading a state change to the last map write, by kind of change.",
    labelNames: ["kind"],
    buckets: [...APPLY_LATENCY_BUCKETS],
    registers,
  });
  const applyFailures = new Counter({ name: "wasmplane_apply_failures_total", help: "State changes refused or failed, by kind of change.", labelNames: ["kind"], registers });

  return {
    registry,
    recordApply(kind, seconds, ok) {
      if (!Number.isFinite(seconds) || seconds < 0) throw new InvalidInputError("seconds", seconds, "must be a finite non-negative number");
      applyDuration.observe({ kind }, seconds);
      // Touch the failure series on success too, so it reads 0 rather than being absent.
      applyFailures.inc({ kind }, ok ? 0 : 1);
    },
    setInventory(counts) {
      for (const key of Object.keys(inventory) as (keyof AgentInventory)[]) inventory[key].set(count(key, counts[key]));
    },
    setMapFill(map, entries, maxEntries) {
      count("entries", entries);
      count("maxEntries", maxEntries);
      mapEntries.set({ map }, entries);
      mapMax.set({ map }, maxEntries);
      mapFill.set({ map }, maxEntries === 0 ? 0 : entries / maxEntries);
    },
    setDrops(reason, packets) {
      const value = Number(packets);
      if (!Number.isFinite(value) || value < 0) throw new InvalidInputError("packets", packets, "must be a non-negative number");
      drops.set({ reason }, value);
    },
    recordFlow(flow) {
      flows.inc({ verdict: flow.verdict, reason: flow.reason ?? FORWARDED_REASON_LABEL });
    },
    serve(address) {
      return serveMetrics(registry, parseListenAddress(address));
    },
  };
}

function serveMetrics(registry: Registry, listen: ListenAddress): Promise<MetricsServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(req.method === "HEAD" ? undefined : text),
      (error: unknown) => res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${String(error)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const ready = () => {
      server.off("error", reject);
      const bound = server.address();
      const where = typeof bound === "string" ? bound : formatAddress(bound as AddressInfo);
      resolve({
        address: where,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeAllConnections();
          }),
      });
    };
    if ("path" in listen) server.listen(listen.path, ready);
    else server.listen(listen.port, listen.host, ready);
  });
}

function formatAddress(info: AddressInfo): string {
  return info.family === "IPv6" ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}
