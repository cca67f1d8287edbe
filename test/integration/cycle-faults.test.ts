/**
 * Faults during delivery: a worker killed mid-send, SMTP down for a while, Redis flushed
 * mid-cycle, a webhook receiver failing once. Each time: nothing lost, nothing sent twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { jobId } from '../../jobs/catalog.js';
import { enqueue } from '../../jobs/enqueue.js';
import { openQueues } from '../../jobs/enqueue.js';
import { followCycle } from '../../src/cli/follow-cycle.js';
import { silentLogger } from '../../src/logger.js';
import { cycleStatus } from '../../src/services/cycle-status.js';
import { seedPlatform } from '../../src/services/seed.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { testJobs, uniquePrefix, type TestJobs } from '../support/jobs.js';
import { startReceiver } from '../support/receiver.js';
import { startSmtpServer, unusedSmtpUrl, type TestSmtpServer } from '../support/smtp.js';

const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function seeded(users: number, seed: number): Promise<TestDatabase> {
  const t = await freshDatabase();
  cleanups.push(() => t.drop());
  await seedPlatform({ db: t.db, log: silentLogger }, { users, seed, end: today });
  return t;
}

/** Treated rows of a cycle, and the SMTP server's view: every row exactly once. */
async function expectEachRowSentOnce(t: TestDatabase, smtp: TestSmtpServer, cycleId: string) {
  const rows = await t.db.query<{ id: number; state: string }>(`select id, state from outreach where cycle_id = $1 and not holdout`, [cycleId]);
  expect(rows.length).toBeGreaterThan(20);
  expect(rows.filter((r) => r.state !== 'sent')).toEqual([]);
  const ids = smtp.messages.map((m) => m.header('message-id'));
  expect(ids.length).toBe(new Set(ids).size);
  expect(new Set(ids)).toEqual(new Set(rows.map((r) => `<outreach-${r.id}@localhost>`)));
}

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['bin/rekindle.js', 'worker', '--no-schedules'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.on('exit', (code, signal) => {
    if (code && code !== 0) console.error(`worker exited ${code} ${signal}: ${err.slice(-2000)}`);
  });
  cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
  return child;
}

