/**
 * Prometheus metrics (prom-client): counters the process updates as things happen (events
 * ingested and rejected, jobs), and gauges read from PostgreSQL at scrape time (outreach by
 * tier and state, webhook deliveries by state, model AUC) so every process reports the truth.
 */
import express, { type Router } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queryable } from '../db/client.js';

export interface Metrics {
  registry: Registry;
  eventsIngested: Counter<'result'>;
  eventsRejected: Counter<'reason'>;
  jobDuration: Histogram<'job' | 'outcome'>;
  jobFailures: Counter<'job'>;
  onRejected(reason: string): void;
  onIngested(inserted: number, duplicates: number): void;
  onJobDone(job: string, ok: boolean, ms: number): void;
}

export function createMetrics(db: Queryable, opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'rekindle_' });
  const eventsIngested = new Counter({ name: 'rekindle_events_ingested_total', help: 'Events accepted by the webhook endpoint', labelNames: ['result'] as const, registers: [registry] });
  const eventsRejected = new Counter({ name: 'rekindle_events_rejected_total', help: 'Webhook deliveries refused, by reason', labelNames: ['reason'] as const, registers: [registry] });
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
      this.reset();
      const rows = await db.query<{ tier: string; state: string; holdout: boolean; n: number }>('select tier, state, holdout, count(*)::int as n from outreach group by 1, 2, 3');
      for (const r of rows) this.set({ tier: r.tier, state: r.state, holdout: String(r.holdout) }, r.n);
    },
  });
  new Gauge({
    name: 'rekindle_webhook_deliveries',
    help: 'Outbound webhook deliveries by state (dead = dead-lettered)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await db.query<{ state: string; n: number }>('select state, count(*)::int as n from webhook_deliveries group by 1')) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'rekindle_webhook_attempts',
    help: 'Outbound webhook attempts by outcome (2xx, 4xx, 5xx, error)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ outcome: string; n: number }>(
        `select case when status is null then 'error' else (status / 100)::text || 'xx' end as outcome, count(*)::int as n from webhook_attempts group by 1`,
      );
      for (const r of rows) this.set({ outcome: r.outcome }, r.n);
    },
  });
  new Gauge({
    name: 'rekindle_model_auc',
    help: 'Held-out ROC-AUC of the latest churn model, and of the recency-only baseline',
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const [r] = await db.query<{ auc: number | null; base: number | null }>(
        `select (metrics->'churn'->>'auc')::float8 as auc, (metrics->'churn'->>'baselineAuc')::float8 as base
         from model_runs where kind = 'rescore' and status = 'done' order by id desc limit 1`,
      );
      if (r?.auc !== null && r?.auc !== undefined) this.set({ model: 'churn' }, r.auc);
      if (r?.base !== null && r?.base !== undefined) this.set({ model: 'recency_baseline' }, r.base);
    },
  });

  return {
    registry,
    eventsIngested,
    eventsRejected,
    jobDuration,
    jobFailures,
    onRejected: (reason) => eventsRejected.inc({ reason }),
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

export function metricsRouter(m: Metrics): Router {
  const router = express.Router();
  router.get('/metrics', async (_req, res, next) => {
    try {
      res.type(m.registry.contentType).send(await m.registry.metrics());
    } catch (e) {
      next(e);
    }
  });
  return router;
}
