/**
 * Ports: Cilium `toPorts` and `icmps`, and Kubernetes NetworkPolicy `ports`,
 * parsed into {@link PortMatch}es.
 *
 * Cilium port strings (pkg/policy/api/rule_validation.go, pkg/iana): an IANA
 * service name (letters, digits and single inner dashes, at least one
 * letter, at most 15 characters; compared lower-cased) is a named port;
 * anything else must be a number 0-65535, 0 meaning every port. Cilium parses
 * numbers with Go's base prefixes, so `010` would be octal 8: wasmplane
 * rejects leading zeros instead of guessing. `endPort` (0 = none) makes a
 * range and needs a non-zero numeric port.
 *
 * L7 rules are checked the way Cilium's `PortRule.Validate` checks them: no
 * DNS rules on ingress, L7 (other than DNS) only on TCP ports, never with
 * port 0, DNS rules need listed ports and no ranges.
 *
 * @module
 */
import type { PortMatch, PortProtocol } from "../model.js";
import { at, checkFields, expectObj, invalid, item, member, optionalList, optionalObj, type Obj } from "./fields.js";
import { parseL7Rules, type L7Summary } from "./l7.js";

/** Cilium's limit on ports per port rule and on ICMP fields per ICMP rule. */
export const MAX_PORTS = 40;

/** The ports of one `toPorts` entry and whether they go through the proxy. */
export interface PortGroup {
  readonly proxy: boolean;
  readonly ports: readonly PortMatch[];
}

const SVC_NAME = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

/** Cilium's `iana.IsSvcName`: at most 15 characters, alphanumeric with single inner dashes, one letter at least. */
export function isIanaServiceName(text: string): boolean {
  return text.length > 0 && text.length <= 15 && SVC_NAME.test(text) && /[A-Za-z]/.test(text);
}

/** Kubernetes' `IsValidPortName`: an IANA service name in lower case. */
export function isK8sPortName(text: string): boolean {
  return isIanaServiceName(text) && text === text.toLowerCase();
}

interface ParsedPort {
  readonly match: PortMatch;
  readonly portPath: string;
  readonly protocolPath: string;
  readonly isZero: boolean;
  readonly isRange: boolean;
}

const L4_PROTOCOLS: readonly PortProtocol[] = ["TCP", "UDP", "SCTP", "ANY"];

function parsePortProtocol(raw: unknown, path: string): ParsedPort {
  const obj = expectObj(raw, path, 'a port ({port: "80", protocol: TCP})');
  checkFields(obj, path, { supported: ["port", "endPort", "protocol"] });
  const portPath = at(path, "port");
  const protocolPath = at(path, "protocol");

  const rawProtocol = member(obj, "protocol") ?? "";
  if (typeof rawProtocol !== "string") throw invalid(protocolPath, rawProtocol, "must be a string");
  // Cilium's ParseL4Proto: case-insensitive, empty means ANY.
  const upper = rawProtocol === "" ? "ANY" : rawProtocol.toUpperCase();
  if (!L4_PROTOCOLS.includes(upper as PortProtocol)) {
    const hint = upper === "ICMP" || upper === "ICMPV6" ? " (use icmps for ICMP types)" : "";
    throw invalid(protocolPath, rawProtocol, `must be TCP, UDP, SCTP or ANY${hint}`);
  }
  const protocol = upper as PortProtocol;

  const port = member(obj, "port");
  if (port === undefined) throw invalid(portPath, undefined, 'is required (a number such as "80", "0" for every port, or a port name)');
  if (typeof port !== "string") {
    throw invalid(portPath, port, typeof port === "number" ? `must be a string: write "${port}"` : "must be a string");
  }

  const rawEnd = member(obj, "endPort");
  const endPath = at(path, "endPort");
  let endPort: number | undefined;
  if (rawEnd !== undefined) {
    if (typeof rawEnd !== "number" || !Number.isInteger(rawEnd) || rawEnd < 0 || rawEnd > 65535) {
      throw invalid(endPath, rawEnd, "must be a whole number from 0 to 65535");
    }
    // Go's omitempty: endPort 0 is no range.
    if (rawEnd !== 0) endPort = rawEnd;
  }

  if (isIanaServiceName(port)) {
    if (endPort !== undefined) throw invalid(endPath, rawEnd, "may only be used with a numeric port, not a named one");
    const name = port.toLowerCase();
    return { match: { protocol, port: 0, endPort: 0, name }, portPath, protocolPath, isZero: false, isRange: false };
  }
  if (/^0[0-9]+$/.test(port)) {
    throw invalid(portPath, port, "must not have leading zeros (Cilium would read the number as octal)");
  }
  if (!/^(0|[1-9][0-9]{0,4})$/.test(port) || Number(port) > 65535) {
    throw invalid(portPath, port, "must be a port number from 0 to 65535 (0 for every port) or a port name (letters, digits and '-', at most 15 characters, at least one letter)");
  }
  const number = Number(port);
  if (endPort !== undefined) {
    if (number === 0) throw invalid(endPath, rawEnd, "needs a non-zero port to start the range");
    if (endPort < number) throw invalid(endPath, rawEnd, `must be at least port (${number})`);
  }
  return {
    match: { protocol, port: number, endPort: endPort ?? number },
    portPath,
    protocolPath,
    isZero: number === 0,
    isRange: endPort !== undefined && endPort > number,
  };
}

