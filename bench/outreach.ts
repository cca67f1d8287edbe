/**
 * bench:outreach — plans and delivers N outreach messages through the real code path, as
 * `rekindle worker` runs it: config from `loadConfig`, `openRuntime` + `openJobsRuntime`,
 * `startWorkers` with the catalog's handlers, `planOutreach` on a scratch PostgreSQL database,
 * then the delivery jobs enqueued the way the `outreach.plan` handler does (`enqueueEmails`:
 * due rows in `outreach.send-batch` jobs of 50, then `webhook.deliver`). Emails go through the nodemailer pool of
 * src/outreach/mailer.ts to an in-process smtp-server (counts accepted messages and distinct
 * Message-IDs); webhooks to an in-process node:http receiver (counts requests and webhook-ids).
 *
 * Beside it, the baseline: a raw nodemailer pool with the same options sending the same number
 * of pre-rendered messages (real templates, distinct Message-IDs) to the same smtp-server —
 * the ceiling on this machine — once with everything handed to the pool at once and once
 * with as many in flight as the workers' delivery concurrency.
 *
 * Data is made with set-based SQL: N treated users (high tier → coupon email, medium → win-back
 * email, `--coupon-share` of them high), N/10 low-tier users the planner skips, 3
 * recommendations per treated user, one webhook endpoint (every planned row makes an
 * `outreach.planned` delivery, every coupon a `coupon.issued` one). HOLDOUT_FRACTION=0,
 * QUIET_HOURS=off, FREQUENCY_CAP_DAYS=0, OUTREACH_POLICY=tiers, so the planner treats exactly N.
 *
 * The delivery handlers are wrapped only to note when the first job of each kind starts. With
 * `--profile`, each job also gets a counting `db` and a timing `mailer` in its ctx (queries and
 * SMTP time per email; a `performance.now()` pair per call): off by default, so the headline
 * figures are the plain code path.
 *
 * Usage: npm run bench:outreach [-- --messages 10000 --concurrency 4 --pool 5 --coupon-share 0.5 --profile --json]
 *   --concurrency  delivery jobs at once (default WORKER_CONCURRENCY, as `rekindle worker`)
 *   --pool         nodemailer pool connections, passed as ?maxConnections= on SMTP_URL (default: mailer.ts's)
 * Environment: BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres), REDIS_URL.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import nodemailer, { type Mail } from 'nodemailer';
import postgres from 'postgres';
import { SMTPServer } from 'smtp-server';
import { jobId } from '../jobs/catalog.js';
import { enqueueBulk } from '../jobs/enqueue.js';
import type { HandlerContext, Handlers } from '../jobs/handlers/context.js';
import { enqueueEmails } from '../jobs/handlers/delivery.js';
import { handlers } from '../jobs/handlers/index.js';
import { startWorkers, type Workers } from '../jobs/worker.js';
import { connectRedis, openJobsRuntime, type JobsRuntime } from '../src/cli/jobs-runtime.js';
import { openRuntime, type Runtime } from '../src/cli/runtime.js';
import type { Database } from '../src/db/client.js';
import { AppError } from '../src/domain/errors.js';
import { migrate } from '../src/db/migrate.js';
import { buildMessage, type Mailer } from '../src/outreach/mailer.js';
import { renderEmail } from '../src/outreach/templates.js';
import { planOutreach, type PlanResult } from '../src/services/outreach-plan.js';
import { ADMIN_URL, machine, scratchDatabase, table } from './support.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    concurrency: { type: 'string' },
    pool: { type: 'string' },
    'coupon-share': { type: 'string', default: '0.5' },
    json: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

class BenchError extends Error {
  override name = 'BenchError';
}

function fail(message: string): never {
  process.stderr.write(`bench:outreach failed: ${message}\n`);
  process.exit(1);
}

function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

const MESSAGES = positiveInt('messages', args.messages) as number;
const COUPON_SHARE = Number(args['coupon-share']);
if (!(COUPON_SHARE >= 0 && COUPON_SHARE <= 1)) fail(`--coupon-share must be between 0 and 1, got "${args['coupon-share']}"`);
const CONCURRENCY_FLAG = positiveInt('concurrency', args.concurrency);
const POOL_FLAG = positiveInt('pool', args.pool);
const TARGET_EMAILS_PER_S = 500;
const say = (line: string): void => void process.stderr.write(`${line}\n`);
const seconds = (ms: number): number => ms / 1000;

/** CPU used so far by this process and by the whole machine (every process, others' work included). */
interface CpuMark {
  at: number;
  processUs: number;
  machineBusyMs: number;
  machineTotalMs: number;
}

function cpuMark(): CpuMark {
  const u = process.cpuUsage();
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { at: performance.now(), processUs: u.user + u.system, machineBusyMs: busy, machineTotalMs: total };
}

