import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../src/domain/features.js';
import { featuresAsOf, membershipPeriods, payerSampleFraction, payerShare } from '../../src/store/features.js';
import { writeBatch } from '../../src/store/events.js';
import type { EventRecord, EventType } from '../../src/domain/events.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

const asOf = new Date('2026-06-01T00:00:00Z');
const daysAgo = (d: number) => new Date(asOf.getTime() - d * 86_400_000);
let k = 0;
function ev(userId: string, type: EventType, age: number, extra: Partial<EventRecord> = {}): EventRecord {
  return { source: 'default', eventId: `f${++k}`, type, userId, itemId: null, occurredAt: daysAgo(age), amountMinor: null, currency: null, quantity: null, lessonId: null, percent: null, couponCode: null, ...extra };
}

describe('featuresAsOf', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
    const buy = (u: string, item: string, age: number, amount: number) => ev(u, 'purchase', age, { itemId: item, amountMinor: amount, currency: 'CNY', quantity: 1 });
    await writeBatch(t.db, {
      users: [{ id: 'A', signupAt: daysAgo(200) }, { id: 'B', signupAt: daysAgo(50) }, { id: 'C', signupAt: daysAgo(400) }],
      items: [
        { id: 'c1', category: '职场', itemType: 'course' },
        { id: 'c2', category: '编程', itemType: 'course' },
        { id: 'm1', category: '会员', itemType: 'membership' },
      ],
      events: [
        buy('A', 'c1', 100, 10000),
        ev('A', 'lesson_progress', 90, { itemId: 'c1', lessonId: 'l1', percent: 50 }),
        buy('A', 'c2', 20, 5000),
        ev('A', 'refund', 10, { itemId: 'c2', amountMinor: 5000, currency: 'CNY' }),
        ev('A', 'view', 5, { itemId: 'c1' }),
        buy('A', 'm1', 10, 3000),
        ev('A', 'subscription_cancel', 2, { itemId: 'm1' }),
        ev('A', 'payment_failed', 40, { itemId: 'm1' }),
        ev('A', 'purchase', -10, { itemId: 'c3', amountMinor: 1, currency: 'CNY' }), // after asOf: a label, not a feature
        ev('B', 'signup', 50),
        // C: a monthly member, 3 renewals 30 days apart → the period is learned as 30 days.
        buy('C', 'm1', 95, 3000),
        ev('C', 'renewal', 65, { itemId: 'm1', amountMinor: 3000, currency: 'CNY' }),
        ev('C', 'renewal', 35, { itemId: 'm1', amountMinor: 3000, currency: 'CNY' }),
      ],
    });
  });
  afterAll(async () => t?.drop());

  it('computes every feature of a hand-checked history', async () => {
    const rows = await featuresAsOf(t.db, { asOf, seqFrom: 0, seqTo: 1e9, labelEnd: daysAgo(-90) });
    const a = rows.find((r) => r.userId === 'A')!;
    const f = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, a.values[i]]));
    expect(f).toEqual({
      recency_days: 10,
      frequency: 3,
      monetary_total: 130, // 100 + 50 + 30 − 50 refunded
      avg_order_value: 60,
      tenure_days: 200,
      payments_30d: 2,
      payments_90d: 2,
      payments_180d: 3,
      renewals: 0,
      refunds: 1,
      refund_rate: 1 / 3,
      cancellations: 1,
      views_30d: 1,
      days_since_last_view: 5,
      distinct_categories: 3,
      coupon_redemptions: 0,
      completion: expect.closeTo(0.5 / 3, 10), // c1 half done, c2 and m1 not started
      never_started: 2,
      days_until_renewal: 20, // paid 10 days ago, 30-day period
      auto_renew_off: 1,
      failed_payments_90d: 1,
      trend: 0.25, // (2 − 1) / (2 + 1 + 1)
      membership_active: 1,
    });
    expect(a.x).toBe(2);
    expect(a.tx).toBeCloseTo(90 / 7, 10);
    expect(a.T).toBeCloseTo(100 / 7, 10);
    expect(a.labelPayments).toBe(1);
    expect(a.categories).toEqual({ 职场: 0.6, 编程: 0.2, 会员: 0.2 });
    const b = rows.find((r) => r.userId === 'B')!;
    expect(b.values[FEATURE_NAMES.indexOf('frequency')]).toBe(0);
    expect(b.labelPayments).toBe(0);
  });

  it('keeps only payers when asked, and learns membership periods', async () => {
    const rows = await featuresAsOf(t.db, { asOf, seqFrom: 0, seqTo: 1e9, payersOnly: true });
    expect(rows.map((r) => r.userId).sort()).toEqual(['A', 'C']);
    expect(rows[0]!.labelPayments).toBeNull();
    const periods = await membershipPeriods(t.db, asOf);
    expect(periods.get('m1')).toBe(30);
    // Sampled (a third of the users here): an item with too few gaps in the sample is read in full.
    expect((await membershipPeriods(t.db, asOf, 1)).get('m1')).toBe(30);
    // Samples are sized in payers: A and C paid, B did not.
    const share = await payerShare(t.db, asOf);
    expect(share).toEqual({ users: 3, share: 2 / 3 });
    expect(payerSampleFraction(share, 1)).toBeCloseTo(0.5, 10);
    expect(payerSampleFraction({ users: 1_000_000, share: 0.1 }, 25_000)).toBeCloseTo(0.25, 10);
    expect(payerSampleFraction(share, 10)).toBe(1);
    const c = (await featuresAsOf(t.db, { asOf, seqFrom: 0, seqTo: 1e9, periods })).find((r) => r.userId === 'C')!;
    expect(c.values[FEATURE_NAMES.indexOf('membership_active')]).toBe(0); // last paid 35 days ago
    expect(c.values[FEATURE_NAMES.indexOf('renewals')]).toBe(2);
  });
});
