/** Issue #15 finding 3: control characters in event text are refused at the edge, naming the field. */
import { describe, expect, it } from 'vitest';
import { parseEvent, parseEventBody } from '../../../src/domain/events.js';

const view = { id: 'e1', type: 'view', user_id: 'u1', occurred_at: '2026-01-01T00:00:00Z', item_id: 'i1' };
const purchase = { ...view, type: 'purchase', amount_minor: 100, currency: 'CNY' };

const fieldOf = (raw: unknown): string | null => {
  const r = parseEvent(raw);
  return r.ok ? null : r.issues[0]!.field;
};

describe('text fields and control characters', () => {
  it('refuses NUL in every text field and names the field', () => {
    expect(fieldOf({ ...view, user: { name: 'A\u0000da' } })).toBe('user.name');
    expect(fieldOf({ ...view, item: { title: 'T\u0000' } })).toBe('item.title');
    expect(fieldOf({ ...view, item: { category: '\u0000' } })).toBe('item.category');
    expect(fieldOf({ ...view, item: { tags: ['ok', 'b\u0000d'] } })).toBe('item.tags[1]');
    expect(fieldOf({ ...view, item: { description: 'a\u0000b' } })).toBe('item.description');
    expect(fieldOf({ ...view, item: { url: 'https://example.com/\u0000' } })).toBe('item.url');
    expect(fieldOf({ ...purchase, coupon_code: 'SAVE\u000010' })).toBe('coupon_code');
    expect(fieldOf({ ...view, type: 'coupon_redeemed', coupon_code: '\u0000' })).toBe('coupon_code');
    expect(fieldOf({ ...view, user: { email: 'a\u0000@example.com' } })).toBe('user.email');
  });

  it('refuses other control characters (C0, DEL, C1) and says why', () => {
    for (const c of ['\u0001', '\u0007', '\u001b', '\u007f', '\u0085', '\u009f']) {
      const r = parseEvent({ ...view, item: { title: `a${c}b` } });
      expect(r.ok, JSON.stringify(c)).toBe(false);
      if (!r.ok) expect(r.issues[0]).toEqual({ field: 'item.title', message: 'must not contain control characters' });
    }
  });

  it('keeps tabs and line breaks where text may hold them (descriptions), nowhere else', () => {
    expect(parseEvent({ ...view, item: { description: 'line one\n\tline two\r\nthree' } }).ok).toBe(true);
    expect(fieldOf({ ...view, item: { title: 'two\nlines' } })).toBe('item.title');
    expect(fieldOf({ ...view, user: { name: 'tab\there' } })).toBe('user.name');
    // Ordinary text, CJK and emoji stay valid.
    expect(parseEvent({ ...view, user: { name: '李雷 🙂' }, item: { title: '职场沟通30讲', tags: ['沟通'] } }).ok).toBe(true);
  });

  it('names the event in a batch', () => {
    const r = parseEventBody([view, { ...view, id: 'e2', user: { name: '\u0000' } }]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.field).toBe('[1].user.name');
  });
});
