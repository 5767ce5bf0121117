/**
 * `Service` objects (core/v1) as `kubectl get services -o yaml` writes them:
 * the fields load balancing needs, validated. Everything else (selector,
 * ipFamilies, status conditions, ...) is ignored.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { MAX_AFFINITY_TIMEOUT_SECONDS } from "../lb/services.js";
import { ANNOTATIONS } from "./annotations.js";
import {
  integer, ipText, list, mapping, metadataOf, optionalString, portName, protocol, type L4Protocol, type Obj,
} from "./fields.js";

/** Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/** Service types of the API. */
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

/** One entry of `spec.ports`. */
export interface ServicePortSpec {
  /** `name`; required by the API when a service has more than one port, absent otherwise. */
  readonly name: string | undefined;
  /** L4 protocol, default TCP. */
  readonly protocol: L4Protocol;
  /** The service port, 1 to 65535. */
  readonly port: number;
  /** `targetPort`: a number, a container port name, or (absent) the same as `port`. */
  readonly targetPort: number | string;
  /** `nodePort` (NodePort and LoadBalancer services), 1 to 65535. */
  readonly nodePort: number | undefined;
}

/** A Service, validated. Addresses are canonical text. */
export interface ServiceObject {
  /** Always `Service`. */
  readonly kind: "Service";
  /** The document it came from (load.ts `source`, with `.items[i]` inside a `List`). */
  readonly source: string;
  /** `metadata.namespace`. */
  readonly namespace: string;
  /** `metadata.name`. */
  readonly name: string;
  /** `spec.type`, default ClusterIP. */
  readonly type: ServiceType;
  /** `spec.clusterIPs` (or `spec.clusterIP`): empty for a headless (`None`) or ExternalName service. */
  readonly clusterIPs: readonly string[];
  /** `spec.externalIPs`. */
  readonly externalIPs: readonly string[];
  /** `status.loadBalancer.ingress[].ip` (entries with only a hostname are skipped). */
  readonly loadBalancerIPs: readonly string[];
  /** `spec.ports`. */
  readonly ports: readonly ServicePortSpec[];
  /** Seconds of ClientIP session affinity; 0 without (`sessionAffinity: None`). */
  readonly affinityTimeoutSeconds: number;
  /** `spec.externalTrafficPolicy`: `Local` keeps NodePort, LoadBalancer and external IP traffic on this node's endpoints. */
  readonly externalTrafficPolicy: "Cluster" | "Local";
  /** `spec.internalTrafficPolicy`: `Local` keeps ClusterIP traffic on this node's endpoints. */
  readonly internalTrafficPolicy: "Cluster" | "Local";
  /** The `wasmplane.io/lb-algorithm` annotation, when set. */
  readonly algorithm: "maglev" | "random" | undefined;
}

const TYPES = new Set<ServiceType>(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]);

