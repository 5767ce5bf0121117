/**
 * Conformance case files: their shape, a strict loader, and the expected
 * reachability a probe describes.
 *
 * A case file (YAML) is
 *
 * ```yaml
 * suite: <describe() title>
 * source: <where the cases come from>
 * upstream: false              # optional: the default of the cases' `upstream` (true)
 * cases:
 *   - name: <exactly the upstream It(...) title, or our own for additions>
 *     upstream: false          # optional: true (default) when transcribed from upstream
 *     note: <free text>        # optional
 *     todo: <why>              # optional: runs, reports, but does not fail the run (node:test todo)
 *     ignoreLoopback: false    # optional: default true, as upstream
 *     steps:
 *       - by: <what the step does>            # optional, like ginkgo.By
 *         do: [<action>, ...]                 # applied in order
 *         probes: [<probe>, ...]              # full-matrix checks after the actions
 *         flows:  [<flow>, ...]               # single-flow checks with verdict details
 * ```
 *
 * Actions: `{apply: obj | [obj]}`, `{delete: obj | [obj]}` (kind, name and
 * namespace are enough), `{deleteAllPolicies: true}` (every policy applied
 * so far in the case), `{addPodLabels: {pod: x/a, labels: {...}}}`,
 * `{removePodLabels: {pod: x/a, keys: [...]}}`, `{addNamespaceLabels:
 * {namespace: y, labels: {...}}}`, `{removeNamespaceLabels: {namespace: y,
 * keys: [...]}}`. Label changes re-apply the model's object.
 *
 * A probe is `{port, protocol, default?, expect?}`: a table over every model
 * pod pair, starting at `default` (true unless given), then the `expect`
 * operations in order, named and shaped like upstream's calls:
 * `{expectPeer: [{namespace?, pod?}, {namespace?, pod?}, bool]}`,
 * `{expectAllIngress: [x/a, bool]}`, `{expectAllEgress: [x/a, bool]}`,
 * `{expect: [x/b, x/a, bool]}`, `{allowLoopback: true}`.
 *
 * A flow is `{from, to, port, protocol, allowed?, egress?, ingress?}` where
 * `from`/`to` are model pods or IP addresses and each side may check
 * `verdict`, `reason`, `proxy` and `rules` (each listed rule, with only the
 * fields given, must be among the verdict's rules).
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { Reachability, splitPod, type Peer, type PodString } from "./truth-table.js";
import { PROTOCOLS, type Protocol } from "./model.js";

// ---- shapes ----------------------------------------------------------------------------

export type Labels = Record<string, string>;
export type KubeObject = Record<string, unknown>;

export type Action =
  | { readonly apply: readonly KubeObject[] }
  | { readonly delete: readonly KubeObject[] }
  | { readonly deleteAllPolicies: true }
  | { readonly addPodLabels: { readonly pod: PodString; readonly labels: Labels } }
  | { readonly removePodLabels: { readonly pod: PodString; readonly keys: readonly string[] } }
  | { readonly addNamespaceLabels: { readonly namespace: string; readonly labels: Labels } }
  | { readonly removeNamespaceLabels: { readonly namespace: string; readonly keys: readonly string[] } };

export type ExpectOp =
  | { readonly expectPeer: readonly [Peer, Peer, boolean] }
  | { readonly expectAllIngress: readonly [PodString, boolean] }
  | { readonly expectAllEgress: readonly [PodString, boolean] }
  | { readonly expect: readonly [PodString, PodString, boolean] }
  | { readonly allowLoopback: true };

export interface Probe {
  readonly port: number;
  readonly protocol: Protocol;
  readonly default: boolean;
  readonly expect: readonly ExpectOp[];
}

export interface RuleExpectation {
  readonly policy?: string;
  readonly rule?: number;
  readonly section?: string;
  readonly index?: number;
}

export interface VerdictExpectation {
  readonly verdict?: "allow" | "deny";
  readonly reason?: "allowed" | "policy-deny" | "default-deny" | "not-enforced";
  readonly proxy?: boolean;
  readonly rules?: readonly RuleExpectation[];
}

export interface Flow {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly allowed?: boolean;
  readonly egress?: VerdictExpectation;
  readonly ingress?: VerdictExpectation;
}

export interface Step {
  readonly by?: string;
  readonly do: readonly Action[];
  readonly probes: readonly Probe[];
  readonly flows: readonly Flow[];
}

export interface ConformanceCase {
  readonly name: string;
  readonly upstream: boolean;
  readonly note?: string;
  /** A known disagreement: the case runs and reports but does not fail the run. */
  readonly todo?: string;
  readonly ignoreLoopback: boolean;
  readonly steps: readonly Step[];
}

