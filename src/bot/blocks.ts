/**
 * Block Kit for every answer, in English or Chinese: numbers through Intl.NumberFormat,
 * probabilities as percentages, money in major units of the platform currency, times as
 * Slack date tokens (each reader sees their own time zone). Builders are pure: data in,
 * blocks out; personal data arrives raw and is masked here unless the reader may see it.
 *
 * Slack limits respected here: 50 blocks per message, 3,000 characters per section text,
 * 10 fields per section, 150 characters per header.
 */
import type { types } from '@slack/bolt';
import { FEATURES } from '../domain/features.js';
import type { RiskTier } from '../domain/risk.js';
import { RFM_SEGMENT_LABELS, type RfmSegment } from '../ml/rfm.js';
import { renderReason, type RecommendationReason } from '../outreach/reasons.js';
import type { CampaignReport, SegmentReport } from '../services/campaign-report.js';
import type { CardWithPersona, ModelCard, OverviewWithHistogram, RankedUser, SegmentDetail, SegmentsView } from '../services/insights.js';
import { EXAMPLES, type Intent, type Lang } from './intent.js';
import { maskCouponCode, maskEmail, maskName } from './mask.js';

export type Block = types.KnownBlock;

export interface Message {
  /** Plain-text fallback: notifications, screen readers, clients without Block Kit. */
  text: string;
  blocks: Block[];
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const LOCALE: Record<Lang, string> = { en: 'en-US', zh: 'zh-CN' };

export interface Formatter {
  readonly lang: Lang;
  /** `12345` → `12,345`. */
  int(n: number): string;
  /** `0.1234` → `12.3%`. */
  pct(p: number): string;
  /** A rate difference in percentage points with its sign: `+3.2 pp` / `+3.2 个百分点`. */
  pp(d: number): string;
  /** Minor units in the platform currency as major units: `123456` → `CN¥1,234.56` / `¥1,234.56`. */
  money(minor: number): string;
  /** A plain decimal with up to `digits` fraction digits. */
  dec(x: number, digits?: number): string;
  /** A Slack date token: each reader sees the time in their own zone. */
  date(d: Date, withTime?: boolean): string;
}

const cache = new Map<string, Intl.NumberFormat>();
function nf(locale: string, o: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(o)}`;
  let f = cache.get(key);
  if (!f) cache.set(key, (f = new Intl.NumberFormat(locale, o)));
  return f;
}

/** Number formats for one language and currency (ISO 4217, e.g. `CNY`). */
export function formatter(lang: Lang, currency: string): Formatter {
  const locale = LOCALE[lang];
  const moneyFmt = nf(locale, { style: 'currency', currency });
  const digits = moneyFmt.resolvedOptions().maximumFractionDigits ?? 2;
  return {
    lang,
    int: (n) => nf(locale, { maximumFractionDigits: 0 }).format(n),
    pct: (p) => nf(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(p),
    pp: (d) => {
      const v = nf(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(d * 100);
      return lang === 'zh' ? `${v} 个百分点` : `${v} pp`;
    },
    money: (minor) => moneyFmt.format(minor / 10 ** digits),
    dec: (x, d = 2) => nf(locale, { maximumFractionDigits: d }).format(x),
    date: (d, withTime = true) => {
      const unix = Math.floor(d.getTime() / 1000);
      const fallback = withTime ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : d.toISOString().slice(0, 10);
      return `<!date^${unix}^{date_short_pretty}${withTime ? ' {time}' : ''}|${fallback}>`;
    },
  };
}

/**
 * Escapes text for mrkdwn: `&`, `<` and `>` (so a user's name cannot ping @channel or fake a
 * link). Also for a message's top-level `text`: Slack formats the fallback as mrkdwn too.
 * Header blocks are `plain_text` and take text as is.
 */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The name and email a reader may see: raw for PII readers, masked otherwise. */
export function contact(u: { name: string | null; email: string | null }, pii: boolean): { name: string | null; email: string | null } {
  return pii ? { name: u.name, email: u.email } : { name: maskName(u.name), email: maskEmail(u.email) };
}

// ---------------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------------

const TIER: Record<Lang, Record<RiskTier, string>> = {
  en: { high: 'High', medium: 'Medium', low: 'Low' },
  zh: { high: '高', medium: '中', low: '低' },
};

export function tierLabel(tier: string, lang: Lang): string {
  return TIER[lang][tier as RiskTier] ?? tier;
}

export function segmentLabel(segment: string | null, lang: Lang): string {
  if (segment === null) return lang === 'zh' ? '未分群' : 'No segment';
  return RFM_SEGMENT_LABELS[segment as RfmSegment]?.[lang] ?? segment;
}

const FEATURE_ZH: Record<string, string> = {
  recency_days: '距上次付费天数',
  frequency: '累计付费次数',
  monetary_total: '累计净消费（元）',
  avg_order_value: '平均客单价（元）',
  tenure_days: '注册天数',
  payments_30d: '近 30 天付费次数',
  payments_90d: '近 90 天付费次数',
  payments_180d: '近 180 天付费次数',
  renewals: '续费次数',
  refunds: '退款次数',
  refund_rate: '退款率',
  cancellations: '关闭自动续费次数',
  views_30d: '近 30 天浏览和学习次数',
  days_since_last_view: '距上次浏览天数',
  distinct_categories: '购买过的品类数',
  coupon_redemptions: '用券次数',
  completion: '课程平均完成度',
  never_started: '买了没开始学的课程数',
  days_until_renewal: '距下次续费天数',
  auto_renew_off: '已关闭自动续费',
  failed_payments_90d: '近 90 天扣款失败次数',
  trend: '购买趋势',
  membership_active: '会员有效',
  rfm_rules: 'RFM 规则（数据不足，未训练模型）',
};
const FEATURE_EN: Record<string, string> = {
  ...Object.fromEntries(FEATURES.map((f) => [f.name, f.description])),
  rfm_rules: 'RFM rules (too little data to train a model)',
};

export function featureLabel(feature: string, lang: Lang): string {
  return (lang === 'zh' ? FEATURE_ZH : FEATURE_EN)[feature] ?? feature;
}

const T = {
  en: {
    helpTitle: 'Rekindle: retention answers',
    helpIntro: 'Ask with `/retain <command>`, mention me, or DM me a question in English or Chinese.',
    commands: 'Commands',
    examples: 'Questions I understand',
    adminOnly: '(admins)',
    overview: 'Overview',
    users: 'Users',
    active30d: 'Active in the last 30 days',
    payers: 'Payers (scored)',
    riskTiers: 'Risk tiers',
    segments: 'Segments',
    noScores: 'No users are scored yet: run a rescore first (`rekindle rescore`).',
    lastRescore: (when: string) => `Last rescore ${when}`,
    noRescore: 'No rescore has finished yet.',
    asOf: (when: string) => `Numbers as of the rescore of ${when}`,
    auc: (auc: string, base: string) => `churn model AUC ${auc} (recency alone ${base})`,
    fallback: (why: string) => `rule-based scores (RFM) because ${why}`,
    segmentLine: (label: string, users: string, avg: string, high: string, at: string) =>
      `*${label}* — ${users} users · mean risk ${avg} · ${high} high · value at risk ${at}`,
    segmentTitle: (label: string) => `Segment: ${label}`,
    segmentEmpty: (label: string) => `No scored users are in ${label}.`,
    mostAtRisk: (n: string) => `Top ${n} by value at risk`,
    meanRisk: 'Mean churn risk',
    valueAtRisk: 'Value at risk',
    highRisk: 'High risk',
    atRiskTitle: (n: string, filter: string) => `Top ${n} users by value at risk${filter}`,
    inSegment: (label: string) => ` in ${label}`,
    inTier: (label: string) => ` · ${label} risk`,
    noneFound: 'Nobody matches.',
    risk: 'risk',
    rankedNote: 'Value at risk = expected value over the horizon × churn probability.',
    countAnswer: (n: string, what: string, of: string) => `*${n}* ${what} (of ${of} scored users).`,
    countWhat: (tier: string | undefined, segment: string | undefined) =>
      `${tier ? `${tier.toLowerCase()}-risk ` : ''}user(s)${segment ? ` in ${segment}` : ''}`,
    userTitle: (id: string) => `User ${id}`,
    whyTitle: (id: string) => `Why is ${id} at risk?`,
    recTitle: (id: string) => `What to recommend to ${id}`,
    name: 'Name',
    email: 'Email',
    segment: 'Segment',
    persona: 'Persona',
    churnRisk: 'Churn risk',
    pAlive: 'P(alive)',
    expectedPurchases: 'Expected purchases',
    expectedValue: 'Expected value',
    notScored: 'Not scored: no purchase yet, or not in the last rescore.',
    drivers: 'What pushes the risk up',
    noDrivers: 'No single feature stands out: the risk comes from the baseline.',
    contribution: 'contribution',
    recommendations: 'Recommendations',
    noRecommendations: 'No recommendations yet (run `rekindle cycle` or the recommend job).',
    lastOutreach: 'Last outreach',
    noOutreach: 'No outreach yet.',
    holdoutRow: (cycle: string) => `Holdout in cycle ${cycle}: nothing was sent (the comparison group).`,
    outreachRow: (channel: string, state: string, when: string) => `${channel} · ${state} · ${when}`,
    channel: { coupon: 'Coupon email', email: 'Email' } as Record<string, string>,
    state: { planned: 'planned', sending: 'sending', sent: 'sent', failed: 'failed', skipped: 'skipped' } as Record<string, string>,
    coupon: (code: string, redeemed: boolean) => `coupon \`${code}\` ${redeemed ? 'redeemed' : 'not redeemed'}`,
    converted: (when: string) => `bought again ${when} ✅`,
    notConverted: (days: number) => `no purchase within ${days} days`,
    pending: (until: string) => `no purchase yet (window ends ${until})`,
    unsubscribed: 'Unsubscribed from outreach.',
    campaignsTitle: (days: string) => `Campaigns — outreach of the last ${days} days`,
    upliftTitle: (days: string) => `Uplift — treated vs holdout, last ${days} days`,
    noCampaigns: (days: string) => `No outreach was planned in the last ${days} days.`,
    noSettledCampaigns: (days: string, open: string) => `No outreach of the last ${days} days has settled yet: ${open} still inside the conversion window.`,
    tierLine: (tier: string) => `*${tier}*`,
    treated: 'treated',
    holdout: 'holdout',
    conv: 'converted',
    uplift: 'uplift',
    ci: '95% CI',
    couponsRedeemed: (r: string, i: string) => `coupons redeemed ${r}/${i}`,
    revenuePerUser: (t: string, h: string) => `revenue/user ${t} vs ${h}`,
    all: 'All tiers',
    conversionNote: (days: number) => `Conversion = a purchase or renewal within ${days} days of outreach (for the holdout, of when it would have been sent).`,
    upliftVerdict: (sig: boolean, up: boolean) =>
      sig ? (up ? 'Outreach beat the holdout: the 95% interval is above zero.' : 'Outreach did worse than the holdout: the 95% interval is below zero.') : 'Not significant yet: the 95% interval includes zero.',
    modelTitle: 'Churn model',
    model: 'Model',
    logistic: 'Logistic regression',
    rfmFallback: (why: string) => `RFM rules — ${why}`,
    aucLabel: 'AUC (held out)',
    baselineAuc: 'Recency-only AUC',
    prAuc: 'PR-AUC',
    brier: 'Brier score',
    trainedOn: 'Held-out users (churned)',
    scored: 'Users scored',
    rescoredAt: 'Rescored',
    backtest: 'Backtest',
    noBacktest: 'No backtest yet (`rekindle backtest`).',
    recommendQuality: (k: string, p: string, n: string, pp: string, pn: string) => `Recommendations: precision@${k} ${p}, NDCG ${n} (popularity ${pp}, ${pn})`,
    noModel: 'No model yet: run a rescore first.',
    rescoreQueued: (id: string) => `Rescore queued (job \`${id}\`). The digest follows when it finishes.`,
    rescoreUnavailable: 'Rescoring cannot be queued from this process (no job queue). Run `rekindle rescore` or `rekindle cycle`.',
    paused: 'Outreach paused: planned cycles send nothing until `/retain resume outreach`.',
    resumed: 'Outreach resumed: the next cycle plans and sends again.',
    adminRefused: (what: string) => `Sorry, only Rekindle admins can ${what}. Your request was logged.`,
    adminWhat: { rescore: 'start a rescore', pause_outreach: 'pause outreach', resume_outreach: 'resume outreach' } as Record<string, string>,
    denied: {
      team: 'Sorry, Rekindle is not enabled for this workspace. Ask a Rekindle admin to add it.',
      channel: 'Sorry, I only answer in channels Rekindle is enabled for. Try a DM with me, or ask an admin to add this channel.',
      user: 'Sorry, you are not on the list of people Rekindle answers. Ask a Rekindle admin to add you.',
    },
    notUnderstood: "Sorry, I didn't understand that. Here is what I can answer:",
    unknownUser: (ref: string) => `I couldn't find a user ${ref}. Check the id or email (ids look like the ones in \`/retain at-risk\`).`,
    emailNeedsPii:
      'Looking users up by email needs personal-data access, and a private answer (`/retain` or a DM with me). Ask by user id instead, e.g. `/retain user 42`. Your request was logged.',
    tryThese: 'Try for example:',
    failed: 'Sorry, something went wrong while answering. The error was logged; try again in a minute.',
    chartFailed: 'The chart could not be uploaded here.',
    chartsByDm: 'Charts follow in your DM with me (this answer is only visible to you).',
    personaNumber: (n: number) => `Persona ${n + 1}`,
    roiTitle: (days: string) => `Did outreach pay off? Last ${days} days`,
    roiNothingSettled: 'Nothing has settled yet: an outreach counts once its conversion window has closed.',
    roiFirstClose: (when: string) => `The first window closes ${when}.`,
    roiDue: (n: string) => `${n} outreach row(s) have closed windows and wait for the next settle run (\`rekindle cycle\`).`,
    roiNoOutreach: (days: string) => `No outreach was planned in the last ${days} days.`,
    verdict: {
      pays: (net: string, lo: string, hi: string, roi: string) => `✅ *Pays off* — ${net} net incremental revenue (95% interval ${lo} to ${hi})${roi}.`,
      loses: (net: string, lo: string, hi: string, roi: string) => `🔻 *Loses money* — ${net} net incremental revenue (95% interval ${lo} to ${hi})${roi}.`,
      unclear: (net: string, lo: string, hi: string) => `🤷 *Not clear yet* — ${net} net incremental revenue, but the 95% interval (${lo} to ${hi}) spans zero.`,
      noInterval: (net: string) => `🤷 *Not clear yet* — ${net} net incremental revenue, from too few users for an interval.`,
      noComparison: '🤷 *Not clear yet* — settled outcomes of both the treated and the holdout are needed to compare.',
    },
    roiSuffix: (roi: string) => `, ROI ${roi}`,
    offerName: { coupon: 'Coupon', email: 'Email', all: 'All offers' } as Record<string, string>,
    offerStatus: { pays: 'pays off', loses: 'loses money', unclear: 'not clear yet', none: 'no comparison' } as Record<string, string>,
    net: 'net',
    couponCost: 'coupon cost',
    incrConversions: 'incremental conversions',
    to: 'to',
    armSizes: (t: string, h: string) => `treated ${t} / holdout ${h}`,
    roiSettled: (settled: string, waiting: string, next: string) => `${settled} settled outcome(s) · ${waiting} still waiting${next}`,
    roiNextClose: (when: string) => ` (next window closes ${when})`,
    roiNote: (days: number) =>
      `Net incremental revenue = (revenue paid per treated user − per holdout user) × treated users, so coupon discounts are already taken off; coupon cost = discounts redeemed; ROI = net ÷ coupon cost. Outcomes settle ${days} days after sending; 95% intervals are cluster-robust by user.`,
    roiChartTitle: 'Net incremental revenue per cycle',
    reasonWhy: 'Why this offer',
    reasonHeldOut: 'Offer it would have got (holdout)',
    offerWord: { coupon: 'coupon', email: 'email' } as Record<string, string>,
    reasonUplift: (uplift: string, order: string, minus: string, value: string) => `uplift ${uplift} × ${order} order${minus} = ${value} expected value`,
    reasonDiscount: (d: string) => ` − ${d} expected discount`,
    reasonEmailCost: (c: string) => ` − ${c} email cost`,
    reasonRank: (n: string) => `rank ${n} by expected value`,
    reasonBudget: 'the coupon budget had run out, so an email',
    reasonUpliftBare: 'uplift model',
    reasonExplore: 'explore (random offer for learning)',
    reasonTiers: (tier: string, churn: string, fallback: string) => `risk tiers (${tier} risk, churn ${churn}${fallback})`,
    reasonFallback: (why: string) => `; uplift model not ready: ${why}`,
  },
  zh: {
    helpTitle: 'Rekindle：用户留存问答',
    helpIntro: '用 `/retain <命令>`，或者 @我、私信我，中英文提问都可以。',
    commands: '命令',
    examples: '可以这样问',
    adminOnly: '（管理员）',
    overview: '概览',
    users: '用户数',
    active30d: '近 30 天活跃',
    payers: '付费用户（已评分）',
    riskTiers: '风险分层',
    segments: '分群',
    noScores: '还没有评分结果：请先运行一次重新评分（`rekindle rescore`）。',
    lastRescore: (when: string) => `最近一次评分 ${when}`,
    noRescore: '还没有完成过评分。',
    asOf: (when: string) => `数据截至 ${when} 的评分`,
    auc: (auc: string, base: string) => `流失模型 AUC ${auc}（仅用最近购买时间 ${base}）`,
    fallback: (why: string) => `使用 RFM 规则评分，原因：${why}`,
    segmentLine: (label: string, users: string, avg: string, high: string, at: string) =>
      `*${label}* — ${users} 人 · 平均风险 ${avg} · 高风险 ${high} 人 · 风险价值 ${at}`,
    segmentTitle: (label: string) => `分群：${label}`,
    segmentEmpty: (label: string) => `「${label}」中没有已评分的用户。`,
    mostAtRisk: (n: string) => `风险价值最高的 ${n} 位`,
    meanRisk: '平均流失风险',
    valueAtRisk: '风险价值',
    highRisk: '高风险',
    atRiskTitle: (n: string, filter: string) => `风险价值最高的 ${n} 位用户${filter}`,
    inSegment: (label: string) => ` · ${label}`,
    inTier: (label: string) => ` · ${label}风险`,
    noneFound: '没有符合条件的用户。',
    risk: '风险',
    rankedNote: '风险价值 = 预测期内的预期消费 × 流失概率。',
    countAnswer: (n: string, what: string, of: string) => `${what}共 *${n}* 人（已评分用户共 ${of} 人）。`,
    countWhat: (tier: string | undefined, segment: string | undefined) => `${segment ? `「${segment}」中` : ''}${tier ? `${tier}风险` : ''}用户`,
    userTitle: (id: string) => `用户 ${id}`,
    whyTitle: (id: string) => `用户 ${id} 为什么有流失风险？`,
    recTitle: (id: string) => `给用户 ${id} 推荐什么`,
    name: '姓名',
    email: '邮箱',
    segment: '分群',
    persona: '画像',
    churnRisk: '流失风险',
    pAlive: '仍活跃概率',
    expectedPurchases: '预期购买次数',
    expectedValue: '预期消费',
    notScored: '未评分：还没有购买，或不在最近一次评分中。',
    drivers: '推高风险的因素',
    noDrivers: '没有特别突出的因素：风险主要来自基线水平。',
    contribution: '贡献',
    recommendations: '推荐',
    noRecommendations: '还没有推荐结果（运行 `rekindle cycle` 或推荐任务）。',
    lastOutreach: '最近一次触达',
    noOutreach: '还没有触达过。',
    holdoutRow: (cycle: string) => `周期 ${cycle} 中属于对照组：没有发送任何消息。`,
    outreachRow: (channel: string, state: string, when: string) => `${channel} · ${state} · ${when}`,
    channel: { coupon: '优惠券邮件', email: '邮件' } as Record<string, string>,
    state: { planned: '待发送', sending: '发送中', sent: '已发送', failed: '发送失败', skipped: '已跳过' } as Record<string, string>,
    coupon: (code: string, redeemed: boolean) => `优惠券 \`${code}\` ${redeemed ? '已使用' : '未使用'}`,
    converted: (when: string) => `${when} 再次购买 ✅`,
    notConverted: (days: number) => `${days} 天内没有购买`,
    pending: (until: string) => `暂未购买（观察期到 ${until}）`,
    unsubscribed: '已退订触达消息。',
    campaignsTitle: (days: string) => `营销效果 — 近 ${days} 天的触达`,
    upliftTitle: (days: string) => `提升效果 — 触达组 vs 对照组，近 ${days} 天`,
    noCampaigns: (days: string) => `近 ${days} 天没有计划过触达。`,
    noSettledCampaigns: (days: string, open: string) => `近 ${days} 天的触达尚未结算：${open} 条仍在转化窗口内。`,
    tierLine: (tier: string) => `*${tier}风险*`,
    treated: '触达组',
    holdout: '对照组',
    conv: '转化',
    uplift: '提升',
    ci: '95% 置信区间',
    couponsRedeemed: (r: string, i: string) => `优惠券使用 ${r}/${i}`,
    revenuePerUser: (t: string, h: string) => `人均收入 ${t} vs ${h}`,
    all: '全部分层',
    conversionNote: (days: number) => `转化 = 触达后 ${days} 天内购买或续费（对照组按本应发送的时间计算）。`,
    upliftVerdict: (sig: boolean, up: boolean) =>
      sig ? (up ? '触达组优于对照组：95% 置信区间在零以上。' : '触达组不如对照组：95% 置信区间在零以下。') : '暂不显著：95% 置信区间包含零。',
    modelTitle: '流失模型',
    model: '模型',
    logistic: '逻辑回归',
    rfmFallback: (why: string) => `RFM 规则 — ${why}`,
    aucLabel: 'AUC（留出集）',
    baselineAuc: '仅最近购买时间的 AUC',
    prAuc: 'PR-AUC',
    brier: 'Brier 分数',
    trainedOn: '留出集用户（流失）',
    scored: '已评分用户',
    rescoredAt: '评分时间',
    backtest: '回测',
    noBacktest: '还没有回测（`rekindle backtest`）。',
    recommendQuality: (k: string, p: string, n: string, pp: string, pn: string) => `推荐：precision@${k} ${p}，NDCG ${n}（热门基线 ${pp}、${pn}）`,
    noModel: '还没有模型：请先运行一次评分。',
    rescoreQueued: (id: string) => `已排队重新评分（任务 \`${id}\`）。完成后会发送每日名单。`,
    rescoreUnavailable: '当前进程无法排队评分任务（没有任务队列）。请运行 `rekindle rescore` 或 `rekindle cycle`。',
    paused: '已暂停触达：在 `/retain resume outreach` 之前，周期任务不会发送任何消息。',
    resumed: '已恢复触达：下一个周期会照常计划和发送。',
    adminRefused: (what: string) => `抱歉，只有 Rekindle 管理员可以${what}。本次请求已记录。`,
    adminWhat: { rescore: '重新评分', pause_outreach: '暂停触达', resume_outreach: '恢复触达' } as Record<string, string>,
    denied: {
      team: '抱歉，这个工作区没有开通 Rekindle。请联系 Rekindle 管理员添加。',
      channel: '抱歉，我只在开通了 Rekindle 的频道里回答。可以私信我，或请管理员添加这个频道。',
      user: '抱歉，你不在 Rekindle 的使用名单里。请联系 Rekindle 管理员添加。',
    },
    notUnderstood: '抱歉，我没看懂这个问题。我可以回答这些：',
    unknownUser: (ref: string) => `没有找到用户 ${ref}。请检查 ID 或邮箱（ID 的格式见 \`/retain at-risk\` 的结果）。`,
    emailNeedsPii: '按邮箱查找用户需要个人数据权限，而且只能在私密回答里（`/retain` 命令或私信我）。请改用用户 ID，例如 `/retain user 42`。本次请求已记录。',
    tryThese: '可以试试：',
    failed: '抱歉，回答时出错了。错误已记录，请稍后再试。',
    chartFailed: '图表无法上传到这里。',
    chartsByDm: '图表会私信发给你（这条回答只有你能看到）。',
    personaNumber: (n: number) => `画像 ${n + 1}`,
    roiTitle: (days: string) => `触达划算吗？近 ${days} 天`,
    roiNothingSettled: '还没有结算的结果：每次触达要等观察期结束后才计入。',
    roiFirstClose: (when: string) => `第一个观察期在 ${when} 结束。`,
    roiDue: (n: string) => `有 ${n} 条触达的观察期已结束，等待下一次结算（\`rekindle cycle\`）。`,
    roiNoOutreach: (days: string) => `近 ${days} 天没有计划过触达。`,
    verdict: {
      pays: (net: string, lo: string, hi: string, roi: string) => `✅ *划算* — 净增收入 ${net}（95% 置信区间 ${lo} 至 ${hi}）${roi}。`,
      loses: (net: string, lo: string, hi: string, roi: string) => `🔻 *亏钱* — 净增收入 ${net}（95% 置信区间 ${lo} 至 ${hi}）${roi}。`,
      unclear: (net: string, lo: string, hi: string) => `🤷 *暂不确定* — 净增收入 ${net}，但 95% 置信区间（${lo} 至 ${hi}）包含零。`,
      noInterval: (net: string) => `🤷 *暂不确定* — 净增收入 ${net}，用户太少，无法给出置信区间。`,
      noComparison: '🤷 *暂不确定* — 触达组和对照组都要有结算结果才能比较。',
    },
    roiSuffix: (roi: string) => `，ROI ${roi}`,
    offerName: { coupon: '优惠券', email: '邮件', all: '全部触达' } as Record<string, string>,
    offerStatus: { pays: '划算', loses: '亏钱', unclear: '暂不确定', none: '无法比较' } as Record<string, string>,
    net: '净增收入',
    couponCost: '优惠券成本',
    incrConversions: '增量转化',
    to: '至',
    armSizes: (t: string, h: string) => `触达组 ${t} / 对照组 ${h}`,
    roiSettled: (settled: string, waiting: string, next: string) => `已结算 ${settled} 条 · 待结算 ${waiting} 条${next}`,
    roiNextClose: (when: string) => `（下一个观察期 ${when} 结束）`,
    roiNote: (days: number) =>
      `净增收入 =（触达组人均实付 − 对照组人均实付）× 触达人数，已扣除优惠券折扣；优惠券成本 = 已使用的折扣；ROI = 净增收入 ÷ 优惠券成本。触达后 ${days} 天结算；95% 置信区间按用户聚类计算。`,
    roiChartTitle: '各周期净增收入',
    reasonWhy: '选择原因',
    reasonHeldOut: '本应收到（对照组）',
    offerWord: { coupon: '优惠券', email: '邮件' } as Record<string, string>,
    reasonUplift: (uplift: string, order: string, minus: string, value: string) => `提升 ${uplift} × 客单价 ${order}${minus} = 预期价值 ${value}`,
    reasonDiscount: (d: string) => ` − 预期折扣 ${d}`,
    reasonEmailCost: (c: string) => ` − 邮件成本 ${c}`,
    reasonRank: (n: string) => `按预期价值排第 ${n} 位`,
    reasonBudget: '优惠券预算已用完，改发邮件',
    reasonUpliftBare: '提升模型',
    reasonExplore: '探索（为了学习随机分配的优惠）',
    reasonTiers: (tier: string, churn: string, fallback: string) => `风险分层（${tier}风险，流失概率 ${churn}${fallback}）`,
    reasonFallback: (why: string) => `；提升模型未就绪：${why}`,
  },
} as const;

