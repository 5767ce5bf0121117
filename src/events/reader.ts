/**
 * FlowEventReader: the flow event ring buffer, the record decoder and the
 * loss counter together.
 *
 *   wp_flow_events ──ring buffer (src/bpf/ringbuf.ts)──▶ decodeFlowEvent ──▶ onEvent
 *   wp_flow_event_losses (per-CPU u64, summed) ──────────▶ lost()
 *
 * Every record the datapath tried to emit is either received here or counted
 * in `wp_flow_event_losses`; once the ring is drained, received + lost equals
 * emitted (for the records emitted since the reader opened: received counts
 * from the open, lost from {@link FlowEventStats.lostAtOpen}).
 *
 * @module
 */
import { endianness } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../errors.js";
import { LayoutMismatchError } from "../bpf/errors.js";
import type { BpfMap } from "../bpf/map.js";
import { MAP_TYPES } from "../bpf/map-types.js";
import type { BpfObject } from "../bpf/object.js";
import { openPinnedMap } from "../bpf/pin.js";
import { openRingBuffer, type RingBuffer, type RingBufferStartOptions } from "../bpf/ringbuf.js";
import { decodeFlowEvent, FLOW_EVENT_LOSSES_MAP, FLOW_EVENTS_MAP, monotonicToWallOffsetNs, type FlowEvent } from "./flow-event.js";

const HOST_LE = endianness() === "LE";

/**
 * Where the two maps are: a loaded object that declares them, a directory
 * they are pinned in (`pinRoot` of the loader, default
 * `/sys/fs/bpf/wasmplane`), or the two maps themselves.
 */
export type FlowEventSource = BpfObject | string | FlowEventMaps;

/** The two maps of the flow event path, already open. */
export interface FlowEventMaps {
  /** The `BPF_MAP_TYPE_RINGBUF` map (`wp_flow_events`). */
  events: BpfMap;
  /** The per-CPU array of one u64 counting records the ring had no room for (`wp_flow_event_losses`). */
  losses: BpfMap;
}

/** Options of {@link openFlowEventReader}. */
export interface FlowEventReaderOptions {
  /** Records decoded per `consume()` at most (see `RingBufferOptions.maxRecordsPerCall`). Default 4096. */
  maxRecordsPerCall?: number;
  /**
   * A record that does not decode (wrong size, unknown family, direction or
   * verdict): counted in {@link FlowEventStats.malformed} and passed here
   * with the error and a copy of its bytes. Default: counted only.
   */
  onMalformed?: (error: InvalidInputError, bytes: Uint8Array) => void;
  /** Errors while started (an `onEvent` throw, a kernel error). Default: uncaught. */
  onError?: (error: unknown) => void;
}

/** Counts of a {@link FlowEventReader}. */
export interface FlowEventStats {
  /** Records taken from the ring since the reader opened (decoded or malformed). */
  received: number;
  /** Records the datapath could not write since the reader opened (`lost() - lostAtOpen`). */
  lost: bigint;
  /** `wp_flow_event_losses` summed over CPUs when the reader opened (losses since the map was created). */
  lostAtOpen: bigint;
  /** Received records that did not decode. */
  malformed: number;
}

/** Reads flow events; see {@link openFlowEventReader}. */
export interface FlowEventReader {
  /**
   * Decodes and hands over every record waiting (up to `limit`) now, on this
   * thread; never waits. Returns the records taken.
   *
   * @throws what `onEvent` threw (the record counts as received); `BpfError` from libbpf.
   */
  consume(limit?: number): number;
  /** Consumes from the event loop: woken by the kernel ("readable", default) or by a timer (`intervalMs`). See `RingBuffer.start`. */
  start(options?: RingBufferStartOptions | number): void;
  /** Stops consuming from the event loop. Idempotent. */
  stop(): void;
  /** Records the ring had no room for, summed over CPUs: the map's total since it was created. Needs CAP_BPF. */
  lost(): bigint;
  /** Received, lost (since open) and malformed counts. Reads the loss counter. */
  stats(): FlowEventStats;
  /** Stops and frees the consumer; closes maps it opened from pins. Idempotent. */
  close(): void;
}

