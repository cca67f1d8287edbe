/** Formatting, masking and Block Kit shapes of the bot's answers; the access rules and the Bolt logger adapter. */
import { LogLevel } from '@slack/bolt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { checkAccess, policyFromConfig, requesterOf } from '../../../src/bot/access.js';
import {
  contact,
  countMessage,
  esc,
  formatter,
  helpMessage,
  lines,
  offerReasonLine,
  overviewMessage,
  rankedMessage,
  roiMessage,
  roiStatus,
  segmentsMessage,
  userCardMessage,
  userLine,
  withExamples,
} from '../../../src/bot/blocks.js';
import { digestMessage, DIGEST_SIZE } from '../../../src/bot/digest.js';
import { EXAMPLES, parseCommand } from '../../../src/bot/intent.js';
import { boltLevelFor, boltLogger } from '../../../src/bot/logger.js';
import { maskCouponCode, maskEmail, maskName } from '../../../src/bot/mask.js';
import type { CampaignReport, SegmentReport } from '../../../src/services/campaign-report.js';
import type { CardWithPersona, OverviewWithHistogram, RankedUser } from '../../../src/services/insights.js';

const text = (blocks: unknown): string => JSON.stringify(blocks);

describe('masking', () => {
  it('keeps the first character of an email and its domain', () => {
    expect(maskEmail('alice@example.com')).toBe('a***@example.com');
    expect(maskEmail('  Bob.Smith+tag@Mail.Example.org ')).toBe('B***@Mail.Example.org');
    expect(maskEmail('张三@例子.中国')).toBe('张***@例子.中国');
    expect(maskEmail('no-at-sign')).toBe('***');
    expect(maskEmail('@example.com')).toBe('***');
    expect(maskEmail('')).toBeNull();
    expect(maskEmail(null)).toBeNull();
  });

  it('keeps the first character of a CJK name, one star per hidden character', () => {
    expect(maskName('李雷')).toBe('李*');
    expect(maskName('王小明')).toBe('王**');
    expect(maskName('欧阳娜娜')).toBe('欧***');
    expect(maskName('李')).toBe('李*');
    expect(maskName('田中太郎')).toBe('田***');
  });

  it('keeps the initial of each word of other names', () => {
    expect(maskName('Ada Lovelace')).toBe('A*** L***');
    expect(maskName('  Grace   Hopper ')).toBe('G*** H***');
    expect(maskName('Émile')).toBe('É***');
    expect(maskName('')).toBeNull();
    expect(maskName(undefined)).toBeNull();
  });

  it('shows raw contact details only to PII readers', () => {
    const u = { name: '李雷', email: 'lilei@example.com' };
    expect(contact(u, true)).toEqual(u);
    expect(contact(u, false)).toEqual({ name: '李*', email: 'l***@example.com' });
    expect(contact({ name: null, email: null }, false)).toEqual({ name: null, email: null });
  });
});

describe('formatting', () => {
  const en = formatter('en', 'CNY');
  const zh = formatter('zh', 'CNY');

  it('formats counts, percentages and percentage points per language', () => {
    expect(en.int(1234567)).toBe('1,234,567');
    expect(zh.int(1234567)).toBe('1,234,567');
    expect(en.pct(0.1234)).toBe('12.3%');
    expect(en.pct(1)).toBe('100.0%');
    expect(zh.pct(0.05)).toBe('5.0%');
    expect(en.pp(0.032)).toBe('+3.2 pp');
    expect(en.pp(-0.0325)).toBe('-3.3 pp');
    expect(en.pp(0)).toBe('0.0 pp');
    expect(zh.pp(0.032)).toBe('+3.2 个百分点');
    expect(en.dec(0.81234, 3)).toBe('0.812');
  });

  it('shows money in major units of the currency, with its own number of decimals', () => {
    expect(en.money(123456)).toBe('CN¥1,234.56');
    expect(zh.money(123456)).toBe('¥1,234.56');
    expect(en.money(0)).toBe('CN¥0.00');
    expect(formatter('en', 'USD').money(1999)).toBe('$19.99');
    expect(formatter('en', 'JPY').money(1234)).toBe('¥1,234'); // no minor unit
  });

  it('writes times as Slack date tokens with a UTC fallback', () => {
    const d = new Date('2026-11-01T08:30:00Z');
    expect(en.date(d)).toBe(`<!date^${d.getTime() / 1000}^{date_short_pretty} {time}|2026-11-01 08:30 UTC>`);
    expect(en.date(d, false)).toBe(`<!date^${d.getTime() / 1000}^{date_short_pretty}|2026-11-01>`);
  });

  it('escapes mrkdwn control characters in user-provided text', () => {
    expect(esc('<!channel> & <https://evil|click>')).toBe('&lt;!channel&gt; &amp; &lt;https://evil|click&gt;');
  });

  it('packs lines into sections under the 3,000-character limit', () => {
    const ls = Array.from({ length: 100 }, (_, i) => `${i}. ${'x'.repeat(100)}`);
    const blocks = lines(ls) as { type: string; text: { text: string } }[];
    expect(blocks.length).toBeGreaterThan(1);
    for (const b of blocks) expect(b.text.text.length).toBeLessThanOrEqual(3000);
    expect(blocks.map((b) => b.text.text).join('\n')).toBe(ls.join('\n'));
  });
});

