import { describe, expect, it } from 'vitest';
import {
  Recommender,
  buildRecommender,
  type RecommenderInteraction,
  type RecommenderItem,
} from '../../../src/ml/recommend.js';
import { mulberry32, randInt, shuffled } from '../../support/prng.js';

const items: RecommenderItem[] = [
  { id: 'i1', title: '职场沟通技巧入门', tags: ['职场', '沟通'], description: '学会在会议和邮件中清楚表达', category: '职场' },
  { id: 'i2', title: '职场写作技巧', tags: ['职场', '写作'], description: '邮件、周报与方案写作', category: '职场' },
  { id: 'i3', title: 'Python数据分析实战', tags: ['编程', '数据分析'], description: 'pandas 与可视化', category: '编程' },
  { id: 'i4', title: 'Python机器学习入门', tags: ['编程', '机器学习'], description: 'scikit-learn 基础', category: '编程' },
  { id: 'i5', title: '时间管理30讲', tags: ['效率', '时间管理'], description: null, category: '效率' },
  // A new course nobody has bought yet: reachable only through its text.
  { id: 'i6', title: '高效会议：职场协作', tags: ['职场', '会议'], description: '开好会议的方法', category: '职场' },
  { id: 'i7', title: '古典音乐欣赏', tags: ['音乐'], description: '巴赫与莫扎特', category: '艺术' },
  { id: 'i8', title: '瑜伽初级', tags: ['瑜伽'], description: '呼吸与拉伸', category: '艺术' },
];

const p = (userId: string, itemId: string): RecommenderInteraction => ({ userId, itemId, kind: 'purchase' });
const v = (userId: string, itemId: string): RecommenderInteraction => ({ userId, itemId, kind: 'view' });
const interactions: RecommenderInteraction[] = [
  p('ua', 'i1'),
  p('ua', 'i2'),
  p('ub', 'i1'),
  p('ub', 'i2'),
  v('ub', 'i5'),
  p('uc', 'i3'),
  p('uc', 'i4'),
  p('ud', 'i3'),
  p('ud', 'i4'),
  p('ud', 'i5'),
  p('ue', 'i1'),
  p('ue', 'i5'),
  p('uf', 'i7'),
  p('ug', 'i8'),
  p('uh', 'gone'), // an item no longer in the catalogue
];

const rec = buildRecommender({ items, interactions });

describe('buildRecommender', () => {
  it('counts what it built, skipping interactions on unknown items', () => {
    expect(rec.stats).toMatchObject({ items: 8, users: 7, interactions: 15, unknownItemInteractions: 1 });
  });

  it('rejects duplicate item ids and bad options', () => {
    expect(() => buildRecommender({ items: [items[0]!, items[0]!], interactions: [] })).toThrow(/duplicate item id i1/);
    expect(() => buildRecommender({ items, interactions: [], options: { viewWeight: -1 } })).toThrow(/viewWeight/);
  });
});

describe('recommend', () => {
  it('recommends what co-buyers bought, saying which owned item it comes from', () => {
    const out = rec.recommend({ owned: ['i1'] }, 3);
    expect(out[0]).toMatchObject({ itemId: 'i2', reason: { kind: 'because_bought', itemId: 'i1' } });
    expect(out.map((r) => r.itemId)).not.toContain('i1');
    for (let k = 1; k < out.length; k++) expect(out[k]!.score).toBeLessThanOrEqual(out[k - 1]!.score);
  });

  it('reaches a never-bought item through its topic', () => {
    const out = rec.recommend({ owned: ['i1', 'i2'] }, 5);
    const cold = out.find((r) => r.itemId === 'i6');
    expect(cold?.reason).toEqual({ kind: 'similar_topic', itemId: expect.stringMatching(/^i[12]$/), topic: '职场' });
  });

  it('never claims a purchase for an item the user only viewed', () => {
    const out = rec.recommend({ owned: [], viewed: ['i3'] }, 1);
    expect(out[0]).toMatchObject({ itemId: 'i4', reason: { kind: 'because_viewed', itemId: 'i3' } });
  });

  it('never returns an owned item or the same item twice, for any history', () => {
    const rand = mulberry32(5);
    const ids = [...items.map((it) => it.id), 'unknown-1'];
    for (let trial = 0; trial < 300; trial++) {
      const owned = shuffled(ids, rand).slice(0, randInt(rand, ids.length + 1));
      const viewed = shuffled(ids, rand).slice(0, randInt(rand, 4));
      const out = rec.recommend({ owned, viewed }, 1 + randInt(rand, 10));
      const got = out.map((r) => r.itemId);
      for (const id of got) expect(owned).not.toContain(id);
      expect(new Set(got).size).toBe(got.length);
      for (const r of out) expect(Number.isFinite(r.score)).toBe(true);
    }
  });

  it('falls back to popularity for a user it has never seen', () => {
    const out = rec.recommend({ owned: [] }, 3);
    // i1 has three buyers, i5 two buyers and a view (2.3), i2..i4 two each: ties go to catalogue order.
    expect(out.map((r) => r.itemId)).toEqual(['i1', 'i5', 'i2']);
    expect(out.every((r) => r.reason.kind === 'popular')).toBe(true);
    expect(rec.recommend({ owned: ['not-in-catalogue'], viewed: ['nor-this'] }, 2).map((r) => r.reason.kind)).toEqual([
      'popular',
      'popular',
    ]);
  });

  it('prefers popular items in the categories the user already follows', () => {
    // i7 has no co-buyers and shares no words with anything: its category leads the fallback.
    const out = rec.recommend({ owned: ['i7'] }, 2);
    expect(out[0]).toMatchObject({ itemId: 'i8', reason: { kind: 'popular_in', category: '艺术' } });
    expect(out[1]).toMatchObject({ itemId: 'i1', reason: { kind: 'popular' } });
  });

  it('returns fewer than n only when the catalogue runs out', () => {
    expect(rec.recommend({ owned: ['i1'] }, 0)).toEqual([]);
    const all = rec.recommend({ owned: ['i1', 'i2'] }, 100);
    // 6 unowned items; i6 has no buyers, so it only comes through similarity (it does: 职场).
    expect(all.map((r) => r.itemId).sort()).toEqual(['i3', 'i4', 'i5', 'i6', 'i7', 'i8']);
    expect(() => rec.recommend({ owned: [] }, -1)).toThrow(RangeError);
  });

  it('is reusable after toJSON/load, as in another worker process', () => {
    const json = JSON.parse(JSON.stringify(rec));
    const loaded = Recommender.load(json);
    for (const h of [{ owned: ['i1'] }, { owned: ['i3'], viewed: ['i5'] }, { owned: [] }, { owned: ['i7'] }]) {
      expect(loaded.recommend(h, 5)).toEqual(rec.recommend(h, 5));
    }
    expect(() => Recommender.load({ ...json, version: 2 })).toThrow(/version 1/);
  });

  it('lets the caller turn the blend towards content', () => {
    const contentOnly = buildRecommender({ items, interactions, options: { cfWeight: 0, popularityWeight: 0 } });
    const out = contentOnly.recommend({ owned: ['i3'] }, 1);
    expect(out[0]).toMatchObject({ itemId: 'i4', reason: { kind: 'similar_topic', itemId: 'i3' } });
    expect(['python', '编程']).toContain((out[0]!.reason as { topic: string }).topic);
  });
});
