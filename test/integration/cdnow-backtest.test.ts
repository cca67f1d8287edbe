/** Real data: CDNOW imported through the documented CSV format, then backtested. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { backtest } from '../../src/services/backtest.js';
import { importFiles } from '../../src/services/import.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { cdnowToCsv } from '../support/cdnow.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

describe('CDNOW backtest', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());

  it('imports the transaction log and the churn model beats recency alone', async () => {
    const csv = join(mkdtempSync(join(tmpdir(), 'rk-cdnow-')), 'events.csv');
    expect(await cdnowToCsv(csv)).toBe(69_659);
    const report = await importFiles({ db: t.db, log: silentLogger }, { events: csv });
    expect(report.files[0]).toMatchObject({ rows: 69_659, bad: 0, inserted: 69_659 });

    const s = modelSettings(loadConfig({}));
    const r = await backtest({ db: t.db, log: silentLogger }, s, { cutoff: new Date('1998-01-01T00:00:00Z'), horizonDays: 90, k: 10 });
    // Everyone made a first purchase in Q1 1997, so the whole cohort is the population.
    expect(r.churn.n).toBe(23_570);
    expect(r.churn.model).toBe('logistic');
    expect(r.churn.auc).toBeGreaterThan(r.churn.baselineAuc);
    expect(r.churn.brier).toBeLessThan(r.churn.baseRate * (1 - r.churn.baseRate)); // better than the base rate
    expect(r.btyd.params).not.toBeNull();
    expect(r.btyd.actualPurchases).toBeGreaterThan(0);
  });
});
