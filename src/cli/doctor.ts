/**
 * `rekindle doctor`: what an operator must fix before (or while) running in production, one
 * line per check with the fix. It reads and connects, never writes: no migration, no email sent,
 * no job added, no Slack message, and it never opens an embedded PGlite database (another
 * process may own it).
 *
 * Statuses: `ok` (✔), `fail` (✘, the exit status is 1), `warn` (!, works but not what production
 * wants), `skip` (–, not configured and not needed).
 */
import { Buffer } from 'node:buffer';
import { Redis } from 'ioredis';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { openQueues } from '../../jobs/enqueue.js';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { migrationStatus } from '../db/migrate.js';
import { ConfigError } from '../domain/errors.js';
import { scrubUrlCredentials } from '../logger.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it (fail and warn). */
  fix?: string;
}

export interface DoctorOptions {
  /** Per network check (connect, greet, answer); default 5 s. */
  timeoutMs?: number;
  /** A waiting job older than this means nobody is working the queue; default 15 minutes. */
  staleWaitingMs?: number;
  now?: () => number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail });
const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'fail', detail, fix });
const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'warn', detail, fix });
const skip = (check: string, detail: string): CheckResult => ({ check, status: 'skip', detail });

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { response?: string; cause?: NodeJS.ErrnoException };
  const text = err.response ?? (err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message) ?? String(e);
  // fetch says only "fetch failed"; the reason is its cause (ECONNREFUSED, ENOTFOUND…).
  const cause = err.cause?.code ?? err.cause?.message;
  return scrubUrlCredentials(cause && !text.includes(cause) ? `${text} (${cause})` : text);
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every check; the config first (nothing else can run without it). */
export async function runDoctor(env: Record<string, string | undefined>, opts: DoctorOptions = {}): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const problems = Array.isArray(e.details) ? (e.details as string[]) : [e.message];
    return [fail('config', `${problems.length} variable${problems.length === 1 ? '' : 's'} wrong: ${problems.join('; ')}`, 'fix these variables (.env.example lists each one with its default), then run rekindle doctor again')];
  }
  const o = { timeoutMs: opts.timeoutMs ?? 5000, staleWaitingMs: opts.staleWaitingMs ?? 15 * 60_000, now: opts.now ?? Date.now };
  const [database, redis, smtp, slack] = await Promise.all([checkDatabase(config, o.timeoutMs), checkRedis(config, o), checkSmtp(config, o.timeoutMs), checkSlack(config, o.timeoutMs)]);
  return [ok('config', 'every variable parses'), ...database, ...redis, ...smtp, ...checkPublicUrl(config), ...slack, ...checkWebhookSecrets(config), ...checkMetrics(config)];
}

async function checkDatabase(c: Config, timeoutMs: number): Promise<CheckResult[]> {
  if (!c.DATABASE_URL) {
    return [
      warn('database', `DATABASE_URL is unset: embedded PGlite in ${c.PGLITE_DIR} (one process at a time; not checked, another process may have it open)`, 'set DATABASE_URL=postgres://… for production: serve and worker run as separate processes'),
    ];
  }
  const where = (() => {
    const u = new URL(c.DATABASE_URL);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  })();
  let db: Database | undefined;
  try {
    db = await openDatabase({ databaseUrl: c.DATABASE_URL, poolSize: 1 });
    const [v] = await within(timeoutMs, 'PostgreSQL', db.query<{ num: string; version: string }>(`select current_setting('server_version_num') as num, current_setting('server_version') as version`));
    const major = Math.floor(Number(v!.num) / 10_000);
    const pg =
      major >= 15
        ? ok('postgres', `PostgreSQL ${v!.version} at ${where}`)
        : warn('postgres', `PostgreSQL ${v!.version} at ${where}: Rekindle is tested on 15 and newer`, 'upgrade to PostgreSQL 15 or newer');
    const m = await within(timeoutMs, 'PostgreSQL', migrationStatus(db));
    const migrations = m.upToDate
      ? ok('migrations', `${m.applied}/${m.total} applied`)
      : fail('migrations', `${m.applied} of ${m.total} applied; pending: ${m.pending.join(', ')} (serve and worker refuse to start)`, 'run: rekindle migrate');
    return [pg, migrations];
  } catch (e) {
    return [fail('postgres', `cannot query PostgreSQL at ${where}: ${reason(e)}`, 'start PostgreSQL, or fix DATABASE_URL (host, port, user, password, database)')];
  } finally {
    await db?.close().catch(() => undefined);
  }
}

