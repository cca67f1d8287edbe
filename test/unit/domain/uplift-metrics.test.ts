import { describe, expect, it } from 'vitest';
import {
  perfectQiniCurve,
  perfectUpliftCurve,
  qiniAucScore,
  qiniCurve,
  upliftAtK,
  upliftAucScore,
  upliftCurve,
  type UpliftCurve,
} from '../../../src/domain/uplift-metrics.js';
import { mulberry32 } from '../../support/prng.js';

const points = (c: UpliftCurve): { x: number[]; value: number[] } => ({ x: Array.from(c.x), value: Array.from(c.value) });

// Four users, one of each kind:
//   A treated converter (y=1, t=1)   B holdout non-converter (0, 0)
//   C treated non-converter (0, 1)   D holdout converter (1, 0)
const y4 = [1, 0, 0, 1];
const t4 = [1, 0, 1, 0];
const best4 = [4, 3, 2, 1]; // A, B, C, D
const worst4 = [1, 2, 3, 4]; // D, C, B, A

// Six users with ties (y, t, score); sklift takes a run of ties as one threshold:
//   0: (1, 1, 0.9)  1: (0, 0, 0.5)  2: (1, 0, 0.5)  3: (0, 1, 0.5)  4: (1, 1, 0.1)  5: (0, 0, 0.1)
const y6 = [1, 0, 1, 0, 1, 0];
const t6 = [1, 0, 0, 1, 1, 0];
const s6 = [0.9, 0.5, 0.5, 0.5, 0.1, 0.1];

describe('qiniCurve', () => {
  it('matches a hand-computed curve: value = Y_T − Y_C·N_T/N_C after each row', () => {
    // A: N_T=1 Y_T=1 N_C=0 → 1 − 0 = 1 (N_T/N_C taken as 0 with no control yet)
    // B: N_C=1 Y_C=0 → 1;  C: N_T=2 → 1;  D: N_C=2 Y_C=1 → 1 − 1·2/2 = 0
    expect(points(qiniCurve(y4, best4, t4))).toEqual({ x: [0, 1, 2, 3, 4], value: [0, 1, 1, 1, 0] });
    // D: N_T=0 → 0 − 1·0/1 = 0;  C: 0 − 1·1/1 = −1;  B: 0 − 1·1/2 = −0.5;  A: 1 − 1·2/2 = 0
    expect(points(qiniCurve(y4, worst4, t4))).toEqual({ x: [0, 1, 2, 3, 4], value: [0, 0, -1, -0.5, 0] });
  });

  it('takes a run of tied scores as one point, whatever the order of the tied rows', () => {
    // After row 0: 1. After the 0.5 run (rows 1–3, 4 targeted): N_T=2 Y_T=1 N_C=2 Y_C=1 → 0.
    // After the 0.1 run (all 6): N_T=3 Y_T=2 N_C=3 Y_C=1 → 2 − 1 = 1.
    expect(points(qiniCurve(y6, s6, t6))).toEqual({ x: [0, 1, 4, 6], value: [0, 1, 0, 1] });
    const perm = [3, 5, 1, 0, 4, 2];
    const pick = (a: number[]): number[] => perm.map((i) => a[i] as number);
    expect(points(qiniCurve(pick(y6), pick(s6), pick(t6)))).toEqual({ x: [0, 1, 4, 6], value: [0, 1, 0, 1] });
  });

  it('accepts typed arrays and starts at (0, 0) even for empty input', () => {
    expect(points(qiniCurve(Uint8Array.from(y4), Float64Array.from(best4), Uint8Array.from(t4))).value).toEqual([0, 1, 1, 1, 0]);
    expect(points(qiniCurve([], [], []))).toEqual({ x: [0], value: [0] });
  });
});

