/**
 * Kubernetes-style objects as the cluster view reads them: `Namespace` and
 * `Pod` here, policies through src/policy/parse. Objects arrive one at a
 * time, as arrays, or inside `List`s, exactly as `kubectl get -o yaml`
 * writes them; only the fields the policy model needs are read, the rest is
 * ignored, as kubectl output carries much more.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { parseIp, formatIp } from "../net/ip.js";

/** A namespace: its name and labels. */
export interface NamespaceObject {
  readonly kind: "Namespace";
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A container port a pod declares by name. */
export interface NamedPort {
  readonly name: string;
  readonly protocol: "TCP" | "UDP" | "SCTP";
  readonly port: number;
}

/** A pod: what identity and ipcache need. */
export interface PodObject {
  readonly kind: "Pod";
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Canonical addresses from `status.podIP` / `status.podIPs`. */
  readonly ips: readonly string[];
  readonly namedPorts: readonly NamedPort[];
  readonly serviceAccount: string | undefined;
  readonly nodeName: string | undefined;
}

/** A policy object, kept raw: the policy parser validates it. */
export interface PolicyObject {
  readonly kind: "NetworkPolicy" | "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy";
  readonly namespace: string | undefined;
  readonly name: string;
  readonly raw: unknown;
}

/** Any object the cluster view understands. */
export type ClusterObject = NamespaceObject | PodObject | PolicyObject;

/** An object of a kind the cluster view does not use (Service, ConfigMap, ...). */
export interface IgnoredObject {
  /** The object's `kind`, as written (`Service`, `ConfigMap`, ...). */
  readonly kind: string;
  /** The object's `metadata.name`, or `?` when it has none. */
  readonly name: string;
}

const POLICY_KINDS = new Set(["NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Flattens objects, arrays and `List`s into single objects, each with the path it came from. */
export function flattenObjects(input: unknown, path = "objects"): Array<{ value: unknown; path: string }> {
  if (Array.isArray(input)) return input.flatMap((v, i) => flattenObjects(v, `${path}[${i}]`));
  if (isObj(input) && typeof input.kind === "string" && input.kind.endsWith("List") && Array.isArray(input.items)) {
    return input.items.flatMap((v, i) => flattenObjects(v, `${path}.items[${i}]`));
  }
  return [{ value: input, path }];
}

function labelsOf(meta: Obj, path: string): Record<string, string> {
  const labels = meta.labels ?? {};
  if (!isObj(labels)) throw new InvalidInputError(`${path}.metadata.labels`, labels, "must be a map of strings");
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== "string") throw new InvalidInputError(`${path}.metadata.labels.${k}`, v, "must be a string");
  }
  return labels as Record<string, string>;
}

function metaOf(obj: Obj, path: string, namespaced: boolean): { name: string; namespace: string | undefined; meta: Obj } {
  const meta = obj.metadata;
  if (!isObj(meta)) throw new InvalidInputError(`${path}.metadata`, meta, "must be an object with a name");
  const name = meta.name;
  if (typeof name !== "string" || !NAME.test(name)) throw new InvalidInputError(`${path}.metadata.name`, name, "must be a DNS subdomain name");
  let namespace: string | undefined;
  if (namespaced) {
    namespace = meta.namespace === undefined ? "default" : (meta.namespace as string);
    if (typeof namespace !== "string" || !NAME.test(namespace)) {
      throw new InvalidInputError(`${path}.metadata.namespace`, meta.namespace, "must be a namespace name");
    }
  }
  return { name, namespace, meta };
}

function podIps(status: Obj, path: string): string[] {
  const texts: string[] = [];
  if (typeof status.podIP === "string" && status.podIP) texts.push(status.podIP);
  if (Array.isArray(status.podIPs)) {
    status.podIPs.forEach((entry, i) => {
      const ip = isObj(entry) ? entry.ip : undefined;
      if (typeof ip !== "string") throw new InvalidInputError(`${path}.status.podIPs[${i}].ip`, ip, "must be an IP address");
      texts.push(ip);
    });
  }
  const out = new Set<string>();
  for (const text of texts) {
    const ip = parseIp(text);
    if (!ip) throw new InvalidInputError(`${path}.status.podIP`, text, "is not a valid IP address");
    out.add(formatIp(ip));
  }
  return [...out];
}

function namedPorts(spec: Obj, path: string): NamedPort[] {
  const out: NamedPort[] = [];
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  containers.forEach((c, ci) => {
    if (!isObj(c) || !Array.isArray(c.ports)) return;
    c.ports.forEach((p, pi) => {
      const at = `${path}.spec.containers[${ci}].ports[${pi}]`;
      if (!isObj(p)) throw new InvalidInputError(at, p, "must be an object");
      const port = p.containerPort;
      if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
        throw new InvalidInputError(`${at}.containerPort`, port, "must be an integer from 1 to 65535");
      }
      const protocol = p.protocol ?? "TCP";
      if (protocol !== "TCP" && protocol !== "UDP" && protocol !== "SCTP") {
        throw new InvalidInputError(`${at}.protocol`, protocol, "must be TCP, UDP or SCTP");
      }
      if (p.name === undefined) return;
      if (typeof p.name !== "string" || !/^[a-z0-9-]{1,15}$/.test(p.name)) {
        throw new InvalidInputError(`${at}.name`, p.name, "must be an IANA service name");
      }
      out.push({ name: p.name, protocol, port: port as number });
    });
  });
  return out;
}

/**
 * Reads one object. Returns `undefined` for kinds the cluster view ignores.
 * @throws InvalidInputError naming `path` and the field
 */
export function readObject(value: unknown, path: string): ClusterObject | IgnoredObject {
  if (!isObj(value)) throw new InvalidInputError(path, value, "must be a Kubernetes object");
  const kind = value.kind;
  if (typeof kind !== "string") throw new InvalidInputError(`${path}.kind`, kind, "must be a kind name");
  if (kind === "Namespace") {
    const { name, meta } = metaOf(value, path, false);
    return { kind, name, labels: labelsOf(meta, path) };
  }
  if (kind === "Pod") {
    const { name, namespace, meta } = metaOf(value, path, true);
    const spec = isObj(value.spec) ? value.spec : {};
    const status = isObj(value.status) ? value.status : {};
    return {
      kind,
      name,
      namespace: namespace!,
      labels: labelsOf(meta, path),
      ips: podIps(status, path),
      namedPorts: namedPorts(spec, path),
      serviceAccount: typeof spec.serviceAccountName === "string" ? spec.serviceAccountName : undefined,
      nodeName: typeof spec.nodeName === "string" ? spec.nodeName : undefined,
    };
  }
  if (POLICY_KINDS.has(kind)) {
    const namespaced = kind !== "CiliumClusterwideNetworkPolicy";
    const { name, namespace } = metaOf(value, path, namespaced);
    return { kind: kind as PolicyObject["kind"], name, namespace, raw: value };
  }
  const meta = isObj(value.metadata) ? value.metadata : {};
  return { kind, name: typeof meta.name === "string" ? meta.name : "?" };
}

/** The store key of an object: kind, namespace and name. */
export function objectKey(obj: ClusterObject): string {
  return obj.kind === "Namespace" ? `Namespace/${obj.name}` : `${obj.kind}/${obj.namespace ?? ""}/${obj.name}`;
}