export type Texts = (typeof T)['en'];
export function texts(lang: Lang): Texts {
  return T[lang] as unknown as Texts;
}

// ---------------------------------------------------------------------------------------------
// Block helpers
// ---------------------------------------------------------------------------------------------

const MAX_SECTION = 2900;

export function header(text: string): Block {
  return { type: 'header', text: { type: 'plain_text', text: text.length > 150 ? `${text.slice(0, 149)}…` : text, emoji: true } };
}

export function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: text.length > MAX_SECTION ? `${text.slice(0, MAX_SECTION - 1)}…` : text } };
}

export function fields(pairs: readonly (readonly [string, string])[]): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < pairs.length; i += 10) {
    out.push({ type: 'section', fields: pairs.slice(i, i + 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v}` })) });
  }
  return out;
}

export function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: text.slice(0, MAX_SECTION) }] };
}

export const divider: Block = { type: 'divider' };

/** Lines packed into as few sections as the 3,000-character limit allows. */
export function lines(ls: readonly string[]): Block[] {
  const out: Block[] = [];
  let cur = '';
  for (const l of ls) {
    if (cur && cur.length + 1 + l.length > MAX_SECTION) {
      out.push(section(cur));
      cur = '';
    }
    cur = cur ? `${cur}\n${l}` : l;
  }
  if (cur) out.push(section(cur));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

const USAGE: readonly (readonly [string, boolean])[] = [
  ['help', false],
  ['overview', false],
  ['segments', false],
  ['segment <name> [n]', false],
  ['at-risk [n] [segment|high|medium|low]', false],
  ['user <id|email>', false],
  ['recommend <id|email>', false],
  ['campaigns [days]', false],
  ['uplift', false],
  ['roi [days]', false],
  ['changes', false],
  ['trend [runs]', false],
  ['compare <segment> <segment>', false],
  ['model', false],
  ['rescore', true],
  ['pause outreach', true],
  ['resume outreach', true],
];

export function helpMessage(lang: Lang, lead?: string): Message {
  const t = texts(lang);
  const blocks: Block[] = [];
  if (lead) blocks.push(section(lead));
  else blocks.push(header(t.helpTitle), section(t.helpIntro));
  blocks.push(
    section(`*${t.commands}*\n${USAGE.map(([u, admin]) => `• \`/retain ${u}\`${admin ? ` ${t.adminOnly}` : ''}`).join('\n')}`),
    section(`*${t.examples}*\n${EXAMPLES[lang].map((e) => `• ${esc(e)}`).join('\n')}`),
  );
  return { text: lead ?? t.helpTitle, blocks };
}

/**
 * An error or refusal with a few example questions under it. `message` is plain text (a parse
 * error may echo what was typed) and is escaped here, in the fallback and in the blocks.
 */
export function withExamples(message: string, lang: Lang): Message {
  const t = texts(lang);
  return {
    text: esc(message),
    blocks: [section(esc(message)), context(`${t.tryThese} ${EXAMPLES[lang].slice(0, 4).map((e) => `“${esc(e)}”`).join(' · ')} · \`/retain help\``)],
  };
}

