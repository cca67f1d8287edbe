/**
 * bench:bot — every insights query the Slack bot (and the CLI reports) runs, timed on a
 * scratch PostgreSQL database holding 1M scored users: p50/p99 over N runs each with varied
 * parameters, twice on the same data: the baseline (what the bot did before: totals counted
 * live from every score, the digest against a jsonb snapshot in settings, the old campaign
 * statement — bench/bot-baseline.ts), then now (totals read from the aggregates that
 * refreshScoreAggregates stores for the rescore run, the digest against digest_baseline_users,
 * the campaign report over settled outcomes, src/services/campaign-report.ts, after
 * settling the cycle once, timed). Target: p99 under 300 ms.
 *
 * The data is made with set-based SQL (generate_series), not by running the models: users,
 * user_scores (with explanation and a 23-key features jsonb, as wide as real rows), 5
 * recommendations per user, events over the last 60 days and the two years before, one
 * outreach cycle 20 days ago for a quarter of the high/medium users (a tenth held out) with
 * coupons for the high tier, a seventh of them redeemed, and a rescore and a backtest run
 * (params of realistic size).
 *
 * Usage: node --import tsx bench/bot.ts [--users 1000000] [--runs 50] [--keep]
 *   --keep leaves the scratch database in place and prints its URL; --db <url> times an
 *   existing one made that way (no fill; it is reset to the state after the fill first).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { openDatabase, type Database } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { FEATURE_NAMES } from '../src/domain/features.js';
import { RFM_SEGMENTS } from '../src/ml/rfm.js';
import { silentLogger } from '../src/logger.js';
import { campaignReport } from '../src/services/campaign-report.js';
import { settleOutreach } from '../src/services/settle.js';
import { createInsights } from '../src/services/insights.js';
import {
  atRiskUsers,
  countUsers,
  findUserId,
  modelCard,
  newHighRiskUsers,
  overviewCounts,
  personaDescriptions,
  riskHistogram,
  saveDigestSnapshot,
  scoreCells,
  segmentStats,
  segmentUsers,
  userCard,
} from '../src/store/insights.js';
import { latestScoreAggregates, refreshScoreAggregates } from '../src/store/score-aggregates.js';
import { LEGACY_SNAPSHOT_KEY, legacyCampaignRows, legacyNewHighRiskUsers, legacySaveDigestSnapshot } from './bot-baseline.js';
import { machine, scratchDatabase, table } from './support.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
    db: { type: 'string' },
  },
});
const USERS = Number(args.users);
const RUNS = Number(args.runs);
const NOW = new Date('2026-11-01T00:00:00Z');
const TIERS = ['high', 'medium', 'low'] as const;

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  say(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

async function fill(db: Database): Promise<void> {
  const segs = `array[${RFM_SEGMENTS.map((s) => `'${s}'`).join(',')}]`;
  const features = `jsonb_build_object(${FEATURE_NAMES.map((f, i) => `'${f}', round((random() * ${10 + i * 7})::numeric, 4)`).join(', ')})`;
  await step('items (500)', () =>
    db.query(`insert into items (id, title, item_type, category, tags, price_minor, currency)
              select 'c' || g, '课程 ' || g, case when g % 10 = 0 then 'membership' else 'course' end, 'cat' || (g % 12), array['t' || (g % 30)], 9900 + g * 100, 'CNY'
              from generate_series(1, 500) g`),
  );
  await step(`users (${USERS.toLocaleString('en')})`, () =>
    db.query(
      `insert into users (id, email, name, locale, timezone, signup_at, updated_at)
       select 'u' || g, 'user' || g || '@example.com', (array['王','李','张','刘','陈','杨','赵','黄'])[1 + g % 8] || (array['伟','芳','娜','敏','静','磊','洋','艳'])[1 + (g / 8) % 8],
              case when g % 9 = 0 then 'en' else 'zh-CN' end, 'Asia/Shanghai', $2::timestamptz - (g % 1500) * interval '1 day', $2::timestamptz
       from generate_series(1, $1::int) g`,
      [USERS, NOW.toISOString()],
    ),
  );
  // Risk skewed low (most users are fine), value log-normal-ish; tiers at the default 0.6 / 0.3.
  await step('user_scores (explanation + 23-key features)', () =>
    db.transaction(async (tx) => {
      await tx.query('select setseed(0.42)');
      await tx.query(
        `insert into user_scores (user_id, model_run_id, scored_at, churn_probability, risk_tier, p_alive, expected_purchases, expected_value_minor,
                                  rfm_r, rfm_f, rfm_m, segment, persona, explanation, features)
         select 'u' || g, 1, $2, p, case when p >= 0.6 then 'high' when p >= 0.3 then 'medium' else 'low' end, 1 - p * 0.9, 3 * (1 - p),
                round(exp(random() * 5) * 1000), 1 + g % 5, 1 + (g / 5) % 5, 1 + (g / 25) % 5,
                (${segs})[1 + floor(power(random(), 1.6) * 11)::int], g % 6,
                jsonb_build_array(jsonb_build_object('feature', 'recency_days', 'contribution', round((random() * 2)::numeric, 4), 'value', round((random() * 300)::numeric, 1)),
                                  jsonb_build_object('feature', 'views_30d', 'contribution', round(random()::numeric, 4), 'value', floor(random() * 40)),
                                  jsonb_build_object('feature', 'trend', 'contribution', round((random() / 2)::numeric, 4), 'value', round((random() * 2 - 1)::numeric, 3))),
                ${features}
         from (select g, power(random(), 1.7) as p from generate_series(1, $1::int) g) x`,
        [USERS, NOW.toISOString()],
      );
    }),
  );
  await step('recommendations (5 per user)', () =>
    db.query(
      `insert into recommendations (user_id, rank, item_id, score, reason, model_run_id)
       select 'u' || g, r, 'c' || (1 + (g * 7 + r * 13) % 500), 1.0 / r,
              case when r = 1 then jsonb_build_object('kind', 'because_bought', 'itemId', 'c' || (1 + g % 500)) else '{"kind":"popular"}'::jsonb end, 2
       from generate_series(1, $1::int) g cross join generate_series(1, 5) r`,
      [USERS],
    ),
  );
  // About 3 events per user in the last 60 days and 3 more over the two years before: views
  // mostly, some purchases and renewals. "Active in 30 days" must not cost the whole history.
  await step('events (3 per user in the last 60 days, 3 in the 2 years before)', () =>
    db.transaction(async (tx) => {
      await tx.query('select setseed(0.7)');
      await tx.query(
        `insert into events (source, event_id, type, user_id, item_id, occurred_at, amount_minor, currency)
         select 'bench', 'e' || g || '-' || k, t, 'u' || g, 'c' || (1 + (g + k) % 500),
                $2::timestamptz - case when k <= 3 then random() * interval '60 days' else interval '60 days' + random() * interval '730 days' end,
                case when t = 'view' then null else 19900 end, case when t = 'view' then null else 'CNY' end
         from (select g, k, case when random() < 0.8 then 'view' when random() < 0.8 then 'purchase' else 'renewal' end as t
               from generate_series(1, $1::int) g cross join generate_series(1, 6) k where random() < 0.9) x`,
        [USERS, NOW.toISOString()],
      );
    }),
  );
  // One outreach cycle 20 days ago for a tenth of the users (a tenth of those held out), coupons for the high tier.
  await step('outreach + coupons', async () => {
    await db.query(
      `insert into outreach (cycle_id, user_id, tier, channel, holdout, state, scheduled_at, sent_at, created_at, churn_probability, model_run_id)
       select 'c-bench', s.user_id, s.risk_tier, case when s.risk_tier = 'high' then 'coupon' else 'email' end, h, case when h then 'skipped' else 'sent' end,
              $1::timestamptz, case when h then null else $1::timestamptz end, $1::timestamptz, s.churn_probability, 1
       from (select user_id, risk_tier, churn_probability, hashtext(user_id) % 10 = 0 as h from user_scores where risk_tier <> 'low' and hashtext(user_id) % 4 = 0) s`,
      [new Date(NOW.getTime() - 20 * 86_400_000).toISOString()],
    );
    await db.query(
      `with c as (
         insert into coupons (code, user_id, outreach_id, kind, value, expires_at, redeemed_at)
         select 'RK-' || o.id, o.user_id, o.id, 'percent', 20, o.scheduled_at + interval '14 days', case when o.id % 7 = 0 then o.scheduled_at + interval '3 days' end
         from outreach o where o.channel = 'coupon' and not o.holdout returning id, outreach_id)
       update outreach o set coupon_id = c.id from c where o.id = c.outreach_id`,
    );
    // Redemptions reported by the product: a coupon_redeemed event with the code.
    await db.query(
      `insert into events (source, event_id, type, user_id, occurred_at, coupon_code)
       select 'bench', 'r-' || c.id, 'coupon_redeemed', c.user_id, c.redeemed_at, c.code from coupons c where c.redeemed_at is not null`,
    );
  });
  await step('model runs (rescore + backtest, ~1 MB params)', async () => {
    await db.query(
      `insert into model_runs (id, kind, status, as_of, horizon_days, params, metrics, row_count, positives, base_rate, finished_at)
       values (1, 'rescore', 'done', $1, 90,
               jsonb_build_object('rfm', (select jsonb_agg(random()) from generate_series(1, 60000)),
                                  'personaDescriptions', (select jsonb_agg(jsonb_build_object('cluster', k, 'size', 1000 * k, 'share', k / 21.0, 'text', 'buys often, spends a lot')) from generate_series(0, 5) k)),
               '{"churn":{"auc":0.81,"prAuc":0.77,"brier":0.17,"baselineAuc":0.79,"n":100000,"positives":43000},"scored":${USERS}}', 100000, 43000, 0.43, $1),
              (2, 'recommend', 'done', $1, 90, '{}', '{}', null, null, null, $1),
              (3, 'backtest', 'done', $1, 90, '{"k":10}', '{"churn":{"auc":0.8,"baselineAuc":0.78},"recommend":{"k":10,"precision":0.05,"ndcg":0.12,"popularity":{"precision":0.03,"ndcg":0.08}}}', 100000, 43000, 0.43, $1)`,
      [NOW.toISOString()],
    );
    await db.query(`select setval(pg_get_serial_sequence('model_runs', 'id'), 3)`);
  });
  await step('vacuum analyze', () => vacuum(db));
}

async function vacuum(db: Database): Promise<void> {
  // Index-only scans need the visibility map: what autovacuum does after a rescore, done now.
  for (const t of ['users', 'user_scores', 'recommendations', 'events', 'outreach', 'coupons', 'model_runs', 'settings', 'items', 'digest_baseline_users', 'score_aggregates'])
    await db.query(`vacuum (analyze) ${t}`);
}

/** One query, timed before (baseline) and now; either may be missing (new or retired). */
interface Case {
  name: string;
  baseline?: (i: number) => Promise<unknown>;
  now?: (i: number) => Promise<unknown>;
  runs?: number;
  /** Untimed, before every run (e.g. putting the digest baseline back). */
  before?: () => Promise<unknown>;
  /** Only run when the newest rescore run has no aggregates (an older database): not held to the target. */
  fallback?: boolean;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

interface Timing {
  p50: number;
  p99: number;
  max: number;
}

async function time(run: (i: number) => Promise<unknown>, n: number, before?: () => Promise<unknown>): Promise<Timing> {
  await before?.();
  await run(0); // warm: plan cache and page cache
  const ms: number[] = [];
  for (let i = 1; i <= n; i++) {
    await before?.();
    const t0 = performance.now();
    await run(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms[ms.length - 1] as number };
}

/**
 * Puts the digest baselines (new table and legacy jsonb) back to the previous run's high tier,
 * as the fill left them; `vacuum` as the digest does after saving, for the index-only merge.
 */
async function restoreDigestBaselines(db: Database, o: { vacuum: boolean }): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('delete from digest_baseline_users');
    await tx.query('insert into digest_baseline_users (user_id) select user_id from bench_digest_baseline');
    await tx.query(`update settings set value = jsonb_build_object('runId', 1, 'users', (select count(*) from bench_digest_baseline)) where key = 'digest.high_risk_snapshot'`);
    await tx.query(`update settings set value = (select value from settings where key = 'bench.legacy_copy') where key = $1`, [LEGACY_SNAPSHOT_KEY]);
  });
  if (o.vacuum) for (const t of ['digest_baseline_users', 'settings']) await db.query(`vacuum (analyze) ${t}`);
}

