/**
 * Precomputed insights against the live queries on a seeded, scored database: the aggregates
 * refreshScoreAggregates stores equal what the live queries count; the insights service reads
 * the newest finished run's aggregates ("as of" that run) and falls back to live counting when
 * that run has none; the digest lists exactly the users who became high risk since its
 * baseline; settled campaign outcomes equal the live statement they replaced; and migration 0004 moves
 * an old jsonb digest snapshot into its table. Expected values come from SQL written here or
 * from the live queries, never from the code under test.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_SNAPSHOT_KEY, legacyCampaignRows, legacyNewHighRiskUsers } from '../../bench/bot-baseline.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { silentLogger } from '../../src/logger.js';
import { createInsights, HISTOGRAM_BUCKETS } from '../../src/services/insights.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { rescore } from '../../src/services/rescore.js';
import { seedPlatform } from '../../src/services/seed.js';
import { settleOutreach } from '../../src/services/settle.js';
import {
  DIGEST_SNAPSHOT_KEY,
  digestSnapshotInfo,
  newHighRiskUsers,
  overviewCounts,
  riskHistogram,
  saveDigestSnapshot,
  segmentStats,
} from '../../src/store/insights.js';
import { AGGREGATE_HISTOGRAM_BUCKETS, latestScoreAggregates, refreshScoreAggregates, scoreAggregatesOf, scoreCells } from '../../src/store/score-aggregates.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { mulberry32, randInt } from '../support/prng.js';

const END = new Date('2026-11-01T00:00:00Z');
const DAY = 86_400_000;

const sortCells = <T extends { segment: string | null; tier: string }>(cells: T[]) =>
  [...cells].sort((a, b) => String(a.segment).localeCompare(String(b.segment)) || a.tier.localeCompare(b.tier));

describe('score aggregates and the digest on a seeded, scored database', () => {
  let t: TestDatabase;
  let db: Database;
  let run1: number;

  beforeAll(async () => {
    t = await freshDatabase();
    db = t.db;
    await seedPlatform({ db, log: silentLogger }, { users: 1500, seed: 23, end: END });
    run1 = (await rescore({ db, log: silentLogger, now: () => END }, modelSettings(loadConfig({})))).modelRunId;
    // Whether or not a rescore refreshes them itself, each test decides what is stored.
    await db.query('delete from score_aggregates');
  }, 240_000);
  afterAll(async () => t?.drop());

  const one = async <T>(sql: string, params: unknown[] = []): Promise<T> => (await db.query<T>(sql, params))[0] as T;

  it('stores exactly what the live queries count', async () => {
    const a = await refreshScoreAggregates(db, run1);
    expect(a.runId).toBe(run1);
    expect(a.asOf.toISOString()).toBe(END.toISOString()); // the run's as-of, read from model_runs

    // Independently of the code under test.
    const users = await one<{ n: number }>('select count(*)::int as n from users');
    const active = await one<{ n: number }>(
      `select count(distinct user_id)::int as n from events where occurred_at >= $1::timestamptz - interval '30 days' and occurred_at < $1`,
      [END.toISOString()],
    );
    expect(a.users).toBe(users.n);
    expect(a.active30d).toBe(active.n);
    expect(a.active30d).toBeGreaterThan(0);

    // The live queries, cell by cell.
    const live = sortCells(await scoreCells(db));
    const stored = sortCells(a.cells);
    expect(stored.map((c) => [c.segment, c.tier, c.users])).toEqual(live.map((c) => [c.segment, c.tier, c.users]));
    stored.forEach((c, i) => {
      expect(c.churnSum).toBeCloseTo(live[i]!.churnSum, 6);
      expect(c.valueAtRiskMinor).toBeCloseTo(live[i]!.valueAtRiskMinor, 2);
    });
    for (const b of AGGREGATE_HISTOGRAM_BUCKETS) expect(a.histograms[String(b)]).toEqual((await riskHistogram(db, b)).map((x) => x.users));

    // And through the service: the same answers as counted live, but "as of" the run.
    const i = createInsights({ db, now: () => END, conversionWindowDays: 14 });
    const [fromAggregates, counted, liveHistogram, liveStats] = await Promise.all([i.overview(), overviewCounts(db, END), riskHistogram(db, HISTOGRAM_BUCKETS), segmentStats(db)]);
    expect(fromAggregates.asOf?.toISOString()).toBe(END.toISOString());
    expect(counted.asOf).toBeNull();
    expect({ ...fromAggregates, asOf: null, histogram: undefined }).toEqual({ ...counted, histogram: undefined });
    expect(fromAggregates.histogram).toEqual(liveHistogram);
    const view = await i.segments();
    expect(view.asOf?.toISOString()).toBe(END.toISOString());
    expect(view.stats.map((s) => [s.segment, s.users, s.high, s.medium, s.low])).toEqual(liveStats.map((s) => [s.segment, s.users, s.high, s.medium, s.low]));
    view.stats.forEach((s, k) => {
      expect(s.avgChurn).toBeCloseTo(liveStats[k]!.avgChurn, 9);
      expect(s.valueAtRiskMinor).toBeCloseTo(liveStats[k]!.valueAtRiskMinor, 2);
    });
    const detail = await i.segment(view.stats[0]!.segment, 5);
    expect(detail.asOf?.toISOString()).toBe(END.toISOString());
    expect(detail.stat).toEqual(view.stats[0]);

    // Refreshing again replaces, never duplicates.
    await refreshScoreAggregates(db, run1);
    expect(await one<{ n: number }>('select count(*)::int as n from score_aggregates')).toEqual({ n: 1 });
  });

  it('reads the newest finished run’s aggregates, and counts live when that run has none', async () => {
    await refreshScoreAggregates(db, run1);
    const i = createInsights({ db, now: () => END, conversionWindowDays: 14 });
    const stored = await i.overview();
    expect(stored.asOf).not.toBeNull();
    // Scores change after the run (a rescore in progress, say): the stored answer stays that of the run.
    const moved = await db.query<{ user_id: string }>(`update user_scores set risk_tier = 'high' where user_id in (select user_id from user_scores where risk_tier = 'low' order by user_id limit 7) returning user_id`);
    expect(moved).toHaveLength(7);
    expect((await i.overview()).tiers).toEqual(stored.tiers);
    // A newer run still running changes nothing either.
    const [running] = await db.query<{ id: number }>(`insert into model_runs (kind, status, as_of) values ('rescore', 'running', $1) returning id`, [END.toISOString()]);
    expect((await latestScoreAggregates(db))?.runId).toBe(run1);
    expect((await i.overview()).tiers).toEqual(stored.tiers);
    // Once a newer run has finished without aggregates, everything is counted live, as of now.
    await db.query(`update model_runs set status = 'done', finished_at = now() where id = $1`, [running!.id]);
    expect(await latestScoreAggregates(db)).toBeNull();
    expect(await scoreAggregatesOf(db, run1)).not.toBeNull(); // the older run's are kept, just not used
    const live = await i.overview();
    expect(live.asOf).toBeNull();
    expect(live.tiers.high).toBe(stored.tiers.high + 7);
    expect(live.tiers.low).toBe(stored.tiers.low - 7);
    expect(live.lastRescore?.runId).toBe(running!.id);
    const view = await i.segments();
    expect(view.asOf).toBeNull();
    expect(view.stats).toEqual(await segmentStats(db));
    // And once that run has its own aggregates, they are read again.
    await refreshScoreAggregates(db, running!.id);
    const again = await i.overview();
    expect(again.asOf?.toISOString()).toBe(END.toISOString());
    expect(again.tiers).toEqual(live.tiers);
    expect(again.lastRescore?.runId).toBe(running!.id);

    // The bot's 5-minute cache notices a run getting its aggregates at once.
    const cachedInsights = createInsights({ db, now: () => END, conversionWindowDays: 14, aggregateCacheMs: 5 * 60_000 });
    await db.query('delete from score_aggregates where model_run_id = $1', [running!.id]);
    expect((await cachedInsights.overview()).asOf).toBeNull();
    expect((await cachedInsights.segments()).asOf).toBeNull();
    await refreshScoreAggregates(db, running!.id);
    expect((await cachedInsights.overview()).asOf?.toISOString()).toBe(END.toISOString());
    expect((await cachedInsights.segments()).asOf?.toISOString()).toBe(END.toISOString());

    await expect(refreshScoreAggregates(db, 987_654)).rejects.toThrow(/no rescore model run with id 987654/);
    // Put things back for the next test.
    await db.query(`update user_scores set risk_tier = 'low' where user_id = any($1::text[])`, [moved.map((m) => m.user_id)]);
    await db.query('delete from model_runs where id = $1', [running!.id]);
    await db.query('delete from score_aggregates where model_run_id = $1', [running!.id]);
  });

  it('lists exactly the users who became high risk since the digest baseline, most value at risk first', async () => {
    const run2 = run1 + 1000; // the scores of a later run, written by hand so the changes are known
    const ids = async (sql: string, params: unknown[] = []) => (await db.query<{ user_id: string }>(sql, params)).map((r) => r.user_id);

    // First digest: no baseline, every high-risk user is new.
    await db.query('delete from digest_baseline_users');
    await db.query('delete from settings where key = $1', [DIGEST_SNAPSHOT_KEY]);
    const high1 = await ids(`select user_id from user_scores where risk_tier = 'high' and model_run_id = $1`, [run1]);
    expect(high1.length).toBeGreaterThan(20);
    expect((await newHighRiskUsers(db, run1, 5)).total).toBe(high1.length);
    expect(await saveDigestSnapshot(db, run1, 'test')).toBe(high1.length);
    expect(await digestSnapshotInfo(db)).toEqual({ runId: run1, users: high1.length });
    expect((await ids('select user_id from digest_baseline_users order by user_id')).sort()).toEqual([...high1].sort());
    expect(await newHighRiskUsers(db, run1, 20)).toEqual({ total: 0, users: [] });

    // The next run: 30 users become high (some with no segment), 10 leave the high tier, one
    // new high user still carries the old run id (a chunk not rewritten) and must not count.
    const rand = mulberry32(5);
    const notHigh = await ids(`select user_id from user_scores where risk_tier <> 'high' order by user_id`);
    const becoming = new Set<string>();
    while (becoming.size < 31) becoming.add(notHigh[randInt(rand, notHigh.length)]!);
    const [stale, ...fresh] = [...becoming];
    const leaving = high1.slice(0, 10);
    await db.query(`update user_scores set model_run_id = $1`, [run2]);
    await db.query(`update user_scores set risk_tier = 'high', churn_probability = greatest(churn_probability, 0.61) where user_id = any($1::text[])`, [[...becoming]]);
    await db.query(`update user_scores set segment = null where user_id = any($1::text[])`, [fresh.slice(0, 3)]);
    await db.query(`update user_scores set risk_tier = 'medium', churn_probability = 0.45 where user_id = any($1::text[])`, [leaving]);
    await db.query(`update user_scores set model_run_id = $1 where user_id = $2`, [run1, stale]);

    const expected = await ids(
      `select user_id from user_scores where user_id = any($1::text[])
       order by expected_value_minor * churn_probability desc nulls last, user_id`,
      [fresh],
    );
    expect(expected).toHaveLength(30);
    const top = await newHighRiskUsers(db, run2, 20);
    expect(top.total).toBe(30);
    expect(top.users.map((u) => u.userId)).toEqual(expected.slice(0, 20));
    expect(top.users.every((u) => u.tier === 'high')).toBe(true);
    const all = await newHighRiskUsers(db, run2, 1000);
    expect(all.users.map((u) => u.userId)).toEqual(expected);
    const first = await one<{ name: string | null; email: string | null }>('select name, email from users where id = $1', [expected[0]]);
    expect(top.users[0]).toMatchObject({ name: first.name, email: first.email });
    expect((await newHighRiskUsers(db, run2, 0)).users).toEqual([]);

    // The old snapshot query (bench/bot-baseline.ts) agrees on the same change.
    await db.query(
      `insert into settings (key, value) values ($1, jsonb_build_object('runId', $2::bigint, 'users', to_jsonb($3::text[])))
       on conflict (key) do update set value = excluded.value`,
      [LEGACY_SNAPSHOT_KEY, run1, high1],
    );
    const legacy = await legacyNewHighRiskUsers(db, run2, 20);
    expect(legacy.total).toBe(30);

    // Saving run2 as the baseline writes the difference: leavers out, newcomers in.
    const high2 = await ids(`select user_id from user_scores where risk_tier = 'high' and model_run_id = $1`, [run2]);
    expect(await saveDigestSnapshot(db, run2, 'test')).toBe(high2.length);
    expect((await ids('select user_id from digest_baseline_users order by user_id')).sort()).toEqual([...high2].sort());
    expect(await digestSnapshotInfo(db)).toEqual({ runId: run2, users: high2.length });
    expect(await newHighRiskUsers(db, run2, 20)).toEqual({ total: 0, users: [] });
    // Once rewritten by run2, `stale` is new against that baseline.
    await db.query(`update user_scores set model_run_id = $1 where user_id = $2`, [run2, stale]);
    expect((await newHighRiskUsers(db, run2, 20)).users.map((u) => u.userId)).toEqual([stale]);
  });
});

describe('campaign outcomes', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());

  it('equal the statement they replaced, on random outreach and purchases at the window edges', async () => {
    const db = t.db;
    const rand = mulberry32(42);
    const base = new Date('2026-09-01T00:00:00Z').getTime();
    const iso = (ms: number, micros = 0) => `${new Date(ms).toISOString().slice(0, 19)}.${String((ms % 1000) * 1000 + micros).padStart(6, '0')}Z`;
    const outreach: unknown[][] = [];
    const events: unknown[][] = [];
    const coupons: string[] = [];
    for (let k = 0; k < 600; k++) {
      const user = `cu${randInt(rand, 250)}`;
      const created = base + randInt(rand, 50) * DAY + randInt(rand, DAY);
      const scheduled = created + (rand() < 0.3 ? randInt(rand, 10 * 3600_000) : 0); // quiet hours
      const holdout = rand() < 0.2;
      const sent = !holdout && rand() < 0.9 ? scheduled + randInt(rand, 600_000) : null;
      const tier = rand() < 0.5 ? 'high' : 'medium';
      const micros = randInt(rand, 1000);
      outreach.push([`c${Math.floor((created - base) / DAY)}-${k}`, user, tier, tier === 'high' ? 'coupon' : 'email', holdout, sent ? 'sent' : 'skipped', iso(scheduled, micros), sent ? iso(sent, micros) : null, iso(created)]);
      const t0 = sent ?? scheduled;
      // Purchases just before, at, inside, just before the end of and at the end of the 14-day window.
      for (const at of [t0 - 1, t0, t0 + randInt(rand, 14 * DAY), t0 + 14 * DAY - 1, t0 + 14 * DAY]) {
        if (rand() < 0.25) events.push([`e${events.length}`, rand() < 0.8 ? 'purchase' : 'renewal', user, iso(at, micros), 1000 + randInt(rand, 9000), null]);
      }
      if (rand() < 0.05) events.push([`v${events.length}`, 'view', user, iso(t0 + DAY), null, null]);
    }
    await db.query(
      `insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]::bool[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[])`,
      outreach[0]!.map((_, col) => outreach.map((r) => (typeof r[col] === 'boolean' ? String(r[col]) : r[col]))), // postgres.js cannot bind a boolean[]
    );
    for (const o of await db.query<{ id: number }>(`select id from outreach where channel = 'coupon' and not holdout order by id`)) coupons.push(`RK-${o.id}`);
    await db.query(
      `with c as (insert into coupons (code, user_id, outreach_id, kind, value, expires_at)
                  select 'RK-' || o.id, o.user_id, o.id, 'percent', 20, o.scheduled_at + interval '14 days' from outreach o where o.channel = 'coupon' and not o.holdout returning id, outreach_id)
       update outreach o set coupon_id = c.id from c where o.id = c.outreach_id`,
    );
    coupons.forEach((code, k) => {
      if (k % 3 === 0) events.push([`r${k}`, k % 2 ? 'coupon_redeemed' : 'purchase', 'someone', iso(base + 40 * DAY), k % 2 ? null : 500, code]);
    });
    await db.query(
      `insert into events (source, event_id, type, user_id, occurred_at, amount_minor, currency, coupon_code)
       select 'test', e.id, e.type, e.user_id, e.at, e.amount, 'CNY', e.code
       from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::text[]) as e(id, type, user_id, at, amount, code)`,
      [0, 1, 2, 3, 4, 5].map((col) => events.map((r) => r[col])),
    );
    // Settled outcomes (once per window size, from scratch) grouped as the old statement grouped
    // live conversions: the same rows, conversions and revenue at every window edge.
    for (const windowDays of [1, 7, 14]) {
      await db.query('delete from outreach_outcomes');
      await db.query('update outreach set settled_at = null');
      const settled = await settleOutreach({ db, log: silentLogger, now: () => new Date(base + 200 * DAY) }, { windowDays });
      expect(settled.settled).toBe(outreach.length);
      for (const sinceDay of [0, 10, 25, 49, 60]) {
        const since = new Date(base + sinceDay * DAY);
        const legacy = (await legacyCampaignRows(db, { since, windowDays })) as { tier: string; holdout: boolean; users: number; conversions: number; revenue: number | null; coupons: number }[];
        const now = await db.query<{ tier: string; holdout: boolean; users: number; conversions: number; revenue: number; coupons: number }>(
          `select oc.tier, oc.holdout, count(*)::int as users, count(*) filter (where oc.converted)::int as conversions,
                  sum(oc.revenue_minor)::float8 as revenue, count(*) filter (where oc.channel = 'coupon' and not oc.holdout)::int as coupons
           from outreach_outcomes oc join outreach o on o.id = oc.outreach_id
           where o.created_at >= $1 and oc.window_days = $2 group by 1, 2`,
          [since.toISOString(), windowDays],
        );
        const norm = (rows: { tier: string; holdout: boolean; users: number; conversions: number; revenue: number | null; coupons: number }[]) =>
          rows
            .map((r) => ({ tier: r.tier, holdout: r.holdout, users: r.users, conversions: r.conversions, revenue: Number(r.revenue ?? 0), coupons: r.coupons }))
            .sort((a, b) => a.tier.localeCompare(b.tier) || Number(a.holdout) - Number(b.holdout));
        expect(norm(now), `since day ${sinceDay}, ${windowDays}-day window`).toEqual(norm(legacy));
        if (sinceDay === 0 && windowDays === 14) expect(legacy.some((g) => g.conversions > 0)).toBe(true);
        if (sinceDay === 60) expect(now).toEqual([]);
      }
    }
  });
});

describe('migration 0004', () => {
  let t: TestDatabase;
  let dir: string;
  afterAll(async () => {
    await t?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves an old digest snapshot (a jsonb array in settings) into digest_baseline_users', async () => {
    t = await freshDatabase();
    // The template is migrated to the newest version: start from an empty schema instead.
    await t.db.query('drop schema public cascade');
    await t.db.query('create schema public');
    await t.db.query('drop schema drizzle cascade');
    dir = mkdtempSync(join(tmpdir(), 'rk-migrations-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const journalPath = join(dir, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
    const at0004 = journal.entries.findIndex((e) => e.tag.startsWith('0004_'));
    expect(at0004).toBeGreaterThan(0);
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at0004) }));
    await migratePostgres(t.db.orm as never, { migrationsFolder: dir });
    expect(await t.db.query(`select to_regclass('digest_baseline_users') as t`)).toEqual([{ t: null }]);
    await t.db.query(`insert into settings (key, value, updated_by) values ($1, '{"runId": 12, "users": ["u1", "u2", "u3", "u2"]}', 'digest')`, [DIGEST_SNAPSHOT_KEY]);

    await migrate(t.db);
    expect((await t.db.query<{ user_id: string }>('select user_id from digest_baseline_users order by user_id')).map((r) => r.user_id)).toEqual(['u1', 'u2', 'u3']);
    expect(await digestSnapshotInfo(t.db)).toEqual({ runId: 12, users: 3 });
  });
});

describe('on PGlite', () => {
  it('refreshes and reads aggregates, lists new high-risk users and reports campaigns on the embedded database too', async () => {
    const t = await freshDatabase('pglite');
    try {
      const db = t.db;
      await db.query(`insert into users (id, email) values ('a', 'a@example.com'), ('b', 'b@example.com'), ('c', null)`);
      await db.query(
        `insert into user_scores (user_id, model_run_id, scored_at, churn_probability, risk_tier, expected_value_minor, segment)
         values ('a', 1, now(), 0.9, 'high', 10000, 'at_risk'), ('b', 1, now(), 0.65, 'high', 500, 'champions'), ('c', 1, now(), 0.1, 'low', 50000, 'champions')`,
      );
      await db.query(
        `insert into events (source, event_id, type, user_id, occurred_at, amount_minor) values
           ('t', 'e1', 'view', 'a', $1::timestamptz - interval '3 days', null), ('t', 'e2', 'purchase', 'b', $1::timestamptz - interval '40 days', 900),
           ('t', 'e3', 'purchase', 'a', $1::timestamptz - interval '1 day', 1200)`,
        [END.toISOString()],
      );
      await db.query(`insert into model_runs (id, kind, status, as_of, finished_at) values (1, 'rescore', 'done', $1, $1)`, [END.toISOString()]);
      const i = createInsights({ db, now: () => new Date(END.getTime() + 5 * DAY), conversionWindowDays: 14 });
      expect((await i.overview()).asOf).toBeNull();
      const a = await refreshScoreAggregates(db, 1);
      expect(a).toMatchObject({ users: 3, active30d: 1 });
      const o = await i.overview();
      expect(o).toMatchObject({ users: 3, active30d: 1, payers: 3, tiers: { high: 2, medium: 0, low: 1 } });
      expect(o.asOf?.toISOString()).toBe(END.toISOString());
      expect(o.histogram.map((b) => b.users).reduce((x, y) => x + y, 0)).toBe(3);
      expect((await i.segments()).stats.map((s) => s.segment)).toEqual(['champions', 'at_risk']);
      await db.query(`insert into digest_baseline_users (user_id) values ('b')`);
      expect(await newHighRiskUsers(db, 1, 20)).toMatchObject({ total: 1, users: [{ userId: 'a' }] });
      await db.query(
        `insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at)
         values ('c1', 'a', 'high', 'coupon', false, 'sent', $1::timestamptz - interval '2 days', $1::timestamptz - interval '2 days', $1::timestamptz - interval '2 days'),
                ('c1', 'b', 'high', 'coupon', true, 'skipped', $1::timestamptz - interval '2 days', null, $1::timestamptz - interval '2 days')`,
        [END.toISOString()],
      );
      expect((await i.campaigns(30)).unsettled).toBe(2);
      // The windows (END − 2 d, + 14 d) close at END + 12 d: settled then, on PGlite too.
      expect((await settleOutreach({ db, log: silentLogger, now: () => new Date(END.getTime() + 12 * DAY) }, { windowDays: 14 })).settled).toBe(2);
      const r = await i.campaigns(30);
      expect(r.tiers.map((x) => [x.tier, x.treated.n, x.treated.conversions, x.treated.revenueMinor, x.holdout.n, x.holdout.conversions])).toEqual([['high', 1, 1, 1200, 1, 0]]);
    } finally {
      await t.drop();
    }
  }, 60_000);
});
