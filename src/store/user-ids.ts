import type { Queryable } from '../db/client.js';

/** Tokens a question may name users by, at most: a lookup stays one bounded primary-key probe. */
export const MAX_ID_LOOKUP = 10;

/**
 * Which of `ids` are users: one query on the primary key (`id = any($1)`), whatever the count.
 * Throws a RangeError for more than {@link MAX_ID_LOOKUP} ids (callers bound their candidates).
 */
export async function existingUserIds(q: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  if (ids.length > MAX_ID_LOOKUP) throw new RangeError(`existingUserIds: at most ${MAX_ID_LOOKUP} ids per lookup (got ${ids.length})`);
  const rows = await q.query<{ id: string }>('select id from users where id = any($1::text[])', [ids]);
  return new Set(rows.map((r) => String(r.id)));
}
