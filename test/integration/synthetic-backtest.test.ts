/**
 * The acceptance numbers on the synthetic platform (seed 1, 50k users): churn AUC at least
 * 0.80 and at least recency + 0.03; recommendation NDCG@10 at least 1.5× popularity's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { backtest, type BacktestResult } from '../../src/services/backtest.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { seedPlatform } from '../../src/services/seed.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

describe('backtest on the synthetic platform (seed 1, 50k users)', () => {
  let t: TestDatabase;
  let r: BacktestResult;
  beforeAll(async () => {
    t = await freshDatabase();
    const end = new Date('2026-11-01T00:00:00Z');
    await seedPlatform({ db: t.db, log: silentLogger }, { users: 50_000, seed: 1, end });
    r = await backtest({ db: t.db, log: silentLogger }, modelSettings(loadConfig({})), { cutoff: new Date('2026-08-03T00:00:00Z'), horizonDays: 90, k: 10 });
  }, 300_000);
  afterAll(async () => t?.drop());

  it('predicts churn with AUC ≥ 0.80 and ≥ recency + 0.03', () => {
    expect(r.churn.model).toBe('logistic');
    expect(r.churn.n).toBeGreaterThan(10_000);
    expect(r.churn.auc).toBeGreaterThanOrEqual(0.8);
    expect(r.churn.auc).toBeGreaterThanOrEqual(r.churn.baselineAuc + 0.03);
    expect(r.churn.brier).toBeLessThan(r.churn.baselineBrier);
  });

  it('recommends with NDCG@10 ≥ 1.5× popularity', () => {
    expect(r.recommend.users).toBeGreaterThan(1000);
    expect(r.recommend.ndcg).toBeGreaterThanOrEqual(1.5 * r.recommend.popularity.ndcg);
    expect(r.recommend.coverage).toBeGreaterThan(0.2);
  });

  it('predicts repeat purchases within 25% of what happened', () => {
    expect(r.btyd.params).not.toBeNull();
    expect(Math.abs(r.btyd.predictedPurchases - r.btyd.actualPurchases) / r.btyd.actualPurchases).toBeLessThan(0.25);
  });
});