/** This process's CPU per item (ms), its share of one core, and how busy the machine was, between two marks. */
function cpuBetween(a: CpuMark, b: CpuMark, items: number): { processMsPerItem: number; processCoreShare: number; machineBusy: number } {
  const processMs = (b.processUs - a.processUs) / 1000;
  return { processMsPerItem: processMs / items, processCoreShare: processMs / (b.at - a.at), machineBusy: (b.machineBusyMs - a.machineBusyMs) / Math.max(1, b.machineTotalMs - a.machineTotalMs) };
}

// --- the sinks: an SMTP server and a webhook receiver that only count ----------------------

interface SmtpSink {
  port: number;
  accepted: number;
  duplicates: number;
  missingId: number;
  ids: Set<string>;
  firstAt: number;
  lastAt: number;
  connections: number;
  /** When `accepted` reaches `expect`, the CPU mark is taken (the end of the timed window). */
  expect: number;
  atExpected: CpuMark | null;
  reset(expect: number): void;
  close(): Promise<void>;
}

/** smtp-server with the STACK-NOTES settings; keeps only each message's Message-ID and when it was accepted. */
async function startSmtpSink(): Promise<SmtpSink> {
  const sink = {
    accepted: 0,
    duplicates: 0,
    missingId: 0,
    ids: new Set<string>(),
    firstAt: 0,
    lastAt: 0,
    connections: 0,
    expect: 0,
    atExpected: null as CpuMark | null,
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    onConnect(_session, cb) {
      sink.connections++;
      cb();
    },
    onData(stream, _session, cb) {
      let head = '';
      let inHead = true;
      stream.on('data', (c: Buffer) => {
        if (!inHead) return;
        head += c.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) {
          head = head.slice(0, end);
          inHead = false;
        }
      });
      stream.on('error', (err) => cb(err));
      stream.on('end', () => {
        const id = /^message-id:\s*(<[^>]+>)/im.exec(head.replace(/\r\n[ \t]+/g, ' '))?.[1];
        const now = performance.now();
        sink.accepted++;
        if (!id) sink.missingId++;
        else if (sink.ids.has(id)) sink.duplicates++;
        else sink.ids.add(id);
        if (sink.firstAt === 0) sink.firstAt = now;
        sink.lastAt = now;
        if (sink.accepted === sink.expect) sink.atExpected = cpuMark();
        cb(null, 'OK');
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client dropping a socket mid-command emits 'error'; the sender reports its own failures.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;
  return Object.assign(sink, {
    port,
    reset(expect: number) {
      Object.assign(sink, { accepted: 0, duplicates: 0, missingId: 0, firstAt: 0, lastAt: 0, connections: 0, expect, atExpected: null });
      sink.ids.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.connections) c._socket.destroy();
        server.close(() => resolve());
      }),
  });
}

interface Receiver {
  url: string;
  received: number;
  ids: Set<string>;
  lastAt: number;
  close(): Promise<void>;
}

/** node:http on 127.0.0.1, port 0: answers 204 and counts requests and distinct webhook-ids. */
async function startReceiver(): Promise<Receiver> {
  const rx = { received: 0, ids: new Set<string>(), lastAt: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      rx.received++;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') rx.ids.add(id);
      rx.lastAt = performance.now();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(rx, {
    url: `http://127.0.0.1:${port}/rekindle-webhooks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

// --- preflight and cleanup ---------------------------------------------------------------

async function checkPostgres(): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await admin`select 1`;
  } catch (e) {
    throw new BenchError(
      `PostgreSQL is not reachable at ${ADMIN_URL.replace(/\/\/[^@]*@/, '//')} (${(e as Error).message}). Start it, or point BENCH_PG_ADMIN_URL at a server where this user may create databases.`,
    );
  } finally {
    await admin.end({ timeout: 1 });
  }
}

/** One quiet attempt first: connectRedis (the workers' own check) logs every reconnect while it waits. */
async function checkRedis(url: string): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  let cause: Error | undefined;
  probe.on('error', (e: Error) => (cause = e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw new BenchError(`Redis is not reachable at ${url.replace(/\/\/[^@]*@/, '//')} (${(cause ?? (e as Error)).message}). Start one (redis-server --daemonize yes --port 6379 --save "" --appendonly no) or point REDIS_URL at yours.`);
  } finally {
    probe.disconnect();
  }
}

/** Deletes every key under the run's queue prefix (queues, job hashes, events, metadata). */
async function dropQueueKeys(redis: Redis, prefix: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

// --- data --------------------------------------------------------------------------------

async function fill(db: Database, receiverUrl: string): Promise<{ users: number; high: number; medium: number; low: number }> {
  const low = Math.ceil(MESSAGES / 10);
  const users = MESSAGES + low;
  await db.query(
    `insert into items (id, title, item_type, category, tags, price_minor, currency)
     select 'c' || g, '课程 ' || g, 'course', 'cat' || (g % 12), array['t' || (g % 30)], 9900 + g * 100, 'CNY' from generate_series(1, 60) g`,
  );
  await db.query(
    `insert into users (id, email, name, locale, timezone, signup_at)
     select 'u' || g, 'user' || g || '@example.com', (array['王','李','张','刘','陈','杨','赵','黄'])[1 + g % 8] || (array['伟','芳','娜','敏','静','磊','洋','艳'])[1 + (g / 8) % 8],
            case when g % 5 = 0 then 'en' else 'zh-CN' end, 'Asia/Shanghai', now() - (g % 900) * interval '1 day'
     from generate_series(1, $1::int) g`,
    [users],
  );
  // The first N users are treated, high spread evenly among them (floor(g·share) steps), the rest low.
  await db.query(
    `insert into user_scores (user_id, model_run_id, scored_at, churn_probability, risk_tier)
     select 'u' || g, 1, now(), case t when 'high' then 0.8 when 'medium' then 0.45 else 0.1 end, t
     from (select g, case when g > $1 then 'low' when floor(g * $2::float8) > floor((g - 1) * $2::float8) then 'high' else 'medium' end as t
           from generate_series(1, $3::int) g) x`,
    [MESSAGES, COUPON_SHARE, users],
  );
  await db.query(
    `insert into recommendations (user_id, rank, item_id, score, reason, model_run_id)
     select 'u' || g, r, 'c' || (1 + (g * 7 + r * 13) % 60), 1.0 / r,
            case when r = 1 then jsonb_build_object('kind', 'because_bought', 'itemId', 'c' || (1 + (g * 11) % 60)) else '{"kind":"popular"}'::jsonb end, 2
     from generate_series(1, $1::int) g, generate_series(1, 3) r`,
    [MESSAGES],
  );
  await db.query(`insert into webhook_endpoints (url, secret, event_types, description) values ($1, $2, '{}', 'bench receiver')`, [
    receiverUrl,
    `whsec_${randomBytes(24).toString('base64')}`,
  ]);
  for (const t of ['items', 'users', 'user_scores', 'recommendations', 'webhook_endpoints']) await db.query(`analyze ${t}`);
  const [c] = await db.query<{ high: number; medium: number }>(
    `select count(*) filter (where risk_tier = 'high')::int as high, count(*) filter (where risk_tier = 'medium')::int as medium from user_scores`,
  );
  return { users, high: c!.high, medium: c!.medium, low };
}

// --- instrumentation for the profile ------------------------------------------------------

interface JobCost {
  kind: 'email' | 'webhook';
  queries: number;
  dbMs: number;
  smtpMs: number;
}

interface Profile {
  email: { jobs: number; ok: number; failed: number; ms: number[]; queries: number; dbMs: number; smtpMs: number; firstStart: number; atFirstStart: CpuMark | null };
  webhook: { jobs: number; ok: number; failed: number; ms: number[]; queries: number; dbMs: number; firstStart: number };
}

/**
 * Wraps the two delivery handlers: the first start of each kind (and a CPU mark) is always
 * taken; with `profile`, each job also gets its own counting `db` and timing `mailer` in its
 * ctx, so queries and SMTP time are attributed per job without AsyncLocalStorage (which
 * switches on promise hooks in Node 20 and would slow every await in the process).
 */
function instrument(profileJobs: boolean): { handlers: Handlers; profile: Profile; onDone: (name: string, ok: boolean, ms: number) => void } {
  const profile: Profile = {
    email: { jobs: 0, ok: 0, failed: 0, ms: [], queries: 0, dbMs: 0, smtpMs: 0, firstStart: 0, atFirstStart: null },
    webhook: { jobs: 0, ok: 0, failed: 0, ms: [], queries: 0, dbMs: 0, firstStart: 0 },
  };
  const counted = (c: HandlerContext, cost: JobCost): HandlerContext => {
    if (!profileJobs) return c;
    const db: Database = {
      ...c.db,
      query: async (text, params, opts) => {
        const t0 = performance.now();
        try {
          return await c.db.query(text, params, opts);
        } finally {
          cost.queries++;
          cost.dbMs += performance.now() - t0;
        }
      },
    };
    const mailer: Mailer = {
      ...c.mailer,
      send: async (msg) => {
        const t0 = performance.now();
        try {
          return await c.mailer.send(msg);
        } finally {
          cost.smtpMs += performance.now() - t0;
        }
      },
    };
    return { ...c, db, mailer };
  };
  const account = (cost: JobCost): void => {
    const p = profile[cost.kind];
    p.queries += cost.queries;
    p.dbMs += cost.dbMs;
    if (cost.kind === 'email') profile.email.smtpMs += cost.smtpMs;
  };
  const wrapped: Handlers = {
    ...handlers,
    'outreach.send-email': (data, job, c) => {
      if (profile.email.firstStart === 0) {
        profile.email.atFirstStart = cpuMark();
        profile.email.firstStart = profile.email.atFirstStart.at;
      }
      const cost: JobCost = { kind: 'email', queries: 0, dbMs: 0, smtpMs: 0 };
      return handlers['outreach.send-email'](data, job, counted(c, cost)).finally(() => account(cost));
    },
    'outreach.send-batch': (data, job, c) => {
      if (profile.email.firstStart === 0) {
        profile.email.atFirstStart = cpuMark();
        profile.email.firstStart = profile.email.atFirstStart.at;
      }
      const cost: JobCost = { kind: 'email', queries: 0, dbMs: 0, smtpMs: 0 };
      return handlers['outreach.send-batch'](data, job, counted(c, cost)).finally(() => account(cost));
    },
    'webhook.deliver': (data, job, c) => {
      if (profile.webhook.firstStart === 0) profile.webhook.firstStart = performance.now();
      const cost: JobCost = { kind: 'webhook', queries: 0, dbMs: 0, smtpMs: 0 };
      return handlers['webhook.deliver'](data, job, counted(c, cost)).finally(() => account(cost));
    },
  };
  const onDone = (name: string, ok: boolean, ms: number): void => {
    const p = name === 'outreach.send-email' || name === 'outreach.send-batch' ? profile.email : name === 'webhook.deliver' ? profile.webhook : null;
    if (!p) return;
    p.jobs++;
    if (ok) p.ok++;
    else p.failed++;
    p.ms.push(ms);
  };
  return { handlers: wrapped, profile, onDone };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

// --- waiting and verifying ----------------------------------------------------------------

/** Polls until `done`, failing when `progress` has not moved for `stallMs`. */
async function waitUntil(what: string, done: () => Promise<boolean> | boolean, progress: () => number, detail: () => Promise<string>, stallMs = 30_000, everyMs = 100): Promise<void> {
  let last = progress();
  let movedAt = performance.now();
  while (!(await done())) {
    await new Promise((r) => setTimeout(r, everyMs));
    const now = progress();
    if (now !== last) {
      last = now;
      movedAt = performance.now();
    } else if (performance.now() - movedAt > stallMs) {
      throw new BenchError(`${what}: no progress for ${stallMs / 1000} s (${await detail()})`);
    }
  }
}

interface Verification {
  outreachRows: number;
  sentRows: number;
  notSent: Record<string, number>;
  attemptsAboveOne: number;
  distinctMessageIdsAtServer: number;
  smtpAccepted: number;
  smtpDuplicates: number;
  messageIdsMatchingRows: number;
  webhookRows: number;
  delivered: number;
  notDelivered: Record<string, number>;
  webhookRequests: number;
  distinctWebhookIds: number;
  problems: string[];
}

async function verify(db: Database, cycleId: string, plan: PlanResult, smtp: SmtpSink, rx: Receiver): Promise<Verification> {
  const states = await db.query<{ state: string; n: number; extra: number }>(
    `select state, count(*)::int as n, count(*) filter (where attempts > 1)::int as extra from outreach where cycle_id = $1 and not holdout group by state`,
    [cycleId],
  );
  const ids = await db.query<{ message_id: string | null }>(`select message_id from outreach where cycle_id = $1 and not holdout`, [cycleId]);
  const deliveries = await db.query<{ state: string; n: number }>(`select state, count(*)::int as n from webhook_deliveries group by state`);
  const outreachRows = states.reduce((s, r) => s + r.n, 0);
  const sentRows = states.find((r) => r.state === 'sent')?.n ?? 0;
  const webhookRows = deliveries.reduce((s, r) => s + r.n, 0);
  const delivered = deliveries.find((r) => r.state === 'delivered')?.n ?? 0;
  const v: Verification = {
    outreachRows,
    sentRows,
    notSent: Object.fromEntries(states.filter((r) => r.state !== 'sent').map((r) => [r.state, r.n])),
    attemptsAboveOne: states.reduce((s, r) => s + r.extra, 0),
    distinctMessageIdsAtServer: smtp.ids.size,
    smtpAccepted: smtp.accepted,
    smtpDuplicates: smtp.duplicates,
    messageIdsMatchingRows: ids.filter((r) => r.message_id !== null && smtp.ids.has(r.message_id)).length,
    webhookRows,
    delivered,
    notDelivered: Object.fromEntries(deliveries.filter((r) => r.state !== 'delivered').map((r) => [r.state, r.n])),
    webhookRequests: rx.received,
    distinctWebhookIds: rx.ids.size,
    problems: [],
  };
  const p = v.problems;
  if (outreachRows !== plan.toDeliver.length) p.push(`${outreachRows} treated outreach rows in the cycle, the planner reported ${plan.toDeliver.length}`);
  if (sentRows !== outreachRows) p.push(`${outreachRows - sentRows} outreach rows did not end sent: ${JSON.stringify(v.notSent)}`);
  if (v.attemptsAboveOne) p.push(`${v.attemptsAboveOne} outreach rows took more than one attempt`);
  if (smtp.accepted !== outreachRows) p.push(`the SMTP server accepted ${smtp.accepted} messages for ${outreachRows} rows`);
  if (smtp.duplicates || smtp.missingId) p.push(`${smtp.duplicates} repeated and ${smtp.missingId} missing Message-IDs at the SMTP server`);
  if (v.distinctMessageIdsAtServer !== outreachRows) p.push(`${v.distinctMessageIdsAtServer} distinct Message-IDs at the server for ${outreachRows} rows`);
  if (v.messageIdsMatchingRows !== outreachRows) p.push(`only ${v.messageIdsMatchingRows} of ${outreachRows} rows' message_id arrived at the server`);
  if (webhookRows !== plan.webhookDeliveries.length) p.push(`${webhookRows} webhook delivery rows, the planner reported ${plan.webhookDeliveries.length}`);
  if (delivered !== webhookRows) p.push(`${webhookRows - delivered} webhook deliveries did not end delivered: ${JSON.stringify(v.notDelivered)}`);
  if (rx.received !== webhookRows || rx.ids.size !== webhookRows) p.push(`the receiver got ${rx.received} requests with ${rx.ids.size} distinct webhook-ids for ${webhookRows} deliveries`);
  return v;
}

// --- the baseline ---------------------------------------------------------------------------

/** Pre-rendered messages from the real templates: one body per kind × locale, shared; ids and recipients distinct. */
function prerender(n: number, from: string): Mail.Options[] {
  const now = new Date();
  const unsubscribeUrl = 'http://localhost:3000/unsubscribe?token=bench';
  const recommendations = [1, 2, 3].map((r) => ({ itemId: `c${r}`, title: `课程 ${r}`, reason: r === 1 ? ({ kind: 'because_bought', itemId: 'c9' } as const) : ({ kind: 'popular' } as const) }));
  const bodies = (['coupon', 'winback'] as const).flatMap((kind) =>
    (['zh-CN', 'en'] as const).map((locale) =>
      renderEmail({
        kind,
        locale,
        timeZone: 'Asia/Shanghai',
        user: { name: '王伟', email: 'user@example.com' },
        recommendations,
        ...(kind === 'coupon' ? { coupon: { code: 'RK-ABCD-EFGH-JKMN', kind: 'percent' as const, value: 20, currency: null, expiresAt: new Date(now.getTime() + 14 * 86_400_000) } } : {}),
        relatedTitles: { c9: '课程 9' },
        unsubscribeUrl,
        now,
      }),
    ),
  );
  const domain = /@([^>\s]+)/.exec(from)?.[1] ?? 'rekindle.local';
  return Array.from({ length: n }, (_, i) =>
    buildMessage({ from, to: `user${i + 1}@example.com`, content: bodies[i % bodies.length]!, messageId: `<baseline-${i + 1}@${domain}>`, unsubscribeUrl, unsubscribePostUrl: unsubscribeUrl }),
  );
}

/** A raw nodemailer pool with mailer.ts's options: every message handed over at once, or `inFlight` at a time. */
async function rawPool(smtp: SmtpSink, pool: number, messages: Mail.Options[], inFlight: number | null): Promise<{ seconds: number; perS: number; connections: number; cpu: ReturnType<typeof cpuBetween> }> {
  smtp.reset(messages.length);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, pool: true, maxConnections: pool, maxMessages: 1000, ignoreTLS: true, logger: false });
  try {
    const start = cpuMark();
    const t0 = start.at;
    if (inFlight === null) await Promise.all(messages.map((m) => transport.sendMail(m)));
    else {
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < messages.length) await transport.sendMail(messages[next++]!);
        }),
      );
    }
    const ms = smtp.lastAt - t0;
    if (smtp.ids.size !== messages.length) throw new BenchError(`baseline: the server has ${smtp.ids.size} distinct Message-IDs for ${messages.length} messages`);
    return { seconds: seconds(ms), perS: messages.length / seconds(ms), connections: smtp.connections, cpu: cpuBetween(start, smtp.atExpected ?? cpuMark(), messages.length) };
  } finally {
    transport.close();
  }
}

