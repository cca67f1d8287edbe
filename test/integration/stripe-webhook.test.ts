/**
 * Issue #12 part 2: `POST /webhooks/stripe`, signed with the `stripe` package's own test-header
 * helper, payloads shaped like its pinned API version (test/fixtures/stripe-events.ts).
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createMetrics, type Metrics } from '../../src/http/metrics.js';
import { buildHttpApp } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniq } from '../support/factories.js';
import { listen, type Running } from '../support/http.js';
import { chargeRefunded, checkoutCompleted, customerCreated, invoicePaid, paymentIntentSucceeded, subscriptionEvent } from '../fixtures/stripe-events.js';

const NEW_SECRET = 'whsec_NewSigningSecretForRotation0001';
const OLD_SECRET = 'whsec_OldSigningSecretForRotation0002';

async function post(url: string, payload: unknown, opts: { secret?: string; timestamp?: number; header?: string | null; raw?: string } = {}) {
  const body = opts.raw ?? JSON.stringify(payload);
  const header = opts.header === undefined ? Stripe.webhooks.generateTestHeaderString({ payload: body, secret: opts.secret ?? NEW_SECRET, ...(opts.timestamp ? { timestamp: opts.timestamp } : {}) }) : opts.header;
  const res = await fetch(`${url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...(header === null ? {} : { 'stripe-signature': header }) }, body });
  return { status: res.status, body: (await res.json()) as any };
}

describe('POST /webhooks/stripe', () => {
  let t: TestDatabase;
  let http: Running;
  let metrics: Metrics;
  beforeAll(async () => {
    t = await freshDatabase();
    metrics = createMetrics(t.db, { defaultMetrics: false });
    const config = loadConfig({ STRIPE_WEBHOOK_SECRET: `${NEW_SECRET}, ${OLD_SECRET}` });
    http = await listen(buildHttpApp({ config, db: t.db, log: silentLogger, checks: [], hooks: { onIgnored: metrics.onIgnored, onRejected: metrics.onRejected } }).app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });
  const events = (user: string) =>
    t.db.query<{ source: string; event_id: string; type: string; item_id: string; amount_minor: number | null; currency: string | null; quantity: number | null; occurred_at: Date }>(
      `select source, event_id, type, item_id, amount_minor, currency, quantity, occurred_at from events where user_id = $1 order by event_id`,
      [user],
    );

  it('maps a paid Checkout with expanded line items to one purchase per line, products as items with their names', async () => {
    const user = uniq('u');
    const id = uniq('evt_');
    const r = await post(http.url, checkoutCompleted(id, user, { lines: true }));
    expect(r).toEqual({ status: 200, body: { received: 2, inserted: 2, duplicates: 0, type: 'checkout.session.completed' } });
    expect(await events(user)).toEqual([
      { source: 'stripe', event_id: id, type: 'purchase', item_id: 'prod_neg', amount_minor: 19900, currency: 'CNY', quantity: 1, occurred_at: new Date('2025-12-04T08:00:00Z') },
      { source: 'stripe', event_id: `${id}:1`, type: 'purchase', item_id: 'prod_speak', amount_minor: 9900, currency: 'CNY', quantity: 3, occurred_at: new Date('2025-12-04T08:00:00Z') },
    ]);
    const items = await t.db.query<{ id: string; title: string; price_minor: number }>(`select id, title, price_minor from items where id in ('prod_neg', 'prod_speak') order by id`);
    expect(items).toEqual([
      { id: 'prod_neg', title: 'Negotiation in 30 lessons', price_minor: 19900 },
      { id: 'prod_speak', title: 'Speaking up', price_minor: 3300 },
    ]);
    const [u] = await t.db.query<{ email: string; name: string }>('select email, name from users where id = $1', [user]);
    expect(u).toEqual({ email: 'ada@example.com', name: 'Ada Lovelace' });
  });

  it('a replayed event is stored once, whichever rotated secret signed it', async () => {
    const user = uniq('u');
    const payload = checkoutCompleted(uniq('evt_'), user);
    expect((await post(http.url, payload)).body).toMatchObject({ inserted: 1, duplicates: 0 });
    expect((await post(http.url, payload, { secret: OLD_SECRET })).body).toMatchObject({ inserted: 0, duplicates: 1 });
    expect((await events(user)).map((e) => [e.type, e.item_id, e.amount_minor])).toEqual([['purchase', 'fallback-item', 29800]]);
  });

  it('refuses a bad, missing, foreign or stale signature with 401 and stores nothing', async () => {
    const user = uniq('u');
    const payload = checkoutCompleted(uniq('evt_'), user);
    const body = JSON.stringify(payload);
    expect((await post(http.url, payload, { header: null })).status).toBe(401);
    expect((await post(http.url, payload, { secret: 'whsec_SomebodyElsesSecret000000000' })).status).toBe(401);
    const good = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: NEW_SECRET });
    const tampered = await post(http.url, null, { raw: body.replace('29800', '1'), header: good });
    expect(tampered.status).toBe(401);
    expect(tampered.body.error.message).toMatch(/signature/i);
    const stale = await post(http.url, payload, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(/tolerance/);
    expect(await events(user)).toEqual([]);
  });

  it('invoice.paid: a subscription\'s first invoice is a purchase, later ones renewals; the user from the subscription metadata', async () => {
    const user = uniq('u');
    const first = uniq('evt_');
    const second = uniq('evt_');
    expect((await post(http.url, invoicePaid(first, user, 'subscription_create'))).status).toBe(200);
    expect((await post(http.url, invoicePaid(second, user, 'subscription_cycle'))).status).toBe(200);
    const rows = await events(user);
    expect(rows.map((e) => [e.event_id, e.type, e.item_id, e.amount_minor, e.quantity])).toEqual(
      [
        [first, 'purchase', 'prod_club', 3000, 1],
        [second, 'renewal', 'prod_club', 3000, 1],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const [club] = await t.db.query<{ item_type: string }>(`select item_type from items where id = 'prod_club'`);
    expect(club!.item_type).toBe('membership');
  });

  it('charge.refunded stores what each event refunded (partial refunds), from the cumulative amount', async () => {
    const user = uniq('u');
    const a = uniq('evt_a');
    const b = uniq('evt_b');
    await post(http.url, chargeRefunded(a, user, 5000, 0));
    await post(http.url, chargeRefunded(b, user, 19900, 5000));
    expect((await events(user)).map((e) => [e.event_id, e.type, e.item_id, e.amount_minor])).toEqual([
      [a, 'refund', 'prod_neg', 5000],
      [b, 'refund', 'prod_neg', 14900],
    ]);
  });

  it('ISK amounts, which Stripe sends with two decimals, are stored in ISO minor units', async () => {
    const user = uniq('u');
    await post(http.url, chargeRefunded(uniq('evt_'), user, 150000, 0, 'isk', 150000));
    expect((await events(user)).map((e) => [e.amount_minor, e.currency])).toEqual([[1500, 'ISK']]);
  });

  it('cancellation at period end and deletion are subscription_cancel; other updates and subscription Checkouts are counted, not stored', async () => {
    const user = uniq('u');
    const cancel = uniq('evt_c');
    const del = uniq('evt_d');
    expect((await post(http.url, subscriptionEvent(cancel, user, 'customer.subscription.updated', { cancel_at_period_end: false }))).body).toMatchObject({ inserted: 1 });
    const other = await post(http.url, subscriptionEvent(uniq('evt_o'), user, 'customer.subscription.updated', { metadata: {} }));
    expect(other).toEqual({ status: 200, body: { received: 1, stored: 0, ignored: 'no_change', type: 'customer.subscription.updated' } });
    expect((await post(http.url, subscriptionEvent(del, user, 'customer.subscription.deleted'))).body).toMatchObject({ inserted: 1 });
    expect((await post(http.url, checkoutCompleted(uniq('evt_s'), user, { mode: 'subscription' }))).body).toMatchObject({ ignored: 'handled_elsewhere' });
    expect((await post(http.url, subscriptionEvent(uniq('evt_n'), null, 'customer.subscription.deleted'))).body).toMatchObject({ ignored: 'no_user' });
    expect((await events(user)).map((e) => [e.event_id, e.type, e.item_id])).toEqual([
      [cancel, 'subscription_cancel', 'prod_club'],
      [del, 'subscription_cancel', 'prod_club'],
    ]);
  });

  it('invoice.payment_failed is payment_failed; a PaymentIntent counts only when tagged with its item (JPY has no minor unit)', async () => {
    const user = uniq('u');
    const failed = uniq('evt_f');
    const pi = uniq('evt_p');
    await post(http.url, invoicePaid(failed, user, 'subscription_cycle', 'invoice.payment_failed'));
    await post(http.url, paymentIntentSucceeded(pi, user, 'ebook-9'));
    expect((await post(http.url, paymentIntentSucceeded(uniq('evt_q'), user, null))).body).toMatchObject({ ignored: 'handled_elsewhere' });
    expect((await events(user)).map((e) => [e.event_id, e.type, e.item_id, e.amount_minor, e.currency])).toEqual(
      [
        [failed, 'payment_failed', 'prod_club', 3000, 'CNY'],
        [pi, 'purchase', 'ebook-9', 1500, 'JPY'],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
  });

  it('answers 200 to types it does not map, and counts them', async () => {
    const before = (await metrics.eventsIgnored.get()).values.find((v) => v.labels.type === 'customer.created')?.value ?? 0;
    const r = await post(http.url, customerCreated(uniq('evt_')));
    expect(r).toEqual({ status: 200, body: { received: 1, stored: 0, ignored: 'unknown_type', type: 'customer.created' } });
    const after = (await metrics.eventsIgnored.get()).values.find((v) => v.labels.type === 'customer.created' && v.labels.source === 'stripe' && v.labels.reason === 'unknown_type');
    expect(after?.value).toBe(before + 1);
  });

  it('a NUL in a product name is a 400 naming the field, never a database error or a retryable 503', async () => {
    const r = await post(http.url, checkoutCompleted(uniq('evt_'), uniq('u'), { lines: true, productName: 'Bad\u0000name' }));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^evt_\w+\.item\.title: must not contain control characters/);
  });

  it('concurrent deliveries (redeliveries of one event and events sharing a user and items) store each event once', async () => {
    const user = uniq('u');
    const same = checkoutCompleted(uniq('evt_same'), user, { lines: true });
    const distinct = Array.from({ length: 8 }, () => checkoutCompleted(uniq('evt_x'), user, { lines: true }));
    const answers = await Promise.all([...Array.from({ length: 8 }, () => post(http.url, same)), ...distinct.map((p) => post(http.url, p))]);
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
    const sameInserted = answers.slice(0, 8).reduce((n, a) => n + a.body.inserted, 0);
    expect(sameInserted).toBe(2);
    expect(await events(user)).toHaveLength(2 + 8 * 2);
  });

  it('answers 503 not_configured without a secret', async () => {
    const bare = await listen(buildHttpApp({ config: loadConfig({}), db: t.db, log: silentLogger, checks: [] }).app);
    try {
      const r = await post(bare.url, customerCreated('evt_x'));
      expect(r.status).toBe(503);
      expect(r.body.error.message).toMatch(/STRIPE_WEBHOOK_SECRET/);
    } finally {
      await bare.close();
    }
  });
});
