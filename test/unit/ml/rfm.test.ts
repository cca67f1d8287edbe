import { describe, expect, it } from 'vitest';
import {
  RFM_SEGMENTS,
  RFM_SEGMENT_LABELS,
  RfmModel,
  fitRfm,
  fmScore,
  quintileScores,
  rfmChurnFallback,
  rfmScores,
  rfmSegment,
} from '../../../src/ml/rfm.js';
import { mulberry32, shuffled } from '../../support/prng.js';

// Ten users, scored by hand with mid-ranks: position p = (rows below + rows equal / 2) / 10,
// score = floor(5p) + 1.
//
// recency (days): 5 10 20 30 45 60 90 120 200 365 — all distinct, so ascending scores are
//   1 1 2 2 3 3 4 4 5 5 and recency (fewer days is better) reverses them: R = 5 5 4 4 3 3 2 2 1 1.
// frequency: 10 8 8 5 4 3 2 2 1 1
//   1: below 0, equal 2 → p 0.10 → 1      2: below 2, equal 2 → p 0.30 → 2
//   3: below 4, equal 1 → p 0.45 → 3      4: below 5, equal 1 → p 0.55 → 3
//   5: below 6, equal 1 → p 0.65 → 4      8: below 7, equal 2 → p 0.80 → 5
//  10: below 9, equal 1 → p 0.95 → 5      so F = 5 5 5 4 3 3 2 2 1 1 (both 8s get 5: ties agree).
// monetary: 500 400 300 250 200 150 100 80 50 20 — distinct: M = 5 5 4 4 3 3 2 2 1 1.
// FM = round half up of (F + M) / 2 = 5 5 5 4 3 3 2 2 1 1.
const users = {
  recencyDays: [5, 10, 20, 30, 45, 60, 90, 120, 200, 365],
  frequency: [10, 8, 8, 5, 4, 3, 2, 2, 1, 1],
  monetary: [500, 400, 300, 250, 200, 150, 100, 80, 50, 20],
};

