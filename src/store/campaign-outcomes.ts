/**
 * Outcomes of outreach, per (tier, holdout) group: how many rows, how many converted (a
 * purchase or renewal within the window after sending, or after the would-be time for the
 * holdout), the revenue of those conversions, coupons issued and coupons redeemed.
 *
 * Two statements shaped for the indexes, so the cost grows with the outreach and the purchases
 * of the period asked about, never with all events: outreach by `created_at`
 * (`outreach_created_at_index`); the purchases and renewals between the first send and the
 * last send + window as an index-only range of the partial index `events_conversions_idx`
 * (occurred_at, user_id, amount_minor), hash-joined to the outreach by user; coupon
 * redemptions through the partial `events_coupon_code_index`. At 1M users with one cycle of
 * 127k outreach rows: ~0.15–0.2 s (bench:bot); linear in the outreach rows of the period.
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
  // One pass over the period's outreach: the groups, their coupons and redemptions, and the
  // range of send times that bounds the purchases worth reading (as text, so microseconds
  // survive the round trip). Redeemed codes are a hashed subplan while they fit in memory,
  // else a probe of the partial coupon_code index per coupon.
  const groups = await q.query<{ tier: string; holdout: boolean; users: number; coupons: number; redeemed: number; first: string; last: string }>(
    `select o.tier, o.holdout, count(*)::int as users, count(o.coupon_id)::int as coupons,
            count(*) filter (where c.code in (select e.coupon_code from events e where e.coupon_code is not null and e.type in ('coupon_redeemed', 'purchase')))::int as redeemed,
            (min(min(coalesce(o.sent_at, o.scheduled_at))) over ())::text as first,
            (max(max(coalesce(o.sent_at, o.scheduled_at))) over ())::text as last
     from outreach o left join coupons c on c.id = o.coupon_id
     where o.created_at >= $1
     group by o.tier, o.holdout
     order by o.tier, o.holdout`,
    [since],
  );
  const first = groups[0];
  if (!first) return [];
  // One row per (outreach, conversion event): its distinct outreach ids are the converted rows.
  const conversions = await q.query<{ tier: string; holdout: boolean; conversions: number; revenue: number }>(
    `select o.tier, o.holdout, count(distinct o.id)::int as conversions, coalesce(sum(e.amount_minor), 0)::float8 as revenue
     from outreach o
     join events e on e.user_id = o.user_id and e.type in ('purchase', 'renewal')
                  and e.occurred_at >= coalesce(o.sent_at, o.scheduled_at)
                  and e.occurred_at < coalesce(o.sent_at, o.scheduled_at) + make_interval(days => $4)
     where o.created_at >= $1 and e.occurred_at >= $2::timestamptz and e.occurred_at < $3::timestamptz + make_interval(days => $4)
     group by o.tier, o.holdout`,
    [since, first.first, first.last, o.windowDays],
  );
  const key = (r: { tier: string; holdout: boolean }) => `${r.tier}\u0000${Boolean(r.holdout)}`;
  const conv = new Map(conversions.map((r) => [key(r), r]));
  return groups.map((g) => {
    const c = conv.get(key(g));
    return {
      tier: String(g.tier),
      holdout: Boolean(g.holdout),
      users: Number(g.users),
      conversions: Number(c?.conversions ?? 0),
      revenueMinor: Number(c?.revenue ?? 0),
      coupons: Number(g.coupons),
      redeemed: Number(g.redeemed),
    };
  });
}
