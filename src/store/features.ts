/**
 * Behaviour features as of a date, for a range of users, in ONE set-based statement per
 * chunk (no per-user queries): the definitions are src/domain/features.ts. Also returns what
 * BG/NBD and RFM need, and, when a label window is given, whether each user paid in it.
 *
 * The statement aggregates each user's events in a lateral subquery that reads them through
 * the (user_id, occurred_at) index: no sort or hash of the chunk's events, nothing spilled
 * (bench:models at 1M users: 3.3–4.4 s → ~1.3 s a 50k-user chunk). What needs the item
 * catalogue (categories, memberships, per-item progress) comes back as compact lists and is
 * finished here against the catalogue, which is small (items, not events).
 */
import { FEATURE_NAMES, type FeatureName } from '../domain/features.js';
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

/** What the features need to know about items: category and whether it is a membership. */
export interface ItemDims {
  category: Map<string, string>;
  memberships: string[];
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
  periods?: Map<string, number> | undefined;
  /**
   * Only a deterministic share of the users, chosen by a hash of `seq` (see sampleSeqSql),
   * so a sample costs what it holds, not the whole population.
   */
  fraction?: number | undefined;
  /** The item catalogue's dimensions (itemDims); loaded when not given. */
  items?: ItemDims | undefined;
}

const DAY_MS = 86_400_000;
/** Separators for the lists the statement returns: ids cannot hold control characters (src/domain/events.ts). */
const SEP = '\u001e';
const PAIR = '\u001f';

/**
 * A share of users (the fraction in parameter `param`) by a multiplicative hash of their seq
 * (Knuth): deterministic, the same on every PostgreSQL, independent of behaviour.
 */
const seqSample = (param: string) => `(${param}::float8 >= 1 or ((seq * 2654435761) % 4294967296) < ${param}::float8 * 4294967296)`;

/** Event types as small integers inside the feature statement (see TYPE_CODE). */
const T = { view: 1, lesson_progress: 2, purchase: 3, renewal: 4, refund: 5, subscription_cancel: 6, payment_failed: 7, coupon_redeemed: 8 } as const;
const TYPE_CODE = `case e.type ${Object.entries(T).map(([k, v]) => `when '${k}' then ${v}`).join(' ')} else 0 end`;
const PAY = `e.t between ${T.purchase} and ${T.renewal}`;
const BROWSE = `e.t between ${T.view} and ${T.lesson_progress}`;
/** Views, lesson progress, purchases and renewals: what a topic profile counts. */
const TOUCH = `e.t between ${T.view} and ${T.renewal}`;
const PAY_TYPE = `e.type in ('purchase','renewal')`;
const FEATURE_SQL = `
with u as materialized (
  select id, seq, signup_at from users where seq >= $2 and seq < $3 and ${seqSample('$7')}
)
select u.id as user_id, u.seq, lab.*,
  p.payments, p.pay_days, p.paid_minor, p.refunded_minor, p.p30, p.p90, p.p180, p.renewals, p.purchases, p.refunds,
  p.cancellations, p.views30, p.coupons, p.failed90, p.touched, p.bought, p.progress, p.memberships,
  -- Times as epoch milliseconds: numbers are cheaper to move and parse than timestamps.
  extract(epoch from u.signup_at) * 1000 as signup_ms, extract(epoch from p.first_at) * 1000 as first_ms,
  extract(epoch from p.first_pay_at) * 1000 as first_pay_ms, extract(epoch from p.last_pay_at) * 1000 as last_pay_ms,
  extract(epoch from p.last_view_at) * 1000 as last_view_ms, extract(epoch from p.last_cancel_at) * 1000 as last_cancel_ms
from u
cross join lateral (
  select
    min(e.occurred_at) as first_at,
    min(e.occurred_at) filter (where ${PAY}) as first_pay_at,
    max(e.occurred_at) filter (where ${PAY}) as last_pay_at,
    count(*) filter (where ${PAY}) as payments,
    count(distinct date_trunc('day', e.occurred_at)) filter (where ${PAY}) as pay_days,
    coalesce(sum(e.amount_minor) filter (where ${PAY}), 0) as paid_minor,
    coalesce(sum(e.amount_minor) filter (where e.t = ${T.refund}), 0) as refunded_minor,
    count(*) filter (where ${PAY} and e.occurred_at >= $1::timestamptz - interval '720 hours') as p30,
    count(*) filter (where ${PAY} and e.occurred_at >= $1::timestamptz - interval '2160 hours') as p90,
    count(*) filter (where ${PAY} and e.occurred_at >= $1::timestamptz - interval '4320 hours') as p180,
    count(*) filter (where e.t = ${T.renewal}) as renewals,
    count(*) filter (where e.t = ${T.purchase}) as purchases,
    count(*) filter (where e.t = ${T.refund}) as refunds,
    count(*) filter (where e.t = ${T.subscription_cancel}) as cancellations,
    max(e.occurred_at) filter (where e.t = ${T.subscription_cancel}) as last_cancel_at,
    count(*) filter (where ${BROWSE} and e.occurred_at >= $1::timestamptz - interval '720 hours') as views30,
    max(e.occurred_at) filter (where ${BROWSE}) as last_view_at,
    count(*) filter (where e.t = ${T.coupon_redeemed} or (e.t = ${T.purchase} and e.coupon_code is not null)) as coupons,
    count(*) filter (where e.t = ${T.payment_failed} and e.occurred_at >= $1::timestamptz - interval '2160 hours') as failed90,
    string_agg(e.item_id, '${SEP}') filter (where ${TOUCH}) as touched,
    string_agg(e.item_id, '${SEP}') filter (where e.t = ${T.purchase}) as bought,
    string_agg(e.item_id || '${PAIR}' || e.percent::text, '${SEP}') filter (where e.t = ${T.lesson_progress}) as progress,
    string_agg(e.item_id || '${PAIR}' || (extract(epoch from e.occurred_at) * 1000)::bigint::text, '${SEP}') filter (where ${PAY} and e.item_id = any($5::text[])) as memberships
  -- Each event's type as a small integer, computed once per row (offset 0 keeps the subquery
  -- from being flattened, which would repeat it in every filter): two dozen text comparisons
  -- per event were a large share of the statement.
  from (
    select e.occurred_at, e.item_id, e.amount_minor, e.percent, e.coupon_code, ${TYPE_CODE} as t
    from events e
    where e.user_id = u.id and e.occurred_at < $1
    offset 0
  ) e
) p
cross join lateral (
  select count(*) as label_payments, count(distinct date_trunc('day', e.occurred_at)) as label_days
  from events e
  where $4::timestamptz is not null and e.user_id = u.id and ${PAY_TYPE} and e.occurred_at >= $1 and e.occurred_at < $4
) lab
where coalesce(u.signup_at, p.first_at) < $1 and (not $6::boolean or p.payments > 0)`;

