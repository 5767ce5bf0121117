/**
 * The state model: documents read by load.ts in, validated objects of every
 * kind wasmplane uses out, in an order that does not depend on the files.
 *
 * Each object is checked on its own. An invalid one is left out and
 * recorded as an {@link InvalidInputError} naming the file (the document's
 * `source`, with `.items[i]` inside a `List`), the object (`Service
 * shop/web`) and the field (`spec.ports[0].port`); the rest still applies.
 * Namespace, Pod and the three policy kinds are read by src/cluster and the
 * policy parser, exactly as the cluster view will read them.
 *
 * Determinism: every list is sorted by kind, namespace and name (code-point
 * order), so moving objects between files or reordering them changes
 * nothing. An object defined twice with different content is ambiguous
 * (which one wins would depend on the order): every copy is rejected.
 * Identical copies count as one.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError, type WasmplaneError } from "../errors.js";
import { flattenObjects, readObject, type PodObject } from "../cluster/objects.js";
import { parsePolicyObject } from "../policy/parse/index.js";
import { ANNOTATIONS } from "./annotations.js";
import { readEndpointSlice, type EndpointSliceObject } from "./endpoint-slice.js";
import { byText, integer, isObj, mapping, type Obj } from "./fields.js";
import { readNode, type NodeObject } from "./node.js";
import { annotationText, readService, type ServiceObject } from "./service.js";

/** Kinds the cluster view (src/cluster) reads. */
const CLUSTER_KINDS = new Set(["Namespace", "Pod", "NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]);
const CLUSTER_SCOPED = new Set(["Namespace", "Node", "CiliumClusterwideNetworkPolicy"]);

/** One parsed document and where it came from (what `loadState` returns). */
export interface StateInput {
  /** The file, or `file#2` for the third document of a multi-document file. */
  readonly source: string;
  /** The document's value: an object, a `List` or an array of objects. */
  readonly value: unknown;
}

/** Where an object came from and what it is. */
export interface StateObjectRef {
  /** `kind` as written. */
  readonly kind: string;
  /** `metadata.namespace` (default `default`) for namespaced kinds. */
  readonly namespace: string | undefined;
  /** `metadata.name`, or `?` when missing. */
  readonly name: string;
  /** The document it came from (load.ts `source`), with `.items[i]` inside a `List`. */
  readonly source: string;
}

/** A Namespace, Pod or policy object for the cluster view, validated and kept as written. */
export interface ClusterStateObject extends StateObjectRef {
  /** The object as parsed from its file. */
  readonly value: unknown;
}

/** A pod, as far as load balancing is concerned. */
export interface StatePod {
  /** `metadata.namespace`. */
  readonly namespace: string;
  /** `metadata.name`. */
  readonly name: string;
  /** `status.podIP` / `status.podIPs`, canonical text. */
  readonly ips: readonly string[];
  /** `spec.nodeName`. */
  readonly nodeName: string | undefined;
  /** The `wasmplane.io/lb-weight` annotation: Maglev weight of the pod as a backend. */
  readonly weight: number | undefined;
}

/** Everything one state folder holds, validated. */
export interface KubeState {
  /** Namespaces, policies and pods for src/cluster, sorted by kind, namespace and name. */
  readonly clusterObjects: readonly ClusterStateObject[];
  /** Pods, by `namespace/name`. */
  readonly pods: readonly StatePod[];
  /** Services, by namespace and name. */
  readonly services: readonly ServiceObject[];
  /** EndpointSlices, by namespace and name. */
  readonly endpointSlices: readonly EndpointSliceObject[];
  /** Nodes, by name. */
  readonly nodes: readonly NodeObject[];
  /** Objects of kinds wasmplane does not use (ConfigMap, Deployment, Endpoints, ...). */
  readonly ignored: readonly StateObjectRef[];
  /**
   * Files that did not parse and objects left out, one error each, sorted
   * by message: {@link InvalidInputError}s (with `field`) for objects,
   * `StateFileError`s for files.
   */
  readonly errors: readonly WasmplaneError[];
}

/** `Service shop/web`, `Node node-a`: how messages name an object. */
export function describeObject(ref: { kind: string; namespace?: string | undefined; name: string }): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

function refOf(value: Obj, source: string): StateObjectRef {
  const meta = isObj(value.metadata) ? value.metadata : {};
  const kind = String(value.kind);
  const name = typeof meta.name === "string" ? meta.name : "?";
  const namespace = CLUSTER_SCOPED.has(kind) ? undefined : typeof meta.namespace === "string" ? meta.namespace : "default";
  return { kind, namespace, name, source };
}

/** JSON with sorted keys: two copies of an object compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObj(value)) return `{${Object.keys(value).sort(byText).map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

function keyOf(ref: { kind: string; namespace?: string | undefined; name: string }): string {
  return `${ref.kind}\u0000${ref.namespace ?? ""}\u0000${ref.name}`;
}

/** Strips the path prefix src/cluster puts in front of its field names, so fields read the same for every kind. */
function relative(error: InvalidInputError, path: string): InvalidInputError {
  const field = error.field.startsWith(`${path}.`) ? error.field.slice(path.length + 1) : error.field === path ? "" : error.field;
  return new InvalidInputError(field || "object", error.value, error.problem, error.code, error.context);
}

interface Parsed {
  readonly ref: StateObjectRef;
  readonly text: string;
  readonly value: unknown;
  readonly read: () => unknown;
}

/**
 * Reads, validates and orders the objects of a state. `fileErrors` (files
 * that did not parse) are carried into `errors`. Never throws for bad
 * input: bad objects go to `errors`.
 */
export function readState(documents: readonly StateInput[], fileErrors: readonly WasmplaneError[] = []): KubeState {
  const errors: WasmplaneError[] = [...fileErrors];
  const ignored: StateObjectRef[] = [];
  const groups = new Map<string, Parsed[]>();

  for (const doc of documents) {
    for (const { value, path } of flattenObjects(doc.value, doc.source)) {
      if (!isObj(value) || typeof value.kind !== "string") {
        errors.push(new InvalidInputError("kind", isObj(value) ? value.kind : value, "must be a Kubernetes object with a kind", "INVALID_INPUT", path));
        continue;
      }
      const ref = refOf(value, path);
      if (!CLUSTER_KINDS.has(ref.kind) && !["Service", "EndpointSlice", "Node"].includes(ref.kind)) {
        ignored.push(ref);
        continue;
      }
      const list = groups.get(keyOf(ref)) ?? [];
      list.push({ ref, value, text: canonical(value), read: () => readOne(value, ref) });
      groups.set(keyOf(ref), list);
    }
  }

  const clusterObjects: ClusterStateObject[] = [];
  const pods: StatePod[] = [];
  const services: ServiceObject[] = [];
  const endpointSlices: EndpointSliceObject[] = [];
  const nodes: NodeObject[] = [];
  for (const key of [...groups.keys()].sort(byText)) {
    const copies = groups.get(key)!;
    const first = copies[0]!;
    if (copies.some((c) => c.text !== first.text)) {
      const sources = copies.map((c) => c.ref.source).sort(byText);
      for (const c of copies) {
        errors.push(new InvalidInputError("metadata.name", c.ref.name, `is defined more than once with different content (${sources.join(", ")}): every copy is left out`, "INVALID_INPUT", `${c.ref.source}: ${describeObject(c.ref)}`));
      }
      continue;
    }
    let read: unknown;
    try {
      read = first.read();
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      errors.push(error.within(`${first.ref.source}: ${describeObject(first.ref)}`));
      continue;
    }
    const r = read as { kind: string };
    if (r.kind === "Service") services.push(read as ServiceObject);
    else if (r.kind === "EndpointSlice") endpointSlices.push(read as EndpointSliceObject);
    else if (r.kind === "Node") nodes.push(read as NodeObject);
    else {
      clusterObjects.push({ ...first.ref, value: first.value });
      if (r.kind === "Pod") pods.push((read as { pod: StatePod }).pod);
    }
  }
  ignored.sort((a, b) => byText(keyOf(a), keyOf(b)) || byText(a.source, b.source));
  errors.sort((a, b) => byText(a.message, b.message));
  return { clusterObjects, pods, services, endpointSlices, nodes, ignored, errors };
}

function readOne(value: Obj, ref: StateObjectRef): unknown {
  switch (ref.kind) {
    case "Service":
      return readService(value, ref.source);
    case "EndpointSlice":
      return readEndpointSlice(value, ref.source);
    case "Node":
      return readNode(value, ref.source);
  }
  // The cluster view's own readers, so the state accepts exactly what the view will.
  const path = "$";
  let object;
  try {
    object = readObject(value, path);
    if (ref.kind !== "Namespace" && ref.kind !== "Pod") parsePolicyObject(value);
  } catch (error) {
    throw error instanceof InvalidInputError ? relative(error, path) : error;
  }
  if (object.kind !== "Pod") return object;
  const pod = object as PodObject;
  const statePod: StatePod = { namespace: pod.namespace, name: pod.name, ips: pod.ips, nodeName: pod.nodeName, weight: weightOf(value) };
  return { kind: "Pod", pod: statePod };
}

function weightOf(value: Obj): number | undefined {
  const meta = mapping(value.metadata, "metadata");
  const field = "metadata.annotations";
  const text = annotationText(mapping(meta.annotations, field), ANNOTATIONS.weight, field);
  if (text === undefined) return undefined;
  const at = `${field}["${ANNOTATIONS.weight}"]`;
  if (!/^[0-9]+$/.test(text)) throw new InvalidInputError(at, text, "must be an integer from 0 to 65535");
  return integer(Number(text), at, 0, 65535);
}
