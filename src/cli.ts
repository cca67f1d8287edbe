/**
 * The one CLI: `rekindle <command>`. Adapters only: parse flags, open what the command
 * needs, call a service, print. Exit status 0 on success, 1 on failure, 2 on bad usage.
 */
import { randomBytes } from 'node:crypto';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { AppError, ValidationError } from './domain/errors.js';
import { configWarnings, isExplicit } from './config.js';
import { say, setConsoleOptions } from './cli/console.js';
import { createProgress } from './cli/progress.js';
import { openRuntime } from './cli/runtime.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/**
 * Command modules load when their command runs, not at start-up: `import` should not pay for
 * Slack, BullMQ and the models (bench:import measures the importer's peak RSS).
 */
const load = {
  migrate: () => import('./db/migrate.js'),
  importer: () => import('./services/import.js'),
  backtest: () => import('./services/backtest.js'),
  settings: () => import('./services/model-settings.js'),
  recommend: () => import('./services/recommend.js'),
  rescore: () => import('./services/rescore.js'),
  seed: () => import('./services/seed.js'),
  campaigns: () => import('./services/campaign-report.js'),
  jobs: async () => ({
    ...(await import('../jobs/catalog.js')),
    ...(await import('../jobs/enqueue.js')),
    ...(await import('../jobs/handlers/index.js')),
    ...(await import('../jobs/schedules.js')),
    ...(await import('../jobs/worker.js')),
    ...(await import('./cli/jobs-runtime.js')),
    ...(await import('./cli/follow-cycle.js')),
  }),
};

function positiveInt(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

const program = new Command('rekindle')
  .description('Retention engine for knowledge-paid platforms: personas, churn risk, recommendations, tiered outreach.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

// Console: --quiet/--verbose on every command; serve and worker log JSON (src/cli/console.ts).
program
  .option('-q, --quiet', 'errors only: no progress lines, no warnings')
  .option('-v, --verbose', 'info log lines too (on a terminal only warnings are shown by default)')
  .configureHelp({ showGlobalOptions: true })
  .hook('preAction', (_program, command) => {
    const g = program.opts<{ quiet?: boolean; verbose?: boolean }>();
    if (g.quiet && g.verbose) program.error('error: --quiet and --verbose cannot be used together', { exitCode: 2 });
    setConsoleOptions({ quiet: Boolean(g.quiet), verbose: Boolean(g.verbose), service: command.name() === 'serve' || command.name() === 'worker' });
  });

program
  .command('migrate')
  .description('apply pending database migrations (PostgreSQL at DATABASE_URL, else embedded PGlite)')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const { migrate } = await load.migrate();
    const rt = await openRuntime({ requireMigrated: false });
    try {
      const r = await migrate(rt.db);
      out(o.json ? JSON.stringify({ ...r, database: rt.db.kind }) : `migrations: ${r.applied}/${r.total} applied (${rt.db.kind})`);
    } finally {
      await rt.close();
    }
  });

program
  .command('serve')
  .description('run the HTTP server: signed event webhooks, unsubscribe, health, metrics, the queue dashboard, the Slack bot')
  .action(async () => {
    const { startHttp } = await import('./cli/server-runtime.js');
    const rt = await openRuntime({ requireMigrated: true });
    const http = await startHttp(rt);
    rt.log.info({ url: http.url, host: rt.config.HOST, database: rt.db.kind }, 'serving');
    const stop = async (signal: string) => {
      rt.log.info({ signal }, 'shutting down');
      await http.close();
      await rt.close();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });

program
  .command('import')
  .description('import CSV or NDJSON exports and past campaigns (formats in the README); idempotent, streaming')
  .option('--events <file>', 'events.csv / .ndjson')
  .option('--items <file>', 'items.csv / .ndjson')
  .option('--users <file>', 'users.csv / .ndjson')
  .option('--outreach <file>', 'outreach.csv / .ndjson: past campaigns (treated and holdout), written after the events')
  .option('--source <name>', 'source name the event ids are unique within', 'default')
  .option('--strict', 'validate everything first; write nothing if any row is bad')
  .option('--timezone <zone>', 'IANA time zone for timestamps without an offset (e.g. Europe/London); without it they are bad rows')
  .option('--json', 'machine-readable report')
  .action(async (o: { events?: string; items?: string; users?: string; outreach?: string; source: string; strict?: boolean; timezone?: string; json?: boolean }) => {
    const { importFiles } = await load.importer();
    const rt = await openRuntime({ requireMigrated: true });
    const progress = createProgress();
    try {
      const report = await importFiles(rt, {
        ...o,
        onProgress: (p) => progress.update(p.bytes, p.totalBytes, `${p.phase === 'validate' ? 'checking' : 'importing'} ${p.file} (${p.rows} rows)`),
      });
      progress.stop();
      if (o.json) out(JSON.stringify(report));
      else {
        for (const f of report.files) out(`${f.file}: ${f.rows} rows, ${f.valid} valid, ${f.bad} bad${f.kind === 'events' ? `, ${f.inserted} new events, ${f.duplicates} already stored` : f.kind === 'outreach' ? `, ${f.inserted} new outreach rows, ${f.duplicates} already stored` : ''}`);
        for (const b of report.badRows) out(`  ${b.file}:${b.line}: ${b.field}: ${b.message}`);
        if (report.badTotal > report.badRows.length) out(`  … and ${report.badTotal - report.badRows.length} more bad rows`);
        if (!report.written) out('nothing was written (--strict and a bad row was found)');
      }
      if (!report.written) process.exitCode = 1;
    } finally {
      progress.stop();
      await rt.close();
    }
  });

function isoDate(name: string) {
  return (v: string) => {
    if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(v) || Number.isNaN(Date.parse(v))) throw new InvalidArgumentError(`${name} must be a date like 2026-01-31`);
    return new Date(v.length === 10 ? `${v}T00:00:00Z` : v);
  };
}

function days(v: string): number {
  const m = /^(\d+)d?$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 3650) throw new InvalidArgumentError('horizon must be a number of days such as 90d');
  return Number(m[1]);
}

