/** What the recommender reads: user–item interactions, catalogue text and per-user histories. */
import type { Queryable } from '../db/client.js';

export interface CatalogItem {
  id: string;
  title: string;
  tags: string[];
  description: string | null;
  category: string | null;
  itemType: string | null;
}

export async function catalog(q: Queryable): Promise<CatalogItem[]> {
  const rows = await q.query<{ id: string; title: string | null; tags: string[]; description: string | null; category: string | null; item_type: string | null }>(
    `select id, title, tags, description, category, item_type from items order by id`,
  );
  return rows.map((r) => ({ id: r.id, title: r.title ?? r.id, tags: r.tags ?? [], description: r.description, category: r.category, itemType: r.item_type }));
}

/**
 * One row per (user, item) pair before `before`, for users in a seq range: `bought` when the
 * user ever paid for it (a refunded item counts too: we never offer it to them again),
 * else a view or lesson progress.
 */
export async function interactionsForRange(q: Queryable, before: Date, seqFrom: number, seqTo: number): Promise<{ userIds: string[]; itemIds: string[]; bought: boolean[] }> {
  const rows = await q.query<{ user_id: string; item_id: string; bought: boolean }>(
    `select e.user_id, e.item_id,
            bool_or(e.type in ('purchase','renewal')) as bought
     from users u cross join lateral (
       select e.user_id, e.item_id, e.type from events e
       where e.user_id = u.id and e.occurred_at < $1 and e.item_id is not null
         and e.type in ('purchase','renewal','refund','view','lesson_progress')
       offset 0
     ) e
     where u.seq >= $2 and u.seq < $3
     group by e.user_id, e.item_id`,
    [before.toISOString(), seqFrom, seqTo],
  );
  return { userIds: rows.map((r) => r.user_id), itemIds: rows.map((r) => r.item_id), bought: rows.map((r) => r.bought) };
}

/** Items each user bought for the first time in [from, to): the recommendation backtest's truth. */
export async function firstPurchasesBetween(q: Queryable, from: Date, to: Date, seqFrom: number, seqTo: number): Promise<Map<string, Set<string>>> {
  // One aggregate pass (first purchase per user and item), not an anti-join per purchase:
  // its cost does not depend on the planner guessing well on freshly imported tables.
  const rows = await q.query<{ user_id: string; items: string[] }>(
    `select user_id, array_agg(item_id) as items from (
       select e.user_id, e.item_id, min(e.occurred_at) as first_at
       from events e join users u on u.id = e.user_id
       where u.seq >= $3 and u.seq < $4 and e.type = 'purchase' and e.item_id is not null and e.occurred_at < $2
       group by e.user_id, e.item_id
     ) f where first_at >= $1
     group by user_id`,
    [from.toISOString(), to.toISOString(), seqFrom, seqTo],
  );
  return new Map(rows.map((r) => [r.user_id, new Set(r.items)]));
}