describe('delivery under faults', () => {
  it('a worker process killed mid-delivery and restarted: nothing lost, nothing duplicated', async () => {
    const t = await seeded(800, 21);
    const smtp = await startSmtpServer();
    cleanups.push(() => smtp.close());
    const prefix = uniquePrefix();
    const env = {
      DATABASE_URL: t.url!,
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: prefix,
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Rekindle <rekindle@localhost>',
      LOG_LEVEL: 'silent',
      QUIET_HOURS: 'off',
      WORKER_CONCURRENCY: '1',
      DELIVERY_BACKOFF_MS: '50',
      DELIVERY_LEASE_SECONDS: '2',
      JOB_LOCK_SECONDS: '2',
      UNSUBSCRIBE_SECRET: 'fault-test-unsubscribe-secret-0123',
    };
    let first: ChildProcess | null = startWorkerProcess(env);
    let killedAt: string | undefined;
    // The 10th message: kill the worker while the server holds the message, and refuse it.
    smtp.onMessage = (m) => {
      if (first && smtp.messages.length === 9) {
        killedAt = m.header('message-id');
        first.kill('SIGKILL');
        first = null;
        return { code: 451, message: 'try again later' };
      }
      return null;
    };
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    const queues = openQueues(redis, prefix);
    cleanups.push(async () => {
      await queues.close();
      redis.disconnect();
    });
    await enqueue(queues, 'cycle.start', { cycleId: 'kill1' }, { jobId: jobId.cycle('kill1') });
    while (!killedAt) await new Promise((r) => setTimeout(r, 100));
    startWorkerProcess(env);
    await followCycle(t.db, queues, 'kill1', 120_000, () => {});
    await expectEachRowSentOnce(t, smtp, 'kill1');
    const [row] = await t.db.query<{ attempts: number }>(`select attempts from outreach where message_id = $1`, [killedAt]);
    expect(row!.attempts).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('SMTP down for a while: retried with backoff, then delivered once', async () => {
    const t = await seeded(600, 22);
    const url = await unusedSmtpUrl();
    const jobs: TestJobs = testJobs({ db: t.db, smtpUrl: url });
    cleanups.push(() => jobs.close());
    jobs.start();
    await enqueue(jobs.queues, 'cycle.start', { cycleId: 'down1' }, { jobId: jobId.cycle('down1') });
    // Wait until sends have failed against the closed port, then bring the server up there.
    for (;;) {
      const [r] = await t.db.query<{ n: number }>(`select count(*)::int as n from outreach where cycle_id = 'down1' and last_error is not null`);
      if (r!.n >= 5) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const smtp = await startSmtpServer({ port: Number(new URL(url).port) });
    cleanups.push(() => smtp.close());
    await followCycle(t.db, jobs.queues, 'down1', 120_000, () => {});
    await expectEachRowSentOnce(t, smtp, 'down1');
    const [retried] = await t.db.query<{ n: number }>(`select count(*)::int as n from outreach where cycle_id = 'down1' and attempts > 1`);
    expect(retried!.n).toBeGreaterThanOrEqual(5);
  }, 180_000);

  it('Redis FLUSHALL mid-cycle: the sweep restores every pending delivery', async () => {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    cleanups.push(() => server.kill('SIGKILL'));
    const redisUrl = `redis://127.0.0.1:${port}`;
    const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
    admin.on('error', () => {});
    cleanups.push(() => admin.disconnect());
    for (let i = 0; ; i++) {
      try {
        await admin.ping();
        break;
      } catch (e) {
        if (i > 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const t = await seeded(600, 23);
    const smtp = await startSmtpServer({ onRecipient: () => ({ code: 451, message: 'greylisted, try later' }) });
    cleanups.push(() => smtp.close());
    const jobs = testJobs({ db: t.db, smtpUrl: smtp.url, redisUrl });
    cleanups.push(() => jobs.close());
    jobs.start();
    await enqueue(jobs.queues, 'cycle.start', { cycleId: 'flush1' }, { jobId: jobId.cycle('flush1') });
    while ((await cycleStatus(t.db, 'flush1')).status !== 'planned') await new Promise((r) => setTimeout(r, 100));
    await admin.flushall(); // every queued, delayed and retrying job is gone
    expect(await admin.dbsize()).toBe(0);
    smtp.onRecipient = undefined;
    // What the sweep schedule does every few minutes, every half second here.
    const sweeping = setInterval(() => void enqueue(jobs.queues, 'outreach.sweep', {}, { jobId: `sweep-${Date.now()}` }).catch(() => {}), 500);
    cleanups.push(() => clearInterval(sweeping));
    await followCycle(t.db, jobs.queues, 'flush1', 120_000, () => {});
    await expectEachRowSentOnce(t, smtp, 'flush1');
  }, 180_000);

  it('a webhook receiver answering 500 then 200: delivered once, both attempts in the log', async () => {
    const t = await seeded(500, 24);
    const smtp = await startSmtpServer();
    const receiver = await startReceiver();
    cleanups.push(() => smtp.close(), () => receiver.close());
    receiver.respondWith(500);
    await t.db.query(`insert into webhook_endpoints (url, secret, event_types) values ($1, 'whsec_ZmF1bHQtdGVzdC1yZWNlaXZlci1zZWNyZXQ=', '{coupon.issued}')`, [`${receiver.url}/hooks`]);
    const jobs = testJobs({ db: t.db, smtpUrl: smtp.url });
    cleanups.push(() => jobs.close());
    jobs.start();
    await enqueue(jobs.queues, 'cycle.start', { cycleId: 'wh1' }, { jobId: jobId.cycle('wh1') });
    await followCycle(t.db, jobs.queues, 'wh1', 120_000, () => {});
    const failedOnce = receiver.requests.find((r) => r.status === 500)!;
    const id = String(failedOnce.headers['webhook-id']);
    const tries = receiver.requests.filter((r) => String(r.headers['webhook-id']) === id).map((r) => r.status);
    expect(tries).toEqual([500, 200]);
    const log = await t.db.query<{ attempt: number; status: number }>(
      `select a.attempt, a.status from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.message_id = $1 order by a.attempt`,
      [id],
    );
    expect(log).toEqual([
      { attempt: 1, status: 500 },
      { attempt: 2, status: 200 },
    ]);
    const ok = receiver.requests.filter((r) => r.status === 200).map((r) => String(r.headers['webhook-id']));
    expect(ok.length).toBe(new Set(ok).size);
    const [{ n }] = (await t.db.query<{ n: number }>(`select count(*)::int as n from webhook_deliveries where state = 'delivered'`)) as [{ n: number }];
    expect(n).toBe(ok.length);
  }, 180_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
