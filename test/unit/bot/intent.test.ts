import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DAYS,
  DEFAULT_N,
  EXAMPLES,
  MAX_DAYS,
  MAX_N,
  MAX_TEXT,
  ROI_DAYS,
  cleanText,
  detectLang,
  matchSegment,
  parseCommand,
  parseQuestion,
  parseUserRef,
  type Intent,
} from '../../../src/bot/intent.js';
import { RFM_SEGMENTS, RFM_SEGMENT_LABELS } from '../../../src/ml/rfm.js';

const id = (value: string) => ({ kind: 'id', value }) as const;
const email = (value: string) => ({ kind: 'email', value }) as const;

describe('parseQuestion: English', () => {
  const cases: [string, Intent][] = [
    ['how many high risk users in Champions?', { kind: 'count', tier: 'high', segment: 'champions' }],
    ["how did last week's coupons do?", { kind: 'campaigns', days: 7 }],
    ['show me at-risk users in the loyal segment', { kind: 'at_risk', n: DEFAULT_N, segment: 'loyal' }],
    ['show me the top 20 at-risk users in the loyal segment', { kind: 'at_risk', n: 20, segment: 'loyal' }],
    ['why is user 42 at risk?', { kind: 'why', ref: id('42') }],
    ['<@U0BOT> why is <mailto:Bob@Example.com|Bob@Example.com> at risk?', { kind: 'why', ref: email('bob@example.com') }],
    ['what should we recommend to alice@example.com?', { kind: 'recommend', ref: email('alice@example.com') }],
    ['show me user u_123', { kind: 'user', ref: id('u_123') }],
    ['user drop@example.com', { kind: 'user', ref: email('drop@example.com') }],
    ["what's user #42's risk", { kind: 'user', ref: id('42') }],
    ['how many users in each segment', { kind: 'segments' }],
    ['segment sizes', { kind: 'segments' }],
    ['top 5 champions', { kind: 'segment', segment: 'champions', n: 5 }],
    ['list hibernating users', { kind: 'segment', segment: 'hibernating', n: DEFAULT_N }],
    ['show me users in the at risk segment', { kind: 'segment', segment: 'at_risk', n: DEFAULT_N }],
    ['who are the riskiest users in cant lose them?', { kind: 'at_risk', n: DEFAULT_N, segment: 'cant_lose_them' }],
    ["which can't-lose-them users are high risk", { kind: 'at_risk', n: DEFAULT_N, segment: 'cant_lose_them', tier: 'high' }],
    ['show 15 medium risk users', { kind: 'at_risk', n: 15, tier: 'medium' }],
    ['how many users are at risk in the loyal segment?', { kind: 'count', tier: 'high', segment: 'loyal' }],
    ['how many users in the new segment', { kind: 'count', segment: 'new' }],
    ['how did the email campaign do in the last 14 days', { kind: 'campaigns', days: 14 }],
    ['campaign results for the past two weeks', { kind: 'campaigns', days: 14 }],
    ['did outreach beat the holdout?', { kind: 'uplift' }],
    ['is the model any good?', { kind: 'model' }],
    ['what is the AUC', { kind: 'model' }],
    ['<@U0BOT> overview please', { kind: 'overview' }],
    ['how are we doing?', { kind: 'overview' }],
    ['can you pause outreach?', { kind: 'pause_outreach' }],
    ['stop sending coupons', { kind: 'pause_outreach' }],
    ['please resume outreach', { kind: 'resume_outreach' }],
    ['rescore everyone now', { kind: 'rescore' }],
    ['what can you do?', { kind: 'help' }],
  ];
  it.each(cases)('%s', (text, intent) => {
    expect(parseQuestion(text)).toEqual({ ok: true, intent, lang: 'en' });
  });
});

