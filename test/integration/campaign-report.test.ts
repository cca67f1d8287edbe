/**
 * Settled outcomes and the ROI campaign report, on hand-built data against PostgreSQL.
 *
 * Settling: users, events and outreach rows (ours with coupons, holdout, imported, failed, at
 * the window edges) with a fixed clock: which rows settle, every field of every outcome, the
 * coupons stamped redeemed, idempotence under re-runs and concurrent runs, a moving clock.
 * The report: hand-made outcomes small enough to compute every number in the comments.
 * The CLI: the table and --json over the settled data. The job: a real BullMQ worker runs it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePayload, QUEUES } from '../../jobs/catalog.js';
import { upsertSchedules } from '../../jobs/schedules.js';
import { campaignsMessage, formatter } from '../../src/bot/blocks.js';
import type { Database } from '../../src/db/client.js';
import { silentLogger } from '../../src/logger.js';
import { campaignReport, type CampaignReport, type SegmentReport } from '../../src/services/campaign-report.js';
import { settleOutreach } from '../../src/services/settle.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { testJobs } from '../support/jobs.js';

const run = promisify(execFile);
const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (base: Date, ms = 0) => new Date(base.getTime() + ms).toISOString();

const NOW = new Date('2026-11-01T00:00:00Z');
const T0 = new Date('2026-09-01T00:00:00Z'); // the imported campaign
const T1 = new Date('2026-10-01T10:00:00Z'); // cycle c1
const T2 = new Date('2026-10-16T10:00:00Z'); // cycle c2 (c1's windows closed at 10-15 10:00)
const T3 = new Date('2026-10-25T10:00:00Z'); // cycle c3: windows still open at NOW
const EDGE = new Date(NOW.getTime() - 14 * DAY); // a window closing exactly at NOW

interface OutreachSpec {
  cycle: string;
  user: string;
  tier: string;
  channel: 'coupon' | 'email';
  holdout?: boolean;
  state?: string;
  scheduledAt: Date;
  sentAt?: Date | null;
  origin?: 'rekindle' | 'import';
  coupon?: { code: string; kind: 'percent' | 'amount'; value: number };
  couponCode?: string;
  discountMinor?: number | null;
}

async function addOutreach(db: Database, o: OutreachSpec): Promise<number> {
  const holdout = o.holdout ?? false;
  const origin = o.origin ?? 'rekindle';
  const [row] = await db.query<{ id: number }>(
    `insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at, campaign, origin, policy, coupon_code, discount_minor)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9, $10, $11, $12, $13) returning id`,
    [
      o.cycle,
      o.user,
      o.tier,
      o.channel,
      holdout,
      o.state ?? (holdout ? 'skipped' : 'sent'),
      o.scheduledAt.toISOString(),
      // Holdout rows are never sent; ours are sent when scheduled unless the spec says otherwise.
      o.sentAt === undefined ? (holdout ? null : o.scheduledAt.toISOString()) : (o.sentAt?.toISOString() ?? null),
      origin === 'import' ? 'legacy' : 'default',
      origin,
      origin === 'import' ? null : 'tiers',
      o.couponCode ?? null,
      o.discountMinor ?? null,
    ],
  );
  const id = row!.id;
  if (o.coupon) {
    await db.query(
      `with c as (insert into coupons (code, user_id, outreach_id, kind, value, expires_at) values ($1, $2, $3, $4, $5, $6) returning id)
       update outreach set coupon_id = (select id from c) where id = $3`,
      [o.coupon.code, o.user, id, o.coupon.kind, o.coupon.value, at(o.scheduledAt, 14 * DAY)],
    );
  }
  return id;
}

let evSeq = 0;
async function ev(db: Database, type: string, user: string, when: string, amount: number | null = null, code: string | null = null): Promise<void> {
  await db.query(
    `insert into events (source, event_id, type, user_id, item_id, occurred_at, amount_minor, currency, coupon_code) values ('test', $1, $2, $3, 'course-1', $4, $5, 'CNY', $6)`,
    [`e${++evSeq}`, type, user, when, amount, code],
  );
}

type Outcome = {
  window_start: string;
  tier: string;
  channel: string;
  holdout: boolean;
  origin: string;
  policy: string | null;
  campaign: string;
  converted: boolean;
  conversions: number;
  revenue_minor: number;
  coupon_redeemed: boolean;
  discount_minor: number;
  clicked: boolean;
  unsubscribed: boolean;
  window_days: number;
};

async function outcomes(db: Database): Promise<Record<string, Outcome>> {
  const rows = await db.query<Outcome & { key: string; window_start: Date }>(
    `select oc.cycle_id || '/' || oc.user_id as key, oc.window_start, oc.tier, oc.channel, oc.holdout, oc.origin, oc.policy, oc.campaign, oc.converted,
            oc.conversions, oc.revenue_minor, oc.coupon_redeemed, oc.discount_minor, oc.clicked, oc.unsubscribed, oc.window_days
     from outreach_outcomes oc join outreach o on o.id = oc.outreach_id and o.cycle_id = oc.cycle_id and o.user_id = oc.user_id`,
  );
  return Object.fromEntries(rows.map(({ key, ...r }) => [key, { ...r, window_start: new Date(r.window_start).toISOString() }]));
}

describe('settling outreach outcomes', () => {
  let t: TestDatabase;
  let db: Database;
  const settle = (now: Date, limit?: number) => settleOutreach({ db, log: silentLogger, now: () => now }, { windowDays: 14, couponPercent: 25 }, limit);

  beforeAll(async () => {
    t = await freshDatabase();
    db = t.db;
    await db.query(
      `insert into users (id, email, unsubscribed_at) select 'u' || g, 'u' || g || '@example.com', case when g = 6 then $1::timestamptz end from generate_series(1, 15) g`,
      [at(T1, 2 * DAY)],
    );
    await db.query(`insert into items (id, title, price_minor, currency) values ('course-1', 'Course', 10000, 'CNY')`);
    const o = (s: OutreachSpec) => addOutreach(db, s);
    // Cycle c1 at T1: the high tier gets coupons (u1..u3), u4 and u5 held out; the medium tier email (u6, u7), u8 held out.
    await o({ cycle: 'c1', user: 'u1', tier: 'high', channel: 'coupon', scheduledAt: T1, coupon: { code: 'C1-U1', kind: 'percent', value: 20 } });
    await o({ cycle: 'c1', user: 'u2', tier: 'high', channel: 'coupon', scheduledAt: T1, sentAt: new Date(T1.getTime() + HOUR), coupon: { code: 'C1-U2', kind: 'amount', value: 3000 } });
    await o({ cycle: 'c1', user: 'u3', tier: 'high', channel: 'coupon', scheduledAt: T1, state: 'failed', sentAt: null, coupon: { code: 'C1-U3', kind: 'percent', value: 20 } });
    await o({ cycle: 'c1', user: 'u4', tier: 'high', channel: 'coupon', holdout: true, scheduledAt: T1 });
    await o({ cycle: 'c1', user: 'u5', tier: 'high', channel: 'coupon', holdout: true, scheduledAt: T1 });
    await o({ cycle: 'c1', user: 'u6', tier: 'medium', channel: 'email', scheduledAt: T1 });
    await o({ cycle: 'c1', user: 'u7', tier: 'medium', channel: 'email', scheduledAt: T1 });
    await o({ cycle: 'c1', user: 'u8', tier: 'medium', channel: 'email', holdout: true, scheduledAt: T1 });
    // Cycle c2 at T2, and two rows at the edge: u13's window closes exactly at NOW, u14's a second later.
    await o({ cycle: 'c2', user: 'u1', tier: 'high', channel: 'coupon', scheduledAt: T2, coupon: { code: 'C2-U1', kind: 'percent', value: 20 } });
    await o({ cycle: 'c2', user: 'u4', tier: 'high', channel: 'coupon', holdout: true, scheduledAt: T2 });
    await o({ cycle: 'c2', user: 'u6', tier: 'medium', channel: 'email', scheduledAt: T2 });
    await o({ cycle: 'c2', user: 'u9', tier: 'medium', channel: 'email', holdout: true, scheduledAt: T2 });
    await o({ cycle: 'c2', user: 'u13', tier: 'medium', channel: 'email', scheduledAt: EDGE });
    await o({ cycle: 'c2', user: 'u14', tier: 'medium', channel: 'email', scheduledAt: new Date(EDGE.getTime() + 1000) });
    // Cycle c3 at T3: still open at NOW.
    await o({ cycle: 'c3', user: 'u1', tier: 'high', channel: 'coupon', scheduledAt: T3, coupon: { code: 'C3-U1', kind: 'percent', value: 20 } });
    await o({ cycle: 'c3', user: 'u4', tier: 'high', channel: 'coupon', holdout: true, scheduledAt: T3 });
    // A past campaign imported from another tool at T0: codes and discounts as that tool reported them.
    await o({ cycle: 'imp-1', user: 'u10', tier: 'high', channel: 'coupon', origin: 'import', scheduledAt: T0, couponCode: 'OLD-10', discountMinor: 500 });
    await o({ cycle: 'imp-1', user: 'u11', tier: 'high', channel: 'coupon', origin: 'import', holdout: true, scheduledAt: T0 });
    await o({ cycle: 'imp-1', user: 'u12', tier: 'high', channel: 'coupon', origin: 'import', scheduledAt: T0, couponCode: 'OLD-12' });
    await o({ cycle: 'imp-1', user: 'u15', tier: 'high', channel: 'coupon', origin: 'import', scheduledAt: T0, couponCode: 'OLD-15', discountMinor: 700 });

    // c1: u1 clicks, then buys with 20% off: paid 8000, so the discount is 8000·20/80 = 2000.
    await ev(db, 'email_click', 'u1', at(T1, HOUR));
    await ev(db, 'purchase', 'u1', at(T1, 2 * DAY), 8000, 'C1-U1');
    // u2 redeems the 3000 amount coupon on its own event, buys (5000 paid, no code on it) and renews (2000).
    await ev(db, 'coupon_redeemed', 'u2', at(T1, 3 * DAY), null, 'C1-U2');
    await ev(db, 'purchase', 'u2', at(T1, 3 * DAY), 5000);
    await ev(db, 'renewal', 'u2', at(T1, 5 * DAY), 2000);
    // Before u2's window (sent an hour after T1): not counted.
    await ev(db, 'purchase', 'u2', at(T1, 30 * 60_000), 9900);
    // u3's send failed (still treated): buys before and after the window only.
    await ev(db, 'purchase', 'u3', at(T1, -DAY), 9000);
    await ev(db, 'purchase', 'u3', at(T1, 15 * DAY), 9000);
    // Holdout u4 buys; holdout u5 buys with u3's code: a conversion for u5, not a redemption of u3's coupon.
    await ev(db, 'purchase', 'u4', at(T1, 4 * DAY), 6000);
    await ev(db, 'purchase', 'u5', at(T1, 2 * DAY), 1000, 'C1-U3');
    // u6 clicks and unsubscribes (users.unsubscribed_at, T1 + 2 d); u7 renews a second before the window closes;
    // holdout u8 buys exactly at the close (the window is half-open): not a conversion.
    await ev(db, 'email_click', 'u6', at(T1, HOUR));
    await ev(db, 'renewal', 'u7', at(T1, 14 * DAY - 1000), 4000);
    await ev(db, 'purchase', 'u8', at(T1, 14 * DAY), 5000);
    // c2: u1 buys with the new code (4000 paid → 1000 off); holdouts u4 and u9 buy.
    await ev(db, 'purchase', 'u1', at(T2, DAY), 4000, 'C2-U1');
    await ev(db, 'purchase', 'u4', at(T2, 2 * DAY), 3000);
    await ev(db, 'purchase', 'u9', at(T2, 3 * DAY), 1000);
    // Imported: u10 and u12 buy with their codes; u12's tool reported no discount (25% assumed: 3000·25/75 = 1000).
    await ev(db, 'purchase', 'u10', at(T0, DAY), 4500, 'OLD-10');
    await ev(db, 'purchase', 'u11', at(T0, 2 * DAY), 2000);
    await ev(db, 'purchase', 'u12', at(T0, DAY), 3000, 'OLD-12');
    // c3 (open): a purchase that must not be settled yet (after c2's window for u1 closed at 10-30 10:00).
    await ev(db, 'purchase', 'u1', at(T3, 6 * DAY), 7000, 'C3-U1');
  }, 60_000);
  afterAll(async () => t?.drop());

  const base = (o: Partial<Outcome> & Pick<Outcome, 'window_start' | 'tier' | 'channel'>): Outcome => ({
    holdout: false,
    origin: 'rekindle',
    policy: 'tiers',
    campaign: 'default',
    converted: false,
    conversions: 0,
    revenue_minor: 0,
    coupon_redeemed: false,
    discount_minor: 0,
    clicked: false,
    unsubscribed: false,
    window_days: 14,
    ...o,
  });
  const hi = (start: Date, o: Partial<Outcome> = {}) => base({ window_start: start.toISOString(), tier: 'high', channel: 'coupon', ...o });
  const med = (start: Date, o: Partial<Outcome> = {}) => base({ window_start: start.toISOString(), tier: 'medium', channel: 'email', ...o });
  const imp = (o: Partial<Outcome> = {}) => hi(T0, { origin: 'import', policy: null, campaign: 'legacy', ...o });
  const EXPECTED: Record<string, Outcome> = {
    'c1/u1': hi(T1, { converted: true, conversions: 1, revenue_minor: 8000, coupon_redeemed: true, discount_minor: 2000, clicked: true }),
    'c1/u2': hi(new Date(T1.getTime() + HOUR), { converted: true, conversions: 2, revenue_minor: 7000, coupon_redeemed: true, discount_minor: 3000 }),
    'c1/u3': hi(T1),
    'c1/u4': hi(T1, { holdout: true, converted: true, conversions: 1, revenue_minor: 6000 }),
    'c1/u5': hi(T1, { holdout: true, converted: true, conversions: 1, revenue_minor: 1000 }),
    'c1/u6': med(T1, { clicked: true, unsubscribed: true }),
    'c1/u7': med(T1, { converted: true, conversions: 1, revenue_minor: 4000 }),
    'c1/u8': med(T1, { holdout: true }),
    'c2/u1': hi(T2, { converted: true, conversions: 1, revenue_minor: 4000, coupon_redeemed: true, discount_minor: 1000 }),
    'c2/u4': hi(T2, { holdout: true, converted: true, conversions: 1, revenue_minor: 3000 }),
    'c2/u6': med(T2),
    'c2/u9': med(T2, { holdout: true, converted: true, conversions: 1, revenue_minor: 1000 }),
    'c2/u13': med(EDGE),
    'imp-1/u10': imp({ converted: true, conversions: 1, revenue_minor: 4500, coupon_redeemed: true, discount_minor: 500 }),
    'imp-1/u11': imp({ holdout: true, converted: true, conversions: 1, revenue_minor: 2000 }),
    'imp-1/u12': imp({ converted: true, conversions: 1, revenue_minor: 3000, coupon_redeemed: true, discount_minor: 1000 }),
    // The other tool reported a discount without a purchase we saw: redeemed, at its word.
    'imp-1/u15': imp({ coupon_redeemed: true, discount_minor: 700 }),
  };

  it('settles once every row whose window closed, with exactly the right fields, and stamps redeemed coupons', async () => {
    const r = await settle(NOW);
    expect(r).toEqual({ settled: 17, converted: 11, redeemed: 6, batches: 1 });
    expect(await outcomes(db)).toEqual(EXPECTED);
    const marks = await db.query<{ key: string; settled_at: Date | null }>(`select cycle_id || '/' || user_id as key, settled_at from outreach order by 1`);
    expect(marks.filter((m) => m.settled_at === null).map((m) => m.key)).toEqual(['c2/u14', 'c3/u1', 'c3/u4']);
    expect(marks.filter((m) => m.settled_at !== null).every((m) => new Date(m.settled_at!).getTime() === NOW.getTime())).toBe(true);
    const coupons = await db.query<{ code: string; redeemed_at: Date | null }>('select code, redeemed_at from coupons order by code');
    expect(coupons.map((c) => [c.code, c.redeemed_at && new Date(c.redeemed_at).toISOString()])).toEqual([
      ['C1-U1', at(T1, 2 * DAY)],
      ['C1-U2', at(T1, 3 * DAY)],
      ['C1-U3', null],
      ['C2-U1', at(T2, DAY)],
      ['C3-U1', null],
    ]);
  });

  it('writes each outcome once: again, in small batches, and from concurrent runs', async () => {
    expect(await settle(NOW)).toEqual({ settled: 0, converted: 0, redeemed: 0, batches: 1 });
    expect(Object.keys(await outcomes(db))).toHaveLength(17);

    const reset = async () => {
      await db.query('delete from outreach_outcomes');
      await db.query('update outreach set settled_at = null');
    };
    await reset();
    expect((await settle(NOW, 2)).settled).toBe(2);
    expect((await settle(NOW, 5)).settled).toBe(5);
    expect((await settle(NOW)).settled).toBe(10);
    expect(await outcomes(db)).toEqual(EXPECTED);

    // Four runs at once, each settling a row at a time until nothing is left for it.
    await reset();
    const worker = async () => {
      let n = 0;
      for (;;) {
        const r = await settle(NOW, 1);
        n += r.settled;
        if (r.settled === 0) return n;
      }
    };
    const counts = await Promise.all([worker(), worker(), worker(), worker()]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(17);
    expect(await outcomes(db)).toEqual(EXPECTED);
    // And two whole runs at once.
    await reset();
    const both = await Promise.all([settle(NOW), settle(NOW)]);
    expect(both[0]!.settled + both[1]!.settled).toBe(17);
    expect(await outcomes(db)).toEqual(EXPECTED);
  });

  it('prints the report from the CLI as a table and as JSON', async () => {
    await settle(NOW); // a no-op after the tests above; lets this one run alone
    const env = { ...process.env, DATABASE_URL: t.url!, LOG_LEVEL: 'silent', COUPON_CURRENCY: 'CNY', CONVERSION_WINDOW_DAYS: '14' };
    const json = JSON.parse((await run('node', ['bin/rekindle.js', 'report', 'campaigns', '--json'], { env })).stdout) as CampaignReport;
    // Treated (intention to treat, failed send included): c1 u1 u2 u3 u6 u7, c2 u1 u6 u13, imported u10 u12 u15 = 11 rows, 6 converted
    // (c1 u1 u2 u7, c2 u1, u10, u12). Holdout: c1 u4 u5 u8, c2 u4 u9, imported u11 = 6 rows, 5 converted.
    expect(json).toMatchObject({ currency: 'CNY', windowDays: 14, settled: 17, unsettled: 3, since: null });
    expect(json.overall.treated).toMatchObject({ n: 11, users: 9, conversions: 6, purchases: 7, revenueMinor: 30_500, discountMinor: 8200, clicks: 2, unsubscribes: 1 });
    expect(json.overall.holdout).toMatchObject({ n: 6, users: 5, conversions: 5, purchases: 5, revenueMinor: 13_000, discountMinor: 0 });
    expect(json.overall.uplift).toBeCloseTo(6 / 11 - 5 / 6, 12);
    // Cost = 2000 + 3000 + 1000 + 500 + 1000 + 700; net = (30500/11 − 13000/6) · 11.
    expect(json.overall.couponCostMinor).toBe(8200);
    expect(json.overall.netIncrementalRevenueMinor).toBeCloseTo((30_500 / 11 - 13_000 / 6) * 11, 6);
    expect(json.overall.incrementalRevenueMinor).toBeCloseTo((38_700 / 11 - 13_000 / 6) * 11, 6);
    expect(json.overall.coupons).toEqual({ issued: 7, redeemed: 6, redemptionRate: 6 / 7 });
    expect(json.trend.map((p) => p.cycleId)).toEqual(['imp-1', 'c1', 'c2']);
    expect(json.offerTiers.map((s) => s.key)).toEqual(['coupon/high', 'email/medium']);
    const direct = await campaignReport(db, { windowDays: 14, cycles: 8, currency: 'CNY' });
    expect({ ...json, unsettledWindowOpen: null, unsettledDue: null, nextWindowCloseAt: null }).toEqual({ ...direct, unsettledWindowOpen: null, unsettledDue: null, nextWindowCloseAt: null });

    const text = (await run('node', ['bin/rekindle.js', 'report', 'campaigns', '--cycles', '2'], { env })).stdout;
    expect(text).toMatch(/money in CNY/);
    expect(text).toMatch(/^17 outreach rows settled; 3 not settled yet/m);
    // coupon/high: treated c1 u1 u2 u3, c2 u1, u10 u12 u15 = 7 (5 converted, 71.4%); holdout c1 u4 u5, c2 u4, u11 = 4 (all converted).
    expect(text).toMatch(/^coupon\s+high\s+7 \(71\.4%\)\s+4 \(100\.0%\)\s+-28\.6 \[-?\d+\.\d, \d+\.\d\]/m);
    // Overall, money in major units: cost 82.00, net 66.67.
    expect(text).toMatch(/^all\s+all\s+11 \(54\.5%\)\s+6 \(83\.3%\)\s+-28\.8 \[.*\]\s+-3\.2 \[.*\]\s+148\.67 \[.*\]\s+82\.00\s+66\.67 \[.*\]\s+0\.81\s+/m);
    expect(text).toMatch(/^Trend \(the last 2 cycles\)$/m);
    expect(text).toMatch(/^c2\s+2026-10-16\s+3\s+2\s/m);
    expect(text).not.toMatch(/^imp-1/m);

    const bad = await run('node', ['bin/rekindle.js', 'report', 'campaigns', '--since', 'last week'], { env }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since must be a date/);
  });

  it('settles the rest as the clock moves on, through the outreach.settle job and its hourly schedule', async () => {
    const later = new Date(T3.getTime() + 14 * DAY);
    const jobs = testJobs({ db, smtpUrl: 'smtp://127.0.0.1:9', now: () => later });
    try {
      await upsertSchedules(jobs.queues, { rescoreCron: '0 3 * * *', sweepCron: '*/5 * * * *', settleCron: '17 * * * *', tz: 'UTC' });
      const schedulers = await jobs.queues.delivery.getJobSchedulers();
      expect(schedulers.find((x) => x.key === 'settle')).toMatchObject({ name: 'outreach.settle', pattern: '17 * * * *' });
      expect(() => parsePayload('outreach.settle', { all: true })).toThrow(/invalid payload for outreach.settle/);
      const connection = jobs.redis.duplicate();
      const events = new QueueEvents(QUEUES.delivery, { connection, prefix: jobs.queues.prefix });
      try {
        await events.waitUntilReady();
        jobs.start();
        const job = await jobs.queues.delivery.add('outreach.settle', {}, { jobId: 'settle-test' });
        expect(await job.waitUntilFinished(events, 30_000)).toMatchObject({ settled: 3, converted: 1, redeemed: 1 });
      } finally {
        await events.close();
        connection.disconnect();
      }
    } finally {
      await jobs.close();
    }
    const all = await outcomes(db);
    expect(all['c3/u1']).toEqual(hi(T3, { converted: true, conversions: 1, revenue_minor: 7000, coupon_redeemed: true, discount_minor: 1750 }));
    expect(all['c3/u4']).toEqual(hi(T3, { holdout: true }));
    expect(all['c2/u14']).toEqual(med(new Date(EDGE.getTime() + 1000)));
    expect(await db.query('select 1 from outreach where settled_at is null')).toEqual([]);
  });
});

