/**
 * Attribution and uplift. A conversion is a purchase or renewal within N days of outreach —
 * for the holdout, of the time it would have been sent. Treated vs holdout is compared by
 * assignment (intention to treat): every non-holdout row counts as treated, sent or not, so
 * a delivery failure cannot make the treatment look better than it is.
 */
import { upliftWithCI, revenuePerUser } from '../domain/uplift.js';
import type { Queryable } from '../db/client.js';
import { outreachOutcomes } from '../store/campaign-outcomes.js';

export interface GroupStats {
  users: number;
  conversions: number;
  conversionRate: number;
  revenueMinor: number;
  revenuePerUserMinor: number;
}

export interface TierReport {
  tier: string;
  treated: GroupStats;
  holdout: GroupStats;
  uplift: number | null;
  ci95: [number, number] | null;
  pValue: number | null;
  coupons: { issued: number; redeemed: number; redemptionRate: number | null };
}

export interface CampaignReport {
  since: string;
  windowDays: number;
  tiers: TierReport[];
  overall: TierReport;
}

/** Treated vs holdout per tier and overall, for outreach planned on or after `since` (see outreachOutcomes for the cost). */
export async function campaignReport(q: Queryable, o: { since: Date; windowDays: number }): Promise<CampaignReport> {
  const rows = await outreachOutcomes(q, o);
  const tiers = [...new Set(rows.map((r) => r.tier))].sort();
  const build = (tier: string, pick: (r: (typeof rows)[number]) => boolean): TierReport => {
    const sum = (holdout: boolean) => {
      const sel = rows.filter((r) => pick(r) && r.holdout === holdout);
      const users = sel.reduce((a, r) => a + r.users, 0);
      const conversions = sel.reduce((a, r) => a + r.conversions, 0);
      const revenue = sel.reduce((a, r) => a + r.revenueMinor, 0);
      return { users, conversions, revenue, coupons: sel.reduce((a, r) => a + r.coupons, 0), redeemed: sel.reduce((a, r) => a + r.redeemed, 0) };
    };
    const t = sum(false);
    const h = sum(true);
    const u = upliftWithCI({ n: t.users, conversions: t.conversions }, { n: h.users, conversions: h.conversions });
    const stats = (g: typeof t): GroupStats => ({
      users: g.users,
      conversions: g.conversions,
      conversionRate: g.users ? g.conversions / g.users : 0,
      revenueMinor: g.revenue,
      revenuePerUserMinor: g.users ? revenuePerUser(g.revenue, g.users) : 0,
    });
    const finite = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
    return {
      tier,
      treated: stats(t),
      holdout: stats(h),
      uplift: finite(u.uplift),
      ci95: u.ci && Number.isFinite(u.ci[0]) && Number.isFinite(u.ci[1]) ? [u.ci[0], u.ci[1]] : null,
      pValue: finite(u.pValue),
      coupons: { issued: t.coupons, redeemed: t.redeemed, redemptionRate: t.coupons ? t.redeemed / t.coupons : null },
    };
  };
  return {
    since: o.since.toISOString(),
    windowDays: o.windowDays,
    tiers: tiers.map((tier) => build(tier, (r) => r.tier === tier)),
    overall: build('all', () => true),
  };
}
