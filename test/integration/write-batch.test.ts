/** writeBatch under concurrency: batches that name the same new users, some with profile fields and some without, never deadlock. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, UserRecord } from '../../src/domain/events.js';
import { writeBatch } from '../../src/store/events.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

describe('writeBatch, concurrent', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());

  const event = (userId: string, n: string): EventRecord => ({
    source: 'default', eventId: `wb-${n}`, type: 'view', userId, itemId: `item-${Number(n.split('-')[1]) % 50}`, occurredAt: new Date('2026-11-01T00:00:00Z'),
    amountMinor: null, currency: null, quantity: null, lessonId: null, percent: null, couponCode: null,
  });

  it('lets two batches crossing the same new users, profile fields on opposite ones, both commit', async () => {
    for (let round = 0; round < 5; round++) {
      const ids = Array.from({ length: 3000 }, (_, i) => `r${round}-u${i}`);
      const batch = (profileOn: 0 | 1) => {
        const users: UserRecord[] = ids.map((id, i) => (i % 2 === profileOn ? { id, email: `${id}@example.com` } : { id }));
        return { users, items: [], events: ids.map((id, i) => event(id, `${round}-${i}-${profileOn}`)) };
      };
      const [a, b] = await Promise.all([writeBatch(t.db, batch(0)), writeBatch(t.db, batch(1))]);
      expect(a.size + b.size).toBe(6000);
      const [{ n, emails }] = await t.db.query<any>(`select count(*)::int as n, count(email)::int as emails from users where id like $1`, [`r${round}-%`]);
      expect(n).toBe(3000);
      expect(emails).toBe(3000);
    }
  }, 60_000);
});
