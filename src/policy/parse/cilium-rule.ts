/**
 * One Cilium rule (`api.Rule`: what `cilium policy import` takes, and the
 * `spec`/`specs` of CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy)
 * parsed into a {@link NormalizedRule}.
 *
 * Semantics, after Cilium (pkg/policy/api/rule_validation.go,
 * pkg/policy/utils/utils.go, pkg/policy/rule.go):
 *
 * - A rule must have at least one non-empty `ingress`, `ingressDeny`,
 *   `egress` or `egressDeny` list (Cilium's `Rule.Validate`).
 * - A direction is enforced (default-deny) when the rule has a non-empty list
 *   for it, unless `enableDefaultDeny` turns it off for that direction.
 * - One element selects peers with one kind of L3 field: Cilium rejects
 *   `fromEndpoints` with `fromCIDR` (or any two of the L3 fields) in one
 *   element. The selectors of that field are ORed. No L3 field: any peer.
 * - An element with neither L3 nor L4 (`{}`) allows or denies nothing; it
 *   only makes its direction enforced (`ingress: [{}]` is Cilium's
 *   default-deny idiom).
 * - `toPorts` and `icmps` cannot both be set. A `toPorts` entry with no
 *   ports matches nothing.
 * - An explicitly empty L3 list (`fromEndpoints: []`) selects nothing in
 *   recent Cilium and everything in older releases: wasmplane rejects it.
 *
 * Namespace scoping (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy)
 * follows pkg/k8s/apis/cilium.io/utils/utils.go; see {@link NamespaceScope}.
 *
 * @module
 */
import type { NormalizedRule, PeerRule, PortMatch, RuleOrigin, Selector } from "../model.js";
import { LABEL_SOURCE, NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX } from "../model.js";
import { parseCidrOrAddress, parsePrefix, prefixContains, prefixSelector, worldSelectorsFor, type Prefix } from "./cidr.js";
import { ENTITY_ALL, ENTITY_NAMES, entitySelectors } from "./entities.js";
import {
  at, checkFields, expectObj, invalid, item, member, optionalBool, optionalList, optionalObj, optionalString, type Obj,
} from "./fields.js";
import { parseIcmps, parseToPorts, type PortGroup } from "./ports.js";
import {
  addExpression, addMatch, hasKey, hasKeyPrefix, parseSelector, toSelector, uniqueSelectors, type SelectorDraft,
} from "./selector.js";

/**
 * How endpoint selectors are scoped to namespaces.
 *
 * - `raw`: as written (`cilium policy import`).
 * - `namespaced` (CiliumNetworkPolicy): the subject gets
 *   `k8s:io.kubernetes.pod.namespace=<ns>` (replacing any match of that key);
 *   each peer endpoint selector gets it too unless it names a reserved label,
 *   the namespace label (`k8s:` or `any:` source) or a namespace-labels key.
 * - `clusterwide` (CiliumClusterwideNetworkPolicy): the subject is as
 *   written; each peer endpoint selector gets `k8s:io.kubernetes.pod.namespace`
 *   Exists (only pods) unless it names a reserved label or the namespace
 *   label, or the subject selects `reserved:init`.
 */
export type NamespaceScope =
  | { readonly kind: "raw" }
  | { readonly kind: "namespaced"; readonly namespace: string }
  | { readonly kind: "clusterwide" };

/** Where a rule comes from and how to read it. */
export interface RuleContext {
  /** The policy name written into every origin. */
  readonly policy: string;
  /** The rule's index within the policy. */
  readonly index: number;
  /** Path of the rule in the input, for errors (`rules[2]`, `spec`, `specs[1]`). */
  readonly path: string;
  readonly scope: NamespaceScope;
}

type Section = RuleOrigin["section"];

interface SectionSpec {
  readonly section: Section;
  readonly direction: "ingress" | "egress";
  readonly deny: boolean;
  readonly l3: { endpoints: string; entities: string; cidr: string; cidrSet: string };
  readonly unsupported: Readonly<Record<string, string>>;
}

const REQUIRES = "requirements on peers (fromRequires/toRequires) are not supported by wasmplane";
const GROUPS = "cloud-provider groups (fromGroups/toGroups) are not supported by wasmplane";
const NODES = "node selectors in peers (fromNodes/toNodes) are not supported by wasmplane";
const AUTH = "mutual authentication is not supported by wasmplane";

const INGRESS_L3 = { endpoints: "fromEndpoints", entities: "fromEntities", cidr: "fromCIDR", cidrSet: "fromCIDRSet" };
const EGRESS_L3 = { endpoints: "toEndpoints", entities: "toEntities", cidr: "toCIDR", cidrSet: "toCIDRSet" };

