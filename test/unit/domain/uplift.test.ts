import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clusteredDifference,
  clusteredRatioMean,
  clusterSums,
  conversionRate,
  normalCdf,
  normalQuantile,
  revenuePerUser,
  upliftWithCI,
  wilsonInterval,
  zForConfidence,
} from '../../../src/domain/uplift.js';

const Z95 = 1.959963984540054;

/** |a − b| within half a unit of the 4th decimal, as published tables are rounded. */
const close4 = (a: number, b: number): void => expect(Math.abs(a - b)).toBeLessThanOrEqual(0.00005 + 1e-12);

describe('conversionRate and revenuePerUser', () => {
  it('divides, and gives NaN for an empty group', () => {
    expect(conversionRate(3, 12)).toBe(0.25);
    expect(conversionRate(0, 5)).toBe(0);
    expect(conversionRate(0, 0)).toBeNaN();
    expect(revenuePerUser(12_345, 10)).toBe(1234.5);
    expect(revenuePerUser(-500, 4)).toBe(-125); // refunds can exceed sales
    expect(revenuePerUser(0, 0)).toBeNaN();
  });

  it('rejects impossible counts with the constraint in the message', () => {
    expect(() => conversionRate(6, 5)).toThrow(/between 0 and n = 5 .*count converted users/);
    expect(() => conversionRate(-1, 5)).toThrow(RangeError);
    expect(() => conversionRate(1.5, 5)).toThrow(RangeError);
    expect(() => conversionRate(1, -5)).toThrow(/non-negative integer/);
    expect(() => revenuePerUser(Number.NaN, 5)).toThrow(RangeError);
    expect(() => revenuePerUser(10, 2.5)).toThrow(RangeError);
  });
});

describe('normalCdf and normalQuantile', () => {
  // Reference values of Φ to 16 digits (Abramowitz & Stegun 26.2, R pnorm).
  it.each([
    [0, 0.5],
    [-1, 0.15865525393145707],
    [-1.959963984540054, 0.025],
    [-3, 0.0013498980316300946],
    [-5, 2.866515718791939e-7],
    [-10, 7.619853024160527e-24],
  ])('Φ(%d) = %d', (x, p) => {
    expect(Math.abs(normalCdf(x) - p) / p).toBeLessThan(1e-8);
    expect(Math.abs(normalCdf(-x) - (1 - p))).toBeLessThan(1e-15);
  });

  it('Φ is 0 and 1 far out, and NaN for NaN', () => {
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(40)).toBe(1);
    expect(normalCdf(Number.NaN)).toBeNaN();
  });

  it.each([
    [0.5, 0],
    [0.975, 1.959963984540054],
    [0.995, 2.5758293035489004],
    [0.9, 1.2815515655446004],
    [0.025, -1.959963984540054],
    [0.01, -2.3263478740408408],
    [1e-10, -6.361340902404056],
  ])('Φ⁻¹(%d) = %d', (p, x) => {
    expect(Math.abs(normalQuantile(p) - x)).toBeLessThan(1e-9 * Math.max(1, Math.abs(x)));
  });

  it('Φ⁻¹ inverts Φ to near machine precision', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-12, max: 1 - 1e-12, noNaN: true }), (p) => {
        const back = normalCdf(normalQuantile(p));
        expect(Math.abs(back - p)).toBeLessThan(1e-14 + 1e-12 * Math.min(p, 1 - p));
      }),
      { seed: 1998, numRuns: 1000 },
    );
  });

  it('has infinite quantiles at 0 and 1 and rejects the rest', () => {
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
  });

  it('gives the two-sided critical values', () => {
    expect(zForConfidence(0.95)).toBeCloseTo(Z95, 12);
    expect(zForConfidence(0.99)).toBeCloseTo(2.5758293035489004, 12);
    expect(zForConfidence(0.9)).toBeCloseTo(1.6448536269514722, 12);
    expect(() => zForConfidence(1)).toThrow(/strictly between 0 and 1/);
    expect(() => zForConfidence(0)).toThrow(RangeError);
  });
});

