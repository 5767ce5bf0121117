// The entries of one (subject, peer) pair, without the peer.
//
// Most peers of a subject are selected by exactly the same rules, so their
// entries differ only in the peer identity, the top 32 bits of every key.
// A template holds the low 32 bits and levels once, sorted by key; a
// subject's map is then just peer → template, and templates are shared by
// every peer (and every computation) with the same contributions. This keeps
// the resolver's heap small (the garbage collector walks it) and makes
// diffing two versions of a pair a merge of two short sorted lists.

import { Encoded } from "./encode";
import { emitEntry } from "./keys";

export class Template {
  constructor(public lows: StaticArray<u32>, public levels: StaticArray<u8>) {}

  get size(): i32 {
    return this.lows.length;
  }
}

export const EMPTY_TEMPLATE = new Template(new StaticArray<u32>(0), new StaticArray<u8>(0));

/** A template from encoded entries (any peer), sorted by key. */
export function templateFrom(enc: Encoded): Template {
  const n = enc.keys.length;
  if (n == 0) return EMPTY_TEMPLATE;
  // Sort indexes by the low key: insertion sort, templates are short.
  const idx = new StaticArray<i32>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 1; i < n; i++) {
    const v = idx[i];
    const key = <u32>enc.keys[v];
    let j = i - 1;
    while (j >= 0 && <u32>enc.keys[idx[j]] > key) {
      idx[j + 1] = idx[j];
      j--;
    }
    idx[j + 1] = v;
  }
  const lows = new StaticArray<u32>(n);
  const levels = new StaticArray<u8>(n);
  for (let i = 0; i < n; i++) {
    lows[i] = <u32>enc.keys[idx[i]];
    levels[i] = enc.levels[idx[i]];
  }
  return new Template(lows, levels);
}

export function sameTemplate(a: Template, b: Template): bool {
  if (a == b) return true;
  if (a.lows.length != b.lows.length) return false;
  for (let i = 0; i < a.lows.length; i++) {
    if (unchecked(a.lows[i]) != unchecked(b.lows[i]) || unchecked(a.levels[i]) != unchecked(b.levels[i])) return false;
  }
  return true;
}

/** Collects removals while additions are emitted, since the answer lists additions first. */
export class Removals {
  keys: Array<u64> = new Array<u64>();
  levels: Array<u8> = new Array<u8>();
}

/**
 * Emits entries of `after` that are new or changed, and collects entries of
 * `before` that are gone, for one peer. Returns the number emitted.
 */
export function diffTemplates(peer: u32, before: Template, after: Template, removed: Removals): u32 {
  if (before == after) return 0;
  const high = (<u64>peer) << 32;
  let i = 0;
  let j = 0;
  let added: u32 = 0;
  const a = before.lows;
  const b = after.lows;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && unchecked(a[i]) < unchecked(b[j]))) {
      removed.keys.push(high | <u64>unchecked(a[i]));
      removed.levels.push(unchecked(before.levels[i]));
      i++;
    } else if (i >= a.length || unchecked(b[j]) < unchecked(a[i])) {
      emitEntry(high | <u64>unchecked(b[j]), unchecked(after.levels[j]));
      added++;
      j++;
    } else {
      if (unchecked(before.levels[i]) != unchecked(after.levels[j])) {
        emitEntry(high | <u64>unchecked(b[j]), unchecked(after.levels[j]));
        added++;
      }
      i++;
      j++;
    }
  }
  return added;
}

/** Emits every entry of a template for `peer`. */
export function emitTemplate(peer: u32, t: Template): void {
  const high = (<u64>peer) << 32;
  for (let i = 0; i < t.lows.length; i++) emitEntry(high | <u64>unchecked(t.lows[i]), unchecked(t.levels[i]));
}
