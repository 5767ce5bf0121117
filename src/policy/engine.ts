/**
 * The policy engine: identities, policies in every supported format, and the
 * WebAssembly resolver behind one API. Other controllers import it; the
 * cluster view (src/cluster) builds on it.
 *
 * Every change is validated whole first (parsing, CIDRs, labels), then
 * applied as one transaction: an overflowing policy map or an invalid input
 * leaves the engine exactly as it was.
 *
 * @module
 */
import { InvalidInputError, WasmplaneError } from "../errors.js";
import { createIdentityAllocator, type IdentityAllocator, type IdentityAllocatorOptions } from "../identity/allocator.js";
import { reservedIdentities } from "../identity/reserved.js";
import { parseCiliumRules, parsePolicyObject, policyNameOf, referencedCidrs } from "./parse/index.js";

import type { NormalizedRule } from "./model.js";
import { DeltaBuilder, type PolicyDelta } from "./delta.js";
import {
  LEVEL, PROTOCOL_NUMBER, ResolverHost, type Overflow, type PolicyMapEntry, type SubjectDelta,
} from "./resolver-host.js";

/** The default size limit of one endpoint's policy map (Cilium's `bpf-policy-map-max`). */
export const DEFAULT_POLICY_MAP_LIMIT = 16384;

/** A policy map would need more entries than its limit allows. Nothing was applied. */
export class PolicyMapOverflowError extends WasmplaneError {
  /** The endpoint identity whose map overflowed. */
  readonly endpoint: number;
  /** Entries the map would need. */
  readonly needed: number;
  /** The configured limit. */
  readonly limit: number;

  constructor(endpoint: number, needed: number, limit: number, cause: string) {
    super("POLICY_MAP_OVERFLOW", `${cause}: the policy map of endpoint identity ${endpoint} would need ${needed} entries, over the limit of ${limit}; nothing was applied`);
    this.endpoint = endpoint;
    this.needed = needed;
    this.limit = limit;
  }
}

/** Options of {@link createPolicyEngine}. */
export interface PolicyEngineOptions extends IdentityAllocatorOptions {
  /** Entries one endpoint's policy map may hold; default 16384. */
  mapLimit?: number;
  /**
   * Which identities get a policy map: `all` (default) every allocated
   * cluster identity; `explicit` only those passed to `addEndpoint`.
   */
  endpoints?: "all" | "explicit";
}

/** Protocols a verdict can be asked about; for ICMP and ICMPv6 the port is the ICMP type. */
export type VerdictProtocol = "TCP" | "UDP" | "SCTP" | "ICMP" | "ICMPv6";

/** A flow to decide, seen from `subject`'s side. */
export interface VerdictQuery {
  /** The endpoint's identity. */
  subject: number;
  /** `ingress`: traffic from `peer` to `subject`; `egress`: from `subject` to `peer`. */
  direction: "ingress" | "egress";
  /** The other side's identity. */
  peer: number;
  /** The flow's protocol. For `ICMP` and `ICMPv6`, `port` carries the ICMP type. */
  protocol: VerdictProtocol;
  /** Destination port, an integer from 0 to 65535; for ICMP and ICMPv6 the ICMP type, 0 to 255. */
  port: number;
}

/** A rule that decided a verdict. `index` is -1 when the rule decided by enforcing the direction (default deny). */
export interface RuleRef {
  /** The policy's name as the engine knows it: as given to `upsertRules`, or `cnp/ns/name`, `ccnp/name`, `knp/ns/name`. */
  readonly policy: string;
  /**
   * Index of the rule within the policy: its position in a raw rule array;
   * for a CiliumNetworkPolicy 0 for `spec`, then `specs` in order (after
   * `spec` when both are present); always 0 for a Kubernetes NetworkPolicy.
   */
  readonly rule: number;
  /**
   * The section of the rule holding the deciding element. When `index` is
   * -1 it is the queried direction (`ingress` or `egress`) the rule enforces.
   */
  readonly section: "ingress" | "egress" | "ingressDeny" | "egressDeny";
  /**
   * Index of the deciding element within `section` (0-based); -1 when the
   * rule decided only by putting the direction in default deny.
   */
  readonly index: number;
}

