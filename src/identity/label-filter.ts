/**
 * Identity-relevant labels: Cilium's label filter (`pkg/labelsfilter`).
 *
 * Only some of a pod's labels decide its identity. A filter is an ordered
 * list of patterns `[source:][!]regex`; `!` marks an exclusive pattern. A
 * pattern matches a label when its source is empty or equal to the label's
 * source and its regex matches at the start of the label's key; the match
 * length counts. A label is kept when
 *
 * - no inclusive pattern is configured ("allow-list mode" off) and no
 *   exclusive pattern matches it, or
 * - its longest inclusive match is longer than its shortest exclusive match
 *   (so `io.kubernetes.pod.namespace` beats `!io.kubernetes`).
 *
 * Cilium's default list (below) has inclusive patterns, but does not turn
 * allow-list mode on: by default every label is kept unless excluded. Extra
 * patterns given like Cilium's `--label` option are appended to the base list,
 * and any inclusive one among them turns allow-list mode on. A label prefix
 * file (`--label-prefix-file`, Cilium's JSON format) replaces the default list;
 * its entries are plain prefixes, not regexes, and name a source.
 *
 * A pattern's source is compared literally, as Cilium's code does: an empty
 * source matches every label, `any:` only labels whose source is `any`.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { formatLabel, parseLabel, type Label } from "./labels.js";

/** One pattern of a filter. */
export interface LabelPattern {
  /** Source the label must have; empty for any source. */
  readonly source: string;
  /** The regex (or plain prefix, for prefix-file entries) as written, without `!`. */
  readonly prefix: string;
  /** True for an exclusive pattern (`!`). */
  readonly ignore: boolean;
  /** The compiled regex; `undefined` for a plain prefix. */
  readonly regex: RegExp | undefined;
}

/** Cilium's label prefix file (`--label-prefix-file`), as JSON. */
export interface LabelPrefixFile {
  /** Cilium's LPCfgFileVersion, 1. */
  readonly version: 1;
  /** Prefixes in evaluation order. */
  readonly "valid-prefixes": ReadonlyArray<{
    /** Plain prefix of the label key (not a regex). */
    readonly prefix: string;
    /** Source the label must have; required. */
    readonly source: string;
    /** True for an exclusive prefix. */
    readonly invert?: boolean;
  }>;
}

/** Options of {@link createLabelFilter}. */
export interface LabelFilterOptions {
  /** Patterns appended to the base list, like Cilium's `--label`: `[source:][!]regex`. */
  readonly labels?: readonly string[];
  /** Replaces Cilium's default list, like `--label-prefix-file`. */
  readonly prefixFile?: LabelPrefixFile;
}

/** A configured filter. */
export interface LabelFilter {
  /** Patterns in evaluation order. */
  readonly patterns: readonly LabelPattern[];
  /** Whether a label must match an inclusive pattern to be kept. */
  readonly allowList: boolean;
  /** Whether `label` is identity-relevant. */
  accepts(label: Label): boolean;
  /** Splits labels into identity-relevant ones and the rest, keeping their order. */
  filter<T extends Label>(labels: readonly T[]): {
    /** The identity-relevant labels. */
    identity: T[];
    /** The others (Cilium's "information labels"). */
    information: T[];
  };
  /**
   * The identity-relevant labels among label strings, in Cilium's text form.
   * @throws InvalidInputError (INVALID_LABEL) naming `labels[i]`
   */
  filterStrings(labels: readonly string[]): string[];
}

/**
 * Cilium's default patterns, in its order: reserved labels, the pod's
 * namespace, the namespace's labels, app.kubernetes.io and the cluster name are
 * included; the other io.kubernetes / kubernetes.io / k8s.io / beta labels,
 * per-pod StatefulSet, pod-index and Job-index labels, hashes, generations,
 * annotations and etcd_node are excluded.
 */
export const DEFAULT_LABEL_PATTERNS: readonly string[] = Object.freeze([
  "reserved:.*",
  "io\\.kubernetes\\.pod\\.namespace",
  "io\\.cilium\\.k8s\\.namespace\\.labels",
  "app\\.kubernetes\\.io",
  "io\\.cilium\\.k8s\\.policy\\.cluster",
  "!io\\.kubernetes",
  "!kubernetes\\.io",
  "!statefulset\\.kubernetes\\.io/pod-name",
  "!apps\\.kubernetes\\.io/pod-index",
  "!batch\\.kubernetes\\.io/job-completion-index",
  "!.*beta\\.kubernetes\\.io",
  "!k8s\\.io",
  "!pod-template-generation",
  "!pod-template-hash",
  "!controller-revision-hash",
  "!annotation.*",
  "!etcd_node",
]);

/**
 * Parses one `--label` pattern: `[source:][!]regex`.
 * @throws InvalidInputError naming `field`
 */
