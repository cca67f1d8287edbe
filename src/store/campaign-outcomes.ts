/**
 * The campaign report's reads: settled outcomes (`outreach_outcomes`) summed per group of a
 * view (offer, tier, offer × tier, cycle, overall) and arm, as the cluster sums the uplift
 * interval needs (src/domain/uplift.ts `ClusterSums`): one grouped statement per view, first
 * per user within the group, then per group. Nothing is read from events, so the cost is one
 * pass over the outcomes of the period, whatever the event volume. Plus the outreach rows not
 * settled yet, through the partial `outreach_unsettled_idx`.
 */
import type { Queryable } from '../db/client.js';

export type OutcomeView = 'offer' | 'tier' | 'offer-tier' | 'cycle' | 'overall';

export interface OutcomeRange {
  /** window_start ≥ since. */
  since?: Date | undefined;
  /** window_start < until. */
  until?: Date | undefined;
}

/** Σ, Σ of squares and Σ·n over users of one per-user sum (see `ClusterSums`). */
export interface MetricSums {
  y: number;
  yy: number;
  yn: number;
}

/** One arm (treated or holdout) of one group of a view. */
export interface ArmSums {
  /** The group's keys; null where the view does not split by it. */
  offer: string | null;
  tier: string | null;
  cycleId: string | null;
  holdout: boolean;
  /** G: distinct users. */
  users: number;
  /** Σ n_u (rows) and Σ n_u². */
  n: number;
  nn: number;
  /** Per-user sums of: rows that converted, revenue paid, gross revenue (paid + discount). */
  converted: MetricSums;
  paid: MetricSums;
  gross: MetricSums;
  /** Plain totals: purchases and renewals in the windows (a row can hold several), discount, clicks… */
  purchases: number;
  discountMinor: number;
  clicks: number;
  unsubscribes: number;
  redeemed: number;
  /** Rows of the coupon offer (for the treated: coupons issued). */
  couponRows: number;
  /** The group's earliest window start. */
  firstWindowStart: Date;
}

const KEYS: Record<OutcomeView, readonly ('channel' | 'tier' | 'cycle_id')[]> = {
  offer: ['channel'],
  tier: ['tier'],
  'offer-tier': ['channel', 'tier'],
  cycle: ['cycle_id'],
  overall: [],
};

type Row = Record<string, string | number | boolean | Date | null>;

/**
 * Per (group of `view`, arm): the cluster sums of the outcomes whose window started in
 * `range`. For the `cycle` view only the `cycles` cycles with the latest first window start.
 */
