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
  overviewMessage,
  segmentsMessage,
  userCardMessage,
  userLine,
  withExamples,
} from '../../../src/bot/blocks.js';
import { digestMessage, DIGEST_SIZE } from '../../../src/bot/digest.js';
import { EXAMPLES } from '../../../src/bot/intent.js';
import { boltLevelFor, boltLogger } from '../../../src/bot/logger.js';
import { maskEmail, maskName } from '../../../src/bot/mask.js';
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
    expect(t).toContain('coupon `RK-AAAA-BBBB-CCCC` not redeemed');
    expect(t).toContain('no purchase within 14 days');
    const open = text(userCardMessage(card(), 'user', zh, { pii: true, now: new Date('2026-10-12T00:00:00Z'), windowDays: 14 }).blocks);
    expect(open).toContain('ada@example.com');
    expect(open).toContain('暂未购买');
    expect(open).toContain('因为你购买了《Speaking well》');
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
});