export function parseLabelPattern(text: unknown, field = "pattern"): LabelPattern {
  if (typeof text !== "string") throw new InvalidInputError(field, text, "must be a string");
  const colon = text.indexOf(":");
  const source = colon >= 0 ? text.slice(0, colon) : "";
  let prefix = colon >= 0 ? text.slice(colon + 1) : text;
  if (prefix.length === 0) throw new InvalidInputError(field, text, "has an empty pattern");
  const ignore = prefix.startsWith("!");
  if (ignore) prefix = prefix.slice(1);
  let regex: RegExp;
  try {
    // Sticky: the match must start at the beginning of the key, as Cilium requires.
    regex = new RegExp(prefix, "y");
  } catch (err) {
    throw new InvalidInputError(field, text, `is not a regular expression: ${(err as Error).message}`);
  }
  return { source, prefix, ignore, regex };
}

function patternsOfFile(file: unknown): LabelPattern[] {
  const field = "prefixFile";
  if (typeof file !== "object" || file === null) throw new InvalidInputError(field, file, "must be an object");
  const { version, "valid-prefixes": entries } = file as Record<string, unknown>;
  if (version !== 1) throw new InvalidInputError(`${field}.version`, version, "unsupported version; only 1 exists");
  if (!Array.isArray(entries)) throw new InvalidInputError(`${field}.valid-prefixes`, entries, "must be an array");
  return entries.map((entry: unknown, i) => {
    const at = `${field}.valid-prefixes[${i}]`;
    if (typeof entry !== "object" || entry === null) throw new InvalidInputError(at, entry, "must be an object");
    const { prefix, source, invert } = entry as Record<string, unknown>;
    if (typeof prefix !== "string" || prefix === "") throw new InvalidInputError(`${at}.prefix`, prefix, "must be a non-empty string");
    if (typeof source !== "string" || source === "") throw new InvalidInputError(`${at}.source`, source, "must be a non-empty string");
    if (invert !== undefined && typeof invert !== "boolean") throw new InvalidInputError(`${at}.invert`, invert, "must be a boolean");
    return { source, prefix, ignore: invert === true, regex: undefined };
  });
}

/** Whether `pattern` matches `label`, and the length of the match. */
function matchLength(pattern: LabelPattern, label: Label): number {
  if (pattern.source !== "" && pattern.source !== label.source) return -1;
  if (!pattern.regex) return label.key.startsWith(pattern.prefix) ? pattern.prefix.length : -1;
  pattern.regex.lastIndex = 0;
  const m = pattern.regex.exec(label.key);
  return m ? m[0].length : -1;
}

/**
 * Creates a label filter; with no options, Cilium's defaults.
 * @throws InvalidInputError naming the bad pattern (`labels[i]`, `prefixFile...`)
 */
export function createLabelFilter(options: LabelFilterOptions = {}): LabelFilter {
  if (typeof options !== "object" || options === null) throw new InvalidInputError("options", options, "must be an object");
  let patterns: LabelPattern[];
  let allowList = false;
  if (options.prefixFile !== undefined) {
    patterns = patternsOfFile(options.prefixFile);
    allowList = patterns.some((p) => !p.ignore);
  } else {
    patterns = DEFAULT_LABEL_PATTERNS.map((p, i) => parseLabelPattern(p, `defaults[${i}]`));
  }
  const extra = options.labels ?? [];
  if (!Array.isArray(extra)) throw new InvalidInputError("labels", extra, "must be an array of patterns");
  extra.forEach((text: unknown, i) => {
    if (text === "") return; // Cilium skips empty entries
    const p = parseLabelPattern(text, `labels[${i}]`);
    if (!p.ignore) allowList = true;
    patterns.push(p);
  });
  Object.freeze(patterns);

  const accepts = (label: Label): boolean => {
    let included = 0;
    let ignored = 0;
    for (const p of patterns) {
      const len = matchLength(p, label);
      if (len < 0) continue;
      if (p.ignore) {
        // Cilium keeps the shortest exclusive match (0 means "none yet").
        if (ignored === 0 || len < ignored) ignored = len;
      } else if (len > included) {
        included = len;
      }
    }
    return (!allowList && ignored === 0) || included > ignored;
  };

  return {
    patterns,
    allowList,
    accepts,
    filter<T extends Label>(labels: readonly T[]) {
      const identity: T[] = [];
      const information: T[] = [];
      for (const l of labels) (accepts(l) ? identity : information).push(l);
      return { identity, information };
    },
    filterStrings(labels: readonly string[]): string[] {
      if (!Array.isArray(labels)) throw new InvalidInputError("labels", labels, "must be an array of label strings", "INVALID_LABEL");
      return labels.map((t, i) => parseLabel(t, `labels[${i}]`)).filter(accepts).map(formatLabel);
    },
  };
}

let defaultFilter: LabelFilter | undefined;

/** The filter with Cilium's default patterns (shared, immutable). */
export function defaultLabelFilter(): LabelFilter {
  defaultFilter ??= createLabelFilter();
  return defaultFilter;
}
