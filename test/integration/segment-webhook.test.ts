/** Issue #12 part 3: `POST /webhooks/segment` with Segment Spec messages, signed as Segment's Webhooks destination signs. */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createMetrics, type Metrics } from '../../src/http/metrics.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniq } from '../support/factories.js';
import { listen, type Running } from '../support/http.js';
import { at, identify, orderCompleted, orderRefunded, page, productViewed, track, videoContentCompleted } from '../fixtures/segment-messages.js';

const SECRET = 'segment-shared-secret-new';
const OLD = 'segment-shared-secret-old';

async function post(url: string, payload: unknown, opts: { secret?: string; signature?: string | null } = {}) {
  const body = JSON.stringify(payload);
  const signature = opts.signature === undefined ? createHmac('sha1', opts.secret ?? SECRET).update(body).digest('hex') : opts.signature;
  const res = await fetch(`${url}/webhooks/segment`, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-signature': signature }) }, body });
  return { status: res.status, body: (await res.json()) as any };
}

describe('POST /webhooks/segment', () => {
  let t: TestDatabase;
  let http: Running;
  let metrics: Metrics;
  beforeAll(async () => {
    t = await freshDatabase();
    metrics = createMetrics(t.db, { defaultMetrics: false });
    const config = loadConfig({ SEGMENT_WEBHOOK_SECRET: `${SECRET},${OLD}`, SEGMENT_EVENT_MAP: 'Lesson Completed=lesson_progress,Video Content Completed=lesson_progress,Course Started=view' });
    http = await listen(buildHttpApp({ config, db: t.db, log: silentLogger, checks: [], hooks: { onIgnored: metrics.onIgnored } }).app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });
  const events = (user: string) =>
    t.db.query<{ source: string; event_id: string; type: string; item_id: string; amount_minor: number | null; currency: string | null; quantity: number | null; coupon_code: string | null; lesson_id: string | null; percent: number | null }>(
      `select source, event_id, type, item_id, amount_minor, currency, quantity, coupon_code, lesson_id, percent from events where user_id = $1 order by event_id`,
      [user],
    );

  it('"Order Completed": one purchase per product (price × quantity, currency, coupon), products as items', async () => {
    const user = uniq('u');
    const m = uniq('m');
    const r = await post(http.url, orderCompleted(m, user));
    expect(r).toEqual({ status: 200, body: { received: 1, inserted: 2, duplicates: 0, profiles: 0, ignored: 0 } });
    expect(await events(user)).toEqual([
      { source: 'segment', event_id: m, type: 'purchase', item_id: '507f1f77bcf86cd799439011', amount_minor: 1900, currency: 'USD', quantity: 1, coupon_code: 'hasbros', lesson_id: null, percent: null },
      { source: 'segment', event_id: `${m}:1`, type: 'purchase', item_id: '505bd76785ebb509fc183733', amount_minor: 660, currency: 'USD', quantity: 2, coupon_code: 'hasbros', lesson_id: null, percent: null },
    ]);
    const [item] = await t.db.query<{ title: string; category: string; price_minor: number; url: string }>(`select title, category, price_minor, url from items where id = '507f1f77bcf86cd799439011'`);
    expect(item).toEqual({ title: 'Monopoly: 3rd Edition', category: 'Games', price_minor: 1900, url: 'https://www.example.com/product/path' });
  });

  it('a batch mixes calls: identify → traits, track → events, page and unmapped names counted; replays store nothing twice', async () => {
    const user = uniq('u');
    const batch = {
      batch: [
        identify(uniq('m'), user),
        productViewed(uniq('m'), user),
        videoContentCompleted(uniq('m'), user),
        orderRefunded(uniq('m'), user),
        track(uniq('m'), user, 'Course Started', { product_id: 'course-negotiation' }),
        page(uniq('m'), user),
        track(uniq('m'), user, 'Button Clicked'),
        orderCompleted(uniq('m'), null),
      ],
      sentAt: at,
    };
    const ignoredBefore = (await metrics.eventsIgnored.get()).values.filter((v) => v.labels.source === 'segment').reduce((n, v) => n + v.value, 0);
    const first = await post(http.url, batch);
    expect(first).toEqual({ status: 200, body: { received: 8, inserted: 4, duplicates: 0, profiles: 1, ignored: 3 } });
    const ignored = (await metrics.eventsIgnored.get()).values.filter((v) => v.labels.source === 'segment');
    expect(ignored.reduce((n, v) => n + v.value, 0)).toBe(ignoredBefore + 3);
    expect(ignored.map((v) => `${v.labels.type}/${v.labels.reason}`).sort()).toEqual(expect.arrayContaining(['page/unknown_type', 'track/unmapped_event', 'track/anonymous']));
    expect((await events(user)).map((e) => [e.type, e.item_id, e.amount_minor, e.lesson_id, e.percent]).sort()).toEqual(
      [
        ['view', '507f1f77bcf86cd799439011', null, null, null],
        ['lesson_progress', 'course-negotiation', null, '0129370', 100],
        ['refund', '507f1f77bcf86cd799439011', 1900, null, null],
        ['view', 'course-negotiation', null, null, null],
      ].sort(),
    );
    const [u] = await t.db.query<{ email: string; name: string; locale: string; timezone: string; signup_at: Date }>('select email, name, locale, timezone, signup_at from users where id = $1', [user]);
    expect(u).toEqual({ email: 'peter@example.com', name: 'Peter Gibbons', locale: 'en-GB', timezone: 'Europe/London', signup_at: new Date('2025-01-02T03:04:05Z') });
    const again = await post(http.url, batch, { secret: OLD });
    expect(again.body).toMatchObject({ inserted: 0, duplicates: 4 });
    expect(await events(user)).toHaveLength(4);
  });

  it('refuses a missing or wrong X-Signature with 401, storing nothing', async () => {
    const user = uniq('u');
    expect((await post(http.url, orderCompleted(uniq('m'), user), { signature: null })).status).toBe(401);
    expect((await post(http.url, orderCompleted(uniq('m'), user), { secret: 'not-the-shared-secret' })).status).toBe(401);
    const bad = await post(http.url, orderCompleted(uniq('m'), user), { signature: 'zz' });
    expect(bad.status).toBe(401);
    expect(await events(user)).toEqual([]);
  });

  it('a bad message fails its body whole with a 400 naming the message and field (NUL included), nothing half-written', async () => {
    const user = uniq('u');
    const r = await post(http.url, { batch: [productViewed(uniq('m'), user), { ...productViewed(uniq('m'), user), properties: { product_id: 'p1', name: 'Bad\u0000name' } }] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('batch[1].item.title: must not contain control characters');
    const noId = await post(http.url, { batch: [{ ...productViewed('x', user), messageId: undefined }] });
    expect(noId.body.error.message).toMatch(/^batch\[0\]\.messageId: is required/);
    const badTrait = await post(http.url, identify(uniq('m'), user, { email: 'not-an-email' }));
    expect(badTrait.status).toBe(400);
    expect(badTrait.body.error.message).toMatch(/^message\.traits\.email: /);
    const notSpec = await post(http.url, { batch: [{ type: 'purchase' }] });
    expect(notSpec.body.error.message).toMatch(/^batch\[0\]\.type: must be one of track, identify/);
    expect(await events(user)).toEqual([]);
  });

  it('concurrent deliveries of the same and of different messages store each once', async () => {
    const user = uniq('u');
    const same = orderCompleted(uniq('m'), user);
    const others = Array.from({ length: 8 }, () => orderCompleted(uniq('m'), user));
    const answers = await Promise.all([...Array.from({ length: 8 }, () => post(http.url, same)), ...others.map((m) => post(http.url, m))]);
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
    expect(answers.slice(0, 8).reduce((n, a) => n + a.body.inserted, 0)).toBe(2);
    expect(await events(user)).toHaveLength(18);
  });

  it('SEGMENT_EVENT_MAP is checked at start-up', () => {
    expect(() => loadConfig({ SEGMENT_EVENT_MAP: 'Lesson Completed=purchase' })).toThrow(/SEGMENT_EVENT_MAP: expected comma-separated "Track Name=type" pairs/);
    expect(loadConfig({}).SEGMENT_EVENT_MAP).toEqual({ 'Lesson Completed': 'lesson_progress', 'Video Content Completed': 'lesson_progress' });
  });
});
