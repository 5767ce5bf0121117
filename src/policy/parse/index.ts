/**
 * Policy parsers: every supported input format into {@link NormalizedRule}s.
 *
 * - {@link parsePolicyObject}: one Kubernetes object, a CiliumNetworkPolicy,
 *   CiliumClusterwideNetworkPolicy or NetworkPolicy.
 * - {@link parseCiliumRules}: a list of raw Cilium rules, as
 *   `cilium policy import` takes them (no namespace scoping).
 * - {@link referencedCidrs}: the prefixes the parsed rules name.
 * - {@link policyNameOf}: the name a policy object is stored under.
 *
 * Input is fully checked before anything is returned. Problems are
 * `InvalidInputError`s naming the offending field (`spec.ingress[0].toPorts[0].ports[1].port`,
 * `rules[2].egress[0].toCIDR[0]`) with code `INVALID_POLICY` (Cilium rejects
 * the input, or it has no meaning) or `UNSUPPORTED_FIELD` (Cilium supports
 * the field; wasmplane does not model it).
 *
 * @module
 */
import type { NormalizedRule } from "../model.js";
import { CCNP_KIND, CNP_KIND, parseCiliumPolicy, parseMetadata } from "./cilium-policy.js";
import { parseCiliumRule } from "./cilium-rule.js";
import { invalid, isObj, item } from "./fields.js";
import { KNP_KIND, parseK8sNetworkPolicy } from "./k8s-network-policy.js";

export { referencedCidrs } from "./cidr.js";

/** A parsed policy: its name (`cnp/<ns>/<name>`, `ccnp/<name>`, `knp/<ns>/<name>`) and rules. */
export interface ParsedPolicy {
  readonly name: string;
  readonly rules: NormalizedRule[];
}

const KINDS = [CNP_KIND, CCNP_KIND, KNP_KIND];

/** Parses a CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or Kubernetes NetworkPolicy object. */
export function parsePolicyObject(obj: unknown): ParsedPolicy {
  if (Array.isArray(obj)) {
    throw invalid("policy", obj, "is a list: parse raw Cilium rules with parseCiliumRules, or pass one policy object");
  }
  if (!isObj(obj)) throw invalid("policy", obj, `must be a policy object (kind ${KINDS.join(", ")})`);
  const kind = obj["kind"];
  switch (kind) {
    case CNP_KIND:
      return parseCiliumPolicy(obj, false);
    case CCNP_KIND:
      return parseCiliumPolicy(obj, true);
    case KNP_KIND:
      return parseK8sNetworkPolicy(obj);
    case undefined:
      throw invalid("kind", kind, `is required (one of ${KINDS.join(", ")})`);
    default:
      throw invalid("kind", kind, `must be one of ${KINDS.join(", ")}`);
  }
}

/**
 * The name {@link parsePolicyObject} gives `obj` (`cnp/<ns>/<name>`,
 * `ccnp/<name>`, `knp/<ns>/<name>`), from its kind and metadata alone: the
 * spec is not read, so a policy can be named (to delete it) even when its
 * spec would no longer parse.
 */
export function policyNameOf(obj: unknown): string {
  if (!isObj(obj)) throw invalid("policy", obj, `must be a policy object (kind ${KINDS.join(", ")})`);
  const kind = obj["kind"];
  if (kind !== CNP_KIND && kind !== CCNP_KIND && kind !== KNP_KIND) {
    throw invalid("kind", kind, `must be one of ${KINDS.join(", ")}`);
  }
  const { name, namespace } = parseMetadata(obj, kind !== CCNP_KIND);
  if (kind === CNP_KIND) return `cnp/${namespace}/${name}`;
  if (kind === CCNP_KIND) return `ccnp/${name}`;
  return `knp/${namespace}/${name}`;
}

/**
 * Parses raw Cilium rules (the JSON list `cilium policy import` reads) as the
 * policy `name`. Rules are numbered by their position; nothing is scoped to a
 * namespace. An empty list gives no rules. Error paths start with `rules[i]`.
 */
export function parseCiliumRules(name: string, rules: unknown[]): NormalizedRule[] {
  if (!Array.isArray(rules)) throw invalid("rules", rules, "must be a list of rules");
  return rules.map((rule, index) =>
    parseCiliumRule(rule, { policy: name, index, path: item("rules", index), scope: { kind: "raw" } }),
  );
}
