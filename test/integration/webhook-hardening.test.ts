/**
 * Issue #15, findings 3 and 5 on `POST /webhooks/events`: text the database cannot store is the
 * client's mistake (400, never a retryable 503); unsigned clients are refused before their body
 * is read; bodies in flight are capped.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/http/app.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { anEvent, uniq } from '../support/factories.js';
import { listen, postSigned, signedHeaders, TEST_SECRET, type Running } from '../support/http.js';

/** Starts a POST whose body never finishes: headers and a first chunk only. */
function hangingPost(url: string, headers: Record<string, string>): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const u = new URL(`${url}/webhooks/events`);
  const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '100000', ...headers } });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  // Destroying the request later rejects this; the tests that care await it first.
  response.catch(() => {});
  req.write('[{"id":"partial"');
  return { req, response };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))]);
}

async function bodyOf(res: IncomingMessage): Promise<any> {
  let text = '';
  for await (const c of res) text += c;
  return JSON.parse(text);
}

describe('webhook hardening', () => {
  let t: TestDatabase;
  let http: Running;
  beforeAll(async () => {
    t = await freshDatabase();
    const config = loadConfig({ WEBHOOK_SECRETS: TEST_SECRET, INGEST_MAX_INFLIGHT: '2', SEGMENT_WEBHOOK_SECRET: 'segment-shared-secret-for-tests' });
    http = await listen(buildHttpApp({ config, db: t.db, log: silentLogger, checks: [] }).app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });

  describe('finding 3: text PostgreSQL cannot store', () => {
    it('refuses a NUL character with 400 naming the field, not a retryable 503', async () => {
      const r = await postSigned(http.url, anEvent('view', { user_id: uniq('u'), user: { name: 'Ada\u0000' } }));
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/^user\.name: must not contain control characters/);
      const batch = await postSigned(http.url, [anEvent('view'), anEvent('purchase', { item: { title: 'ok', description: 'bad \u0000 byte' } })]);
      expect(batch.status).toBe(400);
      expect(batch.body.error.message).toMatch(/^\[1\]\.item\.description: /);
    });

    it('keeps tabs and line breaks in a description', async () => {
      const item = uniq('i');
      const r = await postSigned(http.url, anEvent('view', { item_id: item, item: { description: 'one\n\ttwo\r\nthree' } }));
      expect(r.status).toBe(200);
      const [row] = await t.db.query<{ description: string }>('select description from items where id = $1', [item]);
      expect(row!.description).toBe('one\n\ttwo\r\nthree');
    });

    it('maps any other data exception from the database (SQLSTATE class 22) to 400', async () => {
      // A column narrower than the schema allows makes PostgreSQL itself refuse the value (22001).
      await t.db.query('alter table users alter column locale type varchar(5)');
      try {
        const r = await postSigned(http.url, anEvent('view', { user_id: uniq('u'), user: { locale: 'zh-Hans-CN' } }));
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('invalid_event');
        expect(r.body.error.message).toMatch(/the database refused a value/);
        // The same delivery retried stays a 400: nothing here is worth retrying.
        expect((await postSigned(http.url, anEvent('view', { user_id: uniq('u'), user: { locale: 'zh-Hans-CN' } }))).status).toBe(400);
      } finally {
        await t.db.query('alter table users alter column locale type text');
      }
      expect((await postSigned(http.url, anEvent('view'))).status).toBe(200);
    });

    it('the shared error handler answers 400 to a data exception on any route', async () => {
      const router = express.Router();
      router.get('/boom', () => {
        throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR' });
      });
      const other = await listen(createApp({ log: silentLogger, routers: [router] }));
      try {
        const res = await fetch(`${other.url}/boom`);
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_value');
      } finally {
        await other.close();
      }
    });
  });

  describe('finding 5: headers before the body, and a cap on bodies in flight', () => {
    it('answers 401 to missing or malformed signature headers without waiting for the body', async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases: [Record<string, string>, RegExp][] = [
        [{}, /missing webhook-id/],
        [{ 'webhook-id': 'msg_1', 'webhook-timestamp': String(now) }, /missing webhook-signature/],
        [{ 'webhook-id': 'msg_1', 'webhook-timestamp': 'yesterday', 'webhook-signature': 'v1,AAAA' }, /Unix seconds/],
        [{ 'webhook-id': 'msg_1', 'webhook-timestamp': String(now - 3600), 'webhook-signature': 'v1,AAAA' }, /replay window/],
        [{ 'webhook-id': 'msg_1', 'webhook-timestamp': String(now), 'webhook-signature': 'v2,AAAA' }, /no v1 signature/],
      ];
      for (const [headers, message] of cases) {
        const { req, response } = hangingPost(http.url, headers);
        try {
          const res = await within(response, 2000, JSON.stringify(headers));
          expect(res.statusCode).toBe(401);
          expect((await bodyOf(res)).error.message).toMatch(message);
        } finally {
          req.destroy();
        }
      }
    });

    it('answers 503 with Retry-After beyond INGEST_MAX_INFLIGHT bodies, and frees the slots when they end', async () => {
      const fresh = () => signedHeaders('{}');
      const a = hangingPost(http.url, fresh());
      const b = hangingPost(http.url, fresh());
      try {
        // Both hold a slot while their bodies trickle in.
        await new Promise((r) => setTimeout(r, 200));
        const third = await postSigned(http.url, anEvent('view'));
        expect(third.status).toBe(503);
        expect(third.body.error.code).toBe('busy');
        const res = await fetch(`${http.url}/webhooks/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders('[]') }, body: '[]' });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        // The cap is one for every signed endpoint: Segment's route finds the slots taken too.
        const seg = await fetch(`${http.url}/webhooks/segment`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': 'ab' }, body: '{}' });
        expect(seg.status).toBe(503);
        expect(((await seg.json()) as { error: { code: string } }).error.code).toBe('busy');
      } finally {
        a.req.destroy();
        b.req.destroy();
      }
      // Aborted bodies give their slots back.
      let ok = 0;
      for (let i = 0; i < 20 && ok === 0; i++) {
        if ((await postSigned(http.url, anEvent('view'))).status === 200) ok++;
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(ok).toBe(1);
    });
  });
});