// --- the run --------------------------------------------------------------------------------

async function run() {
  const concurrencyFlag = CONCURRENCY_FLAG;
  const poolFlag = POOL_FLAG;
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  await checkPostgres();
  await checkRedis(redisUrl);
  const cleanupRedis = await connectRedis(redisUrl);
  const prefix = `rkbench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const loadBefore = loadavg();
  say(`bench:outreach — ${machine()}; ${MESSAGES.toLocaleString('en')} messages`);

  const smtp = await startSmtpSink();
  const rx = await startReceiver();
  const scratch = await scratchDatabase('outreach');
  let rt: Runtime | undefined;
  let jobs: JobsRuntime | undefined;
  let workers: Workers | undefined;
  try {
    const env: Record<string, string | undefined> = {
      DATABASE_URL: scratch.url,
      DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}${poolFlag ? `?maxConnections=${poolFlag}` : ''}`,
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: concurrencyFlag ? String(concurrencyFlag) : process.env.WORKER_CONCURRENCY,
      HOLDOUT_FRACTION: '0',
      QUIET_HOURS: 'off',
      FREQUENCY_CAP_DAYS: '0',
      OUTREACH_POLICY: 'tiers',
      // The receiver is on loopback: outbound webhooks to private addresses are refused unless allowed.
      WEBHOOK_ALLOW_PRIVATE: 'true',
      METRICS_ENABLED: 'false',
    };
    rt = await openRuntime({ requireMigrated: false, env });
    await migrate(rt.db);
    const tFill = performance.now();
    const data = await fill(rt.db, rx.url);
    say(`  data: ${data.users.toLocaleString('en')} users (${data.high} high, ${data.medium} medium, ${data.low} low) in ${seconds(performance.now() - tFill).toFixed(1)} s`);
    jobs = await openJobsRuntime(rt);
    const concurrency = rt.config.WORKER_CONCURRENCY;
    // mailer.ts opens its pool with 5 connections unless SMTP_URL says ?maxConnections=.
    const pool = poolFlag ?? 5;
    const inst = instrument(args.profile);
    workers = startWorkers({
      connection: jobs.redis,
      prefix,
      concurrency: { scoring: 1, delivery: concurrency },
      lockSeconds: rt.config.JOB_LOCK_SECONDS,
      handlers: inst.handlers,
      ctx: jobs.ctx,
      onDone: inst.onDone,
    });
    await Promise.all(workers.workers.map((w) => w.waitUntilReady()));

    // Planning: the outreach.plan handler's body, timed in two parts.
    const cycleId = `bench-${Date.now().toString(36)}`;
    const t0 = performance.now();
    const plan = await planOutreach(jobs.ctx, jobs.ctx.outreach, cycleId);
    const tPlanned = performance.now();
    smtp.expect = plan.toDeliver.length;
    const now = jobs.ctx.now().getTime();
    await enqueueEmails(jobs.queues, plan.toDeliver, now);
    await enqueueBulk(jobs.queues, 'webhook.deliver', plan.webhookDeliveries.map((id) => ({ data: { deliveryId: id }, opts: { jobId: jobId.webhook(id) } })));
    await rt.db.query(`update cycles set status = 'planned' where id = $1`, [cycleId]);
    const tEnqueued = performance.now();
    if (plan.paused) throw new BenchError('outreach is paused in the bench database: nothing was planned');
    if (plan.toDeliver.length !== MESSAGES) say(`  note: the planner planned ${plan.toDeliver.length} messages for ${MESSAGES} treated users (skipped: ${JSON.stringify(plan.skipped)})`);
    say(`  planned ${plan.toDeliver.length} emails + ${plan.webhookDeliveries.length} webhooks in ${seconds(tPlanned - t0).toFixed(2)} s; enqueued in ${seconds(tEnqueued - tPlanned).toFixed(2)} s; delivering…`);

    const emails = plan.toDeliver.length;
    const hooks = plan.webhookDeliveries.length;
    const db = rt.db;
    const queues = jobs.queues;
    const detail = async () => {
      const counts = await queues.delivery.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
      return `SMTP accepted ${smtp.accepted}/${emails}, webhooks ${rx.received}/${hooks}, delivery queue ${JSON.stringify(counts)}, email jobs failed ${inst.profile.email.failed}, webhook jobs failed ${inst.profile.webhook.failed}`;
    };
    let lastReport = performance.now();
    let lastCheck = performance.now();
    await waitUntil(
      'delivery',
      async () => {
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          say(`  … ${smtp.accepted}/${emails} emails, ${rx.received}/${hooks} webhooks`);
        }
        if (performance.now() - lastCheck > 1000) {
          // A row that ended failed or dead will never arrive: stop now rather than at the stall timeout.
          lastCheck = performance.now();
          const [bad] = await db.query<{ failed: number; dead: number }>(
            `select (select count(*) from outreach where cycle_id = $1 and state = 'failed')::int as failed, (select count(*) from webhook_deliveries where state = 'dead')::int as dead`,
            [cycleId],
          );
          if (bad!.failed || bad!.dead) {
            const [why] = await db.query<{ e: string | null; w: string | null }>(
              `select (select last_error from outreach where cycle_id = $1 and state = 'failed' limit 1) as e, (select last_error from webhook_deliveries where state = 'dead' limit 1) as w`,
              [cycleId],
            );
            throw new BenchError(`delivery: ${bad!.failed} outreach rows failed (${why?.e ?? '—'}), ${bad!.dead} webhook deliveries dead (${why?.w ?? '—'})`);
          }
        }
        return smtp.accepted >= emails && rx.received >= hooks;
      },
      () => smtp.accepted + rx.received,
      detail,
    );
    // The rows are marked after the server's 250: wait for the last marks to land.
    let settled = 0;
    await waitUntil(
      'marking rows sent/delivered',
      async () => {
        const [r] = await db.query<{ open: number }>(
          `select ((select count(*) from outreach where cycle_id = $1 and state in ('planned','sending')) + (select count(*) from webhook_deliveries where state = 'pending'))::int as open`,
          [cycleId],
        );
        settled = r!.open;
        return settled === 0;
      },
      () => settled,
      detail,
      10_000,
    );
    const tSettled = performance.now();
    await workers.close();
    workers = undefined;
    const rssMb = process.resourceUsage().maxRSS / 1024;
    const loadAfterRun = loadavg();
    const v = await verify(rt.db, cycleId, plan, smtp, rx);
    const connections = smtp.connections;
    const runEmailLastAt = smtp.lastAt;
    const p = inst.profile;
    const emailCpu = p.email.atFirstStart && smtp.atExpected ? cpuBetween(p.email.atFirstStart, smtp.atExpected, plan.toDeliver.length) : null;

    // Baseline, after the run: warm code, the same server, the same message count.
    say('  baseline: raw nodemailer pool…');
    const messages = prerender(emails, rt.config.SMTP_FROM);
    const ceiling = await rawPool(smtp, pool, messages, null);
    const capped = await rawPool(smtp, pool, messages, concurrency);

    // From the first email job's start to the server accepting the last message.
    const emailWall = seconds(runEmailLastAt - p.email.firstStart);
    const emailsPerS = emails / emailWall;
    const hookWall = seconds(rx.lastAt - p.webhook.firstStart);
    const result = {
      machine: machine(),
      cores: availableParallelism(),
      loadAverage: { before: loadBefore, afterRun: loadAfterRun },
      inputs: {
        messages: MESSAGES,
        users: data.users,
        tiers: { high: data.high, medium: data.medium, low: data.low },
        workerConcurrency: concurrency,
        smtpPoolConnections: pool,
        smtpConnectionsOpened: connections,
        databasePoolSize: rt.config.DATABASE_POOL_SIZE,
        holdoutFraction: rt.config.HOLDOUT_FRACTION,
        policy: rt.config.OUTREACH_POLICY,
        queuePrefix: prefix,
      },
      planning: { seconds: seconds(tPlanned - t0), rows: emails, rowsPerS: emails / seconds(tPlanned - t0), webhookRows: hooks, skipped: plan.skipped },
      enqueue: { seconds: seconds(tEnqueued - tPlanned), jobs: emails + hooks, jobsPerS: (emails + hooks) / seconds(tEnqueued - tPlanned) },
      emails: {
        sent: v.sentRows,
        seconds: emailWall,
        perS: emailsPerS,
        jobP50Ms: percentile(p.email.ms, 50),
        jobP99Ms: percentile(p.email.ms, 99),
        failedJobs: p.email.failed,
        cpu: emailCpu,
        profiled: args.profile,
        perEmail: { queries: p.email.queries / Math.max(1, emails), dbMs: p.email.dbMs / Math.max(1, emails), smtpMs: p.email.smtpMs / Math.max(1, emails) },
      },
      webhooks: {
        delivered: v.delivered,
        seconds: hookWall,
        perS: hooks / hookWall,
        jobP50Ms: percentile(p.webhook.ms, 50),
        jobP99Ms: percentile(p.webhook.ms, 99),
        failedJobs: p.webhook.failed,
        perWebhook: { queries: p.webhook.queries / Math.max(1, p.webhook.jobs), dbMs: p.webhook.dbMs / Math.max(1, p.webhook.jobs) },
      },
      endToEndSeconds: seconds(tSettled - t0),
      baseline: { ceiling, sameInFlight: { ...capped, inFlight: concurrency } },
      peakRssMb: rssMb,
      target: { emailsPerS: TARGET_EMAILS_PER_S, met: emailsPerS >= TARGET_EMAILS_PER_S },
      verification: v,
    };
    return result;
  } finally {
    await workers?.close().catch((e: unknown) => say(`  cleanup: closing workers failed: ${(e as Error).message}`));
    await jobs?.close().catch((e: unknown) => say(`  cleanup: closing queues failed: ${(e as Error).message}`));
    await rt?.close().catch((e: unknown) => say(`  cleanup: closing the database failed: ${(e as Error).message}`));
    await dropQueueKeys(cleanupRedis, prefix).catch((e: unknown) => say(`  cleanup: removing ${prefix}:* from Redis failed: ${(e as Error).message}`));
    cleanupRedis.disconnect();
    await smtp.close();
    await rx.close();
    await scratch.drop().catch((e: unknown) => say(`  cleanup: dropping the bench database failed: ${(e as Error).message}`));
  }
}