const ranked = (over: Partial<RankedUser> = {}): RankedUser => ({
  userId: 'u42',
  name: '王小明',
  email: 'xiaoming@example.com',
  churnProbability: 0.8125,
  tier: 'high',
  segment: 'at_risk',
  pAlive: 0.3,
  expectedValueMinor: 50000,
  valueAtRiskMinor: 40625,
  topFeature: 'recency_days',
  ...over,
});

describe('answers', () => {
  const en = formatter('en', 'CNY');
  const zh = formatter('zh', 'CNY');

  it('writes a ranked line with masked contact details, risk, tier, value at risk and segment', () => {
    expect(userLine(ranked(), 0, en, false)).toBe('1. `u42` 王** · x***@example.com — risk 81.3% (High) · Value at risk CN¥406.25 · At risk');
    expect(userLine(ranked(), 2, zh, true)).toBe('3. `u42` 王小明 · xiaoming@example.com — 风险 81.3% (高) · 风险价值 ¥406.25 · 流失风险');
    expect(userLine(ranked({ name: '<!here>', email: null, valueAtRiskMinor: null }), 0, en, true)).toBe('1. `u42` &lt;!here&gt; — risk 81.3% (High) · At risk');
  });

  it('answers a count in the asker language', () => {
    expect(countMessage(1234, 5000, { tier: 'high' }, zh).text).toBe('高风险用户共 1,234 人（已评分用户共 5,000 人）。');
    expect(countMessage(12, 5000, { tier: 'high', segment: 'champions' }, zh).text).toBe('「核心用户」中高风险用户共 12 人（已评分用户共 5,000 人）。');
    expect(countMessage(12, 5000, { tier: 'medium', segment: 'loyal' }, en).text).toBe('12 medium-risk user(s) in Loyal (of 5,000 scored users).');
  });

  it('lists every example and marks admin commands in help, in both languages', () => {
    const h = text(helpMessage('en').blocks);
    for (const e of EXAMPLES.en) expect(h).toContain(JSON.stringify(esc(e)).slice(1, -1));
    expect(h).toContain('`/retain rescore` (admins)');
    const z = text(helpMessage('zh').blocks);
    for (const e of EXAMPLES.zh) expect(z).toContain(e);
    expect(z).toContain('（管理员）');
  });

  it('adds examples under an error', () => {
    const m = withExamples('unknown command "x"', 'en');
    expect(m.text).toBe('unknown command "x"');
    expect(text(m.blocks)).toContain('/retain help');
  });

  it('shows each segment with its size, mean risk and value at risk, and the rescore the numbers are from', () => {
    const stats = [{ segment: 'champions', users: 1200, avgChurn: 0.05, high: 3, medium: 40, low: 1157, valueAtRiskMinor: 1_234_500 }];
    const live = segmentsMessage({ asOf: null, stats }, en);
    expect(text(live.blocks)).toContain('*Champions* — 1,200 users · mean risk 5.0% · 3 high · value at risk CN¥12,345.00');
    expect(text(live.blocks)).not.toContain('as of');
    const stored = segmentsMessage({ asOf: new Date('2026-11-01T03:00:00Z'), stats }, en);
    expect(text(stored.blocks)).toContain('Numbers as of the rescore of <!date^1793502000^');
  });

  it('says which rescore an overview from stored aggregates describes, in both languages', () => {
    const o: OverviewWithHistogram = {
      asOf: new Date('2026-11-01T03:00:00Z'),
      users: 2000,
      active30d: 800,
      payers: 1200,
      tiers: { high: 100, medium: 300, low: 800 },
      segments: [{ segment: 'champions', users: 1200 }],
      lastRescore: null,
      histogram: [],
    };
    const context = (m: { blocks: unknown[] }) => text(m.blocks.at(-1));
    expect(context(overviewMessage(o, en))).toContain('Numbers as of the rescore of <!date^1793502000^');
    expect(context(overviewMessage(o, formatter('zh', 'CNY')))).toContain('数据截至 <!date^1793502000^');
    expect(context(overviewMessage({ ...o, asOf: null }, en))).not.toContain('as of');
  });

  const card = (over: Partial<CardWithPersona> = {}): CardWithPersona => ({
    userId: 'u42',
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    locale: 'en',
    timezone: 'Europe/London',
    signupAt: null,
    unsubscribed: false,
    score: {
      churnProbability: 0.71,
      tier: 'high',
      pAlive: 0.42,
      expectedPurchases: 1.25,
      expectedValueMinor: 19900,
      valueAtRiskMinor: 14129,
      segment: 'cant_lose_them',
      persona: 1,
      rfm: { r: 1, f: 5, m: 5 },
      explanation: [{ feature: 'recency_days', contribution: 1.234, value: 210 }],
      modelRunId: 7,
      scoredAt: new Date('2026-11-01T03:00:00Z'),
    },
    recommendations: [{ rank: 1, itemId: 'c2', title: 'Writing <well>', score: 0.9, reason: { kind: 'because_bought', itemId: 'c1' }, reasonTitle: 'Speaking well' }],
    lastOutreach: {
      id: 1,
      cycleId: 'c202610',
      tier: 'high',
      channel: 'coupon',
      holdout: false,
      state: 'sent',
      scheduledAt: new Date('2026-10-10T00:00:00Z'),
      sentAt: new Date('2026-10-10T00:00:00Z'),
      createdAt: new Date('2026-10-10T00:00:00Z'),
      lastError: null,
      coupon: { code: 'RK-AAAA-BBBB-CCCC', kind: 'percent', value: 20, currency: null, expiresAt: new Date('2026-10-24T00:00:00Z'), redeemed: false },
      policy: null,
      reason: null,
      convertedAt: null,
      windowEndsAt: new Date('2026-10-24T00:00:00Z'),
    },
    persona: { cluster: 1, size: 100, share: 0.1, text: 'buys often, spends a lot' },
    ...over,
  });

  it('shows a user card with risk, drivers, recommendations and the last outreach', () => {
    const t = text(userCardMessage(card(), 'user', en, { pii: false, now: new Date('2026-11-01T00:00:00Z'), windowDays: 14 }).blocks);
    expect(t).toContain('71.0% (High)');
    expect(t).toContain('A*** L***');
    expect(t).toContain('a***@example.com');
    expect(t).not.toContain('ada@example.com');
    expect(t).toContain('days since the last payment: 210 (contribution +1.23)');
    expect(t).toContain('Writing &lt;well&gt;');
    expect(t).toContain('Because you bought “Speaking well”');
    expect(t).toContain('Persona 2: buys often, spends a lot');
    expect(t).toContain('coupon `RK-A***` not redeemed');
    expect(t).not.toContain('RK-AAAA-BBBB-CCCC');
    expect(t).toContain('no purchase within 14 days');
    const open = text(userCardMessage(card(), 'user', zh, { pii: true, now: new Date('2026-10-12T00:00:00Z'), windowDays: 14 }).blocks);
    expect(open).toContain('ada@example.com');
    expect(open).toContain('优惠券 `RK-AAAA-BBBB-CCCC` 未使用');
    expect(open).toContain('暂未购买');
    expect(open).toContain('因为你购买了《Speaking well》');
  });

  it('shows why the last outreach got its offer, under it, in both languages', () => {
    const now = new Date('2026-11-01T00:00:00Z');
    const o = card().lastOutreach!;
    const reason = {
      policy: 'uplift',
      upliftRunId: 3,
      tier: 'high',
      churn: 0.71,
      orderValueMinor: 19900,
      coupon: { uplift: 0.12, value: 588, expectedDiscount: 1800 },
      email: { uplift: 0.02, value: 348 },
      value: 588,
      cost: 1800,
      rank: 41,
    };
    const withReason = card({ lastOutreach: { ...o, policy: 'uplift', reason } });
    const t = text(userCardMessage(withReason, 'user', en, { pii: false, now, windowDays: 14 }).blocks);
    expect(t).toContain('_Why this offer_: coupon · uplift +12.0% × CN¥199.00 order − CN¥18.00 expected discount = CN¥5.88 expected value, rank 41 by expected value');
    const z = text(userCardMessage(withReason, 'user', zh, { pii: false, now, windowDays: 14 }).blocks);
    expect(z).toContain('_选择原因_：优惠券 · 提升 +12.0% × 客单价 ¥199.00 − 预期折扣 ¥18.00 = 预期价值 ¥5.88，按预期价值排第 41 位');
    // A holdout row says what it would have got.
    const held = text(userCardMessage(card({ lastOutreach: { ...o, holdout: true, coupon: null, policy: 'uplift', reason } }), 'user', en, { pii: false, now, windowDays: 14 }).blocks);
    expect(held).toContain('_Offer it would have got (holdout)_: coupon · uplift +12.0%');
    // Imported rows have no policy: no line.
    expect(text(userCardMessage(card(), 'user', en, { pii: false, now, windowDays: 14 }).blocks)).not.toContain('Why this offer');
  });

  it('writes the reason of each policy: value arithmetic, budget fallback, risk tiers with why, exploration', () => {
    const email = { channel: 'email', policy: 'uplift', reason: { policy: 'uplift', tier: 'medium', churn: 0.4, orderValueMinor: 19900, coupon: { uplift: 0.01, value: -1000, expectedDiscount: 1199 }, email: { uplift: 0.03, value: 547 }, value: 547, cost: 1, rank: 12 } };
    expect(offerReasonLine(email, en)).toBe('email · uplift +3.0% × CN¥199.00 order − CN¥0.50 email cost = CN¥5.47 expected value, rank 12 by expected value');
    expect(offerReasonLine({ ...email, reason: { ...email.reason, limitedBy: 'budget', email: { uplift: 0.03, value: 597 } } }, en)).toBe(
      'email · uplift +3.0% × CN¥199.00 order = CN¥5.97 expected value, rank 12 by expected value, the coupon budget had run out, so an email',
    );
    const tiers = {
      channel: 'email',
      policy: 'tiers',
      reason: { policy: 'tiers', fallback: 'OUTREACH_POLICY is uplift, but no uplift model has been fitted yet (no settled outreach): the risk tiers decide', tier: 'medium', churn: 0.45, orderValueMinor: 19900, value: 8955, cost: 1, rank: 3 },
    };
    expect(offerReasonLine(tiers, en)).toBe('email · risk tiers (medium risk, churn 45.0%; uplift model not ready: no uplift model has been fitted yet (no settled outreach))');
    expect(offerReasonLine(tiers, zh)).toBe('邮件 · 风险分层（中风险，流失概率 45.0%；提升模型未就绪：no uplift model has been fitted yet (no settled outreach)）');
    expect(offerReasonLine({ ...tiers, reason: { ...tiers.reason, fallback: undefined } }, en)).toBe('email · risk tiers (medium risk, churn 45.0%)');
    expect(offerReasonLine({ channel: 'coupon', policy: 'explore', reason: { policy: 'explore', rank: 1 } }, en)).toBe('coupon · explore (random offer for learning)');
    expect(offerReasonLine({ channel: 'coupon', policy: 'explore', reason: null }, zh)).toBe('优惠券 · 探索（为了学习随机分配的优惠）');
    // An older or partial reason drops the arithmetic, never the line.
    expect(offerReasonLine({ channel: 'coupon', policy: 'uplift', reason: { rank: 7 } }, en)).toBe('coupon · uplift model, rank 7 by expected value');
    expect(offerReasonLine({ channel: 'coupon', policy: null, reason: null }, en)).toBeNull();
  });

  it('escapes echoed text and raw ids in the fallback text and the blocks, so they never ping or link', () => {
    const parsed = parseCommand('&lt;!channel&gt; &amp; <https://evil.example|click>');
    const m = withExamples((parsed as { error: string }).error, 'en');
    for (const out of [m.text, text(m.blocks)]) {
      expect(out).not.toContain('<!channel>');
      expect(out).toContain('&lt;!channel&gt;');
    }
    const list = rankedMessage('Top', [ranked({ userId: '<!here>' }), ranked({ userId: 'a&b' })], en, false);
    expect(list.text).toBe('Top: &lt;!here&gt;, a&amp;b');
    const c = userCardMessage(card({ userId: '<@U0BOSS>' }), 'user', en, { pii: false, now: new Date('2026-11-01T00:00:00Z'), windowDays: 14 });
    expect(c.text).not.toContain('<@U0BOSS>');
    expect(c.text).toContain('&lt;@U0BOSS&gt;');
    const d = digestMessage(
      { runId: 1, total: 1, baselineRunId: null, entries: [{ userId: '<!everyone>', churnProbability: 0.9, tier: 'high', segment: null, expectedValueMinor: null, valueAtRiskMinor: null, topFeature: null }] },
      new Map(),
      new Map([['<!everyone>', { kind: 'claim' as const, by: 'U1>|<!channel', at: new Date('2026-11-01T09:00:00Z') }]]),
      en,
    );
    expect(d.text).not.toContain('<!everyone>');
    // What Slack renders (the block_id and the button value carry the raw id, and render nothing).
    const shown = d.blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : [])).join('\n');
    expect(shown).toContain('`&lt;!everyone&gt;`');
    expect(shown).toContain('Claimed by U1&gt;|&lt;!channel');
    expect(shown).not.toMatch(/<!everyone>|<!channel>/);
  });

  it('masks coupon codes for readers without personal-data rights', () => {
    expect(maskCouponCode('RK-AAAA-BBBB-CCCC')).toBe('RK-A***');
    expect(maskCouponCode('RK-TEST-0001')).toBe('RK-***');
    expect(maskCouponCode('SAVE10')).toBe('S***');
    expect(maskCouponCode('AB')).toBe('***');
    const masked = text(userCardMessage(card(), 'user', en, { pii: false, now: new Date('2026-11-01T00:00:00Z'), windowDays: 14 }).blocks);
    expect(masked).toContain('coupon `RK-A***` not redeemed');
    expect(masked).not.toContain('BBBB');
    const open = text(userCardMessage(card(), 'user', en, { pii: true, now: new Date('2026-11-01T00:00:00Z'), windowDays: 14 }).blocks);
    expect(open).toContain('coupon `RK-AAAA-BBBB-CCCC` not redeemed');
  });

  it('explains an unscored user instead of showing empty numbers', () => {
    const t = text(userCardMessage(card({ score: null, lastOutreach: null, recommendations: [] }), 'why', en, { pii: false, now: new Date(), windowDays: 14 }).blocks);
    expect(t).toContain('Not scored');
  });
});