export interface CaseFile {
  /** File name, for messages. */
  readonly file: string;
  readonly suite: string;
  readonly source?: string;
  /** Whether the cases are transcribed from upstream tests of the same titles, unless a case says otherwise. */
  readonly upstream: boolean;
  readonly cases: readonly ConformanceCase[];
}

/** What the loader checks names against. */
export interface ModelNames {
  readonly pods: readonly string[];
  readonly namespaces: readonly string[];
}

// ---- validation ------------------------------------------------------------------------

/** A case file does not have the shape described above. */
export class CaseFormatError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "CaseFormatError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const fail = (path: string, problem: string): never => {
  throw new CaseFormatError(path, problem);
};

function obj(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (!isObj(v)) fail(path, `must be a mapping, got ${JSON.stringify(v)}`);
  const o = v as Obj;
  for (const key of Object.keys(o)) if (!allowed.includes(key)) fail(path, `unknown key ${JSON.stringify(key)} (allowed: ${allowed.join(", ")})`);
  return o;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "") fail(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v as string;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") fail(path, `must be true or false, got ${JSON.stringify(v)}`);
  return v as boolean;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) fail(path, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v as number;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `must be a list, got ${JSON.stringify(v)}`);
  return v as unknown[];
}

function optional<T>(o: Obj, key: string, read: (v: unknown, path: string) => T, path: string): T | undefined {
  return o[key] === undefined ? undefined : read(o[key], `${path}.${key}`);
}

function labels(v: unknown, path: string): Labels {
  const o = obj(v, path, Object.keys(isObj(v) ? v : {}));
  for (const [k, val] of Object.entries(o)) str(val, `${path}.${k}`);
  return o as Labels;
}

function strings(v: unknown, path: string): string[] {
  return arr(v, path).map((s, i) => str(s, `${path}[${i}]`));
}

function protocol(v: unknown, path: string): Protocol {
  if (!(PROTOCOLS as readonly unknown[]).includes(v)) fail(path, `must be one of ${PROTOCOLS.join(", ")}, got ${JSON.stringify(v)}`);
  return v as Protocol;
}