describe('parseQuestion: Chinese', () => {
  const cases: [string, Intent][] = [
    ['高风险用户有多少', { kind: 'count', tier: 'high' }],
    ['有流失风险的用户有多少', { kind: 'count', tier: 'high' }],
    ['核心用户中高风险的有多少', { kind: 'count', tier: 'high', segment: 'champions' }],
    ['流失风险分群有多少人', { kind: 'count', segment: 'at_risk' }],
    ['沉睡用户有多少', { kind: 'count', segment: 'hibernating' }],
    ['为什么用户 42 有流失风险', { kind: 'why', ref: id('42') }],
    ['用户４２为什么会流失？', { kind: 'why', ref: id('42') }],
    ['推荐给 alice@example.com 什么课', { kind: 'recommend', ref: email('alice@example.com') }],
    ['用户42的情况', { kind: 'user', ref: id('42') }],
    ['模型效果怎么样', { kind: 'model' }],
    ['AUC 是多少', { kind: 'model' }],
    ['暂停外呼', { kind: 'pause_outreach' }],
    ['恢复外呼', { kind: 'resume_outreach' }],
    ['请重新评分', { kind: 'rescore' }],
    ['上周的优惠券效果怎么样', { kind: 'campaigns', days: 7 }],
    ['最近两周的活动效果', { kind: 'campaigns', days: 14 }],
    ['过去 30 天的外呼效果', { kind: 'campaigns', days: 30 }],
    ['触达组和对照组比提升多少', { kind: 'uplift' }],
    ['前20个高风险用户', { kind: 'at_risk', n: 20, tier: 'high' }],
    ['列出高风险用户 20 个', { kind: 'at_risk', n: 20, tier: 'high' }],
    ['列出核心用户中流失风险最高的 20 个用户', { kind: 'at_risk', n: 20, segment: 'champions' }],
    ['哪些用户有流失风险', { kind: 'at_risk', n: DEFAULT_N }],
    ['核心用户有哪些', { kind: 'segment', segment: 'champions', n: DEFAULT_N }],
    ['即将沉睡的用户有哪些', { kind: 'segment', segment: 'about_to_sleep', n: DEFAULT_N }],
    ['各分群有多少人', { kind: 'segments' }],
    ['风险分布', { kind: 'overview' }],
    ['整体情况怎么样', { kind: 'overview' }],
    ['你能做什么', { kind: 'help' }],
  ];
  it.each(cases)('%s', (text, intent) => {
    expect(parseQuestion(text)).toEqual({ ok: true, intent, lang: 'zh' });
  });
});

describe('parseQuestion: did the coupons pay off?', () => {
  const roi = (days = ROI_DAYS): Intent => ({ kind: 'roi', days });
  const en: [string, Intent][] = [
    ['did the coupons pay off?', roi()],
    ['<@U0BOT> Did the coupons pay off', roi()],
    ['are coupons worth it', roi()],
    ['were the coupons worth the money?', roi()],
    ['is the email campaign worth the money?', roi()],
    ['coupon ROI', roi()],
    ["what's the ROI on outreach", roi()],
    ['what is our return on investment', roi()],
    ['what did the campaign earn', roi()],
    ['how much money did the emails make us?', roi()],
    ['did the campaign make money?', roi()],
    ['have the coupons paid for themselves?', roi()],
    ['is outreach profitable', roi()],
    ['are we losing money on coupons?', roi()],
    ['net incremental revenue', roi()],
    ['how much incremental revenue did outreach bring', roi()],
    ['do the coupons we give pay off?', roi()],
    ['did the coupon offer pay off?', roi()],
    ["did last month's coupons pay off?", roi(30)],
    ['campaign ROI over the last 2 weeks', roi(14)],
  ];
  it.each(en)('%s', (text, intent) => {
    expect(parseQuestion(text)).toEqual({ ok: true, intent, lang: 'en' });
  });

  const zh: [string, Intent][] = [
    ['优惠券划算吗', roi()],
    ['优惠券值不值', roi()],
    ['发券赚了吗', roi()],
    ['活动回报率', roi()],
    ['发优惠券值得吗', roi()],
    ['营销活动赚了多少钱', roi()],
    ['触达有没有回本', roi()],
    ['优惠券的投入产出比', roi()],
    ['优惠券带来了多少增量收入', roi()],
    ['活动的 ROI 是多少', roi()],
    ['发券亏钱了吗？', roi()],
    ['给所有用户发优惠券划算吗', roi()],
    ['上个月发券亏了吗', roi(30)],
    ['最近两周邮件划算吗', roi(14)],
  ];
  it.each(zh)('%s', (text, intent) => {
    expect(parseQuestion(text)).toEqual({ ok: true, intent, lang: 'zh' });
  });

  // Near misses: payoff words about something else, outreach questions that are not about money,
  // orders dressed as questions, and questions about one user.
  const other: [string, 'en' | 'zh', Intent | undefined][] = [
    ["how did last week's coupons do?", 'en', { kind: 'campaigns', days: 7 }],
    ['how do users earn coupons?', 'en', { kind: 'campaigns', days: DEFAULT_DAYS }],
    ['coupon redemption rate', 'en', { kind: 'campaigns', days: DEFAULT_DAYS }],
    ['did outreach beat the holdout?', 'en', { kind: 'uplift' }],
    ['is the model worth it?', 'en', { kind: 'model' }],
    ['which users are the most profitable?', 'en', undefined],
    ['send coupons to everyone if they pay off', 'en', undefined],
    ['stop sending coupons, they do not pay off', 'en', undefined],
    ['did the coupons pay off for user 42?', 'en', { kind: 'user', ref: id('42') }],
    ['what is user 42 worth', 'en', { kind: 'user', ref: id('42') }],
    ['优惠券效果怎么样', 'zh', { kind: 'campaigns', days: DEFAULT_DAYS }],
    ['模型值得信任吗', 'zh', { kind: 'model' }],
    ['给所有用户发优惠券', 'zh', undefined],
    ['给用户42发券划算吗', 'zh', undefined],
    ['用户42值多少钱', 'zh', { kind: 'user', ref: id('42') }],
  ];
  it.each(other)('not roi: %s', (text, lang, intent) => {
    expect(parseQuestion(text)).toEqual(intent ? { ok: true, intent, lang } : { ok: false, lang, reason: 'not_understood' });
  });
});

