/** Issue #12 part 1: what real exports carry is accepted; what is wrong is refused, naming the field. */
import { describe, expect, it } from 'vitest';
import { majorToMinor, minorUnitExponent } from '../../../src/domain/currency.js';
import { parseEvent, toRecords } from '../../../src/domain/events.js';
import { resolveTimestamp } from '../../../src/domain/local-time.js';

const view = { id: 'e1', type: 'view', user_id: 'u1', occurred_at: '2026-01-01T00:00:00Z', item_id: 'i1' };
const purchase = { ...view, type: 'purchase', amount_minor: 19900, currency: 'CNY' };

const issue = (raw: unknown) => {
  const r = parseEvent(raw);
  return r.ok ? null : r.issues[0]!;
};
const ok = (raw: unknown) => {
  const r = parseEvent(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return toRecords(r.event);
};

describe('item_type is open text', () => {
  it('stores other types as given (trimmed) and keeps the known four, case-folded', () => {
    expect(ok({ ...view, item: { item_type: '  live class ' } }).item!.itemType).toBe('live class');
    expect(ok({ ...view, item: { item_type: 'e-book' } }).item!.itemType).toBe('e-book');
    expect(ok({ ...view, item: { item_type: 'Membership' } }).item!.itemType).toBe('membership');
    expect(ok({ ...view, item: { item_type: 'COURSE' } }).item!.itemType).toBe('course');
  });
  it('refuses more than 40 characters, empty text and control characters', () => {
    expect(issue({ ...view, item: { item_type: 'x'.repeat(41) } })).toEqual({ field: 'item.item_type', message: 'must be at most 40 characters' });
    expect(ok({ ...view, item: { item_type: 'x'.repeat(40) } }).item!.itemType).toHaveLength(40);
    expect(issue({ ...view, item: { item_type: '   ' } })).toEqual({ field: 'item.item_type', message: 'must not be empty' });
    expect(issue({ ...view, item: { item_type: 'bun\u0000dle' } })).toEqual({ field: 'item.item_type', message: 'must not contain control characters' });
  });
});

describe('ids', () => {
  it('take inner spaces and any printable text, trimmed, up to 200 characters', () => {
    const r = ok({ ...view, id: ' order 42 ', user_id: 'Ada Lovelace', item_id: 'Course 101 · 职场' });
    expect([r.event.eventId, r.event.userId, r.event.itemId]).toEqual(['order 42', 'Ada Lovelace', 'Course 101 · 职场']);
    expect(ok({ ...view, item_id: 'i'.repeat(200) }).event.itemId).toHaveLength(200);
    expect(issue({ ...view, item_id: 'i'.repeat(201) })).toEqual({ field: 'item_id', message: 'must be at most 200 characters' });
  });
  it('refuse NUL and other control characters in every id, naming it', () => {
    expect(issue({ ...view, id: 'e\u00001' })).toEqual({ field: 'id', message: 'must not contain control characters' });
    expect(issue({ ...view, user_id: 'u\u00001' })).toEqual({ field: 'user_id', message: 'must not contain control characters' });
    expect(issue({ ...view, item_id: 'tab\there' })).toEqual({ field: 'item_id', message: 'must not contain control characters' });
    expect(issue({ ...view, type: 'lesson_progress', lesson_id: 'l\u007f', percent: 5 })).toEqual({ field: 'lesson_id', message: 'must not contain control characters' });
    expect(issue({ ...view, item_id: '   ' })).toEqual({ field: 'item_id', message: 'must not be empty' });
  });
});

describe('quantity', () => {
  it('is up to 1,000,000 and refunds and renewals may carry it', () => {
    expect(ok({ ...purchase, quantity: 1_000_000 }).event.quantity).toBe(1_000_000);
    expect(issue({ ...purchase, quantity: 1_000_001 })).toEqual({ field: 'quantity', message: 'must be at most 1,000,000' });
    expect(ok({ ...purchase, type: 'refund', quantity: 2 }).event.quantity).toBe(2);
    expect(ok({ ...purchase, type: 'renewal', quantity: 3 }).event.quantity).toBe(3);
    expect(ok({ ...purchase, type: 'refund' }).event.quantity).toBeNull();
    expect(issue({ ...purchase, type: 'refund', quantity: 0 })).toEqual({ field: 'quantity', message: 'must be at least 1' });
    expect(issue({ ...view, type: 'subscription_cancel', quantity: 1 })).toMatchObject({ message: 'unknown field(s): quantity' });
  });
});

describe('amount in major units', () => {
  it('converts by the ISO 4217 exponent: JPY 0, CNY 2, KWD 3', () => {
    expect(minorUnitExponent('JPY')).toBe(0);
    expect(minorUnitExponent('CNY')).toBe(2);
    expect(minorUnitExponent('KWD')).toBe(3);
    expect(minorUnitExponent('IQD')).toBe(3); // CLDR (Intl) says 0; ISO 4217 says 3
    const minor = (amount: unknown, currency: string) => ok({ ...view, type: 'purchase', amount, currency }).event.amountMinor;
    expect(minor('199.00', 'CNY')).toBe(19900);
    expect(minor('199.9', 'CNY')).toBe(19990);
    expect(minor('1500', 'JPY')).toBe(1500);
    expect(minor('1.250', 'KWD')).toBe(1250);
    expect(minor('0.29', 'USD')).toBe(29); // 0.29 * 100 is 28.999999999999996 in floating point
    expect(minor(19.99, 'USD')).toBe(1999);
  });
  it('refuses more decimals than the currency has, bad numbers, and a missing currency', () => {
    expect(issue({ ...view, type: 'purchase', amount: '1500.5', currency: 'JPY' })).toEqual({ field: 'amount', message: '1500.5 has more decimals than JPY has (0: it has no minor unit)' });
    expect(issue({ ...view, type: 'purchase', amount: '1.2345', currency: 'KWD' })).toMatchObject({ field: 'amount', message: expect.stringMatching(/more decimals than KWD has \(3\)/) });
    expect(issue({ ...view, type: 'purchase', amount: '-5', currency: 'CNY' })).toMatchObject({ field: 'amount', message: expect.stringMatching(/non-negative decimal/) });
    expect(issue({ ...view, type: 'purchase', amount: '1,99', currency: 'CNY' })).toMatchObject({ field: 'amount' });
    expect(issue({ ...view, type: 'purchase', amount: '199.00' })).toMatchObject({ field: 'currency', message: expect.stringMatching(/required with amount/) });
    expect(majorToMinor('1', 'XAU')).toMatchObject({ ok: false, message: expect.stringMatching(/no minor unit/) });
  });
  it('given with amount_minor, both must agree', () => {
    expect(ok({ ...purchase, amount: '199.00' }).event.amountMinor).toBe(19900);
    expect(issue({ ...purchase, amount: '190.00' })).toEqual({
      field: 'amount',
      message: '190.00 CNY is 19000 in minor units, but amount_minor says 19900: give one, or two that agree',
    });
  });
  it('is refused on types without money', () => {
    expect(issue({ ...view, amount: '1.00', currency: 'CNY' })).toMatchObject({ message: expect.stringMatching(/unknown field\(s\): .*amount/) });
  });
});

describe('timestamps without an offset', () => {
  it('pass through with an offset, and say to use --timezone without one', () => {
    expect(resolveTimestamp('2025-01-03T10:00:00+08:00', undefined)).toEqual({ ok: true, iso: '2025-01-03T10:00:00+08:00' });
    expect(resolveTimestamp('2025-01-03 10:00:00+0800', undefined)).toEqual({ ok: true, iso: '2025-01-03T10:00:00+08:00' });
    expect(resolveTimestamp('2025-01-03 10:00:00', undefined)).toMatchObject({ ok: false, message: expect.stringMatching(/no time zone offset.*--timezone/) });
    expect(resolveTimestamp('yesterday', 'Europe/London')).toBeNull();
  });
  it('are local time in the zone given, across DST', () => {
    expect(resolveTimestamp('2025-01-15 10:00:00', 'Europe/London')).toEqual({ ok: true, iso: '2025-01-15T10:00:00Z' });
    expect(resolveTimestamp('2025-07-15T10:00:00', 'Europe/London')).toEqual({ ok: true, iso: '2025-07-15T09:00:00Z' });
    expect(resolveTimestamp('2025-07-15 10:00', 'Asia/Shanghai')).toEqual({ ok: true, iso: '2025-07-15T02:00:00Z' });
    expect(resolveTimestamp('2025-07-15', 'America/New_York')).toEqual({ ok: true, iso: '2025-07-15T04:00:00Z' });
    expect(resolveTimestamp('2025-07-15 10:00:00.25', 'UTC')).toEqual({ ok: true, iso: '2025-07-15T10:00:00.250Z' });
    // 01:30 happens twice on 2025-10-26 in London: the earlier (BST) instant.
    expect(resolveTimestamp('2025-10-26 01:30:00', 'Europe/London')).toEqual({ ok: true, iso: '2025-10-26T00:30:00Z' });
    // 01:30 never happens on 2025-03-30 in London.
    expect(resolveTimestamp('2025-03-30 01:30:00', 'Europe/London')).toMatchObject({ ok: false, message: expect.stringMatching(/does not exist in Europe\/London/) });
    expect(resolveTimestamp('2025-02-30 10:00:00', 'UTC')).toMatchObject({ ok: false, message: expect.stringMatching(/not a valid date/) });
  });
});