function pod(v: unknown, path: string, names: ModelNames): PodString {
  const s = str(v, path);
  try {
    splitPod(s);
  } catch {
    fail(path, `must be ns/pod, got ${JSON.stringify(s)}`);
  }
  if (!names.pods.includes(s)) fail(path, `${s} is not a model pod`);
  return s;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A flow endpoint: a model pod or an IP address (IPv4 dotted quad, or anything with ':' for IPv6). */
function endpoint(v: unknown, path: string, names: ModelNames): string {
  const s = str(v, path);
  if (IPV4.test(s) || s.includes(":")) return s;
  return pod(s, path, names);
}

function peer(v: unknown, path: string, names: ModelNames): Peer {
  const o = obj(v ?? {}, path, ["namespace", "pod"]);
  const namespace = optional(o, "namespace", str, path);
  const podName = optional(o, "pod", str, path);
  if (namespace !== undefined && !names.namespaces.includes(namespace)) fail(`${path}.namespace`, `${namespace} is not a model namespace`);
  if (podName !== undefined && !names.pods.some((p) => splitPod(p).pod === podName)) fail(`${path}.pod`, `${podName} is not a model pod name`);
  return { ...(namespace !== undefined && { namespace }), ...(podName !== undefined && { pod: podName }) };
}

function single(v: unknown, path: string, keys: readonly string[]): [string, unknown] {
  const o = obj(v, path, keys);
  const present = Object.keys(o);
  if (present.length !== 1) fail(path, `must have exactly one of ${keys.join(", ")}`);
  return [present[0]!, o[present[0]!]];
}

function tuple(v: unknown, path: string, length: number): unknown[] {
  const a = arr(v, path);
  if (a.length !== length) fail(path, `must be a list of ${length} items, got ${a.length}`);
  return a;
}

function kubeObjects(v: unknown, path: string): KubeObject[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((o, i) => {
    const at = Array.isArray(v) ? `${path}[${i}]` : path;
    if (!isObj(o)) fail(at, "must be a Kubernetes object");
    const k = o as Obj;
    str(k.kind, `${at}.kind`);
    if (!isObj(k.metadata)) fail(`${at}.metadata`, "must be a mapping with a name");
    str((k.metadata as Obj).name, `${at}.metadata.name`);
    return k;
  });
}

const ACTIONS = ["apply", "delete", "deleteAllPolicies", "addPodLabels", "removePodLabels", "addNamespaceLabels", "removeNamespaceLabels"] as const;

function action(v: unknown, path: string, names: ModelNames): Action {
  const [key, value] = single(v, path, ACTIONS);
  const at = `${path}.${key}`;
  switch (key) {
    case "apply":
      return { apply: kubeObjects(value, at) };
    case "delete":
      return { delete: kubeObjects(value, at) };
    case "deleteAllPolicies":
      if (value !== true) fail(at, "must be true");
      return { deleteAllPolicies: true };
    case "addPodLabels":
    case "removePodLabels": {
      const o = obj(value, at, key === "addPodLabels" ? ["pod", "labels"] : ["pod", "keys"]);
      const p = pod(o.pod, `${at}.pod`, names);
      return key === "addPodLabels"
        ? { addPodLabels: { pod: p, labels: labels(o.labels, `${at}.labels`) } }
        : { removePodLabels: { pod: p, keys: strings(o.keys, `${at}.keys`) } };
    }
    default: {
      const o = obj(value, at, key === "addNamespaceLabels" ? ["namespace", "labels"] : ["namespace", "keys"]);
      const ns = str(o.namespace, `${at}.namespace`);
      if (!names.namespaces.includes(ns)) fail(`${at}.namespace`, `${ns} is not a model namespace`);
      return key === "addNamespaceLabels"
        ? { addNamespaceLabels: { namespace: ns, labels: labels(o.labels, `${at}.labels`) } }
        : { removeNamespaceLabels: { namespace: ns, keys: strings(o.keys, `${at}.keys`) } };
    }
  }
}

const OPS = ["expectPeer", "expectAllIngress", "expectAllEgress", "expect", "allowLoopback"] as const;

function expectOp(v: unknown, path: string, names: ModelNames): ExpectOp {
  const [key, value] = single(v, path, OPS);
  const at = `${path}.${key}`;
  switch (key) {
    case "expectPeer": {
      const [from, to, connected] = tuple(value, at, 3);
      return { expectPeer: [peer(from, `${at}[0]`, names), peer(to, `${at}[1]`, names), bool(connected, `${at}[2]`)] };
    }
    case "expectAllIngress":
    case "expectAllEgress": {
      const [p, connected] = tuple(value, at, 2);
      const args = [pod(p, `${at}[0]`, names), bool(connected, `${at}[1]`)] as const;
      return key === "expectAllIngress" ? { expectAllIngress: args } : { expectAllEgress: args };
    }
    case "expect": {
      const [from, to, connected] = tuple(value, at, 3);
      return { expect: [pod(from, `${at}[0]`, names), pod(to, `${at}[1]`, names), bool(connected, `${at}[2]`)] };
    }
    default:
      if (value !== true) fail(at, "must be true");
      return { allowLoopback: true };
  }
}

function probe(v: unknown, path: string, names: ModelNames): Probe {
  const o = obj(v, path, ["port", "protocol", "default", "expect"]);
  return {
    port: int(o.port, `${path}.port`, 1, 65535),
    protocol: protocol(o.protocol, `${path}.protocol`),
    default: optional(o, "default", bool, path) ?? true,
    expect: (optional(o, "expect", arr, path) ?? []).map((op, i) => expectOp(op, `${path}.expect[${i}]`, names)),
  };
}

const VERDICTS = ["allow", "deny"];
const REASONS = ["allowed", "policy-deny", "default-deny", "not-enforced"];
const SECTIONS = ["ingress", "egress", "ingressDeny", "egressDeny"];

function verdictExpectation(v: unknown, path: string): VerdictExpectation {
  const o = obj(v, path, ["verdict", "reason", "proxy", "rules"]);
  const verdict = optional(o, "verdict", str, path);
  if (verdict !== undefined && !VERDICTS.includes(verdict)) fail(`${path}.verdict`, `must be one of ${VERDICTS.join(", ")}`);
  const reason = optional(o, "reason", str, path);
  if (reason !== undefined && !REASONS.includes(reason)) fail(`${path}.reason`, `must be one of ${REASONS.join(", ")}`);
  const rules = optional(o, "rules", arr, path)?.map((r, i) => {
    const at = `${path}.rules[${i}]`;
    const ro = obj(r, at, ["policy", "rule", "section", "index"]);
    const section = optional(ro, "section", str, at);
    if (section !== undefined && !SECTIONS.includes(section)) fail(`${at}.section`, `must be one of ${SECTIONS.join(", ")}`);
    const rule: RuleExpectation = {
      ...(ro.policy !== undefined && { policy: str(ro.policy, `${at}.policy`) }),
      ...(ro.rule !== undefined && { rule: int(ro.rule, `${at}.rule`, 0, 1 << 20) }),
      ...(section !== undefined && { section }),
      ...(ro.index !== undefined && { index: int(ro.index, `${at}.index`, -1, 1 << 20) }),
    };
    if (Object.keys(rule).length === 0) fail(at, "must name at least one of policy, rule, section, index");
    return rule;
  });
  const proxy = optional(o, "proxy", bool, path);
  return {
    ...(verdict !== undefined && { verdict: verdict as VerdictExpectation["verdict"] }),
    ...(reason !== undefined && { reason: reason as VerdictExpectation["reason"] }),
    ...(proxy !== undefined && { proxy }),
    ...(rules !== undefined && { rules }),
  };
}

function flow(v: unknown, path: string, names: ModelNames): Flow {
  const o = obj(v, path, ["from", "to", "port", "protocol", "allowed", "egress", "ingress"]);
  const allowed = optional(o, "allowed", bool, path);
  const egress = optional(o, "egress", verdictExpectation, path);
  const ingress = optional(o, "ingress", verdictExpectation, path);
  if (allowed === undefined && egress === undefined && ingress === undefined) fail(path, "must check at least one of allowed, egress, ingress");
  return {
    from: endpoint(o.from, `${path}.from`, names),
    to: endpoint(o.to, `${path}.to`, names),
    port: int(o.port, `${path}.port`, 1, 65535),
    protocol: protocol(o.protocol, `${path}.protocol`),
    ...(allowed !== undefined && { allowed }),
    ...(egress !== undefined && { egress }),
    ...(ingress !== undefined && { ingress }),
  };
}

function step(v: unknown, path: string, names: ModelNames): Step {
  const o = obj(v, path, ["by", "do", "probes", "flows"]);
  const s: Step = {
    ...(o.by !== undefined && { by: str(o.by, `${path}.by`) }),
    do: (optional(o, "do", arr, path) ?? []).map((a, i) => action(a, `${path}.do[${i}]`, names)),
    probes: (optional(o, "probes", arr, path) ?? []).map((p, i) => probe(p, `${path}.probes[${i}]`, names)),
    flows: (optional(o, "flows", arr, path) ?? []).map((f, i) => flow(f, `${path}.flows[${i}]`, names)),
  };
  if (s.probes.length === 0 && s.flows.length === 0) fail(path, "must check something: give probes or flows");
  return s;
}

function conformanceCase(v: unknown, path: string, names: ModelNames, upstreamDefault: boolean): ConformanceCase {
  const o = obj(v, path, ["name", "upstream", "note", "todo", "ignoreLoopback", "steps"]);
  const steps = arr(o.steps, `${path}.steps`).map((s, i) => step(s, `${path}.steps[${i}]`, names));
  if (steps.length === 0) fail(`${path}.steps`, "must have at least one step");
  const note = optional(o, "note", str, path);
  const todo = optional(o, "todo", str, path);
  return {
    name: str(o.name, `${path}.name`),
    upstream: optional(o, "upstream", bool, path) ?? upstreamDefault,
    ...(note !== undefined && { note }),
    ...(todo !== undefined && { todo }),
    ignoreLoopback: optional(o, "ignoreLoopback", bool, path) ?? true,
    steps,
  };
}

/** Validates one parsed case file. */
export function readCaseFile(value: unknown, file: string, names: ModelNames): CaseFile {
  const o = obj(value, file, ["suite", "source", "upstream", "cases"]);
  const upstream = optional(o, "upstream", bool, file) ?? true;
  const cases = arr(o.cases, `${file}.cases`).map((c, i) => conformanceCase(c, `${file}.cases[${i}]`, names, upstream));
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.name)) fail(file, `case name ${JSON.stringify(c.name)} appears twice`);
    seen.add(c.name);
  }
  const source = optional(o, "source", str, file);
  return { file, suite: str(o.suite, `${file}.suite`), ...(source !== undefined && { source }), upstream, cases };
}

/** Reads and validates every `*.yaml` file of a directory, sorted by name. */
export function loadCaseDir(dir: string, names: ModelNames): CaseFile[] {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  if (files.length === 0) throw new Error(`no case files in ${dir}`);
  return files.map((f) => readCaseFile(parse(readFileSync(join(dir, f), "utf8")), f, names));
}

// ---- expectations ----------------------------------------------------------------------

/** Applies one expectation operation to a reachability, as the upstream helper of the same name does. */
export function applyExpectOp(r: Reachability, op: ExpectOp): void {
  if ("expectPeer" in op) r.expectPeer(...op.expectPeer);
  else if ("expectAllIngress" in op) r.expectAllIngress(...op.expectAllIngress);
  else if ("expectAllEgress" in op) r.expectAllEgress(...op.expectAllEgress);
  else if ("expect" in op) r.expect(...op.expect);
  else r.allowLoopback();
}

/** The expected reachability a probe describes, over `pods`. */
export function expectedReachability(pods: readonly PodString[], p: Pick<Probe, "default" | "expect">): Reachability {
  const r = new Reachability(pods, p.default);
  for (const op of p.expect) applyExpectOp(r, op);
  return r;
}
