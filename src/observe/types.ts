/**
 * A flow as `wasmplane observe` shows it: one datapath flow event with both
 * sides named (pod and namespace where the agent knows the address or the
 * identity), as the agent's local API streams it (`GET /v1/flows`, one JSON
 * object per line) and as `--output json` prints it.
 *
 * Pure types; no runtime code.
 *
 * @module
 */

/** One side of an observed flow. */
export interface ObservedPeer {
  /** Address as text (`10.244.1.10`, `fd00::1`). */
  readonly ip: string;
  /** Port in host order; 0 for protocols without ports. */
  readonly port: number;
  /** Security identity of this side. */
  readonly identity: number;
  /** Namespace of the pod with this address, when the agent knows one. */
  readonly namespace?: string;
  /** Name of that pod. */
  readonly pod?: string;
  /** The identity's labels (`k8s:app=web`, `reserved:world`), when known. */
  readonly labels?: readonly string[];
}

/** A flow event, enriched by the agent. */
export interface ObservedFlow {
  /** Wall-clock time of the packet, ISO 8601 UTC. */
  readonly time: string;
  /** What the datapath did. */
  readonly verdict: "FORWARDED" | "DROPPED";
  /** Drop reason name (`policy-deny`, `default-deny`, ...); absent when forwarded. */
  readonly reason?: string;
  /** Seen from the endpoint: `ingress` is traffic to it, `egress` traffic from it. */
  readonly direction: "ingress" | "egress";
  /** `TCP`, `UDP`, `SCTP`, `ICMP`, `ICMPv6`, or the protocol number. */
  readonly protocol: string;
  /** Sender as on the wire at the verdict (after service translation). */
  readonly source: ObservedPeer;
  /** Receiver as on the wire at the verdict. */
  readonly destination: ObservedPeer;
  /** The service the packet was translated for: its ID, and its name when the agent knows it. */
  readonly service?: {
    /** The service's ID in the load balancer's maps. */
    readonly id: number;
    /** `namespace/name` of the Service, when the agent knows it. */
    readonly name?: string;
    /** The load balancer's name of the frontend the packet was sent to (`shop/web:http/cluster-ip/10.96.0.10`), when known. */
    readonly frontend?: string;
  };
  /** TCP flags by name (`SYN|ACK`); empty for other protocols. */
  readonly tcpFlags: string;
  /** The packet is a reply of a tracked connection. */
  readonly reply: boolean;
  /** The endpoint's interface (name when known, else its index as text). */
  readonly interface: string;
}

/** Filters of `observe` and of `GET /v1/flows` (query parameters of the same names); all given must match. */
export interface FlowFilter {
  /** Either side's namespace. */
  readonly namespace?: string;
  /** Either side's pod: `name` (with `namespace`) or `namespace/name`. */
  readonly pod?: string;
  /** `FORWARDED` or `DROPPED`. */
  readonly verdict?: "FORWARDED" | "DROPPED";
  /** Either side's port. */
  readonly port?: number;
  /** Protocol name, case-insensitive. */
  readonly protocol?: string;
  /** Either side's identity. */
  readonly identity?: number;
}
