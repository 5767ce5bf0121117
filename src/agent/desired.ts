/**
 * What the state on disk asks of this node, computed without touching the
 * kernel: the validated objects (src/state), the load balancer's services
 * (src/state translation, keeping the backend IDs the datapath holds), the
 * cluster objects by key with their text (to tell which changed), and the
 * interfaces pods name with the `wasmplane.io/interface` annotation.
 *
 * Every problem becomes one line in `rejected` naming the file, the object
 * and the field; the rest of the state still applies.
 *
 * @module
 */
import { InvalidInputError, WasmplaneError } from "../errors.js";
import { loadKubeState } from "../state/read.js";
import { ANNOTATIONS } from "../state/annotations.js";
import { describeObject, type ClusterStateObject, type KubeState, type StatePod } from "../state/snapshot.js";
import { translateWithMemo, TranslationMemo, type ServiceTranslation, type TranslateOptions } from "../state/translate.js";

/** Linux interface names: 1 to 15 bytes, no `/`, whitespace or `:`. */
const IFNAME = /^[^/\s:]{1,15}$/;

/** A cluster object (Namespace, Pod, policy) with the text its changes are detected by. */
export interface KeyedObject extends ClusterStateObject {
  /** `Kind\0namespace\0name`. */
  readonly key: string;
  /** JSON of the object as read. */
  readonly text: string;
}

/** What the state asks for. */
export interface DesiredState {
  /** The validated state. */
  readonly kube: KubeState;
  /** Services for the load balancer; undefined when translation failed as a whole (see `rejected`). */
  readonly translation: ServiceTranslation | undefined;
  /** Namespaces, Pods and policies by key. */
  readonly objects: ReadonlyMap<string, KeyedObject>;
  /** `ns/pod` → interface, from the `wasmplane.io/interface` annotation of pods on this node. */
  readonly interfaces: ReadonlyMap<string, string>;
  /** `ns/pod` → addresses, for naming flow peers. */
  readonly podAddresses: ReadonlyMap<string, readonly string[]>;
  /** One line per object (or file) left out: file, object, field, problem. */
  readonly rejected: string[];
  /** Things that apply but may not be what was meant. */
  readonly warnings: string[];
}

/** `Kind\0namespace\0name` of an object. */
export function objectKeyOf(o: { kind: string; namespace?: string | undefined; name: string }): string {
  return `${o.kind}\u0000${o.namespace ?? ""}\u0000${o.name}`;
}

function annotationOf(value: unknown, name: string): unknown {
  const meta = (value as { metadata?: { annotations?: Record<string, unknown> } }).metadata;
  return meta?.annotations?.[name];
}

function nodeNameOf(value: unknown): string | undefined {
  const spec = (value as { spec?: { nodeName?: unknown } }).spec;
  return typeof spec?.nodeName === "string" ? spec.nodeName : undefined;
}

/** Options of {@link readDesiredState}. */
export interface DesiredStateOptions {
  /** Translation options (node, backend IDs to keep, ...). */
  readonly translate: TranslateOptions;
  /**
   * What one computation keeps for the next (the agent holds one): the
   * translation's memo, and each cluster object's {@link KeyedObject}, so
   * an object the state did not change is neither translated nor turned
   * into JSON again. The result is the same with or without it.
   */
  readonly memo?: DesiredMemo;
}

/** See {@link DesiredStateOptions.memo}. */
export class DesiredMemo {
  /** The translation's. */
  readonly translation = new TranslationMemo();
  /** The keyed form of each cluster object (snapshot.ts keeps an unchanged object the same object). */
  readonly objects = new WeakMap<ClusterStateObject, KeyedObject>();
  /** The pods last seen and their addresses (the same map while no pod changed). */
  pods: { list: readonly StatePod[]; addresses: ReadonlyMap<string, readonly string[]> } | undefined;
}

/**
 * Reads the state at `path` and computes what it asks of this node. Pods
 * with the interface annotation count when they run on this node
 * (`spec.nodeName` equals the translation's node) or when no node is known.
 *
 * @throws {@link StateFileError} when `path` does not exist; every other problem is in `rejected`.
 */
export async function readDesiredState(path: string, options: DesiredStateOptions): Promise<DesiredState> {
  return desiredFromState(await loadKubeState(path), path, options);
}

/** {@link readDesiredState} of a state already read. Pure. */
export function desiredFromState(kube: KubeState, path: string, options: DesiredStateOptions): DesiredState {
  const rejected = kube.errors.map((e) => e.message);
  const warnings: string[] = [];
  let translation: ServiceTranslation | undefined;
  try {
    translation = translateWithMemo(kube, options.translate, options.memo?.translation);
    rejected.push(...translation.errors.map((e) => e.message));
    warnings.push(...translation.warnings);
  } catch (error) {
    if (!(error instanceof WasmplaneError)) throw error;
    rejected.push(`${path}: services: ${error.message}`);
  }
  const node = translation?.node ?? options.translate.node;
  const objects = new Map<string, KeyedObject>();
  const interfaces = new Map<string, string>();
  for (const o of kube.clusterObjects) {
    let keyed = options.memo?.objects.get(o);
    if (!keyed) {
      const key = objectKeyOf(o);
      keyed = { ...o, key, text: JSON.stringify(o.value) };
      options.memo?.objects.set(o, keyed);
    }
    objects.set(keyed.key, keyed);
    if (o.kind !== "Pod") continue;
    const iface = annotationOf(o.value, ANNOTATIONS.interface);
    if (iface === undefined) continue;
    const field = `metadata.annotations["${ANNOTATIONS.interface}"]`;
    if (typeof iface !== "string" || !IFNAME.test(iface)) {
      rejected.push(new InvalidInputError(field, iface, "must be an interface name (1 to 15 characters, no '/', ':' or spaces)", "INVALID_INPUT", `${o.source}: ${describeObject(o)}`).message);
      continue;
    }
    const podNode = nodeNameOf(o.value);
    if (node !== undefined && podNode !== undefined && podNode !== node) continue;
    interfaces.set(`${o.namespace}/${o.name}`, iface);
  }
  const memo = options.memo;
  let podAddresses: ReadonlyMap<string, readonly string[]>;
  if (memo?.pods && memo.pods.list.length === kube.pods.length && memo.pods.list.every((p, i) => p === kube.pods[i])) podAddresses = memo.pods.addresses;
  else {
    podAddresses = new Map(kube.pods.map((p) => [`${p.namespace}/${p.name}`, p.ips]));
    if (memo) memo.pods = { list: kube.pods, addresses: podAddresses };
  }
  return { kube, translation, objects, interfaces, podAddresses, rejected, warnings };
}