const pct = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? (v >= 0 ? ' ' : '') + v.toFixed(3) : '  n/a');

program
  .command('seed')
  .description('generate a synthetic knowledge-paid platform (deterministic for a seed) and write it like an import')
  .option('--users <n>', 'number of users', positiveInt('--users'), 10_000)
  .option('--seed <s>', 'random seed', positiveInt('--seed'), 1)
  .option('--end <date>', 'the platform\'s "today" (default: today, UTC midnight)', isoDate('--end'))
  .option('--json', 'machine-readable output')
  .action(async (o: { users: number; seed: number; end?: Date; json?: boolean }) => {
    const { seedPlatform } = await load.seed();
    const rt = await openRuntime({ requireMigrated: true });
    const progress = createProgress();
    try {
      const end = o.end ?? new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
      const t0 = performance.now();
      const r = await seedPlatform(rt, { users: o.users, seed: o.seed, end, onProgress: (u, e) => progress.update(u, o.users, `seeding (${e} events)`) });
      progress.stop();
      const seconds = (performance.now() - t0) / 1000;
      out(o.json ? JSON.stringify({ ...r, seconds }) : `seeded ${r.users} users, ${r.items} items, ${r.events} events (${r.inserted} new) in ${seconds.toFixed(1)} s`);
    } finally {
      progress.stop();
      await rt.close();
    }
  });

