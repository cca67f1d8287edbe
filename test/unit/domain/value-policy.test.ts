import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, chooseOffer, couponDiscount, explorationOffer, explorationPeriod, type Candidate, type OfferChoice } from '../../../src/domain/value-policy.js';

const settings = { coupon: { kind: 'percent' as const, value: 20 }, emailCostMinor: 0 };

describe('chooseOffer', () => {
  it('values a coupon at uplift × order value minus the discount every redeemer gets', () => {
    // 10 000 order, 20% off: discount 2 000. Uplift 0.3 → +3 000; P(convert | coupon) 0.5 → −1 000.
    const c = chooseOffer({ coupon: { uplift: 0.3, pConvert: 0.5 }, email: { uplift: 0.05, pConvert: 0.3 }, orderValueMinor: 10_000 }, settings);
    expect(c.coupon.expectedDiscount).toBeCloseTo(1000);
    expect(c.coupon.value).toBeCloseTo(2000);
    expect(c.email.value).toBeCloseTo(500);
    expect(c).toMatchObject({ offer: 'coupon', cost: 1000 });
  });

  it('gives a sure thing nothing: they buy anyway, so a coupon only costs margin', () => {
    const c = chooseOffer({ coupon: { uplift: 0.02, pConvert: 0.95 }, email: { uplift: 0, pConvert: 0.95 }, orderValueMinor: 10_000 }, settings);
    expect(c.coupon.value).toBeCloseTo(200 - 1900);
    expect(c.offer).toBe('none');
  });

  it('prefers the email when a reminder does the job for free, and charges the email cost', () => {
    const c = chooseOffer({ coupon: { uplift: 0.1, pConvert: 0.4 }, email: { uplift: 0.1, pConvert: 0.4 }, orderValueMinor: 10_000 }, { ...settings, emailCostMinor: 50 });
    expect(c).toMatchObject({ offer: 'email', cost: 50 });
    expect(c.email.value).toBeCloseTo(950);
  });

  it('sends nothing to a sleeping dog (negative uplift)', () => {
    expect(chooseOffer({ coupon: { uplift: -0.05, pConvert: 0.1 }, email: { uplift: -0.03, pConvert: 0.1 }, orderValueMinor: 10_000 }, settings).offer).toBe('none');
  });

  it('never chooses an offer the model has too little support for, whatever its estimate', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -0.5, max: 0.9, noNaN: true }),
        fc.double({ min: -0.5, max: 0.9, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        fc.boolean(),
        (cu, eu, p, couponOk, emailOk) => {
          const c = chooseOffer({ coupon: { uplift: cu, pConvert: p, supported: couponOk }, email: { uplift: eu, pConvert: p, supported: emailOk }, orderValueMinor: 10_000 }, settings);
          if (!couponOk) expect(c.offer).not.toBe('coupon');
          if (!emailOk) expect(c.offer).not.toBe('email');
          // A supported offer with positive value is not lost because the other one is unsupported.
          if (couponOk && !emailOk && c.coupon.value > 0) expect(c.offer).toBe('coupon');
          if (emailOk && !couponOk && c.email.value > 0) expect(c.offer).toBe('email');
        },
      ),
    );
    const c = chooseOffer({ coupon: { uplift: 0.05, pConvert: 0.1 }, email: { uplift: 0.4, pConvert: 0.5, supported: false }, orderValueMinor: 10_000 }, settings);
    expect(c).toMatchObject({ offer: 'coupon', email: { supported: false } });
  });

  it('scales the expected discount by the calibration factor, in the value and the cost', () => {
    const est = { coupon: { uplift: 0.3, pConvert: 0.5 }, email: { uplift: 0.05, pConvert: 0.3 }, orderValueMinor: 10_000 };
    const c = chooseOffer(est, { ...settings, discountFactor: 0.25 });
    expect(c.coupon.expectedDiscount).toBeCloseTo(250);
    expect(c.coupon.value).toBeCloseTo(3000 - 250);
    expect(c.cost).toBeCloseTo(250);
  });

  it('discounts amount coupons by at most the order', () => {
    expect(couponDiscount({ kind: 'amount', value: 3000 }, 2000)).toBe(2000);
    expect(couponDiscount({ kind: 'percent', value: 20 }, 2000)).toBe(400);
    expect(() => couponDiscount({ kind: 'percent', value: 20 }, -1)).toThrow(/non-negative/);
  });
});

