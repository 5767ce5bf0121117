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
  readonly value: Obj;
  /** Order of the copy inside its unit (document order). */
  readonly seq: number;
  /** The unit (file) it came from. */
  readonly unit: string;
}

/** What one object key contributes to the state: its validated object, or the errors of its copies. */
interface KeyResult {
  /** `source` and canonical text of every copy, in order: an unchanged signature keeps the result (and its objects) as they were. */
  readonly signature: string;
  readonly kind?: "Service" | "EndpointSlice" | "Node" | "cluster";
  readonly object?: unknown;
  readonly pod?: StatePod;
  readonly errors: readonly WasmplaneError[];
}

interface Unit {
  readonly parsed: readonly Parsed[];
  readonly ignored: readonly StateObjectRef[];
  readonly errors: readonly WasmplaneError[];
}

/**
 * Orders units as loadKubeState reads files: path segment by segment, in
 * code-point order (a directory's files come where the directory's name sorts).
 */
function byUnit(a: string, b: string): number {
  if (a === b) return 0;
  const sa = a.split("/");
  const sb = b.split("/");
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const c = byText(sa[i]!, sb[i]!);
    if (c !== 0) return c;
  }
  return sa.length - sb.length;
}

/**
 * A state kept up to date one unit (one file) at a time: {@link readState}
 * for a folder whose files change one by one. Only the objects whose keys a
 * changed unit holds (before or after) are validated again; every other
 * object keeps its result, and the very same JavaScript objects, so a
 * consumer can tell what changed by identity. `state()` equals
 * `readState` of every unit's documents in unit order (units are ordered
 * as paths, segment by segment), with the same errors.
 *
 * @internal The node agent's; the public way in is {@link readState}.
 */
export class StateSnapshot {
  readonly #units = new Map<string, Unit>();
  readonly #groups = new Map<string, Parsed[]>();
  readonly #results = new Map<string, KeyResult>();
  readonly #dirty = new Set<string>();
  /** Units with file errors or ignored objects, and keys whose result is errors: the only ones `state()` visits for those lists. */
  readonly #unitsWithExtras = new Set<string>();
  readonly #keysWithErrors = new Set<string>();
  #sortedKeys: string[] = [];
  #keysChanged = false;
  #state: KubeState | undefined;
  /** Keys whose result changed since the last {@link StateSnapshot.takeChanged}. */
  #changed = new Set<string>();

  /** Replaces what `unit` holds with `documents` (and `fileErrors`, for a unit that did not parse). */
  set(unit: string, documents: readonly StateInput[], fileErrors: readonly WasmplaneError[] = []): void {
    this.#drop(unit);
    const parsed: Parsed[] = [];
    const ignored: StateObjectRef[] = [];
    const errors: WasmplaneError[] = [...fileErrors];
    for (const doc of documents) {
      for (const { value, path } of flattenObjects(doc.value, doc.source)) {
        if (!isObj(value) || typeof value.kind !== "string") {
          errors.push(new InvalidInputError("kind", isObj(value) ? value.kind : value, "must be a Kubernetes object with a kind", "INVALID_INPUT", path));
          continue;
        }
        const ref = refOf(value, path);
        if (!CLUSTER_KINDS.has(ref.kind) && !OTHER_KINDS.has(ref.kind)) {
          ignored.push(ref);
          continue;
        }
        const p: Parsed = { ref, value, text: canonical(value), seq: parsed.length, unit };
        parsed.push(p);
        const key = keyOf(ref);
        const list = this.#groups.get(key);
        if (list) list.push(p);
        else this.#groups.set(key, [p]);
        this.#dirty.add(key);
      }
    }
    this.#units.set(unit, { parsed, ignored, errors });
    if (ignored.length || errors.length) this.#unitsWithExtras.add(unit);
    this.#state = undefined;
  }

  /** Forgets `unit` (a file removed). */
  delete(unit: string): void {
    if (!this.#units.has(unit)) return;
    this.#drop(unit);
    this.#state = undefined;
  }

  /** The units held. */
  units(): IterableIterator<string> {
    return this.#units.keys();
  }

  #drop(unit: string): void {
    const old = this.#units.get(unit);
    if (!old) return;
    this.#units.delete(unit);
    this.#unitsWithExtras.delete(unit);
    for (const p of old.parsed) {
      const key = keyOf(p.ref);
      const list = this.#groups.get(key);
      if (!list) continue;
      const rest = list.filter((c) => c.unit !== unit);
      if (rest.length) this.#groups.set(key, rest);
      else this.#groups.delete(key);
      this.#dirty.add(key);
    }
  }