type BenchResult = Awaited<ReturnType<typeof run>>;

function print(r: BenchResult): void {
  if (args.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const i = r.inputs;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const s = (x: number) => `${x.toFixed(2)} s`;
  const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(0)}%`;
  console.log(`bench:outreach — ${r.machine}; cores (os.availableParallelism) ${r.cores}`);
  console.log(
    `${i.messages.toLocaleString('en')} messages requested; ${i.users.toLocaleString('en')} users (${i.tiers.high} high → coupon email, ${i.tiers.medium} medium → win-back email, ${i.tiers.low} low → skipped); policy ${i.policy}, holdout ${i.holdoutFraction}, quiet hours off, frequency cap off`,
  );
  console.log(
    `worker: delivery concurrency ${i.workerConcurrency} (WORKER_CONCURRENCY), SMTP pool ${i.smtpPoolConnections} connections (${i.smtpConnectionsOpened} opened), database pool ${i.databasePoolSize}; SMTP server, webhook receiver, workers and baseline share this process; PostgreSQL and Redis on the same machine`,
  );
  console.log(`load average before: ${load(r.loadAverage.before)}; after the run: ${load(r.loadAverage.afterRun)} (other work on this machine skews the figures)\n`);
  const c = r.baseline.ceiling;
  const b = r.baseline.sameInFlight;
  console.log(
    table([
      { phase: 'planOutreach (rows written, one transaction)', count: r.planning.rows, 'wall s': r.planning.seconds, 'per s': r.planning.rowsPerS, 'p50 ms': '', 'p99 ms': '', 'vs ceiling': '' },
      { phase: `enqueue (addBulk: ${r.planning.rows} emails + ${r.planning.webhookRows} webhooks)`, count: r.enqueue.jobs, 'wall s': r.enqueue.seconds, 'per s': r.enqueue.jobsPerS, 'p50 ms': '', 'p99 ms': '', 'vs ceiling': '' },
      { phase: 'rekindle emails: first send → last 250', count: r.emails.sent, 'wall s': r.emails.seconds, 'per s': r.emails.perS, 'p50 ms': r.emails.jobP50Ms, 'p99 ms': r.emails.jobP99Ms, 'vs ceiling': pct(r.emails.perS, c.perS) },
      { phase: 'rekindle webhooks: first job → last received', count: r.webhooks.delivered, 'wall s': r.webhooks.seconds, 'per s': r.webhooks.perS, 'p50 ms': r.webhooks.jobP50Ms, 'p99 ms': r.webhooks.jobP99Ms, 'vs ceiling': '' },
      { phase: 'baseline: raw nodemailer pool, all queued', count: r.planning.rows, 'wall s': c.seconds, 'per s': c.perS, 'p50 ms': '', 'p99 ms': '', 'vs ceiling': '100%' },
      { phase: `baseline: raw nodemailer pool, ${b.inFlight} in flight`, count: r.planning.rows, 'wall s': b.seconds, 'per s': b.perS, 'p50 ms': '', 'p99 ms': '', 'vs ceiling': pct(b.perS, c.perS) },
    ]),
  );
  console.log('(p50/p99: one job\'s handler time — claim, context query, render, SMTP send, mark; for emails a batch of up to 50 — from startWorkers\' onDone; not the time queued)');
  if (r.emails.profiled) {
    const e = r.emails.perEmail;
    const w = r.webhooks.perWebhook;
    console.log(`\nper email (--profile): ${e.queries.toFixed(1)} queries, ${e.dbMs.toFixed(2)} ms in the database, ${e.smtpMs.toFixed(2)} ms in mailer.send; per webhook: ${w.queries.toFixed(1)} queries, ${w.dbMs.toFixed(2)} ms in the database`);
  }
  const ec = r.emails.cpu;
  if (ec) {
    console.log(
      `CPU of this process per email: ${ec.processMsPerItem.toFixed(2)} ms (raw pool: ${c.cpu.processMsPerItem.toFixed(2)} ms all queued, ${b.cpu.processMsPerItem.toFixed(2)} ms with ${b.inFlight} in flight; both include the SMTP server's share); ` +
        `during the email window this process used ${(100 * ec.processCoreShare).toFixed(0)}% of one core and the machine ${(100 * ec.machineBusy).toFixed(0)}% of its ${r.cores} cores (raw pool: ${(100 * c.cpu.processCoreShare).toFixed(0)}% / ${(100 * c.cpu.machineBusy).toFixed(0)}%)`,
    );
  }
  console.log(`plan start → every row sent/delivered: ${s(r.endToEndSeconds)}; failed job attempts: ${r.emails.failedJobs} email, ${r.webhooks.failedJobs} webhook; peak RSS ${r.peakRssMb.toFixed(0)} MB (before the baseline)`);
  const v = r.verification;
  console.log(
    `verified: ${v.sentRows}/${v.outreachRows} rows sent, ${v.attemptsAboveOne} with more than one attempt; SMTP server accepted ${v.smtpAccepted} messages, ${v.distinctMessageIdsAtServer} distinct Message-IDs (${v.messageIdsMatchingRows} match rows); webhooks ${v.delivered}/${v.webhookRows} delivered, receiver got ${v.webhookRequests} requests, ${v.distinctWebhookIds} distinct webhook-ids${v.problems.length ? ` — PROBLEMS: ${v.problems.join('; ')}` : ' — ok'}`,
  );
  console.log(`\ntarget ≥ ${r.target.emailsPerS} emails/s through the pool: ${r.target.met ? 'met' : 'not met'} (${r.emails.perS.toFixed(0)} emails/s; ceiling ${c.perS.toFixed(0)}/s)`);
}

try {
  const r = await run();
  print(r);
  if (r.verification.problems.length) throw new BenchError(`verification failed:\n  ${r.verification.problems.join('\n  ')}`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`bench:outreach failed: ${e instanceof BenchError || e instanceof AppError ? e.message : ((e as Error).stack ?? String(e))}\n`);
  process.exit(1);
}
