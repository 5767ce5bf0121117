/**
 * CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy objects
 * (`cilium.io/v2`): their metadata, `spec` and `specs`.
 *
 * A policy holds `spec` (one rule), `specs` (a list), or both; Cilium
 * rejects one with neither. Rules are numbered `spec` first, then `specs`.
 * A CiliumNetworkPolicy lives in `metadata.namespace` ("default" when
 * missing, as Cilium's `ExtractNamespaceOrDefault` does) and is named
 * `cnp/<namespace>/<name>`; a clusterwide one is `ccnp/<name>`.
 *
 * @module
 */
import type { NormalizedRule } from "../model.js";
import { parseCiliumRule, type NamespaceScope } from "./cilium-rule.js";
import { checkFields, expectObj, invalid, isDnsLabel, isDnsSubdomain, item, member, type Obj } from "./fields.js";

/** Kind and API version of the Cilium policy objects. */
export const CILIUM_API_VERSION = "cilium.io/v2";
export const CNP_KIND = "CiliumNetworkPolicy";
export const CCNP_KIND = "CiliumClusterwideNetworkPolicy";

/** The namespace Kubernetes and Cilium assume for a namespaced object without one. */
export const DEFAULT_NAMESPACE = "default";

/** Checks `metadata` of a Kubernetes object; returns its name and (for namespaced kinds) namespace. */
export function parseMetadata(obj: Obj, namespaced: boolean): { name: string; namespace: string } {
  const metadata = expectObj(member(obj, "metadata"), "metadata", "an object with a name");
  const name = member(metadata, "name");
  if (name === undefined) throw invalid("metadata.name", undefined, "is required");
  if (typeof name !== "string" || !isDnsSubdomain(name)) {
    throw invalid("metadata.name", name, "must be a Kubernetes object name (lower-case letters, digits, '-' and '.')");
  }
  let namespace = DEFAULT_NAMESPACE;
  if (namespaced) {
    const ns = member(metadata, "namespace");
    if (ns !== undefined && ns !== "") {
      if (typeof ns !== "string" || !isDnsLabel(ns)) {
        throw invalid("metadata.namespace", ns, "must be a namespace name (lower-case letters, digits and '-', at most 63 characters)");
      }
      namespace = ns;
    }
  }
  return { name, namespace };
}

/** Parses a CiliumNetworkPolicy (`clusterwide` false) or CiliumClusterwideNetworkPolicy. */
export function parseCiliumPolicy(obj: Obj, clusterwide: boolean): { name: string; rules: NormalizedRule[] } {
  const kind = clusterwide ? CCNP_KIND : CNP_KIND;
  checkFields(obj, "", { supported: ["apiVersion", "kind", "metadata", "spec", "specs"], ignored: ["status"] });
  if (obj["apiVersion"] !== CILIUM_API_VERSION) {
    throw invalid("apiVersion", obj["apiVersion"], `must be ${CILIUM_API_VERSION} for kind ${kind}`);
  }
  const meta = parseMetadata(obj, !clusterwide);
  const policy = clusterwide ? `ccnp/${meta.name}` : `cnp/${meta.namespace}/${meta.name}`;
  const scope: NamespaceScope = clusterwide ? { kind: "clusterwide" } : { kind: "namespaced", namespace: meta.namespace };

  const spec = member(obj, "spec");
  const specs = member(obj, "specs");
  if (spec === undefined && specs === undefined) throw invalid("spec", undefined, `is required: a ${kind} needs spec or specs`);
  if (specs !== undefined && (!Array.isArray(specs) || specs.length === 0)) {
    throw invalid("specs", specs, "must be a non-empty list of rules");
  }

  const rules: NormalizedRule[] = [];
  if (spec !== undefined) rules.push(parseCiliumRule(spec, { policy, index: 0, path: "spec", scope }));
  if (Array.isArray(specs)) {
    specs.forEach((rule, i) => {
      rules.push(parseCiliumRule(rule, { policy, index: rules.length, path: item("specs", i), scope }));
    });
  }
  return { name: policy, rules };
}