describe('wilsonInterval', () => {
  it('matches a hand computation at 0/10', () => {
    // x = 0: centre = (z²/2)/(n+z²), half = z·√(z²/4)/(n+z²) = (z²/2)/(n+z²), so
    // [0, z²/(n+z²)] = [0, 3.841459/13.841459] = [0, 0.277533].
    const [lo, hi] = wilsonInterval(0, 10);
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo((Z95 * Z95) / (10 + Z95 * Z95), 12);
    expect(hi).toBeCloseTo(0.277533, 6);
  });

  it('matches a hand computation at 56/70', () => {
    // z² = 3.841459; centre = (56 + 1.920729)/73.841459 = 0.784393;
    // half = 1.959964 · √(56·14/70 + 0.960365) / 73.841459 = 1.959964 · 3.487171 / 73.841459 = 0.092560.
    const [lo, hi] = wilsonInterval(56, 70);
    expect(lo).toBeCloseTo(0.784393 - 0.09256, 5);
    expect(hi).toBeCloseTo(0.784393 + 0.09256, 5);
  });

  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat Med
  // 17:857–872, Table I, method 3 (score, no continuity correction).
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%d/%d → [%d, %d] as in Newcombe’s table', (x, n, lo, hi) => {
    const [l, u] = wilsonInterval(x, n);
    close4(l, lo);
    close4(u, hi);
  });

  it('is [NaN, NaN] for n = 0 and widens with confidence', () => {
    expect(wilsonInterval(0, 0)).toEqual([Number.NaN, Number.NaN]);
    const [l95, u95] = wilsonInterval(81, 263, 0.95);
    const [l99, u99] = wilsonInterval(81, 263, 0.99);
    expect(l99).toBeLessThan(l95);
    expect(u99).toBeGreaterThan(u95);
    expect(wilsonInterval(10, 10)[1]).toBe(1);
  });
});

