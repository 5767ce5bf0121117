/**
 * The `wasmplane.io/` annotations the state model reads, in one place.
 *
 * On a Service:
 *   `wasmplane.io/lb-algorithm`: `maglev` or `random`, the selection of new
 *   flows for every frontend of the service (default: the node's).
 * On a Pod (reached through an EndpointSlice endpoint's `targetRef`):
 *   `wasmplane.io/lb-weight`: Maglev weight of the pod as a backend, an
 *   integer from 0 to 65535 (default 1; Cilium's weight semantics).
 * On a Pod (read by the node agent, src/agent):
 *   `wasmplane.io/interface`: the host-side interface of the pod's veth on
 *   its node, where the agent attaches the endpoint's tc programs.
 * On a Node (node-wide settings; explicit options win over them):
 *   `wasmplane.io/lb-algorithm`: the default algorithm of the node;
 *   `wasmplane.io/maglev-table-size`: the Maglev table size M (a prime);
 *   `wasmplane.io/maglev-hash-seed`: the 12-byte base64 hash seed.
 *
 * Annotations are strings in Kubernetes, so numbers are written as strings
 * (`"16381"`); YAML numbers are accepted too.
 *
 * @module
 */

/** Annotation names read by the state model. */
export const ANNOTATIONS = Object.freeze({
  /** Service or Node: `maglev` or `random`. */
  algorithm: "wasmplane.io/lb-algorithm",
  /** Pod: Maglev weight of the pod as a backend. */
  weight: "wasmplane.io/lb-weight",
  /** Pod: host-side interface of the pod (the node agent attaches its tc programs there). */
  interface: "wasmplane.io/interface",
  /** Node: Maglev table size. */
  tableSize: "wasmplane.io/maglev-table-size",
  /** Node: Maglev hash seed, base64 of 12 bytes. */
  hashSeed: "wasmplane.io/maglev-hash-seed",
});

/** Kubernetes' label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