describe('parseQuestion: refusals', () => {
  const refused: [string, 'en' | 'zh'][] = [
    ["what's the weather", 'en'],
    ['delete all users', 'en'],
    ['drop table users;', 'en'],
    ['export all emails', 'en'],
    ['send a coupon to user 42', 'en'],
    ['tell me a joke', 'en'],
    ['', 'en'],
    ['   ', 'en'],
    ['42', 'en'],
    ['#42 ?', 'en'],
    ["don't pause outreach", 'en'],
    ['what happens if I pause outreach?', 'en'],
    ['why are users churning?', 'en'],
    ['recommend courses for champions', 'en'],
    ['今天天气怎么样', 'zh'],
    ['删除所有用户', 'zh'],
    ['给所有用户发优惠券', 'zh'],
    ['不要暂停外呼', 'zh'],
    ['核心指标怎么样', 'zh'],
    ['你好', 'zh'],
    ['４２', 'zh'],
  ];
  it.each(refused)('%j', (text, lang) => {
    expect(parseQuestion(text)).toEqual({ ok: false, lang, reason: 'not_understood' });
  });

  it('names the bound when a number is too large', () => {
    expect(parseQuestion('show the top 500 at-risk users')).toEqual({
      ok: false,
      lang: 'en',
      reason: 'invalid',
      error: `the number of users must be a whole number from 1 to ${MAX_N}, got 500`,
    });
    expect(parseQuestion('campaign results for the last 2 years')).toEqual({
      ok: false,
      lang: 'en',
      reason: 'invalid',
      error: `the number of days must be a whole number from 1 to ${MAX_DAYS}, got 730 (last 2 years)`,
    });
    const zh = parseQuestion('前200个高风险用户');
    expect(zh).toMatchObject({ ok: false, lang: 'zh', reason: 'invalid' });
    expect(zh.ok === false && zh.reason === 'invalid' && zh.error).toContain(`1 到 ${MAX_N}`);
  });
});

describe('EXAMPLES', () => {
  it('has examples in both languages, every one understood and in its language', () => {
    expect(EXAMPLES.en.length).toBeGreaterThanOrEqual(5);
    expect(EXAMPLES.zh.length).toBeGreaterThanOrEqual(5);
    for (const lang of ['en', 'zh'] as const) {
      for (const text of EXAMPLES[lang]) {
        expect(parseQuestion(text), text).toMatchObject({ ok: true, lang });
      }
    }
  });
});

