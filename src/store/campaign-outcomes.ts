/**
 * Outcomes of outreach, per (tier, holdout) group: how many rows, how many converted (a
 * purchase or renewal within the window after sending, or after the would-be time for the
 * holdout), the revenue of those conversions, coupons issued and coupons redeemed.
 *
 * Shaped for the indexes, so the cost grows with the outreach and the purchases of the period
 * asked about, never with all events: outreach by `created_at` (`outreach_created_at_index`);
 * the purchases and renewals between the first send and the last send + window as an
 * index-only range of the partial index `events_conversions_idx` (occurred_at, user_id,
 * amount_minor), hash-joined to the outreach by user; coupon redemptions through the partial
 * `events_coupon_code_index`.
 */
import type { Queryable } from '../db/client.js';

export interface OutcomeGroup {
  tier: string;
  holdout: boolean;
  /** Outreach rows (one per user and cycle). */
  users: number;
  /** Rows with at least one purchase or renewal in their window. */
  conversions: number;
  /** Σ amount of those purchases and renewals, minor units. */
  revenueMinor: number;
  coupons: number;
  /** Coupons whose code appears on a coupon_redeemed or purchase event. */
  redeemed: number;
}

/** Per (tier, holdout): outreach planned on or after `since` and its outcomes within `windowDays` of sending. */
export async function outreachOutcomes(q: Queryable, o: { since: Date; windowDays: number }): Promise<OutcomeGroup[]> {
  if (!Number.isInteger(o.windowDays) || o.windowDays < 1) throw new RangeError(`windowDays must be a positive integer, got ${o.windowDays}`);
  const since = o.since.toISOString();
  // The range of send times bounds the purchases worth reading. As text, so microseconds survive the round trip.
  const [b] = await q.query<{ first: string | null; last: string | null }>(
    `select min(coalesce(sent_at, scheduled_at))::text as first, max(coalesce(sent_at, scheduled_at))::text as last from outreach where created_at >= $1`,
    [since],
  );
  if (!b?.first || !b.last) return [];
  const rows = await q.query<{ tier: string; holdout: boolean; users: number; coupons: number; conversions: number; revenue: number; redeemed: number }>(
    `with o as (
       select o.tier, o.holdout, count(*)::int as users, count(o.coupon_id)::int as coupons
       from outreach o where o.created_at >= $1 group by o.tier, o.holdout
     ), conv as (
       -- One row per (outreach, conversion event): distinct outreach ids are the converted rows.
       select o.tier, o.holdout, count(distinct o.id)::int as conversions, coalesce(sum(e.amount_minor), 0)::float8 as revenue
       from outreach o
       join events e on e.user_id = o.user_id and e.type in ('purchase', 'renewal')
                    and e.occurred_at >= coalesce(o.sent_at, o.scheduled_at)
                    and e.occurred_at < coalesce(o.sent_at, o.scheduled_at) + make_interval(days => $4)
       where o.created_at >= $1 and e.occurred_at >= $2::timestamptz and e.occurred_at < $3::timestamptz + make_interval(days => $4)
       group by o.tier, o.holdout
     ), red as (
       select o.tier, o.holdout, count(*)::int as redeemed
       from outreach o join coupons c on c.id = o.coupon_id
       where o.created_at >= $1 and exists (select 1 from events e where e.coupon_code = c.code and e.type in ('coupon_redeemed', 'purchase'))
       group by o.tier, o.holdout
     )
     select o.tier, o.holdout, o.users, o.coupons, coalesce(conv.conversions, 0)::int as conversions, coalesce(conv.revenue, 0)::float8 as revenue,
            coalesce(red.redeemed, 0)::int as redeemed
     from o left join conv on conv.tier = o.tier and conv.holdout = o.holdout
            left join red on red.tier = o.tier and red.holdout = o.holdout
     order by o.tier, o.holdout`,
    [since, b.first, b.last, o.windowDays],
  );
  return rows.map((r) => ({
    tier: String(r.tier),
    holdout: Boolean(r.holdout),
    users: Number(r.users),
    conversions: Number(r.conversions),
    revenueMinor: Number(r.revenue),
    coupons: Number(r.coupons),
    redeemed: Number(r.redeemed),
  }));
}
