/**
 * The host side of the WebAssembly policy resolver: the one place that knows
 * its word-stream formats (see assembly/policy/resolver.ts).
 *
 * It interns label atoms and selectors, encodes identities and normalized
 * rules, and decodes map entries, deltas and verdicts. It knows nothing of
 * policy file formats (src/policy/parse) or label allocation (src/identity).
 *
 * @module
 */
import { EngineError } from "../errors.js";
import { instantiateEngine, type Engine } from "../engine/wasm.js";
import { ENGINE_RESULT, ENGINE_RESULT_MEANING } from "../engine/result-codes.js";
import { AtomTable, identityAtoms } from "./atoms.js";
import type { NormalizedRule, PeerRule, PortMatch, Selector } from "./model.js";

/** IP protocol numbers the resolver works with. */
export const PROTOCOL_NUMBER = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1, ICMPv6: 58 } as const;
const PROTOCOL_NAME: Record<number, string> = { 6: "TCP", 17: "UDP", 132: "SCTP", 1: "ICMP", 58: "ICMPv6" };
const OPERATOR = { In: 0, NotIn: 1, Exists: 2, DoesNotExist: 3 } as const;

/** Verdict levels, in the order that combining answers takes the maximum. */
export const LEVEL = { none: 0, notEnforced: 1, allowProxy: 2, allow: 3, deny: 4 } as const;

/**
 * One entry of an endpoint's policy map, in longest-prefix-match form.
 * The datapath looks up the peer's identity and identity 0 (any peer), each
 * by longest prefix over (protocol, port), and applies the entry with the
 * higher `precedence`; no entry at all means default deny.
 */
export interface PolicyMapEntry {
  /** Peer identity; 0 matches any peer. */
  readonly identity: number;
  /** `ingress`: traffic from the peer to the endpoint; `egress`: from the endpoint to the peer. Part of the key. */
  readonly direction: "ingress" | "egress";
  /** IP protocol number; 0 with prefixLength 0 means every protocol. */
  readonly protocol: number;
  /** First port of the block (ICMP type for ICMP and ICMPv6). */
  readonly port: number;
  /** Last port of the block. */
  readonly endPort: number;
  /** Significant bits of (protocol, port): 0 (any protocol), 8 (any port), 8 + n (top n port bits). */
  readonly prefixLength: number;
  /** Explicit deny. */
  readonly deny: boolean;
  /** Allowed, redirected to the L7 proxy. */
  readonly proxy: boolean;
  /** 4 deny, 3 allow, 2 allow via proxy, 1 allowed because the direction is not enforced. */
  readonly precedence: number;
}

/** Entries added (or changed: the new value) and removed for one subject identity. */
export interface SubjectDelta {
  /** The endpoint (subject) identity whose policy map changed. */
  readonly identity: number;
  /** Entries to write: new keys, and keys whose value changed (with the new value). */
  readonly added: PolicyMapEntry[];
  /** Entries to delete, with the values they had. A key is never both added and removed. */
  readonly removed: PolicyMapEntry[];
}

/** A rule that decided a verdict: the rule id the host registered and the peer-rule index (or -1 for "enforces"). */
export interface DecidingRule {
  readonly ruleId: number;
  readonly peerRule: number;
}

/** The map of a subject would exceed the limit. */
export interface Overflow {
  readonly subject: number;
  readonly needed: number;
}

function decodeEntry(w: Uint32Array, at: number): PolicyMapEntry {
  const meta = w[at + 1]!;
  const prefixLength = (meta >>> 16) & 0xff;
  const port = w[at + 2]!;
  const portBits = Math.max(0, prefixLength - 8);
  const level = w[at + 3]!;
  return {
    identity: w[at]!,
    direction: (meta & 1) === 1 ? "egress" : "ingress",
    protocol: (meta >>> 8) & 0xff,
    port: prefixLength < 8 ? 0 : port,
    endPort: prefixLength < 8 ? 65535 : port + (1 << (16 - portBits)) - 1,
    prefixLength,
    deny: level === LEVEL.deny,
    proxy: level === LEVEL.allowProxy,
    precedence: level,
  };
}

/** A selector's canonical text: requirements sorted, values sorted. */
function selectorKey(sel: Selector): string {
  return sel.requirements
    .map((r) => `${r.key} ${r.operator} ${[...r.values].sort().join(",")}`)
    .sort()
    .join(" & ");
}

/** Thin typed wrapper over the engine's policy exports. */
export class ResolverHost {
  private readonly atoms = new AtomTable();
  private readonly selectorIds = new Map<string, { id: number; refs: number }>();
  private nextSelector = 1;

  private constructor(private readonly engine: Engine) {}