export async function outcomeSums(q: Queryable, view: OutcomeView, range: OutcomeRange, cycles?: number): Promise<ArmSums[]> {
  const keys = KEYS[view];
  const params: unknown[] = [];
  const where: string[] = [];
  if (range.since) where.push(`window_start >= $${params.push(range.since.toISOString())}::timestamptz`);
  if (range.until) where.push(`window_start < $${params.push(range.until.toISOString())}::timestamptz`);
  const filter = where.length ? `where ${where.join(' and ')}` : '';
  let source = `(select * from outreach_outcomes ${filter}) o`;
  if (view === 'cycle') {
    if (!(Number.isInteger(cycles) && (cycles as number) >= 1)) throw new RangeError(`outcomeSums: the cycle view needs cycles, a positive integer (got ${String(cycles)})`);
    const n = params.push(cycles);
    source = `(select * from outreach_outcomes ${filter}${filter ? ' and' : ' where'} cycle_id in (
                 select cycle_id from outreach_outcomes ${filter} group by cycle_id order by min(window_start) desc, cycle_id desc limit $${n})) o`;
  }
  const k = keys.map((c) => `${c}, `).join('');
  // float8, not numeric: 4× faster here, and 53 bits hold sums of squares of minor units far past any report's need.
  const metric = (name: string) => `sum(${name}) as ${name}_y, sum(${name} * ${name}) as ${name}_yy, sum(${name} * n) as ${name}_yn`;
  const rows = await q.query<Row>(
    `select ${k}holdout, count(*)::int as users, sum(n) as n, sum(n * n) as nn,
            ${metric('converted')}, ${metric('paid')}, ${metric('gross')},
            sum(purchases)::float8 as purchases, sum(discount)::float8 as discount, sum(clicks)::float8 as clicks,
            sum(unsubscribes)::float8 as unsubscribes, sum(redeemed)::float8 as redeemed, sum(coupon_rows)::float8 as coupon_rows,
            min(first) as first
     from (
       select ${k}holdout, user_id, count(*)::float8 as n,
              count(*) filter (where converted)::float8 as converted,
              sum(revenue_minor)::float8 as paid, sum(revenue_minor + discount_minor)::float8 as gross,
              sum(conversions) as purchases, sum(discount_minor) as discount,
              count(*) filter (where clicked) as clicks, count(*) filter (where unsubscribed) as unsubscribes,
              count(*) filter (where coupon_redeemed) as redeemed, count(*) filter (where channel = 'coupon') as coupon_rows,
              min(window_start) as first
       from ${source}
       group by ${k}holdout, user_id
     ) u
     group by ${k}holdout
     order by ${k}holdout`,
    params,
  );
  const m = (r: Row, name: string): MetricSums => ({ y: Number(r[`${name}_y`]), yy: Number(r[`${name}_yy`]), yn: Number(r[`${name}_yn`]) });
  return rows.map((r) => ({
    offer: keys.includes('channel') ? String(r.channel) : null,
    tier: keys.includes('tier') ? String(r.tier) : null,
    cycleId: keys.includes('cycle_id') ? String(r.cycle_id) : null,
    holdout: Boolean(r.holdout),
    users: Number(r.users),
    n: Number(r.n),
    nn: Number(r.nn),
    converted: m(r, 'converted'),
    paid: m(r, 'paid'),
    gross: m(r, 'gross'),
    purchases: Number(r.purchases),
    discountMinor: Number(r.discount),
    clicks: Number(r.clicks),
    unsubscribes: Number(r.unsubscribes),
    redeemed: Number(r.redeemed),
    couponRows: Number(r.coupon_rows),
    firstWindowStart: new Date(r.first as string | Date),
  }));
}

export interface PendingOutreach {
  /** Outreach rows not settled yet (window start in the range). */
  rows: number;
  /** Of those, rows whose window is still open at `now`; null without `now`. */
  windowOpen: number | null;
  /** Of those, rows whose window closed but that no settle run has reached yet; null without `now`. */
  due: number | null;
  /** When the first still-open window closes; null when none is open or without `now`. */
  nextCloseAt: Date | null;
}

/** The outreach rows whose outcome is not settled yet, for a report to say why it is short. */
export async function pendingOutreach(q: Queryable, o: OutcomeRange & { now?: Date | undefined; windowDays: number }): Promise<PendingOutreach> {
  const params: unknown[] = [o.windowDays, o.now?.toISOString() ?? null];
  const where = ['settled_at is null'];
  if (o.since) where.push(`coalesce(sent_at, scheduled_at) >= $${params.push(o.since.toISOString())}::timestamptz`);
  if (o.until) where.push(`coalesce(sent_at, scheduled_at) < $${params.push(o.until.toISOString())}::timestamptz`);
  const [r] = await q.query<{ rows: number; open: number | null; next: string | Date | null }>(
    `select count(*)::int as rows,
            case when $2::timestamptz is null then null
                 else count(*) filter (where coalesce(sent_at, scheduled_at) + make_interval(days => $1::int) > $2::timestamptz)::int end as open,
            case when $2::timestamptz is null then null
                 else min(coalesce(sent_at, scheduled_at) + make_interval(days => $1::int))
                        filter (where coalesce(sent_at, scheduled_at) + make_interval(days => $1::int) > $2::timestamptz) end as next
     from outreach where ${where.join(' and ')}`,
    params,
  );
  const rows = Number(r?.rows ?? 0);
  const open = r?.open === null || r?.open === undefined ? null : Number(r.open);
  return { rows, windowOpen: open, due: open === null ? null : rows - open, nextCloseAt: r?.next ? new Date(r.next) : null };
}