describe('digest blocks', () => {
  it('fits twenty users with three buttons each under the 50-block limit, contacts masked, statuses shown', () => {
    const entries = Array.from({ length: DIGEST_SIZE }, (_, i) => ({
      userId: `u${i}`,
      churnProbability: 0.9 - i / 100,
      tier: 'high',
      segment: 'at_risk',
      expectedValueMinor: 10000,
      valueAtRiskMinor: 9000 - i,
      topFeature: 'recency_days',
    }));
    const contacts = new Map(entries.map((e) => [e.userId, { name: '李雷', email: `${e.userId}@example.com` }]));
    const statuses = new Map([['u0', { kind: 'claim' as const, by: 'U123', at: new Date('2026-11-01T09:00:00Z') }]]);
    const m = digestMessage({ runId: 9, total: 37, baselineRunId: 8, entries }, contacts, statuses, formatter('en', 'CNY'));
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    const actions = m.blocks.filter((b) => b.type === 'actions') as { elements: { action_id: string; value: string }[] }[];
    expect(actions).toHaveLength(DIGEST_SIZE);
    expect(actions[0]!.elements.map((e) => e.action_id)).toEqual(['digest_claim', 'digest_called', 'digest_unreachable']);
    expect(JSON.parse(actions[3]!.elements[0]!.value)).toEqual({ r: 9, u: 'u3' });
    const t = text(m.blocks);
    expect(t).toContain('Call list: 37 new high-risk user(s)');
    expect(t).toContain('`u0` 李* · u***@example.com');
    expect(t).not.toContain('u0@example.com');
    expect(t).toContain('Claimed by <@U123>');
    expect(digestMessage({ runId: 9, total: 0, baselineRunId: 8, entries: [] }, new Map(), new Map(), formatter('zh', 'CNY')).text).toBe('自上次评分以来，没有新进入高风险的用户。');
  });
});