  static async create(mapLimit: number): Promise<ResolverHost> {
    const engine = await instantiateEngine();
    engine.policySetMapLimit(mapLimit);
    return new ResolverHost(engine);
  }

  /** Bytes of linear memory the engine holds. */
  memoryBytes(): number {
    return this.engine.memory.buffer.byteLength;
  }

  private write(words: readonly number[] | Uint32Array): number {
    const ptr = this.engine.policyInput(words.length);
    new Uint32Array(this.engine.memory.buffer, ptr, words.length).set(words);
    return words.length;
  }

  private output(): Uint32Array {
    return new Uint32Array(this.engine.memory.buffer, this.engine.policyOutputPtr(), this.engine.policyOutputWords()).slice();
  }

  private check(op: string, code: number): void {
    if (code !== ENGINE_RESULT.OK) throw new EngineError(op, code, ENGINE_RESULT_MEANING[code] ?? "unknown result");
  }

  /** Reads the deltas of the last successful mutation. */
  private deltas(): SubjectDelta[] {
    const w = this.output();
    const out: SubjectDelta[] = [];
    let at = 1;
    for (let s = 0; s < w[0]!; s++) {
      const identity = w[at++]!;
      const added: PolicyMapEntry[] = [];
      const removed: PolicyMapEntry[] = [];
      const nAdded = w[at++]!;
      for (let i = 0; i < nAdded; i++, at += 4) added.push(decodeEntry(w, at));
      const nRemoved = w[at++]!;
      for (let i = 0; i < nRemoved; i++, at += 4) removed.push(decodeEntry(w, at));
      out.push({ identity, added, removed });
    }
    return out;
  }

  /** Runs a mutation; returns its deltas, or the overflow that stopped it (nothing applied). */
  private mutate(op: string, code: number): SubjectDelta[] | Overflow {
    if (code === ENGINE_RESULT.ERR_MAP_OVERFLOW) {
      const w = this.output();
      return { subject: w[0]!, needed: w[1]! };
    }
    this.check(op, code);
    return this.deltas();
  }

  // ---- identities ---------------------------------------------------------------

  /**
   * Adds or replaces identity `id` with `labels` and named ports
   * (`{ name, protocol, port }`).
   */
  setIdentity(id: number, labels: readonly string[], namedPorts: ReadonlyArray<{ name: string; protocol: string; port: number }> = []): SubjectDelta[] | Overflow {
    const atoms = identityAtoms(this.atoms, labels);
    const words: number[] = [id, atoms.length, ...atoms, namedPorts.length];
    for (const np of namedPorts) {
      words.push(this.atoms.atom(`port:${np.name}`), PROTOCOL_NUMBER[np.protocol as keyof typeof PROTOCOL_NUMBER] ?? 0, np.port);
    }
    return this.mutate("set identity", this.engine.policySetIdentity(this.write(words)));
  }

  removeIdentity(id: number): SubjectDelta[] {
    const result = this.mutate("remove identity", this.engine.policyRemoveIdentity(id));
    if (!Array.isArray(result)) throw new EngineError("remove identity", ENGINE_RESULT.ERR_MAP_OVERFLOW, "overflow on removal");
    return result;
  }

  addSubject(id: number): SubjectDelta[] | Overflow {
    return this.mutate("add subject", this.engine.policyAddSubject(id));
  }

  removeSubject(id: number): SubjectDelta[] {
    this.engine.policyRemoveSubject(id);
    return this.deltas();
  }

  // ---- selectors and rules ------------------------------------------------------

  /** Interns selectors, defining new ones in the engine; returns their ids. Call `releaseSelectors` to undo. */
  private acquireSelectors(selectors: readonly Selector[]): number[] {
    const fresh: number[] = [];
    const ids = selectors.map((sel) => {
      const key = selectorKey(sel);
      let entry = this.selectorIds.get(key);
      if (!entry) {
        entry = { id: this.nextSelector++, refs: 0 };
        this.selectorIds.set(key, entry);
        fresh.push(entry.id);
        const words: number[] = [1, entry.id, sel.requirements.length];
        for (const r of sel.requirements) {
          const values = r.operator === "In" || r.operator === "NotIn" ? r.values.map((v) => this.atoms.atom(`${r.key}=${v}`)) : [];
          words.push(OPERATOR[r.operator], this.atoms.atom(r.key), values.length, ...values);
        }
        this.check("define selector", this.engine.policyDefineSelectors(this.write(words)));
      }
      entry.refs++;
      return entry.id;
    });
    return ids;
  }

  private releaseSelectors(selectors: readonly Selector[]): void {
    for (const sel of selectors) {
      const key = selectorKey(sel);
      const entry = this.selectorIds.get(key);
      if (!entry) continue;
      if (--entry.refs === 0) {
        this.selectorIds.delete(key);
        this.engine.policyReleaseSelector(entry.id);
      }
    }
  }

