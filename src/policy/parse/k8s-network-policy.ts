/**
 * Kubernetes NetworkPolicy (`networking.k8s.io/v1`) translated the way Cilium
 * translates it (pkg/k8s/network_policy.go, `ParseNetworkPolicy`).
 *
 * - Subject: `podSelector` with `k8s:` keys, plus the policy's namespace
 *   (`k8s:io.kubernetes.pod.namespace=<ns>`, replacing a match of that key).
 * - A peer's `podSelector` alone: those pods in the policy's namespace.
 *   `namespaceSelector`: its labels become `k8s:io.cilium.k8s.namespace.labels.<key>`
 *   requirements (same operators and values), ANDed with the `podSelector`
 *   if there is one; an empty `namespaceSelector` is "every namespace"
 *   (`k8s:io.kubernetes.pod.namespace` Exists). Cilium adds that Exists only
 *   for an empty namespace selector, and so does wasmplane.
 * - `ipBlock`: the CIDR selector (as for `fromCIDRSet`), plus the same
 *   block on `ipblock:` labels, which the cluster layer gives to pods whose
 *   IP lies in a block a policy names (Kubernetes semantics; Cilium's CIDR
 *   identities never match pods).
 * - An absent or empty `from`/`to` is any peer; absent or empty `ports` is
 *   every port. Port protocol defaults to TCP.
 * - Enforcement is Cilium's: ingress is enforced when the policy has ingress
 *   rules, lists `Ingress` in `policyTypes`, or does not list `Egress`;
 *   egress when it has egress rules or lists `Egress`. For a policy as the
 *   API server stores it (policyTypes defaulted) this is Kubernetes'
 *   rule, except that rules of a direction `policyTypes` leaves out still
 *   apply, as they do in Cilium.
 *
 * The policy is named `knp/<namespace>/<name>`.
 *
 * @module
 */
import type { NormalizedRule, PeerRule, PortMatch, Selector } from "../model.js";
import { LABEL_SOURCE, NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX } from "../model.js";
import { prefixSelector, worldSelectorsFor } from "./cidr.js";
import { parseCidrRule } from "./cilium-rule.js";
import { parseMetadata } from "./cilium-policy.js";
import { at, checkFields, expectObj, invalid, item, member, optionalList } from "./fields.js";
import { parseK8sPorts } from "./ports.js";
import { addExpression, addMatch, parseSelector, toSelector, type SelectorDraft } from "./selector.js";

export const K8S_API_VERSION = "networking.k8s.io/v1";
export const KNP_KIND = "NetworkPolicy";

const NAMESPACE_LABELS_KEY_PREFIX = NAMESPACE_LABELS_PREFIX.slice(LABEL_SOURCE.k8s.length + 1);

/** Parses a Kubernetes NetworkPolicy object. */
export function parseK8sNetworkPolicy(obj: Record<string, unknown>): { name: string; rules: NormalizedRule[] } {
  checkFields(obj, "", { supported: ["apiVersion", "kind", "metadata", "spec"], ignored: ["status"] });
  if (obj["apiVersion"] !== K8S_API_VERSION) {
    throw invalid("apiVersion", obj["apiVersion"], `must be ${K8S_API_VERSION} for kind ${KNP_KIND}`);
  }
  const { name, namespace } = parseMetadata(obj, true);
  const policy = `knp/${namespace}/${name}`;

  const spec = expectObj(member(obj, "spec"), "spec", "an object with podSelector");
  checkFields(spec, "spec", { supported: ["podSelector", "policyTypes", "ingress", "egress"] });

  const podSelector = member(spec, "podSelector");
  if (podSelector === undefined) throw invalid("spec.podSelector", undefined, "is required ({} selects every pod of the namespace)");
  const subject = parseSelector(podSelector, "spec.podSelector", { kind: "k8s" });
  addMatch(subject, NAMESPACE_LABEL, namespace);

  const types = optionalList(spec, "policyTypes", "spec") ?? [];
  types.forEach((type, index) => {
    if (type !== "Ingress" && type !== "Egress") throw invalid(item("spec.policyTypes", index), type, "must be Ingress or Egress");
  });
  if (types.length > 2) throw invalid("spec.policyTypes", types, "may list at most two types");

  const peerRules: PeerRule[] = [];
  const ingress = optionalList(spec, "ingress", "spec") ?? [];
  const egress = optionalList(spec, "egress", "spec") ?? [];
  ingress.forEach((element, index) => {
    peerRules.push(parseElement(element, item("spec.ingress", index), "ingress", namespace, policy, index));
  });
  egress.forEach((element, index) => {
    peerRules.push(parseElement(element, item("spec.egress", index), "egress", namespace, policy, index));
  });

  return {
    name: policy,
    rules: [
      {
        subject: toSelector(subject),
        enforces: {
          ingress: ingress.length > 0 || types.includes("Ingress") || !types.includes("Egress"),
          egress: egress.length > 0 || types.includes("Egress"),
        },
        peerRules,
        policy,
        index: 0,
      },
    ],
  };
}

