/** `/readyz` names the failing dependency with a generic reason; the driver's words (hosts, users) go to the log only. */
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { healthRouter, type ReadinessCheck } from '../../../src/http/health.js';
import { createLogger } from '../../../src/logger.js';
import { listen, type Running } from '../../support/http.js';

describe('/readyz', () => {
  let http: Running | undefined;
  afterEach(async () => {
    await http?.close();
    http = undefined;
  });

  it('answers a generic reason per failing check and logs the detail', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const fail = (message: string) => async () => {
      throw new Error(message);
    };
    const checks: ReadinessCheck[] = [
      { name: 'database', check: fail('password authentication failed for user "rekindle_prod" at db-7.internal:5432 (postgres://rekindle_prod:hunter2@db-7.internal/rekindle)') },
      { name: 'migrations', check: fail('relation "__drizzle_migrations" does not exist on db-7.internal') },
      { name: 'redis', check: fail('connect ECONNREFUSED 10.1.2.3:6379') },
      { name: 'mailer', check: fail('535 auth failed for smtp-user@mail.internal') },
    ];
    const app = express();
    app.use(healthRouter(checks, Date.now(), Date.now, log));
    http = await listen(app);
    const res = await fetch(`${http.url}/readyz`);
    expect(res.status).toBe(503);
    const raw = await res.text();
    for (const leak of ['rekindle_prod', 'db-7.internal', 'hunter2', '10.1.2.3', 'ECONNREFUSED', 'smtp-user', '__drizzle_migrations']) expect(raw).not.toContain(leak);
    const body = JSON.parse(raw) as { status: string; checks: Record<string, { ok: boolean; error?: string; ms: number }> };
    expect(body.status).toBe('not_ready');
    expect(body.checks.database).toMatchObject({ ok: false, error: 'database unreachable' });
    expect(body.checks.migrations).toMatchObject({ ok: false, error: 'database migrations not applied' });
    expect(body.checks.redis).toMatchObject({ ok: false, error: 'redis unreachable' });
    expect(body.checks.mailer).toMatchObject({ ok: false, error: 'mailer not ready' });
    // The operator finds the detail in the log (with the password in the URL redacted).
    const logged = lines.map((l) => JSON.parse(l) as { check?: string; err?: { message: string } });
    expect(logged.find((l) => l.check === 'redis')?.err?.message).toBe('connect ECONNREFUSED 10.1.2.3:6379');
    const db = logged.find((l) => l.check === 'database')?.err?.message ?? '';
    expect(db).toContain('db-7.internal');
    expect(db).not.toContain('hunter2');
  });

  it('says which check timed out', async () => {
    const app = express();
    app.use(healthRouter([{ name: 'redis', check: () => new Promise(() => {}) }], Date.now(), Date.now, undefined, { timeoutMs: 50 }));
    http = await listen(app);
    const body = (await (await fetch(`${http.url}/readyz`)).json()) as { checks: Record<string, { error?: string }> };
    expect(body.checks.redis?.error).toBe('redis did not answer within 0.05 s');
  });

  it('answers 200 when every check passes', async () => {
    const app = express();
    app.use(healthRouter([{ name: 'database', check: async () => {} }], Date.now(), Date.now));
    http = await listen(app);
    const res = await fetch(`${http.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true } } });
  });
});