describe('parseCommand', () => {
  const ok: [string, Intent][] = [
    ['', { kind: 'help' }],
    ['help', { kind: 'help' }],
    ['/retain overview', { kind: 'overview' }],
    ['OVERVIEW', { kind: 'overview' }],
    ['segments', { kind: 'segments' }],
    ['segment champions 20', { kind: 'segment', segment: 'champions', n: 20 }],
    ['segment Champions', { kind: 'segment', segment: 'champions', n: DEFAULT_N }],
    ["segment Can't lose them 5", { kind: 'segment', segment: 'cant_lose_them', n: 5 }],
    ['segment cant_lose_them', { kind: 'segment', segment: 'cant_lose_them', n: DEFAULT_N }],
    ['segment potential-loyalists 3', { kind: 'segment', segment: 'potential_loyalists', n: 3 }],
    ['segment 核心用户', { kind: 'segment', segment: 'champions', n: DEFAULT_N }],
    ['分群 核心用户 20', { kind: 'segment', segment: 'champions', n: 20 }],
    ['分群核心用户', { kind: 'segment', segment: 'champions', n: DEFAULT_N }],
    ['at-risk', { kind: 'at_risk', n: DEFAULT_N }],
    ['at-risk 20', { kind: 'at_risk', n: 20 }],
    ['at-risk 20 loyal', { kind: 'at_risk', n: 20, segment: 'loyal' }],
    ['at-risk loyal 20', { kind: 'at_risk', n: 20, segment: 'loyal' }],
    ['at-risk high', { kind: 'at_risk', n: DEFAULT_N, tier: 'high' }],
    ['at-risk 100 at risk', { kind: 'at_risk', n: 100, segment: 'at_risk' }],
    ['user 42', { kind: 'user', ref: id('42') }],
    ['user Alice@Example.com', { kind: 'user', ref: email('alice@example.com') }],
    ['user <mailto:a@b.co|a@b.co>', { kind: 'user', ref: email('a@b.co') }],
    ['用户42', { kind: 'user', ref: id('42') }],
    ['recommend 42', { kind: 'recommend', ref: id('42') }],
    ['campaigns', { kind: 'campaigns', days: DEFAULT_DAYS }],
    ['campaigns 7', { kind: 'campaigns', days: 7 }],
    ['campaigns 7d', { kind: 'campaigns', days: 7 }],
    ['uplift', { kind: 'uplift' }],
    ['roi', { kind: 'roi', days: ROI_DAYS }],
    ['roi 30', { kind: 'roi', days: 30 }],
    ['payoff 14d', { kind: 'roi', days: 14 }],
    ['回报 30天', { kind: 'roi', days: 30 }],
    ['model', { kind: 'model' }],
    ['rescore', { kind: 'rescore' }],
    ['pause outreach', { kind: 'pause_outreach' }],
    ['pause', { kind: 'pause_outreach' }],
    ['resume outreach', { kind: 'resume_outreach' }],
    ['暂停外呼', { kind: 'pause_outreach' }],
  ];
  it.each(ok)('%j', (text, intent) => {
    expect(parseCommand(text)).toEqual({ ok: true, intent, lang: detectLang(text) });
  });

  const errors: [string, string][] = [
    ['segment champs', 'unknown segment "champs" — did you mean champions?'],
    ['segment xyzzy', `unknown segment "xyzzy"; segments are: ${RFM_SEGMENTS.join(', ')}`],
    ['overveiw', 'unknown command "overveiw" — did you mean overview? Try /retain help'],
    ['foo', 'unknown command "foo"; try /retain help'],
    ['at-risk 500', `the number of users must be a whole number from 1 to ${MAX_N}, got 500`],
    ['at-risk 0', `the number of users must be a whole number from 1 to ${MAX_N}, got 0`],
    ['segment champions 1.5', `the number of users must be a whole number from 1 to ${MAX_N}, got 1.5`],
    ['segment champions 5 6', 'give at most one number'],
    ['campaigns 400', `the number of days must be a whole number from 1 to ${MAX_DAYS}, got 400`],
    ['roi 400', `the number of days must be a whole number from 1 to ${MAX_DAYS}, got 400`],
    ['roi coupons', 'usage: /retain roi [days]'],
    ['user', 'usage: /retain user <id|email>'],
    ['user 1 2', 'usage: /retain user <id|email>'],
    ['user bob@', '"bob@" is neither a user id nor an email address'],
    ['pause everything', 'usage: /retain pause outreach'],
    ['overview now', 'overview takes no arguments. usage: /retain overview'],
  ];
  it.each(errors)('%j fails with a message saying what was wrong', (text, error) => {
    expect(parseCommand(text)).toEqual({ ok: false, lang: 'en', error });
  });

  it('answers errors in Chinese when the command is in Chinese', () => {
    expect(parseCommand('分群 冠军军')).toEqual({ ok: false, lang: 'zh', error: '未知分群“冠军军”，你是不是要找 核心用户（champions）？' });
    expect(parseCommand('活动 999')).toEqual({ ok: false, lang: 'zh', error: `天数必须是 1 到 ${MAX_DAYS} 之间的整数，收到的是 999` });
  });
});

