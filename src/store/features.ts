/**
 * Behaviour features as of a date, for a range of users, in ONE set-based statement (no
 * per-user queries): the definitions are src/domain/features.ts. Also returns what BG/NBD
 * and RFM need, and, when a label window is given, whether each user paid in it.
 */
import { FEATURES } from '../domain/features.js';
import type { Queryable } from '../db/client.js';

export interface FeatureRow {
  userId: string;
  seq: number;
  /** In FEATURES order, raw (untransformed). */
  values: Float64Array;
  /** BG/NBD inputs in weeks: repeat payment days, first→last payment, first payment→asOf. */
  x: number;
  tx: number;
  T: number;
  /** RFM inputs. */
  recencyDays: number;
  frequency: number;
  monetaryMinor: number;
  /** Payments in the label window, and the distinct days they fell on, when a window was asked for. */
  labelPayments: number | null;
  labelDays: number | null;
  /** Topic profile: share of viewed/bought interactions per category. */
  categories: Record<string, number>;
}

export interface FeatureQuery {
  asOf: Date;
  /** Users with `seq` in [seqFrom, seqTo). */
  seqFrom: number;
  seqTo: number;
  /** When set, counts payments in [asOf, labelEnd) for training and backtests. */
  labelEnd?: Date | undefined;
  /** Only users with a payment before asOf (the churn population). */
  payersOnly?: boolean;
  /** Membership item → billing period in days (see membershipPeriods); default 30. */
  periods?: Map<string, number>;
}

const DAY = `86400.0`;
const FEATURE_SQL = `
with u as (
  select id, seq, signup_at from users where seq >= $2 and seq < $3
), periods as (
  select * from unnest($5::text[], $6::float8[]) as p(item_id, days)
), ev as (
  select e.user_id, e.type, e.item_id, e.occurred_at, e.amount_minor, e.coupon_code, e.percent, i.category, i.item_type,
         extract(epoch from ($1::timestamptz - e.occurred_at)) / ${DAY} as age
  -- Per user through the (user_id, occurred_at) index: a join let the planner hash all of
  -- events for every chunk (bench:models at 1M users: 10–11 s → 3–5 s a chunk). offset 0
  -- keeps the subquery from being flattened back into that join.
  from u cross join lateral (select * from events e where e.user_id = u.id and e.occurred_at < $1 offset 0) e
  left join items i on i.id = e.item_id
), p as (
  select user_id,
    min(occurred_at) as first_at,
    min(age) filter (where type in ('purchase','renewal')) as recency,
    max(age) filter (where type in ('purchase','renewal')) as first_pay_age,
    count(*) filter (where type in ('purchase','renewal')) as payments,
    count(distinct date_trunc('day', occurred_at)) filter (where type in ('purchase','renewal')) as pay_days,
    coalesce(sum(amount_minor) filter (where type in ('purchase','renewal')), 0) as paid_minor,
    coalesce(sum(amount_minor) filter (where type = 'refund'), 0) as refunded_minor,
    count(*) filter (where type in ('purchase','renewal') and age <= 30) as p30,
    count(*) filter (where type in ('purchase','renewal') and age <= 90) as p90,
    count(*) filter (where type in ('purchase','renewal') and age <= 180) as p180,
    count(*) filter (where type in ('purchase','renewal') and age > 90 and age <= 180) as p_prev90,
    count(*) filter (where type = 'renewal') as renewals,
    count(*) filter (where type = 'purchase') as purchases,
    count(*) filter (where type = 'refund') as refunds,
    count(*) filter (where type = 'subscription_cancel') as cancellations,
    count(*) filter (where type in ('view','lesson_progress') and age <= 30) as views30,
    min(age) filter (where type in ('view','lesson_progress')) as view_age,
    count(distinct category) filter (where type = 'purchase') as categories,
    count(*) filter (where type = 'coupon_redeemed' or (type = 'purchase' and coupon_code is not null)) as coupons,
    count(*) filter (where type = 'payment_failed' and age <= 90) as failed90,
    min(age) filter (where item_type = 'membership' and type in ('purchase','renewal')) as membership_age,
    (array_agg(item_id order by occurred_at desc) filter (where item_type = 'membership' and type in ('purchase','renewal')))[1] as membership_item,
    min(age) filter (where type = 'subscription_cancel') as cancel_age
  from ev group by user_id
), owned as (
  select user_id, item_id, bool_or(type = 'purchase') as owned, max(percent) filter (where type = 'lesson_progress') as pct
  from ev where item_id is not null and type in ('purchase','lesson_progress') group by user_id, item_id
), learning as (
  select user_id, avg(coalesce(pct, 0)) / 100 as completion, count(*) filter (where pct is null) as never_started
  from owned where owned group by user_id
), topics as (
  select user_id, jsonb_object_agg(category, n) as cats from (
    select user_id, category, count(*)::float8 / sum(count(*)) over (partition by user_id) as n
    from ev where category is not null and type in ('view','purchase','lesson_progress','renewal') group by user_id, category
  ) c group by user_id
), lab as (
  select u.id as user_id, count(*) as n, count(distinct date_trunc('day', e.occurred_at)) as days
  from u cross join lateral (
    select e.occurred_at from events e
    where $4::timestamptz is not null and e.user_id = u.id and e.type in ('purchase','renewal') and e.occurred_at >= $1 and e.occurred_at < $4
    offset 0
  ) e
  group by u.id
)
select u.id as user_id, u.seq,
  coalesce(p.recency, extract(epoch from ($1::timestamptz - coalesce(u.signup_at, p.first_at))) / ${DAY}) as recency_days,
  coalesce(p.payments, 0) as frequency,
  greatest(0, coalesce(p.paid_minor, 0) - coalesce(p.refunded_minor, 0)) / 100.0 as monetary_total,
  case when coalesce(p.payments, 0) > 0 then p.paid_minor / 100.0 / p.payments else 0 end as avg_order_value,
  extract(epoch from ($1::timestamptz - least(coalesce(u.signup_at, p.first_at), p.first_at))) / ${DAY} as tenure_days,
  coalesce(p.p30, 0) as payments_30d,
  coalesce(p.p90, 0) as payments_90d,
  coalesce(p.p180, 0) as payments_180d,
  coalesce(p.renewals, 0) as renewals,
  coalesce(p.refunds, 0) as refunds,
  case when coalesce(p.purchases, 0) > 0 then least(1.0, p.refunds::float8 / p.purchases) else 0 end as refund_rate,
  coalesce(p.cancellations, 0) as cancellations,
  coalesce(p.views30, 0) as views_30d,
  coalesce(p.view_age, extract(epoch from ($1::timestamptz - least(coalesce(u.signup_at, p.first_at), p.first_at))) / ${DAY}) as days_since_last_view,
  coalesce(p.categories, 0) as distinct_categories,
  coalesce(p.coupons, 0) as coupon_redemptions,
  coalesce(l.completion, 0) as completion,
  coalesce(l.never_started, 0) as never_started,
  greatest(0, coalesce(pr.days, 30) - coalesce(p.membership_age, 1e9)) as days_until_renewal,
  case when p.cancel_age is not null and p.membership_age is not null and p.cancel_age < p.membership_age then 1 else 0 end as auto_renew_off,
  coalesce(p.failed90, 0) as failed_payments_90d,
  (coalesce(p.p90, 0) - coalesce(p.p_prev90, 0))::float8 / (coalesce(p.p90, 0) + coalesce(p.p_prev90, 0) + 1) as trend,
  case when p.membership_age is not null and p.membership_age < coalesce(pr.days, 30) then 1 else 0 end as membership_active,
  greatest(coalesce(p.pay_days, 0) - 1, 0) as bg_x,
  coalesce((p.first_pay_age - p.recency) / 7, 0) as bg_tx,
  coalesce(p.first_pay_age / 7, 0) as bg_t,
  coalesce(p.paid_minor, 0) - coalesce(p.refunded_minor, 0) as monetary_minor,
  case when $4::timestamptz is null then null else coalesce(lab.n, 0) end as label_payments,
  case when $4::timestamptz is null then null else coalesce(lab.days, 0) end as label_days,
  coalesce(t.cats, '{}'::jsonb) as cats
from u
left join p on p.user_id = u.id
left join learning l on l.user_id = u.id
left join topics t on t.user_id = u.id
left join lab on lab.user_id = u.id
left join periods pr on pr.item_id = p.membership_item
where coalesce(u.signup_at, p.first_at) < $1 and (not $7::boolean or coalesce(p.payments, 0) > 0)
order by u.seq`;

