import { describe, expect, it } from 'vitest';
import { PersonaModel, describeClusters, fitPersonas, silhouette } from '../../../src/ml/kmeans-personas.js';
import { gaussian, mulberry32 } from '../../support/prng.js';

/** `perBlob` points around each centre, with standard deviation `sd` in every dimension. */
function blobs(centres: number[][], perBlob: number, sd: number, seed: number): { rows: number[][]; truth: number[] } {
  const rand = mulberry32(seed);
  const rows: number[][] = [];
  const truth: number[] = [];
  centres.forEach((c, b) => {
    for (let i = 0; i < perBlob; i++) {
      rows.push(c.map((x) => x + sd * gaussian(rand)));
      truth.push(b);
    }
  });
  return { rows, truth };
}

/** Every true blob maps to exactly one cluster and no two blobs share one. */
function expectSamePartition(labels: ArrayLike<number>, truth: number[]): void {
  const blobToCluster = new Map<number, number>();
  truth.forEach((b, i) => {
    const c = labels[i] as number;
    expect(blobToCluster.get(b) ?? c).toBe(c);
    blobToCluster.set(b, c);
  });
  expect(new Set(blobToCluster.values()).size).toBe(blobToCluster.size);
}

describe('silhouette', () => {
  it('matches a hand computation', () => {
    // Points 0, 1 | 10, 11 on a line.
    //   s(0)  = (mean(10, 11) − 1) / mean(10, 11) = 9.5 / 10.5 = 0.904762
    //   s(1)  = (mean(9, 10)  − 1) / mean(9, 10)  = 8.5 / 9.5  = 0.894737
    //   s(10) = 0.894737, s(11) = 0.904762 by symmetry; mean 0.899749
    const xs = [0, 1, 10, 11];
    const dist = Float64Array.from(xs.flatMap((a) => xs.map((b) => Math.abs(a - b))));
    expect(silhouette(dist, 4, Int32Array.from([0, 0, 1, 1]), 2)).toBeCloseTo(0.899749, 6);
    // Point 0 alone scores 0; s(1) = (1 − 9.5) / 9.5 = −0.894737, s(10) = (10 − 5) / 10 = 0.5,
    // s(11) = (11 − 5.5) / 11 = 0.5; mean 0.026316.
    expect(silhouette(dist, 4, Int32Array.from([0, 1, 1, 1]), 2)).toBeCloseTo(0.026316, 6);
  });
});

