/**
 * Planning with the value policy: once an uplift model run has passed its gate, offers follow
 * expected net value within the coupon budget and the email limit, every row carries its
 * policy, reason and features, and without a passing run the risk tiers decide and say why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FEATURE_NAMES } from '../../src/domain/features.js';
import { UPLIFT_FEATURE_NAMES } from '../../src/domain/uplift-features.js';
import { silentLogger } from '../../src/logger.js';
import { fitUplift } from '../../src/ml/uplift.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { couponDiscount } from '../../src/domain/value-policy.js';
import { planOutreach } from '../../src/services/outreach-plan.js';
import { outreachSettings, type OutreachSettings } from '../../src/services/outreach-settings.js';
import { rescore } from '../../src/services/rescore.js';
import { seedPlatform } from '../../src/services/seed.js';
import { insertModelRun } from '../../src/store/model-runs.js';
import { Rng } from '../../src/synth/prng.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

const NOW = new Date('2026-10-01T03:00:00Z');
const COUPONS = FEATURE_NAMES.indexOf('coupon_redemptions');
const RECENCY = FEATURE_NAMES.indexOf('recency_days');

/** An uplift model where coupons work on coupon lovers and emails on recent buyers (and nothing else). */
function syntheticModels(): Record<'coupon' | 'email', unknown> {
  const rng = new Rng(5);
  const nCols = UPLIFT_FEATURE_NAMES.length;
  const fit = (offer: 'coupon' | 'email') => {
    const n = 6000;
    const x = new Float64Array(n * nCols);
    const t = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < nCols; j++) x[i * nCols + j] = rng.normal();
      t[i] = rng.chance(0.5) ? 1 : 0;
      const lever = offer === 'coupon' ? x[i * nCols + COUPONS]! : -x[i * nCols + RECENCY]!;
      const p = 0.2 + (t[i] === 1 && lever > 0.5 ? 0.35 : 0);
      y[i] = rng.chance(p) ? 1 : 0;
    }
    return fitUplift({ x, nRows: n, nCols, treatment: t, y }, { learner: 't-learner', featureNames: UPLIFT_FEATURE_NAMES }).toJSON();
  };
  return { coupon: fit('coupon'), email: fit('email') };
}

/** A finished uplift model run with these params, as the planner loads it. */
function insertUpliftRun(db: TestDatabase['db'], params: Record<string, unknown>): Promise<number> {
  return insertModelRun(db, { kind: 'uplift', status: 'done', asOf: NOW, cutoff: null, horizonDays: null, fallback: null, params, metrics: {}, rowCount: null, positives: null, baseRate: null });
}

