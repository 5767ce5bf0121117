/**
 * The Kubernetes state model: a folder of objects as `kubectl get -o yaml`
 * writes them, validated (bad objects reported, the rest kept), translated
 * into the load balancer's services and applied to the cluster view for
 * identities, policy maps and the ipcache. Everything here is offline and
 * deterministic: the same folder gives the same result on every machine,
 * whatever the order of files and objects.
 *
 * @module
 */
export { StateFileError } from "./load.js";
export { loadKubeState } from "./read.js";
export { readState, describeObject } from "./snapshot.js";
export type { KubeState, StateInput, StateObjectRef, ClusterStateObject, StatePod } from "./snapshot.js";
export { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from "./service.js";
export type { ServiceObject, ServicePortSpec, ServiceType } from "./service.js";
export type { EndpointSliceObject, SliceEndpoint, SlicePort } from "./endpoint-slice.js";
export type { NodeObject } from "./node.js";
export type { L4Protocol } from "./fields.js";
export { ANNOTATIONS, SERVICE_NAME_LABEL } from "./annotations.js";
export { assignBackendIds, preferredBackendId, endpointText, DEFAULT_BACKEND_ID_LIMIT } from "./backend-ids.js";
export type { BackendIdOptions } from "./backend-ids.js";
export { translateServices, resolveSettings } from "./translate.js";
export type { NodeSettings, TranslateOptions, BackendRecord, ServiceTranslation } from "./translate.js";
export { applyStatePolicy } from "./policy.js";
export type { PolicyEndpoint, StatePolicy } from "./policy.js";