program
  .command('rescore')
  .description('fit the models and score every paying user (churn risk, P(alive), RFM segment, persona), then recommend')
  .option('--no-recommend', 'skip the recommendation run')
  .option('--json', 'machine-readable output')
  .action(async (o: { recommend: boolean; json?: boolean }) => {
    const [{ modelSettings }, { rescore }, { recommendAll }] = await Promise.all([load.settings(), load.rescore(), load.recommend()]);
    const rt = await openRuntime({ requireMigrated: true });
    const progress = createProgress();
    try {
      const s = modelSettings(rt.config);
      const deps = { ...rt, now: () => new Date() };
      const scored = await rescore(deps, s, { onProgress: (n) => progress.update(n, n, 'scoring') });
      const recs = o.recommend ? await recommendAll(deps, s, { onProgress: (n) => progress.update(n, n, 'recommending') }) : null;
      progress.stop();
      if (o.json) out(JSON.stringify({ rescore: scored, recommend: recs }));
      else {
        out(`model run ${scored.modelRunId}: scored ${scored.scored} users with ${scored.model === 'logistic' ? 'the churn model' : 'RFM rules'}${scored.fallback ? ` (${scored.fallback})` : ''}`);
        if (recs) out(`model run ${recs.modelRunId}: ${recs.recommendations} recommendations for ${recs.users} users`);
      }
    } finally {
      progress.stop();
      await rt.close();
    }
  });

program
  .command('backtest')
  .description('train as of a cutoff and evaluate churn, repeat purchase and recommendations on the window after it; --uplift: the uplift model on settled outreach')
  .option('--cutoff <date>', 'the cutoff date, e.g. 2026-06-01 (required unless --uplift)', isoDate('--cutoff'))
  .option('--horizon <days>', 'churn horizon, e.g. 90d', days, undefined)
  .option('--k <n>', 'recommendations per user', positiveInt('--k'), 10)
  .option('--uplift', 'fit and evaluate the uplift model on the settled outreach (users split 70/30 by a hash of the id)')
  .option('--campaign <name>', 'with --uplift: only this campaign\'s outreach')
  .option('--outcome <outcome>', 'with --uplift: purchase (a purchase or renewal in the window) or engagement (any event)', (v: string) => {
    if (v !== 'purchase' && v !== 'engagement') throw new InvalidArgumentError('--outcome must be purchase or engagement');
    return v;
  }, 'purchase')
  .option('--json', 'one JSON object')
  .action(async (o: { cutoff?: Date; horizon?: number; k: number; uplift?: boolean; campaign?: string; outcome: 'purchase' | 'engagement'; json?: boolean }) => {
    if (o.uplift) {
      const { backtestUplift } = await import('./services/uplift.js');
      const rt = await openRuntime({ requireMigrated: true });
      try {
        const r = await backtestUplift(rt.db, { campaign: o.campaign, outcome: o.outcome });
        if (o.json) {
          out(JSON.stringify(r));
          return;
        }
        out(`Uplift backtest on settled outreach${r.campaign ? ` of campaign ${r.campaign}` : ''}, outcome: ${r.outcome} (test users: 30% by a hash of the id)`);
        out('');
        out('offer    learner                Qini    AUUC   uplift@10%  @30%    @50%    random Qini  risk Qini   train/test  treated/holdout rate');
        for (const [offer, m] of Object.entries(r.uplift)) {
          if (!m) continue;
          out(`${offer.padEnd(8)} ${m.learner.padEnd(21)} ${num(m.qini)}  ${num(m.auuc)}  ${pct(m.upliftAt['0.1'])}      ${pct(m.upliftAt['0.3'])}  ${pct(m.upliftAt['0.5'])}  ${num(m.random.qini)}       ${num(m.risk.qini)}      ${m.nTrain}/${m.nTest}   ${pct(m.treatedRate)}/${pct(m.holdoutRate)}`);
        }
        for (const [offer, why] of Object.entries(r.skipped)) out(`${offer.padEnd(8)} not evaluated: ${why}`);
        out('');
        out('Qini and AUUC are normalised as scikit-uplift does: (model − random) / (perfect − random); 0 is random, 1 the ideal ranking.');
      } finally {
        await rt.close();
      }
      return;
    }
    if (!o.cutoff) throw new ValidationError('backtest needs --cutoff <date> (or --uplift for the uplift model)');
    const cutoff = o.cutoff;
    const [{ modelSettings }, { backtest }] = await Promise.all([load.settings(), load.backtest()]);
    const rt = await openRuntime({ requireMigrated: true });
    try {
      const s = modelSettings(rt.config);
      const r = await backtest(rt, s, { cutoff, horizonDays: o.horizon, k: o.k });
      if (o.json) {
        out(JSON.stringify(r));
        return;
      }
      out(`Backtest at ${r.cutoff.slice(0, 10)}, horizon ${r.horizonDays} days`);
      out('');
      out(`Churn (${r.churn.n} users who had bought, ${r.churn.positives} churned, base rate ${pct(r.churn.baseRate)})`);
      if (r.churn.fallback) out(`  model: RFM rules — not enough data to train: ${r.churn.fallback}`);
      out(`                 ROC-AUC  PR-AUC   Brier`);
      out(`  ${r.churn.model === 'logistic' ? 'churn model ' : 'RFM rules   '}   ${pct(r.churn.auc)}    ${pct(r.churn.prAuc)}    ${pct(r.churn.brier)}`);
      out(`  recency only   ${pct(r.churn.baselineAuc)}    ${pct(r.churn.baselinePrAuc)}    ${pct(r.churn.baselineBrier)}`);
      out('');
      out(`Repeat purchase (BG/NBD on ${r.btyd.users} users)`);
      if (r.btyd.params) out(`  r=${r.btyd.params.r.toFixed(3)} alpha=${r.btyd.params.alpha.toFixed(3)} a=${r.btyd.params.a.toFixed(3)} b=${r.btyd.params.b.toFixed(3)}`);
      out(`  predicted purchase days ${r.btyd.predictedPurchases.toFixed(0)}, actual ${r.btyd.actualPurchases}`);
      out('');
      out(`Recommendations @${r.recommend.k} (${r.recommend.users} users who bought something new)`);
      out(`                 precision  recall   NDCG`);
      out(`  recommender     ${pct(r.recommend.precision)}     ${pct(r.recommend.recall)}    ${pct(r.recommend.ndcg)}   coverage ${pct(r.recommend.coverage)}`);
      out(`  popularity      ${pct(r.recommend.popularity.precision)}     ${pct(r.recommend.popularity.recall)}    ${pct(r.recommend.popularity.ndcg)}`);
    } finally {
      await rt.close();
    }
  });