function cases(db: Database): Case[] {
  const user = (i: number) => `u${1 + ((i * 104_729) % USERS)}`;
  const seg = (i: number) => RFM_SEGMENTS[i % RFM_SEGMENTS.length] as string;
  const tier = (i: number) => TIERS[i % 3] as (typeof TIERS)[number];
  const n = (i: number) => [10, 20, 50, 100][i % 4] as number;
  const cold = createInsights({ db, now: () => NOW, conversionWindowDays: 14 });
  const warm = createInsights({ db, now: () => NOW, conversionWindowDays: 14, aggregateCacheMs: 5 * 60_000 });
  const since = new Date(NOW.getTime() - 30 * 86_400_000);
  const both = (fn: (i: number) => Promise<unknown>) => ({ baseline: fn, now: fn });
  const restore = () => restoreDigestBaselines(db, { vacuum: true });
  return [
    { name: 'overview, as the bot asks it (service, uncached)', ...both(() => cold.overview()) },
    { name: 'overview, as the bot asks it (service, cached)', ...both(() => warm.overview()) },
    { name: 'segments (service, uncached)', ...both(() => cold.segments()) },
    { name: 'segment detail: stats + top n (service, uncached)', ...both((i) => cold.segment(seg(i + 3), n(i))) },
    { name: 'latestScoreAggregates (the stored totals)', now: () => latestScoreAggregates(db) },
    { name: 'live fallback: overviewCounts', fallback: true, ...both(() => overviewCounts(db, NOW)) },
    { name: '  · users', fallback: true, ...both(() => db.query('select count(*)::int as n from users')) },
    { name: '  · active in 30 days', fallback: true, ...both(() => db.query('select count(*)::int as n from (select user_id from events where occurred_at >= $1 and occurred_at < $2 group by user_id) a', [since.toISOString(), NOW.toISOString()])) },
    { name: '  · scoreCells (segment × tier totals)', fallback: true, ...both(() => scoreCells(db)) },
    { name: 'live fallback: riskHistogram (20 buckets)', fallback: true, ...both(() => riskHistogram(db, 20)) },
    { name: 'live fallback: segmentStats', fallback: true, ...both(() => segmentStats(db)) },
    { name: 'countUsers (tier and/or segment)', ...both((i) => countUsers(db, i % 3 === 0 ? { tier: tier(i) } : i % 3 === 1 ? { segment: seg(i) } : { tier: tier(i), segment: seg(i) })) },
    { name: 'atRiskUsers (no filter, n 10–100)', ...both((i) => atRiskUsers(db, { n: n(i) })) },
    { name: 'atRiskUsers (tier)', ...both((i) => atRiskUsers(db, { n: n(i), tier: tier(i) })) },
    { name: 'atRiskUsers (segment)', ...both((i) => atRiskUsers(db, { n: n(i), segment: seg(i) })) },
    { name: 'atRiskUsers (segment + tier)', ...both((i) => atRiskUsers(db, { n: n(i), segment: seg(i), tier: tier(i) })) },
    { name: 'segmentUsers', ...both((i) => segmentUsers(db, seg(i + 5), n(i))) },
    { name: 'findUserId (id)', ...both((i) => findUserId(db, { kind: 'id', value: user(i) })) },
    { name: 'findUserId (email, as stored)', ...both((i) => findUserId(db, { kind: 'email', value: `${user(i).replace('u', 'user')}@example.com` })) },
    { name: 'findUserId (email, other case)', ...both((i) => findUserId(db, { kind: 'email', value: `${user(i).replace('u', 'USER')}@EXAMPLE.com` })) },
    { name: 'userCard', ...both((i) => userCard(db, user(i), { windowDays: 14 })) },
    { name: 'personaDescriptions (uncached)', ...both(() => personaDescriptions(db, 1)) },
    { name: 'modelCard', ...both(() => modelCard(db)) },
    {
      name: 'digest: new high-risk users, count + top 20',
      baseline: () => legacyNewHighRiskUsers(db, 1, 20),
      now: () => newHighRiskUsers(db, 1, 20),
      runs: Math.min(RUNS, 20),
    },
    {
      name: 'digest: save the baseline (a write, once a day)',
      baseline: () => legacySaveDigestSnapshot(db, 1, 'bench'),
      now: () => saveDigestSnapshot(db, 1, 'bench'),
      before: restore,
      runs: 5,
    },
    {
      name: 'campaign report, 30 days (service)',
      baseline: () => legacyCampaignRows(db, { since, windowDays: 14 }),
      now: () => campaignReport(db, { since, windowDays: 14 }),
      runs: Math.min(RUNS, 20),
    },
  ];
}

