import { describe, expect, it } from 'vitest';
import { neighboursOf } from '../../../src/ml/item-cf.js';
import {
  TfidfModel,
  contentNeighbours,
  cosineSparse,
  fitTfidf,
  topSharedTerm,
  topTerms,
  type SparseVector,
} from '../../../src/ml/tfidf.js';
import { mulberry32, randInt } from '../../support/prng.js';

// Three titles, raw term frequency (sublinearTf off), N = 3:
//   d0 "apple banana", d1 "apple cherry", d2 "banana banana"
//   df: apple 2, banana 2, cherry 1
//   idf = ln((1 + N) / (1 + df)) + 1: apple = banana = ln(4/3) + 1 = 1.287682, cherry = ln 2 + 1 = 1.693147
//   d0 = (1.287682, 1.287682, 0)      → unit: (0.707107, 0.707107, 0)
//   d1 = (1.287682, 0, 1.693147)      → norm 2.127175 → unit: (0.6053485, 0, 0.7959605)
//   d2 = (0, 2 × 1.287682, 0)         → unit: (0, 1, 0)
//   cos(d0, d1) = 0.707107 × 0.6053485 = 0.4280460
//   cos(d0, d2) = 0.707107
//   cos(d1, d2) = 0
const fruit = [{ title: 'apple banana' }, { title: 'apple cherry' }, { title: 'banana banana' }];
const opts = { sublinearTf: false } as const;

describe('fitTfidf', () => {
  it('weights and normalises as computed by hand', () => {
    const { model, vectors } = fitTfidf(fruit, opts);
    expect(model.vocabulary).toEqual(['apple', 'banana', 'cherry']);
    expect(model.idf[0]).toBeCloseTo(1.287682, 6);
    expect(model.idf[2]).toBeCloseTo(1.693147, 6);
    const [d0, d1, d2] = vectors as [SparseVector, SparseVector, SparseVector];
    expect(Array.from(d1.indices)).toEqual([0, 2]);
    expect(d1.values[0]).toBeCloseTo(0.6053485, 6);
    expect(d1.values[1]).toBeCloseTo(0.7959605, 6);
    expect(cosineSparse(d0, d1)).toBeCloseTo(0.4280460, 6);
    expect(cosineSparse(d0, d2)).toBeCloseTo(0.707107, 6);
    expect(cosineSparse(d1, d2)).toBe(0);
  });

  it('finds content neighbours, best first, and explains a pair by its top shared term', () => {
    const { model, vectors } = fitTfidf(fruit, opts);
    const lists = contentNeighbours(vectors, { k: 5 });
    const n0 = neighboursOf(lists, 0);
    expect(Array.from(n0.items)).toEqual([2, 1]);
    expect(n0.scores[0]).toBeCloseTo(0.707107, 6);
    expect(n0.scores[1]).toBeCloseTo(0.4280460, 6);
    expect(Array.from(neighboursOf(lists, 1).items)).toEqual([0]);
    expect(Array.from(neighboursOf(lists, 2).items)).toEqual([0]);
    expect(model.vocabulary[topSharedTerm(vectors[0] as SparseVector, vectors[1] as SparseVector)]).toBe('apple');
    expect(topSharedTerm(vectors[1] as SparseVector, vectors[2] as SparseVector)).toBe(-1);
    expect(topTerms(vectors[1] as SparseVector, model.vocabulary, 1)).toEqual([{ term: 'cherry', weight: expect.closeTo(0.7959605, 6) }]);
  });

  it('counts title and tag words more than description words', () => {
    // Same word once in the title (weight 2) and "guide" once in the description (weight 1).
    const { model } = fitTfidf([{ title: 'negotiation', description: 'guide' }, { title: 'other' }], {
      ...opts,
      fieldWeights: { title: 2, tags: 2, description: 1 },
    });
    const v = model.transform({ title: 'negotiation', description: 'guide' });
    const idf = (t: string) => model.idf[model.termIndex(t)] as number;
    const w = (t: string) => v.values[Array.from(v.indices).indexOf(model.termIndex(t))] as number;
    expect(w('negotiation') / w('guide')).toBeCloseTo((2 * idf('negotiation')) / (1 * idf('guide')), 10);
  });

  it('relates Chinese titles through segmented words and whole tags', () => {
    const docs = [
      { title: '职场沟通技巧入门', tags: ['职场'] },
      { title: '职场写作技巧', tags: ['职场', '时间管理'] },
      { title: 'Python数据分析', tags: ['编程'] },
    ];
    const { model, vectors } = fitTfidf(docs);
    expect(model.vocabulary).toContain('时间管理'); // the whole tag, besides 时间 and 管理
    expect(model.vocabulary).toContain('时间');
    const [a, b, c] = vectors as [SparseVector, SparseVector, SparseVector];
    expect(cosineSparse(a, b)).toBeGreaterThan(0.2);
    expect(cosineSparse(a, c)).toBe(0);
    expect(['职场', '技巧']).toContain(model.vocabulary[topSharedTerm(a, b)]);
  });

  it('transforms unseen documents with the fitted vocabulary, and survives toJSON/load', () => {
    const { model } = fitTfidf(fruit);
    const doc = { title: 'cherry apple durian' };
    const loaded = TfidfModel.load(JSON.parse(JSON.stringify(model)));
    const v = model.transform(doc);
    expect(Array.from(v.indices)).toEqual([0, 2]); // durian is not in the vocabulary
    expect(loaded.transform(doc)).toEqual(v);
    expect(model.transform({ title: 'durian' }).indices.length).toBe(0);
    expect(cosineSparse(v, model.transform({ title: 'durian' }))).toBe(0);
  });

  it('applies document-frequency limits', () => {
    const { model } = fitTfidf(fruit, { minDf: 2 });
    expect(model.vocabulary).toEqual(['apple', 'banana']);
    const { model: m2 } = fitTfidf([...fruit, { title: 'apple' }], { maxDfRatio: 0.5 });
    expect(m2.vocabulary).not.toContain('apple'); // in 3 of 4 documents
  });
});

describe('contentNeighbours', () => {
  it('matches brute-force cosine on a seeded random corpus', () => {
    const rand = mulberry32(11);
    const words = Array.from({ length: 30 }, (_, i) => `w${String.fromCharCode(97 + (i % 26))}${i}`);
    const docs = Array.from({ length: 60 }, () => ({
      title: Array.from({ length: 1 + randInt(rand, 6) }, () => words[randInt(rand, words.length)]).join(' '),
    }));
    const { vectors } = fitTfidf(docs);
    const k = 7;
    const lists = contentNeighbours(vectors, { k });
    for (let i = 0; i < docs.length; i++) {
      const expected = vectors
        .map((v, j) => ({ j, s: j === i ? 0 : cosineSparse(vectors[i] as SparseVector, v) }))
        .filter((e) => e.s > 0)
        .sort((x, y) => y.s - x.s || x.j - y.j)
        .slice(0, k);
      const got = neighboursOf(lists, i);
      expect(got.items.length).toBe(expected.length);
      expected.forEach((e, p) => {
        expect(got.scores[p]).toBeCloseTo(e.s, 6);
        // Only ties (equal up to float rounding) may reorder items.
        if (got.items[p] !== e.j) expect(Math.abs((got.scores[p] as number) - e.s)).toBeLessThan(1e-6);
      });
    }
  });
});
