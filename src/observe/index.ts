/**
 * Observed flows: the flow events the agent streams with both sides named,
 * the filters of `wasmplane observe` and `GET /v1/flows`, and their one-line
 * text form. Pure: no kernel, no sockets.
 *
 * @module
 */
export { matchesFlow, parseFlowFilter, flowFilterToQuery, FLOW_FILTER_KEYS } from "./filter.js";
export { formatFlow, formatPeer } from "./format.js";
export type { ObservedFlow, ObservedPeer, FlowFilter } from "./types.js";
