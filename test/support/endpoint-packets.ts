/**
 * Frames for the endpoint policy programs: one flow (addresses, protocol,
 * ports or ICMP type) as an Ethernet frame, IPv4 or IPv6 by the address,
 * and the `struct __sk_buff` input context (ifindex) for test runs.
 */
import { ETH_P_IP, ETH_P_IPV6, IPPROTO, ethernet, icmpv4, icmpv6, ipv4, ipv6, sctp, tcp, udp, TCP_FLAGS } from "../fixtures/bpf/packets.js";

/** A protocol as the policy engine names it. */
export type FlowProtocol = "TCP" | "UDP" | "SCTP" | "ICMP" | "ICMPv6";

/** One packet of a flow. */
export interface Flow {
  src: string;
  dst: string;
  protocol: FlowProtocol;
  /** Source port (ICMP: the echo identifier). */
  sport?: number;
  /** Destination port, or the ICMP type. */
  dport: number;
  /** TCP flags; default SYN. */
  flags?: number;
}

/** The frame of `f`. ICMP types 0/8 (129/128) carry identifier `sport`. */
export function frame(f: Flow): Buffer {
  const v6 = f.dst.includes(":");
  const addrs = { src: f.src, dst: f.dst };
  let l4: Buffer;
  let proto: number;
  switch (f.protocol) {
    case "TCP":
      l4 = tcp({ ...addrs, sport: f.sport ?? 40000, dport: f.dport, flags: f.flags ?? TCP_FLAGS.SYN });
      proto = IPPROTO.TCP;
      break;
    case "UDP":
      l4 = udp({ ...addrs, sport: f.sport ?? 40000, dport: f.dport }, Buffer.from("hello"));
      proto = IPPROTO.UDP;
      break;
    case "SCTP":
      l4 = sctp({ sport: f.sport ?? 40000, dport: f.dport });
      proto = IPPROTO.SCTP;
      break;
    default: {
      const rest = Buffer.alloc(4);
      rest.writeUInt16BE(f.sport ?? 7, 0);
      rest.writeUInt16BE(1, 2);
      l4 = v6 ? icmpv6(addrs, f.dport, 0, rest, Buffer.alloc(8)) : icmpv4(f.dport, 0, rest, Buffer.alloc(8));
      proto = v6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP;
    }
  }
  const l3 = v6 ? ipv6({ ...addrs, nextHeader: proto }, l4) : ipv4({ ...addrs, protocol: proto }, l4);
  return ethernet("02:00:00:00:00:01", "02:00:00:00:00:02", v6 ? ETH_P_IPV6 : ETH_P_IP, l3);
}

/** sizeof(struct __sk_buff) on Linux 5.x/6.x (uapi). */
export const SKB_CTX_SIZE = 192;
/** offsetof(struct __sk_buff, ifindex). */
const SKB_IFINDEX = 40;

/** An input `struct __sk_buff` naming interface `ifindex` (1 = lo: test runs accept only existing devices). */
export function skbContext(ifindex = 1): Uint8Array {
  const ctx = new Uint8Array(SKB_CTX_SIZE);
  new DataView(ctx.buffer).setUint32(SKB_IFINDEX, ifindex, true);
  return ctx;
}

/** tc verdicts. */
export const TC_ACT = { OK: 0, SHOT: 2 } as const;
