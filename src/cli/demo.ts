/**
 * `rekindle demo`: from an empty folder to one whole retention cycle through the real BullMQ
 * workers — migrate, seed a platform, start the HTTP server and the workers in this process
 * (PGlite serves one process), run rescore → recommend → plan → deliver to the outbox folder
 * (or SMTP_URL) and to a local webhook receiver, backtest, and report what happened.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { jobId } from '../../jobs/catalog.js';
import { enqueue, cycleIdFor } from '../../jobs/enqueue.js';
import { handlers } from '../../jobs/handlers/index.js';
import { startWorkers } from '../../jobs/worker.js';
import { migrate } from '../db/migrate.js';
import { backtest, type BacktestResult } from '../services/backtest.js';
import type { CycleStatus } from '../services/cycle-status.js';
import { overview, type Overview } from '../services/demo-report.js';
import { modelSettings } from '../services/model-settings.js';
import { seedPlatform, type SeedResult } from '../services/seed.js';
import { followCycle } from './follow-cycle.js';
import { openJobsRuntime } from './jobs-runtime.js';
import { createProgress } from './progress.js';
import type { Runtime } from './runtime.js';
import { startHttp } from './server-runtime.js';

export interface DemoReport {
  seconds: number;
  /** The end of the seeded history: the demo's "today". */
  end: string;
  database: string;
  seeded: SeedResult;
  overview: Overview;
  cycle: CycleStatus;
  backtest: BacktestResult;
  quietHours: string;
  emails: { written: number; outbox: string | null; example: string | null; smtp: string | null };
  webhooks: { received: number; receiver: string };
  http: string;
}

const DEMO_SECRET = 'whsec_ZGVtby1yZWNlaXZlci1zZWNyZXQtZGVtbw==';

