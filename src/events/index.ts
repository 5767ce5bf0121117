/**
 * Flow events of the tc datapath: the record decoder and the reader that
 * combines the ring buffer with it and with the loss counter.
 *
 * Importing this module loads neither koffi nor libbpf; opening a reader does.
 *
 * @module
 */
export {
  decodeFlowEvent, monotonicToWallOffsetNs, dropReasonName, tcpFlagNames, FLOW_EVENT_LAYOUT, FLOW_EVENT_SIZE,
  FLOW_EVENT_RING_BYTES, FLOW_EVENTS_DEFAULT_BYTES, FLOW_EVENTS_MAP, FLOW_EVENT_LOSSES_MAP, TCP_FLAG_NAMES, WP_DIR,
  WP_VERDICT, WP_EVENT_F,
} from "./flow-event.js";
export type { FlowEvent, FlowProtocolName, DecodeOptions } from "./flow-event.js";
export { openFlowEventReader } from "./reader.js";
export type { FlowEventReader, FlowEventReaderOptions, FlowEventSource, FlowEventMaps, FlowEventStats } from "./reader.js";