export function plain(message: string): Message {
  return { text: message, blocks: [section(message)] };
}

function rescoreContext(o: OverviewWithHistogram['lastRescore'], f: Formatter): string {
  const t = texts(f.lang);
  if (!o) return t.noRescore;
  const parts = [t.lastRescore(f.date(o.finishedAt ?? o.startedAt))];
  if (o.fallback) parts.push(t.fallback(esc(o.fallback)));
  else if (o.churn?.auc != null) parts.push(t.auc(f.dec(o.churn.auc, 3), o.churn.baselineAuc != null ? f.dec(o.churn.baselineAuc, 3) : '—'));
  return parts.join(' · ');
}

export function overviewMessage(o: OverviewWithHistogram, f: Formatter): Message {
  const t = texts(f.lang);
  const share = (n: number) => (o.payers ? ` (${f.pct(n / o.payers)})` : '');
  const blocks: Block[] = [
    header(t.overview),
    ...fields([
      [t.users, f.int(o.users)],
      [t.active30d, f.int(o.active30d)],
      [t.payers, f.int(o.payers)],
      [t.riskTiers, (['high', 'medium', 'low'] as const).map((k) => `${tierLabel(k, f.lang)} ${f.int(o.tiers[k])}${share(o.tiers[k])}`).join(' · ')],
    ]),
  ];
  if (o.payers === 0) blocks.push(section(t.noScores));
  else blocks.push(section(`*${t.segments}*\n${o.segments.map((s) => `${segmentLabel(s.segment, f.lang)} ${f.int(s.users)}`).join(' · ')}`));
  blocks.push(context(`${o.asOf ? `${t.asOf(f.date(o.asOf))} · ` : ''}${rescoreContext(o.lastRescore, f)}`));
  const text = `${t.overview}: ${t.users} ${f.int(o.users)}, ${t.payers} ${f.int(o.payers)}, ${tierLabel('high', f.lang)} ${f.int(o.tiers.high)}`;
  return { text, blocks };
}

