/**
 * Asking instead of failing: the "did you mean" message (one button per reading; a click runs
 * that intent for the clicker, through the same access checks and audit as a question) and the
 * one-line out-of-scope reply with three examples close to what was asked.
 */
import type { types } from '@slack/bolt';
import { RFM_SEGMENT_LABELS } from '../ml/rfm.js';
import { context, esc, section, type Block, type Message } from './blocks.js';
import type { Choice } from './intent-schema.js';
import type { Intent, Lang } from './intent.js';

/** Button action ids: `ask_intent_0`, `ask_intent_1`. */
export const ASK_ACTION_PREFIX = 'ask_intent_';
export const ASK_ACTION = /^ask_intent_\d$/;

const TIER = { en: { high: 'high-risk', medium: 'medium-risk', low: 'low-risk' }, zh: { high: '高风险', medium: '中风险', low: '低风险' } } as const;

/** A short description of what an intent answers, for a button ("Top 10 at-risk users in champions"). */
export function describeIntent(i: Intent, lang: Lang): string {
  const seg = (s: keyof typeof RFM_SEGMENT_LABELS) => (lang === 'zh' ? RFM_SEGMENT_LABELS[s].zh : RFM_SEGMENT_LABELS[s].en);
  const who = (r: { kind: string; value: string }) => (r.kind === 'email' ? r.value : lang === 'zh' ? `用户 ${r.value}` : `user ${r.value}`);
  if (lang === 'zh') {
    switch (i.kind) {
      case 'help': return '我能回答什么';
      case 'overview': return '整体概览';
      case 'segments': return '各分群人数';
      case 'segment': return `${seg(i.segment)}分群的前 ${i.n} 个用户`;
      case 'at_risk': return `${i.segment ? seg(i.segment) : ''}${i.tier ? TIER.zh[i.tier] : '流失风险最高的'}前 ${i.n} 个用户`;
      case 'count': return `${i.segment ? seg(i.segment) : ''}${i.tier ? TIER.zh[i.tier] : ''}用户数`;
      case 'user': return `${who(i.ref)}的资料`;
      case 'why': return `${who(i.ref)}的流失原因`;
      case 'recommend': return `给${who(i.ref)}的推荐`;
      case 'campaigns': return `最近 ${i.days} 天的活动效果`;
      case 'uplift': return '触达组 vs 对照组';
      case 'roi': return `最近 ${i.days} 天发券的投入产出`;
      case 'model': return '模型效果';
      case 'segment_change': return '上次评分以来的分群变化';
      case 'risk_trend': return `最近 ${i.runs} 次评分的高风险人数`;
      case 'compare_segments': return `${seg(i.a)}对比${seg(i.b)}`;
      case 'rescore': return '重新评分（管理员）';
      case 'pause_outreach': return '暂停外呼（管理员）';
      case 'resume_outreach': return '恢复外呼（管理员）';
    }
  }
  switch (i.kind) {
    case 'help': return 'What I can answer';
    case 'overview': return 'Overview';
    case 'segments': return 'Segment sizes';
    case 'segment': return `Top ${i.n} users in ${seg(i.segment)}`;
    case 'at_risk': return `Top ${i.n} ${i.tier ? TIER.en[i.tier] : 'at-risk'} users${i.segment ? ` in ${seg(i.segment)}` : ''}`;
    case 'count': return `Number of ${i.tier ? `${TIER.en[i.tier]} ` : ''}users${i.segment ? ` in ${seg(i.segment)}` : ''}`;
    case 'user': return `Card of ${who(i.ref)}`;
    case 'why': return `Why ${who(i.ref)} is at risk`;
    case 'recommend': return `Recommendations for ${who(i.ref)}`;
    case 'campaigns': return `Campaigns, last ${i.days} days`;
    case 'uplift': return 'Treated vs holdout';
    case 'roi': return `Did the coupons pay off (last ${i.days} days)`;
    case 'model': return 'Model quality';
    case 'segment_change': return 'Segment changes since the last run';
    case 'risk_trend': return `High-risk users over the last ${i.runs} runs`;
    case 'compare_segments': return `${seg(i.a)} vs ${seg(i.b)}`;
    case 'rescore': return 'Rescore everyone (admin)';
    case 'pause_outreach': return 'Pause outreach (admin)';
    case 'resume_outreach': return 'Resume outreach (admin)';
  }
}

/** "Did you mean…" with one button per reading; each button's value is the {@link Choice} it runs. */
export function didYouMeanMessage(options: readonly Intent[], lang: Lang): Message {
  const lead = lang === 'zh' ? (options.length > 1 ? '你是想问哪一个？' : '你是这个意思吗？') : options.length > 1 ? 'Did you mean one of these?' : 'Did you mean this?';
  const buttons: types.Button[] = options.slice(0, 2).map((intent, i) => ({
    type: 'button',
    action_id: `${ASK_ACTION_PREFIX}${i}`,
    text: { type: 'plain_text', text: describeIntent(intent, lang).slice(0, 75), emoji: false },
    value: JSON.stringify({ lang, intent } satisfies Choice),
  }));
  const blocks: Block[] = [section(lead), { type: 'actions', block_id: 'did_you_mean', elements: buttons }];
  return { text: `${lead} ${options.map((o) => describeIntent(o, lang)).join(' / ')}`, blocks };
}

/** One short line of what the bot does, with three examples. */
export function outOfScopeMessage(examples: readonly string[], lang: Lang): Message {
  const quoted = examples.map((e) => `“${esc(e)}”`);
  const line =
    lang === 'zh'
      ? `抱歉，我没看懂这个问题。我回答用户留存方面的问题，例如 ${quoted.join('、')}（\`/retain help\` 查看全部）。`
      : `Sorry, I didn't understand that. I answer questions about retention, e.g. ${quoted.join(', ')} (\`/retain help\` for everything).`;
  return { text: line, blocks: [section(line)] };
}

/** Shown when a button's value is not a valid choice (never one the bot made). */
export function badChoiceMessage(lang: Lang): Message {
  const line = lang === 'zh' ? '这个按钮无效，请重新提问。' : 'That button is not valid any more; please ask again.';
  return { text: line, blocks: [context(line)] };
}
