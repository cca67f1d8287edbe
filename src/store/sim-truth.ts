/**
 * The simulator's ground truth per outreach row (table sim_truth). Written only by
 * `rekindle simulate`; read only by tests, `simulate --json` and the benchmarks — never by a
 * model or a report a growth team sees.
 */
import type { Queryable } from '../db/client.js';

export interface TruthRow {
  outreachId: number;
  userId: string;
  channel: string;
  holdout: boolean;
  pNone: number;
  pCoupon: number;
  pEmail: number;
  revenueNone: number;
  revenueCoupon: number;
  revenueEmail: number;
  discountCoupon: number;
}

export async function insertTruth(q: Queryable, rows: readonly TruthRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) {
    const b = rows.slice(i, i + 5000);
    await q.query(
      `insert into sim_truth (outreach_id, user_id, channel, holdout, p_none, p_coupon, p_email, revenue_none, revenue_coupon, revenue_email, discount_coupon)
       select t.id, t.user_id, t.channel, t.holdout::boolean, t.p0, t.pc, t.pe, t.r0, t.rc, t.re, t.dc
       from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])
         as t(id, user_id, channel, holdout, p0, pc, pe, r0, rc, re, dc)
       on conflict (outreach_id) do nothing`,
      [
        b.map((r) => r.outreachId),
        b.map((r) => r.userId),
        b.map((r) => r.channel),
        b.map((r) => String(r.holdout)),
        b.map((r) => r.pNone),
        b.map((r) => r.pCoupon),
        b.map((r) => r.pEmail),
        b.map((r) => r.revenueNone),
        b.map((r) => r.revenueCoupon),
        b.map((r) => r.revenueEmail),
        b.map((r) => r.discountCoupon),
      ],
    );
  }
}

/** The truth about the treated rows whose outcomes have settled, per offer and overall. */
export interface TruthSummary {
  offer: string;
  /** Treated rows (settled). */
  rows: number;
  /** Mean true effect on conversion of what was sent: P(convert | offer) − P(convert | nothing). */
  averageEffect: number;
  /** Σ true effects: the conversions the outreach really added. */
  incrementalConversions: number;
  /** Σ (expected paid revenue with the offer − without), minor units: net of every discount. */
  netIncrementalRevenueMinor: number;
  /** Σ expected discount given, minor units. */
  expectedDiscountMinor: number;
}

/** Per offer and `all`, over treated rows settled into outreach_outcomes (so it matches the report's rows). */
export async function truthSummary(q: Queryable): Promise<TruthSummary[]> {
  const rows = await q.query<{ offer: string | null; rows: number; effect: number | null; inc: number | null; rev: number | null; disc: number | null }>(
    `select o.channel as offer, count(*)::int as rows,
            avg(case o.channel when 'coupon' then t.p_coupon else t.p_email end - t.p_none)::float8 as effect,
            sum(case o.channel when 'coupon' then t.p_coupon else t.p_email end - t.p_none)::float8 as inc,
            sum(case o.channel when 'coupon' then t.revenue_coupon else t.revenue_email end - t.revenue_none)::float8 as rev,
            sum(case o.channel when 'coupon' then t.discount_coupon else 0 end)::float8 as disc
     from sim_truth t join outreach_outcomes o on o.outreach_id = t.outreach_id
     where not o.holdout
     group by grouping sets ((o.channel), ())
     order by o.channel nulls last`,
  );
  return rows.map((r) => ({
    offer: r.offer ?? 'all',
    rows: Number(r.rows),
    averageEffect: Number(r.effect ?? 0),
    incrementalConversions: Number(r.inc ?? 0),
    netIncrementalRevenueMinor: Number(r.rev ?? 0),
    expectedDiscountMinor: Number(r.disc ?? 0),
  }));
}