/** Options of a `toPorts` list: its direction, and whether it is in a deny section. */
export interface PortRuleContext {
  readonly ingress: boolean;
  readonly deny: boolean;
}

const TLS_REASON = "TLS interception is an L7 proxy feature wasmplane does not model";

function parsePortRule(raw: unknown, path: string, ctx: PortRuleContext): PortGroup {
  const obj = expectObj(raw, path, "a port rule ({ports: [...], rules: {...}})");
  if (ctx.deny) {
    if ("rules" in obj) {
      throw invalid(at(path, "rules"), obj["rules"], "deny rules cannot have L7 rules (Cilium rejects L7 rules in ingressDeny and egressDeny)");
    }
    checkFields(obj, path, { supported: ["ports"] });
  } else {
    checkFields(obj, path, {
      supported: ["ports", "rules"],
      unsupported: {
        terminatingTLS: TLS_REASON,
        originatingTLS: TLS_REASON,
        serverNames: "TLS server-name (SNI) rules are not supported by wasmplane",
        listener: "Envoy listener redirects are not supported by wasmplane",
      },
    });
  }

  const portsPath = at(path, "ports");
  const list = optionalList(obj, "ports", path) ?? [];
  if (list.length > MAX_PORTS) throw invalid(portsPath, list, `may list at most ${MAX_PORTS} ports (Cilium's limit)`);
  const ports = list.map((entry, index) => parsePortProtocol(entry, item(portsPath, index)));

  const rulesObj = ctx.deny ? undefined : optionalObj(obj, "rules", path, "an L7 rules object (http, kafka, dns or l7proto/l7)");
  const rulesPath = at(path, "rules");
  const l7: L7Summary = rulesObj ? parseL7Rules(rulesObj, rulesPath) : { proxy: false, dnsPresent: false, dnsRules: 0 };

  if (ctx.ingress && l7.dnsRules > 0) {
    throw invalid(at(rulesPath, "dns"), (rulesObj as Obj)["dns"], "DNS rules are not allowed on ingress");
  }
  const hasDnsRules = l7.dnsRules > 0;
  for (const p of ports) {
    if (hasDnsRules && p.isRange) throw invalid(p.portPath, p.match.port, "DNS rules do not support port ranges");
    if (l7.proxy && !hasDnsRules && p.match.protocol !== "TCP") {
      throw invalid(p.protocolPath, p.match.protocol, "L7 rules other than DNS apply only to TCP: set protocol: TCP");
    }
  }
  if (l7.proxy) {
    const zero = ports.find((p) => p.isZero);
    if (zero) throw invalid(zero.portPath, "0", "L7 rules cannot be used with port 0");
    if (l7.dnsPresent && ports.length === 0) {
      throw invalid(portsPath, obj["ports"], "DNS rules need the ports listed (usually port 53)");
    }
  }
  return { proxy: l7.proxy, ports: ports.map((p) => p.match) };
}

/** Parses a Cilium `toPorts` list: one group per entry. */
export function parseToPorts(list: readonly unknown[], path: string, ctx: PortRuleContext): PortGroup[] {
  return list.map((entry, index) => parsePortRule(entry, item(path, index), ctx));
}

/** ICMP type names Cilium accepts (pkg/policy/api/icmp.go). */
const ICMP_V4_TYPES: Readonly<Record<string, number>> = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Redirect: 5,
  Echo: 8,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSelection: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
  Photuris: 40,
  ExtendedEchoRequest: 42,
  ExtendedEchoReply: 43,
};

const ICMP_V6_TYPES: Readonly<Record<string, number>> = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MulticastListenerQuery: 130,
  MulticastListenerReport: 131,
  MulticastListenerDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  RedirectMessage: 137,
  RouterRenumbering: 138,
  ICMPNodeInformationQuery: 139,
  ICMPNodeInformationResponse: 140,
  InverseNeighborDiscoverySolicitation: 141,
  InverseNeighborDiscoveryAdvertisement: 142,
  HomeAgentAddressDiscoveryRequest: 144,
  HomeAgentAddressDiscoveryReply: 145,
  MobilePrefixSolicitation: 146,
  MobilePrefixAdvertisement: 147,
  DuplicateAddressRequestCodeSuffix: 157,
  DuplicateAddressConfirmationCodeSuffix: 158,
  ExtendedEchoRequest: 160,
  ExtendedEchoReply: 161,
};

