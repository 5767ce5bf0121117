/**
 * A rejection line (`file: Kind ns/name: field: problem (got value)`, as
 * src/state and src/cluster word them) split into log fields, so that a
 * log collector can group rejections by file, object and field.
 *
 * Pure module.
 *
 * @module
 */

const KINDS = "Namespace|Pod|Service|EndpointSlice|Node|NetworkPolicy|CiliumNetworkPolicy|CiliumClusterwideNetworkPolicy";
const LINE = new RegExp(`^(.+?): ((?:${KINDS}) [^\\s:]+): ([^\\s:][^:]*?): (.*)$`);

/** Log fields of a rejection: `file`, `object`, `field` and `problem` where the line has them, and the whole `line`. */
export function describeRejection(line: string): Record<string, string> {
  const m = LINE.exec(line);
  if (!m) return { line };
  return { file: m[1]!, object: m[2]!, field: m[3]!, problem: m[4]!, line };
}