async function main(): Promise<void> {
  const scratch = args.db ? { url: args.db, drop: async () => {} } : await scratchDatabase('bot');
  const db = await openDatabase({ databaseUrl: scratch.url, poolSize: 4 });
  try {
    say(`bench:bot — ${machine()}`);
    const t0 = performance.now();
    await migrate(db);
    if (args.db) {
      say(`reusing ${args.db.replace(/\/\/[^@]*@/, '//')}`);
      await db.query('delete from score_aggregates');
      await db.query(`update user_scores set risk_tier = 'medium' where risk_tier = 'high' and churn_probability < 0.6`);
      await db.query(
        `insert into events (source, event_id, type, user_id, occurred_at, coupon_code)
         select 'bench', 'r-' || c.id, 'coupon_redeemed', c.user_id, c.redeemed_at, c.code from coupons c where c.redeemed_at is not null
         on conflict do nothing`,
      );
    } else {
      say(`filling ${scratch.url.replace(/\/\/[^@]*@/, '//')} with ${USERS.toLocaleString('en')} scored users`);
      await fill(db);
    }
    // The report reads settled outcomes: settle the cycle (20 days ago, 14-day windows) once, as the hourly job would.
    const settleStarted = performance.now();
    const settled = await settleOutreach({ db, log: silentLogger, now: () => NOW }, { windowDays: 14 });
    say(`  settled ${settled.settled.toLocaleString('en')} outreach rows in ${((performance.now() - settleStarted) / 1000).toFixed(1)} s (${settled.batches} batches)`);
    const [sizes] = await db.query<Record<string, string>>(
      `select pg_size_pretty(pg_total_relation_size('user_scores')) as user_scores, pg_size_pretty(pg_total_relation_size('events')) as events,
              (select count(*) from events)::text as event_rows, (select count(*) from outreach)::text as outreach_rows,
              (select count(*) from user_scores where risk_tier = 'high')::text as high`,
    );
    say(`  ready in ${((performance.now() - t0) / 1000).toFixed(0)} s: user_scores ${sizes!.user_scores}, events ${sizes!.event_rows} rows (${sizes!.events}), outreach ${sizes!.outreach_rows} rows, high tier ${sizes!.high}`);
    // The digest compares against the previous run's high tier: take that baseline now (both
    // forms), keep copies to put back before timed writes, then let some users "become high".
    await db.query('drop table if exists bench_digest_baseline');
    await db.query(`create table bench_digest_baseline as select user_id from user_scores where risk_tier = 'high' and model_run_id = 1`);
    await saveDigestSnapshot(db, 1, 'bench');
    await legacySaveDigestSnapshot(db, 1, 'bench');
    await db.query(`insert into settings (key, value) select 'bench.legacy_copy', value from settings where key = $1 on conflict (key) do update set value = excluded.value`, [LEGACY_SNAPSHOT_KEY]);
    await db.query(`update user_scores set risk_tier = 'high' where risk_tier = 'medium' and churn_probability >= 0.55`);
    await vacuum(db);
    const [{ became } = { became: 0 }] = await db.query<{ became: number }>(`select count(*)::int as became from user_scores where risk_tier = 'high' and churn_probability < 0.6`);
    say(`  ${became.toLocaleString('en')} users became high since the digest baseline`);

    const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ');
    const all = cases(db);
    const baseline = new Map<string, Timing>();
    say('timing the baseline (no aggregates: totals live; digest vs the jsonb snapshot; the old campaign statement)');
    await restoreDigestBaselines(db, { vacuum: true });
    for (const c of all) if (c.baseline) baseline.set(c.name, await time(c.baseline, c.runs ?? RUNS, c.before));

    say('refreshScoreAggregates for the run, as a finished rescore does');
    const refresh: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await refreshScoreAggregates(db, 1);
      refresh.push(performance.now() - t);
    }
    say(`  ${refresh.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`);
    await restoreDigestBaselines(db, { vacuum: true });
    say('timing now');
    const rows: Record<string, string | number>[] = [];
    for (const c of all) {
      const r = c.now ? await time(c.now, c.runs ?? RUNS, c.before) : undefined;
      const b = baseline.get(c.name);
      rows.push({
        query: c.name,
        runs: c.runs ?? RUNS,
        'baseline p50 ms': b?.p50 ?? '—',
        'baseline p99 ms': b?.p99 ?? '—',
        'p50 ms': r?.p50 ?? '—',
        'p99 ms': r?.p99 ?? '—',
        'max ms': r?.max ?? '—',
        '< 300 ms': !r ? '—' : c.fallback ? 'fallback' : r.p99 < 300 ? 'yes' : 'NO',
      });
    }
    console.log(`bench:bot — ${machine()}`);
    console.log(`${USERS.toLocaleString('en')} scored users (${sizes!.high} high, ${became.toLocaleString('en')} of them new since the digest baseline), ${sizes!.event_rows} events, ${sizes!.outreach_rows} outreach rows; ${RUNS} runs per query (fewer where noted), varied parameters, sequential, pool of 4`);
    console.log(`load average before timing: ${loadBefore}; after: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews p99)`);
    console.log('baseline = before (totals counted live, digest vs a jsonb snapshot, the old campaign statement: bench/bot-baseline.ts); now = from the stored aggregates, digest_baseline_users, the report over settled outcomes');
    console.log("'fallback' rows are the live totals, run only when the newest rescore run has no aggregates (they are the same query in both columns)");
    console.log(`refreshScoreAggregates (once per rescore run, after its last chunk): ${refresh.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}\n`);
    console.log(table(rows));
  } finally {
    await db.close();
    if (args.keep || args.db) say(`kept ${scratch.url}`);
    else await scratch.drop();
  }
}

await main();
// scratchDatabase's admin connection closes only in drop(): a kept database would hold the process open.
if (args.keep) process.exit(process.exitCode ?? 0);