export function segmentsMessage(view: SegmentsView, f: Formatter): Message {
  const t = texts(f.lang);
  const { stats, asOf } = view;
  if (stats.length === 0) return plain(t.noScores);
  const ls = stats.map((s) => t.segmentLine(segmentLabel(s.segment, f.lang), f.int(s.users), f.pct(s.avgChurn), f.int(s.high), f.money(s.valueAtRiskMinor)));
  const blocks: Block[] = [header(t.segments), ...lines(ls)];
  if (asOf) blocks.push(context(t.asOf(f.date(asOf))));
  return { text: `${t.segments}: ${stats.map((s) => `${segmentLabel(s.segment, f.lang)} ${f.int(s.users)}`).join(', ')}`, blocks };
}

/** One ranked user as a line: rank, id, (masked) name and email, risk, value at risk. */
export function userLine(u: RankedUser, i: number, f: Formatter, pii: boolean): string {
  const t = texts(f.lang);
  const c = contact(u, pii);
  const who = [c.name, c.email].filter((x): x is string => x !== null).map(esc).join(' · ');
  const value = u.valueAtRiskMinor !== null ? ` · ${t.valueAtRisk} ${f.money(u.valueAtRiskMinor)}` : '';
  return `${i + 1}. \`${esc(u.userId)}\`${who ? ` ${who}` : ''} — ${t.risk} ${f.pct(u.churnProbability)} (${tierLabel(u.tier, f.lang)})${value} · ${segmentLabel(u.segment, f.lang)}`;
}

