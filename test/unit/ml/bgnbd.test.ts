import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BgNbdModel,
  bgNbdLogLikelihood,
  expectedPurchases,
  fitBgNbd,
  hyp2f1,
  lnGamma,
  pAlive,
  unconditionalExpected,
  type BgNbdData,
  type BgNbdParams,
} from '../../../src/ml/bgnbd.js';

// The CDNOW 1/10 sample, 2,357 customers, 39-week calibration (shared/datasets/cdnow/README.md).
const CDNOW_CSV = new URL('../../../../shared/datasets/cdnow/cdnow_customers_summary.csv', import.meta.url);

function loadCdnow(): BgNbdData {
  const lines = readFileSync(CDNOW_CSV, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  expect(lines[0]).toBe('ID,frequency,recency,T');
  const frequency: number[] = [];
  const recency: number[] = [];
  const T: number[] = [];
  for (const line of lines.slice(1)) {
    const [, x, tx, age] = line.split(',').map(Number);
    frequency.push(x as number);
    recency.push(tx as number);
    T.push(age as number);
  }
  return { frequency, recency, T };
}

// Fader, Hardie & Lee (2005), table of estimates for the CDNOW sample.
const PUBLISHED: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

function relErr(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

describe('lnGamma', () => {
  it('matches exact values', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 14);
    expect(lnGamma(2)).toBeCloseTo(0, 14);
    // Γ(5) = 24, Γ(1/2) = √π, Γ(10) = 362880
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
    expect(lnGamma(10)).toBeCloseTo(Math.log(362880), 12);
    // Γ(0.1) = 9.513507698668732 (reflection branch), Γ(−0.5) = −2√π: ln|Γ| = ln(2√π)
    expect(lnGamma(0.1)).toBeCloseTo(Math.log(9.513507698668732), 13);
    expect(lnGamma(-0.5)).toBeCloseTo(Math.log(2 * Math.sqrt(Math.PI)), 13);
    expect(lnGamma(0)).toBe(Infinity);
    expect(lnGamma(-3)).toBe(Infinity);
  });

  it('satisfies Γ(x + 1) = x·Γ(x) for large x', () => {
    for (const x of [50.5, 1234.25, 1e6]) {
      expect(relErr(lnGamma(x + 1), lnGamma(x) + Math.log(x))).toBeLessThan(1e-14);
    }
  });
});

describe('hyp2f1', () => {
  it('matches closed forms', () => {
    for (const z of [0, 0.1, 0.5, 0.9, 0.99]) {
      // ₂F₁(1, 1; 2; z) = −ln(1 − z)/z
      const expected = z === 0 ? 1 : -Math.log1p(-z) / z;
      expect(relErr(hyp2f1(1, 1, 2, z), expected)).toBeLessThan(1e-13);
      // ₂F₁(a, b; b; z) = (1 − z)^(−a)
      expect(relErr(hyp2f1(0.7, 2.5, 2.5, z), (1 - z) ** -0.7)).toBeLessThan(1e-13);
    }
    // A terminating series: ₂F₁(−2, 3; 4; z) = 1 − 3z/2 + 3z²/5 (hand-expanded: (−2)(3)/4 = −3/2, (−2)(−1)(3)(4)/(4·5·2) = 3/5)
    expect(hyp2f1(-2, 3, 4, 0.5)).toBeCloseTo(1 - 0.75 + 0.15, 15);
  });

  it('rejects z outside [0, 1) and poles in c', () => {
    expect(() => hyp2f1(1, 1, 2, 1)).toThrow(/z must be in \[0, 1\)/);
    expect(() => hyp2f1(1, 1, -2, 0.5)).toThrow(/c must not be 0 or a negative integer/);
  });
});

