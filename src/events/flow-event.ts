/**
 * Flow events: the TypeScript mirror of `struct wp_flow_event`
 * (bpf/include/wasmplane/abi.h) and its decoder.
 *
 * The tc programs write one 72-byte record per policy drop and per new
 * allowed connection into the `wp_flow_events` ring buffer
 * (bpf/lib/events.h). This module turns one record into a {@link FlowEvent}
 * with names instead of numbers. The C header owns the bytes:
 * test/flow-events.test.ts compares {@link FLOW_EVENT_LAYOUT} with the BTF
 * clang emits for bpf/test/events_test.c, and the constants here with
 * abi.h's defines, so a change on one side alone fails the test.
 *
 *  0               8       12      16      20      24
 *  +---------------+-------+-------+-------+-------+
 *  | time_ns       |ifindex|ep id  |peer id|svc id |     host order
 *  +---------------+-------+-------+-------+-------+
 *  24              40              56      58      60   61   62   63   64
 *  +---------------+---------------+-------+-------+----+----+----+----+
 *  | saddr[16]     | daddr[16]     | sport | dport |prot|fam |dir |verd|
 *  +---------------+---------------+-------+-------+----+----+----+----+
 *  64      66      67      68      72       addresses, ports: network order
 *  +-------+-------+-------+-------+
 *  | reason|tcpflg |flags  | pad[4]|
 *  +-------+-------+-------+-------+
 *
 * Pure module: no kernel, no koffi.
 *
 * @module
 */
import { endianness } from "node:os";
import type { StructLayout } from "../bpf/btf-layout.js";
import { DROP_REASON } from "../bpf/drop-reasons.js";
import { InvalidInputError } from "../errors.js";
import { formatIp } from "../net/ip.js";

const HOST_LE = endianness() === "LE";

/** Bytes of one record, `sizeof(struct wp_flow_event)`. */
export const FLOW_EVENT_SIZE = 72;

/** `struct wp_flow_event` as abi.h lays it out: each C member's offset and size. */
export const FLOW_EVENT_LAYOUT: StructLayout = {
  size: FLOW_EVENT_SIZE,
  fields: {
    time_ns: { offset: 0, size: 8 },
    ifindex: { offset: 8, size: 4 },
    endpoint_identity: { offset: 12, size: 4 },
    peer_identity: { offset: 16, size: 4 },
    service_id: { offset: 20, size: 4 },
    saddr: { offset: 24, size: 16 },
    daddr: { offset: 40, size: 16 },
    sport: { offset: 56, size: 2 },
    dport: { offset: 58, size: 2 },
    protocol: { offset: 60, size: 1 },
    family: { offset: 61, size: 1 },
    direction: { offset: 62, size: 1 },
    verdict: { offset: 63, size: 1 },
    reason: { offset: 64, size: 2 },
    tcp_flags: { offset: 66, size: 1 },
    flags: { offset: 67, size: 1 },
    pad: { offset: 68, size: 4 },
  },
};

/** Field offsets of {@link FLOW_EVENT_LAYOUT} as plain numbers, for the decoder's hot path. */
const AT = Object.fromEntries(Object.entries(FLOW_EVENT_LAYOUT.fields).map(([name, f]) => [name, f.offset])) as Record<
  "time_ns" | "ifindex" | "endpoint_identity" | "peer_identity" | "service_id" | "saddr" | "daddr" | "sport" | "dport" | "protocol" | "family" | "direction" | "verdict" | "reason" | "tcp_flags" | "flags",
  number
>;

/** `WP_DIR_*`: which way the packet went, seen from the endpoint. */
export const WP_DIR = {
  /** Traffic to the endpoint. */
  INGRESS: 0,
  /** Traffic from the endpoint. */
  EGRESS: 1,
} as const;
/** `WP_VERDICT_*`. */
export const WP_VERDICT = {
  /** The packet went on. */
  FORWARDED: 1,
  /** The packet was dropped; the record's reason says why. */
  DROPPED: 2,
} as const;
/** `WP_EVENT_F_*`: bits of the record's `flags`. */
export const WP_EVENT_F = {
  /** The packet is a reply of a tracked connection. */
  REPLY: 0x01,
  /** The destination (or, for replies, the source) was rewritten for a service. */
  TRANSLATED: 0x02,
} as const;