export function rankedMessage(title: string, users: readonly RankedUser[], f: Formatter, pii: boolean, extra: Block[] = []): Message {
  const t = texts(f.lang);
  const blocks: Block[] = [header(title), ...extra];
  if (users.length === 0) blocks.push(section(t.noneFound));
  else blocks.push(...lines(users.map((u, i) => userLine(u, i, f, pii))), context(t.rankedNote));
  return { text: `${title}: ${users.slice(0, 5).map((u) => esc(u.userId)).join(', ')}${users.length > 5 ? '…' : ''}`, blocks };
}

export function atRiskMessage(users: readonly RankedUser[], filter: { n: number; segment?: string | undefined; tier?: RiskTier | undefined }, f: Formatter, pii: boolean): Message {
  const t = texts(f.lang);
  const title = t.atRiskTitle(f.int(filter.n), `${filter.segment ? t.inSegment(segmentLabel(filter.segment, f.lang)) : ''}${filter.tier ? t.inTier(tierLabel(filter.tier, f.lang)) : ''}`);
  return rankedMessage(title, users, f, pii);
}

export function segmentMessage(segment: string, d: SegmentDetail, f: Formatter, pii: boolean): Message {
  const t = texts(f.lang);
  const label = segmentLabel(segment, f.lang);
  if (!d.stat) return plain(t.segmentEmpty(label));
  const s = d.stat;
  const extra = [
    ...fields([
      [t.users, f.int(s.users)],
      [t.meanRisk, f.pct(s.avgChurn)],
      [t.riskTiers, (['high', 'medium', 'low'] as const).map((k) => `${tierLabel(k, f.lang)} ${f.int(s[k])}`).join(' · ')],
      [t.valueAtRisk, f.money(s.valueAtRiskMinor)],
    ]),
    ...(d.asOf ? [context(t.asOf(f.date(d.asOf)))] : []),
    section(`*${t.mostAtRisk(f.int(d.users.length))}*`),
  ];
  return rankedMessage(t.segmentTitle(label), d.users, f, pii, extra);
}

