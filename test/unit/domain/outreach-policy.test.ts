import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/domain/errors.js';
import {
  channelForTier,
  decide,
  isHoldout,
  isValidTimeZone,
  parseClock,
  quietHoursDelay,
  type PolicyContext,
  type PolicyUser,
  type QuietHours,
} from '../../../src/domain/outreach-policy.js';

const NIGHT: QuietHours = { start: '22:00', end: '08:00' };
const LUNCH: QuietHours = { start: '13:00', end: '14:00' };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string): Date => new Date(iso);

/** Local wall time of an instant in a zone, read independently of the code under test. */
function wall(d: Date, timeZone: string | null): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timeZone ?? 'UTC',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  })
    .format(d)
    .replace(',', '');
}

/** Milliseconds since local midnight. */
function localTimeOfDay(d: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(d);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  return get('hour') * HOUR + get('minute') * 60_000 + get('second') * 1000 + (((d.getTime() % 1000) + 1000) % 1000);
}

function inside(d: Date, timeZone: string, startMin: number, endMin: number): boolean {
  const tod = localTimeOfDay(d, timeZone);
  const s = startMin * 60_000;
  const e = endMin * 60_000;
  return s < e ? tod >= s && tod < e : tod >= s || tod < e;
}

const clock = (min: number): string =>
  `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

describe('channelForTier', () => {
  it('maps high → coupon, medium → email, low → none', () => {
    expect(channelForTier('high')).toBe('coupon');
    expect(channelForTier('medium')).toBe('email');
    expect(channelForTier('low')).toBe('none');
  });
});

describe('parseClock', () => {
  it('reads HH:MM as minutes after midnight', () => {
    expect(parseClock('00:00')).toBe(0);
    expect(parseClock('08:00')).toBe(480);
    expect(parseClock('22:30')).toBe(1350);
    expect(parseClock('23:59')).toBe(1439);
  });

  it.each(['24:00', '8:00', '08:60', '0800', '08:00:00', ' 08:00', '', 'ab:cd', '-1:00', '08:0'])(
    'rejects %j with a message naming the value and the form',
    (s) => {
      expect(() => parseClock(s)).toThrow(ValidationError);
      expect(() => parseClock(s)).toThrow(`invalid time of day ${JSON.stringify(s)}: expected HH:MM`);
    },
  );
});

describe('isHoldout', () => {
  const ids = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));
  const formats: Record<string, (i: number) => string> = {
    numeric: (i) => String(i),
    prefixed: (i) => `u${i}`,
    padded: (i) => `user_${String(i).padStart(8, '0')}`,
    uuidLike: (i) => `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}-4b1d-8000-${String(i).padStart(12, '0')}`,
  };

  for (const [name, f] of Object.entries(formats)) {
    it(`holds out 10% ± 1% and 50% ± 1% of 100k ${name} ids`, () => {
      const all = ids(100_000, f);
      for (const fraction of [0.1, 0.5]) {
        const held = all.filter((id) => isHoldout(id, 'winback-2025', fraction)).length;
        expect(Math.abs(held / all.length - fraction)).toBeLessThan(0.01);
      }
    });
  }

  it('is stable: the same ids fall in the holdout on every run (golden count and members)', () => {
    // Pinned so that a change of hash, key layout or salt handling, which would silently
    // reshuffle every running campaign's holdout, fails here.
    const all = ids(100_000, formats.padded!);
    const held = all.filter((id) => isHoldout(id, 'winback-2025', 0.1));
    expect(held.length).toBe(GOLDEN_COUNT);
    expect(held.slice(0, 5)).toEqual(GOLDEN_FIRST);
  });

  it('is deterministic and nested: raising the fraction only adds users', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (id, salt, a, b) => {
        expect(isHoldout(id, salt, a)).toBe(isHoldout(id, salt, a));
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (isHoldout(id, salt, lo)) expect(isHoldout(id, salt, hi)).toBe(true);
      }),
      { seed: 4, numRuns: 500 },
    );
  });

  it('draws independent holdouts for different campaign salts (overlap ≈ f²)', () => {
    const all = ids(100_000, formats.padded!);
    const both = all.filter((id) => isHoldout(id, 'spring', 0.1) && isHoldout(id, 'autumn', 0.1)).length;
    // Independent draws overlap on 1% ± 3 standard errors (sd ≈ 0.03%).
    expect(Math.abs(both / all.length - 0.01)).toBeLessThan(0.001);
  });

  it('treats fraction 0 as nobody and 1 as everybody, and rejects others', () => {
    expect(isHoldout('u1', 's', 0)).toBe(false);
    expect(isHoldout('u1', 's', 1)).toBe(true);
    expect(() => isHoldout('u1', 's', 1.1)).toThrow(RangeError);
    expect(() => isHoldout('u1', 's', -0.1)).toThrow(RangeError);
    expect(() => isHoldout('u1', 's', Number.NaN)).toThrow(/between 0 and 1/);
  });
});

// Computed once from the implementation and pinned (see the stability test).
const GOLDEN_COUNT = 9_877;
const GOLDEN_FIRST = ['user_00000008', 'user_00000009', 'user_00000027', 'user_00000037', 'user_00000040'];

describe('quietHoursDelay', () => {
  it('returns now unchanged outside quiet hours', () => {
    const now = at('2024-06-01T12:00:00.123Z');
    expect(quietHoursDelay(now, null, NIGHT).getTime()).toBe(now.getTime());
    expect(quietHoursDelay(at('2024-06-01T08:00:00Z'), 'UTC', NIGHT).toISOString()).toBe('2024-06-01T08:00:00.000Z');
    expect(quietHoursDelay(at('2024-06-01T21:59:59.999Z'), 'UTC', NIGHT).toISOString()).toBe('2024-06-01T21:59:59.999Z');
  });

  it('delays to the end of a window that crosses midnight', () => {
    expect(quietHoursDelay(at('2024-06-01T22:00:00Z'), null, NIGHT).toISOString()).toBe('2024-06-02T08:00:00.000Z');
    expect(quietHoursDelay(at('2024-06-01T23:30:15Z'), 'UTC', NIGHT).toISOString()).toBe('2024-06-02T08:00:00.000Z');
    expect(quietHoursDelay(at('2024-06-02T03:00:00Z'), 'UTC', NIGHT).toISOString()).toBe('2024-06-02T08:00:00.000Z');
    // Year end: the next local day is in the next year.
    expect(quietHoursDelay(at('2024-12-31T23:00:00Z'), 'UTC', NIGHT).toISOString()).toBe('2025-01-01T08:00:00.000Z');
  });

  it('delays to the end of a window that does not cross midnight', () => {
    expect(quietHoursDelay(at('2024-06-01T13:00:00Z'), null, LUNCH).toISOString()).toBe('2024-06-01T14:00:00.000Z');
    expect(quietHoursDelay(at('2024-06-01T13:59:00Z'), null, LUNCH).toISOString()).toBe('2024-06-01T14:00:00.000Z');
    expect(quietHoursDelay(at('2024-06-01T14:00:00Z'), null, LUNCH).toISOString()).toBe('2024-06-01T14:00:00.000Z');
    expect(quietHoursDelay(at('2024-06-01T12:59:00Z'), null, LUNCH).toISOString()).toBe('2024-06-01T12:59:00.000Z');
  });

  it('treats start = end as no quiet hours', () => {
    const now = at('2024-06-01T03:00:00Z');
    expect(quietHoursDelay(now, null, { start: '22:00', end: '22:00' }).getTime()).toBe(now.getTime());
  });

  it('uses the user’s zone: Asia/Shanghai is UTC+8 with no DST today', () => {
    // 15:30Z is 23:30 in Shanghai → 08:00 local next day = 00:00Z.
    expect(quietHoursDelay(at('2024-06-01T15:30:00Z'), 'Asia/Shanghai', NIGHT).toISOString()).toBe('2024-06-02T00:00:00.000Z');
    // 03:00Z is 11:00 in Shanghai: not quiet, though it would be in UTC.
    expect(quietHoursDelay(at('2024-06-01T03:00:00Z'), 'Asia/Shanghai', NIGHT).toISOString()).toBe('2024-06-01T03:00:00.000Z');
  });

  it('falls back to UTC for null, empty and unknown zones', () => {
    for (const tz of [null, '', 'Mars/Olympus_Mons', 'not a zone']) {
      expect(quietHoursDelay(at('2024-06-01T23:00:00Z'), tz, NIGHT).toISOString()).toBe('2024-06-02T08:00:00.000Z');
    }
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
  });

  it('rejects malformed quiet hours and invalid dates', () => {
    expect(() => quietHoursDelay(at('2024-06-01T23:00:00Z'), null, { start: '22h', end: '08:00' })).toThrow(ValidationError);
    expect(() => quietHoursDelay(new Date(Number.NaN), null, NIGHT)).toThrow(RangeError);
  });

  describe('DST in America/New_York', () => {
    const NY = 'America/New_York';
    // 2024-03-10: 02:00 EST (07:00Z) jumps to 03:00 EDT. 2024-11-03: 02:00 EDT (06:00Z) falls back to 01:00 EST.

    it('spring forward: a night window is one real hour shorter', () => {
      const now = at('2024-03-10T04:00:00Z'); // 23:00 EST on the 9th
      const r = quietHoursDelay(now, NY, NIGHT);
      expect(r.toISOString()).toBe('2024-03-10T12:00:00.000Z'); // 08:00 EDT
      expect(wall(r, NY)).toBe('2024-03-10 08:00:00');
      expect(r.getTime() - now.getTime()).toBe(9 * HOUR - HOUR);
    });

    it('spring forward: an end inside the gap resolves to the transition (local 03:00)', () => {
      const r = quietHoursDelay(at('2024-03-10T04:00:00Z'), NY, { start: '22:00', end: '02:30' });
      expect(r.toISOString()).toBe('2024-03-10T07:00:00.000Z');
      expect(wall(r, NY)).toBe('2024-03-10 03:00:00');
    });

    it('spring forward: the jump itself can carry the clock out of the window', () => {
      // 01:45 EST; window 01:30–02:30; at 07:00Z the clock reads 03:00, past the window.
      const r = quietHoursDelay(at('2024-03-10T06:45:00Z'), NY, { start: '01:30', end: '02:30' });
      expect(r.toISOString()).toBe('2024-03-10T07:00:00.000Z');
    });

    it('spring forward: a window wholly inside the gap never applies', () => {
      const now = at('2024-03-10T07:00:00Z'); // 03:00 EDT
      expect(quietHoursDelay(now, NY, { start: '02:00', end: '02:30' }).getTime()).toBe(now.getTime());
    });

    it('fall back: a night window is one real hour longer', () => {
      const now = at('2024-11-03T03:00:00Z'); // 23:00 EDT on the 2nd
      const r = quietHoursDelay(now, NY, NIGHT);
      expect(r.toISOString()).toBe('2024-11-03T13:00:00.000Z'); // 08:00 EST
      expect(wall(r, NY)).toBe('2024-11-03 08:00:00');
      expect(r.getTime() - now.getTime()).toBe(10 * HOUR);
    });

    it('fall back: an end in the repeated hour resolves to its first occurrence', () => {
      // 00:45 EDT, window 00:00–01:30: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
      const r = quietHoursDelay(at('2024-11-03T04:45:00Z'), NY, { start: '00:00', end: '01:30' });
      expect(r.toISOString()).toBe('2024-11-03T05:30:00.000Z');
    });

    it('fall back: the clock jumping back out of the window ends it at the transition', () => {
      // 01:45 EDT, window 01:30–03:00: at 06:00Z the clock reads 01:00 EST, outside.
      const r = quietHoursDelay(at('2024-11-03T05:45:00Z'), NY, { start: '01:30', end: '03:00' });
      expect(r.toISOString()).toBe('2024-11-03T06:00:00.000Z');
      expect(wall(r, NY)).toBe('2024-11-03 01:00:00');
      // Back inside on the second pass through 01:30–02:00 (EST), it runs to 03:00 EST.
      expect(quietHoursDelay(at('2024-11-03T06:45:00Z'), NY, { start: '01:30', end: '03:00' }).toISOString()).toBe(
        '2024-11-03T08:00:00.000Z',
      );
    });
  });

  describe('DST in Asia/Shanghai (China observed DST 1986–1991)', () => {
    const SH = 'Asia/Shanghai';
    it('spring forward on 1988-04-17 (02:00 CST → 03:00 CDT at 18:00Z)', () => {
      const now = at('1988-04-16T15:00:00Z'); // 23:00 CST
      const r = quietHoursDelay(now, SH, NIGHT);
      expect(r.toISOString()).toBe('1988-04-16T23:00:00.000Z'); // 08:00 CDT (UTC+9)
      expect(r.getTime() - now.getTime()).toBe(8 * HOUR);
    });
    it('fall back on 1988-09-11 (02:00 CDT → 01:00 CST at 17:00Z)', () => {
      const now = at('1988-09-10T14:00:00Z'); // 23:00 CDT
      const r = quietHoursDelay(now, SH, NIGHT);
      expect(r.toISOString()).toBe('1988-09-11T00:00:00.000Z'); // 08:00 CST (UTC+8)
      expect(r.getTime() - now.getTime()).toBe(10 * HOUR);
    });
  });

  it('survives a skipped calendar day (Pacific/Apia jumped from 2011-12-29 to 2011-12-31)', () => {
    // 23:00 on the 29th (UTC−10) = 09:00Z on the 30th; the next local 08:00 is on the 31st (UTC+14).
    const now = at('2011-12-30T09:00:00Z');
    const r = quietHoursDelay(now, 'Pacific/Apia', NIGHT);
    expect(wall(r, 'Pacific/Apia')).toBe('2011-12-31 08:00:00');
    expect(r.toISOString()).toBe('2011-12-30T18:00:00.000Z');
  });

  const ZONES = [
    'UTC',
    'America/New_York',
    'America/Los_Angeles',
    'America/St_Johns',
    'America/Sao_Paulo',
    'Europe/London',
    'Europe/Berlin',
    'Asia/Shanghai',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'Australia/Lord_Howe',
    'Pacific/Chatham',
    'Pacific/Apia',
  ];

  /** The properties every answer must have, whatever the zone and window. */
  function checkAnswer(now: Date, zone: string, startMin: number, endMin: number): void {
    const r = quietHoursDelay(now, zone, { start: clock(startMin), end: clock(endMin) });
    const wait = r.getTime() - now.getTime();
    expect(wait).toBeGreaterThanOrEqual(0);
    if (startMin === endMin) {
      expect(wait).toBe(0);
      return;
    }
    expect(inside(r, zone, startMin, endMin)).toBe(false);
    // Earliest: everything between now and the answer is quiet (sampled, plus the last ms).
    if (wait > 0) {
      for (let k = 0; k < 16; k++) {
        expect(inside(new Date(now.getTime() + Math.floor((wait * k) / 16)), zone, startMin, endMin)).toBe(true);
      }
      expect(inside(new Date(r.getTime() - 1), zone, startMin, endMin)).toBe(true);
    }
    // Never longer than the window plus the largest DST shift (1 h).
    const windowMs = ((((endMin - startMin) % 1440) + 1440) % 1440) * 60_000;
    expect(wait).toBeLessThanOrEqual(windowMs + HOUR);
  }

  it('property: never inside the window, never before now, earliest, at most window + 1 h later', () => {
    fc.assert(
      fc.property(
        fc.date({ min: at('2000-01-01T00:00:00Z'), max: at('2037-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: 0, max: 1439 }),
        fc.integer({ min: 0, max: 1439 }),
        (now, zone, s, e) => checkAnswer(now, zone, s, e),
      ),
      { seed: 20240310, numRuns: 400 },
    );
  });

  it('property: the same, concentrated within a day of DST transitions', () => {
    const transitions: Array<[string, string]> = [
      ['America/New_York', '2024-03-10T07:00:00Z'],
      ['America/New_York', '2024-11-03T06:00:00Z'],
      ['Europe/London', '2024-03-31T01:00:00Z'],
      ['Europe/London', '2024-10-27T01:00:00Z'],
      ['Australia/Lord_Howe', '2024-04-06T15:00:00Z'], // 30-minute shift
      ['Australia/Lord_Howe', '2024-10-05T15:30:00Z'],
      ['Asia/Shanghai', '1988-04-16T18:00:00Z'],
      ['Asia/Shanghai', '1988-09-10T17:00:00Z'],
      ['Pacific/Apia', '2011-12-30T10:00:00Z'], // a whole day skipped
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...transitions),
        fc.integer({ min: -DAY, max: DAY }),
        fc.integer({ min: 0, max: 95 }),
        fc.integer({ min: 0, max: 95 }),
        ([zone, iso], delta, s, e) => checkAnswer(new Date(at(iso).getTime() + delta), zone, s * 15, e * 15),
      ),
      { seed: 20241103, numRuns: 600 },
    );
  });
});

describe('decide', () => {
  const NOW = at('2024-06-01T12:00:00Z');
  const SALT = 'winback-2025';

  const user = (o: Partial<PolicyUser> = {}): PolicyUser => ({
    userId: 'u-1',
    tier: 'high',
    email: 'reader@example.com',
    unsubscribed: false,
    timeZone: 'UTC',
    lastMessageAt: null,
    ...o,
  });
  const ctx = (o: Partial<PolicyContext> = {}): PolicyContext => ({
    now: NOW,
    campaignSalt: SALT,
    holdoutFraction: 0.1,
    frequencyCapDays: 14,
    quiet: NIGHT,
    paused: false,
    ...o,
  });
  /** The first ids of the form u-<i> on each side of the holdout split. */
  const firstId = (held: boolean): string => {
    for (let i = 0; ; i++) if (isHoldout(`u-${i}`, SALT, 0.1) === held) return `u-${i}`;
  };
  const treatedId = firstId(false);
  const heldId = firstId(true);

  it('sends a coupon to an eligible high-tier user and an email to a medium-tier one, now', () => {
    expect(decide(user({ userId: treatedId }), ctx())).toEqual({ action: 'send', channel: 'coupon', scheduledAt: NOW });
    expect(decide(user({ userId: treatedId, tier: 'medium' }), ctx())).toEqual({ action: 'send', channel: 'email', scheduledAt: NOW });
  });

  it('delays a send to the end of quiet hours in the user’s zone', () => {
    // 12:00Z is 20:00 in Shanghai (fine) but 23:00 in Pacific/Noumea (UTC+11, quiet).
    expect(decide(user({ userId: treatedId, timeZone: 'Asia/Shanghai' }), ctx())).toMatchObject({ action: 'send', scheduledAt: NOW });
    expect(decide(user({ userId: treatedId, timeZone: 'Pacific/Noumea' }), ctx())).toEqual({
      action: 'send',
      channel: 'coupon',
      scheduledAt: at('2024-06-01T21:00:00Z'), // 08:00 in Nouméa
    });
  });

  it('holds out a hashed share of eligible users, with the time they would have been sent', () => {
    expect(decide(user({ userId: heldId }), ctx())).toEqual({ action: 'holdout', channel: 'coupon', scheduledAt: NOW });
    expect(decide(user({ userId: heldId, tier: 'medium', timeZone: 'Pacific/Noumea' }), ctx())).toEqual({
      action: 'holdout',
      channel: 'email',
      scheduledAt: at('2024-06-01T21:00:00Z'),
    });
  });

  it('skips everyone while paused, holdout included', () => {
    expect(decide(user({ userId: treatedId }), ctx({ paused: true }))).toEqual({ action: 'skip', reason: 'paused' });
    expect(decide(user({ userId: heldId }), ctx({ paused: true }))).toEqual({ action: 'skip', reason: 'paused' });
    expect(decide(user({ tier: 'low', unsubscribed: true }), ctx({ paused: true }))).toEqual({ action: 'skip', reason: 'paused' });
  });

  it('skips low tier, unsubscribed and email-less users, in that order', () => {
    expect(decide(user({ tier: 'low', unsubscribed: true, email: null }), ctx())).toEqual({ action: 'skip', reason: 'low_tier' });
    expect(decide(user({ unsubscribed: true, email: null }), ctx())).toEqual({ action: 'skip', reason: 'unsubscribed' });
    expect(decide(user({ email: null }), ctx())).toEqual({ action: 'skip', reason: 'no_email' });
    expect(decide(user({ email: '  ' }), ctx())).toEqual({ action: 'skip', reason: 'no_email' });
  });

  it('applies the frequency cap to messages within the cap, and to ones still scheduled', () => {
    const cap = (last: Date, days = 14) => decide(user({ userId: treatedId, lastMessageAt: last }), ctx({ frequencyCapDays: days }));
    expect(cap(new Date(NOW.getTime() - 14 * DAY + 1))).toEqual({ action: 'skip', reason: 'frequency_cap' });
    expect(cap(new Date(NOW.getTime() - 14 * DAY))).toMatchObject({ action: 'send' });
    expect(cap(new Date(NOW.getTime() + HOUR))).toEqual({ action: 'skip', reason: 'frequency_cap' });
    expect(cap(new Date(NOW.getTime() - HOUR), 0)).toMatchObject({ action: 'send' });
  });

  it('filters eligibility before the split: ineligible users are never holdout', () => {
    expect(decide(user({ userId: heldId, unsubscribed: true }), ctx())).toEqual({ action: 'skip', reason: 'unsubscribed' });
    expect(decide(user({ userId: heldId, lastMessageAt: NOW }), ctx())).toEqual({ action: 'skip', reason: 'frequency_cap' });
    // Even with everyone held out.
    expect(decide(user({ email: null }), ctx({ holdoutFraction: 1 }))).toEqual({ action: 'skip', reason: 'no_email' });
  });

  it('makes the holdout a uniform sample of the eligible, independent of the filters', () => {
    // 40k users with filters assigned by a pattern that is independent of the hash.
    let eligible = 0;
    let held = 0;
    for (let i = 0; i < 40_000; i++) {
      const d = decide(
        user({
          userId: `reader-${i}`,
          tier: (['high', 'medium', 'low'] as const)[i % 3]!,
          unsubscribed: i % 7 === 0,
          email: i % 11 === 0 ? null : `r${i}@example.com`,
        }),
        ctx(),
      );
      if (d.action === 'skip') continue;
      eligible++;
      if (d.action === 'holdout') held++;
    }
    expect(eligible).toBeGreaterThan(20_000);
    expect(Math.abs(held / eligible - 0.1)).toBeLessThan(0.01);
  });

  it('rejects a bad context up front, whoever the user is', () => {
    const low = user({ tier: 'low' });
    expect(() => decide(low, ctx({ holdoutFraction: 1.5 }))).toThrow(RangeError);
    expect(() => decide(low, ctx({ frequencyCapDays: -1 }))).toThrow(RangeError);
    expect(() => decide(low, ctx({ frequencyCapDays: Number.POSITIVE_INFINITY }))).toThrow(RangeError);
    expect(() => decide(low, ctx({ quiet: { start: '25:00', end: '08:00' } }))).toThrow(ValidationError);
    expect(() => decide(low, ctx({ now: new Date(Number.NaN) }))).toThrow(RangeError);
  });
});
