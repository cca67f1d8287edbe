/**
 * Settling: an outreach row (treated or holdout, ours or imported) whose conversion window
 * `[coalesce(sent_at, scheduled_at), + windowDays)` has closed becomes one `outreach_outcomes`
 * row, written once, and the outreach row gets `settled_at`. Reports and the uplift model read
 * outcomes, never raw events over a window.
 *
 * One statement per batch: claim up to `limit` due rows (`for update skip locked`, in
 * `scheduled_at` order through the partial `outreach_unsettled_idx`), read each row's user's
 * events of the window through the (user_id, occurred_at) index in one lateral pass, insert
 * the outcomes (`on conflict do nothing`), mark the rows settled and stamp `coupons.redeemed_at`.
 * A single statement is atomic, so a crash settles a batch fully or not at all; two runs at
 * once claim disjoint rows (skip locked), and a row another run settled meanwhile fails the
 * `settled_at is null` recheck after the lock wait (READ COMMITTED re-evaluates it), so each
 * outcome is written once.
 */
import type { Queryable } from '../db/client.js';

export interface SettleBatchOptions {
  /** The service clock: windows closed at or before it are due (never SQL `now()`: simulated clocks move it). */
  now: Date;
  windowDays: number;
  /** The most rows this batch claims. */
  limit: number;
  /** Percent off assumed for an imported coupon that was redeemed without a reported discount; null: 0. */
  couponPercent: number | null;
}

export interface SettleBatchResult {
  /** Rows claimed: due and not locked by another run. Fewer than `limit` means nothing more is due (or the rest is being settled). */
  claimed: number;
  /** Outcome rows written. */
  settled: number;
  converted: number;
  redeemed: number;
}

// The discount a percent coupon gave on what was paid: paid = gross × (1 − pct/100), so the
// discount is paid × pct / (100 − pct). At 100% nothing was paid: the list price, if known.
const percentOff = (pct: string) =>
  `case when f.rp_paid is null then 0
        when ${pct} >= 100 then coalesce(f.rp_list, 0)
        else round(f.rp_paid * ${pct} / (100.0 - ${pct})) end`;