/** A stand-in for the product's webhook endpoint: counts what it receives. */
export async function startReceiver(): Promise<{ url: string; received: () => number; close(): Promise<void> }> {
  let received = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/rekindle-webhooks`, received: () => received, close: () => new Promise((r) => server.close(() => r())) };
}

export async function runDemo(base: Runtime, o: { users: number; seed: number; quietHoursFromEnv: boolean; say: (line: string) => void; end?: Date; now?: () => Date }): Promise<DemoReport> {
  const t0 = performance.now();
  const say = o.say;
  // Quiet hours would hold back most of a demo's mail (most users are in one time zone); off unless set.
  const quietHours = o.quietHoursFromEnv ? base.config.QUIET_HOURS : 'off';
  const rt: Runtime = { ...base, config: { ...base.config, QUIET_HOURS: quietHours, WEBHOOK_ALLOW_PRIVATE: true } }; // its receiver is on loopback
  say(`database: ${rt.db.kind === 'pglite' ? `embedded PGlite in ${resolve(rt.config.PGLITE_DIR)}` : 'PostgreSQL (DATABASE_URL)'}`);
  await migrate(rt.db);
  const jobs = await openJobsRuntime(rt, o.now ? { now: o.now } : {});
  const receiver = await startReceiver();
  const http = await startHttp(rt, { port: 0, host: '127.0.0.1', metrics: undefined });
  jobs.ctx.outreach.publicBaseUrl = http.url;
  const workers = startWorkers({ connection: jobs.redis, prefix: rt.config.QUEUE_PREFIX, concurrency: { scoring: 1, delivery: 8 }, handlers, ctx: jobs.ctx, onDone: http.metrics.onJobDone });
  try {
    const end = o.end ?? new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
    const progress = createProgress();
    const seeded = await seedPlatform(rt, { users: o.users, seed: o.seed, end, onProgress: (u, e) => progress.update(u, o.users, `seeding (${e} events)`) });
    progress.stop();
    // The demo's receiver: one endpoint row, pointed at this run's port.
    await rt.db.query(`delete from webhook_endpoints where description = 'demo receiver'`);
    await rt.db.query(`insert into webhook_endpoints (url, secret, event_types, description) values ($1, $2, '{}', 'demo receiver')`, [receiver.url, DEMO_SECRET]);
    const cycleId = cycleIdFor(new Date(), randomBytes(2).toString('hex'));
    // Scored as of the end of the seeded history, not the wall clock: a rerun the same day
    // scores every user exactly as before (events near a 30/90/180-day edge would otherwise
    // move a few users between tiers in the seconds between two runs).
    await enqueue(jobs.queues, 'cycle.start', { cycleId, asOf: end.toISOString() }, { jobId: jobId.cycle(cycleId) });
    const cycle = await followCycle(rt.db, jobs.queues, cycleId, 170_000, say);
    say('backtesting…');
    const bt = await backtest(rt, modelSettings(rt.config), { cutoff: new Date(end.getTime() - rt.config.CHURN_HORIZON_DAYS * 86_400_000), k: 10 });
    const ov = await overview(rt.db);
    const outbox = rt.config.SMTP_URL ? null : resolve(rt.config.OUTBOX_DIR);
    const files = outbox ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : [];
    const [example] = await rt.db.query<{ message_id: string }>(`select message_id from outreach where cycle_id = $1 and state = 'sent' order by id limit 1`, [cycleId]);
    const exampleFile = outbox && example ? files.find((f) => f.includes(example.message_id.replace(/[<>]/g, ''))) : undefined;
    return {
      seconds: (performance.now() - t0) / 1000,
      end: end.toISOString(),
      database: rt.db.kind,
      seeded,
      overview: ov,
      cycle,
      backtest: bt,
      quietHours,
      emails: { written: cycle.outreach.sent, outbox, example: exampleFile && outbox ? join(outbox, exampleFile) : null, smtp: rt.config.SMTP_URL ? rt.config.SMTP_URL.replace(/\/\/[^@]*@/, '//') : null },
      webhooks: { received: receiver.received(), receiver: receiver.url },
      http: http.url,
    };
  } finally {
    await workers.close();
    await http.close();
    await receiver.close();
    await jobs.close();
  }
}

export function printDemo(r: DemoReport, out: (s: string) => void): void {
  const pct = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
  const ov = r.overview;
  out('');
  out(`Rekindle demo — done in ${r.seconds.toFixed(1)} s (${r.database === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'})`);
  out(`Data: ${ov.users} users, ${ov.items} items, ${ov.events} events (${r.seeded.inserted} new this run)`);
  out(`Model quality (backtest at ${r.backtest.cutoff.slice(0, 10)}, ${r.backtest.horizonDays}-day horizon, ${r.backtest.churn.n} paying users):`);
  if (r.backtest.churn.fallback) out(`  churn: RFM rules, not enough data to train (${r.backtest.churn.fallback})`);
  out(`  churn ROC-AUC ${pct(r.backtest.churn.auc)} vs recency-only ${pct(r.backtest.churn.baselineAuc)}; PR-AUC ${pct(r.backtest.churn.prAuc)}; Brier ${pct(r.backtest.churn.brier)}`);
  out(`  recommendations NDCG@10 ${pct(r.backtest.recommend.ndcg)} vs popularity ${pct(r.backtest.recommend.popularity.ndcg)}`);
  out(`Risk tiers (${ov.payers} paying users): high ${ov.tiers.high ?? 0} → coupon, medium ${ov.tiers.medium ?? 0} → email, low ${ov.tiers.low ?? 0} → nothing`);
  out(`Segments: ${ov.segments.map((x) => `${x.segment} ${x.users}`).join(', ')}`);
  out(`Cycle ${r.cycle.cycleId}: ${r.cycle.planned ?? 0} planned, ${r.cycle.holdout ?? 0} held out to measure uplift, ${r.cycle.outreach.sent} sent, ${r.cycle.outreach.failed} failed${r.cycle.outreach.delayed ? `, ${r.cycle.outreach.delayed} waiting for quiet hours to end` : ''} (quiet hours: ${r.quietHours})`);
  if (r.cycle.policy) out(`  offers chosen by ${r.cycle.policy === 'uplift' ? 'the uplift model and the value policy' : 'the risk tiers'}${r.cycle.policyFallback ? ` — ${r.cycle.policyFallback}` : ''}`);
  const skipped = Object.entries(r.cycle.skipped).filter(([, n]) => n > 0);
  if (skipped.length) out(`  left out by the policy: ${skipped.map(([k, n]) => `${k.replace('_', ' ')} ${n}`).join(', ')}${r.cycle.skipped.frequency_cap ? ' (contacted by an earlier run less than FREQUENCY_CAP_DAYS ago)' : ''}`);
  out(`Emails written this run: ${r.emails.written}${r.emails.outbox ? ` to ${r.emails.outbox}` : ` via ${r.emails.smtp}`}`);
  if (r.emails.example) out(`  open one: ${r.emails.example}`);
  out(`Webhooks delivered to the local receiver: ${r.webhooks.received} (coupon.issued, outreach.planned, user.risk_changed)`);
  out('Next:');
  out('  npx rekindle backtest --cutoff <date>     how far to trust the scores on your own data');
  out('  npx rekindle report campaigns             treated vs holdout once conversions come in');
  out('  npx rekindle serve / npx rekindle worker  the HTTP server and the job workers, as separate processes');
}
