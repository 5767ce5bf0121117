/**
 * The node agent: keeps one node's datapath (the XDP load balancer and the
 * endpoints' tc programs) equal to a Kubernetes-style state on disk, and
 * answers on a local API (api.ts) about status, flows and policy.
 *
 * Importing this module loads neither koffi nor libbpf; starting an agent does.
 *
 * @module
 */
export { startAgent } from "./agent.js";
export { AGENT_TC_FILTER } from "./endpoints.js";
export type { Agent } from "./agent.js";
export type { AgentOptions } from "./options.js";
export { parseEndpointsFlag } from "./options.js";
export { createLogger, LOG_FORMATS } from "./log.js";
export type { AgentLogger, LogFormat, LogLevel, LogFields } from "./log.js";
export { DEFAULT_AGENT_SOCKET, AGENT_API_VERSION } from "./api.js";
export type { AgentStatus, AppliedChange, MapFill } from "./api.js";
