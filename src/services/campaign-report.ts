/**
 * The campaign report: what outreach bought, from settled outcomes only (src/services/settle.ts
 * writes them once a row's conversion window closes). Treated vs holdout by assignment
 * (intention to treat): every non-holdout row counts as treated, sent or not, so a delivery
 * failure cannot make the treatment look better than it is; holdout rows by design never got
 * an offer.
 *
 * Per offer, tier, offer × tier, cycle and overall: conversion rates and their difference (the
 * uplift), incremental conversions (uplift × treated rows), incremental gross revenue ((gross
 * per treated row − gross per holdout row) × treated rows, gross = paid + discount), the
 * coupon cost (Σ discount of the treated), net incremental revenue (incremental gross − cost,
 * which is the paid-revenue difference × treated rows because the holdout gets no discount) and
 * ROI (net / cost). A user has one row per cycle, so rows are not independent: every interval
 * is the cluster-robust (by user) normal interval of src/domain/uplift.ts.
 */
import { clusteredDifference, type ClusterSums, type ClusteredDifference } from '../domain/uplift.js';
import type { Queryable } from '../db/client.js';
import { outcomeSums, pendingOutreach, type ArmSums, type MetricSums, type OutcomeRange } from '../store/campaign-outcomes.js';

/** Cycles in the per-cycle view and the trend when the caller names none. */
export const DEFAULT_REPORT_CYCLES = 8;

/** One arm of a group. "Per user" means per row: a user in one cycle. */
export interface ArmStats {
  /** Outreach rows (assignments: a user in one cycle). */
  n: number;
  /** Distinct users among them. */
  users: number;
  /** Rows with a purchase or renewal in their window. */
  conversions: number;
  conversionRate: number | null;
  /** Purchases and renewals in the windows (a converted row may hold several). */
  purchases: number;
  /** Σ paid for purchases and renewals in the windows (minor units). */
  revenueMinor: number;
  /** Σ paid + discount (minor units). */
  grossRevenueMinor: number;
  discountMinor: number;
  revenuePerUserMinor: number | null;
  grossRevenuePerUserMinor: number | null;
  clicks: number;
  clickRate: number | null;
  unsubscribes: number;
  unsubscribeRate: number | null;
}

/** A 95% interval; null where undefined (an empty arm, fewer than 2 users in an arm). */
export type Ci95 = [number, number] | null;

/** Treated vs holdout of one group. Money in minor units of the report's currency. */
export interface SegmentReport {
  /** The group's label: the offer, the tier, `offer/tier`, the cycle id, or `all`. */
  key: string;
  /** `coupon`, `email`, or `all`. */
  offer: string;
  /** A risk tier, or `all`. */
  tier: string;
  treated: ArmStats;
  holdout: ArmStats;
  /** Treated − holdout conversion rate. */
  uplift: number | null;
  upliftCi: Ci95;
  /** uplift × treated rows. */
  incrementalConversions: number | null;
  incrementalConversionsCi: Ci95;
  /** (gross per treated row − gross per holdout row) × treated rows. */
  incrementalRevenueMinor: number | null;
  incrementalRevenueCi: Ci95;
  /** Σ discount of the treated. */
  couponCostMinor: number;
  /** incremental gross revenue − coupon cost. */
  netIncrementalRevenueMinor: number | null;
  netIncrementalRevenueCi: Ci95;
  /** net incremental revenue / coupon cost; null when the cost is 0. */
  roi: number | null;
  /** Of the treated: coupons issued (rows of the coupon offer) and redeemed. */
  coupons: { issued: number; redeemed: number; redemptionRate: number | null };
}

export interface CycleReport extends SegmentReport {
  cycleId: string;
  /** The cycle's first window start (ISO 8601). */
  windowStart: string;
}

export interface TrendPoint {
  cycleId: string;
  windowStart: string;
  treated: number;
  holdout: number;
  netIncrementalRevenueMinor: number | null;
  netIncrementalRevenueCi: Ci95;
  couponCostMinor: number;
  roi: number | null;
}

