/**
 * Random bodies and headers at the real endpoint: never a 5xx, and never a partial write —
 * a refused request changes nothing, an accepted one stores exactly what it says it did.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { EVENT_TYPES } from '../../src/domain/events.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type Driver, type TestDatabase } from '../support/db.js';
import { anEvent } from '../support/factories.js';
import { listen, signedHeaders, TEST_SECRET, type Running } from '../support/http.js';

const validEvent = fc
  .tuple(fc.constantFrom(...EVENT_TYPES), fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^\S+$/.test(s) && !/[\u0000-\u001f]/.test(s)), fc.integer({ min: 0, max: 50 }))
  .map(([type, id, user]) => anEvent(type, { id: `fz-${id}`, user_id: `fz-u${user}` }));

/** A valid event with one field replaced by something arbitrary: often invalid, sometimes not. */
const mutatedEvent = fc
  .tuple(validEvent, fc.constantFrom('id', 'type', 'user_id', 'occurred_at', 'item_id', 'amount_minor', 'currency', 'percent', 'user', 'item', 'extra'), fc.jsonValue())
  .map(([ev, key, value]) => ({ ...ev, [key]: value }));

const body = fc.oneof(
  validEvent.map((e) => JSON.stringify(e)),
  fc.array(fc.oneof(validEvent, validEvent, mutatedEvent), { minLength: 0, maxLength: 8 }).map((a) => JSON.stringify(a)),
  mutatedEvent.map((e) => JSON.stringify(e)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.array(validEvent, { minLength: 30, maxLength: 40 }).map((a) => JSON.stringify(a)), // over the 4 KiB limit
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
);

const headerMode = fc.constantFrom('valid', 'valid', 'valid', 'missing', 'garbage', 'stale', 'wrong-secret');
const contentType = fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', '', 'application/cloudevents+json', 'multipart/form-data');

describe.each<Driver>(['postgres', 'pglite'])('webhook endpoint under random input on %s', (driver) => {
  let t: TestDatabase;
  let http: Running;
  beforeAll(async () => {
    t = await freshDatabase(driver);
    const config = loadConfig({ WEBHOOK_SECRETS: TEST_SECRET, INGEST_MAX_BODY_BYTES: '4096' });
    http = await listen(buildHttpApp({ config, db: t.db, log: silentLogger, checks: [] }).app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });

  it('never answers 5xx and never writes part of a request', async () => {
    const statuses = new Map<number, number>();
    const count = async () => Number((await t.db.query<{ n: number }>('select count(*)::int as n from events'))[0]!.n);
    await fc.assert(
      fc.asyncProperty(body, headerMode, contentType, async (raw, mode, type) => {
        let headers: Record<string, string> = signedHeaders(raw);
        if (mode === 'missing') headers = {};
        if (mode === 'garbage') headers = { 'webhook-id': 'x', 'webhook-timestamp': 'yesterday', 'webhook-signature': 'v1,???' };
        if (mode === 'stale') headers = signedHeaders(raw, { at: new Date(Date.now() - 3600_000) });
        if (mode === 'wrong-secret') headers = signedHeaders(raw, { secret: 'whsec_b3RoZXIgc2VjcmV0IG90aGVyIHNlY3JldA==' });
        const before = await count();
        const res = await fetch(`${http.url}/webhooks/events`, { method: 'POST', headers: { ...(type ? { 'content-type': type } : {}), ...headers }, body: raw });
        const answer = (await res.json()) as { inserted?: number; error?: { message: string } };
        const after = await count();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status).toBeLessThan(500);
        if (res.status === 200) expect(after - before).toBe(answer.inserted);
        else {
          expect(after).toBe(before);
          expect(answer.error?.message).toBeTruthy();
        }
      }),
      { numRuns: driver === 'postgres' ? 300 : 120, seed: 20261128 },
    );
    // The generators must reach every branch, or the property proves little.
    for (const status of [200, 400, 401, 413, 415]) expect(statuses.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
  });
});
