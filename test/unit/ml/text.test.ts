import { describe, expect, it } from 'vitest';
import { EN_STOP_WORDS, ZH_STOP_WORDS, splitSentences, tokenize } from '../../../src/ml/text.js';

describe('tokenize', () => {
  it('segments a Chinese course title into meaningful words', () => {
    const words = tokenize('职场沟通技巧入门');
    expect(words).toContain('职场');
    expect(words).toContain('沟通');
    expect(words).toContain('技巧');
    // Nothing lost or duplicated: the words are the title, cut at word boundaries.
    expect(words.join('')).toBe('职场沟通技巧入门');
    expect(words.length).toBeGreaterThanOrEqual(3);
  });

  it('handles mixed Chinese and English, lower-casing Latin words', () => {
    const words = tokenize('Python数据分析实战：从入门到精通');
    expect(words.slice(0, 3)).toEqual(['python', '数据', '分析']);
    expect(words).not.toContain('：');
    expect(words).not.toContain('从'); // single character
    expect(tokenize('iPhone 与 AI 功能')).toEqual(['iphone', 'ai', '功能']);
  });

  it('drops punctuation, numbers and stop words in both languages', () => {
    expect(tokenize('The art of time management。这是一门关于时间管理的课程！2024 版 3.5')).toEqual([
      'art',
      'time',
      'management',
      '时间',
      '管理',
      '课程',
    ]);
    expect(EN_STOP_WORDS.has('the')).toBe(true);
    expect(ZH_STOP_WORDS.has('的')).toBe(true);
  });

  it('normalises full-width letters and keeps programming language names', () => {
    expect(tokenize('ＡＩ入门')).toEqual(['ai', '入门']);
    expect(tokenize('C++ and C# for beginners')).toEqual(['c++', 'c#', 'beginners']);
  });

  it('accepts custom stop words and single characters', () => {
    expect(tokenize('职场沟通', { stopWords: new Set(['职场']) })).toEqual(['沟通']);
    expect(tokenize('读 书', { keepSingleChars: true })).toEqual(['读', '书']);
  });

  it('stays fast on a long text without punctuation (segmented in bounded chunks)', () => {
    const long = '职场沟通技巧入门'.repeat(12_500); // 100k characters: 17.5 s unchunked (STACK-NOTES)
    const t0 = performance.now();
    const words = tokenize(long);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(words.length).toBeGreaterThan(30_000);
  });
});

describe('splitSentences', () => {
  it('cuts at sentence ends in both scripts without breaking decimals or dotted names', () => {
    expect(splitSentences('Node.js v3.5 is out. 你好。再见！ok')).toEqual(['Node.js v3.5 is out.', ' 你好。', '再见！', 'ok']);
  });

  it('bounds chunk length', () => {
    const parts = splitSentences('a'.repeat(2000));
    expect(parts.every((p) => p.length <= 512)).toBe(true);
    expect(parts.join('')).toBe('a'.repeat(2000));
  });
});