export interface CampaignReport {
  /** The window starts covered (ISO 8601); null: unbounded. */
  since: string | null;
  until: string | null;
  /** The conversion window outcomes are settled with (CONVERSION_WINDOW_DAYS). */
  windowDays: number;
  /** The currency of every `…Minor` amount, as the caller named it; null if it did not. */
  currency: string | null;
  /** Settled outcome rows in the range. */
  settled: number;
  /** Outreach rows in the range whose outcome is not settled yet. */
  unsettled: number;
  /** Of those, rows whose window is still open, and rows whose window closed but no settle run reached yet; null without `now`. */
  unsettledWindowOpen: number | null;
  unsettledDue: number | null;
  /** When the first still-open window closes (ISO 8601); null when none is open or without `now`. */
  nextWindowCloseAt: string | null;
  offers: SegmentReport[];
  tiers: SegmentReport[];
  offerTiers: SegmentReport[];
  /** The last N cycles, oldest first (by their first window start). */
  cycles: CycleReport[];
  overall: SegmentReport;
  /** Per cycle, as in `cycles`: net incremental revenue, cost, ROI. */
  trend: TrendPoint[];
}

export interface CampaignReportOptions {
  since?: Date | undefined;
  until?: Date | undefined;
  /** Cycles in the per-cycle view and the trend (default {@link DEFAULT_REPORT_CYCLES}). */
  cycles?: number | undefined;
  windowDays: number;
  /** The caller's clock, to tell open windows from closed-but-unsettled ones. */
  now?: Date | undefined;
  /** Echoed in the report: the currency of the amounts (COUPON_CURRENCY). */
  currency?: string | undefined;
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

function sums(a: ArmSums | undefined, m: (a: ArmSums) => MetricSums): ClusterSums {
  if (!a) return { clusters: 0, n: 0, nn: 0, y: 0, yy: 0, yn: 0 };
  const s = m(a);
  return { clusters: a.users, n: a.n, nn: a.nn, y: s.y, yy: s.yy, yn: s.yn };
}

function arm(a: ArmSums | undefined): ArmStats {
  const n = a?.n ?? 0;
  const conversions = a?.converted.y ?? 0;
  const paid = a?.paid.y ?? 0;
  const gross = a?.gross.y ?? 0;
  return {
    n,
    users: a?.users ?? 0,
    conversions,
    conversionRate: ratio(conversions, n),
    purchases: a?.purchases ?? 0,
    revenueMinor: paid,
    grossRevenueMinor: gross,
    discountMinor: a?.discountMinor ?? 0,
    revenuePerUserMinor: ratio(paid, n),
    grossRevenuePerUserMinor: ratio(gross, n),
    clicks: a?.clicks ?? 0,
    clickRate: ratio(a?.clicks ?? 0, n),
    unsubscribes: a?.unsubscribes ?? 0,
    unsubscribeRate: ratio(a?.unsubscribes ?? 0, n),
  };
}

/** An interval scaled to the treated arm and centred on `value`: value ± half-width × scale. */
function ci(value: number | null, d: ClusteredDifference, scale: number): Ci95 {
  const half = ((d.ci[1] - d.ci[0]) / 2) * scale;
  return value !== null && Number.isFinite(half) ? [value - half, value + half] : null;
}

/** Treated vs holdout of one group. */
function segment(key: string, offer: string, tier: string, treated: ArmSums | undefined, holdout: ArmSums | undefined): SegmentReport {
  const t = arm(treated);
  const nT = t.n;
  const conv = clusteredDifference(sums(treated, (a) => a.converted), sums(holdout, (a) => a.converted));
  const gross = clusteredDifference(sums(treated, (a) => a.gross), sums(holdout, (a) => a.gross));
  const paid = clusteredDifference(sums(treated, (a) => a.paid), sums(holdout, (a) => a.paid));
  const cost = t.discountMinor;
  const uplift = finite(conv.difference);
  const incrementalConversions = uplift === null ? null : uplift * nT;
  const incrementalRevenue = finite(gross.difference * nT);
  const net = incrementalRevenue === null ? null : incrementalRevenue - cost;
  const issued = treated?.couponRows ?? 0;
  const redeemed = treated?.redeemed ?? 0;
  return {
    key,
    offer,
    tier,
    treated: t,
    holdout: arm(holdout),
    uplift,
    upliftCi: ci(uplift, conv, 1),
    incrementalConversions,
    incrementalConversionsCi: ci(incrementalConversions, conv, nT),
    incrementalRevenueMinor: incrementalRevenue,
    incrementalRevenueCi: ci(incrementalRevenue, gross, nT),
    couponCostMinor: cost,
    // Net = incremental gross − cost: its uncertainty is the paid-revenue difference's (the
    // same quantity, the holdout getting no discount), centred on the net itself.
    netIncrementalRevenueMinor: net,
    netIncrementalRevenueCi: ci(net, paid, nT),
    roi: cost > 0 && net !== null ? net / cost : null,
    coupons: { issued, redeemed, redemptionRate: ratio(redeemed, issued) },
  };
}

function groups(rows: ArmSums[], key: (a: ArmSums) => string): Map<string, { treated?: ArmSums; holdout?: ArmSums; first: Date }> {
  const out = new Map<string, { treated?: ArmSums; holdout?: ArmSums; first: Date }>();
  for (const r of rows) {
    const k = key(r);
    const g = out.get(k) ?? { first: r.firstWindowStart };
    if (r.holdout) g.holdout = r;
    else g.treated = r;
    if (r.firstWindowStart < g.first) g.first = r.firstWindowStart;
    out.set(k, g);
  }
  return out;
}

/**
 * The report over outcomes whose window started in [since, until): per offer, tier,
 * offer × tier, the last `cycles` cycles and overall, the trend, and how many outreach rows
 * are still waiting to settle. Five grouped statements over `outreach_outcomes` and one
 * count of unsettled outreach; no events are read.
 */
export async function campaignReport(q: Queryable, o: CampaignReportOptions): Promise<CampaignReport> {
  const cycles = o.cycles ?? DEFAULT_REPORT_CYCLES;
  if (!Number.isInteger(cycles) || cycles < 1) throw new RangeError(`campaignReport: cycles must be a positive integer (got ${String(cycles)})`);
  if (!Number.isInteger(o.windowDays) || o.windowDays < 1) throw new RangeError(`campaignReport: windowDays must be a positive integer (got ${String(o.windowDays)})`);
  const range: OutcomeRange = { since: o.since, until: o.until };
  const [byOffer, byTier, byOfferTier, byCycle, all, pending] = await Promise.all([
    outcomeSums(q, 'offer', range),
    outcomeSums(q, 'tier', range),
    outcomeSums(q, 'offer-tier', range),
    outcomeSums(q, 'cycle', range, cycles),
    outcomeSums(q, 'overall', range),
    pendingOutreach(q, { ...range, now: o.now, windowDays: o.windowDays }),
  ]);
  const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const offers = sorted(groups(byOffer, (a) => a.offer ?? '')).map(([k, g]) => segment(k, k, 'all', g.treated, g.holdout));
  const tiers = sorted(groups(byTier, (a) => a.tier ?? '')).map(([k, g]) => segment(k, 'all', k, g.treated, g.holdout));
  const offerTiers = sorted(groups(byOfferTier, (a) => `${a.offer}\u0000${a.tier}`)).map(([, g]) => {
    const any = (g.treated ?? g.holdout) as ArmSums;
    return segment(`${any.offer}/${any.tier}`, any.offer ?? '', any.tier ?? '', g.treated, g.holdout);
  });
  const cycleReports: CycleReport[] = [...groups(byCycle, (a) => a.cycleId ?? '').entries()]
    .sort(([a, x], [b, y]) => x.first.getTime() - y.first.getTime() || (a < b ? -1 : a > b ? 1 : 0))
    .map(([cycleId, g]) => ({ cycleId, windowStart: g.first.toISOString(), ...segment(cycleId, 'all', 'all', g.treated, g.holdout) }));
  const overallGroups = groups(all, () => 'all').get('all');
  const overall = segment('all', 'all', 'all', overallGroups?.treated, overallGroups?.holdout);
  return {
    since: o.since?.toISOString() ?? null,
    until: o.until?.toISOString() ?? null,
    windowDays: o.windowDays,
    currency: o.currency ?? null,
    settled: overall.treated.n + overall.holdout.n,
    unsettled: pending.rows,
    unsettledWindowOpen: pending.windowOpen,
    unsettledDue: pending.due,
    nextWindowCloseAt: pending.nextCloseAt?.toISOString() ?? null,
    offers,
    tiers,
    offerTiers,
    cycles: cycleReports,
    overall,
    trend: cycleReports.map((c) => ({
      cycleId: c.cycleId,
      windowStart: c.windowStart,
      treated: c.treated.n,
      holdout: c.holdout.n,
      netIncrementalRevenueMinor: c.netIncrementalRevenueMinor,
      netIncrementalRevenueCi: c.netIncrementalRevenueCi,
      couponCostMinor: c.couponCostMinor,
      roi: c.roi,
    })),
  };
}