/** Name of the flow event ring buffer map (bpf/lib/events.h). */
export const FLOW_EVENTS_MAP = "wp_flow_events";
/** Name of the per-CPU array counting records the ring had no room for. */
export const FLOW_EVENT_LOSSES_MAP = "wp_flow_event_losses";
/** Default size of the ring in bytes, `WASMPLANE_FLOW_EVENTS_BYTES` (1 MiB). */
export const FLOW_EVENTS_DEFAULT_BYTES = 1 << 20;
/**
 * Ring bytes one record takes: the kernel's 8-byte record header plus the
 * payload rounded up to 8 (`BPF_RINGBUF_HDR_SZ`, kernel/bpf/ringbuf.c). A
 * ring of `n` bytes holds `floor(n / FLOW_EVENT_RING_BYTES)` unread records.
 */
export const FLOW_EVENT_RING_BYTES = 8 + FLOW_EVENT_SIZE;

/** A protocol by name; other protocol numbers are given as numbers. */
export type FlowProtocolName = "TCP" | "UDP" | "SCTP" | "ICMP" | "ICMPv6";

const PROTOCOL_NAMES: Readonly<Record<number, FlowProtocolName>> = { 6: "TCP", 17: "UDP", 132: "SCTP", 1: "ICMP", 58: "ICMPv6" };

/** TCP flag names by bit, lowest first (RFC 9293 and RFC 3168 for ECE and CWR). */
export const TCP_FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"] as const;

const REASON_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(DROP_REASON).map(([name, code]) => [code, name.toLowerCase().replaceAll("_", "-")]),
);

/** The name of drop reason `code` (`policy-deny`), or `reason-<code>` for a code this version does not know. */
export function dropReasonName(code: number): string {
  return REASON_NAMES.get(code) ?? `reason-${code}`;
}

/** TCP flags by name, joined with `|` (`SYN|ACK`); "" for none. */
export function tcpFlagNames(byte: number): string {
  const names: string[] = [];
  for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) names.push(TCP_FLAG_NAMES[bit]!);
  return names.join("|");
}

/** {@link tcpFlagNames} of every byte value, computed once. */
const TCP_FLAG_TEXT: readonly string[] = Array.from({ length: 256 }, (_, byte) => tcpFlagNames(byte));

/** One flow event, decoded. */
export interface FlowEvent {
  /** When the datapath saw the packet: `bpf_ktime_get_ns()`, CLOCK_MONOTONIC nanoseconds. */
  timeNs: bigint;
  /** The same instant on the wall clock, ISO 8601 in UTC (millisecond precision), through {@link DecodeOptions.wallClockOffsetNs}. */
  time: string;
  /** The endpoint's interface index. */
  ifindex: number;
  /** Security identity of the endpoint. */
  endpointIdentity: number;
  /** Security identity of the other side. */
  peerIdentity: number;
  /** The service the packet was translated for; undefined when none (0 in the record). */
  serviceId: number | undefined;
  /** Address family. */
  family: 4 | 6;
  /** Source address as text (`10.0.0.1`, `fd00::1`). */
  source: string;
  /** Destination address as text. */
  destination: string;
  /** Source port, host order; 0 for protocols without ports. */
  sourcePort: number;
  /** Destination port, host order; 0 for protocols without ports. */
  destinationPort: number;
  /** `TCP`, `UDP`, `SCTP`, `ICMP`, `ICMPv6`, or the protocol number for others. */
  protocol: FlowProtocolName | number;
  /** The IP protocol number. */
  protocolNumber: number;
  /** `ingress`: to the endpoint; `egress`: from it. */
  direction: "ingress" | "egress";
  /** What the datapath did with the packet. */
  verdict: "FORWARDED" | "DROPPED";
  /** Why it was dropped (`policy-deny`, `default-deny`, ...); undefined when the code is 0. */
  reason: string | undefined;
  /** The drop reason code (bpf/include/wasmplane/drop_reasons.h); 0 when forwarded. */
  reasonCode: number;
  /** TCP flags by name (`SYN|ACK`); "" for none and for other protocols. */
  tcpFlags: string;
  /** The TCP flags byte as sent. */
  tcpFlagsByte: number;
  /** The packet is a reply of a tracked connection (`WP_EVENT_F_REPLY`). */
  reply: boolean;
  /** An address was rewritten for a service (`WP_EVENT_F_TRANSLATED`). */
  translated: boolean;
  /** The raw `flags` byte, including bits this version does not name. */
  flags: number;
}

/** Options of {@link decodeFlowEvent}. */
export interface DecodeOptions {
  /**
   * Wall-clock time minus CLOCK_MONOTONIC, in nanoseconds, to turn `time_ns`
   * into {@link FlowEvent.time}. Default: measured now
   * ({@link monotonicToWallOffsetNs}); pass one value for a batch so that
   * every record in it uses the same conversion.
   */
  wallClockOffsetNs?: bigint;
}