const choice = (offer: OfferChoice['offer'], value: number, discount: number, emailValue: number): OfferChoice => ({
  offer,
  value,
  cost: offer === 'coupon' ? discount : 0,
  coupon: { uplift: 0.1, value: offer === 'coupon' ? value : value - 1, expectedDiscount: discount },
  email: { uplift: 0.05, value: emailValue },
});

const candidates = fc.array(
  fc.record({
    userId: fc.string({ minLength: 1, maxLength: 6 }),
    offer: fc.constantFrom('coupon' as const, 'email' as const, 'none' as const),
    value: fc.double({ min: -1000, max: 5000, noNaN: true }),
    discount: fc.double({ min: 0, max: 3000, noNaN: true }),
    emailValue: fc.double({ min: -500, max: 2000, noNaN: true }),
    explore: fc.option(fc.constantFrom('coupon' as const, 'email' as const), { nil: undefined }),
  }),
  { maxLength: 200 },
).map((xs) => {
  // One candidate per user, as the planner gives.
  const seen = new Set<string>();
  return xs
    .filter((x) => (seen.has(x.userId) ? false : (seen.add(x.userId), true)))
    .map((x): Candidate => ({ userId: x.userId, choice: choice(x.offer, x.value, x.discount, x.emailValue), explore: x.explore }));
});

