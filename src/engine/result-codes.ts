/**
 * Result codes returned by the engine, mirroring `assembly/errors.ts`.
 * Numbers are stable; `test/result-codes.test.ts` checks both lists agree.
 *
 * @module
 */
export const ENGINE_RESULT = {
  OK: 0,
  ERR_TABLE_TOO_SMALL: 1,
  ERR_DUPLICATE_KEY: 2,
  ERR_RESERVED_ID: 3,
  ERR_CAPACITY: 4,
  ERR_TABLE_SIZE: 5,
  ERR_MAP_OVERFLOW: 100,
  ERR_UNKNOWN_SELECTOR: 101,
  ERR_UNKNOWN_IDENTITY: 102,
  ERR_IDENTITY_EXHAUSTED: 200,
  ERR_IDENTITY_NOT_ALLOCATED: 201,
  ERR_IDENTITY_CONFLICT: 202,
  ERR_IDENTITY_RANGE: 203,
  ERR_IDENTITY_REFS: 204,
} as const;

/** What each code means, for error messages. */
export const ENGINE_RESULT_MEANING: Readonly<Record<number, string>> = {
  0: "ok",
  1: "table size not larger than the number of backends",
  2: "two backends have the same key",
  3: "a backend ID equals the empty-slot marker 0xFFFFFFFF",
  4: "input larger than the reserved capacity",
  5: "table size below 2",
  100: "a policy map would exceed its size limit",
  101: "a rule names a selector that is not defined",
  102: "unknown identity",
  200: "every number of the identity range is in use",
  201: "no allocated identity has that number",
  202: "the identity number or label key is already allocated",
  203: "cluster ID, identity range or identity number out of bounds",
  204: "identity reference count of zero or overflowing",
};
