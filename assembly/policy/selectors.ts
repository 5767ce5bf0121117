// Label selectors and the identities they select.
//
// Labels reach the engine as atoms: the host interns every string it needs
// (`k8s:app=web`, `any:app=web`, `k8s:app`, `any:app`, ...) to a u32 and
// gives each identity the sorted atoms it matches. A requirement is then a
// few binary searches:
//
//   In           the identity has one of the value atoms
//   NotIn        the identity has none of them (also true when the key is absent)
//   Exists       the identity has the key atom
//   DoesNotExist the identity lacks the key atom
//
// Each selector keeps the set of identities it selects (Cilium's selector
// cache), updated when identities come and go, so rules never rescan them.

export const OP_IN: u32 = 0;
export const OP_NOT_IN: u32 = 1;
export const OP_EXISTS: u32 = 2;
export const OP_DOES_NOT_EXIST: u32 = 3;

export class Requirement {
  constructor(public op: u32, public key: u32, public values: StaticArray<u32>) {}
}

/** True when the sorted `atoms` contain `atom`. */
export function hasAtom(atoms: StaticArray<u32>, atom: u32): bool {
  let lo = 0;
  let hi = atoms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = unchecked(atoms[mid]);
    if (v == atom) return true;
    if (v < atom) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

function hasAny(atoms: StaticArray<u32>, values: StaticArray<u32>): bool {
  for (let i = 0; i < values.length; i++) if (hasAtom(atoms, unchecked(values[i]))) return true;
  return false;
}

export class Selector {
  /** Identities currently selected. */
  selected: Set<u32> = new Set<u32>();
  /** Rules that use this selector as a peer (rule id), for identity events. */
  peerOfRules: Set<u32> = new Set<u32>();
  /** Rules that use this selector as their subject. */
  subjectOfRules: Set<u32> = new Set<u32>();

  constructor(public id: u32, public requirements: Array<Requirement>) {}

  matches(atoms: StaticArray<u32>): bool {
    const reqs = this.requirements;
    for (let i = 0; i < reqs.length; i++) {
      const r = unchecked(reqs[i]);
      let ok: bool;
      if (r.op == OP_IN) ok = hasAny(atoms, r.values);
      else if (r.op == OP_NOT_IN) ok = !hasAny(atoms, r.values);
      else if (r.op == OP_EXISTS) ok = hasAtom(atoms, r.key);
      else ok = !hasAtom(atoms, r.key);
      if (!ok) return false;
    }
    return true;
  }
}