export async function itemDims(q: Queryable): Promise<ItemDims> {
  const rows = await q.query<{ id: string; category: string | null; item_type: string | null }>('select id, category, item_type from items');
  const category = new Map<string, string>();
  const memberships: string[] = [];
  for (const r of rows) {
    if (r.category !== null) category.set(r.id, r.category);
    if (r.item_type === 'membership') memberships.push(r.id);
  }
  return { category, memberships };
}

const list = (v: unknown): string[] => (typeof v === 'string' && v.length > 0 ? v.split(SEP) : []);
const ms = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function featuresAsOf(q: Queryable, f: FeatureQuery): Promise<FeatureRow[]> {
  const periods = f.periods ?? new Map<string, number>();
  const items = f.items ?? (await itemDims(q));
  const rows = await q.query<Record<string, unknown>>(FEATURE_SQL, [
    f.asOf.toISOString(),
    f.seqFrom,
    f.seqTo,
    f.labelEnd?.toISOString() ?? null,
    items.memberships,
    f.payersOnly ?? false,
    f.fraction ?? 1,
  ]);
  const asOf = f.asOf.getTime();
  const days = (t: number) => (asOf - t) / DAY_MS;
  const out = rows.map((r): FeatureRow => {
    const payments = Number(r.payments);
    const purchases = Number(r.purchases);
    const paid = Number(r.paid_minor);
    const refunded = Number(r.refunded_minor);
    const firstAt = ms(r.first_ms);
    const signupAt = ms(r.signup_ms);
    const startAt = Math.min(signupAt ?? firstAt!, firstAt ?? signupAt!);
    const tenure = days(startAt);
    const lastPay = ms(r.last_pay_ms);
    const firstPay = ms(r.first_pay_ms);
    const recency = lastPay !== null ? days(lastPay) : days(signupAt ?? firstAt!);
    const lastView = ms(r.last_view_ms);
    const p90 = Number(r.p90);
    const prev90 = Number(r.p180) - p90;
    // Categories: of what was bought, and the shares of everything touched.
    const boughtCats = new Set<string>();
    for (const id of list(r.bought)) {
      const c = items.category.get(id);
      if (c !== undefined) boughtCats.add(c);
    }
    const counts: Record<string, number> = {};
    let touched = 0;
    for (const id of list(r.touched)) {
      const c = items.category.get(id);
      if (c === undefined) continue;
      counts[c] = (counts[c] ?? 0) + 1;
      touched++;
    }
    for (const c in counts) counts[c]! /= touched;
    // Learning: mean completion of owned items (max lesson percent), and owned items never started.
    const owned = new Map<string, number>();
    for (const id of list(r.bought)) owned.set(id, -1);
    for (const pair of list(r.progress)) {
      const i = pair.lastIndexOf(PAIR);
      const id = pair.slice(0, i);
      const pct = Number(pair.slice(i + 1));
      const had = owned.get(id);
      if (had !== undefined && pct > had) owned.set(id, pct);
    }
    let completion = 0;
    let neverStarted = 0;
    for (const pct of owned.values()) {
      if (pct < 0) neverStarted++;
      else completion += pct;
    }
    completion = owned.size ? completion / 100 / owned.size : 0;
    // Membership: the newest membership payment, its item's billing period, cancellations after it.
    let memberAt = -Infinity;
    let memberItem = '';
    for (const pair of list(r.memberships)) {
      const i = pair.lastIndexOf(PAIR);
      const at = Number(pair.slice(i + 1));
      if (at > memberAt) [memberAt, memberItem] = [at, pair.slice(0, i)];
    }
    const period = periods.get(memberItem) ?? 30;
    const memberAge = memberAt > -Infinity ? days(memberAt) : null;
    const lastCancel = ms(r.last_cancel_ms);
    const feature: Record<FeatureName, number> = {
      recency_days: recency,
      frequency: payments,
      monetary_total: Math.max(0, paid - refunded) / 100,
      avg_order_value: payments > 0 ? paid / 100 / payments : 0,
      tenure_days: tenure,
      payments_30d: Number(r.p30),
      payments_90d: p90,
      payments_180d: Number(r.p180),
      renewals: Number(r.renewals),
      refunds: Number(r.refunds),
      refund_rate: purchases > 0 ? Math.min(1, Number(r.refunds) / purchases) : 0,
      cancellations: Number(r.cancellations),
      views_30d: Number(r.views30),
      days_since_last_view: lastView !== null ? days(lastView) : tenure,
      distinct_categories: boughtCats.size,
      coupon_redemptions: Number(r.coupons),
      completion,
      never_started: neverStarted,
      days_until_renewal: memberAge !== null ? Math.max(0, period - memberAge) : 0,
      auto_renew_off: memberAge !== null && lastCancel !== null && lastCancel > memberAt ? 1 : 0,
      failed_payments_90d: Number(r.failed90),
      trend: (p90 - prev90) / (p90 + prev90 + 1),
      membership_active: memberAge !== null && memberAge < period ? 1 : 0,
    };
    const values = new Float64Array(FEATURE_NAMES.length);
    for (let i = 0; i < FEATURE_NAMES.length; i++) values[i] = feature[FEATURE_NAMES[i]!];
    const firstPayAge = firstPay !== null ? days(firstPay) : null;
    return {
      userId: String(r.user_id),
      seq: Number(r.seq),
      values,
      x: Math.max(Number(r.pay_days) - 1, 0),
      tx: firstPayAge !== null ? (firstPayAge - recency) / 7 : 0,
      T: firstPayAge !== null ? firstPayAge / 7 : 0,
      recencyDays: recency,
      frequency: payments,
      monetaryMinor: paid - refunded,
      labelPayments: f.labelEnd ? Number(r.label_payments) : null,
      labelDays: f.labelEnd ? Number(r.label_days) : null,
      categories: counts,
    };
  });
  // The nested loop yields users in seq order already; sorting here is cheaper than asking
  // PostgreSQL to (it would spill the lists to disk).
  return out.sort((a, b) => a.seq - b.seq);
}