describe('upliftWithCI', () => {
  // Newcombe (1998), "Interval estimation for the difference between independent
  // proportions: comparison of eleven methods", Stat Med 17:873–890, Table II, method 10.
  // Note: row (a) is 56/70 − 48/80 = 0.8 − 0.6 = 0.2000 with 0.0524 to 0.3339.
  it.each([
    ['a', 56, 70, 48, 80, 0.0524, 0.3339],
    ['b', 9, 10, 3, 10, 0.1705, 0.809],
    ['c', 6, 7, 2, 7, 0.0582, 0.8062],
    ['d', 5, 56, 0, 29, -0.0381, 0.1926],
    ['e', 0, 10, 0, 20, -0.1611, 0.2775],
    ['f', 0, 10, 0, 10, -0.2775, 0.2775],
    ['g', 10, 10, 0, 20, 0.6791, 1],
    ['h', 10, 10, 0, 10, 0.6075, 1],
  ])('example (%s) %d/%d − %d/%d → %d to %d', (_, x1, n1, x2, n2, lo, hi) => {
    const r = upliftWithCI({ n: n1, conversions: x1 }, { n: n2, conversions: x2 });
    expect(r.uplift).toBeCloseTo(x1 / n1 - x2 / n2, 12);
    close4(r.ci[0], lo);
    close4(r.ci[1], hi);
  });

  it('builds the interval from the two Wilson intervals (Newcombe eq. for method 10)', () => {
    const [l1, u1] = wilsonInterval(56, 70);
    const [l2, u2] = wilsonInterval(48, 80);
    const r = upliftWithCI({ n: 70, conversions: 56 }, { n: 80, conversions: 48 });
    expect(r.ci[0]).toBeCloseTo(0.2 - Math.sqrt((0.8 - l1) ** 2 + (u2 - 0.6) ** 2), 12);
    expect(r.ci[1]).toBeCloseTo(0.2 + Math.sqrt((u1 - 0.8) ** 2 + (0.6 - l2) ** 2), 12);
    expect(r).toMatchObject({ treatedRate: 0.8, holdoutRate: 0.6, confidence: 0.95 });
  });

  it('z² equals Pearson’s χ² of the 2×2 table (56/70 vs 48/80), p two-sided', () => {
    // By hand: N = 150, column totals 104 converted / 46 not. Expected counts 48.5333, 21.4667,
    // 55.4667, 24.5333; χ² = Σ(O − E)²/E = 7.4667² · (1/48.5333 + 1/21.4667 + 1/55.4667 + 1/24.5333) = 7.02338.
    const obs = [56, 14, 48, 32];
    const exp = [(70 * 104) / 150, (70 * 46) / 150, (80 * 104) / 150, (80 * 46) / 150];
    const chi2 = obs.reduce((s, o, i) => s + (o - exp[i]!) ** 2 / exp[i]!, 0);
    expect(chi2).toBeCloseTo(7.02338, 4);
    const r = upliftWithCI({ n: 70, conversions: 56 }, { n: 80, conversions: 48 });
    expect(r.z).toBeCloseTo(Math.sqrt(chi2), 10);
    expect(r.z).toBeCloseTo(2.65017, 5);
    // P(|Z| > 2.65017) = 2 · 0.0040225 = 0.008045 (normal table).
    expect(r.pValue).toBeCloseTo(0.008045, 5);
  });

  it('reproduces a textbook two-proportion z-test (OpenIntro Statistics, mammogram trial)', () => {
    // 500 of 44,925 deaths with mammograms vs 505 of 44,910 without; the book, with the SE
    // rounded to 0.00070, reports Z = −0.17 and a p-value of about 0.87.
    const r = upliftWithCI({ n: 44_925, conversions: 500 }, { n: 44_910, conversions: 505 });
    expect(r.uplift).toBeCloseTo(-0.00012, 5);
    expect(Math.abs(r.z - -0.17)).toBeLessThan(0.01);
    expect(Math.abs(r.pValue - 0.87)).toBeLessThan(0.01);
    expect(r.ci[0]).toBeLessThan(0);
    expect(r.ci[1]).toBeGreaterThan(0);
  });

  it('gives z = 0 and p = 1 when neither group varies', () => {
    expect(upliftWithCI({ n: 10, conversions: 0 }, { n: 20, conversions: 0 })).toMatchObject({ uplift: 0, z: 0, pValue: 1 });
    expect(upliftWithCI({ n: 5, conversions: 5 }, { n: 7, conversions: 7 })).toMatchObject({ uplift: 0, z: 0, pValue: 1 });
  });

  it('returns NaN fields, not a throw, when a group is empty', () => {
    const r = upliftWithCI({ n: 100, conversions: 12 }, { n: 0, conversions: 0 });
    expect(r.treatedRate).toBe(0.12);
    expect(r.holdoutRate).toBeNaN();
    expect(r.uplift).toBeNaN();
    expect(r.ci).toEqual([Number.NaN, Number.NaN]);
    expect(r.z).toBeNaN();
    expect(r.pValue).toBeNaN();
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({ holdoutRate: null, uplift: null, ci: [null, null] });
  });

  it('takes any confidence level and rejects bad input', () => {
    const t = { n: 70, conversions: 56 };
    const h = { n: 80, conversions: 48 };
    const c90 = upliftWithCI(t, h, 0.9).ci;
    const c99 = upliftWithCI(t, h, 0.99).ci;
    expect(c99[0]).toBeLessThan(c90[0]);
    expect(c99[1]).toBeGreaterThan(c90[1]);
    expect(() => upliftWithCI(t, h, 95)).toThrow(RangeError);
    expect(() => upliftWithCI({ n: 3, conversions: 4 }, h)).toThrow(/treated/);
    expect(() => upliftWithCI(t, { n: -1, conversions: 0 })).toThrow(/holdout/);
  });

  it('property: the interval lies in [−1, 1], contains the estimate, and flips with the groups', () => {
    const group = fc.integer({ min: 1, max: 5000 }).chain((n) => fc.record({ n: fc.constant(n), conversions: fc.integer({ min: 0, max: n }) }));
    fc.assert(
      fc.property(group, group, fc.double({ min: 0.5, max: 0.999, noNaN: true }), (t, h, conf) => {
        const r = upliftWithCI(t, h, conf);
        const [lo, hi] = r.ci;
        expect(lo).toBeGreaterThanOrEqual(-1);
        expect(hi).toBeLessThanOrEqual(1);
        expect(lo).toBeLessThanOrEqual(r.uplift + 1e-12);
        expect(hi).toBeGreaterThanOrEqual(r.uplift - 1e-12);
        expect(r.pValue).toBeGreaterThanOrEqual(0);
        expect(r.pValue).toBeLessThanOrEqual(1);
        const s = upliftWithCI(h, t, conf);
        expect(s.ci[0]).toBeCloseTo(-hi, 12);
        expect(s.ci[1]).toBeCloseTo(-lo, 12);
        expect(s.pValue).toBeCloseTo(r.pValue, 12);
      }),
      { seed: 873, numRuns: 500 },
    );
  });
});