export function countMessage(n: number, total: number, filter: { tier?: RiskTier | undefined; segment?: string | undefined }, f: Formatter): Message {
  const t = texts(f.lang);
  const what = t.countWhat(filter.tier ? tierLabel(filter.tier, f.lang) : undefined, filter.segment ? segmentLabel(filter.segment, f.lang) : undefined);
  const text = t.countAnswer(f.int(n), what, f.int(total));
  return { text: text.replace(/\*/g, ''), blocks: [section(text)] };
}

function explanationLines(card: CardWithPersona, f: Formatter): string[] {
  const t = texts(f.lang);
  const ex = card.score?.explanation ?? [];
  if (ex.length === 0) return [t.noDrivers];
  return ex.map((e) => {
    if (e.reason) return `• ${featureLabel(e.feature, f.lang)}: ${esc(e.reason)}`;
    const value = e.value !== null ? `: ${f.dec(e.value)}` : '';
    const contribution = e.contribution !== null ? ` (${t.contribution} +${f.dec(e.contribution, 2)})` : '';
    return `• ${featureLabel(e.feature, f.lang)}${value}${contribution}`;
  });
}

function recommendationLines(card: CardWithPersona, f: Formatter): string[] {
  const t = texts(f.lang);
  if (card.recommendations.length === 0) return [t.noRecommendations];
  const titles = new Map<string, string>();
  for (const r of card.recommendations) {
    if (r.title) titles.set(r.itemId, r.title);
    const ref = r.reason.itemId;
    if (typeof ref === 'string' && r.reasonTitle) titles.set(ref, r.reasonTitle);
  }
  return card.recommendations.map((r) => {
    const why = renderReason(r.reason as unknown as RecommendationReason, f.lang === 'zh' ? 'zh-CN' : 'en', (id) => titles.get(id));
    return `${r.rank}. ${esc(r.title ?? r.itemId)} — _${esc(why)}_`;
  });
}

/** A signed percentage: `+12.0%`, `-3.5%`. */
function signedPct(f: Formatter, p: number, digits = 1): string {
  return nf(LOCALE[f.lang], { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: 'exceptZero' }).format(p);
}

const finiteNum = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const record = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The planner's fallback sentence without the parts the line already says ("OUTREACH_POLICY is uplift, but …: the risk tiers decide"). */
function shortFallback(fallback: string): string {
  return fallback.replace(/^OUTREACH_POLICY is \w+, but /, '').replace(/: the risk tiers decide$/, '');
}

/**
 * Why an outreach row got its offer, in one line, from the `policy` and `reason` the planner
 * stored (src/services/outreach-plan.ts): the value policy's arithmetic (uplift × order value
 * − expected discount or email cost = expected value, and the budget rank), the risk tier
 * (with why the uplift model did not decide), or exploration. Null for rows with no policy
 * (imported campaigns). The reason is read defensively: a field missing from an older row
 * drops that part of the line, never the card.
 */
export function offerReasonLine(o: { channel: string; policy: string | null; reason: Record<string, unknown> | null }, f: Formatter): string | null {
  if (!o.policy) return null;
  const t = texts(f.lang);
  const r = o.reason ?? {};
  const offer = t.offerWord[o.channel] ?? esc(o.channel);
  switch (o.policy) {
    case 'explore':
      return `${offer} · ${t.reasonExplore}`;
    case 'uplift': {
      const est = record(o.channel === 'coupon' ? r.coupon : r.email);
      const uplift = finiteNum(est.uplift);
      const order = finiteNum(r.orderValueMinor);
      const value = finiteNum(est.value) ?? finiteNum(r.value);
      const parts: string[] = [];
      if (uplift === null || order === null || value === null) parts.push(`${offer} · ${t.reasonUpliftBare}`);
      else {
        let minus = '';
        if (o.channel === 'coupon') {
          const discount = finiteNum(est.expectedDiscount);
          if (discount !== null) minus = t.reasonDiscount(f.money(discount));
        } else {
          // The email's cost is not stored apart: value = uplift × order − cost.
          const cost = uplift * order - value;
          if (cost >= 0.5) minus = t.reasonEmailCost(f.money(cost));
        }
        parts.push(`${offer} · ${t.reasonUplift(signedPct(f, uplift), f.money(order), minus, f.money(value))}`);
      }
      const rank = finiteNum(r.rank);
      if (rank !== null) parts.push(t.reasonRank(f.int(rank)));
      if (r.limitedBy === 'budget') parts.push(t.reasonBudget);
      return parts.join(f.lang === 'zh' ? '，' : ', ');
    }
    case 'tiers': {
      const tier = typeof r.tier === 'string' ? tierLabel(r.tier, f.lang) : '—';
      const churn = finiteNum(r.churn);
      const fallback = typeof r.fallback === 'string' && r.fallback ? t.reasonFallback(esc(shortFallback(r.fallback))) : '';
      return `${offer} · ${t.reasonTiers(f.lang === 'en' ? tier.toLowerCase() : tier, churn === null ? '—' : f.pct(churn), fallback)}`;
    }
    default:
      return `${offer} · ${esc(o.policy)}`;
  }
}

