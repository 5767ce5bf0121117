/**
 * The datapath's runtime configuration (wp_config): the outer source
 * addresses of encapsulated packets and the fallback next-hop MAC. Options
 * are validated here and merged into what the map holds, so setting one
 * leaves the others as they are.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { parseIp } from "../net/ip.js";
import type { ConfigValue } from "./layouts.js";

/** Runtime options of the datapath; each may be changed while it runs. */
export interface DatapathConfig {
  /**
   * Outer IPv4 source of packets to IPv4 backends (IPIP, 6in4). Without one
   * such packets are dropped (`ENCAP_FAILED`). `null` clears it.
   */
  encapSource4?: string | null;
  /** Outer IPv6 source of packets to IPv6 backends (IP6IP6, 4in6). `null` clears it. */
  encapSource6?: string | null;
  /**
   * Next-hop MAC (`02:00:00:00:00:fe`) used when the kernel's FIB cannot
   * answer (forwarding disabled, neighbour unresolved). `null` clears it:
   * such packets are then dropped (`FIB_LOOKUP_FAILED`).
   */
  fallbackMac?: string | null;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/**
 * `current` with the options given in `config` applied.
 *
 * @throws {@link InvalidInputError} naming the option (wrong family, bad MAC).
 */
export function mergeConfig(current: ConfigValue, config: DatapathConfig): ConfigValue {
  const next: ConfigValue = { encapSrcV4: current.encapSrcV4, encapSrcV6: current.encapSrcV6, fallbackMac: current.fallbackMac };
  if (config.encapSource4 !== undefined) next.encapSrcV4 = address(config.encapSource4, "encapSource4", 4);
  if (config.encapSource6 !== undefined) next.encapSrcV6 = address(config.encapSource6, "encapSource6", 6);
  if (config.fallbackMac !== undefined) {
    if (config.fallbackMac === null) next.fallbackMac = new Uint8Array(6);
    else if (typeof config.fallbackMac !== "string" || !MAC.test(config.fallbackMac)) {
      throw new InvalidInputError("fallbackMac", config.fallbackMac, "must be a MAC address such as 02:00:00:00:00:fe");
    } else next.fallbackMac = Uint8Array.from(config.fallbackMac.split(":").map((h) => parseInt(h, 16)));
  }
  return next;
}

function address(value: string | null, field: string, family: 4 | 6): Uint8Array {
  if (value === null) return new Uint8Array(family === 4 ? 4 : 16);
  const ip = typeof value === "string" ? parseIp(value) : undefined;
  if (!ip || ip.family !== family) throw new InvalidInputError(field, value, `must be an IPv${family} address`);
  return ip.bytes;
}