const SECTIONS: readonly SectionSpec[] = [
  {
    section: "ingress", direction: "ingress", deny: false, l3: INGRESS_L3,
    unsupported: { fromRequires: REQUIRES, fromGroups: GROUPS, fromNodes: NODES, authentication: AUTH },
  },
  {
    section: "ingressDeny", direction: "ingress", deny: true, l3: INGRESS_L3,
    unsupported: { fromRequires: REQUIRES, fromGroups: GROUPS, fromNodes: NODES },
  },
  {
    section: "egress", direction: "egress", deny: false, l3: EGRESS_L3,
    unsupported: {
      toRequires: REQUIRES, toGroups: GROUPS, toNodes: NODES, authentication: AUTH,
      toFQDNs: "DNS-name peers (toFQDNs) are not supported by wasmplane",
      toServices: "service peers (toServices) are not supported by wasmplane",
    },
  },
  {
    section: "egressDeny", direction: "egress", deny: true, l3: EGRESS_L3,
    unsupported: {
      toRequires: REQUIRES, toGroups: GROUPS, toNodes: NODES,
      toServices: "service peers (toServices) are not supported by wasmplane",
    },
  },
];

const RULE_FIELDS = {
  supported: ["endpointSelector", "ingress", "ingressDeny", "egress", "egressDeny", "enableDefaultDeny", "labels", "description"],
  // `log` only configures Hubble's flow logs: no effect on what is allowed.
  ignored: ["log"],
  unsupported: { nodeSelector: "host policies (nodeSelector) are not supported by wasmplane" },
};

/** Parses one Cilium rule at `ctx.path`. */
export function parseCiliumRule(raw: unknown, ctx: RuleContext): NormalizedRule {
  const obj = expectObj(raw, ctx.path, "a rule object (with endpointSelector and ingress/egress sections)");
  checkFields(obj, ctx.path, RULE_FIELDS);

  const selectorRaw = member(obj, "endpointSelector");
  if (selectorRaw === undefined) {
    throw invalid(at(ctx.path, "endpointSelector"), undefined, "is required ({} selects every endpoint)");
  }
  const subjectDraft = parseSelector(selectorRaw, at(ctx.path, "endpointSelector"), { kind: "cilium" });
  const subjectSelectsInit = hasKey(subjectDraft, `${LABEL_SOURCE.reserved}:init`);
  if (ctx.scope.kind === "namespaced") addMatch(subjectDraft, NAMESPACE_LABEL, ctx.scope.namespace);

  optionalString(obj, "description", ctx.path);
  const labels = member(obj, "labels");
  if (labels !== undefined && !Array.isArray(labels)) {
    throw invalid(at(ctx.path, "labels"), labels, "must be a list of labels");
  }
  const defaultDeny = optionalObj(obj, "enableDefaultDeny", ctx.path, "an object with ingress and/or egress (true or false)");
  const defaultDenyPath = at(ctx.path, "enableDefaultDeny");
  let defaultDenyIngress: boolean | undefined;
  let defaultDenyEgress: boolean | undefined;
  if (defaultDeny) {
    checkFields(defaultDeny, defaultDenyPath, { supported: ["ingress", "egress"] });
    defaultDenyIngress = optionalBool(defaultDeny, "ingress", defaultDenyPath);
    defaultDenyEgress = optionalBool(defaultDeny, "egress", defaultDenyPath);
  }

  const peerRules: PeerRule[] = [];
  const counts: Record<Section, number> = { ingress: 0, ingressDeny: 0, egress: 0, egressDeny: 0 };
  for (const spec of SECTIONS) {
    const list = optionalList(obj, spec.section, ctx.path);
    if (!list) continue;
    counts[spec.section] = list.length;
    const sectionPath = at(ctx.path, spec.section);
    list.forEach((element, index) => {
      const origin: RuleOrigin = { policy: ctx.policy, rule: ctx.index, section: spec.section, index };
      peerRules.push(...parseElement(element, item(sectionPath, index), spec, origin, ctx.scope, subjectSelectsInit));
    });
  }

  const ingressElements = counts.ingress + counts.ingressDeny;
  const egressElements = counts.egress + counts.egressDeny;
  if (ingressElements + egressElements === 0) {
    throw invalid(
      ctx.path,
      raw,
      "a rule needs at least one non-empty ingress, ingressDeny, egress or egressDeny list (Cilium rejects it otherwise; use ingress: [{}] to deny all ingress)",
    );
  }

  return {
    subject: toSelector(subjectDraft),
    enforces: {
      ingress: ingressElements > 0 && defaultDenyIngress !== false,
      egress: egressElements > 0 && defaultDenyEgress !== false,
    },
    peerRules,
    policy: ctx.policy,
    index: ctx.index,
  };
}

