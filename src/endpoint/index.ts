/**
 * Endpoint policy enforcement: the tc programs on each endpoint's veth
 * (bpf/tc_endpoint.c) and the control plane that writes their maps from
 * the policy engine.
 *
 * @module
 */
export {
  openEndpointDatapath, EndpointDatapath, DEFAULT_ENDPOINT_PIN_ROOT, FROM_ENDPOINT_PROGRAM, TO_ENDPOINT_PROGRAM,
} from "./datapath.js";
export type { EndpointDatapathOptions, PolicySource, ApplyResult, EndpointAttachment, EndpointCounters } from "./datapath.js";
export { MapFullError } from "./errors.js";
export type { PacketCount, PolicyEntryCounter, EndpointDropReason } from "./counters.js";
export type { HeldPolicyEntry } from "./state.js";
export type { EndpointMaps } from "./maps.js";
export type { ConntrackEntry, PolicyKey } from "./layouts.js";
export { WP_PREC, WP_IDENTITY_WORLD } from "./layouts.js";
