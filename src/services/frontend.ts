/**
 * Frontends: a service's virtual address, port and protocol, validated and
 * written canonically so that the manifest and the conflict check do not
 * depend on how an address was spelled (`FD00::A` and `fd00::a` are one VIP).
 *
 * @module
 */
import { BACKEND_PROTOCOLS, InvalidInputError, type BackendProtocol } from "../index.js";
import { formatIp, parseIp } from "../net/ip.js";
import type { Frontend } from "./model.js";

/** Validates a frontend; errors name `frontend.<field>` like the library names backend fields. */
export function resolveFrontend(input: { address: string; port: number; protocol: string }): Frontend {
  const ip = parseIp(input.address);
  if (!ip) throw new InvalidInputError("frontend.address", input.address, "is not a valid IPv4 or IPv6 address");
  if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) {
    throw new InvalidInputError("frontend.port", input.port, "must be an integer from 0 to 65535");
  }
  const protocol = input.protocol.toUpperCase();
  if (!(BACKEND_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new InvalidInputError("frontend.protocol", input.protocol, `must be one of ${BACKEND_PROTOCOLS.join(", ")}`);
  }
  return { address: formatIp(ip), port: input.port, protocol: protocol as BackendProtocol };
}

/** `10.96.0.10:80/TCP`, `[fd00::a]:53/UDP`: how messages and the demo print a frontend. */
export function formatFrontend(frontend: Frontend): string {
  const host = frontend.address.includes(":") ? `[${frontend.address}]` : frontend.address;
  return `${host}:${frontend.port}/${frontend.protocol}`;
}
