/**
 * Flow filters: which {@link ObservedFlow}s a {@link FlowFilter} keeps, and
 * the filter's form as query parameters (`GET /v1/flows?namespace=shop&port=80`),
 * read back with validation.
 *
 * Every field given must match (AND across fields). The side-less fields
 * (namespace, pod, port, identity) match when either the source or the
 * destination matches, like `hubble observe --namespace`; each one is
 * checked on its own, so `namespace=a&port=80` keeps a flow from `a` to
 * port 80 of a pod in `b`.
 *
 * Pure module: used by the agent (to filter before streaming) and by the
 * CLI (to build the query).
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import type { FlowFilter, ObservedFlow, ObservedPeer } from "./types.js";

/** The query parameter names of a {@link FlowFilter}, in the order {@link flowFilterToQuery} writes them. */
export const FLOW_FILTER_KEYS = ["namespace", "pod", "verdict", "port", "protocol", "identity"] as const;

const VERDICTS = ["FORWARDED", "DROPPED"] as const;
const MAX_IDENTITY = 0xffff_ffff;

function podMatches(peer: ObservedPeer, pod: string, namespace: string | undefined): boolean {
  if (peer.pod === undefined) return false;
  const slash = pod.indexOf("/");
  if (slash >= 0) return peer.namespace === pod.slice(0, slash) && peer.pod === pod.slice(slash + 1);
  return peer.pod === pod && (namespace === undefined || peer.namespace === namespace);
}

/**
 * Whether `flow` passes `filter`: every field the filter gives matches.
 * `namespace`, `pod`, `port` and `identity` match either side; a bare pod
 * name is taken in the filter's `namespace` when one is given (any namespace
 * otherwise), `ns/name` names one pod. `protocol` compares case-insensitively.
 * An empty filter keeps everything. Never throws.
 */
export function matchesFlow(flow: ObservedFlow, filter: FlowFilter): boolean {
  const { source, destination } = flow;
  if (filter.verdict !== undefined && flow.verdict !== filter.verdict) return false;
  if (filter.protocol !== undefined && flow.protocol.toLowerCase() !== filter.protocol.toLowerCase()) return false;
  if (filter.namespace !== undefined && source.namespace !== filter.namespace && destination.namespace !== filter.namespace) return false;
  if (filter.pod !== undefined && !podMatches(source, filter.pod, filter.namespace) && !podMatches(destination, filter.pod, filter.namespace)) return false;
  if (filter.port !== undefined && source.port !== filter.port && destination.port !== filter.port) return false;
  if (filter.identity !== undefined && source.identity !== filter.identity && destination.identity !== filter.identity) return false;
  return true;
}

function integer(field: string, text: string, max: number, what: string): number {
  // Number("") is 0 and Number("0x50") is 80: plain decimal digits only.
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > max) throw new InvalidInputError(field, text, `must be ${what}`);
  return Number(text);
}

function nonEmpty(field: string, text: string): string {
  if (text.trim() === "") throw new InvalidInputError(field, text, "must not be empty");
  return text;
}

/**
 * Reads a {@link FlowFilter} from query parameters or from a record of
 * strings (such as CLI options). Absent and empty-string-free keys are left
 * out; unknown keys are ignored (the same query carries `follow` and `last`).
 *
 * @throws {@link InvalidInputError} naming the parameter (`port`, `verdict`,
 *   `identity`, ...) when its value is not valid: a port outside 0-65535, a
 *   verdict other than `FORWARDED`/`DROPPED` (case-insensitive), an identity
 *   that is not a 32-bit unsigned integer, an empty name, a pod of the form
 *   `ns/name` with an empty part.
 */
export function parseFlowFilter(query: URLSearchParams | Readonly<Record<string, string | undefined>>): FlowFilter {
  const get = (key: string): string | undefined =>
    query instanceof URLSearchParams ? (query.get(key) ?? undefined) : typeof query[key] === "string" ? query[key] : undefined;
  const filter: {
    namespace?: string;
    pod?: string;
    verdict?: "FORWARDED" | "DROPPED";
    port?: number;
    protocol?: string;
    identity?: number;
  } = {};
  const namespace = get("namespace");
  if (namespace !== undefined) filter.namespace = nonEmpty("namespace", namespace);
  const pod = get("pod");
  if (pod !== undefined) {
    nonEmpty("pod", pod);
    const parts = pod.split("/");
    if (parts.length > 2 || parts.some((p) => p === "")) throw new InvalidInputError("pod", pod, "must be a pod name or namespace/name");
    filter.pod = pod;
  }
  const verdict = get("verdict");
  if (verdict !== undefined) {
    const upper = verdict.toUpperCase();
    if (!(VERDICTS as readonly string[]).includes(upper)) throw new InvalidInputError("verdict", verdict, "must be FORWARDED or DROPPED");
    filter.verdict = upper as "FORWARDED" | "DROPPED";
  }
  const port = get("port");
  if (port !== undefined) filter.port = integer("port", port, 65535, "a port number 0-65535");
  const protocol = get("protocol");
  if (protocol !== undefined) filter.protocol = nonEmpty("protocol", protocol);
  const identity = get("identity");
  if (identity !== undefined) filter.identity = integer("identity", identity, MAX_IDENTITY, "an identity number 0-4294967295");
  return filter;
}

/**
 * The filter as query parameters, keys in {@link FLOW_FILTER_KEYS} order,
 * absent fields left out. `parseFlowFilter(flowFilterToQuery(f))` equals `f`
 * for every valid filter (with the verdict in upper case).
 */
export function flowFilterToQuery(filter: FlowFilter): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of FLOW_FILTER_KEYS) {
    const value = filter[key];
    if (value !== undefined) query.set(key, String(value));
  }
  return query;
}
