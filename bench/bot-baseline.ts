/**
 * The insight queries as they were before precomputed aggregates, the digest baseline table and
 * the campaign-outcome rewrite (commit fee360c), kept verbatim so bench:bot times them beside
 * today's on the same data. Not used by the app. The whole-population totals need no copy
 * here: their live versions are still in src/store (the fallback for a run without aggregates).
 *
 * The old digest baseline was a jsonb array of every high-tier user id in one `settings` row;
 * these read and write it under LEGACY_SNAPSHOT_KEY so they never touch the real one.
 */
import type { Queryable } from '../src/db/client.js';
import { RFM_SEGMENTS } from '../src/ml/rfm.js';

export const LEGACY_SNAPSHOT_KEY = 'bench.legacy_high_risk_snapshot';

const VAR = (a: string) => `(${a}.expected_value_minor * ${a}.churn_probability)`;
const RANKED_COLUMNS = (s: string) =>
  `${s}.user_id, ${s}.churn_probability, ${s}.risk_tier, ${s}.segment, ${s}.p_alive, ${s}.expected_value_minor,
   ${VAR(s)} as value_at_risk, ${s}.explanation->0->>'feature' as top_feature`;
const SNAPSHOT_IDS = `select p.id from settings st cross join lateral jsonb_array_elements_text(st.value->'users') as p(id) where st.key = '${LEGACY_SNAPSHOT_KEY}'`;

/** The digest's "became high" list and count against the jsonb snapshot (hashed NOT IN subplans). */
export async function legacyNewHighRiskUsers(q: Queryable, runId: number, n: number): Promise<{ total: number; users: unknown[] }> {
  const [rows, [count]] = await Promise.all([
    q.query<Record<string, unknown>>(
      `select t.*, u.name, u.email from (
         select c.* from unnest($3::text[]) as seg(name)
         cross join lateral (
           select ${RANKED_COLUMNS('s')} from user_scores s
           where s.segment = seg.name and s.risk_tier = 'high' and s.model_run_id = $1 and s.user_id not in (${SNAPSHOT_IDS})
           order by ${VAR('s')} desc nulls last limit $2
         ) c
         order by c.value_at_risk desc nulls last, c.user_id limit $2
       ) t join users u on u.id = t.user_id
       order by t.value_at_risk desc nulls last, t.user_id`,
      [runId, n, RFM_SEGMENTS],
    ),
    q.query<{ n: number }>(
      `select count(*)::int as n from user_scores s where s.risk_tier = 'high' and s.model_run_id = $1 and s.user_id not in (${SNAPSHOT_IDS})`,
      [runId],
    ),
  ]);
  return { total: Number(count?.n ?? 0), users: rows };
}

/** The old snapshot write: every high-tier id of the run as one jsonb array. */
export async function legacySaveDigestSnapshot(q: Queryable, runId: number, by: string): Promise<number> {
  const [r] = await q.query<{ users: number }>(
    `insert into settings (key, value, updated_by)
     select $1, jsonb_build_object('runId', $2::bigint, 'users', coalesce(jsonb_agg(s.user_id order by s.user_id), '[]'::jsonb)), $3
     from user_scores s where s.risk_tier = 'high' and s.model_run_id = $2
     on conflict (key) do update set value = excluded.value, updated_at = now(), updated_by = excluded.updated_by
     returning jsonb_array_length(value->'users') as users`,
    [LEGACY_SNAPSHOT_KEY, runId, by],
  );
  return Number(r?.users ?? 0);
}

/** The old campaign report statement (its rows; the uplift arithmetic on top is unchanged). */
export async function legacyCampaignRows(q: Queryable, o: { since: Date; windowDays: number }): Promise<unknown[]> {
  return q.query(
    `with o as (
       select o.id, o.user_id, o.tier, o.holdout, coalesce(o.sent_at, o.scheduled_at) as t0, o.coupon_id
       from outreach o where o.created_at >= $1
     ), conv as (
       select o.id,
              count(e.event_id) > 0 as converted,
              coalesce(sum(e.amount_minor), 0) as revenue
       from o left join events e on e.user_id = o.user_id and e.type in ('purchase','renewal')
                                 and e.occurred_at >= o.t0 and e.occurred_at < o.t0 + make_interval(days => $2)
       group by o.id
     )
     select o.tier, o.holdout, count(*)::int as users, count(*) filter (where c.converted)::int as conversions,
            sum(c.revenue)::float8 as revenue, count(o.coupon_id)::int as coupons,
            count(*) filter (where o.coupon_id is not null and exists (
              select 1 from coupons cp join events e on e.coupon_code = cp.code and e.type in ('coupon_redeemed','purchase') where cp.id = o.coupon_id))::int as redeemed
     from o join conv c on c.id = o.id
     group by o.tier, o.holdout`,
    [o.since.toISOString(), o.windowDays],
  );
}