/** Users whose membership payments `membershipPeriods` reads (a seq-hash sample when there are more). */
const PERIOD_SAMPLE_USERS = 20_000;
/** Gaps an item needs in the sample; items with fewer (rare plans) are read in full. */
const PERIOD_MIN_GAPS = 10;

/**
 * Billing period per membership item: the median gap between a user's consecutive payments
 * for it. Read from a deterministic sample of users through the (user_id, occurred_at) index,
 * not from every event (a median needs dozens of gaps, not millions: 3.3 s → 0.7 s at 16M
 * events); an item with too few gaps in the sample (a rare plan) is read in full through the
 * item index. Items without two payments default to 30 days.
 */
export async function membershipPeriods(q: Queryable, asOf: Date, sampleUsers = PERIOD_SAMPLE_USERS): Promise<Map<string, number>> {
  const [{ users } = { users: 0 }] = await q.query<{ users: number }>('select count(*)::int as users from users');
  const fraction = users > sampleUsers ? sampleUsers / users : 1;
  const memberships = (await q.query<{ id: string }>(`select id from items where item_type = 'membership'`)).map((r) => r.id);
  if (memberships.length === 0) return new Map();
  const sampled = await q.query<{ item_id: string; days: number; gaps: number }>(
    `select item_id, percentile_cont(0.5) within group (order by gap) as days, count(*)::int as gaps from (
       select e.item_id, extract(epoch from e.occurred_at - lag(e.occurred_at) over (partition by u.id, e.item_id order by e.occurred_at)) / 86400.0 as gap
       from users u
       cross join lateral (
         select e.item_id, e.occurred_at from events e
         where e.user_id = u.id and e.occurred_at < $1 and e.type in ('purchase','renewal') and e.item_id = any($3::text[])
         offset 0
       ) e
       where ${seqSample('$2')}
     ) g where gap is not null and gap > 1 group by item_id`,
    [asOf.toISOString(), fraction, memberships],
  );
  const periods = new Map(sampled.filter((r) => fraction >= 1 || r.gaps >= PERIOD_MIN_GAPS).map((r) => [r.item_id, Math.round(Number(r.days))]));
  const rare = memberships.filter((id) => !periods.has(id));
  if (fraction < 1 && rare.length > 0) {
    const full = await q.query<{ item_id: string; days: number }>(
      `select item_id, percentile_cont(0.5) within group (order by gap) as days from (
         select e.item_id, extract(epoch from e.occurred_at - lag(e.occurred_at) over (partition by e.user_id, e.item_id order by e.occurred_at)) / 86400.0 as gap
         from events e
         where e.item_id = any($2::text[]) and e.occurred_at < $1 and e.type in ('purchase','renewal')
       ) g where gap is not null and gap > 1 group by item_id`,
      [asOf.toISOString(), rare],
    );
    for (const r of full) periods.set(r.item_id, Math.round(Number(r.days)));
  }
  return periods;
}

