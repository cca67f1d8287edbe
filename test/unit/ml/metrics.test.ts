import { describe, expect, it } from 'vitest';
import { brierScore, ndcgAtK, prAuc, precisionAtK, recallAtK, rocAuc } from '../../../src/domain/metrics.js';
import { mulberry32 } from '../../support/prng.js';

describe('rocAuc', () => {
  it('matches a hand-computed case', () => {
    // Positives score 0.35 and 0.8, negatives 0.1 and 0.4. Pairs (pos > neg):
    // 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes → 3 of 4 = 0.75.
    // By ranks: 0.1→1, 0.35→2, 0.4→3, 0.8→4; R₊ = 2 + 4 = 6; U = 6 − 2·3/2 = 3; 3/(2·2) = 0.75.
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
  });

  it('counts a tie between a positive and a negative as one half', () => {
    // Pairs: 0.5(+) vs 0.2(−) 1, 0.5(+) vs 0.5(−) ½, 0.9(+) vs 0.2 1, 0.9 vs 0.5 1 → 3.5/4.
    // Ranks: 0.2→1, the two 0.5s share (2+3)/2 = 2.5, 0.9→4; R₊ = 2.5 + 4 = 6.5; U = 6.5 − 3 = 3.5.
    expect(rocAuc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBe(0.875);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // The order of tied rows does not matter.
    expect(rocAuc([0.5, 0.2, 0.9, 0.5], [0, 0, 1, 1])).toBe(0.875);
  });

  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    expect(rocAuc([1, 2, 3, 4], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([4, 3, 2, 1], [0, 0, 1, 1])).toBe(0);
  });

  it('agrees with pair counting on seeded random data with many ties', () => {
    const rand = mulberry32(7);
    const n = 400;
    const scores = Array.from({ length: n }, () => Math.floor(rand() * 20) / 20); // 20 distinct values
    const labels = Array.from({ length: n }, (_, i) => (rand() < 0.3 + 0.4 * (scores[i] as number) ? 1 : 0));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          const d = (scores[i] as number) - (scores[j] as number);
          wins += d > 0 ? 1 : d === 0 ? 0.5 : 0;
        }
      }
    }
    expect(rocAuc(scores, labels)).toBeCloseTo(wins / pairs, 12);
    expect(rocAuc(Float64Array.from(scores), Uint8Array.from(labels))).toBeCloseTo(wins / pairs, 12);
  });

  it('returns NaN when a class is missing', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(rocAuc([0.1, 0.2], [0, 0])).toBeNaN();
    expect(rocAuc([], [])).toBeNaN();
  });

  it('rejects invalid input with the constraint in the message', () => {
    expect(() => rocAuc([0.1, 0.2], [1])).toThrow(/same length \(got 2 scores and 1 labels\)/);
    expect(() => rocAuc([0.1, 0.2], [1, 2])).toThrow(/labels must be 0 or 1 \(label 1 is 2\)/);
    expect(() => rocAuc([0.1, Number.NaN], [1, 0])).toThrow(/scores must be finite numbers \(score 1 is NaN\)/);
  });
});