describe('BG/NBD on CDNOW', () => {
  const data = loadCdnow();

  it('loads the 2,357-customer summary', () => {
    expect(data.frequency.length).toBe(2357);
    let sumX = 0;
    for (let i = 0; i < data.frequency.length; i++) sumX += data.frequency[i] as number;
    expect(sumX).toBe(2457); // README: Σfrequency = 2,457
  });

  it('has log-likelihood −9582.4 at the published parameters', () => {
    expect(bgNbdLogLikelihood(PUBLISHED, data)).toBeCloseTo(-9582.4, 0);
  });

  it('reproduces the published fit', () => {
    const fit = fitBgNbd(data);
    expect(fit.converged).toBe(true);
    expect(relErr(fit.r, PUBLISHED.r)).toBeLessThan(0.02);
    expect(relErr(fit.alpha, PUBLISHED.alpha)).toBeLessThan(0.02);
    expect(relErr(fit.a, PUBLISHED.a)).toBeLessThan(0.02);
    expect(relErr(fit.b, PUBLISHED.b)).toBeLessThan(0.02);
    expect(fit.logLikelihood).toBeCloseTo(-9582.4, 0);
    // The MLE can only be at least as likely as the rounded published values.
    expect(fit.logLikelihood).toBeGreaterThanOrEqual(bgNbdLogLikelihood(PUBLISHED, data));
    // lifetimes' BetaGeoFitter prints r=0.242593, alpha=4.413532, a=0.792886, b=2.425752.
    expect(fit.r).toBeCloseTo(0.242593, 4);
    expect(fit.alpha).toBeCloseTo(4.413532, 3);
    expect(fit.a).toBeCloseTo(0.792886, 3);
    expect(fit.b).toBeCloseTo(2.425752, 3);
  });

  it('gets the same optimum from a different start', () => {
    const fit = fitBgNbd(data, { initial: { r: 3, alpha: 0.5, a: 5, b: 0.2 } });
    expect(relErr(fit.r, 0.242593)).toBeLessThan(1e-3);
    expect(relErr(fit.b, 2.425752)).toBeLessThan(1e-3);
    expect(fit.logLikelihood).toBeCloseTo(-9582.4256, 3);
  });

  it('predicts what Hardie’s spreadsheets predict', () => {
    const fit = fitBgNbd(data);
    // Conditional expectation, next 39 weeks, customer with x=2, t_x=30.43, T=38.86 (lifetimes test: 1.226).
    expect(expectedPurchases(fit, 2, 30.43, 38.86, 39)).toBeCloseTo(1.226, 3);
    // Unconditional E[X(t)] (lifetimes test values from the published parameters).
    const cases: Array<[number, number]> = [
      [0.1429, 0.0078],
      [1, 0.0532],
      [3, 0.1506],
      [31.8571, 1.0405],
      [32, 1.0437],
      [78, 1.8576],
    ];
    for (const [t, expected] of cases) {
      // The references are 4-decimal values from the paper's rounded parameters: 0.1% slack.
      expect(relErr(unconditionalExpected(fit, t), expected)).toBeLessThan(1e-3 + 0.00005 / expected);
    }
  });

  it('serialises params and round-trips a model', () => {
    const { model, fit } = BgNbdModel.fit(data);
    const copy = BgNbdModel.load(JSON.parse(JSON.stringify(model)));
    expect(copy.toJSON()).toEqual({ name: 'BgNbd', r: fit.r, alpha: fit.alpha, a: fit.a, b: fit.b });
    expect(copy.expectedPurchases(2, 30.43, 38.86, 39)).toBe(model.expectedPurchases(2, 30.43, 38.86, 39));
    expect(() => BgNbdModel.load({ name: 'ChurnModel' })).toThrow(/name must be "BgNbd"/);
    expect(() => BgNbdModel.load({ name: 'BgNbd', r: -1, alpha: 1, a: 1, b: 1 })).toThrow(/r must be a positive finite number/);
  });
});

