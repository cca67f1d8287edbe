/**
 * Issue #12 part 4: the bulk write path (COPY into staging tables, one set-based merge per table)
 * gives the same rows as the single-statement path, and concurrent batches that cross the same
 * users, items and event keys in opposite orders all commit (rows are locked in one global order).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, ItemRecord, UserRecord } from '../../src/domain/events.js';
import { copyMergeBatch, writeBatch } from '../../src/store/events.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { uniq } from '../support/factories.js';

const event = (id: string, userId: string, itemId: string | null, over: Partial<EventRecord> = {}): EventRecord => ({
  source: 'default', eventId: id, type: 'view', userId, itemId, occurredAt: new Date('2026-11-01T00:00:00Z'),
  amountMinor: null, currency: null, quantity: null, lessonId: null, percent: null, couponCode: null, ...over,
});

describe('copyMergeBatch', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => t?.drop());

  it('stores what writeBatch stores (profiles merged per id, later fields win, tags, escapes), and counts each new key once', async () => {
    const rows = async (p: string) => ({
      users: await t.db.query(`select substr(id, ${p.length + 1}) as id, email, name, locale, timezone, signup_at from users where id like $1 order by id`, [`${p}%`]),
      items: await t.db.query(`select substr(id, ${p.length + 1}) as id, title, item_type, category, tags, description, price_minor, currency, url from items where id like $1 order by id`, [`${p}%`]),
      events: await t.db.query(`select substr(event_id, ${p.length + 1}) as event_id, type, substr(user_id, ${p.length + 1}) as user_id, substr(item_id, ${p.length + 1}) as item_id, amount_minor, currency, quantity, percent from events where event_id like $1 order by event_id`, [`${p}%`]),
    });
    const batchFor = (p: string) => {
      const users: UserRecord[] = [
        { id: `${p}u1`, email: 'a@example.com' },
        { id: `${p}u1`, name: 'Ada\\tLovelace "A"', signupAt: new Date('2025-01-01T00:00:00Z') },
        { id: `${p}u 2` },
      ];
      const items: ItemRecord[] = [
        { id: `${p}i1`, title: 'Line one\nline two', tags: ['a,b', 'c"d', 'e\\f'], itemType: 'live class', priceMinor: 1990, currency: 'CNY' },
        { id: `${p}i1`, description: 'tab\there' },
      ];
      const events: EventRecord[] = [
        event(`${p}e1`, `${p}u1`, `${p}i1`, { type: 'purchase', amountMinor: 1990, currency: 'CNY', quantity: 1_000_000 }),
        event(`${p}e1`, `${p}u1`, `${p}i1`),
        event(`${p}e2`, `${p}u 2`, null, { type: 'lesson_progress', percent: 55.5 }),
      ];
      return { users, items, events };
    };
    const a = await writeBatch(t.db, batchFor('sa-'));
    const b = await copyMergeBatch(t.db, batchFor('cb-'));
    expect([a.size, b.size]).toEqual([2, 2]);
    const ra = await rows('sa-');
    expect(await rows('cb-')).toEqual(ra);
    expect(ra.items[0]).toMatchObject({ title: 'Line one\nline two', tags: ['a,b', 'c"d', 'e\\f'], description: 'tab\there', item_type: 'live class' });
    expect((await copyMergeBatch(t.db, batchFor('cb-'))).size).toBe(0);
  });

  it('concurrent batches crossing the same new users, items and event keys in opposite orders all commit', async () => {
    for (let round = 0; round < 3; round++) {
      const p = uniq('cc');
      const ids = Array.from({ length: 3000 }, (_, i) => `${p}u${i}`);
      const batch = (reverse: boolean, profileOn: 0 | 1) => {
        const order = <T,>(xs: T[]) => (reverse ? [...xs].reverse() : xs);
        return {
          users: order(ids.map((id, i) => (i % 2 === profileOn ? { id, email: `${i}@example.com` } : { id }))),
          items: order(ids.map((_, i) => ({ id: `${p}i${i % 40}`, ...(i % 2 === profileOn ? { title: `T${i % 40}` } : {}) }))),
          // Half the event keys are shared by the two batches.
          events: order(ids.map((id, i) => event(i % 2 === 0 ? `${p}shared-${id}` : `${p}${profileOn}-${id}`, id, `${p}i${i % 40}`))),
        };
      };
      const [x, y] = await Promise.all([copyMergeBatch(t.db, batch(false, 0)), copyMergeBatch(t.db, batch(true, 1))]);
      expect(x.size + y.size).toBe(1500 + 1500 + 1500);
      const [{ n }] = await t.db.query<any>(`select count(*)::int as n from events where event_id like $1`, [`${p}%`]);
      expect(n).toBe(4500);
      const [{ users, emails }] = await t.db.query<any>(`select count(*)::int as users, count(email)::int as emails from users where id like $1`, [`${p}%`]);
      expect([users, emails]).toEqual([3000, 3000]);
    }
  }, 60_000);
});