/** The decision for one flow, with the rules that made it. */
export interface Verdict {
  /** Whether the flow passes: `allow` for reasons `allowed` and `not-enforced`, `deny` otherwise. */
  readonly verdict: "allow" | "deny";
  /**
   * Why: `allowed`, an allow rule matched the flow; `policy-deny`, a deny
   * rule matched it (a matching deny wins over every allow); `default-deny`,
   * a rule puts the direction in default deny for the subject and nothing
   * allows the flow; `not-enforced`, no rule enforces the direction for the
   * subject and no rule matches the flow, so it passes.
   */
  readonly reason: "allowed" | "policy-deny" | "default-deny" | "not-enforced";
  /** Allowed traffic that must go through the L7 proxy. */
  readonly proxy: boolean;
  /**
   * The rules that decided: for `allowed` and `policy-deny` every matching
   * element at the winning level (a deny beats every allow, and an allow
   * without L7 beats a proxy redirect); for `default-deny` the rules that
   * enforce the direction, with `index` -1; empty for `not-enforced`.
   */
  readonly rules: RuleRef[];
}

/** Identity allocation as the engine exposes it. */
export interface EngineIdentities {
  /** The identity of a label set (allocating it, or taking one more reference). Reserved sets give reserved numbers. */
  allocate(labels: string[]): number;
  /** Drops one reference; the identity goes when the last one does. */
  release(id: number): void;
  /** The canonical labels of an identity, or `undefined`. */
  labels(id: number): readonly string[] | undefined;
}

/** The engine. All methods are synchronous once created. */
export interface PolicyEngine {
  /**
   * Identity allocation, shared with the engine: identities allocated here
   * are known to verdicts and policy maps (and, with `endpoints: "all"`, a
   * cluster-scoped one gets a policy map of its own).
   */
  readonly identities: EngineIdentities;
  /** Upserts a named array of raw Cilium rules (as `cilium policy import` takes them). */
  upsertRules(name: string, rules: unknown[]): PolicyDelta;
  /** Upserts a CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or Kubernetes NetworkPolicy. */
  upsertPolicy(object: unknown): PolicyDelta;
  /** Deletes a policy by its name (as upserted, or `cnp/ns/name`, `ccnp/name`, `knp/ns/name`) or by its object. */
  deletePolicy(nameOrObject: string | object): PolicyDelta;
  /** Decides one flow and explains it. */
  verdict(query: VerdictQuery): Verdict;
  /** The policy map entries of an endpoint identity, in a stable order. */
  policyMap(subject: number): PolicyMapEntry[];
  /** Starts maintaining the map of `identity` (with `endpoints: "explicit"`). */
  addEndpoint(identity: number): PolicyDelta;
  /** Stops maintaining the map of `identity`. */
  removeEndpoint(identity: number): PolicyDelta;
  /** Names of the policies in force. */
  policies(): string[];
}

interface StoredPolicy {
  readonly rules: NormalizedRule[];
  readonly ruleIds: number[];
  readonly cidrs: string[];
}

const CLUSTER_MIN = 256;
const LOCAL_SCOPE = 1 << 24;

/**
 * The engine's implementation. Exported for the cluster view, which also
 * needs named ports and identity deltas; other code uses {@link PolicyEngine}.
 * @internal
 */
export class EngineCore implements PolicyEngine {
  readonly identities: EngineIdentities;
  private readonly stored = new Map<string, StoredPolicy>();
  private readonly ruleInfo = new Map<number, NormalizedRule>();
  private readonly registered = new Set<number>();
  private readonly namedPorts = new Map<number, Array<{ name: string; protocol: string; port: number }>>();
  private readonly cidrRefs = new Map<string, number>();
  private nextRuleId = 1;

