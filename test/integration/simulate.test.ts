/**
 * `rekindle simulate` end to end, through the CLI as a user runs it: the real cycle through
 * BullMQ workers, emails read back from the outbox, responses through the webhook, the click
 * redirect and one-click unsubscribe. Deterministic for a seed on PostgreSQL and on PGlite,
 * and the campaign report's interval covers the simulator's true effect across seeds.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../support/global-setup.js';

const run = promisify(execFile);

interface Sim {
  users: number;
  cycles: { cycleId: string; treated: { coupon: number; email: number }; holdout: number; delivered: number }[];
  events: Record<string, number>;
  truth: { offer: string; rows: number; averageEffect: number; incrementalConversions: number; netIncrementalRevenueMinor: number }[];
  report: {
    settled: number;
    overall: {
      treated: { n: number; conversions: number };
      holdout: { n: number; conversions: number };
      uplift: number | null;
      upliftCi: [number, number] | null;
      incrementalRevenueMinor: number | null;
      incrementalRevenueCi: [number, number] | null;
      netIncrementalRevenueCi: [number, number] | null;
      couponCostMinor: number;
      roi: number | null;
    };
  };
}

const admin = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
const made: string[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const name of made) await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function database(): Promise<string> {
  const name = `rk_${inject('runId')}_sim_${randomBytes(3).toString('hex')}`;
  await admin.unsafe(`create database ${name}`);
  made.push(name);
  return withDatabase(inject('pgAdminUrl'), name);
}

async function simulate(args: string[], env: Record<string, string>): Promise<Sim> {
  const dir = await mkdtemp(join(tmpdir(), 'rk-sim-'));
  dirs.push(dir);
  const { stdout } = await run(process.execPath, ['bin/rekindle.js', 'simulate', ...args, '--json'], {
    env: { ...process.env, LOG_LEVEL: 'warn', QUEUE_PREFIX: `t${inject('runId')}${randomBytes(2).toString('hex')}`, PGLITE_DIR: join(dir, 'db'), ...env },
    maxBuffer: 32 * 1024 * 1024,
    timeout: 420_000,
  });
  return JSON.parse(stdout) as Sim;
}

/** What must be identical between two runs of one seed (not timings or coupon codes). */
function fingerprint(s: Sim): unknown {
  return { cycles: s.cycles, events: s.events, truth: s.truth, report: s.report };
}

const SMALL = ['--users', '600', '--days', '15', '--cycle-every', '7d', '--seed', '3', '--start', '2026-05-04'];

describe('rekindle simulate', () => {
  it('on PostgreSQL: repeats exactly for a seed and leaves a report with conversions, intervals, cost and ROI', async () => {
    const a = await simulate(SMALL, { DATABASE_URL: await database() });
    const b = await simulate(SMALL, { DATABASE_URL: await database() });
    expect(fingerprint(b)).toEqual(fingerprint(a));
    const o = a.report.overall;
    expect(a.cycles.length).toBe(3);
    expect(a.report.settled).toBeGreaterThan(100);
    expect(o.treated.conversions).toBeGreaterThan(0);
    expect(o.holdout.n).toBeGreaterThan(0);
    expect(o.upliftCi).not.toBeNull();
    expect(o.incrementalRevenueCi).not.toBeNull();
    expect(o.netIncrementalRevenueCi).not.toBeNull();
    expect(o.couponCostMinor).toBeGreaterThan(0);
    expect(o.roi).not.toBeNull();
    // Users answered through the real doors: purchases with codes, clicks, unsubscribes.
    expect(a.events.responses).toBeGreaterThan(0);
    expect(a.events.clicks).toBeGreaterThan(0);
  }, 300_000);

  it('on embedded PGlite (no DATABASE_URL): runs and repeats exactly', async () => {
    const a = await simulate(SMALL, { DATABASE_URL: '' });
    const b = await simulate(SMALL, { DATABASE_URL: '' });
    expect(fingerprint(b)).toEqual(fingerprint(a));
    expect(a.report.overall.treated.conversions).toBeGreaterThan(0);
  }, 300_000);

  it("refuses a database that already holds data, unless --reset", async () => {
    const url = await database();
    await simulate(['--users', '200', '--days', '1', '--seed', '2', '--start', '2026-05-04'], { DATABASE_URL: url });
    await expect(simulate(['--users', '200', '--days', '1', '--seed', '2', '--start', '2026-05-04'], { DATABASE_URL: url })).rejects.toThrow(/empty database/);
    const again = await simulate(['--users', '200', '--days', '1', '--seed', '2', '--start', '2026-05-04', '--reset'], { DATABASE_URL: url });
    expect(again.cycles).toHaveLength(1);
  }, 300_000);

  it("the report's 95% interval for the uplift covers the true average effect in at least 9 of 10 seeds", async () => {
    let covered = 0;
    const misses: string[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const s = await simulate(['--users', '900', '--days', '22', '--cycle-every', '7d', '--seed', String(seed), '--start', '2026-03-02'], { DATABASE_URL: await database() });
      const truth = s.truth.find((t) => t.offer === 'all')!;
      const ci = s.report.overall.upliftCi!;
      expect(ci).not.toBeNull();
      expect(truth.rows).toBe(s.report.overall.treated.n);
      if (truth.averageEffect >= ci[0] && truth.averageEffect <= ci[1]) covered++;
      else misses.push(`seed ${seed}: true ${truth.averageEffect.toFixed(4)} outside [${ci[0].toFixed(4)}, ${ci[1].toFixed(4)}]`);
    }
    expect(covered, misses.join('; ')).toBeGreaterThanOrEqual(9);
  }, 900_000);
});