program
  .command('worker')
  .description('run the job workers (scoring and delivery) and keep the schedules; stops gracefully on SIGTERM/SIGINT')
  .option('--concurrency <n>', 'delivery jobs at once (default WORKER_CONCURRENCY)', positiveInt('--concurrency'))
  .option('--no-schedules', 'do not create or update the job schedulers')
  .action(async (o: { concurrency?: number; schedules: boolean }) => {
    const { openJobsRuntime, upsertSchedules, startWorkers, handlers } = await load.jobs();
    const rt = await openRuntime({ requireMigrated: true });
    const jobs = await openJobsRuntime(rt);
    if (o.schedules) {
      await upsertSchedules(jobs.queues, { rescoreCron: rt.config.RESCORE_CRON, recommendCron: rt.config.RECOMMEND_CRON, sweepCron: rt.config.SWEEP_CRON, settleCron: rt.config.SETTLE_CRON, tz: rt.config.SCHEDULE_TZ });
    }
    const { createMetrics, startMetricsServer } = await import('./http/metrics.js');
    for (const warning of configWarnings(rt.config)) rt.log.warn(warning);
    const metrics = createMetrics(rt.db);
    // Metrics bind to METRICS_HOST (loopback by default), never HOST, and take METRICS_TOKEN like serve's.
    const metricsServer =
      rt.config.METRICS_ENABLED && rt.config.WORKER_METRICS_PORT > 0
        ? await startMetricsServer(metrics, { host: rt.config.METRICS_HOST, port: rt.config.WORKER_METRICS_PORT, token: rt.config.METRICS_TOKEN })
        : null;
    const workers = startWorkers({
      connection: jobs.redis,
      prefix: rt.config.QUEUE_PREFIX,
      concurrency: { scoring: 1, delivery: o.concurrency ?? rt.config.WORKER_CONCURRENCY },
      lockSeconds: rt.config.JOB_LOCK_SECONDS,
      handlers,
      ctx: jobs.ctx,
      onDone: metrics.onJobDone,
    });
    rt.log.info({ concurrency: o.concurrency ?? rt.config.WORKER_CONCURRENCY, database: rt.db.kind }, 'worker ready');
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      rt.log.info({ signal }, 'worker stopping: finishing active jobs');
      metricsServer?.close();
      await workers.close();
      await jobs.close();
      await rt.close();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });

program
  .command('cycle')
  .description('enqueue one whole cycle now: rescore → recommend → plan outreach → deliver (workers run it)')
  .option('--wait', 'follow the cycle to the end, with progress')
  .option('--timeout <seconds>', 'give up waiting after this long', positiveInt('--timeout'), 1800)
  .option('--json', 'machine-readable status at the end')
  .action(async (o: { wait?: boolean; timeout: number; json?: boolean }) => {
    const { openJobsRuntime, cycleIdFor, enqueue, jobId, followCycle } = await load.jobs();
    const rt = await openRuntime({ requireMigrated: true });
    const jobs = await openJobsRuntime(rt);
    try {
      const cycleId = cycleIdFor(new Date(), randomBytes(2).toString('hex'));
      await enqueue(jobs.queues, 'cycle.start', { cycleId }, { jobId: jobId.cycle(cycleId) });
      if (!o.wait) {
        out(o.json ? JSON.stringify({ cycleId, enqueued: true }) : `cycle ${cycleId} enqueued; workers will run it (\`rekindle worker\`)`);
        return;
      }
      const status = await followCycle(rt.db, jobs.queues, cycleId, o.timeout * 1000, o.json ? () => {} : say);
      out(o.json ? JSON.stringify(status) : `cycle ${cycleId}: ${status.scored} scored, ${status.planned ?? 0} planned (+${status.holdout ?? 0} holdout), ${status.outreach.sent} sent, ${status.outreach.failed} failed, ${status.outreach.delayed} waiting for quiet hours to end; webhooks ${status.webhooks.delivered} delivered, ${status.webhooks.dead} dead`);
      if (!o.json && status.policy) out(`offers chosen by ${status.policy === 'uplift' ? 'the uplift model and the value policy' : 'the risk tiers'}${status.policyFallback ? ` — ${status.policyFallback}` : ''}`);
    } finally {
      await jobs.close();
      await rt.close();
    }
  });

