/**
 * Prometheus metrics (prom-client): counters the process updates as things happen (events
 * ingested and rejected, jobs), and gauges read from PostgreSQL (outreach by tier and state,
 * webhook deliveries by state, model AUC) so every process reports the truth. The gauges' queries
 * scan whole tables, so their answer is reused for 30 s however often anyone scrapes; and
 * /metrics is served on a listener of its own (loopback by default, optionally behind a bearer
 * token), never on the public port.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import express, { type RequestHandler, type Router } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queryable } from '../db/client.js';

export interface Metrics {
  registry: Registry;
  eventsIngested: Counter<'result'>;
  eventsRejected: Counter<'reason'>;
  /** Stripe / Segment events answered 200 but not stored: an unmapped type, no user, nothing changed. */
  eventsIgnored: Counter<'source' | 'type' | 'reason'>;
  jobDuration: Histogram<'job' | 'outcome'>;
  jobFailures: Counter<'job'>;
  onRejected(reason: string): void;
  onIngested(inserted: number, duplicates: number): void;
  onIgnored(source: string, type: string, reason: string): void;
  onJobDone(job: string, ok: boolean, ms: number): void;
}

export interface MetricsOptions {
  defaultMetrics?: boolean;
  /** Clock in milliseconds, for the database cache. */
  now?: () => number;
  /** How long one reading of the database gauges is reused. Default 30 000 ms. */
  dbCacheMs?: number;
}

interface DbReading {
  outreach: { tier: string; state: string; holdout: boolean; n: number }[];
  deliveries: { state: string; n: number }[];
  attempts: { outcome: string; n: number }[];
  auc: { auc: number | null; base: number | null } | undefined;
}

async function readDatabase(db: Queryable): Promise<DbReading> {
  const [outreach, deliveries, attempts, [auc]] = await Promise.all([
    db.query<DbReading['outreach'][number]>('select tier, state, holdout, count(*)::int as n from outreach group by 1, 2, 3'),
    db.query<DbReading['deliveries'][number]>('select state, count(*)::int as n from webhook_deliveries group by 1'),
    db.query<DbReading['attempts'][number]>(
      `select case when status is null then 'error' else (status / 100)::text || 'xx' end as outcome, count(*)::int as n from webhook_attempts group by 1`,
    ),
    db.query<NonNullable<DbReading['auc']>>(
      `select (metrics->'churn'->>'auc')::float8 as auc, (metrics->'churn'->>'baselineAuc')::float8 as base
       from model_runs where kind = 'rescore' and status = 'done' order by id desc limit 1`,
    ),
  ]);
  return { outreach, deliveries, attempts, auc };
}