describe('segments, user refs and text', () => {
  it('matches every key, English label and Chinese label to its segment', () => {
    for (const s of RFM_SEGMENTS) {
      expect(matchSegment(s)).toBe(s);
      expect(matchSegment(RFM_SEGMENT_LABELS[s].en)).toBe(s);
      expect(matchSegment(RFM_SEGMENT_LABELS[s].en.toUpperCase())).toBe(s);
      expect(matchSegment(RFM_SEGMENT_LABELS[s].zh)).toBe(s);
    }
    expect(matchSegment('At-Risk')).toBe('at_risk');
    expect(matchSegment('cant lose them')).toBe('cant_lose_them');
    expect(matchSegment('can’t lose them')).toBe('cant_lose_them');
    expect(matchSegment('champions segment')).toBe('champions');
    expect(matchSegment('核心用户分群')).toBe('champions');
    expect(matchSegment('champs')).toBeUndefined();
  });

  it('reads ids and emails', () => {
    expect(parseUserRef('42')).toEqual(id('42'));
    expect(parseUserRef('#42')).toEqual(id('42'));
    expect(parseUserRef('<mailto:X@Y.io|X@Y.io>')).toEqual(email('x@y.io'));
    expect(parseUserRef('bob@')).toBeUndefined();
    expect(parseUserRef('a b')).toBeUndefined();
  });

  it('detects Chinese by any CJK character', () => {
    expect(detectLang('how many users')).toBe('en');
    expect(detectLang('segment 核心用户')).toBe('zh');
    expect(detectLang('？')).toBe('zh');
  });

  it('undoes Slack formatting and full-width forms', () => {
    expect(cleanText('<@U1>  see <https://x.io|this> &amp; ４２？')).toBe('see this & 42?');
  });
});

describe('hostile text', () => {
  // Shapes that made the unanchored patterns backtrack over the whole text (a 20k-character DM of
  // Chinese numerals blocked the event loop for 3.8 s): each 50,000 characters long.
  const N = 50_000;
  const fill = (unit: string): string => unit.repeat(Math.ceil(N / unit.length)).slice(0, N);
  const shapes: [string, string][] = [
    ['Chinese numerals', fill('一')],
    ['Chinese numerals with units', fill('二十')],
    ['Chinese numerals and spaces', fill('九 ')],
    ['digits', fill('1')],
    ['digits and spaces', fill('1 ')],
    ['an email local part without a domain', fill('a')],
    ['dotted words', fill('a.')],
    ['trailing punctuation', `${fill('?')}x`],
    ['user keywords', fill('user ')],
    ['hash ids', fill('#1.')],
    ['unclosed Slack links', fill('<mailto:a')],
    ['unclosed mentions', fill('<@U1 ')],
    ['escaped angle brackets', fill('&lt;')],
    ['day phrases', fill('last 1 ')],
    ['pause without a noun', fill('pause ')],
    ['what did without a verb', fill('what did ')],
    ['segment context', fill('in the ')],
    ['a question, then filler', `how many high risk users in champions? ${fill('零')}`],
    ['a command', `/retain segment ${fill('一')}`],
  ];

  it.each(shapes)('answers 50,000 characters of %s at once, never blocking the event loop for 50 ms', async (_name, text) => {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const slowest = { question: 0, command: 0 };
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      const q = parseQuestion(text);
      slowest.question = Math.max(slowest.question, performance.now() - t);
      expect(q.lang).toBe(detectLang(text.slice(0, MAX_TEXT)));
      t = performance.now();
      parseCommand(text);
      slowest.command = Math.max(slowest.command, performance.now() - t);
      await new Promise((r) => setTimeout(r, 10)); // let the histogram sample between parses
    }
    h.disable();
    expect(slowest.question).toBeLessThan(50);
    expect(slowest.command).toBeLessThan(50);
    expect(h.max / 1e6).toBeLessThan(50);
  });

  it(`reads only the first ${MAX_TEXT} characters`, () => {
    expect(parseQuestion('how many high risk users in Champions?' + ' '.repeat(MAX_TEXT))).toMatchObject({ ok: true, intent: { kind: 'count', tier: 'high', segment: 'champions' } });
    expect(parseQuestion(`${'x'.repeat(MAX_TEXT)} how many high risk users in Champions?`)).toMatchObject({ ok: false, reason: 'not_understood' });
    // A cut never leaves half a surrogate pair behind.
    const emoji = `${'x'.repeat(MAX_TEXT - 1)}😀`;
    expect(() => parseQuestion(emoji)).not.toThrow();
  });

  it('echoes at most a few dozen characters of an unknown command (plain text: blocks.ts escapes it)', () => {
    const r = parseCommand(`&lt;!channel&gt;${'x'.repeat(400)}`);
    expect(r).toMatchObject({ ok: false, lang: 'en' });
    const error = (r as { error: string }).error;
    expect(error).toMatch(/^unknown command "<!channel>x+…"; try \/retain help$/);
    expect(error.length).toBeLessThan(120);
  });
});
