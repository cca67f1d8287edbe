import { similarity } from 'ml-distance';
import { describe, expect, it } from 'vitest';
import { itemCfNeighbours, neighboursOf, type Interactions } from '../../../src/ml/item-cf.js';
import { mulberry32, randInt, shuffled } from '../../support/prng.js';

type Triple = [user: number, item: number, weight: number];

function matrix(triples: readonly Triple[], nUsers: number, nItems: number): Interactions {
  return {
    userIdx: Int32Array.from(triples, (t) => t[0]),
    itemIdx: Int32Array.from(triples, (t) => t[1]),
    weight: Float32Array.from(triples, (t) => t[2]),
    nUsers,
    nItems,
  };
}

function lists(res: ReturnType<typeof itemCfNeighbours>, item: number): { items: number[]; scores: number[] } {
  const n = neighboursOf(res, item);
  return { items: Array.from(n.items), scores: Array.from(n.scores) };
}

describe('itemCfNeighbours', () => {
  // Items A=0, B=1, C=2, D=3 (no interactions); users u0, u1, u2. Item vectors over users:
  //   A = (1, 1,   0)   B = (1, 0.5, 0)   C = (0, 1, 1)   D = (0, 0, 0)
  //   cos(A, B) = (1 + 0.5) / (√2 · √1.25) = 1.5 / 1.581139 = 0.948683
  //   cos(A, C) = 1 / (√2 · √2)           = 0.5
  //   cos(B, C) = 0.5 / (√1.25 · √2)      = 0.316228
  // u1's B appears twice (a view at 0.2 and one at 0.5): the larger weight counts.
  const small: Triple[] = [
    [0, 0, 1],
    [0, 1, 1],
    [1, 0, 1],
    [1, 1, 0.2],
    [1, 1, 0.5],
    [1, 2, 1],
    [2, 2, 1],
    [2, 3, 0], // zero weight: ignored, so D has no interactions
  ];

  it('computes cosine neighbours as computed by hand', () => {
    const res = itemCfNeighbours(matrix(small, 3, 4));
    const a = lists(res, 0);
    expect(a.items).toEqual([1, 2]);
    expect(a.scores[0]).toBeCloseTo(0.948683, 6);
    expect(a.scores[1]).toBeCloseTo(0.5, 6);
    const b = lists(res, 1);
    expect(b.items).toEqual([0, 2]);
    expect(b.scores[1]).toBeCloseTo(0.316228, 6);
    const c = lists(res, 2);
    expect(c.items).toEqual([0, 1]);
    expect(c.scores).toEqual([expect.closeTo(0.5, 6), expect.closeTo(0.316228, 6)]);
    expect(lists(res, 3)).toEqual({ items: [], scores: [] }); // no interactions: empty, not NaN
    expect(res.stats.entries).toBe(6);
    expect(Array.from(res.itemTotals)).toEqual([2, 1.5, 2, 0]);
    expect(Array.from(res.scores).every(Number.isFinite)).toBe(true);
  });

  it('keeps only the top k, breaking ties by the lower item index', () => {
    // Item 0 co-occurs identically with 1, 2 and 3 (one shared user each, same norms).
    const t: Triple[] = [
      [0, 0, 1],
      [0, 3, 1],
      [1, 0, 1],
      [1, 2, 1],
      [2, 0, 1],
      [2, 1, 1],
    ];
    const res = itemCfNeighbours(matrix(t, 3, 4), { k: 2 });
    expect(lists(res, 0).items).toEqual([1, 2]);
    expect(lists(res, 0).scores[0]).toBeCloseTo(1 / Math.sqrt(3), 6);
    expect(itemCfNeighbours(matrix(t, 3, 4), { k: 0 }).items.length).toBe(0);
  });

  it('equals brute-force dense cosine (ml-distance) on a seeded random matrix', () => {
    const rand = mulberry32(2024);
    const nUsers = 200;
    const nItems = 40;
    const t: Triple[] = [];
    for (let e = 0; e < 1500; e++) {
      // Skewed item popularity, purchases (1) and views (0.3), with duplicates.
      const item = Math.floor(nItems * rand() ** 2);
      t.push([randInt(rand, nUsers), item === 39 ? 38 : item, rand() < 0.4 ? 1 : 0.3]); // item 39 never used
    }
    const res = itemCfNeighbours(matrix(t, nUsers, nItems), { k: nItems });
    const dense = Array.from({ length: nItems }, () => new Array<number>(nUsers).fill(0));
    for (const [u, i, w] of t) dense[i]![u] = Math.max(dense[i]![u]!, w);
    let checked = 0;
    for (let i = 0; i < nItems; i++) {
      const got = new Map(lists(res, i).items.map((j, p) => [j, lists(res, i).scores[p] as number]));
      for (let j = 0; j < nItems; j++) {
        if (j === i) continue;
        const dot = dense[i]!.reduce((s, v, u) => s + v * dense[j]![u]!, 0);
        if (dot === 0) {
          expect(got.has(j)).toBe(false); // includes item 39, whose ml-distance cosine is NaN
          continue;
        }
        const expected = similarity.cosine(dense[i]!, dense[j]!);
        expect(got.get(j)).toBeCloseTo(expected, 6);
        checked++;
      }
      const scores = lists(res, i).scores;
      for (let p = 1; p < scores.length; p++) expect(scores[p]!).toBeLessThanOrEqual(scores[p - 1]!);
    }
    expect(checked).toBeGreaterThan(500);
    expect(lists(res, 39).items).toEqual([]);
  });

  it('caps heavy users with a seeded sample that ignores input order', () => {
    const t: Triple[] = [];
    for (let i = 0; i < 20; i++) t.push([0, i, 1]); // user 0: 20 items, capped to 5
    t.push([1, 0, 1], [1, 1, 1]);
    const opts = { maxItemsPerUser: 5, seed: 9 };
    const a = itemCfNeighbours(matrix(t, 2, 20), opts);
    expect(a.stats.cappedUsers).toBe(1);
    expect(a.stats.entries).toBe(7);
    expect(a.stats.accumulations).toBe(5 * 4 / 2 + 1);
    const b = itemCfNeighbours(matrix(shuffled(t, mulberry32(3)), 2, 20), opts);
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    // itemTotals count the user's full history: popularity is not sampled.
    expect(a.itemTotals.reduce((s, v) => s + v, 0)).toBe(22);
  });

  it('handles an empty matrix', () => {
    const res = itemCfNeighbours(matrix([], 0, 3));
    expect(Array.from(res.offsets)).toEqual([0, 0, 0, 0]);
  });

  it('rejects inputs that break its contract', () => {
    expect(() => itemCfNeighbours(matrix([[0, 5, 1]], 1, 3))).toThrow(/itemIdx\[0\] = 5/);
    expect(() => itemCfNeighbours(matrix([[2, 0, 1]], 1, 3))).toThrow(/userIdx\[0\] = 2/);
    expect(() => itemCfNeighbours(matrix([[0, 0, -1]], 1, 3))).toThrow(/weight\[0\]/);
    expect(() => itemCfNeighbours(matrix([[0, 0, Number.NaN]], 1, 3))).toThrow(/weight\[0\]/);
    expect(() =>
      itemCfNeighbours({ userIdx: new Int32Array(2), itemIdx: new Int32Array(1), weight: new Float32Array(2), nUsers: 1, nItems: 1 }),
    ).toThrow(/same length/);
  });
});