describe('access rules', () => {
  const policy = policyFromConfig({
    SLACK_ALLOWED_TEAMS: ['T1'],
    SLACK_ALLOWED_CHANNELS: ['C1'],
    SLACK_ALLOWED_USERS: ['U1', 'U2'],
    SLACK_PII_USERS: ['U2'],
    SLACK_ADMIN_USERS: ['U1'],
  });

  it('checks workspace, user, then channel; DMs skip the channel list; empty lists let everyone in', () => {
    expect(checkAccess(policy, { teamId: 'T1', channelId: 'C1', userId: 'U1', isDm: false })).toEqual({ ok: true });
    expect(checkAccess(policy, { teamId: 'T2', channelId: 'C1', userId: 'U1', isDm: false })).toEqual({ ok: false, reason: 'team' });
    expect(checkAccess(policy, { teamId: 'T1', channelId: 'C1', userId: 'U9', isDm: false })).toEqual({ ok: false, reason: 'user' });
    expect(checkAccess(policy, { teamId: 'T1', channelId: 'C9', userId: 'U1', isDm: false })).toEqual({ ok: false, reason: 'channel' });
    expect(checkAccess(policy, { teamId: 'T1', channelId: 'D9', userId: 'U1', isDm: true })).toEqual({ ok: true });
    expect(checkAccess(policy, { teamId: 'T1', channelId: 'C1', userId: undefined, isDm: false })).toEqual({ ok: false, reason: 'user' });
    const open = policyFromConfig({ SLACK_ALLOWED_TEAMS: [], SLACK_ALLOWED_CHANNELS: [], SLACK_ALLOWED_USERS: [], SLACK_PII_USERS: [], SLACK_ADMIN_USERS: [] });
    expect(checkAccess(open, { teamId: undefined, channelId: 'C9', userId: 'U9', isDm: false })).toEqual({ ok: true });
  });

  it('reads who asked from commands, events and button clicks', () => {
    expect(requesterOf({ command: '/retain', team_id: 'T1', channel_id: 'D1', user_id: 'U1', text: '概览' })).toMatchObject({ kind: 'command', teamId: 'T1', channelId: 'D1', userId: 'U1', isDm: true, text: '概览' });
    expect(requesterOf({ team_id: 'T1', event: { type: 'app_mention', user: 'U1', channel: 'C1', text: 'hi' } })).toMatchObject({ kind: 'event', name: 'app_mention', isDm: false });
    expect(requesterOf({ team_id: 'T1', event: { type: 'message', user: 'U1', channel: 'D1', channel_type: 'im' } })).toMatchObject({ kind: 'event', isDm: true });
    expect(
      requesterOf({ type: 'block_actions', team: { id: 'T1' }, user: { id: 'U2', team_id: 'T1' }, channel: { id: 'C1' }, actions: [{ action_id: 'digest_claim' }] }),
    ).toMatchObject({ kind: 'action', name: 'digest_claim', teamId: 'T1', channelId: 'C1', userId: 'U2' });
    expect(requesterOf({ something: 'else' }).kind).toBe('other');
  });

  it("checks the author's own team, so a Slack Connect guest from another workspace does not pass", () => {
    // A mention in a shared channel: the event comes through our workspace (team_id T1) but its author belongs to T2.
    const guestMention = { team_id: 'T1', event: { type: 'app_mention', user: 'U1', user_team: 'T2', team: 'T2', source_team: 'T2', channel: 'C1', text: 'overview' } };
    const guest = requesterOf(guestMention);
    expect(guest).toMatchObject({ kind: 'event', teamId: 'T2', workspaceId: 'T1' });
    expect(checkAccess(policy, guest)).toEqual({ ok: false, reason: 'team' });
    // Only `team` (message events carry the author's team there).
    expect(checkAccess(policy, requesterOf({ team_id: 'T1', event: { type: 'message', user: 'U1', team: 'T2', channel: 'D1', channel_type: 'im' } }))).toEqual({ ok: false, reason: 'team' });
    // A member of our own workspace in the same shared channel passes.
    expect(checkAccess(policy, requesterOf({ team_id: 'T1', event: { type: 'app_mention', user: 'U1', user_team: 'T1', channel: 'C1', text: 'hi' } }))).toEqual({ ok: true });
    // Slash commands and clicks: the user's team, not the workspace the request came through.
    const cmd = requesterOf({ command: '/retain', team_id: 'T1', user_team: 'T2', channel_id: 'C1', user_id: 'U1', text: 'overview' });
    expect(checkAccess(policy, cmd)).toEqual({ ok: false, reason: 'team' });
    const click = requesterOf({ type: 'block_actions', team: { id: 'T1' }, user: { id: 'U1', team_id: 'T2' }, channel: { id: 'C1' }, actions: [{ action_id: 'digest_claim' }] });
    expect(checkAccess(policy, click)).toEqual({ ok: false, reason: 'team' });
    // An allowed author arriving through a workspace that is not on the list is refused too.
    expect(checkAccess(policy, requesterOf({ team_id: 'T9', event: { type: 'app_mention', user: 'U1', user_team: 'T1', channel: 'C1', text: 'hi' } }))).toEqual({ ok: false, reason: 'team' });
  });
});