describe('planning with the value policy', () => {
  let t: TestDatabase;
  let base: OutreachSettings;
  const d = () => ({ db: t.db, log: silentLogger, now: () => NOW });

  beforeAll(async () => {
    t = await freshDatabase();
    await seedPlatform({ db: t.db, log: silentLogger }, { users: 1500, seed: 4, end: new Date('2026-10-01T00:00:00Z') });
    await rescore(d(), modelSettings(loadConfig({})), { asOf: NOW });
    base = { ...outreachSettings(loadConfig({ QUIET_HOURS: 'off' })), unsubscribeSecret: 'test-unsubscribe-secret-0123456789' };
  }, 180_000);
  afterAll(async () => t?.drop());

  it('without a model that passed its gate, the risk tiers decide, with exploration, and every row and the cycle say why', async () => {
    const r = await planOutreach(d(), { ...base, policy: 'auto' }, 'p-auto');
    expect(r.policy).toBe('tiers');
    expect(r.fallback).toMatch(/no uplift model has been fitted yet/);
    const rows = await t.db.query<{ policy: string; tier: string; channel: string; reason: { policy: string; fallback?: string }; features: { v: number[]; contacts: number } }>(
      `select policy, tier, channel, reason, features from outreach where cycle_id = 'p-auto'`,
    );
    expect(rows.length).toBeGreaterThan(100);
    for (const row of rows) {
      expect(['tiers', 'explore']).toContain(row.policy);
      expect(row.reason.fallback).toMatch(/risk tiers decide/);
      expect(row.features.v).toHaveLength(FEATURE_NAMES.length);
      if (row.policy === 'tiers') expect(row.channel).toBe(row.tier === 'high' ? 'coupon' : 'email');
    }
    // Exploration reaches users the tiers leave out.
    expect(rows.some((x) => x.policy === 'explore' && x.tier === 'low')).toBe(true);
    const [c] = await t.db.query<{ policy: string; policy_fallback: string }>(`select policy, policy_fallback from cycles where id = 'p-auto'`);
    expect(c).toMatchObject({ policy: 'tiers' });
    expect(c!.policy_fallback).toMatch(/no uplift model/);
  });

  it('with a model past its gate: offers by expected value, the budget and the limit never exceeded, reasons stored', async () => {
    await t.db.query(`delete from outreach`);
    const models = syntheticModels();
    const runId = await insertUpliftRun(t.db, { models, impute: new Array(UPLIFT_FEATURE_NAMES.length).fill(0) });
    const budget = 200_00; // ¥200 of expected discounts
    const r = await planOutreach(d(), { ...base, policy: 'uplift', couponBudgetMinor: budget, emailLimit: 40, exploreFraction: 0, holdoutFraction: 0.1 }, 'p-uplift');
    expect(r).toMatchObject({ policy: 'uplift', fallback: null, upliftRunId: runId });
    expect(r.couponSpendMinor).toBeLessThanOrEqual(budget);
    const rows = await t.db.query<{ channel: string; holdout: boolean; policy: string; reason: { value: number; cost: number; rank: number; coupon: { uplift: number; value: number; expectedDiscount: number }; email: { value: number }; upliftRunId: number } }>(
      `select channel, holdout, policy, reason from outreach where cycle_id = 'p-uplift'`,
    );
    const treated = rows.filter((x) => !x.holdout);
    const coupons = treated.filter((x) => x.channel === 'coupon');
    const emails = treated.filter((x) => x.channel === 'email');
    expect(coupons.length).toBeGreaterThan(0);
    expect(emails.length).toBeLessThanOrEqual(40);
    expect(coupons.reduce((a, x) => a + x.reason.cost, 0)).toBeLessThanOrEqual(budget + 1);
    for (const x of rows) {
      expect(x.policy).toBe('uplift');
      expect(x.reason.upliftRunId).toBe(runId);
      expect(x.reason.rank).toBeGreaterThan(0);
    }
    // A coupon went only where its expected net value was positive and beat the email's.
    for (const x of rows.filter((r) => r.channel === 'coupon')) {
      expect(x.reason.coupon.value).toBeGreaterThan(0);
      expect(x.reason.coupon.value).toBeGreaterThanOrEqual(x.reason.email.value);
    }
    // Users skipped for lack of value or budget are counted by reason.
    expect((r.skipped.no_value ?? 0) + (r.skipped.budget ?? 0) + (r.skipped.email_limit ?? 0)).toBeGreaterThan(0);
  });

  it('the model chooses an offer only for the tiers its training rows gave that offer to', async () => {
    await t.db.query(`delete from outreach`);
    // As after a warm-up under the tiers: coupons were seen on high-risk users only, emails on medium-risk ones.
    const support = { coupon: { high: 5000, medium: 40 }, email: { medium: 5000, high: 12 } };
    const runId = await insertUpliftRun(t.db, { models: syntheticModels(), impute: new Array(UPLIFT_FEATURE_NAMES.length).fill(0), support });
    const r = await planOutreach(d(), { ...base, policy: 'uplift', exploreFraction: 0, holdoutFraction: 0.1, frequencyCapDays: 0 }, 'p-support');
    expect(r).toMatchObject({ policy: 'uplift', upliftRunId: runId });
    const rows = await t.db.query<{ tier: string; channel: string; reason: { coupon: { supported?: boolean }; email: { supported?: boolean } } }>(`select tier, channel, reason from outreach where cycle_id = 'p-support'`);
    const by = (tier: string, channel: string) => rows.filter((x) => x.tier === tier && x.channel === channel).length;
    expect(by('high', 'coupon')).toBeGreaterThan(0);
    expect(by('medium', 'email')).toBeGreaterThan(0);
    expect(by('high', 'email') + by('medium', 'coupon') + by('low', 'coupon') + by('low', 'email')).toBe(0);
    // The reason says which offer was out of the model's reach.
    const high = rows.find((x) => x.tier === 'high')!;
    expect(high.reason.email.supported).toBe(false);
    expect(high.reason.coupon.supported).toBeUndefined();
  });

  it("the model's coupons are valued and budgeted at what settled coupons really gave, not at P(convert) × the full discount", async () => {
    await t.db.query(`delete from outreach`);
    await insertUpliftRun(t.db, { models: syntheticModels(), impute: new Array(UPLIFT_FEATURE_NAMES.length).fill(0) });
    // 1,000 settled model coupons, each planned at an expected discount of 1,000 (¥10) that gave 250 on average.
    await t.db.query(
      `with o as (
         insert into outreach (cycle_id, campaign, user_id, tier, channel, holdout, state, scheduled_at, sent_at, policy, reason, settled_at)
         select 'old-' || g, $1, 'u' || g, 'high', 'coupon', false, 'sent', $2::timestamptz, $2::timestamptz, 'uplift', jsonb_build_object('coupon', jsonb_build_object('expectedDiscount', 1000)), now()
         from generate_series(1, 1000) g returning id, cycle_id, user_id)
       insert into outreach_outcomes (outreach_id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin, window_start, window_days, converted, conversions, revenue_minor, coupon_redeemed, discount_minor, clicked, unsubscribed)
       select o.id, o.cycle_id, $1, o.user_id, 'high', 'coupon', false, 'uplift', 'rekindle', $2::timestamptz, 14, true, 1, 0, true, 250, false, false from o`,
      [base.campaign, new Date(NOW.getTime() - 40 * 86_400_000).toISOString()],
    );
    await planOutreach(d(), { ...base, policy: 'uplift', exploreFraction: 0 }, 'p-calibrated');
    const rows = await t.db.query<{ reason: { discountFactor: number } }>(`select reason from outreach where cycle_id = 'p-calibrated'`);
    expect(rows.length).toBeGreaterThan(0);
    // (250 000 + 100 × 1 000) ÷ (1 000 000 + 100 × 1 000)
    for (const r of rows) expect(r.reason.discountFactor).toBeCloseTo(350 / 1100, 3);
    await t.db.query(`delete from outreach_outcomes where cycle_id like 'old-%'`);
  });

  it('with OUTREACH_POLICY=tiers, the model is not used and nobody explores', async () => {
    const r = await planOutreach(d(), { ...base, policy: 'tiers', frequencyCapDays: 0 }, 'p-tiers');
    expect(r.policy).toBe('tiers');
    expect(r.fallback).toBeNull();
    const [{ n }] = (await t.db.query<{ n: number }>(`select count(*)::int as n from outreach where cycle_id = 'p-tiers' and (policy <> 'tiers' or tier = 'low')`)) as [{ n: number }];
    expect(n).toBe(0);
  });

  it('COUPON_BUDGET_DAYS: cycles inside the window share one budget; one past it starts afresh', async () => {
    await t.db.query(`delete from outreach`);
    const budget = 300_00;
    const s = { ...base, policy: 'tiers' as const, frequencyCapDays: 0, holdoutFraction: 0.1, couponBudgetMinor: budget, couponBudgetDays: 7 };
    const at = (days: number) => ({ db: t.db, log: silentLogger, now: () => new Date(NOW.getTime() + days * 86_400_000) });
    const spent = async (cycle: string) => {
      const [r] = await t.db.query<{ cost: number; n: number }>(
        `select coalesce(sum((reason->>'cost')::float8), 0)::float8 as cost, count(*)::int as n from outreach where cycle_id = $1 and channel = 'coupon' and not holdout`,
        [cycle],
      );
      return r!;
    };
    const first = await planOutreach(at(0), s, 'b-day0');
    const c0 = await spent('b-day0');
    expect(c0.n).toBeGreaterThan(0);
    expect(c0.cost).toBeLessThanOrEqual(budget + 1e-6);
    expect(first).toMatchObject({ couponBudgetMinor: budget, couponBudgetSpentMinor: 0 });
    // A day later the same users are eligible again (no cap), but only what day 0 left is there to spend.
    const second = await planOutreach(at(1), s, 'b-day1');
    expect(second.couponBudgetSpentMinor).toBeCloseTo(c0.cost, 6);
    expect(second.couponBudgetMinor).toBeCloseTo(budget - c0.cost, 6);
    const c1 = await spent('b-day1');
    expect(c0.cost + c1.cost).toBeLessThanOrEqual(budget + 1e-6);
    // The high-risk users day 0 could not afford got the win-back email; day 1 affords fewer still.
    expect(c1.n).toBeLessThan(c0.n);
    // Nine days on, both cycles are outside the 7-day window: the whole budget again.
    const third = await planOutreach(at(9), s, 'b-day9');
    expect(third).toMatchObject({ couponBudgetMinor: budget, couponBudgetSpentMinor: 0 });
    expect((await spent('b-day9')).cost).toBeCloseTo(c0.cost, 0);
  });

  it("while the tiers decide, a coupon's expected discount uses the redemption rate its settled coupons measured", async () => {
    await t.db.query(`delete from outreach`);
    // 1,000 settled treated coupons of this campaign, 10 of them redeemed.
    await t.db.query(
      `insert into outreach_outcomes (outreach_id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin, window_start, window_days, converted, conversions, revenue_minor, coupon_redeemed, discount_minor, clicked, unsubscribed)
       select 1000000 + g, 'old', $1, 'u' || g, 'high', 'coupon', false, 'tiers', 'rekindle', $2::timestamptz, 14, g <= 10, (g <= 10)::int, 0, g <= 10, 0, false, false
       from generate_series(1, 1000) g`,
      [base.campaign, new Date(NOW.getTime() - 40 * 86_400_000).toISOString()],
    );
    await planOutreach(d(), { ...base, policy: 'tiers', couponBudgetMinor: 1_000_000_00 }, 'r-tiers');
    const rows = await t.db.query<{ reason: { churn: number; orderValueMinor: number; cost: number } }>(`select reason from outreach where cycle_id = 'r-tiers' and channel = 'coupon' and not holdout`);
    expect(rows.length).toBeGreaterThan(10);
    for (const { reason } of rows) {
      const pRedeem = (10 + 100 * (1 - reason.churn)) / (1000 + 100);
      expect(reason.cost).toBeCloseTo(pRedeem * couponDiscount(base.coupon, reason.orderValueMinor), 0);
      // Far below what (1 − churn) alone would have charged the budget for most users.
      if (reason.churn < 0.8) expect(reason.cost).toBeLessThan((1 - reason.churn) * couponDiscount(base.coupon, reason.orderValueMinor));
    }
    await t.db.query(`delete from outreach_outcomes where cycle_id = 'old'`);
  });
});
