// Label selectors over sorted atom arrays: hasAtom's binary search and each
// requirement operator, alone and ANDed.
import {
  hasAtom, Requirement, Selector, OP_IN, OP_NOT_IN, OP_EXISTS, OP_DOES_NOT_EXIST,
} from "../policy/selectors";

function atoms(values: u32[]): StaticArray<u32> {
  const out = new StaticArray<u32>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i];
  return out;
}

const NONE = new StaticArray<u32>(0);

function req(op: u32, key: u32, values: u32[]): Requirement {
  return new Requirement(op, key, atoms(values));
}

function selector(reqs: Requirement[]): Selector {
  const list = new Array<Requirement>();
  for (let i = 0; i < reqs.length; i++) list.push(reqs[i]);
  return new Selector(1, list);
}

// Atoms of an identity `k8s:app=web, k8s:tier=front`:
//   10 k8s:app   11 k8s:app=web   20 k8s:tier   21 k8s:tier=front
const APP: u32 = 10;
const APP_WEB: u32 = 11;
const APP_DB: u32 = 12;
const TIER: u32 = 20;
const TIER_FRONT: u32 = 21;
const TIER_BACK: u32 = 22;
const ENV: u32 = 30;
const ENV_PROD: u32 = 31;
const WEB_FRONT: u32[] = [APP, APP_WEB, TIER, TIER_FRONT];

describe("hasAtom", () => {
  test("empty array holds nothing", () => {
    expect(hasAtom(NONE, 0)).toBe(false);
    expect(hasAtom(NONE, 1)).toBe(false);
    expect(hasAtom(NONE, u32.MAX_VALUE)).toBe(false);
  });

  test("one element: itself, not its neighbours", () => {
    const a = atoms([5]);
    expect(hasAtom(a, 5)).toBe(true);
    expect(hasAtom(a, 4)).toBe(false);
    expect(hasAtom(a, 6)).toBe(false);
    expect(hasAtom(a, 0)).toBe(false);
    expect(hasAtom(a, u32.MAX_VALUE)).toBe(false);
    expect(hasAtom(atoms([0]), 0)).toBe(true);
    expect(hasAtom(atoms([u32.MAX_VALUE]), u32.MAX_VALUE)).toBe(true);
    expect(hasAtom(atoms([u32.MAX_VALUE]), 0)).toBe(false);
  });

  test("two elements", () => {
    const a = atoms([3, 9]);
    expect(hasAtom(a, 3)).toBe(true);
    expect(hasAtom(a, 9)).toBe(true);
    expect(hasAtom(a, 2)).toBe(false);
    expect(hasAtom(a, 5)).toBe(false);
    expect(hasAtom(a, 10)).toBe(false);
  });

  test("many elements: first, last, every member, every gap, below and above", () => {
    // odd atoms 1, 3, ..., 2n-1 for every length 0..33: members found, evens not
    for (let n = 0; n <= 33; n++) {
      const a = new StaticArray<u32>(n);
      for (let i = 0; i < n; i++) a[i] = <u32>(2 * i + 1);
      let found = 0;
      let wrong = 0;
      for (let v: u32 = 0; v <= <u32>(2 * n + 1); v++) {
        const has = hasAtom(a, v);
        if (has) found++;
        if (has != ((v & 1) == 1 && v < <u32>(2 * n))) wrong++;
      }
      expect(wrong).toBe(0, "length " + n.toString());
      expect(found).toBe(n);
    }
  });

  test("unsigned order at the top of the range", () => {
    // atoms above 2^31 would sort first if compared as signed
    const a = atoms([0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, u32.MAX_VALUE]);
    expect(hasAtom(a, 0)).toBe(true);
    expect(hasAtom(a, 1)).toBe(true);
    expect(hasAtom(a, 0x7fffffff)).toBe(true);
    expect(hasAtom(a, 0x80000000)).toBe(true);
    expect(hasAtom(a, 0x80000001)).toBe(true);
    expect(hasAtom(a, 0xfffffffe)).toBe(true);
    expect(hasAtom(a, u32.MAX_VALUE)).toBe(true);
    expect(hasAtom(a, 2)).toBe(false);
    expect(hasAtom(a, 0x7ffffffe)).toBe(false);
    expect(hasAtom(a, 0x80000002)).toBe(false);
    expect(hasAtom(a, 0xfffffffd)).toBe(false);
  });
});