/**
 * The share of users who paid before `asOf`, estimated on a seq-hash sample of about 10k
 * users (one index probe each), so samples can be sized in payers without counting them all.
 */
export async function payerShare(q: Queryable, asOf: Date): Promise<{ users: number; share: number }> {
  const [{ users } = { users: 0 }] = await q.query<{ users: number }>('select count(*)::int as users from users');
  if (users === 0) return { users, share: 0 };
  const fraction = Math.min(1, 10_000 / users);
  const [r] = await q.query<{ sampled: number; payers: number }>(
    `select count(*)::int as sampled,
            count(*) filter (where exists (select 1 from events e where e.user_id = u.id and e.occurred_at < $1 and e.type in ('purchase','renewal')))::int as payers
     from users u where ${seqSample('$2')}`,
    [asOf.toISOString(), fraction],
  );
  const sampled = Number(r?.sampled ?? 0);
  return { users, share: sampled > 0 ? Math.max(Number(r?.payers ?? 0), 1) / sampled : 1 };
}

/** The share of users to read for about `maxPayers` payers (1 when there are no more than that). */
export function payerSampleFraction(p: { users: number; share: number }, maxPayers: number): number {
  const payers = p.users * p.share;
  return payers > maxPayers ? maxPayers / payers : 1;
}

/** The users' seq range, to split work into chunks. */
export async function userSeqRange(q: Queryable): Promise<{ min: number; max: number; count: number }> {
  const [r] = await q.query<{ min: number | null; max: number | null; count: number }>('select min(seq) as min, max(seq) as max, count(*)::int as count from users');
  return { min: Number(r?.min ?? 1), max: Number(r?.max ?? 0), count: Number(r?.count ?? 0) };
}
