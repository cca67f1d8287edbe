/** The README's demo, end to end: a fresh folder, embedded PGlite, the CI Redis, the real workers. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import type { DemoReport } from '../../src/cli/demo.js';
import { uniquePrefix } from '../support/jobs.js';

const run = promisify(execFile);

describe('rekindle demo', () => {
  it('seeds, runs a whole cycle through the workers, writes the outbox and reports; a second run sends nothing twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rk-demo-'));
    const env: Record<string, string | undefined> = {
      ...process.env,
      DATABASE_URL: undefined,
      PGLITE_DIR: join(dir, 'pglite'),
      OUTBOX_DIR: join(dir, 'outbox'),
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: uniquePrefix(),
      LOG_LEVEL: 'silent',
    };
    delete env.DATABASE_URL;
    const demo = async () => JSON.parse((await run('node', ['bin/rekindle.js', 'demo', '--users', '1200', '--seed', '3', '--json'], { env, maxBuffer: 64 * 1024 * 1024 })).stdout) as DemoReport;

    const first = await demo();
    expect(first.database).toBe('pglite');
    expect(first.seeded).toMatchObject({ users: 1200, items: 300 });
    expect(first.seeded.inserted).toBe(first.seeded.events);
    expect(first.backtest.churn.model).toBe('logistic');
    expect(first.backtest.churn.auc).toBeGreaterThan(first.backtest.churn.baselineAuc);
    expect(first.overview.payers).toBeGreaterThan(300);
    expect(first.cycle.planned).toBeGreaterThan(100);
    expect(first.cycle.outreach.sent).toBe(first.cycle.planned);
    expect(first.cycle.holdout).toBeGreaterThan(0);
    const eml = readdirSync(join(dir, 'outbox')).filter((f) => f.endsWith('.eml'));
    expect(eml).toHaveLength(first.cycle.outreach.sent);
    expect(first.emails.example).toMatch(/\.eml$/);
    const message = readFileSync(first.emails.example!, 'utf8');
    expect(message).toMatch(/^List-Unsubscribe:\s*<http:\/\/127\.0\.0\.1:\d+\/unsubscribe\?token=/m);
    expect(message).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m);
    expect(message).toMatch(/Content-Type: text\/html/);
    expect(first.webhooks.received).toBeGreaterThanOrEqual(first.cycle.planned!); // outreach.planned (+ coupon.issued)

    const second = await demo();
    expect(second.seeded.inserted).toBe(0);
    // Everyone the first run contacted is under the frequency cap; only this cycle's exploration
    // share (a random offer to a few users the tiers left out) can be new.
    expect(second.cycle.skipped.frequency_cap).toBeGreaterThanOrEqual(first.cycle.planned! + first.cycle.holdout!);
    expect(second.cycle.planned).toBeLessThan(first.cycle.planned! / 10);
    const all = readdirSync(join(dir, 'outbox')).filter((f) => f.endsWith('.eml'));
    expect(all).toHaveLength(eml.length + second.cycle.outreach.sent);
    // Nobody got a second email.
    const recipients = all.map((f) => /^To: (.*)$/m.exec(readFileSync(join(dir, 'outbox', f), 'utf8'))?.[1]);
    expect(new Set(recipients).size).toBe(all.length);
  }, 300_000);
});