  /** Every selector a rule uses, in encoding order. */
  static selectorsOf(rule: NormalizedRule): Selector[] {
    const out: Selector[] = [rule.subject];
    for (const pr of rule.peerRules) if (pr.peers && !isAnyPeer(pr)) out.push(...pr.peers);
    return out;
  }

  private encodePorts(ports: readonly PortMatch[]): number[] {
    const words: number[] = [];
    let count = 0;
    for (const p of ports) {
      const name = p.name ? this.atoms.atom(`port:${p.name}`) : 0;
      const protos = p.protocol === "ANY" ? (name ? [0] : [6, 17, 132]) : [PROTOCOL_NUMBER[p.protocol]];
      const isIcmp = p.protocol === "ICMP" || p.protocol === "ICMPv6";
      const lo = name ? 0 : isIcmp ? p.port : p.port === 0 ? 0 : p.port;
      const hi = name ? 0 : isIcmp ? p.endPort : p.port === 0 ? 0xffff : Math.max(p.port, p.endPort);
      for (const proto of protos) {
        words.push(proto, lo, hi, name);
        count++;
      }
    }
    return [count, ...words];
  }

  private encodeRule(ruleId: number, rule: NormalizedRule, selectorIds: number[]): number[] {
    let next = 0;
    const take = (): number => selectorIds[next++]!;
    const words: number[] = [ruleId, take(), (rule.enforces.ingress ? 1 : 0) | (rule.enforces.egress ? 2 : 0), rule.peerRules.length];
    for (const pr of rule.peerRules) {
      const anyPeer = isAnyPeer(pr);
      const anyPort = pr.ports === null;
      words.push(
        (pr.direction === "egress" ? 1 : 0) | (pr.deny ? 2 : 0) | (pr.proxy ? 4 : 0) | (anyPeer ? 8 : 0) | (anyPort ? 16 : 0),
      );
      const peers = anyPeer ? [] : pr.peers!.map(() => take());
      words.push(peers.length, ...peers);
      words.push(...(anyPort ? [0] : this.encodePorts(pr.ports!)));
    }
    return words;
  }

  /**
   * Replaces rules atomically: deletes `remove` (ids) and upserts `upsert`.
   * `previous` gives the rules being replaced or deleted, so their selectors
   * can be released once the engine no longer uses them.
   */
  applyRules(
    remove: readonly number[],
    upsert: ReadonlyArray<{ id: number; rule: NormalizedRule }>,
    previous: readonly NormalizedRule[],
  ): SubjectDelta[] | Overflow {
    const acquired = upsert.map(({ rule }) => ResolverHost.selectorsOf(rule));
    const ids = acquired.map((sels) => this.acquireSelectors(sels));
    const words: number[] = [remove.length, ...remove, upsert.length];
    upsert.forEach(({ id, rule }, i) => words.push(...this.encodeRule(id, rule, ids[i]!)));
    const result = this.mutate("apply rules", this.engine.policyApplyRules(this.write(words)));
    // On success the replaced rules' selectors go; on overflow the new ones do.
    const release = Array.isArray(result) ? previous.map((r) => ResolverHost.selectorsOf(r)) : acquired;
    for (const sels of release) this.releaseSelectors(sels);
    return result;
  }

  // ---- queries ------------------------------------------------------------------------

  /** Every entry of a subject's map (computed on the fly if it is not a maintained subject). */
  dump(id: number): PolicyMapEntry[] {
    this.check("dump map", this.engine.policyDumpSubject(id));
    const w = this.output();
    const out: PolicyMapEntry[] = [];
    for (let i = 0, at = 1; i < w[0]!; i++, at += 4) out.push(decodeEntry(w, at));
    return out;
  }

  /** The level and deciding rules for one flow. */
  verdict(subject: number, egress: boolean, peer: number, protocol: number, port: number): { level: number; rules: DecidingRule[] } {
    this.check("verdict", this.engine.policyVerdict(subject, egress, peer, protocol, port));
    const w = this.output();
    const rules: DecidingRule[] = [];
    for (let i = 0, at = 2; i < w[1]!; i++, at += 2) {
      rules.push({ ruleId: w[at]!, peerRule: w[at + 1] === 0xffffffff ? -1 : w[at + 1]! });
    }
    return { level: w[0]!, rules };
  }
}

/** An element with no L3 part, or with an empty selector (Cilium's wildcard), applies to identity 0. */
export function isAnyPeer(pr: PeerRule): boolean {
  return pr.peers === null || pr.peers.some((s) => s.requirements.length === 0);
}

/** Name of an IP protocol number, for display. */
export function protocolName(proto: number): string {
  return PROTOCOL_NAME[proto] ?? (proto === 0 ? "ANY" : String(proto));
}