describe('Bolt logger adapter', () => {
  it('logs through pino at Bolt-compatible levels', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
    const b = boltLogger(log);
    expect(b.getLevel()).toBe(LogLevel.INFO);
    b.debug('hidden');
    b.warn('request %s failed', 'x');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, module: 'slack', msg: 'request x failed' });
    expect(boltLevelFor('trace')).toBe(LogLevel.DEBUG);
    expect(boltLevelFor('silent')).toBe(LogLevel.ERROR);
  });

  it("keeps personal data and tokens out of Bolt's debug lines", () => {
    const lines: string[] = [];
    const b = boltLogger(pino({ level: 'debug' }, { write: (s: string) => lines.push(s) }));
    const event = { team_id: 'T1', event: { type: 'message', user: 'U1', text: 'why is <mailto:Alice.Smith@example.com|Alice.Smith@example.com> at risk?' } };
    b.debug(JSON.stringify(event)); // App.processEvent logs every body like this
    b.debug(`http request body: ${JSON.stringify({ channel: 'D1', text: 'User 42', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Name*\n王小明 · xiaoming@example.com' } }] })}`);
    b.debug(`http request result: ${JSON.stringify({ ok: true, message: { text: 'Ada Lovelace, ada@example.com' } })}`);
    b.debug('ack() response sent (body: {"text":"bob@example.com"})');
    b.info('lookup failed for carol@example.com with token xoxb-1234-5678-abcdef and xapp-1-A1-2-b3 via https://hooks.slack.com/commands/T1/1/secretpart');
    const out = lines.map((l) => JSON.parse(l).msg as string);
    const all = out.join('\n');
    for (const pii of ['Alice.Smith@example.com', 'xiaoming@example.com', '王小明', 'Ada Lovelace', 'ada@example.com', 'bob@example.com', 'carol@example.com', 'xoxb-1234', 'xapp-1-A1', 'secretpart']) {
      expect(all).not.toContain(pii);
    }
    expect(out[1]).toMatch(/^http request body: \[\d+ characters omitted\]$/);
    expect(out[4]).toContain('c***@example.com');
  });
});