describe('upliftCurve', () => {
  it('matches a hand-computed curve: value = (Y_T/N_T − Y_C/N_C)·N', () => {
    // A: (1/1 − 0)·1 = 1;  B: (1/1 − 0/1)·2 = 2;  C: (1/2 − 0/1)·3 = 1.5;  D: (1/2 − 1/2)·4 = 0
    expect(points(upliftCurve(y4, best4, t4))).toEqual({ x: [0, 1, 2, 3, 4], value: [0, 1, 2, 1.5, 0] });
    // D: (0 − 1/1)·1 = −1;  C: (0/1 − 1/1)·2 = −2;  B: (0 − 1/2)·3 = −1.5;  A: 0
    expect(points(upliftCurve(y4, worst4, t4))).toEqual({ x: [0, 1, 2, 3, 4], value: [0, -1, -2, -1.5, 0] });
  });

  it('groups ties like qiniCurve', () => {
    // 1 row: (1 − 0)·1 = 1;  4 rows: (1/2 − 1/2)·4 = 0;  6 rows: (2/3 − 1/3)·6 = 2
    const c = upliftCurve(y6, s6, t6);
    expect(Array.from(c.x)).toEqual([0, 1, 4, 6]);
    expect(c.value[3]).toBeCloseTo(2, 14);
    expect(Array.from(c.value.subarray(0, 3))).toEqual([0, 1, 0]);
  });
});

describe('perfect curves', () => {
  it('perfectUpliftCurve ranks by 2·[y = t] + (y if control converters outnumber treated non-converters, else t)', () => {
    // Four users: 1 control converter, 1 treated non-converter → summand t:
    // A 2+1 = 3, B 2+0 = 2, C 0+1 = 1, D 0+0 = 0 → the order A, B, C, D.
    expect(points(perfectUpliftCurve(y4, t4))).toEqual(points(upliftCurve(y4, best4, t4)));
    // Six users: again 1 and 1 → scores 3, 2, 0, 1, 3, 2: runs {0,4}, {1,5}, {3}, {2}.
    // 2 rows: (1 − 0)·2 = 2;  4: (1 − 0)·4 = 4;  5: (2/3 − 0)·5 = 10/3;  6: (2/3 − 1/3)·6 = 2
    const c = perfectUpliftCurve(y6, t6);
    expect(Array.from(c.x)).toEqual([0, 2, 4, 5, 6]);
    expect(Array.from(c.value).map((v) => +v.toFixed(12))).toEqual([0, 2, 4, +(10 / 3).toFixed(12), 2]);
  });

  it('perfectQiniCurve with negative effects puts treated converters first and control converters last', () => {
    // Scores y·(2t − 1): A 1, B 0, C 0, D −1 → runs {A}, {B, C}, {D}: 1, 1, 0.
    expect(points(perfectQiniCurve(y4, t4))).toEqual({ x: [0, 1, 3, 4], value: [0, 1, 1, 0] });
    // Six users: runs {0,4} → 2, {1,3,5} → N_T=3 Y_T=2 N_C=2 Y_C=0 → 2, {2} → 2 − 1·3/3 = 1.
    expect(points(perfectQiniCurve(y6, t6, true))).toEqual({ x: [0, 2, 5, 6], value: [0, 2, 2, 1] });
  });

  it('perfectQiniCurve without negative effects is (0,0) → (r,r) → (n,r), r = Y_T − N_T·Y_C/N_C', () => {
    // Six users: r = 2 − 3·1/3 = 1.
    expect(points(perfectQiniCurve(y6, t6, false))).toEqual({ x: [0, 1, 6], value: [0, 1, 1] });
    // No control rows: r is 0/0.
    const c = perfectQiniCurve([1, 0], [1, 1], false);
    expect(c.x[1]).toBeNaN();
  });
});

