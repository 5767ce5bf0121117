/**
 * Service names and the table file each one is written to.
 *
 * Names become file names, so they are restricted to characters that are
 * safe on every file system; `/` and `:` are allowed because Kubernetes
 * names services `namespace/name:port`. Two names that map to one file
 * (`a/b` and `a_b`, or `Web` and `web` on a case-insensitive file system)
 * are rejected, since one table would overwrite the other.
 *
 * @module
 */

/** The longest name accepted; the file name must stay under the usual 255-byte limit. */
export const MAX_SERVICE_NAME_LENGTH = 200;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/** Why `name` cannot name a service, or `undefined` when it can. */
export function serviceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_SERVICE_NAME_LENGTH) return `must be at most ${MAX_SERVICE_NAME_LENGTH} characters`;
  if (!NAME_PATTERN.test(name)) {
    return "must start with a letter or digit and hold only letters, digits and . _ - / :";
  }
  return undefined;
}

/** The table file of a service, relative to the output directory: `tables/<safe-name>.bin`. */
export function tableFileName(name: string): string {
  return `tables/${name.replace(/[/:]/g, "_")}.bin`;
}

/** The key two names collide on: same file on a case-insensitive file system. */
export function tableFileKey(name: string): string {
  return tableFileName(name).toLowerCase();
}