describe('clustered ratio means and their difference', () => {
  it('matches a hand computation with users holding several rows', () => {
    // Treated users (y_u, n_u): (1,2) (0,1) (2,2) (1,1): Σy = 4, Σn = 6, m = 2/3.
    //   residuals y_u − m·n_u: −1/3, −2/3, 2/3, 1/3; Σ² = 10/9; G = 4:
    //   var = 4/3 · (10/9) / 6² = 10/243 = 0.041152263.
    // Holdout users: (0,1) (1,1) (0,2): Σy = 1, Σn = 4, m = 1/4.
    //   residuals: −1/4, 3/4, −1/2; Σ² = 0.875; G = 3: var = 3/2 · 0.875 / 4² = 0.08203125.
    // difference = 2/3 − 1/4 = 5/12; se = √(0.041152263 + 0.08203125) = 0.350975089;
    // 95%: 5/12 ± 1.959964 · 0.350975089 = [−0.271231868, 1.104565201].
    const t = clusterSums([{ y: 1, n: 2 }, { y: 0, n: 1 }, { y: 2, n: 2 }, { y: 1, n: 1 }]);
    const h = clusterSums([{ y: 0, n: 1 }, { y: 1, n: 1 }, { y: 0, n: 2 }]);
    expect(t).toEqual({ clusters: 4, n: 6, nn: 10, y: 4, yy: 6, yn: 7 });
    const mt = clusteredRatioMean(t);
    expect(mt.mean).toBeCloseTo(2 / 3, 14);
    expect(mt.variance).toBeCloseTo(10 / 243, 14);
    expect(clusteredRatioMean(h).variance).toBeCloseTo(0.08203125, 14);
    const d = clusteredDifference(t, h);
    expect(d.difference).toBeCloseTo(5 / 12, 14);
    expect(d.se).toBeCloseTo(0.350975089393087, 12);
    expect(d.ci[0]).toBeCloseTo(-0.271231868014510, 12);
    expect(d.ci[1]).toBeCloseTo(1.104565201347844, 12);
    expect(d.confidence).toBe(0.95);
  });

  it('is close to the Wald interval when every user has one row', () => {
    // G/(G−1) is the only difference: var = p(1−p)/(G−1) per arm instead of p(1−p)/G.
    const ones = (users: number, converted: number) => clusterSums(Array.from({ length: users }, (_, i) => ({ y: i < converted ? 1 : 0, n: 1 })));
    const d = clusteredDifference(ones(4000, 1200), ones(1000, 250));
    const p1 = 0.3;
    const p2 = 0.25;
    const wald = Math.sqrt((p1 * (1 - p1)) / 4000 + (p2 * (1 - p2)) / 1000);
    expect(d.difference).toBeCloseTo(0.05, 12);
    expect(Math.abs(d.se / wald - 1)).toBeLessThan(1e-3);
    expect(d.ci[0]).toBeCloseTo(0.05 - Z95 * wald, 4);
    expect(d.ci[1]).toBeCloseTo(0.05 + Z95 * wald, 4);
    // Exactly: each arm's variance is the Wald one times G/(G−1).
    const exact = Math.sqrt(((p1 * (1 - p1)) / 4000) * (4000 / 3999) + ((p2 * (1 - p2)) / 1000) * (1000 / 999));
    expect(d.se).toBeCloseTo(exact, 14);
  });

  it('widens when a user’s rows move together', () => {
    // Same rows and rates; in the second case each user converts in both of their cycles or in neither.
    const split = clusterSums(Array.from({ length: 200 }, (_, i) => ({ y: i < 100 ? 1 : 0, n: 1 })));
    const paired = clusterSums(Array.from({ length: 100 }, (_, i) => ({ y: i < 50 ? 2 : 0, n: 2 })));
    const h = clusterSums(Array.from({ length: 200 }, (_, i) => ({ y: i < 60 ? 1 : 0, n: 1 })));
    const a = clusteredDifference(split, h);
    const b = clusteredDifference(paired, h);
    expect(a.difference).toBeCloseTo(b.difference, 14);
    expect(clusteredRatioMean(paired).variance).toBeGreaterThan(1.9 * clusteredRatioMean(split).variance);
    expect(b.se).toBeGreaterThan(a.se);
  });

  it('works on revenue and gives NaN where undefined', () => {
    // Revenue per row: treated (300, 1 row), (0, 1 row); holdout one user → no variance.
    const t = clusterSums([{ y: 300, n: 1 }, { y: 0, n: 1 }]);
    // m = 150, residuals ±150, Σ² = 45000, var = 2 · 45000 / 4 = 22500.
    expect(clusteredRatioMean(t)).toEqual({ mean: 150, variance: 22500 });
    const one = clusterSums([{ y: 100, n: 3 }]);
    expect(clusteredRatioMean(one).mean).toBeCloseTo(100 / 3, 14);
    expect(clusteredRatioMean(one).variance).toBeNaN();
    const d = clusteredDifference(t, one);
    expect(d.difference).toBeCloseTo(150 - 100 / 3, 12);
    expect(d.se).toBeNaN();
    expect(d.ci[0]).toBeNaN();
    const empty = clusterSums([]);
    expect(clusteredRatioMean(empty).mean).toBeNaN();
    expect(clusteredDifference(t, empty).difference).toBeNaN();
    // Identical users: zero variance, never a negative one from rounding.
    const same = clusterSums(Array.from({ length: 7 }, () => ({ y: 0.1, n: 1 })));
    expect(clusteredRatioMean(same).variance).toBeGreaterThanOrEqual(0);
    expect(clusteredRatioMean(same).variance).toBeLessThan(1e-15); // rounding noise only (the mean² is 0.01)
  });

  it('rejects sums no group of users can have', () => {
    expect(() => clusterSums([{ y: 1, n: 0 }])).toThrow(/n must be a positive integer/);
    expect(() => clusterSums([{ y: Number.NaN, n: 1 }])).toThrow(RangeError);
    expect(() => clusteredRatioMean({ clusters: 3, n: 2, nn: 2, y: 1, yy: 1, yn: 1 })).toThrow(/at least the number of clusters/);
    expect(() => clusteredRatioMean({ clusters: -1, n: 0, nn: 0, y: 0, yy: 0, yn: 0 })).toThrow(/non-negative integer/);
    expect(() => clusteredDifference(clusterSums([]), clusterSums([]), 1)).toThrow(/strictly between 0 and 1/);
  });
});