describe('qiniAucScore and upliftAucScore', () => {
  it('are 1 for the perfect ranking and negative for the reversed one', () => {
    // Qini: the perfect curve [0,1,1,0] at x [0,1,3,4] has area ½ + 2 + ½ = 3; the baseline to
    // (4, 0) has area 0. Best ranking: area ½ + 1 + 1 + ½ = 3 → 1.
    expect(qiniAucScore(y4, best4, t4)).toBe(1);
    // Reversed: 0 − ½ − ¾ − ¼ = −1.5 → −1.5 / 3 = −0.5.
    expect(qiniAucScore(y4, worst4, t4)).toBe(-0.5);
    // AUUC: the perfect ranking is best4 (area ½ + 1.5 + 1.75 + ¾ = 4.5); reversed: −4.5.
    expect(upliftAucScore(y4, best4, t4)).toBe(1);
    expect(upliftAucScore(y4, worst4, t4)).toBe(-1);
  });

  it('subtracts the random baseline and divides by the perfect curve, on a hand-computed case', () => {
    // Scores 6…1 in row order. Qini after each row: 1, 1, 1 − 1·1/2 = ½, 1 − 1·2/2 = 0,
    // 2 − 1·3/2 = ½, 2 − 1·3/3 = 1 → area ½ + 1 + ¾ + ¼ + ¼ + ¾ = 3.5.
    // Baseline: (0,0)–(6,1), area 3. With negative effects the perfect area is
    // 2 + 6 + 1.5 = 9.5 → (3.5 − 3) / (9.5 − 3) = 1/13; without, 0.5 + 5 = 5.5 →
    // 0.5 / 2.5 = 0.2.
    const s = [6, 5, 4, 3, 2, 1];
    expect(qiniAucScore(y6, s, t6)).toBeCloseTo(1 / 13, 14);
    expect(qiniAucScore(y6, s, t6, false)).toBeCloseTo(0.2, 14);
  });

  it('use the tied curve, as sklift does', () => {
    // Qini of the tied scores: area ½ + 1.5 + 1 = 3 = the baseline → 0.
    expect(qiniAucScore(y6, s6, t6)).toBe(0);
    // Uplift curve [0,1,0,2] at x [0,1,4,6]: area ½ + 1.5 + 2 = 4; baseline (6, 2): 6.
    // Perfect: [0,2,4,10/3,2] at x [0,2,4,5,6]: 2 + 6 + 11/3 + 8/3 = 43/3.
    // (4 − 6) / (43/3 − 6) = −2 / (25/3) = −0.24.
    expect(upliftAucScore(y6, s6, t6)).toBeCloseTo(-0.24, 14);
    // A constant score is a single threshold: exactly the baseline.
    expect(qiniAucScore(y6, [0, 0, 0, 0, 0, 0], t6)).toBe(0);
    expect(upliftAucScore(y6, [0, 0, 0, 0, 0, 0], t6)).toBe(0);
  });

  it('are near 0 for random scores on a large seeded sample, and clearly positive for the true uplift', () => {
    const rand = mulberry32(2024);
    const n = 20_000;
    const y = new Uint8Array(n);
    const t = new Uint8Array(n);
    const random = new Float64Array(n);
    const truth = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = rand();
      truth[i] = x > 0.5 ? 0.2 : 0; // uplift only for the upper half
      t[i] = rand() < 0.5 ? 1 : 0;
      y[i] = rand() < 0.2 + (t[i] as number) * (truth[i] as number) ? 1 : 0;
      random[i] = rand();
    }
    expect(Math.abs(qiniAucScore(y, random, t))).toBeLessThan(0.03);
    expect(Math.abs(upliftAucScore(y, random, t))).toBeLessThan(0.03);
    // The perfect curves sort individual outcomes (every treated converter first), which no
    // score of x can do when outcomes are noisy: even the true uplift scores only ~0.11
    // (Qini) and ~0.09 (AUUC) here; against the no-negative-effect oracle, ~0.5.
    expect(qiniAucScore(y, truth, t)).toBeGreaterThan(0.08);
    expect(upliftAucScore(y, truth, t)).toBeGreaterThan(0.07);
    expect(qiniAucScore(y, truth, t, false)).toBeGreaterThan(0.4);
  });

  it('return NaN where undefined: an arm or an outcome missing, or no perfect area above the baseline', () => {
    expect(qiniAucScore([1, 0, 1], [3, 2, 1], [1, 1, 1])).toBeNaN();
    expect(upliftAucScore([1, 0, 1], [3, 2, 1], [0, 0, 0])).toBeNaN();
    expect(qiniAucScore([0, 0, 0, 0], [4, 3, 2, 1], [1, 0, 1, 0])).toBeNaN();
    expect(upliftAucScore([1, 1, 1, 1], [4, 3, 2, 1], [1, 0, 1, 0])).toBeNaN();
    expect(qiniAucScore([], [], [])).toBeNaN();
    // r = 1 − 2·1/2 = 0 without negative effects: the perfect curve has no area.
    expect(qiniAucScore(y4, best4, t4, false)).toBeNaN();
    // Overall uplift negative (r = 0 − 1·1/1 = −1): sklearn's auc rejects the curve.
    expect(qiniAucScore([0, 1, 1, 0], [2, 1, 0, -1], [1, 0, 1, 0], false)).toBeNaN();
  });
});