const report = program.command('report').description('reports for the growth team');
report
  .command('campaigns')
  .description('settled outcomes, treated vs holdout: uplift, incremental conversions and revenue, coupon cost, net revenue and ROI with 95% intervals, per offer, tier and cycle')
  .option('--since <date>', 'outcomes whose window started on or after this date (default: all)', isoDate('--since'))
  .option('--cycles <n>', 'cycles in the trend', positiveInt('--cycles'), 8)
  .option('--json', 'one JSON object')
  .action(async (o: { since?: Date; cycles: number; json?: boolean }) => {
    const { campaignReport } = await load.campaigns();
    const rt = await openRuntime({ requireMigrated: true });
    try {
      const currency = rt.config.COUPON_CURRENCY;
      const r = await campaignReport(rt.db, { since: o.since, cycles: o.cycles, windowDays: rt.config.CONVERSION_WINDOW_DAYS, now: new Date(), currency });
      if (o.json) {
        out(JSON.stringify(r));
        return;
      }
      // Money in major units of the currency (0 decimals for JPY, 2 for CNY…).
      const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
      const money = (minor: number | null) => (minor === null ? '-' : (minor / 10 ** digits).toFixed(digits));
      const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
      const est = (value: number | null, ci: [number, number] | null, f: (x: number) => string) =>
        value === null ? '-' : `${f(value)} ${ci ? `[${f(ci[0])}, ${f(ci[1])}]` : '[n/a]'}`;
      const table = (rows: string[][]) => {
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
        for (const row of rows) out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
      };
      type Seg = typeof r.overall;
      const arm = (a: Seg['treated']) => `${a.n} (${pct(a.conversionRate)})`;
      const line = (s: Seg) => [
        s.offer,
        s.tier,
        arm(s.treated),
        arm(s.holdout),
        est(s.uplift, s.upliftCi, (x) => (100 * x).toFixed(1)),
        est(s.incrementalConversions, s.incrementalConversionsCi, (x) => x.toFixed(1)),
        est(s.incrementalRevenueMinor, s.incrementalRevenueCi, money),
        money(s.couponCostMinor),
        est(s.netIncrementalRevenueMinor, s.netIncrementalRevenueCi, money),
        s.roi === null ? '-' : s.roi.toFixed(2),
        `${pct(s.treated.clickRate)} / ${pct(s.holdout.clickRate)}`,
        `${pct(s.treated.unsubscribeRate)} / ${pct(s.holdout.unsubscribeRate)}`,
        s.coupons.issued ? `${s.coupons.redeemed}/${s.coupons.issued}` : '-',
      ];
      out(`Campaign outcomes, windows starting ${r.since ? `on or after ${r.since.slice(0, 10)}` : 'at any time'} (conversion: a purchase or renewal within ${r.windowDays} days); money in ${currency}`);
      const open =
        r.unsettledWindowOpen === null || r.unsettled === 0
          ? ''
          : `: ${r.unsettledWindowOpen} with the window still open${r.nextWindowCloseAt ? ` (the next closes ${r.nextWindowCloseAt.slice(0, 16).replace('T', ' ')} UTC)` : ''}, ${r.unsettledDue} waiting for the next settle run`;
      out(`${r.settled} outreach rows settled; ${r.unsettled} not settled yet${open}.`);
      if (r.settled === 0) return;
      out('Intervals are 95%, by user (a user has a row per cycle); treated = assigned an offer, sent or not; net = gross − coupon cost.');
      out('');
      table([
        ['offer', 'tier', 'treated (conv.)', 'holdout (conv.)', 'uplift pp [95% CI]', 'incr. conversions', 'incr. gross revenue', 'coupon cost', 'net incr. revenue', 'ROI', 'clicks t/h', 'unsubscribed t/h', 'coupons redeemed'],
        ...r.offerTiers.map(line),
        ...r.offers.map(line),
        ...r.tiers.map(line),
        line(r.overall),
      ]);
      out('');
      out(`Trend (the last ${r.trend.length} cycles)`);
      table([
        ['cycle', 'window start', 'treated', 'holdout', 'net incr. revenue [95% CI]', 'coupon cost', 'ROI'],
        ...r.trend.map((c) => [c.cycleId, c.windowStart.slice(0, 10), String(c.treated), String(c.holdout), est(c.netIncrementalRevenueMinor, c.netIncrementalRevenueCi, money), money(c.couponCostMinor), c.roi === null ? '-' : c.roi.toFixed(2)]),
      ]);
    } finally {
      await rt.close();
    }
  });

const webhooks = program.command('webhooks').description('outbound webhook endpoints and their delivery log');
webhooks
  .command('add')
  .description('register an endpoint (prints its signing secret once)')
  .requiredOption('--url <url>', 'where to POST, http(s)')
  .option('--events <list>', 'comma-separated: outreach.planned, coupon.issued, user.risk_changed (default: all)')
  .option('--secret <whsec>', 'a whsec_ secret of your own (default: a new random one)')
  .option('--description <text>', 'a note for humans')
  .option('--json', 'machine-readable output')
  .action(async (o: { url: string; events?: string; secret?: string; description?: string; json?: boolean }) => {
    const { addEndpoint } = await import('./services/webhook-endpoints.js');
    const rt = await openRuntime({ requireMigrated: true });
    try {
      // A private, loopback or link-local target is refused here unless WEBHOOK_ALLOW_PRIVATE (it would be dead-lettered anyway).
      const r = await addEndpoint(
        rt.db,
        { url: o.url, events: o.events ? o.events.split(',').map((e) => e.trim()).filter(Boolean) : [], secret: o.secret, description: o.description },
        { allowPrivate: rt.config.WEBHOOK_ALLOW_PRIVATE },
      );
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      out(o.json ? JSON.stringify(r) : `endpoint ${r.id} added; its signing secret (shown once): ${r.secret}`);
    } finally {
      await rt.close();
    }
  });