/** `field:value` lines of an INFO section. */
function infoFields(text: string): Map<string, string> {
  return new Map(text.split(/\r?\n/).filter((l) => l.includes(':') && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

async function checkRedis(c: Config, o: { timeoutMs: number; staleWaitingMs: number; now: () => number }): Promise<CheckResult[]> {
  const u = new URL(c.REDIS_URL);
  const where = `${u.hostname}:${u.port || '6379'}`;
  const redis = new Redis(c.REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: o.timeoutMs });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err)); // reported once, below
  try {
    await within(o.timeoutMs, 'Redis', redis.connect());
  } catch (e) {
    redis.disconnect();
    const why = lastError ?? (e as Error);
    return [fail('redis', `cannot reach Redis at ${where}: ${reason(why)}`, `start Redis (redis-server --port ${u.port || '6379'} --appendonly yes --maxmemory-policy noeviction), or fix REDIS_URL`)];
  }
  const out: CheckResult[] = [];
  try {
    const info = infoFields(await within(o.timeoutMs, 'Redis', redis.info()));
    out.push(ok('redis', `Redis ${info.get('redis_version') ?? '(version unknown)'} at ${where}`));
    const policy = info.get('maxmemory_policy');
    out.push(
      policy === 'noeviction'
        ? ok('redis eviction', 'maxmemory-policy noeviction')
        : policy === undefined
          ? warn('redis eviction', 'maxmemory-policy not reported by this Redis', 'make sure maxmemory-policy is noeviction: BullMQ loses jobs when Redis evicts keys')
          : fail('redis eviction', `maxmemory-policy is ${policy}: Redis may evict BullMQ's keys under memory pressure and jobs vanish`, 'set maxmemory-policy noeviction (redis.conf, or redis-cli CONFIG SET maxmemory-policy noeviction and CONFIG REWRITE)'),
    );
    const aof = info.get('aof_enabled') === '1';
    let save = '';
    try {
      const r = (await within(o.timeoutMs, 'Redis', redis.config('GET', 'save'))) as string[];
      save = r[1] ?? '';
    } catch {
      save = '?'; // CONFIG is often disabled on managed Redis
    }
    out.push(
      aof
        ? ok('redis persistence', `append-only file on${save && save !== '?' ? `, snapshots "${save}"` : ''}`)
        : save && save !== '?'
          ? ok('redis persistence', `snapshots "${save}" (append-only file off: a crash loses the writes since the last snapshot)`)
          : warn(
              'redis persistence',
              save === '?' ? 'append-only file off; snapshot settings not readable (CONFIG disabled)' : 'none: a Redis restart loses delayed and retrying jobs (the sweep re-enqueues due outbox rows, schedules are re-created when a worker starts)',
              'run Redis with --appendonly yes in production',
            ),
    );
    out.push(...(await checkQueues(c, redis, o)));
  } catch (e) {
    out.push(fail('redis', `Redis at ${where} answered but a command failed: ${reason(e)}`, 'check the REDIS_URL user and password, and that INFO and the BullMQ commands are allowed'));
  } finally {
    redis.disconnect();
  }
  return out;
}