export async function featuresAsOf(q: Queryable, f: FeatureQuery): Promise<FeatureRow[]> {
  const periods = f.periods ?? new Map<string, number>();
  const rows = await q.query<Record<string, unknown>>(FEATURE_SQL, [
    f.asOf.toISOString(),
    f.seqFrom,
    f.seqTo,
    f.labelEnd?.toISOString() ?? null,
    [...periods.keys()],
    [...periods.values()],
    f.payersOnly ?? false,
  ]);
  return rows.map((r) => {
    const values = new Float64Array(FEATURES.length);
    FEATURES.forEach((def, i) => (values[i] = Number(r[def.name] ?? 0)));
    const cats = (typeof r.cats === 'string' ? JSON.parse(r.cats) : r.cats) as Record<string, number>;
    return {
      userId: String(r.user_id),
      seq: Number(r.seq),
      values,
      x: Number(r.bg_x),
      tx: Number(r.bg_tx),
      T: Number(r.bg_t),
      recencyDays: Number(r.recency_days),
      frequency: Number(r.frequency),
      monetaryMinor: Number(r.monetary_minor),
      labelPayments: r.label_payments === null || r.label_payments === undefined ? null : Number(r.label_payments),
      labelDays: r.label_days === null || r.label_days === undefined ? null : Number(r.label_days),
      categories: cats,
    };
  });
}

/**
 * Billing period per membership item: the median gap between a user's consecutive payments
 * for it, over everyone (renewals only; few rows). Items without two payments default to 30 days.
 */
export async function membershipPeriods(q: Queryable, asOf: Date): Promise<Map<string, number>> {
  const rows = await q.query<{ item_id: string; days: number }>(
    `select item_id, percentile_cont(0.5) within group (order by gap) as days from (
       select e.item_id, extract(epoch from e.occurred_at - lag(e.occurred_at) over (partition by e.user_id, e.item_id order by e.occurred_at)) / 86400.0 as gap
       from events e join items i on i.id = e.item_id
       where i.item_type = 'membership' and e.type in ('purchase','renewal') and e.occurred_at < $1
     ) g where gap is not null and gap > 1 group by item_id`,
    [asOf.toISOString()],
  );
  return new Map(rows.map((r) => [r.item_id, Math.round(Number(r.days))]));
}

/** The users' seq range, to split work into chunks. */
export async function userSeqRange(q: Queryable): Promise<{ min: number; max: number; count: number }> {
  const [r] = await q.query<{ min: number | null; max: number | null; count: number }>('select min(seq) as min, max(seq) as max, count(*)::int as count from users');
  return { min: Number(r?.min ?? 1), max: Number(r?.max ?? 0), count: Number(r?.count ?? 0) };
}
