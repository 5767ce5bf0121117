/**
 * `Node` objects (core/v1): the node's name, its InternalIP addresses (where
 * NodePort frontends listen) and its `wasmplane.io/` settings.
 *
 * Pure module.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { checkTableSize, decodeHashSeed } from "../maglev/config.js";
import { ANNOTATIONS } from "./annotations.js";
import { ipText, list, mapping, metadataOf, type Obj } from "./fields.js";
import { algorithmAnnotation, annotationText } from "./service.js";

/** A Node, validated. */
export interface NodeObject {
  /** Always `Node`. */
  readonly kind: "Node";
  /** The document it came from (load.ts `source`, with `.items[i]` inside a `List`). */
  readonly source: string;
  /** `metadata.name`. */
  readonly name: string;
  /** `status.addresses` of type InternalIP, canonical text, in the order written. */
  readonly internalIPs: readonly string[];
  /** `wasmplane.io/lb-algorithm`: the node's default algorithm. */
  readonly algorithm: "maglev" | "random" | undefined;
  /** `wasmplane.io/maglev-table-size`. */
  readonly tableSize: number | undefined;
  /** `wasmplane.io/maglev-hash-seed`. */
  readonly hashSeed: string | undefined;
}

/**
 * Reads one Node.
 * @throws InvalidInputError naming the field inside the object
 */
export function readNode(obj: Obj, source: string): NodeObject {
  const { name, meta } = metadataOf(obj, false);
  const status = mapping(obj.status, "status");
  const internalIPs: string[] = [];
  list(status.addresses, "status.addresses").forEach((value, i) => {
    const a = mapping(value, `status.addresses[${i}]`);
    if (a.type !== "InternalIP") return;
    const ip = ipText(a.address, `status.addresses[${i}].address`);
    if (!internalIPs.includes(ip)) internalIPs.push(ip);
  });
  const annotations = mapping(meta.annotations, "metadata.annotations");
  const field = (n: string) => `metadata.annotations["${n}"]`;
  const sizeText = annotationText(annotations, ANNOTATIONS.tableSize, "metadata.annotations");
  let tableSize: number | undefined;
  if (sizeText !== undefined) {
    if (!/^[0-9]+$/.test(sizeText)) throw new InvalidInputError(field(ANNOTATIONS.tableSize), sizeText, "must be an integer", "INVALID_TABLE_SIZE");
    tableSize = Number(sizeText);
    checkTableSize(tableSize, field(ANNOTATIONS.tableSize));
  }
  const hashSeed = annotationText(annotations, ANNOTATIONS.hashSeed, "metadata.annotations");
  if (hashSeed !== undefined) decodeHashSeed(hashSeed, field(ANNOTATIONS.hashSeed));
  return { kind: "Node", source, name, internalIPs, algorithm: algorithmAnnotation(meta), tableSize, hashSeed };
}
