/**
 * Layer-7 rules (`toPorts[].rules`): checked for shape and for the
 * combinations Cilium rejects, then reduced to one fact, whether the traffic
 * goes through the proxy. wasmplane does not evaluate L7 rules; the proxy does.
 *
 * Follows Cilium's `L7Rules.Validate` and `IsEmpty` (pkg/policy/api/l4.go,
 * rule_validation.go): a rules object redirects to the proxy when any of
 * `http`, `kafka`, `dns` or `l7` is present, even as an empty list (an empty
 * list is an L7 allow-all, still proxied); `rules: {}` redirects nothing. At
 * most one protocol per rules object; `l7` needs `l7proto`.
 *
 * The entries' shapes are checked with valibot.
 *
 * @module
 */
import * as v from "valibot";
import { at, checkFields, invalid, item, member, type Obj } from "./fields.js";

const str = () => v.string("must be a string");
const optionalStr = () => v.optional(str());

function strict<E extends v.ObjectEntries>(entries: E) {
  const known = Object.keys(entries).join(", ");
  return v.strictObject(entries, (issue) =>
    issue.expected === "never" ? `unknown field (known fields: ${known})` : `must be an object with fields ${known}`,
  );
}

const httpRule = strict({
  path: optionalStr(),
  method: optionalStr(),
  host: optionalStr(),
  headers: v.optional(v.array(str(), "must be a list of strings")),
  headerMatches: v.optional(v.array(v.looseObject({}, "must be an object"), "must be a list of header matches")),
});
const dnsRule = strict({ matchName: optionalStr(), matchPattern: optionalStr() });
const kafkaRule = strict({
  role: optionalStr(),
  apiKey: optionalStr(),
  apiVersion: optionalStr(),
  clientID: optionalStr(),
  topic: optionalStr(),
});
const genericRule = v.record(v.string(), str(), "must be a map of strings to strings");

function checkList(schema: v.GenericSchema, value: unknown, path: string): number {
  if (!Array.isArray(value)) throw invalid(path, value, "must be a list of rules");
  value.forEach((entry, index) => {
    const result = v.safeParse(schema, entry);
    if (result.success) return;
    const issue = result.issues[0];
    let where = item(path, index);
    for (const step of issue.path ?? []) {
      where = typeof step.key === "number" ? item(where, step.key) : at(where, String(step.key));
    }
    throw invalid(where, issue.input, issue.message);
  });
  return value.length;
}

/** What a rules object means for the port rule it is in. */
export interface L7Summary {
  /** The traffic is redirected to the proxy (Cilium: `!Rules.IsEmpty()`). */
  readonly proxy: boolean;
  /** `dns` is present (Cilium then requires listed ports). */
  readonly dnsPresent: boolean;
  /** Number of DNS rules (Cilium's `hasDNSRules` is this being non-zero). */
  readonly dnsRules: number;
}

/** Checks a `rules` object at `path`. */
export function parseL7Rules(obj: Obj, path: string): L7Summary {
  checkFields(obj, path, { supported: ["http", "kafka", "dns", "l7proto", "l7"] });
  const http = member(obj, "http");
  const kafka = member(obj, "kafka");
  const dns = member(obj, "dns");
  const l7 = member(obj, "l7");
  const l7proto = member(obj, "l7proto");

  if (http !== undefined) checkList(httpRule, http, at(path, "http"));
  if (kafka !== undefined) checkList(kafkaRule, kafka, at(path, "kafka"));
  const dnsRules = dns !== undefined ? checkList(dnsRule, dns, at(path, "dns")) : 0;
  if (l7proto !== undefined && typeof l7proto !== "string") throw invalid(at(path, "l7proto"), l7proto, "must be a string");
  if (l7 !== undefined) {
    checkList(genericRule, l7, at(path, "l7"));
    if (!l7proto) throw invalid(at(path, "l7"), l7, "needs l7proto to name the L7 protocol");
  }

  const kinds = [
    http !== undefined && "http",
    kafka !== undefined && "kafka",
    dns !== undefined && "dns",
    typeof l7proto === "string" && l7proto !== "" && "l7proto",
  ].filter((k): k is string => typeof k === "string");
  if (kinds.length > 1) {
    throw invalid(path, obj, `may hold one L7 protocol, not several (found ${kinds.join(", ")})`);
  }
  return {
    proxy: http !== undefined || kafka !== undefined || dns !== undefined || l7 !== undefined,
    dnsPresent: dns !== undefined,
    dnsRules,
  };
}
