/**
 * The one place the conformance harness touches wasmplane: the cluster API
 * contract the harness relies on, and where `createCluster` comes from.
 *
 * The harness codes against {@link ClusterLike} (the contract below), not
 * against src/ types, so it typechecks whatever state src/ is in.
 *
 * @module
 */
import * as wasmplane from "../../../src/index.js";

export type Protocol = "TCP" | "UDP" | "SCTP";

/** A rule that took part in a verdict. `index` -1: the rule decided by enforcing the direction. */
export interface RuleRef {
  readonly policy: string;
  readonly rule: number;
  readonly section: string;
  readonly index: number;
}

/** One side's decision. */
export interface Verdict {
  readonly verdict: "allow" | "deny";
  readonly reason: "allowed" | "policy-deny" | "default-deny" | "not-enforced";
  readonly proxy: boolean;
  readonly rules: readonly RuleRef[];
}

/** The answer of `reachability`: allowed only when the client's egress and the server's ingress both allow. */
export interface ReachabilityResult {
  readonly allowed: boolean;
  readonly egress: Verdict;
  readonly ingress: Verdict;
}

/** A flow: `ns/pod` or an IP address on each side. */
export interface FlowQuery {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
}

/** What the harness needs from a cluster. */
export interface ClusterLike {
  apply(objects: unknown): unknown;
  delete(objects: unknown): unknown;
  reachability(query: FlowQuery): ReachabilityResult;
}

export interface ClusterOptions {
  mapLimit?: number;
}

export type CreateCluster = (options?: ClusterOptions) => Promise<ClusterLike>;

// src/index.ts exports createCluster: assigning the module here makes
// TypeScript check that the real createCluster satisfies the contract above.
const api: Partial<{ createCluster: CreateCluster }> = wasmplane;

/** True when src/index.ts exports `createCluster`. */
export const clusterAvailable: boolean = typeof api.createCluster === "function";

/** A fresh, empty cluster. */
export async function newCluster(options?: ClusterOptions): Promise<ClusterLike> {
  if (typeof api.createCluster !== "function") {
    throw new Error("src/index.ts does not export createCluster: the conformance suite cannot run (see test/conformance/support/cluster.ts)");
  }
  return api.createCluster(options);
}