const SETTLE_SQL = `
with due as (
  select o.id
  from outreach o
  where o.settled_at is null
    -- The index's range: a row's window never opens before it was scheduled (sent_at ≥ scheduled_at).
    and o.scheduled_at <= $1::timestamptz - make_interval(days => $2::int)
    and coalesce(o.sent_at, o.scheduled_at) + make_interval(days => $2::int) <= $1::timestamptz
  -- Index order only: a tie-breaker would sort every row of a cycle (they share scheduled_at).
  order by o.scheduled_at
  limit $3
  for update of o skip locked
), r as (
  select o.id, o.cycle_id, o.campaign, o.user_id, o.tier, o.channel, o.holdout, o.policy, o.origin,
         coalesce(o.sent_at, o.scheduled_at) as ws,
         coalesce(o.sent_at, o.scheduled_at) + make_interval(days => $2::int) as we,
         c.id as coupon_id, c.kind as coupon_kind, c.value as coupon_value,
         coalesce(c.code, o.coupon_code) as code,
         case when c.id is null then o.discount_minor end as reported_discount
  from due join outreach o on o.id = due.id
  left join coupons c on c.id = o.coupon_id
), x as (
  -- users by primary key per row (a join here was planned as a scan of all users per batch).
  select r.*, coalesce((select u.unsubscribed_at >= r.ws and u.unsubscribed_at < r.we from users u where u.id = r.user_id), false) as unsubscribed, w.*
  from r
  cross join lateral (
    select count(*) filter (where e.type in ('purchase', 'renewal'))::int as conversions,
           coalesce(sum(e.amount_minor) filter (where e.type in ('purchase', 'renewal')), 0)::bigint as revenue,
           coalesce(bool_or(e.type = 'email_click'), false) as clicked,
           min(e.occurred_at) filter (where e.coupon_code = r.code and e.type in ('purchase', 'coupon_redeemed')) as redeemed_at,
           -- The purchase the coupon went on: the first carrying the code, else (a redemption
           -- reported on its own event) the first purchase of the window.
           coalesce((array_agg(e.amount_minor order by e.occurred_at, e.event_id) filter (where e.type = 'purchase' and e.coupon_code = r.code))[1],
                    (array_agg(e.amount_minor order by e.occurred_at, e.event_id) filter (where e.type = 'purchase'))[1]) as rp_paid,
           coalesce((array_agg(e.item_id order by e.occurred_at, e.event_id) filter (where e.type = 'purchase' and e.coupon_code = r.code))[1],
                    (array_agg(e.item_id order by e.occurred_at, e.event_id) filter (where e.type = 'purchase'))[1]) as rp_item,
           coalesce((array_agg(coalesce(e.quantity, 1) order by e.occurred_at, e.event_id) filter (where e.type = 'purchase' and e.coupon_code = r.code))[1],
                    (array_agg(coalesce(e.quantity, 1) order by e.occurred_at, e.event_id) filter (where e.type = 'purchase'))[1]) as rp_qty
    from events e
    where e.user_id = r.user_id and e.occurred_at >= r.ws and e.occurred_at < r.we
  ) w
), f as (
  select x.*, i.price_minor * x.rp_qty as rp_list,
         -- Imported rows: the other tool's reported discount is a redemption even without our events.
         x.redeemed_at is not null or coalesce(x.reported_discount, 0) > 0 as redeemed
  from x
  -- The list price matters only when nothing was paid (an amount coupon covering it all, or 100% off).
  left join items i on i.id = x.rp_item and x.rp_paid = 0
), g as (
  select f.*,
         case when not f.redeemed then 0
              when f.coupon_id is null then coalesce(f.reported_discount, case when $4::int is null then 0 else ${percentOff('$4::int')} end)
              when f.coupon_kind = 'amount' then least(f.coupon_value, case when f.rp_paid > 0 then f.rp_paid + f.coupon_value else coalesce(f.rp_list, f.coupon_value) end)
              else ${percentOff('f.coupon_value')} end::bigint as discount
  from f
), ins as (
  insert into outreach_outcomes (outreach_id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin, window_start, window_days,
                                 converted, conversions, revenue_minor, coupon_redeemed, discount_minor, clicked, unsubscribed, settled_at)
  select g.id, g.cycle_id, g.campaign, g.user_id, g.tier, g.channel, g.holdout, g.policy, g.origin, g.ws, $2::int,
         g.conversions > 0, g.conversions, g.revenue, g.redeemed, g.discount, g.clicked, g.unsubscribed, $1::timestamptz
  from g
  on conflict (outreach_id) do nothing
  returning converted, coupon_redeemed
), mark as (
  -- = any(array(…)): probes by primary key, where a join was planned as a scan of all outreach.
  update outreach o set settled_at = $1::timestamptz where o.id = any(array(select id from due))
), redeem as (
  update coupons c set redeemed_at = g.redeemed_at
  from g
  where c.id = any(array(select coupon_id from g where redeemed_at is not null)) and c.id = g.coupon_id and c.redeemed_at is null
)
select (select count(*) from r)::int as claimed, count(*)::int as settled,
       count(*) filter (where converted)::int as converted, count(*) filter (where coupon_redeemed)::int as redeemed
from ins`;

/** Settles up to `o.limit` due outreach rows in one statement (see the module note); returns what it did. */
export async function settleBatch(q: Queryable, o: SettleBatchOptions): Promise<SettleBatchResult> {
  const [r] = await q.query<SettleBatchResult>(SETTLE_SQL, [o.now.toISOString(), o.windowDays, o.limit, o.couponPercent]);
  return { claimed: Number(r?.claimed ?? 0), settled: Number(r?.settled ?? 0), converted: Number(r?.converted ?? 0), redeemed: Number(r?.redeemed ?? 0) };
}