// ---------------------------------------------------------------------------------------------
// "Did the coupons pay off?"
// ---------------------------------------------------------------------------------------------

const arm = (n: number) => ({
  n,
  users: n,
  conversions: 0,
  conversionRate: null,
  purchases: 0,
  revenueMinor: 0,
  grossRevenueMinor: 0,
  discountMinor: 0,
  revenuePerUserMinor: null,
  grossRevenuePerUserMinor: null,
  clicks: 0,
  clickRate: null,
  unsubscribes: 0,
  unsubscribeRate: null,
});

const seg = (offer: string, over: Partial<SegmentReport> = {}): SegmentReport => ({
  key: offer,
  offer,
  tier: 'all',
  treated: arm(400),
  holdout: arm(100),
  uplift: 0.05,
  upliftCi: [0.01, 0.09],
  incrementalConversions: 20,
  incrementalConversionsCi: [4, 36],
  incrementalRevenueMinor: 0,
  incrementalRevenueCi: null,
  couponCostMinor: 0,
  netIncrementalRevenueMinor: 0,
  netIncrementalRevenueCi: null,
  roi: null,
  coupons: { issued: 0, redeemed: 0, redemptionRate: null },
  ...over,
});

const report = (over: Partial<CampaignReport> = {}): CampaignReport => {
  const coupon = seg('coupon', { couponCostMinor: 50_000, netIncrementalRevenueMinor: 123_456, netIncrementalRevenueCi: [20_000, 226_912], roi: 123_456 / 50_000 });
  const email = seg('email', { netIncrementalRevenueMinor: 30_000, netIncrementalRevenueCi: [-10_000, 70_000], incrementalConversions: 3.46, incrementalConversionsCi: [-1.2, 8.1] });
  return {
    since: '2026-08-03T00:00:00.000Z',
    until: null,
    windowDays: 14,
    currency: 'CNY',
    settled: 1000,
    unsettled: 0,
    unsettledWindowOpen: 0,
    unsettledDue: 0,
    nextWindowCloseAt: null,
    offers: [coupon, email],
    tiers: [],
    offerTiers: [],
    cycles: [],
    overall: seg('all', { treated: arm(800), holdout: arm(200), couponCostMinor: 50_000, netIncrementalRevenueMinor: 153_456, netIncrementalRevenueCi: [40_000, 266_912], roi: 153_456 / 50_000 }),
    trend: [],
    ...over,
  };
};