  /** Keys (`Kind\0namespace\0name`) whose validated result changed since the last call. */
  takeChanged(): Set<string> {
    this.state();
    const out = this.#changed;
    this.#changed = new Set();
    return out;
  }

  /** The state of every unit, validated and ordered as {@link readState} gives it. */
  state(): KubeState {
    if (this.#state && this.#dirty.size === 0) return this.#state;
    for (const key of this.#dirty) {
      const copies = this.#groups.get(key);
      const before = this.#results.get(key);
      if ((copies === undefined) !== (before === undefined)) this.#keysChanged = true; // a key came or went: sort again
      if (!copies) {
        if (before) {
          this.#results.delete(key);
          this.#keysWithErrors.delete(key);
          this.#changed.add(key);
        }
        continue;
      }
      if (copies.length > 1) copies.sort((a, b) => byUnit(a.unit, b.unit) || a.seq - b.seq);
      const signature = copies.map((c) => `${c.ref.source}\u0000${c.text}`).join("\u0001");
      if (before?.signature === signature) continue;
      const result = resultOf(copies, signature);
      this.#results.set(key, result);
      if (result.errors.length) this.#keysWithErrors.add(key);
      else this.#keysWithErrors.delete(key);
      this.#changed.add(key);
    }
    this.#dirty.clear();
    if (this.#keysChanged) {
      this.#sortedKeys = [...this.#groups.keys()].sort(byText);
      this.#keysChanged = false;
    }
    const errors: WasmplaneError[] = [];
    const ignored: StateObjectRef[] = [];
    for (const name of this.#unitsWithExtras) {
      const unit = this.#units.get(name)!;
      errors.push(...unit.errors);
      ignored.push(...unit.ignored);
    }
    for (const key of this.#keysWithErrors) errors.push(...this.#results.get(key)!.errors);
    const clusterObjects: ClusterStateObject[] = [];
    const pods: StatePod[] = [];
    const services: ServiceObject[] = [];
    const endpointSlices: EndpointSliceObject[] = [];
    const nodes: NodeObject[] = [];
    for (const key of this.#sortedKeys) {
      const r = this.#results.get(key)!;
      if (r.kind === "Service") services.push(r.object as ServiceObject);
      else if (r.kind === "EndpointSlice") endpointSlices.push(r.object as EndpointSliceObject);
      else if (r.kind === "Node") nodes.push(r.object as NodeObject);
      else if (r.kind === "cluster") {
        clusterObjects.push(r.object as ClusterStateObject);
        if (r.pod) pods.push(r.pod);
      }
    }
    ignored.sort((a, b) => byText(keyOf(a), keyOf(b)) || byText(a.source, b.source));
    errors.sort((a, b) => byText(a.message, b.message));
    this.#state = { clusterObjects, pods, services, endpointSlices, nodes, ignored, errors };
    return this.#state;
  }
}

const OTHER_KINDS = new Set(["Service", "EndpointSlice", "Node"]);

/** Validates one key's copies: ambiguous copies are all rejected, else the first copy is read. */
function resultOf(copies: readonly Parsed[], signature: string): KeyResult {
  const first = copies[0]!;
  if (copies.some((c) => c.text !== first.text)) {
    const sources = copies.map((c) => c.ref.source).sort(byText);
    return {
      signature,
      errors: copies.map((c) => new InvalidInputError("metadata.name", c.ref.name, `is defined more than once with different content (${sources.join(", ")}): every copy is left out`, "INVALID_INPUT", `${c.ref.source}: ${describeObject(c.ref)}`)),
    };
  }
  let read: unknown;
  try {
    read = readOne(first.value, first.ref);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    return { signature, errors: [error.within(`${first.ref.source}: ${describeObject(first.ref)}`)] };
  }
  const r = read as { kind: string };
  if (r.kind === "Service" || r.kind === "EndpointSlice" || r.kind === "Node") return { signature, kind: r.kind, object: read, errors: [] };
  const object: ClusterStateObject = { ...first.ref, value: first.value };
  return { signature, kind: "cluster", object, ...(r.kind === "Pod" ? { pod: (read as { pod: StatePod }).pod } : {}), errors: [] };
}

/**
 * Reads, validates and orders the objects of a state. `fileErrors` (files
 * that did not parse) are carried into `errors`. Never throws for bad
 * input: bad objects go to `errors`.
 */
export function readState(documents: readonly StateInput[], fileErrors: readonly WasmplaneError[] = []): KubeState {
  const snapshot = new StateSnapshot();
  snapshot.set("", documents, fileErrors);
  return snapshot.state();
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