/** Parses one element of a section into its peer rules (none, one, or one per proxy setting). */
function parseElement(
  raw: unknown,
  path: string,
  spec: SectionSpec,
  origin: RuleOrigin,
  scope: NamespaceScope,
  subjectSelectsInit: boolean,
): PeerRule[] {
  const obj = expectObj(raw, path, `an ${spec.section} element (an object; {} allows nothing)`);
  const l3Fields = Object.values(spec.l3);
  checkFields(obj, path, { supported: [...l3Fields, "toPorts", "icmps"], unsupported: spec.unsupported });

  // Which L3 field is used: at most one, and never written as an empty list.
  const present: string[] = [];
  for (const field of l3Fields) {
    const list = optionalList(obj, field, path);
    if (!list) continue;
    if (list.length === 0) {
      throw invalid(
        at(path, field),
        list,
        "must not be empty: Cilium versions disagree on whether an empty list selects no peer or every peer; remove the field to allow any peer",
      );
    }
    present.push(field);
  }
  if (present.length > 1) {
    throw invalid(path, obj, `combines ${present[0]} and ${present[1]}, which Cilium does not support: write them as separate elements`);
  }

  let peers: Selector[] | null = null;
  const field = present[0];
  if (field !== undefined) {
    const list = obj[field] as unknown[];
    const fieldPath = at(path, field);
    if (field === spec.l3.endpoints) peers = list.map((entry, i) => peerEndpointSelector(entry, item(fieldPath, i), scope, subjectSelectsInit));
    else if (field === spec.l3.entities) peers = entityPeers(list, fieldPath);
    else if (field === spec.l3.cidr) peers = cidrPeers(list, fieldPath);
    else peers = cidrSetPeers(list, fieldPath);
    if (peers) peers = uniqueSelectors(peers);
  }

  const toPorts = optionalList(obj, "toPorts", path) ?? [];
  const icmps = optionalList(obj, "icmps", path) ?? [];
  if (toPorts.length > 0 && icmps.length > 0) {
    throw invalid(path, obj, "may have toPorts or icmps, not both (Cilium rejects it): write a separate element for each");
  }
  const groups: PortGroup[] = [];
  if (toPorts.length > 0) {
    groups.push(...parseToPorts(toPorts, at(path, "toPorts"), { ingress: spec.direction === "ingress", deny: spec.deny }));
  } else if (icmps.length > 0) {
    groups.push({ proxy: false, ports: parseIcmps(icmps, at(path, "icmps")) });
  }

  const make = (ports: PortMatch[] | null, proxy: boolean): PeerRule => ({
    direction: spec.direction,
    deny: spec.deny,
    peers,
    ports,
    proxy,
    origin,
  });
  if (groups.length === 0) {
    // No L4 part: an L3-only rule, or (no L3 either) nothing at all.
    return field === undefined ? [] : [make(null, false)];
  }
  // PeerRule.proxy is per rule: one peer rule per proxy setting, in order of first appearance.
  const byProxy = new Map<boolean, PortMatch[]>();
  for (const group of groups) {
    if (group.ports.length === 0) continue; // a port rule without ports matches nothing
    const ports = byProxy.get(group.proxy) ?? [];
    ports.push(...group.ports);
    byProxy.set(group.proxy, ports);
  }
  return [...byProxy].map(([proxy, ports]) => make(ports, proxy));
}

/** A `fromEndpoints`/`toEndpoints` selector, scoped to namespaces as the policy kind requires. */
function peerEndpointSelector(raw: unknown, path: string, scope: NamespaceScope, subjectSelectsInit: boolean): Selector {
  if (raw === null) throw invalid(path, raw, "must be a selector object ({} selects every endpoint)");
  const draft = parseSelector(raw, path, { kind: "cilium" });
  scopePeer(draft, scope, subjectSelectsInit);
  return toSelector(draft);
}

const ANY_NAMESPACE_LABEL = `${LABEL_SOURCE.any}:${NAMESPACE_LABEL.slice(LABEL_SOURCE.k8s.length + 1)}`;
const ANY_NAMESPACE_LABELS_PREFIX = `${LABEL_SOURCE.any}:${NAMESPACE_LABELS_PREFIX.slice(LABEL_SOURCE.k8s.length + 1)}`;