webhooks
  .command('list')
  .description('endpoints with pending, delivered and dead-lettered counts')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const { listEndpoints } = await import('./services/webhook-endpoints.js');
    const rt = await openRuntime({ requireMigrated: true });
    try {
      const list = await listEndpoints(rt.db);
      if (o.json) out(JSON.stringify(list));
      else for (const e of list) out(`${e.id}\t${e.enabled ? 'on ' : 'off'}\t${e.url}\t${e.events.length ? e.events.join(',') : 'all events'}\tpending ${e.pending}, delivered ${e.delivered}, dead ${e.dead}`);
    } finally {
      await rt.close();
    }
  });
webhooks
  .command('log')
  .description('the newest deliveries with every attempt: status codes, timings, errors')
  .option('--dead', 'only dead-lettered deliveries')
  .option('--limit <n>', 'how many', positiveInt('--limit'), 20)
  .option('--json', 'machine-readable output')
  .action(async (o: { dead?: boolean; limit: number; json?: boolean }) => {
    const { deliveryLog } = await import('./services/webhook-endpoints.js');
    const rt = await openRuntime({ requireMigrated: true });
    try {
      const log = await deliveryLog(rt.db, { dead: o.dead, limit: o.limit });
      if (o.json) out(JSON.stringify(log));
      else
        for (const d of log)
          out(`${d.deliveryId}\t${d.state}\t${d.eventType}\t${d.messageId}\t${d.attempts.map((a) => `#${a.attempt} ${a.status ?? 'error'} ${a.durationMs}ms${a.error ? ` (${a.error})` : ''}`).join(', ') || 'no attempt yet'}`);
    } finally {
      await rt.close();
    }
  });
webhooks
  .command('retry <deliveryId>')
  .description('re-open a dead-lettered delivery; workers send it again')
  .action(async (id: string) => {
    const { retryDelivery } = await import('./services/webhook-endpoints.js');
    const n = positiveInt('deliveryId')(id);
    const rt = await openRuntime({ requireMigrated: true });
    try {
      await retryDelivery(rt.db, n);
      out(`delivery ${n} is pending again`);
    } finally {
      await rt.close();
    }
  });
// Rotating an endpoint's secret: add the endpoint again with the new secret, then disable the old one (README "Security").
for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
  webhooks
    .command(`${name} <endpointId>`)
    .description(enabled ? 'send new events to this endpoint again' : 'send no new events to this endpoint (deliveries already queued still go out)')
    .action(async (id: string) => {
      const { setEndpointEnabled } = await import('./services/webhook-endpoints.js');
      const n = positiveInt('endpointId')(id);
      const rt = await openRuntime({ requireMigrated: true });
      try {
        await setEndpointEnabled(rt.db, n, enabled);
        out(`endpoint ${n} ${enabled ? 'enabled' : 'disabled'}`);
      } finally {
        await rt.close();
      }
    });
}

