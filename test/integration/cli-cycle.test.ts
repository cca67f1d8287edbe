/** `rekindle worker` and `rekindle cycle --wait` as separate processes, as an operator runs them. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { seedPlatform } from '../../src/services/seed.js';
import type { CycleStatus } from '../../src/services/cycle-status.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniquePrefix } from '../support/jobs.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';

const run = promisify(execFile);

describe('rekindle cycle --wait with a separate worker process', () => {
  let t: TestDatabase;
  let smtp: TestSmtpServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    t = await freshDatabase();
    smtp = await startSmtpServer();
    await seedPlatform({ db: t.db, log: silentLogger }, { users: 700, seed: 31, end: new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z') });
    env = { ...process.env, DATABASE_URL: t.url!, REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: uniquePrefix(), SMTP_URL: smtp.url, QUIET_HOURS: 'off', LOG_LEVEL: 'silent', WORKER_METRICS_PORT: '0', UNSUBSCRIBE_SECRET: 'cli-cycle-test-secret-0123456789' };
  });
  afterAll(async () => {
    await smtp?.close();
    await t?.drop();
  });

  it('runs the whole cycle through the worker and reports it; the worker stops cleanly on SIGTERM', async () => {
    const worker = spawn(process.execPath, ['bin/rekindle.js', 'worker', '--no-schedules'], { env, stdio: 'ignore' });
    try {
      const { stdout } = await run('node', ['bin/rekindle.js', 'cycle', '--wait', '--json', '--timeout', '120'], { env });
      const status = JSON.parse(stdout) as CycleStatus;
      expect(status.scoringDone).toBe(true);
      expect(status.status).toBe('planned');
      expect(status.planned).toBeGreaterThan(50);
      expect(status.outreach.sent).toBe(status.planned);
      expect(smtp.messages).toHaveLength(status.outreach.sent);
    } finally {
      const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
      worker.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 180_000);

  it('says how to start Redis when it is unreachable', async () => {
    const r = await run('node', ['bin/rekindle.js', 'cycle'], { env: { ...env, REDIS_URL: 'redis://127.0.0.1:1' } }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/redis-server --daemonize yes --port 1 /);
    // One message: no ioredis "Unhandled error event" lines, no stack frames.
    expect(r.stderr).not.toMatch(/ioredis|^\s+at /m);
  });
});
