/**
 * Security identities: labels, the label filter, reserved identities, CIDR
 * labels and the allocator.
 *
 * @module
 */
export {
  createIdentityAllocator,
  type IdentityAllocator, type IdentityAllocatorOptions, type IdentityRange,
  type IdentitySnapshot, type SnapshotIdentity,
} from "./allocator.js";
export {
  canonicalKey, compareKeys, formatLabel, kvstoreForm, LABEL_SOURCES, parseCanonicalKey, parseLabel,
  parseLabelSet, sortLabels, type Label, type LabelErrorCode,
} from "./labels.js";
export {
  createLabelFilter, DEFAULT_LABEL_PATTERNS, defaultLabelFilter, parseLabelPattern,
  type LabelFilter, type LabelFilterOptions, type LabelPattern, type LabelPrefixFile,
} from "./label-filter.js";
export {
  isReservedIdentity, isReservedName, RESERVED_IDENTITY, reservedIdentities, reservedIdentityOf, reservedLabels,
  type ReservedName,
} from "./reserved.js";
export { cidrLabels, parseCidr, parseCidrLabelKey, worldLabelName, type CidrPrefix } from "./cidr.js";
