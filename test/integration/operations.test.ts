/** /metrics (on its own listener) and /admin/queues on the composed HTTP server (real PostgreSQL and Redis). */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startHttp, type RunningServer } from '../../src/cli/server-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { anEvent } from '../support/factories.js';
import { postSigned, TEST_SECRET } from '../support/http.js';
import { uniquePrefix } from '../support/jobs.js';

describe('operations endpoints', () => {
  let t: TestDatabase;
  let http: RunningServer;
  beforeAll(async () => {
    t = await freshDatabase();
    const config = loadConfig({
      DATABASE_URL: t.url,
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: uniquePrefix(),
      WEBHOOK_SECRETS: TEST_SECRET,
      ADMIN_USER: 'ops',
      ADMIN_PASSWORD: 'correct horse battery',
      UNSUBSCRIBE_SECRET: 'operations-test-secret-0123456789',
    });
    http = await startHttp({ config, log: silentLogger, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
    await t.db.query(`insert into outreach (cycle_id, user_id, tier, channel, state, scheduled_at) values ('c1', 'u1', 'high', 'coupon', 'sent', now()), ('c1', 'u2', 'medium', 'email', 'planned', now())`);
    await t.db.query(`insert into model_runs (kind, status, as_of, metrics) values ('rescore', 'done', now(), '{"churn": {"auc": 0.8123, "baselineAuc": 0.71}}')`);
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });

  it('counts ingested and rejected events by reason, and reads outreach and model AUC from the database', async () => {
    expect((await postSigned(http.url, [anEvent('view'), anEvent('view')])).status).toBe(200);
    expect((await postSigned(http.url, anEvent('view'), { secret: 'whsec_d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA==' })).status).toBe(401);
    expect((await postSigned(http.url, anEvent('view', { amount_minor: 1 }))).status).toBe(400);
    const res = await fetch(http.metricsUrl!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/rekindle_events_ingested_total\{result="new"\} 2/);
    expect(text).toMatch(/rekindle_events_rejected_total\{reason="signature"\} 1/);
    expect(text).toMatch(/rekindle_events_rejected_total\{reason="schema"\} 1/);
    expect(text).toMatch(/rekindle_outreach\{tier="high",state="sent",holdout="false"\} 1/);
    expect(text).toMatch(/rekindle_outreach\{tier="medium",state="planned",holdout="false"\} 1/);
    expect(text).toMatch(/rekindle_model_auc\{model="churn"\} 0.8123/);
    expect(text).toMatch(/rekindle_process_cpu_seconds_total/);
  });

  it('records job durations and failures', async () => {
    http.metrics.onJobDone('outreach.send-email', true, 120);
    http.metrics.onJobDone('outreach.send-email', false, 30);
    const text = await (await fetch(http.metricsUrl!)).text();
    expect(text).toMatch(/rekindle_job_duration_seconds_count\{job="outreach.send-email",outcome="ok"\} 1/);
    expect(text).toMatch(/rekindle_job_failures_total\{job="outreach.send-email"\} 1/);
  });

  it('keeps the queue dashboard behind basic auth', async () => {
    const anonymous = await fetch(`${http.url}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const wrong = await fetch(`${http.url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from('ops:guess').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    const auth = { authorization: `Basic ${Buffer.from('ops:correct horse battery').toString('base64')}` };
    const page = await fetch(`${http.url}/admin/queues`, { headers: auth });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const api = await fetch(`${http.url}/admin/queues/api/queues`, { headers: auth });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['delivery', 'scoring']);
  });

  it('tags every answer with a request id, keeping a sane one the caller sent', async () => {
    expect((await fetch(`${http.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } })).headers.get('x-request-id')).toBe('trace-123');
    expect((await fetch(`${http.url}/healthz`, { headers: { 'x-request-id': 'bad id\twith tab' } })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers health and readiness', async () => {
    expect(await (await fetch(`${http.url}/healthz`)).json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${http.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, migrations: { ok: true }, redis: { ok: true } } });
  });
});

describe('readiness with Redis down', () => {
  it('answers 503 naming the failing dependency', async () => {
    const t = await freshDatabase();
    const config = loadConfig({ DATABASE_URL: t.url, REDIS_URL: 'redis://127.0.0.1:1', QUEUE_PREFIX: uniquePrefix(), UNSUBSCRIBE_SECRET: 'operations-test-secret-0123456789' });
    const http = await startHttp({ config, log: silentLogger, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${http.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; error?: string }> };
      expect(body.status).toBe('not_ready');
      expect(body.checks.database!.ok).toBe(true);
      expect(body.checks.redis!.ok).toBe(false);
      // A generic reason: the driver's message (host, port, user) stays in the log.
      expect(body.checks.redis!.error).toBe('redis unreachable');
      expect(JSON.stringify(body)).not.toContain('127.0.0.1');
    } finally {
      await http.close();
      await t.drop();
    }
  });
});