function outreachLine(card: CardWithPersona, f: Formatter, now: Date, windowDays: number, pii: boolean): string {
  const t = texts(f.lang);
  const o = card.lastOutreach;
  if (!o) return t.noOutreach;
  const why = offerReasonLine(o, f);
  const colon = f.lang === 'zh' ? '：' : ': ';
  if (o.holdout) {
    const result = o.convertedAt ? t.converted(f.date(o.convertedAt)) : o.windowEndsAt > now ? t.pending(f.date(o.windowEndsAt, false)) : t.notConverted(windowDays);
    return `${t.holdoutRow(esc(o.cycleId))} ${result}${why ? `\n_${t.reasonHeldOut}_${colon}${why}` : ''}`;
  }
  const parts = [t.outreachRow(t.channel[o.channel] ?? o.channel, t.state[o.state] ?? o.state, f.date(o.sentAt ?? o.scheduledAt))];
  // The code redeems money: masked like an email for readers without personal-data rights.
  if (o.coupon) parts.push(t.coupon(esc(pii ? o.coupon.code : maskCouponCode(o.coupon.code)), o.coupon.redeemed));
  if (o.state === 'sent') parts.push(o.convertedAt ? t.converted(f.date(o.convertedAt)) : o.windowEndsAt > now ? t.pending(f.date(o.windowEndsAt, false)) : t.notConverted(windowDays));
  return `${parts.join(' · ')}${why ? `\n_${t.reasonWhy}_${colon}${why}` : ''}`;
}

export type CardView = 'user' | 'why' | 'recommend';

/** A user's card: the full one, or focused on why they are at risk, or on recommendations. */
export function userCardMessage(card: CardWithPersona, view: CardView, f: Formatter, o: { pii: boolean; now: Date; windowDays: number }): Message {
  const t = texts(f.lang);
  const c = contact(card, o.pii);
  const title = view === 'why' ? t.whyTitle(card.userId) : view === 'recommend' ? t.recTitle(card.userId) : t.userTitle(card.userId);
  const blocks: Block[] = [header(title)];
  const s = card.score;
  const identity: [string, string][] = [
    [t.name, c.name ? esc(c.name) : '—'],
    [t.email, c.email ? esc(c.email) : '—'],
  ];
  const riskFields: [string, string][] = s
    ? [
        [t.churnRisk, `${f.pct(s.churnProbability)} (${tierLabel(s.tier, f.lang)})`],
        [t.valueAtRisk, s.valueAtRiskMinor !== null ? f.money(s.valueAtRiskMinor) : '—'],
        [t.segment, segmentLabel(s.segment, f.lang)],
        [t.persona, card.persona ? `${t.personaNumber(card.persona.cluster)}: ${esc(card.persona.text)}` : s.persona !== null ? t.personaNumber(s.persona) : '—'],
        [t.pAlive, s.pAlive !== null ? f.pct(s.pAlive) : '—'],
        [t.expectedPurchases, s.expectedPurchases !== null ? f.dec(s.expectedPurchases) : '—'],
        [t.expectedValue, s.expectedValueMinor !== null ? f.money(s.expectedValueMinor) : '—'],
      ]
    : [];
  if (view === 'user') {
    blocks.push(...fields([...identity, ...riskFields]));
    if (!s) blocks.push(section(t.notScored));
    else blocks.push(section(`*${t.drivers}*\n${explanationLines(card, f).join('\n')}`));
    blocks.push(section(`*${t.recommendations}*\n${recommendationLines(card, f).join('\n')}`));
    blocks.push(section(`*${t.lastOutreach}*\n${outreachLine(card, f, o.now, o.windowDays, o.pii)}`));
    if (card.unsubscribed) blocks.push(context(t.unsubscribed));
  } else if (view === 'why') {
    if (!s) blocks.push(section(t.notScored));
    else {
      blocks.push(...fields(riskFields.slice(0, 4)));
      blocks.push(section(`*${t.drivers}*\n${explanationLines(card, f).join('\n')}`));
    }
  } else {
    blocks.push(section(`*${t.recommendations}*\n${recommendationLines(card, f).join('\n')}`));
  }
  if (s) blocks.push(context(`${t.rescoredAt} ${f.date(s.scoredAt)}`));
  // The header is plain_text; the fallback is mrkdwn, so the id in the title is escaped there.
  const text = s ? `${esc(title)}: ${t.churnRisk} ${f.pct(s.churnProbability)} (${tierLabel(s.tier, f.lang)})` : `${esc(title)}: ${t.notScored}`;
  return { text, blocks };
}

function tierReportLines(r: SegmentReport, f: Formatter, label: string): string {
  const t = texts(f.lang);
  const g = (x: SegmentReport['treated']) => `${f.int(x.n)} (${t.conv} ${x.conversionRate === null ? '—' : f.pct(x.conversionRate)})`;
  const uplift = r.uplift === null ? '—' : `${f.pp(r.uplift)}${r.upliftCi ? ` [${t.ci} ${f.pp(r.upliftCi[0])}, ${f.pp(r.upliftCi[1])}]` : ''}`;
  const parts = [`${t.treated} ${g(r.treated)}`, `${t.holdout} ${g(r.holdout)}`, `${t.uplift} ${uplift}`];
  parts.push(t.revenuePerUser(f.money(r.treated.revenuePerUserMinor ?? 0), f.money(r.holdout.revenuePerUserMinor ?? 0)));
  if (r.coupons.issued > 0) parts.push(t.couponsRedeemed(f.int(r.coupons.redeemed), f.int(r.coupons.issued)));
  return `${label}\n${parts.join(' · ')}`;
}

export function campaignsMessage(r: CampaignReport, days: number, f: Formatter, kind: 'campaigns' | 'uplift'): Message {
  const t = texts(f.lang);
  const title = kind === 'uplift' ? t.upliftTitle(f.int(days)) : t.campaignsTitle(f.int(days));
  if (r.overall.treated.n + r.overall.holdout.n === 0) {
    // Outcomes settle when the conversion window closes: recent outreach exists but is not counted yet.
    const none = r.unsettled > 0 ? t.noSettledCampaigns(f.int(days), f.int(r.unsettled)) : t.noCampaigns(f.int(days));
    return { text: none, blocks: [header(title), section(none)] };
  }
  const blocks: Block[] = [header(title)];
  if (kind === 'uplift' && r.overall.upliftCi) {
    const [lo, hi] = r.overall.upliftCi;
    blocks.push(section(`*${t.upliftVerdict(lo > 0 || hi < 0, lo > 0)}*`));
  }
  blocks.push(...lines(r.tiers.map((x) => tierReportLines(x, f, t.tierLine(tierLabel(x.tier, f.lang))))));
  blocks.push(section(tierReportLines(r.overall, f, `*${t.all}*`)));
  blocks.push(context(t.conversionNote(r.windowDays)));
  const u = r.overall.uplift;
  return { text: `${title}: ${t.uplift} ${u === null ? '—' : f.pp(u)}`, blocks };
}

export type RoiStatus = 'pays' | 'loses' | 'unclear' | 'none';