describe('rfm quintile scores', () => {
  it('scores ten users as computed by hand', () => {
    const s = rfmScores(users);
    expect(Array.from(s.r)).toEqual([5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    expect(Array.from(s.f)).toEqual([5, 5, 5, 4, 3, 3, 2, 2, 1, 1]);
    expect(Array.from(s.m)).toEqual([5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    // R×FM grid: (5,5) champions, (4,5) and (4,4) loyal, (3,3) need attention,
    // (2,2) hibernating, (1,1) lost.
    expect(s.segments).toEqual([
      'champions',
      'champions',
      'loyal',
      'loyal',
      'need_attention',
      'need_attention',
      'hibernating',
      'hibernating',
      'lost',
      'lost',
    ]);
  });

  it('gives tied values the same score whatever the input order', () => {
    const rand = mulberry32(7);
    const values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9];
    const scores = quintileScores(values);
    const byValue = new Map<number, number>();
    values.forEach((v, i) => {
      const s = scores[i] as number;
      expect(byValue.get(v) ?? s).toBe(s);
      byValue.set(v, s);
    });
    for (let trial = 0; trial < 5; trial++) {
      const perm = shuffled(values, rand);
      const again = quintileScores(perm);
      perm.forEach((v, i) => expect(again[i]).toBe(byValue.get(v)));
    }
  });

  it('handles small and degenerate populations', () => {
    expect(Array.from(quintileScores([]))).toEqual([]);
    expect(Array.from(quintileScores([42]))).toEqual([3]); // one user: no information, the middle
    expect(Array.from(quintileScores([7, 7, 7, 7]))).toEqual([3, 3, 3, 3]);
    expect(Array.from(quintileScores([1, 2]))).toEqual([2, 4]); // p = 0.25, 0.75
    expect(Array.from(quintileScores([1, 2, 3, 4, 5]))).toEqual([1, 2, 3, 4, 5]);
  });

  it('scores recency so that recent is 5', () => {
    expect(Array.from(quintileScores([1, 100, 1000], true))).toEqual([5, 3, 1]);
  });

  it('scores new users against a fitted reference, and survives toJSON/load', () => {
    const model = fitRfm(users);
    expect(model.score(0, 100, 1e6)).toEqual({ r: 5, f: 5, m: 5, fm: 5, segment: 'champions' });
    expect(model.score(1000, 0, 0)).toEqual({ r: 1, f: 1, m: 1, fm: 1, segment: 'lost' });
    // 8 purchases is a value in the reference: scored with its mid-rank, as in the batch.
    expect(model.score(30, 8, 250).f).toBe(5);
    const loaded = RfmModel.load(JSON.parse(JSON.stringify(model)));
    for (let i = 0; i < 10; i++) {
      const a = [users.recencyDays[i], users.frequency[i], users.monetary[i]] as [number, number, number];
      expect(loaded.score(...a)).toEqual(model.score(...a));
    }
  });

  it('rejects non-finite values and mismatched arrays', () => {
    expect(() => quintileScores([1, Number.NaN])).toThrow(RangeError);
    expect(() => fitRfm({ recencyDays: [1], frequency: [1, 2], monetary: [1] })).toThrow(/same length/);
  });
});

describe('rfm segments', () => {
  it('places the grid corners where growth teams expect them', () => {
    expect(rfmSegment(5, 5, 5)).toBe('champions');
    expect(rfmSegment(1, 5, 5)).toBe('cant_lose_them');
    expect(rfmSegment(2, 3, 4)).toBe('at_risk'); // FM = round(3.5) = 4
    expect(rfmSegment(5, 1, 1)).toBe('new');
    expect(rfmSegment(4, 1, 1)).toBe('promising');
    expect(rfmSegment(5, 2, 3)).toBe('potential_loyalists'); // FM 3
    expect(rfmSegment(3, 3, 3)).toBe('need_attention');
    expect(rfmSegment(3, 1, 2)).toBe('about_to_sleep'); // FM = round(1.5) = 2
    expect(rfmSegment(3, 5, 4)).toBe('loyal');
    expect(rfmSegment(2, 1, 1)).toBe('hibernating');
    expect(rfmSegment(1, 2, 1)).toBe('lost');
    expect(fmScore(5, 4)).toBe(5);
    expect(fmScore(1, 2)).toBe(2);
  });

  it('reaches every listed segment, and only those, over all 125 score triples', () => {
    const seen = new Set<string>();
    for (let r = 1; r <= 5; r++) for (let f = 1; f <= 5; f++) for (let m = 1; m <= 5; m++) seen.add(rfmSegment(r, f, m));
    expect([...seen].sort()).toEqual([...RFM_SEGMENTS].sort());
    for (const s of RFM_SEGMENTS) expect(RFM_SEGMENT_LABELS[s].en.length).toBeGreaterThan(0);
    expect(RFM_SEGMENT_LABELS.cant_lose_them.en).toBe("Can't lose them");
  });

  it('rejects scores outside 1–5', () => {
    expect(() => rfmSegment(0, 3, 3)).toThrow(RangeError);
    expect(() => rfmSegment(3, 6, 3)).toThrow(RangeError);
    expect(() => rfmSegment(3, 3, 2.5)).toThrow(RangeError);
  });
});

describe('rfmChurnFallback', () => {
  it('follows the documented logistic rule', () => {
    const p = (z: number) => 1 / (1 + Math.exp(-z));
    expect(rfmChurnFallback(3, 3, 3)).toBeCloseTo(0.5, 12);
    expect(rfmChurnFallback(5, 5, 5)).toBeCloseTo(p(-3), 12); // 0.0474
    expect(rfmChurnFallback(1, 1, 1)).toBeCloseTo(p(3), 12); // 0.9526
    expect(rfmChurnFallback(1, 5, 5)).toBeCloseTo(p(1), 12); // can't lose them: 0.73
    expect(rfmChurnFallback(5, 1, 1)).toBeCloseTo(p(-1), 12); // new: 0.27
  });

  it('rises as recency worsens, and recency outweighs frequency', () => {
    for (let r = 2; r <= 5; r++) expect(rfmChurnFallback(r, 3, 3)).toBeLessThan(rfmChurnFallback(r - 1, 3, 3));
    // One step of recency (weight 1) outweighs three steps of frequency (0.25 each).
    expect(rfmChurnFallback(4, 1, 3)).toBeLessThan(rfmChurnFallback(3, 4, 3));
    expect(() => rfmChurnFallback(0, 1, 1)).toThrow(RangeError);
  });
});
