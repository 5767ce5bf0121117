/**
 * wasmplane: the control plane of an eBPF load balancer and policy engine, as
 * a library. Table builders run in WebAssembly, deterministic on every
 * machine; nothing here needs root, libbpf or kernel features.
 *
 * @packageDocumentation
 */
export { createMaglev } from "./maglev/builder.js";
export type { MaglevBuilder, MaglevOptions } from "./maglev/builder.js";
export type { MaglevBackend, BackendProtocol } from "./maglev/backend.js";
export { BACKEND_PROTOCOLS, MAX_BACKEND_ID } from "./maglev/backend.js";
export {
  DEFAULT_HASH_SEED, DEFAULT_TABLE_SIZE, KNOWN_TABLE_SIZES, MAX_TABLE_SIZE, KEY_FORMATS, decodeHashSeed,
} from "./maglev/config.js";
export type { KeyFormat, DecodedSeed } from "./maglev/config.js";
export { tableStats, compareTables } from "./maglev/analysis.js";
export type { TableStats, TableDiff } from "./maglev/analysis.js";
export { WasmplaneError, InvalidInputError, EngineError } from "./errors.js";
export type { ErrorCode } from "./errors.js";

// ---- Identities ----------------------------------------------------------------
export {
  createIdentityAllocator, createLabelFilter, defaultLabelFilter, DEFAULT_LABEL_PATTERNS, RESERVED_IDENTITY,
} from "./identity/index.js";
export type {
  IdentityAllocator, IdentityAllocatorOptions, IdentityRange, IdentitySnapshot, SnapshotIdentity,
  Label, LabelFilter, LabelFilterOptions, LabelPattern, LabelPrefixFile, ReservedName,
} from "./identity/index.js";

// ---- Policy ----------------------------------------------------------------------
export { createPolicyEngine, DEFAULT_POLICY_MAP_LIMIT, PolicyMapOverflowError } from "./policy/engine.js";
export type {
  PolicyEngine, PolicyEngineOptions, EngineIdentities, Verdict, VerdictQuery, VerdictProtocol, RuleRef,
} from "./policy/engine.js";
export type { PolicyMapEntry, SubjectDelta } from "./policy/resolver-host.js";
export type { PolicyDelta, IpcacheEntry } from "./policy/delta.js";
export type {
  NormalizedRule, PeerRule, PortMatch, PortProtocol, Requirement, RuleOrigin, Selector,
} from "./policy/model.js";

// ---- Cluster view ------------------------------------------------------------------
export { createCluster } from "./cluster/cluster.js";
export type { Cluster, ClusterChange, Reachability, ReachabilityQuery } from "./cluster/cluster.js";
export type { IgnoredObject } from "./cluster/objects.js";

// ---- Datapath --------------------------------------------------------------------
// Importing these loads neither koffi nor libbpf; opening a datapath or a BPF object does.
export * from "./lb/index.js";
export * from "./bpf/index.js";
export { DROP_REASON, DROP_REASON_MEANING, DROP_REASON_SLOTS } from "./bpf/drop-reasons.js";
export type { DropReason } from "./bpf/drop-reasons.js";
export type { IpAddress } from "./net/ip.js";

// ---- Flow events ------------------------------------------------------------------
// Decoding is pure; opening a reader loads koffi and libbpf.
export * from "./events/index.js";

// ---- Endpoint policy enforcement ----------------------------------------------------
// tc programs on each endpoint's veth and the control plane that writes their maps.
export * from "./endpoint/index.js";

// ---- Kubernetes state ---------------------------------------------------------------
// A folder of Kubernetes objects → the load balancer's services, identities, policy maps, ipcache.
export * from "./state/index.js";

// ---- Node agent ----------------------------------------------------------------------
// The state on disk → the datapath, kept in step; a local API on a Unix socket.
export * from "./agent/index.js";

// ---- Observed flows, agent clients and metrics ------------------------------------------
// Filters and lines of `wasmplane observe`; a client of the agent's local API; the agent's Prometheus metrics.
export * from "./observe/index.js";
export { connectAgent, AgentUnavailableError, AgentError } from "./agent/client.js";
export type { AgentClient, AgentPolicyMap, FlowStreamOptions } from "./agent/client.js";
export { createAgentMetrics, parseListenAddress, APPLY_LATENCY_BUCKETS, FORWARDED_REASON_LABEL } from "./agent/metrics.js";
export type { AgentMetrics, AgentInventory, MetricsServer, ListenAddress } from "./agent/metrics.js";