describe('prAuc (average precision)', () => {
  it('matches a hand-computed case', () => {
    // Descending: 0.8(+), 0.4(−), 0.35(+), 0.1(−); 2 positives.
    // 0.8:  P = 1/1, R = 1/2 → +(1/2 − 0)·1     = 0.5
    // 0.4:  P = 1/2, R = 1/2 → +0
    // 0.35: P = 2/3, R = 1   → +(1 − 1/2)·2/3   = 0.3333…
    // 0.1:  R unchanged      → +0                 AP = 0.8333…
    expect(prAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(5 / 6, 15);
  });

  it('treats tied scores as one threshold', () => {
    // 0.9(−): P = 0, R = 0; the 0.5 group: tp 1, fp 2 → P = 1/3, R = 1 → AP = 1/3, whatever the order.
    expect(prAuc([0.9, 0.5, 0.5], [0, 1, 0])).toBeCloseTo(1 / 3, 15);
    expect(prAuc([0.9, 0.5, 0.5], [0, 0, 1])).toBeCloseTo(1 / 3, 15);
    // All tied: one threshold with precision = base rate.
    expect(prAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
  });

  it('is 1 with positives only and NaN with no positive', () => {
    expect(prAuc([0.3, 0.1], [1, 1])).toBe(1);
    expect(prAuc([0.3, 0.1], [0, 0])).toBeNaN();
    expect(prAuc([], [])).toBeNaN();
  });

  it('rejects invalid input', () => {
    expect(() => prAuc([0.1], [1, 0])).toThrow(/same length/);
    expect(() => prAuc([0.1, 0.2], [1, -1])).toThrow(/labels must be 0 or 1/);
  });
});

describe('brierScore', () => {
  it('matches a hand-computed case', () => {
    // (0.9 − 1)² + (0.2 − 0)² + (0.5 − 1)² = 0.01 + 0.04 + 0.25 = 0.30; / 3 = 0.1
    expect(brierScore([0.9, 0.2, 0.5], [1, 0, 1])).toBeCloseTo(0.1, 15);
    expect(brierScore([1, 0], [1, 0])).toBe(0);
    // Predicting the base rate p = 0.25 for everyone scores p(1 − p) = 0.1875.
    expect(brierScore([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0])).toBeCloseTo(0.1875, 15);
  });

  it('rejects empty input, probabilities outside [0, 1] and bad labels', () => {
    expect(() => brierScore([], [])).toThrow(/at least one prediction/);
    expect(() => brierScore([1.2], [1])).toThrow(/probabilities must be in \[0, 1\] \(probability 0 is 1.2\)/);
    expect(() => brierScore([0.2], [0.5])).toThrow(/labels must be 0 or 1/);
  });
});

describe('top-k metrics', () => {
  const ranked = ['a', 'b', 'c', 'd'];
  const relevant = new Set(['b', 'd', 'e']);

  it('ndcgAtK matches hand-computed values', () => {
    // k = 3: DCG = 1/log₂(3) (b at position 2) = 0.630930; IDCG = 1 + 1/log₂3 + 1/log₂4 = 2.130930
    //   → 0.296082
    expect(ndcgAtK(ranked, relevant, 3)).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3) + 0.5), 15);
    expect(ndcgAtK(ranked, relevant, 3)).toBeCloseTo(0.296082, 6);
    // k = 4: DCG adds d at position 4: 1/log₂5 = 0.430677 → 1.061607; IDCG still 3 relevant → 2.130930 → 0.498189
    expect(ndcgAtK(ranked, relevant, 4)).toBeCloseTo(0.498189, 6);
    // A perfect list scores 1; a list shorter than k is not penalised by NDCG's normalisation.
    expect(ndcgAtK(['b', 'd', 'e'], relevant, 3)).toBeCloseTo(1, 15);
    expect(ndcgAtK(['b'], new Set(['b']), 5)).toBe(1);
    expect(ndcgAtK(['x', 'y'], relevant, 2)).toBe(0);
  });

  it('precisionAtK and recallAtK match hand-computed values', () => {
    expect(precisionAtK(ranked, relevant, 3)).toBeCloseTo(1 / 3, 15); // b
    expect(precisionAtK(ranked, relevant, 4)).toBe(0.5); // b, d
    expect(precisionAtK(ranked, relevant, 10)).toBe(0.2); // missing slots count as misses: 2/10
    expect(recallAtK(ranked, relevant, 3)).toBeCloseTo(1 / 3, 15);
    expect(recallAtK(ranked, relevant, 4)).toBeCloseTo(2 / 3, 15);
    expect(recallAtK([], relevant, 4)).toBe(0);
  });

  it('returns NaN when nothing is relevant (undefined, to be skipped when averaging)', () => {
    expect(ndcgAtK(ranked, new Set(), 3)).toBeNaN();
    expect(recallAtK(ranked, new Set(), 3)).toBeNaN();
    expect(precisionAtK(ranked, new Set(), 3)).toBe(0);
  });

  it('rejects a bad k and duplicate items', () => {
    for (const f of [ndcgAtK, precisionAtK, recallAtK]) {
      expect(() => f(ranked, relevant, 0)).toThrow(/k must be a positive integer \(got 0\)/);
      expect(() => f(ranked, relevant, 2.5)).toThrow(/k must be a positive integer/);
      expect(() => f(['a', 'b', 'a'], relevant, 2)).toThrow(/ranked items must be unique \("a" is at positions 0 and 2\)/);
    }
  });
});
