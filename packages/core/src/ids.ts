/** Ids that become path segments (run names, leaderboard entries, dataset and threat-model ids). */

/**
 * An id that becomes one path segment (a run name, a leaderboard entry, dataset or threat-model id):
 * starts with a letter or digit, then letters, digits, `.`, `_`, `-`, at most 128 characters in all.
 * So never `.`, `..`, a hidden name, a separator or an option-like `-x`. The leaderboard entry schema
 * (`definitions.segment`) carries the same pattern; a test keeps the two equal.
 */
export const SAFE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const SAFE_ID = new RegExp(SAFE_ID_PATTERN);

/** Whether `value` is a safe path segment (SAFE_ID_PATTERN). */
export function isSafeId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_ID.test(value);
}