/** Reads an annotation value as text: Kubernetes annotations are strings, YAML may hand a number. */
export function annotationText(annotations: Obj, name: string, field: string): string | undefined {
  const value = annotations[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new InvalidInputError(`${field}["${name}"]`, value, "must be a string");
}

/** The `wasmplane.io/lb-algorithm` annotation of `meta`, checked. */
export function algorithmAnnotation(meta: Obj): "maglev" | "random" | undefined {
  const field = "metadata.annotations";
  const value = annotationText(mapping(meta.annotations, field), ANNOTATIONS.algorithm, field);
  if (value === undefined) return undefined;
  if (value !== "maglev" && value !== "random") {
    throw new InvalidInputError(`${field}["${ANNOTATIONS.algorithm}"]`, value, "must be maglev or random");
  }
  return value;
}

function addresses(values: unknown[], field: string): string[] {
  const out: string[] = [];
  values.forEach((v, i) => {
    const text = ipText(v, `${field}[${i}]`);
    if (!out.includes(text)) out.push(text);
  });
  return out;
}

function clusterIps(spec: Obj): string[] {
  const ips = spec.clusterIPs;
  if (ips !== undefined && ips !== null) {
    const values = list(ips, "spec.clusterIPs");
    if (values.length === 1 && (values[0] === "None" || values[0] === "")) return [];
    return addresses(values, "spec.clusterIPs");
  }
  const ip = spec.clusterIP;
  if (ip === undefined || ip === null || ip === "" || ip === "None") return [];
  return [ipText(ip, "spec.clusterIP")];
}

function readPort(value: unknown, i: number, type: ServiceType): ServicePortSpec {
  const field = `spec.ports[${i}]`;
  const p = mapping(value, field);
  const port = integer(p.port, `${field}.port`, 1, 65535);
  let targetPort: number | string = port;
  if (typeof p.targetPort === "number") targetPort = integer(p.targetPort, `${field}.targetPort`, 1, 65535);
  else if (typeof p.targetPort === "string" && /^[0-9]+$/.test(p.targetPort)) targetPort = integer(Number(p.targetPort), `${field}.targetPort`, 1, 65535);
  else if (p.targetPort !== undefined && p.targetPort !== null) targetPort = portName(p.targetPort, `${field}.targetPort`) ?? port;
  let nodePort: number | undefined;
  if (p.nodePort !== undefined && p.nodePort !== null && (type === "NodePort" || type === "LoadBalancer")) {
    nodePort = integer(p.nodePort, `${field}.nodePort`, 1, 65535);
  }
  return { name: portName(p.name, `${field}.name`), protocol: protocol(p.protocol, `${field}.protocol`), port, targetPort, nodePort };
}

function affinity(spec: Obj): number {
  const mode = spec.sessionAffinity ?? "None";
  if (mode === "None") return 0;
  if (mode !== "ClientIP") throw new InvalidInputError("spec.sessionAffinity", mode, "must be None or ClientIP");
  const config = mapping(mapping(spec.sessionAffinityConfig, "spec.sessionAffinityConfig").clientIP, "spec.sessionAffinityConfig.clientIP");
  const timeout = config.timeoutSeconds;
  if (timeout === undefined || timeout === null) return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  return integer(timeout, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 1, MAX_AFFINITY_TIMEOUT_SECONDS);
}

function trafficPolicy(value: unknown, field: string): "Cluster" | "Local" {
  if (value === undefined || value === null) return "Cluster";
  if (value !== "Cluster" && value !== "Local") throw new InvalidInputError(field, value, "must be Cluster or Local");
  return value;
}

/**
 * Reads one Service.
 * @throws InvalidInputError naming the field inside the object
 */
export function readService(obj: Obj, source: string): ServiceObject {
  const { name, namespace, meta } = metadataOf(obj, true);
  const spec = mapping(obj.spec, "spec");
  const type = (spec.type ?? "ClusterIP") as ServiceType;
  if (!TYPES.has(type)) throw new InvalidInputError("spec.type", spec.type, "must be ClusterIP, NodePort, LoadBalancer or ExternalName");
  const ports = list(spec.ports, "spec.ports").map((p, i) => readPort(p, i, type));
  if (name.length > 63) throw new InvalidInputError("metadata.name", name, "must be at most 63 characters (a Service name is a DNS label)");
  const seen = new Map<string, number>();
  const names = new Map<string, number>();
  ports.forEach((p, i) => {
    if (ports.length > 1 && p.name === undefined) throw new InvalidInputError(`spec.ports[${i}].name`, p.name, "is required when a Service has more than one port");
    if (p.name !== undefined) {
      const same = names.get(p.name);
      if (same !== undefined) throw new InvalidInputError(`spec.ports[${i}].name`, p.name, `repeats spec.ports[${same}].name`);
      names.set(p.name, i);
    }
    const key = `${p.port}/${p.protocol}`;
    const other = seen.get(key);
    if (other !== undefined) throw new InvalidInputError(`spec.ports[${i}]`, key, `repeats spec.ports[${other}]`);
    seen.set(key, i);
  });
  const status = mapping(obj.status, "status");
  const ingress = list(mapping(status.loadBalancer, "status.loadBalancer").ingress, "status.loadBalancer.ingress");
  const lbIps: string[] = [];
  ingress.forEach((entry, i) => {
    const e = mapping(entry, `status.loadBalancer.ingress[${i}]`);
    if (e.ip === undefined || e.ip === null) return; // a hostname-only ingress (cloud DNS name): nothing to serve
    const ip = ipText(e.ip, `status.loadBalancer.ingress[${i}].ip`);
    if (!lbIps.includes(ip)) lbIps.push(ip);
  });
  optionalString(spec.externalName, "spec.externalName");
  const external = type === "ExternalName";
  return {
    kind: "Service",
    source,
    namespace: namespace!,
    name,
    type,
    clusterIPs: external ? [] : clusterIps(spec),
    externalIPs: external ? [] : addresses(list(spec.externalIPs, "spec.externalIPs"), "spec.externalIPs"),
    loadBalancerIPs: type === "LoadBalancer" ? lbIps : [],
    ports,
    affinityTimeoutSeconds: affinity(spec),
    externalTrafficPolicy: trafficPolicy(spec.externalTrafficPolicy, "spec.externalTrafficPolicy"),
    internalTrafficPolicy: trafficPolicy(spec.internalTrafficPolicy, "spec.internalTrafficPolicy"),
    algorithm: algorithmAnnotation(meta),
  };
}