describe('BG/NBD formulas', () => {
  const p: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

  it('pAlive is 1 without repeat purchases and matches eq. 11 by hand', () => {
    expect(pAlive(p, 0, 0, 38.86)).toBe(1);
    // x=2, t_x=30.43, T=38.86: odds = a/(b+x−1)·((α+T)/(α+t_x))^(r+x)
    //   = 0.793/3.426 · (43.274/34.844)^2.243 = 0.2314653 · 1.2419355^2.243 = 0.2314653 · 1.6257888
    //   = 0.3763136 → P(alive) = 1/1.3763136 = 0.7265786
    const odds = (0.793 / 3.426) * (43.274 / 34.844) ** 2.243;
    expect(pAlive(p, 2, 30.43, 38.86)).toBeCloseTo(1 / (1 + odds), 14);
    expect(pAlive(p, 2, 30.43, 38.86)).toBeCloseTo(0.7265786, 6);
    // Bought recently (t_x = T): as alive as the model allows, 1/(1 + a/(b+x−1)).
    expect(pAlive(p, 2, 38.86, 38.86)).toBeCloseTo(1 / (1 + 0.793 / 3.426), 14);
    // A long silence after heavy buying: practically dead, but 0 rather than NaN.
    expect(pAlive(p, 500, 1, 1000)).toBeGreaterThanOrEqual(0);
    expect(pAlive(p, 500, 1, 1000)).toBeLessThan(1e-100);
  });

  it('expectedPurchases equals eq. 10 evaluated literally', () => {
    // The implementation uses Euler's transformation; check it against the untransformed formula.
    const literal = (x: number, tx: number, T: number, t: number): number => {
      const { r, alpha, a, b } = p;
      const z = t / (alpha + T + t);
      const bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
      const denom = 1 + (x > 0 ? (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x) : 0);
      return ((a + b + x - 1) / (a - 1)) * bracket / denom;
    };
    for (const [x, tx, T, t] of [
      [0, 0, 38.86, 39],
      [1, 10, 30, 10],
      [2, 30.43, 38.86, 39],
      [7, 35, 38, 52],
      [20, 37, 38.5, 5],
    ] as const) {
      expect(relErr(expectedPurchases(p, x, tx, T, t), literal(x, tx, T, t))).toBeLessThan(1e-10);
    }
  });

  it('is continuous through a = 1 (removable 0/0) and finite for heavy buyers', () => {
    const near = (a: number): number => expectedPurchases({ ...p, a }, 3, 20, 38, 39);
    const at1 = near(1);
    expect(Number.isFinite(at1)).toBe(true);
    expect(relErr(near(1 + 1e-7), at1)).toBeLessThan(1e-6);
    expect(relErr(near(1 - 1e-7), at1)).toBeLessThan(1e-6);
    // x = 400: the untransformed series terms would reach ~(1 − z)^(−400) before cancelling.
    const heavy = expectedPurchases(p, 400, 38.5, 38.86, 39);
    expect(Number.isFinite(heavy)).toBe(true);
    expect(heavy).toBeGreaterThan(0);
  });

  it('unconditionalExpected is 0 at t = 0, increasing, and ~ (r/α)·t for small t', () => {
    expect(unconditionalExpected(p, 0)).toBe(0);
    let prev = 0;
    for (const t of [0.5, 1, 5, 20, 100, 1000]) {
      const e = unconditionalExpected(p, t);
      expect(e).toBeGreaterThan(prev);
      prev = e;
    }
    // Before anyone can drop out, purchases follow the NBD mean r·t/α.
    expect(relErr(unconditionalExpected(p, 1e-4), (p.r / p.alpha) * 1e-4)).toBeLessThan(1e-3);
  });
});

describe('BG/NBD robustness and validation', () => {
  it('fits data where nobody repeated without NaN, and says it did not converge', () => {
    const fit = fitBgNbd({ frequency: [0, 0, 0, 0], recency: [0, 0, 0, 0], T: [5, 10, 20, 30] });
    for (const v of [fit.r, fit.alpha, fit.a, fit.b, fit.logLikelihood]) expect(Number.isFinite(v)).toBe(true);
    expect(fit.converged).toBe(false);
    expect(fit.logLikelihood).toBeLessThanOrEqual(0);
    expect(pAlive(fit, 0, 0, 30)).toBe(1);
    expect(Number.isFinite(expectedPurchases(fit, 0, 0, 30, 10))).toBe(true);
  });

  it('rejects invalid data with the constraint in the message', () => {
    expect(() => fitBgNbd({ frequency: [1, 2], recency: [1], T: [2, 3] })).toThrow(/same length/);
    expect(() => fitBgNbd({ frequency: [], recency: [], T: [] })).toThrow(/at least one customer/);
    expect(() => fitBgNbd({ frequency: [1.5], recency: [1], T: [2] })).toThrow(/frequency x must be an integer ≥ 0 for customer 0/);
    expect(() => fitBgNbd({ frequency: [1], recency: [3], T: [2] })).toThrow(/recency t_x must be in \[0, T\] for customer 0/);
    expect(() => fitBgNbd({ frequency: [1], recency: [1], T: [Number.NaN] })).toThrow(/age T must be a finite number/);
    expect(() => pAlive({ r: 0, alpha: 1, a: 1, b: 1 }, 1, 1, 2)).toThrow(/r must be a positive finite number/);
    expect(() => expectedPurchases(PUBLISHED, 1, 1, 2, -1)).toThrow(/horizon t must be a finite number ≥ 0/);
  });
});
