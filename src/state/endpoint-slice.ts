/**
 * `EndpointSlice` objects (discovery.k8s.io/v1) as `kubectl get
 * endpointslices -o yaml` writes them: which addresses serve a Service, on
 * which ports, and in which condition.
 *
 * Conditions follow the API's reading of a missing value: `ready` absent
 * means ready; `serving` absent means the same as `ready`; `terminating`
 * absent means not terminating.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { SERVICE_NAME_LABEL } from "./annotations.js";
import {
  integer, ipText, list, mapping, metadataOf, optionalBoolean, optionalString, portName, protocol, stringMap,
  type L4Protocol, type Obj,
} from "./fields.js";

/** One entry of `ports`: the resolved target port of a Service port, by name. */
export interface SlicePort {
  /** The Service port's name (absent for a single unnamed port). */
  readonly name: string | undefined;
  /** L4 protocol, default TCP. */
  readonly protocol: L4Protocol;
  /** The port the endpoints serve on, 1 to 65535; absent means "all ports" in the API and gives no backends here. */
  readonly port: number | undefined;
}

/** One entry of `endpoints`. */
export interface SliceEndpoint {
  /** `addresses`, canonical text (the API allows one; more are accepted). */
  readonly addresses: readonly string[];
  /** `conditions.ready` (absent: true). */
  readonly ready: boolean;
  /** `conditions.serving` (absent: as `ready`). */
  readonly serving: boolean;
  /** `conditions.terminating` (absent: false). */
  readonly terminating: boolean;
  /** `nodeName`, when set. */
  readonly nodeName: string | undefined;
  /** `targetRef` when it names a Pod: `namespace/name`. */
  readonly pod: string | undefined;
}

/** An EndpointSlice, validated. */
export interface EndpointSliceObject {
  /** Always `EndpointSlice`. */
  readonly kind: "EndpointSlice";
  /** The document it came from (load.ts `source`, with `.items[i]` inside a `List`). */
  readonly source: string;
  /** `metadata.namespace`. */
  readonly namespace: string;
  /** `metadata.name`. */
  readonly name: string;
  /** The `kubernetes.io/service-name` label: the Service it belongs to (same namespace). */
  readonly service: string | undefined;
  /** `addressType`: `IPv4`, `IPv6` or `FQDN` (FQDN slices give no backends). */
  readonly addressType: "IPv4" | "IPv6" | "FQDN";
  /** `ports`. */
  readonly ports: readonly SlicePort[];
  /** `endpoints`. */
  readonly endpoints: readonly SliceEndpoint[];
}

function readEndpoint(value: unknown, i: number, addressType: EndpointSliceObject["addressType"], namespace: string): SliceEndpoint {
  const field = `endpoints[${i}]`;
  const e = mapping(value, field);
  const raw = list(e.addresses, `${field}.addresses`);
  const addresses: string[] = [];
  if (addressType !== "FQDN") {
    raw.forEach((a, j) => {
      const text = ipText(a, `${field}.addresses[${j}]`);
      const family = text.includes(":") ? "IPv6" : "IPv4";
      if (family !== addressType) throw new InvalidInputError(`${field}.addresses[${j}]`, a, `is not an ${addressType} address (addressType)`);
      if (!addresses.includes(text)) addresses.push(text);
    });
  }
  const c = mapping(e.conditions, `${field}.conditions`);
  const ready = optionalBoolean(c.ready, `${field}.conditions.ready`) ?? true;
  const serving = optionalBoolean(c.serving, `${field}.conditions.serving`) ?? ready;
  const terminating = optionalBoolean(c.terminating, `${field}.conditions.terminating`) ?? false;
  const ref = mapping(e.targetRef, `${field}.targetRef`);
  let pod: string | undefined;
  if (ref.kind === "Pod" && typeof ref.name === "string") {
    pod = `${optionalString(ref.namespace, `${field}.targetRef.namespace`) ?? namespace}/${ref.name}`;
  }
  return { addresses, ready, serving, terminating, nodeName: optionalString(e.nodeName, `${field}.nodeName`), pod };
}

/**
 * Reads one EndpointSlice.
 * @throws InvalidInputError naming the field inside the object
 */
export function readEndpointSlice(obj: Obj, source: string): EndpointSliceObject {
  const { name, namespace, meta } = metadataOf(obj, true);
  const labels = stringMap(meta.labels, "metadata.labels");
  const addressType = obj.addressType;
  if (addressType !== "IPv4" && addressType !== "IPv6" && addressType !== "FQDN") {
    throw new InvalidInputError("addressType", addressType, "must be IPv4, IPv6 or FQDN");
  }
  const ports = list(obj.ports, "ports").map((value, i): SlicePort => {
    const p = mapping(value, `ports[${i}]`);
    const port = p.port === undefined || p.port === null ? undefined : integer(p.port, `ports[${i}].port`, 1, 65535);
    return { name: portName(p.name, `ports[${i}].name`), protocol: protocol(p.protocol, `ports[${i}].protocol`), port };
  });
  const endpoints = list(obj.endpoints, "endpoints").map((e, i) => readEndpoint(e, i, addressType, namespace!));
  return { kind: "EndpointSlice", source, namespace: namespace!, name, service: labels[SERVICE_NAME_LABEL], addressType, ports, endpoints };
}
