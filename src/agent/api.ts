/**
 * The node agent's local API: what `wasmplane status`, `observe` and
 * `policy --agent` ask over the agent's Unix socket, and what it answers.
 * HTTP/1.1 over a Unix domain socket (default {@link DEFAULT_AGENT_SOCKET});
 * bodies are JSON; errors are `{ "error": { "code", "message" } }` with a
 * 4xx or 5xx status.
 *
 *   GET  /v1/status                 AgentStatus
 *   GET  /v1/flows?follow=1&last=N  ObservedFlow per line (NDJSON); filters
 *                                   as query parameters (FlowFilter); without
 *                                   follow: the last N (default 100) kept flows
 *   POST /v1/policy/check           body ReachabilityQuery → Reachability
 *   GET  /v1/policy/map?endpoint=ns/pod   the endpoint's policy map entries
 *
 * Pure types and constants; no runtime code.
 *
 * @module
 */

/** Where the agent listens unless told otherwise. */
export const DEFAULT_AGENT_SOCKET = "/run/wasmplane/agent.sock";

/** Version of this API; bumped when a reader of an older answer would misread a newer one. */
export const AGENT_API_VERSION = 1;

/** Fill of one BPF map. */
export interface MapFill {
  /** The map's name (`wp_flows`, `wp_policy`, ...). */
  readonly name: string;
  /** Entries it holds. */
  readonly entries: number;
  /** Its `max_entries`. */
  readonly maxEntries: number;
  /** entries / maxEntries × 100, rounded to one decimal. */
  readonly percent: number;
}

/** The last state change the agent applied (or refused). */
export interface AppliedChange {
  /** Wall-clock time the change was applied, ISO 8601. */
  readonly at: string;
  /** Counts up from 1 with every change applied since the agent started. */
  readonly generation: number;
  /** Milliseconds from reading the state to the last map write. */
  readonly durationMs: number;
  /** What changed, e.g. `{ services: 1, backends: 0, policies: 0, pods: 0 }`. */
  readonly changed: Readonly<Record<string, number>>;
  /** One line per object rejected in that change (file, object, field, problem). */
  readonly rejected: readonly string[];
}

/** `GET /v1/status`. */
export interface AgentStatus {
  /** {@link AGENT_API_VERSION} of the agent answering. */
  readonly apiVersion: typeof AGENT_API_VERSION;
  /** `ok`; `degraded` when the last change had rejected objects or a write failed (the last good state is still served). */
  readonly health: "ok" | "degraded";
  /** Process start, ISO 8601. */
  readonly startedAt: string;
  /** The state path the agent watches. */
  readonly state: string;
  /** Where the XDP program is attached (absent when none) and in which mode. */
  readonly xdp?: {
    /** Interface name. */
    readonly interface: string;
    /** `native` or `generic`. */
    readonly mode: string;
  };
  /** Endpoints with tc programs attached: `ns/pod` → interface. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** What the datapath holds. */
  readonly counts: {
    /** Load-balancer services (one per frontend: address, port, protocol). */
    readonly services: number;
    /** Backends (one per address and port, across services). */
    readonly backends: number;
    /** Security identities of the state's pods. */
    readonly identities: number;
    /** Endpoints with tc programs attached by this agent. */
    readonly endpoints: number;
    /** Entries of the policy maps. */
    readonly policyEntries: number;
  };
  /** Fill of the hash, LRU and LPM maps (arrays are always full and not listed). */
  readonly maps: readonly MapFill[];
  /** The last change applied; absent before the first. */
  readonly lastApplied?: AppliedChange;
  /** Flow events per second over the last 10 s. */
  readonly flowsPerSecond: number;
  /** Dropped packets since the datapath was loaded, by reason name. */
  readonly dropsByReason: Readonly<Record<string, string>>;
  /** Flow events lost because the ring buffer was full. */
  readonly flowEventsLost: string;
}