function parseElement(
  raw: unknown,
  path: string,
  direction: "ingress" | "egress",
  namespace: string,
  policy: string,
  index: number,
): PeerRule {
  const peersKey = direction === "ingress" ? "from" : "to";
  const obj = expectObj(raw, path, `a NetworkPolicy ${direction} rule ({${peersKey}, ports}; {} allows everything)`);
  checkFields(obj, path, { supported: [peersKey, "ports"] });

  const list = optionalList(obj, peersKey, path) ?? [];
  let peers: Selector[] | null = null;
  if (list.length > 0) {
    peers = [];
    const listPath = at(path, peersKey);
    list.forEach((peer, i) => peers!.push(...parsePeer(peer, item(listPath, i), namespace)));
  }
  const portList = optionalList(obj, "ports", path) ?? [];
  const ports: PortMatch[] | null = portList.length > 0 ? parseK8sPorts(portList, at(path, "ports")) : null;
  return {
    direction,
    deny: false,
    peers,
    ports,
    proxy: false,
    origin: { policy, rule: 0, section: direction, index },
  };
}

function parsePeer(raw: unknown, path: string, namespace: string): Selector[] {
  const obj = expectObj(raw, path, "a peer (podSelector, namespaceSelector or ipBlock)");
  checkFields(obj, path, { supported: ["podSelector", "namespaceSelector", "ipBlock"] });
  const pods = member(obj, "podSelector");
  const namespaces = member(obj, "namespaceSelector");
  const block = member(obj, "ipBlock");
  if (pods === undefined && namespaces === undefined && block === undefined) {
    throw invalid(path, raw, "must have podSelector, namespaceSelector or ipBlock");
  }
  if (block !== undefined) {
    if (pods !== undefined || namespaces !== undefined) {
      throw invalid(at(path, "ipBlock"), block, "cannot be combined with podSelector or namespaceSelector in one peer");
    }
    const { prefix, excepts } = parseCidrRule(block, at(path, "ipBlock"), { strictExcept: true });
    return [
      ...worldSelectorsFor(prefix),
      prefixSelector(prefix, excepts, LABEL_SOURCE.cidr),
      prefixSelector(prefix, excepts, LABEL_SOURCE.ipblock),
    ];
  }
  if (namespaces !== undefined) {
    const draft = parseSelector(namespaces, at(path, "namespaceSelector"), { kind: "k8s", keyPrefix: NAMESPACE_LABELS_KEY_PREFIX });
    if (draft.labels.size === 0 && draft.expressions.length === 0) {
      addExpression(draft, { key: NAMESPACE_LABEL, operator: "Exists", values: [] });
    }
    if (pods !== undefined) merge(draft, parseSelector(pods, at(path, "podSelector"), { kind: "k8s" }));
    return [toSelector(draft)];
  }
  const draft = parseSelector(pods, at(path, "podSelector"), { kind: "k8s" });
  addMatch(draft, NAMESPACE_LABEL, namespace);
  return [toSelector(draft)];
}

/** Cilium's `NewESFromK8sLabelSelector(prefix, namespaceSelector, podSelector)`: labels merged, expressions appended. */
function merge(into: SelectorDraft, from: SelectorDraft): void {
  for (const [key, value] of from.labels) into.labels.set(key, value);
  into.expressions.push(...from.expressions);
}