describe('ROI answer', () => {
  const en = formatter('en', 'CNY');
  const zh = formatter('zh', 'CNY');

  it('reads the interval: above zero pays, below loses, spanning zero or missing is unclear, nothing to compare is none', () => {
    expect(roiStatus({ netIncrementalRevenueMinor: 5, netIncrementalRevenueCi: [1, 9] })).toBe('pays');
    expect(roiStatus({ netIncrementalRevenueMinor: -5, netIncrementalRevenueCi: [-9, -1] })).toBe('loses');
    expect(roiStatus({ netIncrementalRevenueMinor: 5, netIncrementalRevenueCi: [-1, 9] })).toBe('unclear');
    expect(roiStatus({ netIncrementalRevenueMinor: 5, netIncrementalRevenueCi: [0, 9] })).toBe('unclear');
    expect(roiStatus({ netIncrementalRevenueMinor: 5, netIncrementalRevenueCi: null })).toBe('unclear');
    expect(roiStatus({ netIncrementalRevenueMinor: null, netIncrementalRevenueCi: null })).toBe('none');
  });

  it('pays off: the verdict with the interval and ROI, then each offer with net, interval, cost, ROI and incremental conversions', () => {
    const m = roiMessage(report(), 90, en);
    const t = text(m.blocks);
    expect(m.text).toBe('Did outreach pay off? Last 90 days: ✅ Pays off — CN¥1,534.56 net incremental revenue (95% interval CN¥400.00 to CN¥2,669.12), ROI +307%.');
    expect(t).toContain('*Coupon* (pays off): net CN¥1,234.56 [95% CN¥200.00 to CN¥2,269.12] · coupon cost CN¥500.00 · ROI +247% · incremental conversions +20 [95% +4 to +36] · treated 400 / holdout 100');
    // The email has no coupon cost, so neither cost nor ROI; its interval spans zero.
    expect(t).toContain('*Email* (not clear yet): net CN¥300.00 [95% -CN¥100.00 to CN¥700.00] · incremental conversions +3.5 [95% -1.2 to +8.1] · treated 400 / holdout 100');
    expect(t).toContain('*All offers* (pays off): net CN¥1,534.56');
    expect(t).toContain('1,000 settled outcome(s) · 0 still waiting');
    expect(t).toContain('Outcomes settle 14 days after sending');
    const z = roiMessage(report(), 90, zh);
    expect(z.text).toBe('触达划算吗？近 90 天：✅ 划算 — 净增收入 ¥1,534.56（95% 置信区间 ¥400.00 至 ¥2,669.12），ROI +307%。');
    expect(text(z.blocks)).toContain('*优惠券*（划算）：净增收入 ¥1,234.56 [95% ¥200.00 至 ¥2,269.12] · 优惠券成本 ¥500.00 · ROI +247% · 增量转化 +20 [95% +4 至 +36] · 触达组 400 / 对照组 100');
  });

  it('loses money: says so, with the interval below zero and a negative ROI', () => {
    const overall = seg('all', { couponCostMinor: 80_000, netIncrementalRevenueMinor: -60_000, netIncrementalRevenueCi: [-110_000, -10_000], roi: -0.75 });
    const m = roiMessage(report({ overall, offers: [{ ...overall, key: 'coupon', offer: 'coupon' }] }), 90, en);
    expect(m.text).toBe('Did outreach pay off? Last 90 days: 🔻 Loses money — -CN¥600.00 net incremental revenue (95% interval -CN¥1,100.00 to -CN¥100.00), ROI -75%.');
    const t = text(m.blocks);
    expect(t).toContain('*Coupon* (loses money): net -CN¥600.00');
    expect(t).not.toContain('All offers'); // one offer: no total line
    expect(roiMessage(report({ overall }), 90, zh).text).toContain('🔻 亏钱 — 净增收入 -¥600.00（95% 置信区间 -¥1,100.00 至 -¥100.00），ROI -75%。');
  });

  it('not clear yet: when the interval spans zero, or there is none, it says so instead of a verdict', () => {
    const overall = seg('all', { netIncrementalRevenueMinor: 25_000, netIncrementalRevenueCi: [-40_000, 90_000], couponCostMinor: 10_000, roi: 2.5 });
    expect(roiMessage(report({ overall }), 30, en).text).toBe(
      'Did outreach pay off? Last 30 days: 🤷 Not clear yet — CN¥250.00 net incremental revenue, but the 95% interval (-CN¥400.00 to CN¥900.00) spans zero.',
    );
    expect(roiMessage(report({ overall }), 30, zh).text).toBe('触达划算吗？近 30 天：🤷 暂不确定 — 净增收入 ¥250.00，但 95% 置信区间（-¥400.00 至 ¥900.00）包含零。');
    expect(roiMessage(report({ overall: { ...overall, netIncrementalRevenueCi: null } }), 30, en).text).toContain('Not clear yet — CN¥250.00 net incremental revenue, from too few users for an interval.');
    expect(roiMessage(report({ overall: { ...overall, netIncrementalRevenueMinor: null, netIncrementalRevenueCi: null } }), 30, en).text).toContain(
      'Not clear yet — settled outcomes of both the treated and the holdout are needed to compare.',
    );
  });

  it('nothing settled: says when the first window closes, or that nothing was sent', () => {
    const close = new Date('2026-11-09T10:00:00Z');
    const pending = report({ settled: 0, unsettled: 120, unsettledWindowOpen: 120, unsettledDue: 0, nextWindowCloseAt: close.toISOString(), offers: [], overall: seg('all', { treated: arm(0), holdout: arm(0), netIncrementalRevenueMinor: null }) });
    const m = roiMessage(pending, 90, en);
    expect(m.text).toBe('Did outreach pay off? Last 90 days: Nothing has settled yet: an outreach counts once its conversion window has closed. The first window closes <!date^1794218400^{date_short_pretty} {time}|2026-11-09 10:00 UTC>.');
    expect(text(m.blocks)).not.toContain('Pays off');
    expect(roiMessage(pending, 90, zh).text).toContain('还没有结算的结果：每次触达要等观察期结束后才计入。 第一个观察期在 <!date^1794218400^');
    const due = roiMessage({ ...pending, nextWindowCloseAt: null, unsettledWindowOpen: 0, unsettledDue: 120 }, 90, en);
    expect(due.text).toContain('120 outreach row(s) have closed windows and wait for the next settle run');
    expect(roiMessage({ ...pending, unsettled: 0, unsettledWindowOpen: 0, nextWindowCloseAt: null }, 90, en).text).toBe('Did outreach pay off? Last 90 days: No outreach was planned in the last 90 days.');
  });

  it('lists the new command in help', () => {
    expect(text(helpMessage('en').blocks)).toContain('`/retain roi [days]`');
  });
});