/**
 * Wall-clock time minus CLOCK_MONOTONIC, now, in nanoseconds. Node's
 * `process.hrtime` reads CLOCK_MONOTONIC on Linux, the clock of
 * `bpf_ktime_get_ns()`. The offset changes when the wall clock is set or
 * slewed, so measure it per batch rather than once.
 */
export function monotonicToWallOffsetNs(): bigint {
  const mono = process.hrtime.bigint();
  const wallNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  return wallNs - mono;
}

// Date.prototype.toISOString costs about half a microsecond here, more than
// the rest of a decode; records come in bursts within the same second, so the
// "YYYY-MM-DDTHH:MM:SS" part is computed once per second.
let cachedSecond = Number.NaN;
let cachedPrefix = "";

/** `new Date(ms).toISOString()`, with the text up to the seconds cached. */
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years outside 0000-9999 have a longer form; do not cache those.
    if (iso.length !== 24) return new Date(ms).toISOString();
    cachedSecond = second;
    cachedPrefix = iso.slice(0, 20);
  }
  return `${cachedPrefix}${String(ms - second * 1000).padStart(3, "0")}Z`;
}

/**
 * Decodes one `struct wp_flow_event` record.
 *
 * @throws {@link InvalidInputError} when `bytes` is not 72 bytes long, or the
 *   family, direction or verdict is not one abi.h defines (a record of
 *   another layout or a corrupted one); the field is named.
 */
export function decodeFlowEvent(bytes: Uint8Array, options: DecodeOptions = {}): FlowEvent {
  if (bytes.byteLength !== FLOW_EVENT_SIZE) throw new InvalidInputError("record", `${bytes.byteLength} bytes`, `a flow event is ${FLOW_EVENT_SIZE} bytes (struct wp_flow_event)`);
  const family = bytes[AT.family]!;
  if (family !== 4 && family !== 6) throw new InvalidInputError("record.family", family, "must be 4 (WP_FAMILY_IPV4) or 6 (WP_FAMILY_IPV6)");
  const direction = bytes[AT.direction]!;
  if (direction !== WP_DIR.INGRESS && direction !== WP_DIR.EGRESS) throw new InvalidInputError("record.direction", direction, "must be 0 (WP_DIR_INGRESS) or 1 (WP_DIR_EGRESS)");
  const verdict = bytes[AT.verdict]!;
  if (verdict !== WP_VERDICT.FORWARDED && verdict !== WP_VERDICT.DROPPED) throw new InvalidInputError("record.verdict", verdict, "must be 1 (WP_VERDICT_FORWARDED) or 2 (WP_VERDICT_DROPPED)");

  const view = new DataView(bytes.buffer, bytes.byteOffset, FLOW_EVENT_SIZE);
  const addressLength = family === 4 ? 4 : 16;
  const timeNs = view.getBigUint64(AT.time_ns, HOST_LE);
  const wallMs = Number((timeNs + (options.wallClockOffsetNs ?? monotonicToWallOffsetNs())) / 1_000_000n);
  const protocolNumber = bytes[AT.protocol]!;
  const reasonCode = view.getUint16(AT.reason, HOST_LE);
  const tcpFlagsByte = bytes[AT.tcp_flags]!;
  const flags = bytes[AT.flags]!;
  const serviceId = view.getUint32(AT.service_id, HOST_LE);
  return {
    timeNs,
    time: isoTime(wallMs),
    ifindex: view.getUint32(AT.ifindex, HOST_LE),
    endpointIdentity: view.getUint32(AT.endpoint_identity, HOST_LE),
    peerIdentity: view.getUint32(AT.peer_identity, HOST_LE),
    serviceId: serviceId === 0 ? undefined : serviceId,
    family,
    source: formatIp({ family, bytes: bytes.subarray(AT.saddr, AT.saddr + addressLength) }),
    destination: formatIp({ family, bytes: bytes.subarray(AT.daddr, AT.daddr + addressLength) }),
    sourcePort: view.getUint16(AT.sport, false),
    destinationPort: view.getUint16(AT.dport, false),
    protocol: PROTOCOL_NAMES[protocolNumber] ?? protocolNumber,
    protocolNumber,
    direction: direction === WP_DIR.INGRESS ? "ingress" : "egress",
    verdict: verdict === WP_VERDICT.FORWARDED ? "FORWARDED" : "DROPPED",
    reason: reasonCode === 0 ? undefined : dropReasonName(reasonCode),
    reasonCode,
    tcpFlags: TCP_FLAG_TEXT[tcpFlagsByte]!,
    tcpFlagsByte,
    reply: (flags & WP_EVENT_F.REPLY) !== 0,
    translated: (flags & WP_EVENT_F.TRANSLATED) !== 0,
    flags,
  };
}