  private constructor(
    private readonly allocator: IdentityAllocator,
    private readonly resolver: ResolverHost,
    private readonly limit: number,
    private readonly endpointMode: "all" | "explicit",
  ) {
    this.identities = {
      allocate: (labels) => this.allocateIdentity(labels).id,
      release: (id) => void this.releaseIdentity(id),
      labels: (id) => this.allocator.lookup(id),
    };
  }

  static async create(options: PolicyEngineOptions = {}): Promise<EngineCore> {
    const limit = options.mapLimit ?? DEFAULT_POLICY_MAP_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1 << 24) {
      throw new InvalidInputError("mapLimit", limit, "must be an integer from 1 to 16777216");
    }
    const mode = options.endpoints ?? "all";
    if (mode !== "all" && mode !== "explicit") throw new InvalidInputError("endpoints", mode, "must be all or explicit");
    const [allocator, resolver] = await Promise.all([createIdentityAllocator(options), ResolverHost.create(limit)]);
    const engine = new EngineCore(allocator, resolver, limit, mode);
    for (const { id, labels } of reservedIdentities()) {
      resolver.setIdentity(id, labels);
      engine.registered.add(id);
    }
    return engine;
  }

  private unwrap(result: SubjectDelta[] | Overflow, cause: string): SubjectDelta[] {
    if (Array.isArray(result)) return result;
    throw new PolicyMapOverflowError(result.subject, result.needed, this.limit, cause);
  }

  // ---- identities ----------------------------------------------------------------

  /** Allocates an identity and registers it with the resolver; returns the id and the delta. */
  allocateIdentity(labels: string[], namedPorts?: Array<{ name: string; protocol: string; port: number }>): { id: number; delta: SubjectDelta[] } {
    const id = this.allocator.allocate(labels);
    if (this.registered.has(id)) return { id, delta: [] };
    try {
      const delta = this.register(id, namedPorts);
      return { id, delta };
    } catch (error) {
      this.allocator.release(id);
      throw error;
    }
  }

  private register(id: number, namedPorts?: Array<{ name: string; protocol: string; port: number }>): SubjectDelta[] {
    const labels = [...(this.allocator.lookup(id) ?? [])];
    if (namedPorts) this.namedPorts.set(id, namedPorts);
    const deltas = this.unwrap(this.resolver.setIdentity(id, labels, namedPorts ?? []), `identity ${id}`);
    this.registered.add(id);
    if (this.endpointMode === "all" && id >= CLUSTER_MIN && id < LOCAL_SCOPE) {
      const added = this.resolver.addSubject(id);
      if (!Array.isArray(added)) {
        this.resolver.removeIdentity(id);
        this.registered.delete(id);
        this.unwrap(added, `identity ${id}`);
      }
      deltas.push(...(added as SubjectDelta[]));
    }
    return deltas;
  }

  /** Releases one reference; when the identity goes, its entries go too. */
  releaseIdentity(id: number): SubjectDelta[] {
    this.allocator.release(id);
    if (this.allocator.lookup(id) !== undefined || !this.registered.has(id)) return [];
    this.registered.delete(id);
    this.namedPorts.delete(id);
    return this.resolver.removeIdentity(id);
  }

  /** Replaces the named ports an identity's endpoints declare (the union over its pods). */
  setNamedPorts(id: number, ports: Array<{ name: string; protocol: string; port: number }>): SubjectDelta[] {
    if (!this.registered.has(id)) throw new InvalidInputError("identity", id, "is not allocated");
    const labels = [...(this.allocator.lookup(id) ?? [])];
    const result = this.unwrap(this.resolver.setIdentity(id, labels, ports), `named ports of identity ${id}`);
    this.namedPorts.set(id, ports);
    return result;
  }

  addEndpoint(identity: number): PolicyDelta {
    if (!this.registered.has(identity)) throw new InvalidInputError("identity", identity, "is not allocated");
    return new DeltaBuilder().addEndpoints(this.unwrap(this.resolver.addSubject(identity), `endpoint ${identity}`)).build();
  }

  removeEndpoint(identity: number): PolicyDelta {
    return new DeltaBuilder().addEndpoints(this.resolver.removeSubject(identity)).build();
  }

  // ---- policies ----------------------------------------------------------------------

  upsertRules(name: string, rules: unknown[]): PolicyDelta {
    if (typeof name !== "string" || name.length === 0) throw new InvalidInputError("name", name, "must be a non-empty string");
    return this.upsertNamed(name, parseCiliumRules(name, rules));
  }

  upsertPolicy(object: unknown): PolicyDelta {
    const { name, rules } = parsePolicyObject(object);
    return this.upsertNamed(name, rules);
  }

  deletePolicy(nameOrObject: string | object): PolicyDelta {
    const name = typeof nameOrObject === "string" ? nameOrObject : policyNameOf(nameOrObject);
    const old = this.stored.get(name);
    const delta = new DeltaBuilder();
    if (!old) return delta.build();
    delta.addEndpoints(this.unwrap(this.resolver.applyRules(old.ruleIds, [], old.rules), `delete ${name}`));
    this.stored.delete(name);
    for (const id of old.ruleIds) this.ruleInfo.delete(id);
    this.releaseCidrs(old.cidrs, delta);
    return delta.build();
  }

  /** Replaces policy `name` with `rules` in one transaction. */
  upsertNamed(name: string, rules: NormalizedRule[]): PolicyDelta {
    const old = this.stored.get(name);
    const cidrs = referencedCidrs(rules);
    const delta = new DeltaBuilder();
    // CIDR identities first, so the new selectors find them.
    const acquired: string[] = [];
    try {
      for (const prefix of cidrs) {
        this.acquireCidr(prefix, delta);
        acquired.push(prefix);
      }
      const ids = rules.map(() => this.nextRuleId++);
      const result = this.resolver.applyRules(old?.ruleIds ?? [], rules.map((rule, i) => ({ id: ids[i]!, rule })), old?.rules ?? []);
      delta.addEndpoints(this.unwrap(result, `policy ${name}`));
      if (old) for (const id of old.ruleIds) this.ruleInfo.delete(id);
      rules.forEach((rule, i) => this.ruleInfo.set(ids[i]!, rule));
      this.stored.set(name, { rules, ruleIds: ids, cidrs });
    } catch (error) {
      this.releaseCidrs(acquired, new DeltaBuilder());
      throw error;
    }
    if (old) this.releaseCidrs(old.cidrs, delta);
    return delta.build();
  }

  private acquireCidr(prefix: string, delta: DeltaBuilder): void {
    const refs = this.cidrRefs.get(prefix) ?? 0;
    if (refs === 0) {
      const id = this.allocator.allocateCidr(prefix);
      if (!this.registered.has(id)) {
        try {
          delta.addEndpoints(this.register(id));
        } catch (error) {
          this.allocator.release(id);
          throw error;
        }
      }
      delta.addIpcache({ prefix, identity: id }, true);
    }
    this.cidrRefs.set(prefix, refs + 1);
  }

  private releaseCidrs(prefixes: readonly string[], delta: DeltaBuilder): void {
    for (const prefix of prefixes) {
      const refs = this.cidrRefs.get(prefix) ?? 0;
      if (refs > 1) {
        this.cidrRefs.set(prefix, refs - 1);
        continue;
      }
      this.cidrRefs.delete(prefix);
      const id = this.allocator.cidrIdOf(prefix);
      if (id === undefined) continue;
      delta.addEndpoints(this.releaseIdentity(id));
      delta.addIpcache({ prefix, identity: id }, false);
    }
  }

  policies(): string[] {
    return [...this.stored.keys()].sort();
  }

  // ---- queries ------------------------------------------------------------------------

  verdict(query: VerdictQuery): Verdict {
    const q = checkQuery(query);
    for (const field of ["subject", "peer"] as const) {
      if (!this.registered.has(q[field])) throw new InvalidInputError(`query.${field}`, q[field], "is not a known identity");
    }
    const { level, rules } = this.resolver.verdict(q.subject, q.direction === "egress", q.peer, PROTOCOL_NUMBER[q.protocol], q.port);
    const refs: RuleRef[] = rules.map(({ ruleId, peerRule }) => {
      const rule = this.ruleInfo.get(ruleId);
      if (!rule) return { policy: "?", rule: 0, section: q.direction, index: -1 };
      if (peerRule < 0) return { policy: rule.policy, rule: rule.index, section: q.direction, index: -1 };
      const origin = rule.peerRules[peerRule]!.origin;
      return { policy: origin.policy, rule: origin.rule, section: origin.section, index: origin.index };
    });
    return toVerdict(level, refs);
  }

  policyMap(subject: number): PolicyMapEntry[] {
    if (!this.registered.has(subject)) throw new InvalidInputError("subject", subject, "is not a known identity");
    return this.resolver.dump(subject).sort(compareEntries);
  }

  /** Bytes of WebAssembly memory the resolver holds. */
  memoryBytes(): number {
    return this.resolver.memoryBytes();
  }
}