describe("Selector.matches", () => {
  test("an empty requirement list selects everything", () => {
    const s = selector([]);
    expect(s.matches(NONE)).toBe(true);
    expect(s.matches(atoms(WEB_FRONT))).toBe(true);
    expect(s.matches(atoms([u32.MAX_VALUE]))).toBe(true);
  });

  test("In: one of the values", () => {
    const web = atoms(WEB_FRONT);
    expect(selector([req(OP_IN, APP, [APP_WEB])]).matches(web)).toBe(true);
    expect(selector([req(OP_IN, APP, [APP_DB])]).matches(web)).toBe(false);
    expect(selector([req(OP_IN, APP, [APP_DB, APP_WEB])]).matches(web)).toBe(true);
    expect(selector([req(OP_IN, APP, [APP_WEB, APP_DB])]).matches(web)).toBe(true);
    // the key alone is not a value
    expect(selector([req(OP_IN, APP, [APP])]).matches(atoms([APP, APP_DB]))).toBe(true);
    expect(selector([req(OP_IN, APP, [APP_WEB])]).matches(atoms([APP, APP_DB]))).toBe(false);
    // key absent
    expect(selector([req(OP_IN, ENV, [ENV_PROD])]).matches(web)).toBe(false);
    expect(selector([req(OP_IN, APP, [APP_WEB])]).matches(NONE)).toBe(false);
    // no values: nothing is in the empty set
    expect(selector([req(OP_IN, APP, [])]).matches(web)).toBe(false);
  });

  test("NotIn: none of the values, true when the key is absent", () => {
    const web = atoms(WEB_FRONT);
    expect(selector([req(OP_NOT_IN, APP, [APP_WEB])]).matches(web)).toBe(false);
    expect(selector([req(OP_NOT_IN, APP, [APP_DB, APP_WEB])]).matches(web)).toBe(false);
    expect(selector([req(OP_NOT_IN, APP, [APP_DB])]).matches(web)).toBe(true);
    // key absent: matches
    expect(selector([req(OP_NOT_IN, ENV, [ENV_PROD])]).matches(web)).toBe(true);
    expect(selector([req(OP_NOT_IN, APP, [APP_WEB])]).matches(NONE)).toBe(true);
    // no values: nothing to exclude
    expect(selector([req(OP_NOT_IN, APP, [])]).matches(web)).toBe(true);
    // decided by the value atoms alone, whether or not the key atom is there
    expect(selector([req(OP_NOT_IN, APP, [APP_WEB])]).matches(atoms([APP_WEB]))).toBe(false);
    expect(selector([req(OP_NOT_IN, APP, [APP_WEB])]).matches(atoms([APP]))).toBe(true);
  });

  test("Exists: the key atom", () => {
    expect(selector([req(OP_EXISTS, TIER, [])]).matches(atoms(WEB_FRONT))).toBe(true);
    expect(selector([req(OP_EXISTS, ENV, [])]).matches(atoms(WEB_FRONT))).toBe(false);
    expect(selector([req(OP_EXISTS, ENV, [])]).matches(NONE)).toBe(false);
    // only the key atom counts, not a value atom of that key
    expect(selector([req(OP_EXISTS, ENV, [])]).matches(atoms([ENV_PROD]))).toBe(false);
    // values are ignored
    expect(selector([req(OP_EXISTS, APP, [APP_DB])]).matches(atoms(WEB_FRONT))).toBe(true);
  });

  test("DoesNotExist: lacks the key atom", () => {
    expect(selector([req(OP_DOES_NOT_EXIST, TIER, [])]).matches(atoms(WEB_FRONT))).toBe(false);
    expect(selector([req(OP_DOES_NOT_EXIST, ENV, [])]).matches(atoms(WEB_FRONT))).toBe(true);
    expect(selector([req(OP_DOES_NOT_EXIST, ENV, [])]).matches(NONE)).toBe(true);
    expect(selector([req(OP_DOES_NOT_EXIST, ENV, [])]).matches(atoms([ENV_PROD]))).toBe(true);
  });

  test("requirements are ANDed", () => {
    const web = atoms(WEB_FRONT);
    const both = selector([req(OP_IN, APP, [APP_WEB]), req(OP_IN, TIER, [TIER_FRONT])]);
    expect(both.matches(web)).toBe(true);
    expect(both.matches(atoms([APP, APP_WEB, TIER, TIER_BACK]))).toBe(false);
    expect(both.matches(atoms([APP, APP_WEB]))).toBe(false);

    const s = selector([
      req(OP_EXISTS, APP, []),
      req(OP_NOT_IN, TIER, [TIER_BACK]),
      req(OP_DOES_NOT_EXIST, ENV, []),
    ]);
    expect(s.matches(web)).toBe(true);
    expect(s.matches(atoms([APP, APP_DB]))).toBe(true);
    expect(s.matches(atoms([APP, APP_WEB, TIER, TIER_BACK]))).toBe(false); // NotIn fails
    expect(s.matches(atoms([APP, APP_WEB, ENV, ENV_PROD]))).toBe(false); // DoesNotExist fails
    expect(s.matches(atoms([TIER, TIER_FRONT]))).toBe(false); // Exists fails
    // a failing requirement anywhere in the list fails the selector
    expect(selector([req(OP_EXISTS, APP, []), req(OP_EXISTS, TIER, []), req(OP_EXISTS, ENV, [])]).matches(web)).toBe(false);
    expect(selector([req(OP_EXISTS, ENV, []), req(OP_EXISTS, APP, [])]).matches(web)).toBe(false);
  });

  test("a new selector starts with nothing selected and no rules", () => {
    const s = new Selector(9, new Array<Requirement>());
    expect(s.id).toBe(9);
    expect(s.selected.size).toBe(0);
    expect(s.peerOfRules.size).toBe(0);
    expect(s.subjectOfRules.size).toBe(0);
  });
});