async function checkQueues(c: Config, redis: Redis, o: { timeoutMs: number; staleWaitingMs: number; now: () => number }): Promise<CheckResult[]> {
  const queues = openQueues(redis, c.QUEUE_PREFIX);
  try {
    const parts: string[] = [];
    let oldest: { at: number; name: string; queue: string } | null = null;
    let waitingTotal = 0;
    let workers = 0;
    for (const q of [queues.scoring, queues.delivery]) {
      const counts = await within(o.timeoutMs, 'Redis', q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'));
      const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
      waitingTotal += waiting;
      workers += await q.getWorkersCount().catch(() => 0);
      parts.push(`${q.name}: ${waiting} waiting, ${counts.active ?? 0} active, ${counts.delayed ?? 0} delayed, ${counts.failed ?? 0} failed`);
      const [first] = await q.getJobs(['waiting', 'prioritized'], 0, 0, true);
      if (first && (!oldest || first.timestamp < oldest.at)) oldest = { at: first.timestamp, name: first.name, queue: q.name };
    }
    const age = oldest ? o.now() - oldest.at : 0;
    const ageText = (ms: number) => (ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);
    const summary = `${parts.join('; ')}; ${workers} worker connection${workers === 1 ? '' : 's'}${oldest ? `; oldest waiting job ${ageText(age)} old (${oldest.name})` : ''}`;
    if (oldest && age > o.staleWaitingMs) return [fail('queues', summary, 'jobs wait and nobody takes them: start a worker (rekindle worker) on this REDIS_URL and QUEUE_PREFIX, or look at its logs')];
    if (waitingTotal > 0 && workers === 0) return [warn('queues', summary, 'no worker is connected: start one (rekindle worker)')];
    return [ok('queues', summary)];
  } finally {
    await queues.close();
  }
}

async function checkSmtp(c: Config, timeoutMs: number): Promise<CheckResult[]> {
  if (!c.SMTP_URL) return [skip('smtp', `SMTP_URL is unset: emails are written as .eml files to ${c.OUTBOX_DIR}; set SMTP_URL to send them`)];
  const u = new URL(c.SMTP_URL);
  const secure = u.protocol === 'smtps:';
  const port = Number(u.port || (secure ? 465 : 587));
  const where = `${u.hostname}:${port}`;
  const user = decodeURIComponent(u.username);
  const conn = new SMTPConnection({ host: u.hostname, port, secure, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs });
  let lastError: Error | undefined;
  conn.on('error', (err: Error) => (lastError = err));
  try {
    // connect() says EHLO and, when the server offers STARTTLS, upgrades (as the mailer does).
    await within(timeoutMs * 2, 'SMTP', new Promise<void>((resolve, reject) => {
      conn.once('error', reject);
      conn.connect(() => resolve());
    }));
    const tls = conn.secure;
    if (user) {
      await within(timeoutMs, 'SMTP', new Promise<void>((resolve, reject) => conn.login({ user, pass: decodeURIComponent(u.password) }, (err) => (err ? reject(err) : resolve()))));
    }
    const what = `${where} answered EHLO${tls ? (secure ? ' over TLS' : ', STARTTLS') : ''}${user ? `, login as ${user} accepted` : ', no login (none in SMTP_URL)'}; nothing sent`;
    return [tls ? ok('smtp', what) : warn('smtp', `${what}; no TLS: mail${user ? ' and the password' : ''} cross the network in clear text`, 'use smtps:// or a server that offers STARTTLS')];
  } catch (e) {
    const err = lastError && (e as Error).message.includes('no answer') ? lastError : (e as Error);
    const said = `${(err as { code?: string }).code ?? ''} ${err.message}`;
    const fix = /certificate|ETLS|ssl|tls/i.test(said)
      ? 'the server\'s TLS certificate is not trusted here: give the SMTP server a certificate from a public CA for this host name, or trust its CA with NODE_EXTRA_CA_CERTS=<ca.pem>'
      : /EAUTH|auth|login|535|534|530/i.test(said)
        ? 'fix the user and password in SMTP_URL (smtp://user:password@host:port; percent-encode special characters)'
        : 'check the host and port in SMTP_URL, and that this machine may reach it';
    return [fail('smtp', `${where}: ${reason(err)}`, fix)];
  } finally {
    conn.close();
  }
}

function checkPublicUrl(c: Config): CheckResult[] {
  if (!c.SMTP_URL) return [ok('public url', `${c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT} (PUBLIC_BASE_URL unset)`}; only the outbox gets links while SMTP_URL is unset`)];
  if (c.PUBLIC_BASE_URL?.startsWith('https://')) return [ok('public url', `${c.PUBLIC_BASE_URL}: unsubscribe and click links in emails are https`)];
  return [
    fail(
      'public url',
      `PUBLIC_BASE_URL is ${c.PUBLIC_BASE_URL ?? 'unset (links go to http://localhost)'} while SMTP_URL sends real email: users cannot open the links, and mail providers show one-click unsubscribe (RFC 8058) only for https`,
      'set PUBLIC_BASE_URL=https://<the address users reach this server at>',
    ),
  ];
}

async function slackCall(c: Config, method: string, token: string, timeoutMs: number): Promise<{ ok: boolean; error?: string; team?: string; user?: string }> {
  const res = await fetch(new URL(method, c.SLACK_API_URL.endsWith('/') ? c.SLACK_API_URL : `${c.SLACK_API_URL}/`), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  // Not Slack's answer (a proxy, a wrong SLACK_API_URL): a reachability problem, not a token one.
  if (!res.ok) throw new Error(`${method} answered HTTP ${res.status}`);
  return (await res.json()) as { ok: boolean; error?: string; team?: string; user?: string };
}

async function checkSlack(c: Config, timeoutMs: number): Promise<CheckResult[]> {
  if (!c.SLACK_BOT_TOKEN) return [skip('slack', 'SLACK_BOT_TOKEN is unset: the Slack bot is off')];
  const out: CheckResult[] = [];
  try {
    const r = await slackCall(c, 'auth.test', c.SLACK_BOT_TOKEN, timeoutMs);
    out.push(
      r.ok
        ? ok('slack token', `auth.test: ${r.user ?? 'the bot'} in ${r.team ?? 'the workspace'}`)
        : fail('slack token', `auth.test refused SLACK_BOT_TOKEN: ${r.error ?? 'unknown error'}`, 'copy the Bot User OAuth Token (xoxb-…) from your Slack app\'s OAuth & Permissions page; reinstall the app if it was revoked'),
    );
  } catch (e) {
    out.push(fail('slack token', `the Slack API at ${new URL(c.SLACK_API_URL).host}: ${reason(e)}`, 'check SLACK_API_URL (default https://slack.com/api/) and that this machine may reach it'));
  }
  if (c.SLACK_MODE === 'http') {
    out.push(
      c.SLACK_SIGNING_SECRET
        ? /^[0-9a-f]{32}$/.test(c.SLACK_SIGNING_SECRET)
          ? ok('slack signing secret', 'set (HTTP mode: Slack posts to /slack/events)')
          : warn('slack signing secret', 'set, but not 32 hexadecimal characters like the ones Slack issues', 'copy the Signing Secret from your Slack app\'s Basic Information page')
        : fail('slack signing secret', 'SLACK_SIGNING_SECRET is unset in HTTP mode: every request Slack sends to /slack/events is refused', 'set SLACK_SIGNING_SECRET from your Slack app\'s Basic Information page (or SLACK_MODE=socket with SLACK_APP_TOKEN)'),
    );
  } else if (c.SLACK_APP_TOKEN) {
    try {
      const r = await slackCall(c, 'apps.connections.open', c.SLACK_APP_TOKEN, timeoutMs);
      out.push(
        r.ok
          ? ok('slack app token', 'apps.connections.open accepted SLACK_APP_TOKEN (Socket Mode)')
          : fail('slack app token', `apps.connections.open refused SLACK_APP_TOKEN: ${r.error ?? 'unknown error'}`, 'create an app-level token (xapp-…) with connections:write on your Slack app\'s Basic Information page'),
      );
    } catch (e) {
      out.push(fail('slack app token', `the Slack API at ${new URL(c.SLACK_API_URL).host}: ${reason(e)}`, 'check SLACK_API_URL (default https://slack.com/api/) and that this machine may reach it'));
    }
  }
  return out;
}

const NEW_SECRET = `node -e "console.log('whsec_' + require('crypto').randomBytes(32).toString('base64'))"`;

function checkWebhookSecrets(c: Config): CheckResult[] {
  const secrets = c.WEBHOOK_SECRETS;
  if (secrets.length === 0) return [fail('webhook secrets', 'WEBHOOK_SECRETS is empty: POST /webhooks/events answers 503 not_configured to every delivery', `generate one (${NEW_SECRET}), set WEBHOOK_SECRETS to it and give it to the product that sends events`)];
  const problems: string[] = [];
  secrets.forEach((s, i) => {
    const b64 = s.slice('whsec_'.length);
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) problems.push(`secret ${i + 1} is not valid base64 after whsec_`);
    else if (bytes.length < 24) problems.push(`secret ${i + 1} holds ${bytes.length} bytes (Standard Webhooks: 24 to 64)`);
  });
  if (new Set(secrets).size < secrets.length) problems.push('a secret is listed twice');
  if (problems.length) return [fail('webhook secrets', problems.join('; '), `replace them with new ones (${NEW_SECRET}); during a rotation list the new secret first, then the old`)];
  return [ok('webhook secrets', `${secrets.length} secret${secrets.length === 1 ? '' : 's'}, well formed`)];
}

function checkMetrics(c: Config): CheckResult[] {
  if (!c.METRICS_ENABLED) return [skip('metrics', 'METRICS_ENABLED=false: no /metrics')];
  const where = `${c.METRICS_HOST}:${c.METRICS_PORT} (serve) and ${c.METRICS_HOST}:${c.WORKER_METRICS_PORT || 'off'} (worker)`;
  if (c.METRICS_PORT !== 0 && (c.METRICS_PORT === c.PORT || c.METRICS_PORT === c.WORKER_METRICS_PORT)) {
    return [fail('metrics', `METRICS_PORT ${c.METRICS_PORT} is also ${c.METRICS_PORT === c.PORT ? 'PORT' : 'WORKER_METRICS_PORT'}: serve (or a worker on the same machine) cannot listen`, 'give METRICS_PORT, WORKER_METRICS_PORT and PORT different values')];
  }
  if (LOOPBACK.has(c.METRICS_HOST)) return [ok('metrics', `/metrics on ${where}, loopback only${c.METRICS_TOKEN ? ', bearer token required' : ''}`)];
  if (!c.METRICS_TOKEN) {
    return [fail('metrics', `/metrics on ${where} without METRICS_TOKEN: anyone who reaches that address reads queue sizes and delivery counts`, 'set METRICS_TOKEN (at least 16 characters; Prometheus sends it as a bearer token), or METRICS_HOST=127.0.0.1')];
  }
  return [ok('metrics', `/metrics on ${where}, bearer token required`)];
}

const MARK: Record<CheckStatus, string> = { ok: '✔', fail: '✘', warn: '!', skip: '–' };

/** One line per check, the fix under a failure or warning, and a summary. */
export function printDoctor(results: CheckResult[], out: (line: string) => void): void {
  const width = Math.max(...results.map((r) => r.check.length));
  for (const r of results) {
    out(`${MARK[r.status]} ${r.check.padEnd(width)}  ${r.detail}`);
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) out(`  ${' '.repeat(width)}  fix: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  out('');
  out(failed ? `${failed} problem${failed === 1 ? '' : 's'} to fix${warned ? `, ${warned} warning${warned === 1 ? '' : 's'}` : ''}.` : `All checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}.`);
}
