/** Attribution and uplift on hand-built outreach and conversions. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upliftWithCI } from '../../src/domain/uplift.js';
import { campaignReport } from '../../src/services/campaign-report.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

const run = promisify(execFile);
const T0 = new Date('2026-10-01T10:00:00Z');
const day = (d: number) => new Date(T0.getTime() + d * 86_400_000).toISOString();

describe('report campaigns', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
    const q = (sql: string, p: unknown[] = []) => t.db.query(sql, p);
    // High tier: 100 treated (sent at T0), 50 holdout (would have been sent at T0).
    await q(`insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at)
             select 'c1', 'h' || g, 'high', 'coupon', false, 'sent', $1, $1, $1 from generate_series(1, 100) g`, [day(0)]);
    await q(`insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, created_at)
             select 'c1', 'hh' || g, 'high', 'coupon', true, 'skipped', $1, $1 from generate_series(1, 50) g`, [day(0)]);
    // Medium tier: 40 treated, 20 holdout.
    await q(`insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at)
             select 'c1', 'm' || g, 'medium', 'email', false, 'sent', $1, $1, $1 from generate_series(1, 40) g`, [day(0)]);
    await q(`insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, created_at)
             select 'c1', 'mh' || g, 'medium', 'email', true, 'skipped', $1, $1 from generate_series(1, 20) g`, [day(0)]);
    // Coupons for the first 20 treated high-tier users.
    await q(`insert into coupons (code, user_id, outreach_id, kind, value, expires_at)
             select 'CODE' || o.user_id, o.user_id, o.id, 'percent', 20, $1 from outreach o where o.tier = 'high' and not o.holdout and substr(o.user_id, 2)::int <= 20`, [day(14)]);
    await q(`update outreach o set coupon_id = c.id from coupons c where c.outreach_id = o.id`);
    const ev = (id: string, type: string, user: string, at: string, amount: number | null, code: string | null = null) =>
      q(`insert into events (source, event_id, type, user_id, item_id, occurred_at, amount_minor, currency, coupon_code) values ('default', $1, $2, $3, 'c', $4, $5, 'CNY', $6)`, [id, type, user, at, amount, code]);
    // Conversions inside the 14-day window: 30 of 100 treated high (h1..h30), 10 of 50 holdout (hh1..hh10).
    for (let i = 1; i <= 30; i++) await ev(`p-h${i}`, i % 3 === 0 && i > 3 ? 'renewal' : 'purchase', `h${i}`, day(3), 10000, i <= 3 ? `CODEh${i}` : null);
    for (let i = 1; i <= 10; i++) await ev(`p-hh${i}`, 'purchase', `hh${i}`, day(5), 5000);
    // Outside the window or before outreach: not conversions.
    await ev('late-h90', 'purchase', 'h90', day(20), 9900);
    await ev('early-h91', 'purchase', 'h91', day(-2), 9900);
    // Coupon redemptions reported by event (h4, h5) — h1..h3 redeemed through the purchase code.
    await ev('r-h4', 'coupon_redeemed', 'h4', day(4), null, 'CODEh4');
    await ev('r-h5', 'coupon_redeemed', 'h5', day(4), null, 'CODEh5');
    // Medium: 8 of 40 treated, 4 of 20 holdout.
    for (let i = 1; i <= 8; i++) await ev(`p-m${i}`, 'purchase', `m${i}`, day(1), 2000);
    for (let i = 1; i <= 4; i++) await ev(`p-mh${i}`, 'purchase', `mh${i}`, day(1), 2000);
  });
  afterAll(async () => t?.drop());

  it('counts conversions within the window for treated and holdout, with uplift, CI, revenue and redemptions', async () => {
    const r = await campaignReport(t.db, { since: new Date(day(-1)), windowDays: 14 });
    const high = r.tiers.find((x) => x.tier === 'high')!;
    expect(high.treated).toEqual({ users: 100, conversions: 30, conversionRate: 0.3, revenueMinor: 300_000, revenuePerUserMinor: 3000 });
    expect(high.holdout).toEqual({ users: 50, conversions: 10, conversionRate: 0.2, revenueMinor: 50_000, revenuePerUserMinor: 1000 });
    expect(high.uplift).toBeCloseTo(0.1, 12);
    const expected = upliftWithCI({ n: 100, conversions: 30 }, { n: 50, conversions: 10 });
    expect(high.ci95![0]).toBeCloseTo(expected.ci[0], 12);
    expect(high.ci95![1]).toBeCloseTo(expected.ci[1], 12);
    expect(high.ci95![0]).toBeLessThan(0.1);
    expect(high.ci95![1]).toBeGreaterThan(0.1);
    expect(high.coupons).toEqual({ issued: 20, redeemed: 5, redemptionRate: 0.25 });
    const medium = r.tiers.find((x) => x.tier === 'medium')!;
    expect(medium.treated.conversionRate).toBeCloseTo(0.2, 12);
    expect(medium.holdout.conversionRate).toBeCloseTo(0.2, 12);
    expect(medium.uplift).toBeCloseTo(0, 12);
    expect(r.overall.treated).toMatchObject({ users: 140, conversions: 38 });
    expect(r.overall.holdout).toMatchObject({ users: 70, conversions: 14 });
  });

  it('leaves out outreach planned before --since', async () => {
    const r = await campaignReport(t.db, { since: new Date(day(1)), windowDays: 14 });
    expect(r.tiers).toEqual([]);
    expect(r.overall.treated.users).toBe(0);
    expect(r.overall.uplift).toBeNull();
  });

  it('prints the same numbers from the CLI, as JSON and as a table', async () => {
    const env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent' };
    const json = JSON.parse((await run('node', ['bin/rekindle.js', 'report', 'campaigns', '--since', day(-1).slice(0, 10), '--json'], { env })).stdout);
    expect(json.tiers.find((x: { tier: string }) => x.tier === 'high').treated.conversions).toBe(30);
    const text = (await run('node', ['bin/rekindle.js', 'report', 'campaigns', '--since', day(-1).slice(0, 10)], { env })).stdout;
    expect(text).toMatch(/^high\s+100 \(30\.0%\)\s+50 \(20\.0%\)\s+10\.0 pp \[/m);
    const bad = await run('node', ['bin/rekindle.js', 'report', 'campaigns', '--since', 'last week'], { env }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since must be a date/);
  });
});