describe('the campaign report', () => {
  let t: TestDatabase;
  let db: Database;
  const W1 = new Date('2026-06-01T00:00:00Z');
  const W2 = new Date('2026-06-15T00:00:00Z');
  const REPORT_NOW = new Date('2026-06-30T00:00:00Z');
  const Z = 1.959963984540054;

  beforeAll(async () => {
    t = await freshDatabase();
    db = t.db;
    // (cycle, user, offer, tier, holdout, converted, paid, discount, clicked, unsubscribed)
    const rows: [string, string, string, string, boolean, boolean, number, number, boolean, boolean][] = [
      ['k1', 'a', 'coupon', 'high', false, true, 8000, 2000, false, false],
      ['k1', 'b', 'coupon', 'high', false, true, 4000, 1000, false, false],
      ['k1', 'h1', 'coupon', 'high', true, false, 0, 0, false, false],
      ['k2', 'a', 'coupon', 'high', false, true, 6000, 1500, false, false],
      ['k2', 'c', 'coupon', 'high', false, false, 0, 0, false, false],
      ['k2', 'h1', 'coupon', 'high', true, true, 3000, 0, false, false],
      ['k2', 'h2', 'coupon', 'high', true, false, 0, 0, false, false],
      ['k1', 'd', 'email', 'medium', false, true, 2000, 0, true, false],
      ['k1', 'e', 'email', 'medium', false, false, 0, 0, true, true],
      ['k1', 'h3', 'email', 'medium', true, false, 0, 0, false, false],
      ['k2', 'd', 'email', 'medium', false, false, 0, 0, false, false],
      ['k2', 'h3', 'email', 'medium', true, true, 1000, 0, false, false],
      ['k2', 'h4', 'email', 'medium', true, false, 0, 0, false, false],
      ['k1', 'h5', 'email', 'high', true, false, 0, 0, false, false],
    ];
    await db.query(
      `insert into outreach_outcomes (outreach_id, cycle_id, campaign, user_id, tier, channel, holdout, policy, origin, window_start, window_days,
                                      converted, conversions, revenue_minor, coupon_redeemed, discount_minor, clicked, unsubscribed)
       select g, c, 'default', u, t, ch, h::bool, 'tiers', 'rekindle', case when c = 'k1' then $1::timestamptz else $2::timestamptz end, 14,
              conv::bool, case when conv::bool then 1 else 0 end, paid, disc > 0, disc, clk::bool, uns::bool
       from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])
            with ordinality as x(c, u, ch, t, h, conv, paid, disc, clk, uns, g)`,
      [W1.toISOString(), W2.toISOString(), ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => rows.map((r) => (typeof r[i] === 'boolean' ? String(r[i]) : r[i])))],
    );
    // Not settled: one row whose window is open at REPORT_NOW (closes 07-09), one whose window closed (06-15) but no settle ran.
    await addOutreach(db, { cycle: 'k3', user: 'z1', tier: 'high', channel: 'coupon', scheduledAt: new Date('2026-06-25T00:00:00Z') });
    await addOutreach(db, { cycle: 'k1', user: 'z2', tier: 'high', channel: 'coupon', scheduledAt: W1 });
  });
  afterAll(async () => t?.drop());

  const close = (a: number | null, b: number, digits = 6) => {
    expect(a).not.toBeNull();
    expect(a!).toBeCloseTo(b, digits);
  };
  const closeCi = (ci: [number, number] | null, lo: number, hi: number, digits = 6) => {
    expect(ci).not.toBeNull();
    close(ci![0], lo, digits);
    close(ci![1], hi, digits);
  };
  const find = (list: SegmentReport[], key: string) => {
    const s = list.find((x) => x.key === key);
    expect(s, key).toBeDefined();
    return s!;
  };

  it('gives uplift, incremental conversions and revenue, cost, net and ROI with cluster-robust intervals', async () => {
    const r = await campaignReport(db, { windowDays: 14, now: REPORT_NOW, currency: 'CNY' });
    expect(r).toMatchObject({ since: null, until: null, windowDays: 14, currency: 'CNY', settled: 14, unsettled: 2, unsettledWindowOpen: 1, unsettledDue: 1, nextWindowCloseAt: '2026-07-09T00:00:00.000Z' });
    expect(r.offers.map((s) => s.key)).toEqual(['coupon', 'email']);
    expect(r.tiers.map((s) => s.key)).toEqual(['high', 'medium']);
    expect(r.offerTiers.map((s) => s.key)).toEqual(['coupon/high', 'email/high', 'email/medium']);

    // coupon/high. Treated rows a@k1 a@k2 b@k1 c@k2 (n = 4); per user (converted, paid, gross, rows):
    //   a (2, 14000, 17500, 2), b (1, 4000, 5000, 1), c (0, 0, 0, 1); G = 3.
    // Holdout rows h1@k1 h1@k2 h2@k2 (n = 3): h1 (1, 3000, 3000, 2), h2 (0, 0, 0, 1); G = 2.
    // Conversion: treated m = 3/4, residuals y − m·n: 0.5, 0.25, −0.75 → Σ² = 0.875,
    //   var = 3/2 · 0.875 / 4² = 0.08203125; holdout m = 1/3, residuals ±1/3 → Σ² = 2/9,
    //   var = 2 · (2/9) / 3² = 0.04938272. uplift = 3/4 − 1/3 = 5/12 = 0.41666667,
    //   se = √0.13141397 = 0.36251065, 95%: 5/12 ± 0.71050782 = [−0.29384114, 1.12717447].
    // Incremental conversions: × 4 → 1.66666667 [−1.17536455, 4.50869788].
    // Gross per row: treated 22500/4 = 5625, holdout 3000/3 = 1000 → (5625 − 1000) · 4 = 18500.
    // Cost 2000 + 1000 + 1500 = 4500; net 18500 − 4500 = 14000 (= paid (18000/4 − 1000) · 4).
    //   Paid: treated residuals 14000 − 9000 = 5000, 4000 − 4500 = −500, −4500 → Σ² = 45.5e6,
    //   var = 3/2 · 45.5e6 / 16 = 4265625; holdout residuals ±1000 → var = 2 · 2e6 / 9 = 444444.44;
    //   se = √4710069.44 = 2170.2694, × 4 = 8681.078, × 1.959964 = 17014.600 → [−3014.600, 31014.600].
    // ROI = 14000 / 4500 = 3.11111111.
    const ch = find(r.offerTiers, 'coupon/high');
    expect(ch.treated).toMatchObject({ n: 4, users: 3, conversions: 3, revenueMinor: 18000, grossRevenueMinor: 22500, discountMinor: 4500 });
    expect(ch.holdout).toMatchObject({ n: 3, users: 2, conversions: 1, revenueMinor: 3000 });
    close(ch.uplift, 5 / 12, 12);
    closeCi(ch.upliftCi, 5 / 12 - Z * Math.sqrt(0.08203125 + 4 / 81), 5 / 12 + Z * Math.sqrt(0.08203125 + 4 / 81), 12);
    closeCi(ch.upliftCi, -0.29384114, 1.12717447, 7);
    close(ch.incrementalConversions, 5 / 3, 12);
    closeCi(ch.incrementalConversionsCi, -1.17536455, 4.50869788, 7);
    close(ch.incrementalRevenueMinor, 18500, 8);
    closeCi(ch.incrementalRevenueCi, -2403.88983, 39403.88983, 4);
    expect(ch.couponCostMinor).toBe(4500);
    close(ch.netIncrementalRevenueMinor, 14000, 8);
    closeCi(ch.netIncrementalRevenueCi, 14000 - Z * Math.sqrt(4265625 + 4e6 / 9) * 4, 14000 + Z * Math.sqrt(4265625 + 4e6 / 9) * 4, 6);
    closeCi(ch.netIncrementalRevenueCi, -3014.6, 31014.6, 2);
    close(ch.roi, 14000 / 4500, 12);
    expect(ch.coupons).toEqual({ issued: 4, redeemed: 3, redemptionRate: 0.75 });
    // The offer view holds the same rows as coupon/high here; the tier view adds the holdout h5 (email, high).
    expect(find(r.offers, 'coupon')).toEqual({ ...ch, key: 'coupon', tier: 'all' });
    const high = find(r.tiers, 'high');
    expect(high.holdout.n).toBe(4);
    close(high.uplift, 3 / 4 - 1 / 4, 12);

    // email/high: a holdout row and no treated one — nothing to compare.
    const eh = find(r.offerTiers, 'email/high');
    expect(eh).toMatchObject({ uplift: null, upliftCi: null, incrementalConversions: null, netIncrementalRevenueMinor: null, roi: null, couponCostMinor: 0 });
    expect(eh.treated.n).toBe(0);
    expect(eh.treated.conversionRate).toBeNull();

    // email/medium: treated d (1 of 2 rows, 2000 paid), e (0 of 1); holdout h3 (1 of 2, 1000), h4 (0 of 1).
    // Both arms: m = 1/3, var = 2 · (2/9) / 9 = 4/81 → uplift 0 ± 1.959964 · √(8/81) = ±0.61595726.
    // Revenue per row 2000/3 vs 1000/3 → +1000 over 3 treated rows; no cost → ROI null. Clicks 2 of 3 treated, unsubscribes 1.
    const em = find(r.offerTiers, 'email/medium');
    close(em.uplift, 0, 12);
    closeCi(em.upliftCi, -0.61595726, 0.61595726, 7);
    close(em.netIncrementalRevenueMinor, 1000, 8);
    expect(em.roi).toBeNull();
    expect(em.treated).toMatchObject({ clicks: 2, unsubscribes: 1 });
    close(em.treated.clickRate, 2 / 3, 12);
    close(em.treated.unsubscribeRate, 1 / 3, 12);
    expect(em.holdout.clickRate).toBe(0);
    expect(em.coupons).toEqual({ issued: 0, redeemed: 0, redemptionRate: null });

    // Overall: treated users a (2 of 2 rows), b (1/1), c (0/1), d (1/2), e (0/1): m = 4/7, residuals 6/7, 3/7,
    //   −4/7, −1/7, −4/7 → Σ² = 78/49, G = 5: var = 5/4 · (78/49) / 49 = 390/9604.
    // Holdout h1 (1/2), h2 (0/1), h3 (1/2), h4 (0/1), h5 (0/1): m = 2/7, residuals 3/7, −2/7, 3/7, −2/7, −2/7
    //   → Σ² = 30/49: var = 5/4 · (30/49) / 49 = 150/9604. uplift = 2/7, se = √(540/9604) = 0.23712118,
    //   95%: [−0.17903518, 0.75046375]; incremental conversions 2/7 · 7 = 2.
    // Gross per row 24500/7 = 3500 vs 4000/7 → (3500 − 571.43) · 7 = 20500; cost 4500; net 16000; ROI 3.55555556.
    const all = r.overall;
    expect(all).toMatchObject({ key: 'all', offer: 'all', tier: 'all' });
    expect(all.treated).toMatchObject({ n: 7, users: 5, conversions: 4 });
    expect(all.holdout).toMatchObject({ n: 7, users: 5, conversions: 2 });
    close(all.uplift, 2 / 7, 12);
    closeCi(all.upliftCi, 2 / 7 - Z * Math.sqrt(540 / 9604), 2 / 7 + Z * Math.sqrt(540 / 9604), 12);
    closeCi(all.upliftCi, -0.17903518, 0.75046375, 7);
    close(all.incrementalConversions, 2, 12);
    close(all.incrementalRevenueMinor, 20500, 8);
    expect(all.couponCostMinor).toBe(4500);
    close(all.netIncrementalRevenueMinor, 16000, 8);
    closeCi(all.netIncrementalRevenueCi, -6403.96289, 38403.96289, 4);
    close(all.roi, 16000 / 4500, 12);

    // Cycles, oldest first. k1: treated a, b, d convert, e not (one row each): m = 3/4, var = 4/3 · 0.75 / 16 = 0.0625;
    // holdout h1, h3, h5 never convert: var 0. uplift 0.75 ± 1.959964 · 0.25 = [0.26000900, 1.23999100].
    // Gross 17000/4 − 0 → 17000; cost 3000; net 14000; paid residuals 4500, 500, −1500, −3500 → Σ² = 35e6,
    // var = 4/3 · 35e6 / 16 = 2916666.67, se·4 = 6831.30, → [610.897, 27389.103]; ROI 14000/3000.
    // k2: treated a (1500 off), c, d; holdout h1, h2, h3, h4: uplift 1/3 − 1/2 = −1/6;
    // gross 7500/3 − 4000/4 = 1500 → 4500; cost 1500; net 3000; ROI 2.
    expect(r.cycles.map((c) => [c.cycleId, c.windowStart])).toEqual([
      ['k1', W1.toISOString()],
      ['k2', W2.toISOString()],
    ]);
    const [k1, k2] = r.cycles;
    close(k1!.uplift, 0.75, 12);
    closeCi(k1!.upliftCi, 0.260009, 1.239991, 6);
    closeCi(k1!.netIncrementalRevenueCi, 610.897, 27389.103, 2);
    close(k2!.uplift, -1 / 6, 12);
    expect(r.trend).toEqual([
      { cycleId: 'k1', windowStart: W1.toISOString(), treated: 4, holdout: 3, netIncrementalRevenueMinor: k1!.netIncrementalRevenueMinor, netIncrementalRevenueCi: k1!.netIncrementalRevenueCi, couponCostMinor: 3000, roi: k1!.roi },
      { cycleId: 'k2', windowStart: W2.toISOString(), treated: 3, holdout: 4, netIncrementalRevenueMinor: k2!.netIncrementalRevenueMinor, netIncrementalRevenueCi: k2!.netIncrementalRevenueCi, couponCostMinor: 1500, roi: k2!.roi },
    ]);
    close(k1!.netIncrementalRevenueMinor, 14000, 8);
    close(k1!.roi, 14000 / 3000, 12);
    close(k2!.netIncrementalRevenueMinor, 3000, 8);
    close(k2!.roi, 2, 12);
  });

  it('keeps to the range and the last N cycles, and explains an empty report', async () => {
    const lastOne = await campaignReport(db, { windowDays: 14, cycles: 1 });
    expect(lastOne.trend.map((p) => p.cycleId)).toEqual(['k2']);
    expect(lastOne.overall.treated.n).toBe(7); // the other views keep the whole range
    const k2Only = await campaignReport(db, { since: W2, windowDays: 14, now: REPORT_NOW });
    expect(k2Only.overall.treated.n).toBe(3);
    expect(k2Only.overall.holdout.n).toBe(4);
    expect(k2Only.unsettled).toBe(1); // the open row of 06-25; the due one started at W1
    const k1Only = await campaignReport(db, { until: W2, windowDays: 14 });
    expect(k1Only.cycles.map((c) => c.cycleId)).toEqual(['k1']);
    expect(k1Only).toMatchObject({ unsettled: 1, unsettledWindowOpen: null, unsettledDue: null, nextWindowCloseAt: null });
    const none = await campaignReport(db, { since: new Date('2026-06-20T00:00:00Z'), windowDays: 14, now: REPORT_NOW });
    expect(none).toMatchObject({ settled: 0, unsettled: 1, unsettledWindowOpen: 1, unsettledDue: 0, offers: [], tiers: [], offerTiers: [], cycles: [], trend: [] });
    expect(none.overall).toMatchObject({ uplift: null, upliftCi: null, netIncrementalRevenueMinor: null, roi: null, couponCostMinor: 0 });
    expect(none.overall.treated).toMatchObject({ n: 0, conversionRate: null, revenuePerUserMinor: null });
    // The bot says why, instead of "no outreach".
    expect(campaignsMessage(none, 10, formatter('en', 'CNY'), 'campaigns').text).toBe('No outreach of the last 10 days has settled yet: 1 still inside the conversion window.');
    expect(campaignsMessage(none, 10, formatter('zh', 'CNY'), 'campaigns').text).toBe('近 10 天的触达尚未结算：1 条仍在转化窗口内。');
    await expect(campaignReport(db, { windowDays: 14, cycles: 0 })).rejects.toThrow(/cycles must be a positive integer/);
  });
});