program
  .command('demo')
  .description('set up and run one whole cycle on a synthetic platform through the real workers, then report; --days N then simulates N days of the loop')
  .option('--users <n>', 'users to seed', positiveInt('--users'), 5_000)
  .option('--seed <s>', 'random seed', positiveInt('--seed'), 1)
  .option('--days <n>', 'after the demo, simulate this many days of the retention loop (see simulate)', (v: string) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError('--days must be a whole number of days');
    return Number(v);
  }, 0)
  .option('--json', 'machine-readable report')
  .action(async (o: { users: number; seed: number; days: number; json?: boolean }) => {
    const [{ runDemo, printDemo }, { ensureDemoRedis }] = await Promise.all([import('./cli/demo.js'), import('./cli/demo-redis.js')]);
    const tell = o.json ? () => {} : say;
    // Redis first (the one at REDIS_URL, or a private one): a missing Redis fails before anything is written.
    const redis = await ensureDemoRedis(process.env, tell);
    const rt = await openRuntime({ requireMigrated: false, env: redis.env }).catch(async (e: unknown) => {
      await redis.stop();
      throw e;
    });
    try {
      // With --days the seeded history ends that many days ago, so the simulated days end today.
      const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
      const end = new Date(today.getTime() - o.days * 86_400_000);
      // Its cycle then runs at the end of that history, where the simulation picks it up.
      const report = await runDemo(rt, { users: o.users, seed: o.seed, quietHoursFromEnv: isExplicit(process.env, 'QUIET_HOURS'), say: tell, end, ...(o.days > 0 ? { now: () => end } : {}) });
      if (o.days === 0) {
        if (o.json) out(JSON.stringify(report));
        else printDemo(report, out);
        return;
      }
      if (!o.json) printDemo(report, out);
      const { simulateAfterDemo, printSimulation } = await import('./cli/simulate-command.js');
      const sim = await simulateAfterDemo(rt, { users: o.users, seed: o.seed, days: o.days, start: end, say: tell });
      if (o.json) out(JSON.stringify({ ...report, simulation: sim }));
      else printSimulation(sim, out);
    } finally {
      await rt.close();
      await redis.stop();
    }
  });

program
  .command('doctor')
  .description('check the configuration and every service it names (PostgreSQL, Redis, queues, SMTP, Slack, webhook secrets, public URL, metrics): one line each with the fix; exit 1 when any check fails')
  .option('--json', 'machine-readable results')
  .action(async (o: { json?: boolean }) => {
    const { runDoctor, printDoctor } = await import('./cli/doctor.js');
    const results = await runDoctor(process.env);
    const passed = results.every((r) => r.status !== 'fail');
    if (o.json) out(JSON.stringify({ ok: passed, checks: results }));
    else printDoctor(results, out);
    if (!passed) process.exitCode = 1;
  });

program
  .command('simulate')
  .description('continue the synthetic platform day by day on a simulated clock, with the real cycle, and users who respond to what they received')
  .requiredOption('--days <n>', 'simulated days', positiveInt('--days'))
  .option('--users <n>', 'users to seed', positiveInt('--users'), 5_000)
  .option('--seed <s>', 'random seed', positiveInt('--seed'), 1)
  .option('--cycle-every <period>', 'how often the cycle runs: 1d or 7d', (v: string) => {
    if (v !== '1d' && v !== '7d') throw new InvalidArgumentError('--cycle-every must be 1d or 7d');
    return v === '1d' ? 1 : 7;
  }, 1)
  .option('--policy <policy>', 'who gets which offer: tiers, uplift or auto (default: OUTREACH_POLICY)', (v: string) => {
    if (v !== 'tiers' && v !== 'uplift' && v !== 'auto') throw new InvalidArgumentError('--policy must be tiers, uplift or auto');
    return v;
  })
  .option('--start <date>', 'the first simulated day (YYYY-MM-DD, UTC); the history ends there (default: today minus --days)', (v: string) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) throw new InvalidArgumentError('--start must be a date YYYY-MM-DD');
    return new Date(`${v}T00:00:00Z`);
  })
  .option('--reset', 'with DATABASE_URL: empty that database first (it must hold no events otherwise)')
  .option('--json', 'machine-readable report')
  .action(async (o: { days: number; users: number; seed: number; cycleEvery: number; policy?: 'tiers' | 'uplift' | 'auto'; start?: Date; reset?: boolean; json?: boolean }) => {
    const { runSimulateCommand, printSimulation } = await import('./cli/simulate-command.js');
    const report = await runSimulateCommand({ ...o, env: process.env, say: o.json ? () => {} : say });
    if (o.json) out(JSON.stringify(report));
    else printSimulation(report, out);
  });

export { program };

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    // Exit now: a failed command must not hang on connections it opened before failing.
    if (e instanceof AppError) {
      process.stderr.write(`rekindle: ${e.message}\n`);
      process.exit(e.code === 'validation' || e.code === 'config' ? 2 : 1);
    }
    process.stderr.write(`rekindle: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  }
}

await main(process.argv);
