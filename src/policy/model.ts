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
  /**
   * `In`: the identity has a label of `key` with one of `values`; `NotIn`:
   * it has no label of `key` with any of `values` (an absent key matches);
   * `Exists`: it has a label of `key`, any value; `DoesNotExist`: it has none.
   */
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Values for In / NotIn; empty for Exists / DoesNotExist. */
  readonly values: readonly string[];
}

/** A label selector: all requirements must hold. No requirements select every identity. */
export interface Selector {
  /** Requirements, ANDed. Empty selects every identity (as a peer, it means any peer: identity 0). */
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
  /**
   * The protocol. `ANY` matches TCP, UDP and SCTP (a named port with `ANY`
   * matches the name under whatever protocol the endpoint declares it).
   */
  readonly protocol: PortProtocol;
  /**
   * For TCP, UDP, SCTP and ANY the first port, 1 to 65535, or 0 for every
   * port; for ICMP and ICMPv6 the ICMP type, 0 to 255. 0 for a named port.
   */
  readonly port: number;
  /**
   * Last port of the range, inclusive: equal to `port` for a single port or
   * an ICMP type, 0 when `port` is 0 (every port) and for a named port.
   */
  readonly endPort: number;
  /** The port's name (an IANA service name such as `http`) for a named port; `undefined` for a numeric one. */
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
  /** `ingress` (from `ingress` or `ingressDeny`): traffic from the peers to the subject; `egress`: from the subject to the peers. */
  readonly direction: "ingress" | "egress";
  /** True for `ingressDeny` and `egressDeny` elements: matched traffic is dropped, whatever allows it. */
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
  /**
   * The element it came from. One element gives zero, one or two peer rules
   * (two when some of its ports go through the proxy and some do not);
   * those share an origin.
   */
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
  readonly enforces: {
    /** Whether the subjects' ingress is in default deny because of this rule. */
    readonly ingress: boolean;
    /** Whether the subjects' egress is in default deny because of this rule. */
    readonly egress: boolean;
  };
  /**
   * The elements of all its sections as peer rules, in the order of the
   * sections and their elements; each names its element in `origin`. May be
   * empty (an element `{}` gives none), and the rule still enforces.
   */
  readonly peerRules: readonly PeerRule[];
  /** Policy name, for explanations (see {@link RuleOrigin.policy}). */
  readonly policy: string;
  /** Index of the rule within its policy (see {@link RuleOrigin.rule}). */
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
