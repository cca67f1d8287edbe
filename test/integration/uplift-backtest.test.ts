/**
 * The uplift model on simulated data with a fixed seed: a randomised campaign on the synthetic
 * platform (coupon, email or holdout by a hash of the user), each user's outcome drawn from the
 * simulator's true response (src/synth/response.ts) to what they got, settled outcomes stored as
 * the settle step would; then `backtest --uplift` (the service and the CLI) must rank users better
 * than chance and better than churn risk.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { EventRecord } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { rescore } from '../../src/services/rescore.js';
import { seedPlatform } from '../../src/services/seed.js';
import { createBatchWriter } from '../../src/store/batch-writer.js';
import { backtestUplift, fitUpliftModels, type UpliftBacktest } from '../../src/services/uplift.js';
import { generateCatalog } from '../../src/synth/catalog.js';
import { generateForward } from '../../src/synth/platform.js';
import { hashInts, Rng } from '../../src/synth/prng.js';
import { reach, responseProfile, trueEffects } from '../../src/synth/response.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

const run = promisify(execFile);
const DAY = 86_400_000;
const START = new Date('2026-09-01T00:00:00Z');
const USERS = 6000;
const SEED = 11;

describe('uplift backtest on a simulated randomised campaign (seed 11, 6k users)', () => {
  let t: TestDatabase;
  let r: UpliftBacktest;
  beforeAll(async () => {
    t = await freshDatabase();
    const d = { db: t.db, log: silentLogger, now: () => START };
    await seedPlatform(d, { users: USERS, seed: SEED, end: START });
    await rescore(d, modelSettings(loadConfig({})), { asOf: START });
    const scores = await t.db.query<{ user_id: string; tier: string; churn_probability: number; features: number[]; rfm_r: number; rfm_f: number; rfm_m: number }>(
      'select user_id, risk_tier as tier, churn_probability, features, rfm_r, rfm_f, rfm_m from user_scores',
    );
    const byUser = new Map(scores.map((s) => [s.user_id, s]));
    const catalog = generateCatalog({ seed: SEED });
    const price = catalog.filter((i) => i.itemType !== 'membership').reduce((a, i) => a + (i.priceMinor ?? 0), 0) / catalog.filter((i) => i.itemType !== 'membership').length;
    const rows: unknown[][] = [];
    // The window's natural events go in too, so `--outcome engagement` has something to see.
    const writer = createBatchWriter(t.db, { batchSize: 5000 });
    let index = 0;
    for (const u of generateForward({ users: USERS, seed: SEED, end: START, futureDays: 15 }, catalog)) {
      const i = index++;
      const s = byUser.get(u.user.id);
      if (!s) continue;
      const last = u.events.length ? (u.events[u.events.length - 1] as EventRecord).occurredAt.getTime() : START.getTime();
      for (const e of u.future) if (e.occurredAt.getTime() < START.getTime() + 14 * DAY) await writer.add({ event: e });
      const inWindow = u.future.filter((e) => (e.type === 'purchase' || e.type === 'renewal') && e.occurredAt.getTime() < START.getTime() + 14 * DAY);
      const firstPurchase = inWindow.find((e) => e.type === 'purchase');
      const fx = trueEffects(
        responseProfile(u.traits, SEED, i),
        { converts: inWindow.length > 0, revenueMinor: inWindow.reduce((a, e) => a + (e.amountMinor ?? 0), 0), firstPurchaseMinor: firstPurchase?.amountMinor ?? null },
        reach((START.getTime() - last) / DAY),
        price,
        { kind: 'percent', value: 20 },
      );
      const arm = hashInts(SEED, i, 3) % 10; // 0–3 coupon, 4–6 email, 7–9 holdout
      const channel = arm < 4 ? 'coupon' : arm < 7 ? 'email' : 'coupon';
      const holdout = arm >= 7;
      const p = holdout ? fx.pNone : channel === 'coupon' ? fx.pCoupon : fx.pEmail;
      const converted = new Rng(hashInts(SEED, i, 9)).next() < p;
      const features = { v: s.features, churn: Number(s.churn_probability), rfm: [s.rfm_r, s.rfm_f, s.rfm_m], contacts: 0, daysSinceContact: null };
      rows.push([u.user.id, s.tier, channel, holdout, JSON.stringify(features), converted]);
    }
    await writer.flush();
    await t.db.query(
      `with o as (
         insert into outreach (cycle_id, campaign, user_id, tier, channel, holdout, state, scheduled_at, sent_at, policy, features, settled_at)
         select 'c-test', 'spring', t.user_id, t.tier, t.channel, t.holdout::boolean, case when t.holdout::boolean then 'skipped' else 'sent' end,
                $7::timestamptz, case when t.holdout::boolean then null else $7::timestamptz end, 'test', t.features::jsonb, $7::timestamptz + interval '14 days'
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as t(user_id, tier, channel, holdout, features, converted)
         returning id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin)
       insert into outreach_outcomes (outreach_id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin, window_start, window_days,
                                      converted, conversions, revenue_minor, coupon_redeemed, discount_minor, clicked, unsubscribed)
       select o.id, o.cycle_id, o.campaign, o.user_id, o.tier, o.channel, o.holdout, o.policy, o.origin, $7::timestamptz, 14,
              c.converted::boolean, c.converted::boolean::int, 0, false, 0, false, false
       from o join unnest($1::text[], $6::text[]) as c(user_id, converted) on c.user_id = o.user_id`,
      [rows.map((x) => x[0]), rows.map((x) => x[1]), rows.map((x) => x[2]), rows.map((x) => String(x[3])), rows.map((x) => x[4]), rows.map((x) => String(x[5])), START.toISOString()],
    );
    r = await backtestUplift(t.db, { outcome: 'purchase' });
  }, 300_000);
  afterAll(async () => t?.drop());

  it('ranks coupon uplift above random and above churn risk on held-out users', () => {
    const c = r.uplift.coupon!;
    expect(c).toBeDefined();
    expect(c.nTest).toBeGreaterThan(500);
    expect(c.treatedRate).toBeGreaterThan(c.holdoutRate);
    expect(c.qini).toBeGreaterThan(c.random.qini);
    expect(c.qini).toBeGreaterThan(c.risk.qini);
    expect(c.qini).toBeGreaterThan(0);
  });

  it('keeps where each offer was seen at work: the treated rows by offer and risk tier', async () => {
    const fit = await fitUpliftModels(t.db, { gate: { minRows: 20, minConversions: 5 } });
    const rows = await t.db.query<{ channel: 'coupon' | 'email'; tier: string; n: number }>(`select channel, tier, count(*)::int as n from outreach_outcomes where not holdout group by 1, 2`);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const x of rows) expect(fit.support[x.channel][x.tier], `${x.channel}/${x.tier}`).toBe(x.n);
    expect(Object.values(fit.support.coupon).reduce((a, b) => a + b, 0) + Object.values(fit.support.email).reduce((a, b) => a + b, 0)).toBe(rows.reduce((a, x) => a + x.n, 0));
  });

  it('evaluates the email offer too', () => {
    const e = r.uplift.email!;
    expect(e.qini).toBeGreaterThan(e.random.qini);
    expect(Object.keys(e.upliftAt).sort()).toEqual(['0.1', '0.3', '0.5']);
  });

  it('prints the documented JSON shape through the CLI, per campaign and outcome', async () => {
    const env = { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent' };
    const { stdout } = await run(process.execPath, ['bin/rekindle.js', 'backtest', '--uplift', '--campaign', 'spring', '--outcome', 'purchase', '--json'], { env });
    const j = JSON.parse(stdout) as { uplift: Record<string, Record<string, unknown>> };
    for (const offer of ['coupon', 'email']) {
      const m = j.uplift[offer]!;
      for (const k of ['qini', 'auuc', 'nTrain', 'nTest', 'treatedRate', 'holdoutRate']) expect(typeof m[k], `${offer}.${k}`).toBe('number');
      expect(Object.keys(m.upliftAt as object).sort()).toEqual(['0.1', '0.3', '0.5']);
      expect(Object.keys(m.random as object).sort()).toEqual(['auuc', 'qini']);
      expect(Object.keys(m.risk as object).sort()).toEqual(['auuc', 'qini']);
    }
    // Engagement (any event in the window) is a different outcome, evaluated on the same rows.
    const eng = await backtestUplift(t.db, { outcome: 'engagement', campaign: 'spring' });
    expect(eng.uplift.coupon!.nTest).toBe(r.uplift.coupon!.nTest);
    expect(eng.uplift.coupon!.treatedRate).not.toBe(r.uplift.coupon!.treatedRate);
    // A campaign with no outreach evaluates nothing and says why.
    const none = await backtestUplift(t.db, { outcome: 'purchase', campaign: 'no-such-campaign' });
    expect(none.uplift).toEqual({});
    expect(none.skipped.coupon).toMatch(/0 treated/);
  });
});