/**
 * Opens a reader of the flow events of a datapath object or pin directory.
 * Needs CAP_BPF (or CAP_SYS_ADMIN), kernel 5.8+, libbpf.
 *
 * @param onEvent called once per decoded record, on the main thread.
 * @throws {@link InvalidInputError} when the object lacks the maps.
 * @throws {@link LayoutMismatchError} when a map has another type or shape
 *   (not a ring buffer; not a one-entry per-CPU array of u64).
 * @throws `BpfError` (code `BPF_ERRNO`) naming the map and errno when a pin
 *   cannot be opened or libbpf cannot map the ring.
 */
export async function openFlowEventReader(source: FlowEventSource, onEvent: (event: FlowEvent) => void, options: FlowEventReaderOptions = {}): Promise<FlowEventReader> {
  if (typeof onEvent !== "function") throw new InvalidInputError("onEvent", typeof onEvent, "must be a function");
  let events: BpfMap | string;
  let losses: BpfMap;
  let ownsLosses = false;
  if (typeof source === "string") {
    events = join(source, FLOW_EVENTS_MAP);
    losses = await openPinnedMap(join(source, FLOW_EVENT_LOSSES_MAP), { type: "percpu_array", keySize: 4, valueSize: 8, maxEntries: 1 }, FLOW_EVENT_LOSSES_MAP);
    ownsLosses = true;
  } else if ("events" in source && "losses" in source) {
    events = source.events;
    losses = source.losses;
  } else {
    events = source.map(FLOW_EVENTS_MAP);
    losses = source.map(FLOW_EVENT_LOSSES_MAP);
  }
  try {
    const problems: string[] = [];
    if (losses.type !== MAP_TYPES.percpu_array) problems.push(`type is ${losses.type}, expected percpu_array (${MAP_TYPES.percpu_array})`);
    if (losses.keySize !== 4 || losses.valueSize !== 8) problems.push(`key/value sizes are ${losses.keySize}/${losses.valueSize}, expected 4/8`);
    if (losses.maxEntries < 1) problems.push("it has no entry");
    if (problems.length > 0) throw new LayoutMismatchError(`loss counter map "${losses.name}"`, problems);
    const key = new Uint32Array([0]);
    const value = new Uint8Array(losses.valueBytes);
    const readLost = (): bigint => {
      const bytes = losses.lookup(key, value);
      if (!bytes) return 0n;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let sum = 0n;
      for (let off = 0; off + 8 <= bytes.byteLength; off += 8) sum += view.getBigUint64(off, HOST_LE);
      return sum;
    };
    const lostAtOpen = readLost();

    let malformed = 0;
    let offset = 0n;
    const ring: RingBuffer = await openRingBuffer(events, (bytes) => {
      let event: FlowEvent;
      try {
        event = decodeFlowEvent(bytes, { wallClockOffsetNs: offset });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        malformed++;
        options.onMalformed?.(error, bytes.slice());
        return;
      }
      onEvent(event);
    }, {
      name: typeof events === "string" ? FLOW_EVENTS_MAP : events.name,
      // One wall-clock conversion per batch.
      beforeConsume: () => { offset = monotonicToWallOffsetNs(); },
      ...(options.maxRecordsPerCall !== undefined ? { maxRecordsPerCall: options.maxRecordsPerCall } : {}),
      ...(options.onError !== undefined ? { onError: options.onError } : {}),
    });
    let closed = false;
    return {
      consume: (limit) => ring.consume(limit),
      start: (opts) => ring.start(opts),
      stop: () => ring.stop(),
      lost: readLost,
      stats: () => ({ received: ring.received, lost: readLost() - lostAtOpen, lostAtOpen, malformed }),
      close() {
        if (closed) return;
        closed = true;
        ring.close();
        if (ownsLosses) losses.close();
      },
    };
  } catch (error) {
    if (ownsLosses) losses.close();
    throw error;
  }
}

