/**
 * The normalized policy model: what every policy input (raw Cilium rules,
 * CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, Kubernetes
 * NetworkPolicy) is parsed into before the resolver sees it.
 *
 * The parsers (src/policy/parse/*) own every input-format quirk: namespace
 * rewriting, entities, CIDR sets, policyTypes, enableDefaultDeny. After them,
 * a rule is only selectors, peers, ports and flags, and the resolver applies
 * one set of semantics to all of them.
 *
 * Labels are `source:key=value` strings (`k8s:app=web`, `reserved:world`,
 * `cidr:10.0.0.0/8` with an empty value). A selector key may use the source
 * `any`, which matches a label of that key from any source.
 *
 * @module
 */

/** One requirement of a label selector (Kubernetes semantics: NotIn also matches when the key is absent). */
export interface Requirement {
  /** `source:key`, source may be `any`. */
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Values for In / NotIn; empty for Exists / DoesNotExist. */
  readonly values: readonly string[];
}

/** A label selector: all requirements must hold. No requirements select every identity. */
export interface Selector {
  readonly requirements: readonly Requirement[];
}

/** Protocols a port rule can name after parsing (`ANY` is expanded to TCP, UDP and SCTP by the resolver). */
export type PortProtocol = "TCP" | "UDP" | "SCTP" | "ANY" | "ICMP" | "ICMPv6";

/**
 * A port match. `port` 0 means every port of the protocol. `endPort` is the
 * inclusive end of a range (equal to `port` for a single port). For ICMP and
 * ICMPv6, `port` is the ICMP type and `endPort` equals it. A named port has
 * `name` set and `port`/`endPort` 0: it is resolved per endpoint (ingress:
 * the subject's container ports; egress: the peer's).
 */
export interface PortMatch {
  readonly protocol: PortProtocol;
  readonly port: number;
  readonly endPort: number;
  readonly name?: string;
}

/** Where a rule came from, for explanations: policy name, rule index, section and index in it. */
export interface RuleOrigin {
  /** The policy's name as given to upsert (e.g. `cnp/ns/name`, `knp/ns/name`, or a raw rule-set name). */
  readonly policy: string;
  /** Index of the rule within the policy (CNP `specs`, raw rule arrays); 0 otherwise. */
  readonly rule: number;
  /** `ingress`, `egress`, `ingressDeny` or `egressDeny`. */
  readonly section: "ingress" | "egress" | "ingressDeny" | "egressDeny";
  /** Index of the element within that section. */
  readonly index: number;
}

/** One element of `ingress`, `egress`, `ingressDeny` or `egressDeny`. */
export interface PeerRule {
  readonly direction: "ingress" | "egress";
  readonly deny: boolean;
  /**
   * Peers it applies to, ORed. `null` means any peer (no L3 part: an L4-only
   * rule, entity `all`, or an empty Kubernetes `from`/`to`). An empty array
   * selects nobody (for example `fromEndpoints: []` written out explicitly
   * is rejected by the parser instead).
   */
  readonly peers: readonly Selector[] | null;
  /** Ports it applies to, ORed. `null` means every protocol and port (an L3-only rule). */
  readonly ports: readonly PortMatch[] | null;
  /** True when the matched traffic must be redirected to the L7 proxy (http, dns or kafka rules). */
  readonly proxy: boolean;
  readonly origin: RuleOrigin;
}

/** A rule after parsing. */
export interface NormalizedRule {
  /** Which endpoints it applies to. */
  readonly subject: Selector;
  /**
   * Whether the rule puts each direction of its subjects in default-deny.
   * True when the rule has a section for that direction (allow or deny, even
   * empty for Kubernetes policyTypes) and does not opt out with
   * `enableDefaultDeny: false`.
   */
  readonly enforces: { readonly ingress: boolean; readonly egress: boolean };
  readonly peerRules: readonly PeerRule[];
  /** Policy name and rule index, for explanations. */
  readonly policy: string;
  readonly index: number;
}

/** Label sources with a meaning of their own. */
export const LABEL_SOURCE = {
  any: "any",
  k8s: "k8s",
  reserved: "reserved",
  cidr: "cidr",
  /** Pods whose IP lies in a block a Kubernetes NetworkPolicy names (see docs/policy.md). */
  ipblock: "ipblock",
} as const;

/** The namespace label every pod identity carries. */
export const NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace";
/** Prefix of the labels that carry a pod's namespace's labels. */
export const NAMESPACE_LABELS_PREFIX = "k8s:io.cilium.k8s.namespace.labels.";
