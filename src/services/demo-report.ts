/** Summaries the demo (and later the bot's overview) print: counts, tiers, segments, the latest runs. */
import type { Queryable } from '../db/client.js';

export interface Overview {
  users: number;
  payers: number;
  events: number;
  items: number;
  tiers: Record<string, number>;
  segments: { segment: string; users: number }[];
  personas: { persona: number; users: number }[];
}

export async function overview(q: Queryable): Promise<Overview> {
  const [counts] = await q.query<{ users: number; events: number; items: number; payers: number }>(
    `select (select count(*)::int from users) as users, (select count(*)::int from events) as events,
            (select count(*)::int from items) as items, (select count(*)::int from user_scores) as payers`,
  );
  const tiers = await q.query<{ risk_tier: string; n: number }>('select risk_tier, count(*)::int as n from user_scores group by 1');
  const segments = await q.query<{ segment: string; n: number }>('select segment, count(*)::int as n from user_scores group by 1 order by 2 desc');
  const personas = await q.query<{ persona: number; n: number }>('select persona, count(*)::int as n from user_scores where persona is not null group by 1 order by 1');
  return {
    users: counts!.users,
    payers: counts!.payers,
    events: counts!.events,
    items: counts!.items,
    tiers: Object.fromEntries(tiers.map((t) => [t.risk_tier, t.n])),
    segments: segments.map((s) => ({ segment: s.segment, users: s.n })),
    personas: personas.map((p) => ({ persona: p.persona, users: p.n })),
  };
}
