/**
 * The load balancer control plane: the XDP datapath (bpf/xdp_lb.c) loaded
 * and fed with services whose Maglev tables the WebAssembly engine builds.
 *
 * Importing this module loads neither koffi nor libbpf; {@link openDatapath}
 * does. Validation (services, knobs) is pure and runs without root. The
 * byte layouts (layouts.ts) stay internal: the maps are written through
 * {@link Datapath}.
 *
 * @module
 */
export { openDatapath, unpinDatapath, Datapath, LB_PROGRAM, LB_MAP_NAMES } from "./datapath.js";
export type { DatapathOptions, DatapathService } from "./datapath.js";
export type { DatapathConfig } from "./config.js";
export type { SyncResult } from "./sync.js";
export type { DatapathCounters, ServiceCounter, BackendCounter, DropReasonName } from "./counters.js";
export type { CounterValue } from "./layouts.js";
export type { Knobs } from "./knobs.js";
export type { LbMaps } from "./maps.js";
export {
  validateService, validateServices, formatFrontend, LB_ALGORITHMS, LB_PROTOCOL_NUMBERS, MAX_SERVICE_ID,
  MAX_BACKENDS_PER_SERVICE, MAX_AFFINITY_TIMEOUT_SECONDS,
} from "./services.js";
export type { LbService, LbBackend, LbProtocol, LbAlgorithm, ServiceSpec, BackendSpec } from "./services.js";
export { locateObject } from "./object-file.js";
export { DEFAULT_ENCAP_TTL, DEFAULT_UDP_FLOW_TIMEOUT_SECONDS } from "./knobs.js";
export { loadWithDatapath, openReverseNat, decodeReverseNat, ReverseNat, REV_NAT_MAP, DEFAULT_REV_NAT_ENTRIES, REV_NAT_VALUE_LAYOUT } from "./nat.js";
export type { ReverseNatEntry, ReverseNatFilter } from "./nat.js";
