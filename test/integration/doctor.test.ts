/**
 * Issue #16: `rekindle doctor` against real local services — PostgreSQL, private redis-servers,
 * an in-process SMTP server with a login, a fake Slack Web API on loopback — healthy first, then
 * with each piece broken on purpose: every broken piece is named with its fix, and only a
 * healthy setup exits 0.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openQueues } from '../../jobs/enqueue.js';
import { findOnPath, startPrivateRedis } from '../../src/cli/demo-redis.js';
import { runDoctor, type CheckResult } from '../../src/cli/doctor.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { withDatabase } from '../support/global-setup.js';
import { TEST_SECRET } from '../support/http.js';
import { uniquePrefix } from '../support/jobs.js';

const run = promisify(execFile);

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const byCheck = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.check, r]));

describe('rekindle doctor', () => {
  let t: TestDatabase;
  let empty: { url: string; drop(): Promise<void> };
  let smtp: SMTPServer;
  let smtpPort: number;
  let slack: Server;
  let slackUrl: string;
  let goodRedis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let lruRedis: Awaited<ReturnType<typeof startPrivateRedis>>;

  beforeAll(async () => {
    t = await freshDatabase();
    // A database nobody migrated.
    const admin = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
    const name = `rk_${inject('runId')}_doctor_${randomBytes(3).toString('hex')}`;
    await admin.unsafe(`create database ${name}`);
    empty = {
      url: withDatabase(inject('pgAdminUrl'), name),
      drop: async () => {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
    // SMTP with a login (plain text on loopback: no STARTTLS here, so doctor warns about it).
    smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'ops' && auth.password === 'right-password') cb(null, { user: 'ops' });
        else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onData(stream, _s, cb) {
        stream.resume();
        stream.on('end', () => cb(new Error('doctor must not send mail')));
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    smtpPort = (smtp.server.address() as { port: number }).port;
    // Slack's Web API: auth.test knows one bot token, apps.connections.open one app token.
    slack = createHttpServer((req, res) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const body =
        req.url === '/api/auth.test'
          ? token === 'xoxb-good-token'
            ? { ok: true, team: 'Acme Learning', user: 'rekindle' }
            : { ok: false, error: 'invalid_auth' }
          : req.url === '/api/apps.connections.open'
            ? token === 'xapp-good-token'
              ? { ok: true, url: 'wss://example.invalid/' }
              : { ok: false, error: 'invalid_auth' }
            : { ok: false, error: 'unknown_method' };
      req.resume();
      if (!req.url?.startsWith('/api/')) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => slack.listen(0, '127.0.0.1', r));
    slackUrl = `http://127.0.0.1:${(slack.address() as { port: number }).port}/api/`;
    const bin = findOnPath('redis-server', process.env.PATH);
    if (!bin) throw new Error('these tests need redis-server on the PATH');
    goodRedis = await startPrivateRedis(bin, { args: ['--dir', mkdtempSync(join(tmpdir(), 'rk-doctor-redis-')), '--appendonly', 'yes'] });
    lruRedis = await startPrivateRedis(bin, { args: ['--maxmemory-policy', 'allkeys-lru'] });
  });

  afterAll(async () => {
    await goodRedis?.stop();
    await lruRedis?.stop();
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
    await new Promise<void>((r) => (slack ? slack.close(() => r()) : r()));
    await empty?.drop();
    await t?.drop();
  });

  const healthy = (): Record<string, string | undefined> => ({
    PATH: process.env.PATH,
    DATABASE_URL: t.url,
    REDIS_URL: goodRedis.url,
    QUEUE_PREFIX: uniquePrefix(),
    SMTP_URL: `smtp://ops:right-password@127.0.0.1:${smtpPort}`,
    PUBLIC_BASE_URL: 'https://retain.example.com/',
    SLACK_BOT_TOKEN: 'xoxb-good-token',
    SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef', // the shape Slack issues: 32 hex characters
    SLACK_API_URL: slackUrl,
    WEBHOOK_SECRETS: TEST_SECRET,
    METRICS_HOST: '127.0.0.1',
  });

  it('a healthy setup: one ✔ line per check (SMTP without TLS is a warning), exit 0', async () => {
    const r = await run(process.execPath, ['bin/rekindle.js', 'doctor'], { env: healthy() });
    const lines = r.stdout.trimEnd().split('\n');
    const marks = Object.fromEntries(lines.filter((l) => /^[✔✘!–] /.test(l)).map((l) => [l.slice(2, 22).trim(), l[0]]));
    expect(marks).toEqual({
      config: '✔',
      postgres: '✔',
      migrations: '✔',
      redis: '✔',
      'redis eviction': '✔',
      'redis persistence': '✔',
      queues: '✔',
      smtp: '!',
      'public url': '✔',
      'slack token': '✔',
      'slack signing secret': '✔',
      'webhook secrets': '✔',
      metrics: '✔',
    });
    expect(r.stdout).toMatch(/✔ postgres +PostgreSQL \d+\.\d+/);
    expect(r.stdout).toMatch(/✔ redis +Redis \d+\.\d+\.\d+ at 127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/! smtp +127\.0\.0\.1:\d+ answered EHLO, login as ops accepted; nothing sent; no TLS/);
    expect(r.stdout).toMatch(/✔ slack token +auth\.test: rekindle in Acme Learning/);
    expect(lines.at(-1)).toBe('All checks passed (1 warning).');
  });

  it('each broken piece is named with its fix: PostgreSQL down, evicting Redis, a stuck queue, SMTP login, Slack token and secret, webhook secret, http links, exposed metrics', async () => {
    const prefix = uniquePrefix();
    const redis = new Redis(lruRedis.url, { maxRetriesPerRequest: null });
    const queues = openQueues(redis, prefix);
    await queues.delivery.add('outreach.send-email', { outreachId: 1 }, { jobId: 'email-stuck', timestamp: Date.now() - 2 * 3_600_000 });
    // A newer job behind it: the age reported is the oldest one's.
    await queues.delivery.add('outreach.send-batch', { outreachIds: [2] }, { jobId: 'emails-2-2' });
    await queues.close();
    redis.disconnect();
    const results = await runDoctor(
      {
        ...healthy(),
        DATABASE_URL: `postgres://postgres@127.0.0.1:${await unusedPort()}/postgres`,
        REDIS_URL: lruRedis.url,
        QUEUE_PREFIX: prefix,
        SMTP_URL: `smtp://ops:wrong-password@127.0.0.1:${smtpPort}`,
        PUBLIC_BASE_URL: 'http://retain.example.com/',
        SLACK_BOT_TOKEN: 'xoxb-revoked-token',
        SLACK_SIGNING_SECRET: undefined,
        // 18 bytes: passes the config's shape check, short of Standard Webhooks' 24.
        WEBHOOK_SECRETS: `whsec_${Buffer.alloc(18, 7).toString('base64')}`,
        METRICS_HOST: '0.0.0.0',
      },
      { timeoutMs: 3000 },
    );
    const c = byCheck(results);
    const failed = results.filter((r) => r.status === 'fail').map((r) => r.check);
    expect(failed.sort()).toEqual(['metrics', 'postgres', 'public url', 'queues', 'redis eviction', 'slack signing secret', 'slack token', 'smtp', 'webhook secrets']);
    expect(c.postgres!.detail).toMatch(/cannot query PostgreSQL at 127\.0\.0\.1:\d+\/postgres: .*ECONNREFUSED/);
    expect(c['redis eviction']!.detail).toContain('maxmemory-policy is allkeys-lru');
    expect(c['redis eviction']!.fix).toContain('noeviction');
    expect(c.queues!.detail).toMatch(/delivery: 2 waiting.*oldest waiting job 2\.0 h old \(outreach\.send-email\)/);
    expect(c.queues!.fix).toContain('rekindle worker');
    expect(c.smtp!.detail).toMatch(/535/);
    expect(c.smtp!.fix).toContain('user and password in SMTP_URL');
    expect(c['slack token']!.detail).toBe('auth.test refused SLACK_BOT_TOKEN: invalid_auth');
    expect(c['slack signing secret']!.detail).toContain('unset in HTTP mode');
    expect(c['webhook secrets']!.detail).toBe('secret 1 holds 18 bytes (Standard Webhooks: 24 to 64)');
    expect(c['public url']!.fix).toContain('https://');
    expect(c.metrics!.fix).toContain('METRICS_TOKEN');
    // Neither append-only file nor snapshots: works, but not what production wants.
    expect(c['redis persistence']).toMatchObject({ status: 'warn', fix: 'run Redis with --appendonly yes in production' });
    // Secrets never reach the report.
    expect(JSON.stringify(results)).not.toMatch(/wrong-password|xoxb-revoked-token/);
  });

  it('an SMTP server whose STARTTLS certificate this machine does not trust is a failure, with the fix', async () => {
    // smtp-server offers STARTTLS with its built-in self-signed certificate.
    const tlsSmtp = new SMTPServer({ logger: false, authOptional: true, onData: (stream, _s, cb) => (stream.resume(), stream.on('end', () => cb())) });
    await new Promise<void>((r) => tlsSmtp.listen(0, '127.0.0.1', r));
    try {
      const port = (tlsSmtp.server.address() as { port: number }).port;
      const c = byCheck(await runDoctor({ ...healthy(), SMTP_URL: `smtp://127.0.0.1:${port}` }, { timeoutMs: 3000 }));
      expect(c.smtp!.status).toBe('fail');
      expect(c.smtp!.detail).toMatch(/certificate/i);
      expect(c.smtp!.fix).toContain('NODE_EXTRA_CA_CERTS');
    } finally {
      await new Promise<void>((r) => tlsSmtp.close(() => r()));
    }
  });

  it('a SLACK_API_URL that is not Slack (HTTP 404) is named as the URL, not as a bad token', async () => {
    const c = byCheck(await runDoctor({ ...healthy(), SLACK_API_URL: slackUrl.replace('/api/', '/not-slack/') }, { timeoutMs: 3000 }));
    expect(c['slack token']).toMatchObject({ status: 'fail', detail: expect.stringContaining('auth.test answered HTTP 404') });
    expect(c['slack token']!.fix).toContain('SLACK_API_URL');
  });

  it('an unmigrated database, Redis and SMTP unreachable, a refused Socket Mode token', async () => {
    const results = await runDoctor(
      {
        ...healthy(),
        DATABASE_URL: empty.url,
        REDIS_URL: `redis://127.0.0.1:${await unusedPort()}`,
        SMTP_URL: `smtp://127.0.0.1:${await unusedPort()}`,
        SLACK_MODE: 'socket',
        SLACK_APP_TOKEN: 'xapp-revoked',
      },
      { timeoutMs: 3000 },
    );
    const c = byCheck(results);
    expect(results.filter((r) => r.status === 'fail').map((r) => r.check).sort()).toEqual(['migrations', 'redis', 'slack app token', 'smtp']);
    expect(c.postgres!.status).toBe('ok');
    expect(c.migrations!.detail).toMatch(/^0 of \d+ applied; pending: 0000_init/);
    expect(c.migrations!.fix).toBe('run: rekindle migrate');
    expect(c.redis!.detail).toMatch(/cannot reach Redis at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(c.smtp!.detail).toMatch(/ECONNREFUSED/);
    expect(c['slack token']!.status).toBe('ok');
    expect(c['slack app token']!.detail).toBe('apps.connections.open refused SLACK_APP_TOKEN: invalid_auth');
  });

  it('a configuration that does not parse: the config check names the variable, --json, exit 1', async () => {
    const r = await run(process.execPath, ['bin/rekindle.js', 'doctor', '--json'], { env: { ...healthy(), PORT: 'eighty', QUIET_HOURS: 'nights' } }).then(
      () => {
        throw new Error('doctor should have failed');
      },
      (e: { code: number; stdout: string }) => e,
    );
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(report.ok).toBe(false);
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]).toMatchObject({ check: 'config', status: 'fail' });
    expect(report.checks[0]!.detail).toMatch(/^2 variables wrong: PORT: .*QUIET_HOURS: /);
  });
});