/**
 * What the net incremental revenue of a group says, respecting its 95% interval: `pays` when
 * the whole interval is above zero, `loses` when below, `unclear` when it spans zero or there
 * is no interval (too few users), `none` when there is nothing to compare (no holdout or no
 * treated outcomes).
 */
export function roiStatus(g: Pick<SegmentReport, 'netIncrementalRevenueMinor' | 'netIncrementalRevenueCi'>): RoiStatus {
  if (g.netIncrementalRevenueMinor === null) return 'none';
  const ci = g.netIncrementalRevenueCi;
  if (!ci) return 'unclear';
  return ci[0] > 0 ? 'pays' : ci[1] < 0 ? 'loses' : 'unclear';
}

function roiVerdict(g: SegmentReport, f: Formatter): string {
  const t = texts(f.lang);
  const status = roiStatus(g);
  const net = g.netIncrementalRevenueMinor;
  if (status === 'none' || net === null) return t.verdict.noComparison;
  const ci = g.netIncrementalRevenueCi;
  if (!ci) return t.verdict.noInterval(f.money(net));
  const roi = g.roi === null ? '' : t.roiSuffix(signedPct(f, g.roi, 0));
  const [lo, hi] = [f.money(ci[0]), f.money(ci[1])];
  return status === 'pays' ? t.verdict.pays(f.money(net), lo, hi, roi) : status === 'loses' ? t.verdict.loses(f.money(net), lo, hi, roi) : t.verdict.unclear(f.money(net), lo, hi);
}

function roiOfferLine(g: SegmentReport, f: Formatter): string {
  const t = texts(f.lang);
  const status = roiStatus(g);
  const name = t.offerName[g.offer] ?? esc(g.offer);
  const colon = f.lang === 'zh' ? '：' : ': ';
  const head = f.lang === 'zh' ? `*${name}*（${t.offerStatus[status]}）` : `*${name}* (${t.offerStatus[status]})`;
  const interval = (ci: [number, number] | null, fmt: (x: number) => string) => (ci ? ` [95% ${fmt(ci[0])} ${t.to} ${fmt(ci[1])}]` : '');
  const conv = (x: number) => nf(LOCALE[f.lang], { maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(x);
  const parts: string[] = [];
  const net = g.netIncrementalRevenueMinor;
  parts.push(`${t.net} ${net === null ? '—' : f.money(net)}${interval(g.netIncrementalRevenueCi, f.money)}`);
  if (g.couponCostMinor > 0 || g.offer === 'coupon') parts.push(`${t.couponCost} ${f.money(g.couponCostMinor)}`);
  if (g.roi !== null) parts.push(`ROI ${signedPct(f, g.roi, 0)}`);
  if (g.incrementalConversions !== null) parts.push(`${t.incrConversions} ${conv(g.incrementalConversions)}${interval(g.incrementalConversionsCi, conv)}`);
  parts.push(t.armSizes(f.int(g.treated.n), f.int(g.holdout.n)));
  return `${head}${colon}${parts.join(' · ')}`;
}

/**
 * "Did the coupons pay off?": a verdict on the net incremental revenue of all outreach that
 * respects its 95% interval, then per offer the net incremental revenue with its interval,
 * coupon cost, ROI and incremental conversions, from the campaign report (settled outcomes
 * only). With nothing settled yet it says when the first window closes.
 */
export function roiMessage(r: CampaignReport, days: number, f: Formatter): Message {
  const t = texts(f.lang);
  const title = t.roiTitle(f.int(days));
  const colon = f.lang === 'zh' ? '：' : ': ';
  const blocks: Block[] = [header(title)];
  if (r.settled === 0) {
    const ls = [r.unsettled === 0 ? t.roiNoOutreach(f.int(days)) : t.roiNothingSettled];
    if (r.nextWindowCloseAt) ls.push(t.roiFirstClose(f.date(new Date(r.nextWindowCloseAt))));
    if (r.unsettledDue) ls.push(t.roiDue(f.int(r.unsettledDue)));
    blocks.push(section(ls.join(' ')));
    return { text: `${title}${colon}${ls.join(' ')}`.replace(/[*`]/g, ''), blocks };
  }
  const verdict = roiVerdict(r.overall, f);
  blocks.push(section(verdict));
  const offerLines = r.offers.map((g) => roiOfferLine(g, f));
  if (r.offers.length > 1) offerLines.push(roiOfferLine({ ...r.overall, offer: 'all' }, f));
  blocks.push(...lines(offerLines));
  const next = r.nextWindowCloseAt ? t.roiNextClose(f.date(new Date(r.nextWindowCloseAt))) : '';
  blocks.push(context(t.roiSettled(f.int(r.settled), f.int(r.unsettled), next)));
  blocks.push(context(t.roiNote(r.windowDays)));
  return { text: `${title}${colon}${verdict.replace(/[*]/g, '')}`, blocks };
}

export function modelMessage(m: ModelCard, f: Formatter): Message {
  const t = texts(f.lang);
  const r = m.rescore;
  if (!r) return plain(t.noModel);
  const c = r.churn;
  const opt = (v: number | null | undefined, digits = 3) => (v === null || v === undefined ? '—' : f.dec(v, digits));
  const blocks: Block[] = [
    header(t.modelTitle),
    ...fields([
      [t.model, r.fallback ? t.rfmFallback(esc(r.fallback)) : t.logistic],
      [t.aucLabel, opt(c?.auc)],
      [t.baselineAuc, opt(c?.baselineAuc)],
      [t.prAuc, opt(c?.prAuc)],
      [t.brier, opt(c?.brier)],
      [t.trainedOn, c?.n != null ? `${f.int(c.n)} (${c.positives != null ? f.int(c.positives) : '—'})` : '—'],
      [t.scored, r.scored !== null ? f.int(r.scored) : '—'],
      [t.rescoredAt, f.date(r.finishedAt ?? r.startedAt)],
    ]),
  ];
  const b = m.backtest;
  if (!b) blocks.push(context(t.noBacktest));
  else {
    const parts = [`*${t.backtest}* ${f.date(b.asOf, false)}: AUC ${opt(b.churn?.auc)} (${t.baselineAuc} ${opt(b.churn?.baselineAuc)})`];
    const rec = b.recommend as { k?: number; precision?: number; ndcg?: number; popularity?: { precision?: number; ndcg?: number } } | null;
    if (rec && typeof rec.k === 'number') {
      parts.push(t.recommendQuality(f.int(rec.k), opt(rec.precision), opt(rec.ndcg), opt(rec.popularity?.precision), opt(rec.popularity?.ndcg)));
    }
    blocks.push(section(parts.join('\n')));
  }
  return { text: `${t.modelTitle}: AUC ${opt(c?.auc)}`, blocks };
}

/** What a refused admin intent would have done, for the refusal message. */
export function adminRefusedMessage(intent: Intent, lang: Lang): Message {
  const t = texts(lang);
  return plain(t.adminRefused(t.adminWhat[intent.kind] ?? intent.kind));
}

