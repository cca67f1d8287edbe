/**
 * Issue #15 finding 2: /metrics is off the public port (its own loopback listener), optionally
 * behind a bearer token, and its database gauges are read at most every 30 s.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startHttp, type RunningServer } from '../../src/cli/server-runtime.js';
import type { Queryable } from '../../src/db/client.js';
import { createMetrics, startMetricsServer } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniquePrefix } from '../support/jobs.js';

const TOKEN = 'metrics-test-token-0123456789';

describe('metrics', () => {
  let t: TestDatabase;
  let open: RunningServer;
  let guarded: RunningServer;
  beforeAll(async () => {
    t = await freshDatabase();
    const base = { DATABASE_URL: t.url, REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: uniquePrefix(), UNSUBSCRIBE_SECRET: 'metrics-test-unsubscribe-0123456789' };
    open = await startHttp({ config: loadConfig(base), log: silentLogger, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
    guarded = await startHttp({ config: loadConfig({ ...base, METRICS_TOKEN: TOKEN }), log: silentLogger, db: t.db, close: async () => {} }, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    await t?.drop();
  });

  it('are not on the public port', async () => {
    expect((await fetch(`${open.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${open.url}/healthz`)).status).toBe(200);
  });

  it('are served on their own listener, bound to loopback by default', async () => {
    expect(open.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(open.metricsUrl).not.toBe(`${open.url}/metrics`);
    const res = await fetch(open.metricsUrl!);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/rekindle_events_ingested_total/);
  });

  it('need the bearer token when METRICS_TOKEN is set', async () => {
    const url = guarded.metricsUrl!;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(url, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/rekindle_outreach|rekindle_events_ingested_total/);
  });

  it('read the database at most every 30 s, however often they are scraped', async () => {
    let queries = 0;
    const counting: Queryable = {
      query: (text, params, opts) => {
        queries++;
        return t.db.query(text, params, opts);
      },
      copyIn: (table, columns, rows) => t.db.copyIn(table, columns, rows),
    };
    let clock = 1_000_000;
    const m = createMetrics(counting, { defaultMetrics: false, now: () => clock });
    const sent = async () => Number((await t.db.query<{ n: number }>(`select count(*)::int as n from outreach where tier = 'high' and state = 'sent' and not holdout`))[0]!.n);
    const gauge = (n: number) => new RegExp(`rekindle_outreach\\{tier="high",state="sent",holdout="false"\\} ${n}\\n`);
    await t.db.query(`insert into outreach (cycle_id, user_id, tier, channel, state, scheduled_at) values ('m1', 'mu1', 'high', 'coupon', 'sent', now())`);
    const before = await sent();
    queries = 0;
    expect(await m.registry.metrics()).toMatch(gauge(before));
    const perScrape = queries;
    expect(perScrape).toBeGreaterThan(0);
    await Promise.all([m.registry.metrics(), m.registry.metrics(), m.registry.metrics()]);
    clock += 29_000;
    await t.db.query(`insert into outreach (cycle_id, user_id, tier, channel, state, scheduled_at) values ('m1', 'mu2', 'high', 'coupon', 'sent', now())`);
    expect(await m.registry.metrics()).toMatch(gauge(before));
    expect(queries).toBe(perScrape);
    clock += 2_000;
    expect(await m.registry.metrics()).toMatch(gauge(before + 1));
    expect(queries).toBe(2 * perScrape);
  });

  it("the worker's listener binds to METRICS_HOST (loopback by default) and takes the token too", async () => {
    const config = loadConfig({ METRICS_TOKEN: TOKEN });
    const m = createMetrics(t.db, { defaultMetrics: false });
    const server = await startMetricsServer(m, { host: config.METRICS_HOST, port: 0, token: config.METRICS_TOKEN });
    try {
      const { address, port } = server.address() as AddressInfo;
      expect(address).toBe('127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/other`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