describe('upliftAtK', () => {
  it('is the treated rate minus the control rate among the top ⌊k·n⌋ rows', () => {
    // Top 2 of best4: A (treated, converted), B (holdout, not) → 1 − 0.
    expect(upliftAtK(y4, best4, t4, 0.5)).toBe(1);
    // Top 2 of worst4: D (holdout, converted), C (treated, not) → 0 − 1.
    expect(upliftAtK(y4, worst4, t4, 0.5)).toBe(-1);
    // k = 1: the whole sample, 1/2 − 1/2.
    expect(upliftAtK(y4, best4, t4, 1)).toBe(0);
    // ⌊6·0.7⌋ = 4 rows of 6…1: rows 0–3 → treated 1/2, holdout 1/2 → 0.
    expect(upliftAtK(y6, [6, 5, 4, 3, 2, 1], t6, 0.7)).toBe(0);
  });

  it('cuts a run of ties the way sklift does (later rows first)', () => {
    // ⌊6·0.5⌋ = 3: row 0, then from the 0.5 run rows 3 and 2 (sklift reverses a stable
    // ascending sort). Treated: rows 0, 3 → 1/2; holdout: row 2 → 1/1; −0.5.
    // (Earlier rows first would take rows 1 and 2 and give 1 − 1/2 = +0.5.)
    expect(upliftAtK(y6, s6, t6, 0.5)).toBe(-0.5);
  });

  it('is NaN when the top rows miss an arm or are empty', () => {
    expect(upliftAtK(y4, best4, t4, 0.25)).toBeNaN(); // only A
    expect(upliftAtK(y4, best4, t4, 0.1)).toBeNaN(); // ⌊0.4⌋ = 0 rows
  });

  it('rejects k outside (0, 1]', () => {
    expect(() => upliftAtK(y4, best4, t4, 0)).toThrow(/k must be a fraction in \(0, 1\] \(got 0\)/);
    expect(() => upliftAtK(y4, best4, t4, 1.5)).toThrow(RangeError);
    expect(() => upliftAtK(y4, best4, t4, Number.NaN)).toThrow(RangeError);
  });
});

describe('input checks', () => {
  it('reject invalid input with the constraint in the message', () => {
    expect(() => qiniCurve([1, 0], [1], [1, 0])).toThrow(/same length \(got 2, 1 and 2\)/);
    expect(() => perfectQiniCurve([1, 0], [1])).toThrow(/y and treatment must have the same length/);
    expect(() => upliftAucScore([1, 2], [1, 0], [1, 0])).toThrow(/outcomes y must be 0 or 1 \(y\[1\] is 2\)/);
    expect(() => qiniAucScore([1, 0], [1, 0], [1, -1])).toThrow(/treatment must be 0 \(holdout\) or 1 \(treated\) \(treatment\[1\] is -1\)/);
    expect(() => upliftCurve([1, 0], [1, Number.NaN], [1, 0])).toThrow(/uplift scores must be finite numbers \(uplift\[1\] is NaN\)/);
    expect(() => upliftAtK([1, 0], [Infinity, 0], [1, 0], 0.5)).toThrow(RangeError);
  });
});
