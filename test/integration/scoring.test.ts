/** The scoring and recommendation runs on a small seeded platform, on PostgreSQL and PGlite. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { recommendAll } from '../../src/services/recommend.js';
import { fitScoringModels, rescore, scoreRange } from '../../src/services/rescore.js';
import { publishScores } from '../../src/store/scores.js';
import { seedPlatform } from '../../src/services/seed.js';
import { getModelRun } from '../../src/store/model-runs.js';
import { freshDatabase, type Driver, type TestDatabase } from '../support/db.js';

const end = new Date('2026-11-01T00:00:00Z');

describe.each<Driver>(['postgres', 'pglite'])('rescore and recommend on %s', (driver) => {
  let t: TestDatabase;
  const s = { ...modelSettings(loadConfig({})), chunkSize: 700 }; // several chunks even on small data
  const deps = () => ({ db: t.db, log: silentLogger, now: () => end });

  beforeAll(async () => {
    t = await freshDatabase(driver);
    await seedPlatform({ db: t.db, log: silentLogger }, { users: 2500, seed: 7, end });
  });
  afterAll(async () => t?.drop());

  it('scores every payer once with the run id, a tier that matches its probability, and an explanation', async () => {
    const r = await rescore(deps(), s);
    expect(r.model).toBe('logistic');
    const [{ payers }] = await t.db.query<any>(`select count(distinct user_id)::int as payers from events where type in ('purchase','renewal') and occurred_at < $1`, [end.toISOString()]);
    expect(r.scored).toBe(payers);
    const rows = await t.db.query<any>('select * from user_scores');
    expect(rows).toHaveLength(payers);
    for (const row of rows) {
      expect(Number(row.model_run_id)).toBe(r.modelRunId);
      const p = Number(row.churn_probability);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(row.risk_tier).toBe(p >= s.riskHigh ? 'high' : p >= s.riskMedium ? 'medium' : 'low');
      expect(Number(row.p_alive)).toBeGreaterThanOrEqual(0);
      expect(row.segment).toMatch(/^[a-z_]+$/);
    }
    const explained = rows.filter((row) => row.explanation.length > 0);
    expect(explained.length).toBeGreaterThan(rows.length / 2);
    expect(explained[0].explanation[0]).toMatchObject({ feature: expect.any(String), contribution: expect.any(Number) });
    const run = await getModelRun(t.db, r.modelRunId);
    expect(run).toMatchObject({ status: 'done', fallback: null, horizonDays: 90 });
    expect((run!.metrics as any).churn.auc).toBeGreaterThan(0.6);
    const personas = (run!.params as any).personaDescriptions as { text: string }[];
    expect(personas.length).toBeGreaterThanOrEqual(3);
    expect(personas.every((p) => p.text.length > 0)).toBe(true);
    // Every tier is used on this data, so outreach has something to do.
    expect(new Set(rows.map((row) => row.risk_tier))).toEqual(new Set(['high', 'medium', 'low']));
    // The run left the bot its precomputed totals, counting exactly the published scores.
    const [agg] = await t.db.query<any>('select cells from score_aggregates where model_run_id = $1', [r.modelRunId]);
    expect((agg.cells as { users: number }[]).reduce((a, c) => a + c.users, 0)).toBe(payers);
  });

  it('recommends for every user, never an owned item, each with a reason', async () => {
    const r = await recommendAll(deps(), s);
    const [{ users }] = await t.db.query<any>('select count(*)::int as users from users');
    expect(r.users).toBe(users);
    const owned = await t.db.query<any>(
      `select r.user_id, r.item_id from recommendations r
       join events e on e.user_id = r.user_id and e.item_id = r.item_id and e.type in ('purchase','renewal')`,
    );
    expect(owned).toEqual([]);
    const kinds = await t.db.query<any>(`select reason->>'kind' as kind, count(*)::int as n from recommendations group by 1`);
    const byKind = Object.fromEntries(kinds.map((k: any) => [k.kind, k.n]));
    expect(byKind.because_bought).toBeGreaterThan(0);
    expect(Object.keys(byKind).every((k) => ['because_bought', 'because_viewed', 'similar_topic', 'popular_in', 'popular'].includes(k))).toBe(true);
    const [dup] = await t.db.query<any>('select count(*)::int as n from (select user_id, item_id from recommendations group by 1, 2 having count(*) > 1) d');
    expect(dup.n).toBe(0);
    // A second run replaces the first one's rows.
    const again = await recommendAll(deps(), s);
    const [{ n, runs }] = await t.db.query<any>('select count(*)::int as n, count(distinct model_run_id)::int as runs from recommendations');
    expect(n).toBe(again.recommendations);
    expect(runs).toBe(1);
    // It was swapped in whole: no staging table left, the primary key under its own name.
    expect(await t.db.query(`select tablename from pg_tables where tablename ~ '^recommendations_r[0-9]+$'`)).toEqual([]);
    expect(await t.db.query(`select conname from pg_constraint where conrelid = 'recommendations'::regclass and contype = 'p'`)).toEqual([{ conname: 'recommendations_user_id_rank_pk' }]);
  });
  it('publishes runs one at a time, and never an older run over a newer one', async () => {
    await t.db.query(`insert into webhook_endpoints (url, secret, event_types, description) values ('http://127.0.0.1:9/x', 'whsec_cHVibGlzaC1yYWNlLXRlc3Qtc2VjcmV0', '{user.risk_changed}', 'publish race')`);
    try {
      const [{ min }] = await t.db.query<any>('select min(seq) as min from users');
      const staged = async () => {
        const m = await fitScoringModels(deps(), s, end);
        await scoreRange(deps(), m, Number(min), Number(min) + s.chunkSize);
        return m.runId;
      };
      // Both at once: they take turns (no deadlock), and whichever goes first, the newer run ends up live.
      const [older, newer] = [await staged(), await staged()];
      const [a, b] = await Promise.all([publishScores(t.db, older), publishScores(t.db, newer)]);
      expect(b).toMatchObject({ supersededBy: null });
      expect([null, newer]).toContain(a!.supersededBy);
      expect(await t.db.query<any>('select distinct model_run_id from user_scores')).toEqual([{ model_run_id: newer }]);
      // An older run finishing after a newer one was published is refused, and its table dropped.
      const [first, second] = [await staged(), await staged()];
      expect(await publishScores(t.db, second)).toMatchObject({ supersededBy: null });
      expect(await publishScores(t.db, first)).toMatchObject({ supersededBy: second, published: 0 });
      expect(await t.db.query<any>('select distinct model_run_id from user_scores')).toEqual([{ model_run_id: second }]);
      expect(await t.db.query(`select tablename from pg_tables where tablename ~ '^user_scores_r[0-9]+$'`)).toEqual([]);
    } finally {
      await t.db.query(`delete from webhook_endpoints where description = 'publish race'`);
      await t.db.query(`update model_runs set status = 'failed' where status = 'running'`);
    }
  });

  it('publishes a run whole: readers see the previous run until the swap, and the indexes survive it', async () => {
    const indexes = () => t.db.query<{ indexname: string; indexdef: string }>(`select indexname, indexdef from pg_indexes where tablename = 'user_scores' order by indexname`);
    const staging = () => t.db.query<{ tablename: string }>(`select tablename from pg_tables where tablename ~ '^user_scores_r[0-9]+$'`);
    const before = await indexes();
    expect(before.length).toBeGreaterThanOrEqual(5);
    const { modelRunId: previous } = await rescore(deps(), s);
    // A run that died after its first chunk leaves a staging table behind ...
    const dead = await fitScoringModels(deps(), s, end);
    const [{ min }] = await t.db.query<any>('select min(seq) as min from users');
    const first = await scoreRange(deps(), dead, Number(min), Number(min) + s.chunkSize);
    // A retried chunk replaces its own rows instead of failing on them.
    const again = await scoreRange(deps(), dead, Number(min), Number(min) + s.chunkSize);
    expect(again.scored).toBe(first.scored);
    expect(await t.db.query<any>(`select count(*)::int as n from user_scores_r${dead.runId}`)).toEqual([{ n: first.scored }]);
    await t.db.query(`update model_runs set status = 'failed' where id = $1`, [dead.runId]);
    // ... and the scores people read are still the previous run's, all of them.
    expect(await t.db.query<any>('select distinct model_run_id from user_scores')).toEqual([{ model_run_id: previous }]);
    expect((await staging()).map((r) => r.tablename)).toEqual([`user_scores_r${dead.runId}`]);
    // The next run cleans it up, publishes, and user_scores keeps every index under its name.
    const r = await rescore(deps(), s);
    expect(await staging()).toEqual([]);
    expect(await t.db.query<any>('select distinct model_run_id from user_scores')).toEqual([{ model_run_id: r.modelRunId }]);
    expect(await indexes()).toEqual(before);
    // Publishing again (a retried finish) is a no-op.
    expect(await publishScores(t.db, r.modelRunId)).toBeNull();
  });
});

describe('rescore on thin data', () => {
  it('falls back to RFM rules and says why, in the run and in each explanation', async () => {
    const t = await freshDatabase();
    try {
      await seedPlatform({ db: t.db, log: silentLogger }, { users: 60, seed: 3, end });
      const s = modelSettings(loadConfig({}));
      const r = await rescore({ db: t.db, log: silentLogger, now: () => end }, s);
      expect(r.model).toBe('rfm');
      expect(r.fallback).toMatch(/CHURN_MIN_USERS is 200/);
      const run = await getModelRun(t.db, r.modelRunId);
      expect(run!.fallback).toBe(r.fallback);
      const [row] = await t.db.query<any>('select explanation from user_scores limit 1');
      expect(row.explanation[0]).toMatchObject({ feature: 'rfm_rules', reason: r.fallback });
    } finally {
      await t.drop();
    }
  });
});

describe('user.risk_changed', () => {
  it('queues one outbound webhook per user whose tier moved between two runs, when the new run is published', async () => {
    const t = await freshDatabase();
    try {
      await seedPlatform({ db: t.db, log: silentLogger }, { users: 1500, seed: 9, end });
      await t.db.query(`insert into webhook_endpoints (url, secret, event_types) values ('http://127.0.0.1:9/hooks', 'whsec_cmlzay1jaGFuZ2VkLXRlc3Qtc2VjcmV0', '{user.risk_changed}')`);
      const s = modelSettings(loadConfig({}));
      await rescore({ db: t.db, log: silentLogger, now: () => end }, s);
      const before = new Map((await t.db.query<{ user_id: string; risk_tier: string }>('select user_id, risk_tier from user_scores')).map((r) => [r.user_id, r.risk_tier]));
      expect(await t.db.query('select 1 from webhook_deliveries')).toEqual([]); // first run: nothing to compare with
      // Two months of silence later, many users look riskier.
      const later = new Date(end.getTime() + 60 * 86_400_000);
      const r2 = await rescore({ db: t.db, log: silentLogger, now: () => later }, s);
      const after = await t.db.query<{ user_id: string; risk_tier: string }>('select user_id, risk_tier from user_scores');
      const moved = after.filter((a) => before.has(a.user_id) && before.get(a.user_id) !== a.risk_tier);
      expect(moved.length).toBeGreaterThan(10);
      const hooks = await t.db.query<{ message_id: string; event_type: string; payload: { user_id: string; from_tier: string; to_tier: string; model_run_id: number } }>(
        'select message_id, event_type, payload from webhook_deliveries',
      );
      expect(hooks).toHaveLength(moved.length);
      for (const h of hooks) {
        expect(h.event_type).toBe('user.risk_changed');
        expect(h.payload.from_tier).toBe(before.get(h.payload.user_id));
        expect(h.payload.to_tier).toBe(after.find((a) => a.user_id === h.payload.user_id)!.risk_tier);
        expect(h.payload.model_run_id).toBe(r2.modelRunId);
      }
    } finally {
      await t.drop();
    }
  });
});
