import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RecommendationReason as MlReason } from '../../../src/ml/recommend.js';
import { pickLocale, renderReason, type RecommendationReason } from '../../../src/outreach/reasons.js';

const titles: Record<string, string> = { b1: '金字塔原理', v1: 'Deep Work' };
const titleOf = (id: string): string | undefined => titles[id];

describe('pickLocale', () => {
  it('sends every Chinese tag to zh-CN and everything else to en', () => {
    for (const l of ['zh', 'zh-CN', 'zh_CN', 'ZH-cn', 'zh-TW', 'zh-Hans-CN', 'zh-Hant']) expect(pickLocale(l), l).toBe('zh-CN');
    for (const l of [null, undefined, '', 'en', 'en-US', 'fr', 'ja-JP', 'zha', 'zhx-foo', 'xx-zh', 'garbage']) {
      expect(pickLocale(l as string | null), String(l)).toBe('en');
    }
  });
});

describe('renderReason', () => {
  const cases: [RecommendationReason, string, string][] = [
    [{ kind: 'because_bought', itemId: 'b1' }, '因为你购买了《金字塔原理》', 'Because you bought “金字塔原理”'],
    [{ kind: 'because_viewed', itemId: 'v1' }, '与你看过的《Deep Work》相似', 'Because you viewed “Deep Work”'],
    [{ kind: 'similar_topic', itemId: 'b1', topic: '职场' }, '相似主题：职场', 'Similar topic: 职场'],
    [{ kind: 'popular_in', category: '职场' }, '在「职场」中很受欢迎', 'Popular in 职场'],
    [{ kind: 'popular' }, '热门课程', 'Popular right now'],
  ];

  it.each(cases)('%j in both languages', (reason, zh, en) => {
    expect(renderReason(reason, 'zh-CN', titleOf)).toBe(zh);
    expect(renderReason(reason, 'en-GB', titleOf)).toBe(en);
    expect(renderReason(reason, null, titleOf)).toBe(en);
  });

  it('falls back to a generic phrase, never an id, when a title is unknown', () => {
    const unknown = (): undefined => undefined;
    expect(renderReason({ kind: 'because_bought', itemId: 'item-9' }, 'zh', unknown)).toBe('与你购买过的课程相关');
    expect(renderReason({ kind: 'because_viewed', itemId: 'item-9' }, 'en', unknown)).toBe('Similar to a course you viewed');
    expect(renderReason({ kind: 'similar_topic', itemId: 'item-9', topic: '' }, 'en', unknown)).toBe('On a topic you like');
    expect(renderReason({ kind: 'similar_topic', itemId: 'b1', topic: ' ' }, 'zh-CN', titleOf)).toBe('与《金字塔原理》主题相似');
    expect(renderReason({ kind: 'popular_in', category: '' }, 'zh-CN', unknown)).toBe('热门课程');
    for (const r of ['because_bought', 'because_viewed'] as const) {
      expect(renderReason({ kind: r, itemId: 'item-9' }, 'en', unknown)).not.toContain('item-9');
    }
  });

  it('puts titles on one line', () => {
    expect(renderReason({ kind: 'because_bought', itemId: 'x' }, 'en', () => 'Line one\r\nBcc: a@b')).toBe('Because you bought “Line one Bcc: a@b”');
  });

  it('accepts the reasons the recommender produces (compile-time check)', () => {
    expectTypeOf<MlReason>().toExtend<RecommendationReason>();
  });
});