function parseIcmpField(raw: unknown, path: string): PortMatch {
  const obj = expectObj(raw, path, "an ICMP field ({type, family})");
  checkFields(obj, path, { supported: ["type", "family"] });
  const family = member(obj, "family") ?? "";
  if (family !== "" && family !== "IPv4" && family !== "IPv6") {
    throw invalid(at(path, "family"), family, "must be IPv4 or IPv6");
  }
  const v6 = family === "IPv6";
  const protocol: PortProtocol = v6 ? "ICMPv6" : "ICMP";
  const typePath = at(path, "type");
  const type = member(obj, "type");
  if (type === undefined) throw invalid(typePath, undefined, "is required (a number 0-255 or a type name such as EchoRequest)");
  let code: number | undefined;
  if (typeof type === "number") {
    if (Number.isInteger(type) && type >= 0 && type <= 255) code = type;
  } else if (typeof type === "string") {
    if (/^(0|[1-9][0-9]{0,2})$/.test(type) && Number(type) <= 255) code = Number(type);
    else code = (v6 ? ICMP_V6_TYPES : ICMP_V4_TYPES)[type];
    if (code === undefined && /^[A-Za-z]+$/.test(type)) {
      const names = Object.keys(v6 ? ICMP_V6_TYPES : ICMP_V4_TYPES).join(", ");
      throw invalid(typePath, type, `is not an ICMP${v6 ? "v6" : ""} type name (known: ${names})`);
    }
  }
  if (code === undefined) throw invalid(typePath, type, "must be an ICMP type number from 0 to 255 or a type name such as EchoRequest");
  return { protocol, port: code, endPort: code };
}

/** Parses a Cilium `icmps` list into ICMP/ICMPv6 matches (type as port). */
export function parseIcmps(list: readonly unknown[], path: string): PortMatch[] {
  const out: PortMatch[] = [];
  list.forEach((entry, index) => {
    const rulePath = item(path, index);
    const obj = expectObj(entry, rulePath, "an ICMP rule ({fields: [...]})");
    checkFields(obj, rulePath, { supported: ["fields"] });
    const fieldsPath = at(rulePath, "fields");
    const fields = optionalList(obj, "fields", rulePath) ?? [];
    if (fields.length > MAX_PORTS) throw invalid(fieldsPath, fields, `may list at most ${MAX_PORTS} types (Cilium's limit)`);
    fields.forEach((field, i) => out.push(parseIcmpField(field, item(fieldsPath, i))));
  });
  return out;
}

/**
 * Parses a Kubernetes NetworkPolicy `ports` list (API validation rules:
 * protocol TCP, UDP or SCTP, default TCP; port 1-65535 or a port name;
 * absent port is every port; endPort only after a numeric port).
 */
export function parseK8sPorts(list: readonly unknown[], path: string): PortMatch[] {
  return list.map((entry, index) => {
    const entryPath = item(path, index);
    const obj = expectObj(entry, entryPath, "a port ({protocol, port, endPort})");
    checkFields(obj, entryPath, { supported: ["protocol", "port", "endPort"] });
    const rawProtocol = member(obj, "protocol") ?? "TCP";
    if (rawProtocol !== "TCP" && rawProtocol !== "UDP" && rawProtocol !== "SCTP") {
      throw invalid(at(entryPath, "protocol"), rawProtocol, "must be TCP, UDP or SCTP");
    }
    const protocol = rawProtocol as PortProtocol;
    const port = member(obj, "port");
    const endPath = at(entryPath, "endPort");
    const rawEnd = member(obj, "endPort");
    let start: number | undefined;
    let name: string | undefined;
    if (typeof port === "number") {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw invalid(at(entryPath, "port"), port, "must be a port number from 1 to 65535 or a port name");
      }
      start = port;
    } else if (typeof port === "string") {
      if (!isK8sPortName(port)) {
        throw invalid(at(entryPath, "port"), port, "must be a port number from 1 to 65535 or a port name (lower-case letters, digits and '-', at most 15 characters, at least one letter)");
      }
      name = port;
    } else if (port !== undefined) {
      throw invalid(at(entryPath, "port"), port, "must be a port number or a port name");
    }
    if (rawEnd !== undefined) {
      if (start === undefined) throw invalid(endPath, rawEnd, "may only be used with a numeric port");
      if (typeof rawEnd !== "number" || !Number.isInteger(rawEnd) || rawEnd > 65535) {
        throw invalid(endPath, rawEnd, "must be a whole number up to 65535");
      }
      if (rawEnd < start) throw invalid(endPath, rawEnd, `must be at least port (${start})`);
    }
    if (name !== undefined) return { protocol, port: 0, endPort: 0, name };
    if (start === undefined) return { protocol, port: 0, endPort: 0 };
    return { protocol, port: start, endPort: typeof rawEnd === "number" ? rawEnd : start };
  });
}