describe('fitPersonas', () => {
  it('recovers k = 3 on well-separated seeded blobs and labels them exactly', () => {
    const { rows, truth } = blobs(
      [
        [0, 0],
        [10, 0],
        [0, 10],
      ],
      60,
      0.6,
      1,
    );
    const model = fitPersonas(rows, { features: ['x', 'y'], seed: 3 });
    expect(model.k).toBe(3);
    const best = [...model.selection].sort((a, b) => b.silhouette - a.silhouette)[0];
    expect(best?.k).toBe(3);
    expect(model.selection.map((s) => s.k)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expectSamePartition(model.assignMany(rows), truth);
    expect(model.sizes).toEqual([60, 60, 60]);
  });

  it('lets silhouette choose k = 5 in five dimensions, on a bounded sample', () => {
    const centres = [0, 1, 2, 3, 4].map((b) => [0, 0, 0, 0, 0].map((_, j) => (j === b ? 8 : 0)));
    const { rows, truth } = blobs(centres, 500, 0.7, 2);
    const model = fitPersonas(rows, { features: ['a', 'b', 'c', 'd', 'e'], silhouetteSample: 400, seed: 5 });
    expect(model.k).toBe(5);
    expectSamePartition(model.assignMany(rows), truth);
  });

  it('uses a given k without searching', () => {
    const { rows } = blobs(
      [
        [0, 0],
        [10, 0],
        [0, 10],
      ],
      20,
      0.5,
      3,
    );
    const model = fitPersonas(rows, { features: ['x', 'y'], k: 2 });
    expect(model.k).toBe(2);
    expect(model.selection).toEqual([]);
  });

  it('assigns new rows to the nearest centroid, and survives toJSON/load', () => {
    const { rows } = blobs(
      [
        [0, 100],
        [50, 300],
      ],
      40,
      2,
      4,
    );
    const model = fitPersonas(rows, { features: ['x', 'y'], seed: 1 });
    const near0 = model.assign([1, 101]);
    const near1 = model.assign([49, 299]);
    expect(near0).not.toBe(near1);
    expect(model.assign(rows[0] as number[])).toBe(near0);
    const loaded = PersonaModel.load(JSON.parse(JSON.stringify(model)));
    expect(loaded.assignMany(rows)).toEqual(model.assignMany(rows));
    expect(loaded.toJSON()).toEqual(model.toJSON());
  });

  it('is deterministic for a seed', () => {
    const { rows } = blobs(
      [
        [0, 0],
        [5, 5],
        [0, 5],
      ],
      50,
      1.5,
      6,
    );
    const a = fitPersonas(rows, { features: ['x', 'y'], seed: 42 });
    const b = fitPersonas(rows, { features: ['x', 'y'], seed: 42 });
    expect(a.toJSON()).toEqual(b.toJSON());
  });

  it('handles tiny and degenerate populations', () => {
    expect(fitPersonas([[1, 2]], { features: ['x', 'y'] }).k).toBe(1);
    const same = fitPersonas(
      [
        [3, 3],
        [3, 3],
        [3, 3],
      ],
      { features: ['x', 'y'] },
    );
    expect(same.k).toBe(1);
    expect(same.assign([3, 3])).toBe(0);
    expect(Array.from(same.scales)).toEqual([1, 1]); // constant columns: no division by zero
    const two = fitPersonas(
      [
        [0, 0],
        [0, 0],
        [9, 9],
      ],
      { features: ['x', 'y'] },
    );
    expect(two.k).toBe(2);
  });

  it('rejects bad input with messages that name the problem', () => {
    expect(() => fitPersonas([], { features: ['x'] })).toThrow(/at least one row/);
    expect(() => fitPersonas([[1], [1, 2]], { features: ['x'] })).toThrow(/row 1 must have 1 values/);
    expect(() => fitPersonas([[Number.NaN]], { features: ['x'] })).toThrow(/row 0: x must be a finite number/);
    expect(() => fitPersonas([[1], [2]], { features: ['x'], k: 3 })).toThrow(/k must be/);
    const model = fitPersonas([[1], [2], [10], [11]], { features: ['x'] });
    expect(() => model.assign([1, 2])).toThrow(/must have 1 values/);
  });
});

describe('describeClusters', () => {
  it('names what sets each persona apart, in standard deviations from the mean', () => {
    // Columns: purchases, refunds, then topic shares 职场, 编程.
    // Persona A (60 users): many purchases, few refunds, mostly 职场.
    // Persona B (40 users): few purchases, many refunds, mostly 编程.
    const rand = mulberry32(8);
    const rows: number[][] = [];
    for (let i = 0; i < 60; i++) rows.push([20 + 3 * gaussian(rand), 0.2 * rand(), 0.9, 0.1]);
    for (let i = 0; i < 40; i++) rows.push([2 + gaussian(rand), 3 + rand(), 0.15, 0.85]);
    const model = fitPersonas(rows, { features: ['purchases', 'refunds'], topics: ['职场', '编程'], k: 2, seed: 1 });
    const labels = {
      purchases: { high: 'buys often', low: 'rarely buys' },
      refunds: { high: 'many refunds', low: 'few refunds' },
    };
    const [a, b] = describeClusters(model, labels);
    expect(a?.size).toBe(60);
    expect(a?.share).toBeCloseTo(0.6, 10);
    expect(a?.traits.map((t) => t.text).sort()).toEqual(['buys often', 'few refunds', 'mostly 职场'].sort());
    expect(b?.traits.map((t) => t.text).sort()).toEqual(['many refunds', 'mostly 编程', 'rarely buys'].sort());
    // Purchases: overall mean 12.8 and SD ≈ 9; persona A at ≈ 20 sits ≈ +0.8 SD above it.
    const purchases = a?.traits.find((t) => t.name === 'purchases');
    expect(purchases?.z).toBeGreaterThan(0.5);
    expect(purchases?.z).toBeLessThan(1.2);
    expect(b?.text.split(', ').length).toBe(3);

    const one = describeClusters(model, labels, { maxTraits: 1, topicText: (t) => `mostly ${t} courses` });
    expect(one[0]?.traits.length).toBe(1);
    const topicOnly = describeClusters(model, {}, { minZ: 0.5, maxTraits: 3 });
    expect(topicOnly[0]?.text).toContain('high purchases'); // fallback label
  });

  it('calls a cluster typical when nothing stands out', () => {
    const model = fitPersonas([[1], [1], [1]], { features: ['x'] });
    expect(describeClusters(model, {})[0]?.text).toBe('close to the average user');
  });

  it('applies log1p consistently in fit and assign', () => {
    const rows = [[0], [1], [9], [99], [999], [9999]];
    const model = fitPersonas(rows, { features: ['spend'], log1p: ['spend'], k: 2, seed: 1 });
    expect(model.means[0]).toBeCloseTo(rows.reduce((s, r) => s + Math.log1p(r[0] as number), 0) / rows.length, 10);
    expect(model.assign([0])).not.toBe(model.assign([9999]));
  });
});
