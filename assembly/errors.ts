// Result codes returned across the WebAssembly boundary.
//
// Numbers are stable: never renumber or reuse one. The host mirrors them in
// `src/engine/result-codes.ts` and turns each into a typed error; a unit test
// checks that the two lists agree.

export const OK: i32 = 0;
/** The table size is not larger than the number of backends. */
export const ERR_TABLE_TOO_SMALL: i32 = 1;
/** Two backends produced the same key string. */
export const ERR_DUPLICATE_KEY: i32 = 2;
/** A backend ID equals the empty-slot marker 0xFFFFFFFF. */
export const ERR_RESERVED_ID: i32 = 3;
/** More backends or key bytes than were reserved before the call. */
export const ERR_CAPACITY: i32 = 4;
/** The table size is below 2, so no skip can be derived. */
export const ERR_TABLE_SIZE: i32 = 5;
/** A policy map would exceed its size limit; output holds [subject, needed]. */
export const ERR_MAP_OVERFLOW: i32 = 100;
/** A rule names a selector the host has not defined. */
export const ERR_UNKNOWN_SELECTOR: i32 = 101;
/** An operation names an identity the resolver does not know. */
export const ERR_UNKNOWN_IDENTITY: i32 = 102;
/** Every number of an identity range is live (identity allocator). */
export const ERR_IDENTITY_EXHAUSTED: i32 = 200;
/** No live identity has that number (identity allocator). */
export const ERR_IDENTITY_NOT_ALLOCATED: i32 = 201;
/** The number or label key is live already, or live in the other scope (identity allocator). */
export const ERR_IDENTITY_CONFLICT: i32 = 202;
/** A cluster ID, range or identity number outside its bounds (identity allocator). */
export const ERR_IDENTITY_RANGE: i32 = 203;
/** A reference count of 0 or one that would overflow (identity allocator). */
export const ERR_IDENTITY_REFS: i32 = 204;