function toVerdict(level: number, rules: RuleRef[]): Verdict {
  switch (level) {
    case LEVEL.deny:
      return { verdict: "deny", reason: "policy-deny", proxy: false, rules };
    case LEVEL.notEnforced:
      return { verdict: "allow", reason: "not-enforced", proxy: false, rules };
    case LEVEL.allow:
      return { verdict: "allow", reason: "allowed", proxy: false, rules };
    case LEVEL.allowProxy:
      return { verdict: "allow", reason: "allowed", proxy: true, rules };
    default:
      return { verdict: "deny", reason: "default-deny", proxy: false, rules };
  }
}

function checkQuery(query: VerdictQuery): VerdictQuery {
  if (typeof query !== "object" || query === null) throw new InvalidInputError("query", query, "must be an object");
  for (const field of ["subject", "peer"] as const) {
    const v = query[field];
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new InvalidInputError(`query.${field}`, v, "must be an identity number");
  }
  if (query.direction !== "ingress" && query.direction !== "egress") {
    throw new InvalidInputError("query.direction", query.direction, "must be ingress or egress");
  }
  if (!Object.hasOwn(PROTOCOL_NUMBER, query.protocol)) {
    throw new InvalidInputError("query.protocol", query.protocol, "must be one of TCP, UDP, SCTP, ICMP, ICMPv6");
  }
  const icmp = query.protocol === "ICMP" || query.protocol === "ICMPv6";
  const max = icmp ? 255 : 65535;
  if (!Number.isInteger(query.port) || query.port < 0 || query.port > max) {
    throw new InvalidInputError("query.port", query.port, `must be an integer from 0 to ${max}${icmp ? " (the ICMP type)" : ""}`);
  }
  return query;
}

function compareEntries(a: PolicyMapEntry, b: PolicyMapEntry): number {
  return (
    (a.direction === b.direction ? 0 : a.direction === "ingress" ? -1 : 1) ||
    a.identity - b.identity ||
    a.protocol - b.protocol ||
    a.port - b.port ||
    a.prefixLength - b.prefixLength
  );
}

/**
 * Creates a policy engine: an identity allocator and the WebAssembly resolver.
 * @throws InvalidInputError for bad options
 */
export async function createPolicyEngine(options: PolicyEngineOptions = {}): Promise<PolicyEngine> {
  return EngineCore.create(options);
}