export function createMetrics(db: Queryable, opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const now = opts.now ?? Date.now;
  const ttl = opts.dbCacheMs ?? 30_000;
  // One reading serves every gauge and every scrape for `ttl`; concurrent scrapes share it, and a
  // failed reading is not kept (the next scrape tries again).
  let cached: { at: number; reading: Promise<DbReading> } | null = null;
  const reading = (): Promise<DbReading> => {
    const t = now();
    if (!cached || t - cached.at >= ttl) {
      const r = readDatabase(db);
      const entry = { at: t, reading: r };
      cached = entry;
      r.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return cached.reading;
  };
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'rekindle_' });
  const eventsIngested = new Counter({ name: 'rekindle_events_ingested_total', help: 'Events accepted by the webhook endpoint', labelNames: ['result'] as const, registers: [registry] });
  const eventsRejected = new Counter({ name: 'rekindle_events_rejected_total', help: 'Webhook deliveries refused, by reason', labelNames: ['reason'] as const, registers: [registry] });
  const eventsIgnored = new Counter({
    name: 'rekindle_events_ignored_total',
    help: 'Stripe and Segment events answered 200 but not stored, by source, event type and reason (unknown_type, no_user…)',
    labelNames: ['source', 'type', 'reason'] as const,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'rekindle_job_duration_seconds',
    help: 'Job run time by job name and outcome',
    labelNames: ['job', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [registry],
  });
  const jobFailures = new Counter({ name: 'rekindle_job_failures_total', help: 'Job attempts that failed, by job name', labelNames: ['job'] as const, registers: [registry] });

  new Gauge({
    name: 'rekindle_outreach',
    help: 'Outreach rows by tier, state and holdout',
    labelNames: ['tier', 'state', 'holdout'] as const,
    registers: [registry],
    async collect() {
      const { outreach } = await reading();
      this.reset();
      for (const r of outreach) this.set({ tier: r.tier, state: r.state, holdout: String(r.holdout) }, r.n);
    },
  });
  new Gauge({
    name: 'rekindle_webhook_deliveries',
    help: 'Outbound webhook deliveries by state (dead = dead-lettered)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const { deliveries } = await reading();
      this.reset();
      for (const r of deliveries) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'rekindle_webhook_attempts',
    help: 'Outbound webhook attempts by outcome (2xx, 4xx, 5xx, error)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      const { attempts } = await reading();
      this.reset();
      for (const r of attempts) this.set({ outcome: r.outcome }, r.n);
    },
  });
  new Gauge({
    name: 'rekindle_model_auc',
    help: 'Held-out ROC-AUC of the latest churn model, and of the recency-only baseline',
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      const r = (await reading()).auc;
      this.reset();
      if (r?.auc !== null && r?.auc !== undefined) this.set({ model: 'churn' }, r.auc);
      if (r?.base !== null && r?.base !== undefined) this.set({ model: 'recency_baseline' }, r.base);
    },
  });

  return {
    registry,
    eventsIngested,
    eventsRejected,
    eventsIgnored,
    jobDuration,
    jobFailures,
    onRejected: (reason) => eventsRejected.inc({ reason }),
    // Type labels stay bounded: only signed deliveries reach here, and names are cut to 64 characters.
    onIgnored: (source, type, reason) => eventsIgnored.inc({ source, type: type.slice(0, 64), reason }),
    onIngested: (inserted, duplicates) => {
      if (inserted) eventsIngested.inc({ result: 'new' }, inserted);
      if (duplicates) eventsIngested.inc({ result: 'duplicate' }, duplicates);
    },
    onJobDone: (job, ok, ms) => {
      jobDuration.observe({ job, outcome: ok ? 'ok' : 'failed' }, ms / 1000);
      if (!ok) jobFailures.inc({ job });
    },
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** `Authorization: Bearer <token>`, compared in constant time (over digests, so lengths do not leak). */
export function bearerAuth(token: string, realm = 'metrics'): RequestHandler {
  const expected = digest(token);
  return (req, res, next) => {
    const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    if (m && timingSafeEqual(digest(m[1]!), expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `Bearer realm="${realm}"`);
    res.status(401).json({ error: { code: 'unauthorized', message: 'metrics need Authorization: Bearer <METRICS_TOKEN>' } });
  };
}

export function metricsRouter(m: Metrics, opts: { token?: string | undefined } = {}): Router {
  const router = express.Router();
  if (opts.token) router.use('/metrics', bearerAuth(opts.token));
  router.get('/metrics', async (_req, res, next) => {
    try {
      res.type(m.registry.contentType).send(await m.registry.metrics());
    } catch (e) {
      next(e);
    }
  });
  return router;
}

/**
 * Serves `/metrics` alone on `host:port` (port 0: any free one): `serve` and `worker` both use
 * it, so metrics never share the public port and bind to METRICS_HOST (loopback by default).
 * Resolves once listening; rejects when the address is taken.
 */
export async function startMetricsServer(m: Metrics, o: { host: string; port: number; token?: string | undefined }): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(metricsRouter(m, { token: o.token }));
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'this listener serves /metrics only' } });
  });
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(Object.assign(new Error(`metrics could not listen on ${o.host}:${o.port} (${err.code ?? err.message}); set METRICS_PORT/WORKER_METRICS_PORT or METRICS_ENABLED=false`), { cause: err })),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  return server;
}

/** The URL a listener answers /metrics on (an unspecified address is reached through loopback). */
export function metricsUrlOf(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return String(a);
  const host = a.address === '0.0.0.0' ? '127.0.0.1' : a.address === '::' ? '::1' : a.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}/metrics`;
}