describe('allocate', () => {
  it('never spends more than the coupon budget or sends more emails than the limit (property)', () => {
    fc.assert(
      fc.property(candidates, fc.option(fc.double({ min: 0, max: 50_000, noNaN: true }), { nil: undefined }), fc.option(fc.nat(60), { nil: undefined }), (cs, budget, limit) => {
        const out = allocate(cs, { couponBudgetMinor: budget, emailLimit: limit });
        const spent = out.filter((a) => a.offer === 'coupon').reduce((s, a) => s + a.cost, 0);
        const emails = out.filter((a) => a.offer === 'email').length;
        if (budget !== undefined) expect(spent).toBeLessThanOrEqual(budget + 1e-6);
        if (limit !== undefined) expect(emails).toBeLessThanOrEqual(limit);
        expect(out).toHaveLength(cs.length);
        // Nobody gets an offer the policy (or exploration) did not want for them, except the email fallback.
        for (const a of out) {
          const c = cs.find((x) => x.userId === a.userId)!;
          const wanted = c.explore ?? c.choice.offer;
          if (a.offer === 'coupon') expect(wanted).toBe('coupon');
          if (a.offer === 'email' && wanted !== 'email') expect(a.limitedBy).toBe('budget');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('spends the budget on the highest expected value first, falling back to email', () => {
    const cs: Candidate[] = [
      { userId: 'low', choice: choice('coupon', 100, 600, 50) },
      { userId: 'high', choice: choice('coupon', 900, 600, 10) },
      { userId: 'mid', choice: choice('coupon', 500, 600, -5) },
    ];
    const out = allocate(cs, { couponBudgetMinor: 1000 });
    expect(out.map((a) => [a.userId, a.offer, a.rank, a.limitedBy])).toEqual([
      ['high', 'coupon', 1, null],
      ['mid', 'none', 2, 'budget'], // its email is worth nothing
      ['low', 'email', 3, 'budget'],
    ]);
  });

  it('does not depend on the order candidates come in', () => {
    fc.assert(
      fc.property(candidates, fc.double({ min: 0, max: 20_000, noNaN: true }), (cs, budget) => {
        const a = allocate(cs, { couponBudgetMinor: budget, emailLimit: 10 });
        const b = allocate([...cs].reverse(), { couponBudgetMinor: budget, emailLimit: 10 });
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a negative budget or a fractional limit', () => {
    expect(() => allocate([], { couponBudgetMinor: -1 })).toThrow(/budget/);
    expect(() => allocate([], { emailLimit: 1.5 })).toThrow(/limit/);
  });

  it('a coupon the budget cannot cover does not fall back to an email the model has no support for', () => {
    const c: OfferChoice = { offer: 'coupon', value: 900, cost: 500, coupon: { uplift: 0.2, value: 900, expectedDiscount: 500 }, email: { uplift: 0.3, value: 800, supported: false } };
    const [a] = allocate([{ userId: 'u1', choice: c }], { couponBudgetMinor: 100 });
    expect(a).toMatchObject({ offer: 'none', limitedBy: 'budget' });
    const [b] = allocate([{ userId: 'u1', choice: { ...c, email: { uplift: 0.3, value: 800 } } }], { couponBudgetMinor: 100 });
    expect(b).toMatchObject({ offer: 'email', limitedBy: 'budget' });
  });
});

describe('explorationOffer', () => {
  it('picks about the share asked, both offers, deterministically', () => {
    let n = 0;
    const offers = { coupon: 0, email: 0 };
    for (let i = 0; i < 20_000; i++) {
      const o = explorationOffer(`u${i}`, 'default', 'c1', 0.05);
      expect(explorationOffer(`u${i}`, 'default', 'c1', 0.05)).toBe(o);
      if (o) {
        n++;
        offers[o]++;
      }
    }
    expect(n / 20_000).toBeGreaterThan(0.045);
    expect(n / 20_000).toBeLessThan(0.055);
    expect(offers.coupon / n).toBeGreaterThan(0.4);
    expect(offers.email / n).toBeGreaterThan(0.4);
    expect(explorationOffer('u1', 'default', 'c1', 0)).toBeUndefined();
    expect(() => explorationOffer('u1', 'default', 'c1', 2)).toThrow(/between 0 and 1/);
  });
});

describe('explorationPeriod', () => {
  it('with daily cycles, a user is drawn once per cap period, so about the share asked explores per period — not per day', () => {
    const start = Date.UTC(2026, 5, 1);
    const users = 5000;
    const explored = new Set<string>();
    for (let day = 0; day < 28; day++) {
      const now = new Date(start + day * 86_400_000);
      for (let i = 0; i < users; i++) if (explorationOffer(`u${i}`, 'default', explorationPeriod(now, 14, `c${day}`), 0.05)) explored.add(`u${i}`);
    }
    // 28 days span two or three 14-day periods: at most ~3 × 5% of users, never the ~76% a per-day draw gives.
    expect(explored.size / users).toBeGreaterThan(0.08);
    expect(explored.size / users).toBeLessThan(0.16);
    let perDay = 0;
    for (let i = 0; i < users; i++) for (let day = 0; day < 28; day++) if (explorationOffer(`u${i}`, 'default', `c${day}`, 0.05)) {
      perDay++;
      break;
    }
    expect(perDay / users).toBeGreaterThan(0.7);
  });

  it('is the cycle without a cap, and the same within one period', () => {
    expect(explorationPeriod(new Date('2026-06-01T03:00:00Z'), 0, 'c1')).toBe('c1');
    const a = explorationPeriod(new Date('2026-06-01T03:00:00Z'), 14, 'c1');
    expect(explorationPeriod(new Date('2026-06-01T23:00:00Z'), 14, 'c2')).toBe(a);
    expect(explorationPeriod(new Date('2026-07-15T03:00:00Z'), 14, 'c3')).not.toBe(a);
  });
});
