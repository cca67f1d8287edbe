import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { EventType } from '../../src/domain/events.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type Driver, type TestDatabase } from '../support/db.js';
import { anEvent, uniq } from '../support/factories.js';
import { listen, postSigned, ROTATED_SECRET, TEST_SECRET, type Running } from '../support/http.js';

describe.each<Driver>(['postgres', 'pglite'])('POST /webhooks/events on %s', (driver) => {
  let t: TestDatabase;
  let http: Running;

  beforeAll(async () => {
    t = await freshDatabase(driver);
    const config = loadConfig({ WEBHOOK_SECRETS: `${TEST_SECRET},${ROTATED_SECRET}`, INGEST_MAX_BODY_BYTES: '65536' });
    const { app } = buildHttpApp({ config, db: t.db, log: silentLogger, checks: [] });
    http = await listen(app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });

  const countEvents = async () => Number((await t.db.query<{ n: number }>('select count(*)::int as n from events'))[0]!.n);

  async function expectRejected(status: number, send: () => Promise<{ status: number; body: any }>, messagePart: RegExp) {
    const before = await countEvents();
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.body.error.message).toMatch(messagePart);
    expect(await countEvents()).toBe(before);
    return r;
  }

  it('stores a signed event with its user and item', async () => {
    const user = uniq('u');
    const ev = anEvent('purchase', { user_id: user, user: { email: 'li@example.com', name: '李雷', locale: 'zh-CN', timezone: 'Asia/Shanghai' } });
    const r = await postSigned(http.url, ev);
    expect(r).toEqual({ status: 200, body: { received: 1, inserted: 1, duplicates: 0 } });
    const [row] = await t.db.query<any>('select type, user_id, item_id, amount_minor, currency, quantity, occurred_at from events where event_id = $1', [ev.id]);
    expect(row).toMatchObject({ type: 'purchase', user_id: user, item_id: 'course-1', amount_minor: 19900, currency: 'CNY', quantity: 1 });
    expect(new Date(row.occurred_at).toISOString()).toBe('2026-11-01T00:30:00.000Z');
    const [u] = await t.db.query<any>('select email, name, locale, timezone from users where id = $1', [user]);
    expect(u).toEqual({ email: 'li@example.com', name: '李雷', locale: 'zh-CN', timezone: 'Asia/Shanghai' });
    const [item] = await t.db.query<any>('select title, item_type, category, tags, price_minor from items where id = $1', ['course-1']);
    expect(item).toEqual({ title: '职场沟通30讲', item_type: 'course', category: '职场', tags: ['沟通', '职场'], price_minor: 19900 });
  });

  it('does not store a repeated delivery twice and says how many were duplicates', async () => {
    const a = anEvent('view');
    const b = anEvent('view');
    expect((await postSigned(http.url, [a])).body).toEqual({ received: 1, inserted: 1, duplicates: 0 });
    const before = await countEvents();
    const again = await postSigned(http.url, [a, b, b]);
    expect(again).toEqual({ status: 200, body: { received: 3, inserted: 1, duplicates: 2 } });
    expect(await countEvents()).toBe(before + 1);
  });

  it('accepts every event type in one batch, and a secret being rotated in', async () => {
    const types: EventType[] = ['signup', 'view', 'lesson_progress', 'purchase', 'refund', 'renewal', 'subscription_cancel', 'payment_failed', 'coupon_redeemed'];
    const batch = types.map((type) => anEvent(type, { user_id: uniq('u') }));
    const r = await postSigned(http.url, batch, { secret: ROTATED_SECRET });
    expect(r).toEqual({ status: 200, body: { received: 9, inserted: 9, duplicates: 0 } });
    const rows = await t.db.query<{ type: string }>('select type from events where event_id = any($1::text[]) order by type', [batch.map((e) => e.id)]);
    expect(rows.map((x) => x.type)).toEqual([...types].sort());
  });

  it('keeps profile fields it already has when a later event omits them', async () => {
    const user = uniq('u');
    await postSigned(http.url, anEvent('signup', { user_id: user, user: { email: 'a@example.com', name: 'A' } }));
    await postSigned(http.url, anEvent('view', { user_id: user, user: { name: 'A. B.' } }));
    const [u] = await t.db.query<any>('select email, name from users where id = $1', [user]);
    expect(u).toEqual({ email: 'a@example.com', name: 'A. B.' });
    // An event that names only the user and an item leaves both rows as they are, and creates them when new.
    await postSigned(http.url, anEvent('view', { user_id: user, item_id: 'course-1' }));
    const fresh = uniq('u');
    await postSigned(http.url, [anEvent('view', { user_id: fresh, item_id: 'never-seen-item' }), anEvent('view', { user_id: user })]);
    expect(await t.db.query<any>('select email, name from users where id = $1', [user])).toEqual([{ email: 'a@example.com', name: 'A. B.' }]);
    expect(await t.db.query<any>('select id, email from users where id = $1', [fresh])).toEqual([{ id: fresh, email: null }]);
    expect(await t.db.query<any>('select id, title from items where id = $1', ['never-seen-item'])).toEqual([{ id: 'never-seen-item', title: null }]);
  });

  it('refuses a bad signature, a stale timestamp and missing headers with 401', async () => {
    const ev = anEvent('view');
    await expectRejected(401, () => postSigned(http.url, ev, { secret: 'whsec_d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA==' }), /does not match/);
    await expectRejected(401, () => postSigned(http.url, ev, { at: new Date(Date.now() - 6 * 60_000) }), /replay window/);
    await expectRejected(401, () => postSigned(http.url, ev, { at: new Date(Date.now() + 6 * 60_000) }), /replay window/);
    await expectRejected(
      401,
      () => fetch(`${http.url}/webhooks/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ev) }).then(async (r) => ({ status: r.status, body: await r.json() })),
      /missing webhook-id/,
    );
  });

  it('refuses a body that was altered after signing', async () => {
    const ev = anEvent('view');
    const signedFor = JSON.stringify(ev);
    const { signedHeaders } = await import('../support/http.js');
    const headers = signedHeaders(signedFor);
    await expectRejected(
      401,
      async () => {
        const r = await fetch(`${http.url}/webhooks/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ ...ev, user_id: 'mallory' }) });
        return { status: r.status, body: await r.json() };
      },
      /does not match/,
    );
  });

  it('answers invalid JSON with 400', async () => {
    await expectRejected(400, () => postSigned(http.url, null, { raw: '{"id": "x", ' }), /not valid JSON/);
  });

  const violations: [EventType, Record<string, unknown>, string][] = [
    ['signup', { user: { email: 'not-an-email' } }, 'user.email'],
    ['view', { item_id: undefined }, 'item_id'],
    ['lesson_progress', { percent: 140 }, 'percent'],
    ['lesson_progress', { lesson_id: '' }, 'lesson_id'],
    ['purchase', { amount_minor: 199.5 }, 'amount_minor'],
    ['purchase', { currency: 'RMB' }, 'currency'],
    ['purchase', { quantity: 0 }, 'quantity'],
    ['refund', { amount_minor: -5 }, 'amount_minor'],
    ['renewal', { currency: undefined }, 'currency'],
    ['subscription_cancel', { item_id: 'has\ttab' }, 'item_id'],
    ['payment_failed', { occurred_at: '2026-11-01 08:00' }, 'occurred_at'],
    ['coupon_redeemed', { coupon_code: undefined }, 'coupon_code'],
    ['view', { user_id: undefined }, 'user_id'],
    ['view', { surprise: true }, '(body)'],
  ];
  it.each(violations)('answers a schema violation of %s (%o) with 400 naming the field', async (type, change, field) => {
    const r = await expectRejected(400, () => postSigned(http.url, anEvent(type, change)), new RegExp(field.replace(/[().]/g, '\\$&')));
    expect(r.body.error.issues[0].field).toBe(field);
  });

  it('answers an unknown type with the list of known ones', async () => {
    await expectRejected(400, () => postSigned(http.url, anEvent('view', { type: 'teleport' })), /type: must be one of signup, view/);
  });

  it('rejects a whole batch when one event is invalid, naming its index', async () => {
    const batch = [anEvent('view'), anEvent('purchase'), anEvent('purchase', { amount_minor: 'lots' })];
    const r = await expectRejected(400, () => postSigned(http.url, batch), /^\[2\]\.amount_minor/);
    expect(r.body.error.issues).toHaveLength(1);
    const stored = await t.db.query('select 1 from events where event_id = any($1::text[])', [batch.map((e) => e.id)]);
    expect(stored).toHaveLength(0);
  });

  it('refuses an empty batch and one over 1,000 events', async () => {
    await expectRejected(400, () => postSigned(http.url, []), /at least one event/);
    const big = Array.from({ length: 1001 }, () => ({ id: 'x', type: 'view' }));
    // 1001 tiny objects fit the 64 KiB test limit.
    await expectRejected(400, () => postSigned(http.url, big), /at most 1000 events/);
  });

  it('answers an oversize body with 413', async () => {
    const batch = Array.from({ length: 400 }, () => anEvent('view', { user: { name: 'x'.repeat(150) } }));
    await expectRejected(413, () => postSigned(http.url, batch), /larger than the limit \(65536 bytes\)/);
  });

  it('answers a wrong content type with 415', async () => {
    await expectRejected(415, () => postSigned(http.url, anEvent('view'), { contentType: 'text/plain' }), /Content-Type must be application\/json, got "text\/plain"/);
    await expectRejected(415, () => postSigned(http.url, anEvent('view'), { contentType: 'application/x-www-form-urlencoded' }), /application\/json/);
  });

  it('stores events from concurrent requests, each answered with its own counts', async () => {
    const shared = anEvent('view');
    const sends = Array.from({ length: 40 }, (_, i) => postSigned(http.url, i % 2 ? [anEvent('view'), shared] : [anEvent('view')]));
    const results = await Promise.all(sends);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const inserted = results.reduce((s, r) => s + r.body.inserted, 0);
    const dup = results.reduce((s, r) => s + r.body.duplicates, 0);
    expect(inserted).toBe(41);
    expect(dup).toBe(19);
  });
});