function scopePeer(draft: SelectorDraft, scope: NamespaceScope, subjectSelectsInit: boolean): void {
  if (scope.kind === "raw") return;
  // The namespace is never added to selectors of reserved labels.
  if (hasKeyPrefix(draft, `${LABEL_SOURCE.reserved}:`)) return;
  // A selector that names the namespace label keeps the user's choice.
  if (hasKey(draft, NAMESPACE_LABEL) || hasKey(draft, ANY_NAMESPACE_LABEL)) return;
  if (scope.kind === "clusterwide") {
    if (!subjectSelectsInit) addExpression(draft, { key: NAMESPACE_LABEL, operator: "Exists", values: [] });
    return;
  }
  // Namespace labels select namespaces themselves: the policy's namespace is not added.
  if (hasKeyPrefix(draft, NAMESPACE_LABELS_PREFIX) || hasKeyPrefix(draft, ANY_NAMESPACE_LABELS_PREFIX)) return;
  addMatch(draft, NAMESPACE_LABEL, scope.namespace);
}

function entityPeers(list: readonly unknown[], path: string): Selector[] | null {
  const out: Selector[] = [];
  let all = false;
  list.forEach((entry, index) => {
    const entryPath = item(path, index);
    if (typeof entry !== "string") throw invalid(entryPath, entry, "must be an entity name");
    const selectors = entitySelectors(entry);
    if (selectors === undefined) throw invalid(entryPath, entry, `is not an entity (known: ${ENTITY_NAMES.join(", ")})`);
    if (selectors === ENTITY_ALL) all = true;
    else out.push(...selectors);
  });
  return all ? null : out;
}

function cidrPeers(list: readonly unknown[], path: string): Selector[] {
  const out: Selector[] = [];
  list.forEach((entry, index) => {
    const entryPath = item(path, index);
    if (typeof entry !== "string") throw invalid(entryPath, entry, "must be a prefix such as 10.0.0.0/8");
    const prefix = parseCidrOrAddress(entry);
    if (typeof prefix === "string") throw invalid(entryPath, entry, prefix);
    out.push(...worldSelectorsFor(prefix), prefixSelector(prefix, [], LABEL_SOURCE.cidr));
  });
  return out;
}

function cidrSetPeers(list: readonly unknown[], path: string): Selector[] {
  const out: Selector[] = [];
  list.forEach((entry, index) => {
    const { prefix, excepts } = parseCidrRule(entry, item(path, index), {
      unsupported: {
        cidrGroupRef: "CiliumCIDRGroup references are not supported by wasmplane",
        cidrGroupSelector: "CiliumCIDRGroup selectors are not supported by wasmplane",
      },
    });
    out.push(...worldSelectorsFor(prefix), prefixSelector(prefix, excepts, LABEL_SOURCE.cidr));
  });
  return out;
}

/**
 * Parses `{cidr, except}` (a Cilium CIDR rule or a Kubernetes ipBlock). Each
 * exception must lie inside the block; `strictExcept` also forbids an
 * exception equal to the block (Kubernetes' "strict subset" rule).
 */
export function parseCidrRule(
  raw: unknown,
  path: string,
  options: { unsupported?: Record<string, string>; strictExcept?: boolean } = {},
): { prefix: Prefix; excepts: Prefix[] } {
  const obj: Obj = expectObj(raw, path, "an object with cidr and optional except");
  checkFields(obj, path, { supported: ["cidr", "except"], unsupported: options.unsupported ?? {} });
  const cidrPath = at(path, "cidr");
  const cidr = member(obj, "cidr");
  if (cidr === undefined) throw invalid(cidrPath, undefined, "is required (a prefix such as 10.0.0.0/8)");
  if (typeof cidr !== "string") throw invalid(cidrPath, cidr, "must be a prefix such as 10.0.0.0/8");
  const prefix = parsePrefix(cidr);
  if (typeof prefix === "string") throw invalid(cidrPath, cidr, prefix);
  const exceptPath = at(path, "except");
  const excepts = (optionalList(obj, "except", path) ?? []).map((entry, index) => {
    const entryPath = item(exceptPath, index);
    if (typeof entry !== "string") throw invalid(entryPath, entry, "must be a prefix such as 10.96.0.0/12");
    const except = parsePrefix(entry);
    if (typeof except === "string") throw invalid(entryPath, entry, except);
    if (!prefixContains(prefix, except) || (options.strictExcept && except.bits === prefix.bits)) {
      throw invalid(entryPath, entry, `must lie inside ${prefix.text}${options.strictExcept ? " and be smaller than it" : ""}`);
    }
    return except;
  });
  return { prefix, excepts };
}

