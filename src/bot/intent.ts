/**
 * The bot's intent parser: `/retain` subcommands and plain questions (app mentions, DMs) in
 * English or Chinese, mapped to one typed {@link Intent}. Deterministic rules, no ML, no I/O:
 * the same text always gives the same answer, and anything outside the rules is refused
 * rather than guessed, because some intents act (rescore, pause outreach) and every answer
 * may show personal data.
 *
 * Parsing runs on the event loop that also serves webhooks, unsubscribes and `/readyz`, and
 * its input is whatever anyone types into Slack. So the text is cut to {@link MAX_TEXT}
 * characters before anything looks at it, and every repeat in every pattern here is bounded
 * (`{1,12}`, never `+` or `*`): an unanchored pattern with an unbounded repeat backtracks over
 * the rest of the text at each position, which made a 20k-character DM of Chinese numerals
 * block the loop for 3.8 s. Keep it that way when adding a pattern (the hostile-text tests in
 * test/unit/bot/intent.test.ts time 50k-character inputs).
 *
 * Error messages are plain text and may echo what was typed: blocks.ts escapes them for Slack.
 *
 * Access control is not decided here: admin intents parse like the others, and the bot
 * checks who asked before acting.
 */
import type { RiskTier } from '../domain/risk.js';
import { RFM_SEGMENTS, RFM_SEGMENT_LABELS, type RfmSegment } from '../ml/rfm.js';

export type Lang = 'en' | 'zh';

/** A user as the asker named them; the bot resolves it against the store. Emails are lower-cased. */
export interface UserRef {
  readonly kind: 'id' | 'email';
  readonly value: string;
}

export type Intent =
  | { readonly kind: 'help' }
  | { readonly kind: 'overview' }
  | { readonly kind: 'segments' }
  | { readonly kind: 'segment'; readonly segment: RfmSegment; readonly n: number }
  | { readonly kind: 'at_risk'; readonly n: number; readonly segment?: RfmSegment; readonly tier?: RiskTier }
  | { readonly kind: 'count'; readonly tier?: RiskTier; readonly segment?: RfmSegment }
  | { readonly kind: 'user'; readonly ref: UserRef }
  | { readonly kind: 'why'; readonly ref: UserRef }
  | { readonly kind: 'recommend'; readonly ref: UserRef }
  | { readonly kind: 'campaigns'; readonly days: number }
  | { readonly kind: 'uplift' }
  /** "Did the coupons pay off?": net incremental revenue, cost and ROI over the last `days` days. */
  | { readonly kind: 'roi'; readonly days: number }
  | { readonly kind: 'model' }
  /** Segment sizes now beside the previous run: largest, grew most, shrank most. */
  | { readonly kind: 'segment_change' }
  /** The high-risk count over the last `runs` rescore runs, from their stored aggregates. */
  | { readonly kind: 'risk_trend'; readonly runs: number }
  /** Two segments side by side: users, high risk, mean churn, value at risk. */
  | { readonly kind: 'compare_segments'; readonly a: RfmSegment; readonly b: RfmSegment }
  | { readonly kind: 'rescore' }
  | { readonly kind: 'pause_outreach' }
  | { readonly kind: 'resume_outreach' };

export type IntentKind = Intent['kind'];

/** Intents that change something; the bot lets only admins run them. */
export const ADMIN_INTENTS: readonly IntentKind[] = ['rescore', 'pause_outreach', 'resume_outreach'];

export type CommandResult =
  | { readonly ok: true; readonly intent: Intent; readonly lang: Lang }
  | { readonly ok: false; readonly lang: Lang; readonly error: string };

export type QuestionResult =
  | { readonly ok: true; readonly intent: Intent; readonly lang: Lang }
  /** Not one of the things the bot answers: reply with help and {@link EXAMPLES}. */
  | { readonly ok: false; readonly lang: Lang; readonly reason: 'not_understood' }
  /** Understood, but a value is out of bounds (e.g. "top 500"): reply with `error`. */
  | { readonly ok: false; readonly lang: Lang; readonly reason: 'invalid'; readonly error: string };

/** Rows listed when the asker gives no number. */
export const DEFAULT_N = 10;
export const MAX_N = 100;
/** Campaign window when the asker gives none. */
export const DEFAULT_DAYS = 30;
/**
 * Period of the ROI answer when the asker gives none. Longer than {@link DEFAULT_DAYS}: only
 * outcomes whose conversion window has closed count, so a month would leave two weeks of them.
 */
export const ROI_DAYS = 90;
export const MAX_DAYS = 365;
/** Runs a trend shows when the asker gives no number, and at most. */
export const DEFAULT_RUNS = 10;
export const MAX_RUNS = 30;
/** Characters of a message or command the parser reads; the rest is ignored. No question needs more. */
export const MAX_TEXT = 500;
/** Characters of a typed token echoed back in an error message. */
const MAX_ECHO = 40;

/** The first {@link MAX_TEXT} characters, never ending in half a surrogate pair. */
function cut(text: string): string {
  if (text.length <= MAX_TEXT) return text;
  const head = text.slice(0, MAX_TEXT);
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}

/** A typed token as echoed in an error: at most {@link MAX_ECHO} characters. */
function echo(token: string): string {
  const chars = Array.from(token);
  return chars.length > MAX_ECHO ? `${chars.slice(0, MAX_ECHO).join('')}…` : token;
}

/** `s` without the characters of `set` at its end: a loop, not a `[…]+$` that rescans from every position. */
function trimEndOf(s: string, set: string): string {
  let end = s.length;
  while (end > 0 && set.includes(s[end - 1] as string)) end--;
  return s.slice(0, end);
}

/** `s` without the characters of `set` at its start. */
function trimStartOf(s: string, set: string): string {
  let start = 0;
  while (start < s.length && set.includes(s[start] as string)) start++;
  return s.slice(start);
}

/** Runs of characters matched by `sep` (one character each) collapsed to one space, and trimmed. */
function collapse(s: string, sep: RegExp): string {
  return s
    .split(sep)
    .filter((w) => w.length > 0)
    .join(' ');
}

/** Phrasings for help messages; every one parses with {@link parseQuestion} (the tests check). */
export const EXAMPLES: { readonly en: readonly string[]; readonly zh: readonly string[] } = {
  en: [
    'how many high risk users in Champions?',
    'show me the top 20 at-risk users in the loyal segment',
    'why is user 42 at risk?',
    'what should we recommend to alice@example.com?',
    "how did last week's coupons do?",
    'did outreach beat the holdout?',
    'did the coupons pay off?',
    'how good is the model?',
    'segment sizes',
    'which segment grew most since the last run?',
    'how has the high-risk count changed over the last 5 runs?',
    'compare champions and loyal',
  ],
  zh: [
    '高风险用户有多少',
    '列出核心用户中流失风险最高的 20 个用户',
    '为什么用户 42 有流失风险',
    '推荐给 alice@example.com 什么课',
    '上周的优惠券效果怎么样',
    '触达组和对照组比提升多少',
    '发券划算吗',
    '模型效果怎么样',
    '各分群有多少人',
    '上次评分以来哪个分群增长最多',
    '最近 5 次评分高风险人数趋势',
    '核心用户和忠诚用户对比',
  ],
};

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/u;

/** 'zh' when the text has any CJK character (ideograph, kana, Hangul, CJK or full-width punctuation), else 'en'. */
export function detectLang(text: string): Lang {
  return CJK.test(text) ? 'zh' : 'en';
}

/**
 * Undoes Slack's message formatting (`<mailto:a@b.c|a@b.c>`, `<https://…|label>`, `<@U123>`
 * mentions, `&amp;` escapes), folds full-width forms to ASCII (NFKC: `４２` → `42`, `？` → `?`),
 * unifies apostrophes and collapses whitespace.
 */
export function cleanText(text: string): string {
  return collapse(
    cut(text)
      .replace(/<mailto:([^|>]{1,254})(?:\|[^>]{0,254})?>/g, '$1')
      .replace(/<(?:https?:[^|>]{1,400})\|([^>]{0,400})>/g, '$1')
      .replace(/<(https?:[^>]{1,400})>/g, '$1')
      .replace(/<[@#!][^>]{0,100}>/g, ' ')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&')
      .normalize('NFKC')
      .replace(/[\u2018\u2019\u02bc`´]/g, "'")
      .replace(/[\u201c\u201d]/g, '"'),
    /\s/u,
  );
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The candidate closest to `input`, if it is close enough to be a plausible typo. */
function closest<T>(input: string, candidates: readonly (readonly [string, T])[]): T | undefined {
  let best: T | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const [name, value] of candidates) {
    const d = levenshtein(input, name);
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(input.length, name.length) / 3)));
    if (d <= limit && d < bestScore) {
      best = value;
      bestScore = d;
    }
  }
  return best;
}

const CN_DIGITS: Readonly<Record<string, number>> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const CN_UNITS: Readonly<Record<string, number>> = { 十: 10, 百: 100, 千: 1000 };
/** Up to 12 characters: 九千九百九十九 is 7, and more is never a count or a number of days. */
const CN_NUMBER = '[零〇一二两三四五六七八九十百千]{1,12}';
/** Digits of a number in a question: 12 is far beyond any bound, and keeps a long run from backtracking. */
const DIGITS = '\\d{1,12}';

/** Parses a Chinese numeral up to 9999 (`二十`, `一百零五`, `两`), or undefined. */
function parseCnNumber(s: string): number | undefined {
  let total = 0;
  let digit: number | undefined;
  for (const ch of s) {
    if (ch in CN_DIGITS) {
      digit = CN_DIGITS[ch] as number;
    } else if (ch in CN_UNITS) {
      total += (digit ?? 1) * (CN_UNITS[ch] as number);
      digit = undefined;
    } else {
      return undefined;
    }
  }
  return total + (digit ?? 0);
}

const EN_NUMBERS: Readonly<Record<string, number>> = {
  a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, fifteen: 15, twenty: 20, thirty: 30, fifty: 50, hundred: 100,
};
const EN_NUMBER = `${DIGITS}|${Object.keys(EN_NUMBERS).join('|')}`;

function toNumber(s: string): number {
  if (/^\d{1,12}$/.test(s)) return Number(s);
  return EN_NUMBERS[s] ?? parseCnNumber(s) ?? Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// Segments and tiers
// ---------------------------------------------------------------------------------------------

interface SegmentAliases {
  readonly en: readonly string[];
  readonly zh: readonly string[];
  /**
   * Aliases that are also everyday words ("new users", "at risk", 流失风险, 核心): in questions
   * they count as a segment only next to "segment"/"in the …"/"分群". Commands accept them as is.
   */
  readonly ambiguous?: readonly string[];
}

/** Variants beyond the key and the two labels; matched after {@link normalizeName}. */
const SEGMENT_ALIASES: Readonly<Record<RfmSegment, SegmentAliases>> = {
  champions: { en: ['champion', 'champion users', 'champion customers'], zh: ['核心', '冠军', '冠军用户'], ambiguous: ['核心', '冠军'] },
  loyal: { en: ['loyal users', 'loyal customers'], zh: ['忠诚', '忠实用户'] },
  potential_loyalists: { en: ['potential loyalist', 'potential loyal'], zh: ['潜在忠诚'] },
  new: { en: ['new users', 'new customers', 'newcomers'], zh: ['新客', '新客户'], ambiguous: ['new', 'new users', 'new customers'] },
  promising: { en: ['promising users'], zh: ['有潜力', '潜力用户'] },
  need_attention: { en: ['needs attention', 'needing attention'], zh: ['需关注', '需要关注用户'] },
  about_to_sleep: { en: ['about to sleep users'], zh: ['即将沉睡用户', '快要沉睡'] },
  at_risk: { en: [], zh: ['流失风险用户'], ambiguous: ['at risk', '流失风险', '流失风险用户'] },
  cant_lose_them: { en: ['cannot lose them', 'can not lose them', 'cant lose', "can't lose"], zh: ['不能失去用户', '不能流失', '不可失去'] },
  hibernating: { en: ['hibernate', 'dormant'], zh: ['沉睡', '休眠用户', '休眠'] },
  lost: { en: ['lost users', 'lost customers'], zh: ['已流失用户', '流失用户'], ambiguous: ['lost', 'lost users', 'lost customers'] },
};

/** Lower-case, apostrophes dropped, `_`/`-`/runs of spaces → one space, quotes and trailing punctuation removed. */
function normalizeName(s: string): string {
  return trimEndOf(collapse(s.toLowerCase().replace(/["'“”‘’]/g, ''), /[_\-\s]/u), '?？.。!！,，').trim();
}

interface SegmentName {
  readonly name: string;
  readonly segment: RfmSegment;
  readonly ambiguous: boolean;
}

/** Every accepted name of every segment, normalized, longest first (so 即将沉睡 wins over 沉睡). */
const SEGMENT_NAMES: readonly SegmentName[] = (() => {
  const names = new Map<string, SegmentName>();
  for (const segment of RFM_SEGMENTS) {
    const a = SEGMENT_ALIASES[segment];
    const ambiguous = new Set((a.ambiguous ?? []).map(normalizeName));
    for (const raw of [segment, RFM_SEGMENT_LABELS[segment].en, RFM_SEGMENT_LABELS[segment].zh, ...a.en, ...a.zh, ...(a.ambiguous ?? [])]) {
      const name = normalizeName(raw);
      const existing = names.get(name);
      if (existing && existing.segment !== segment) throw new Error(`segment alias ${JSON.stringify(name)} names both ${existing.segment} and ${segment}`);
      names.set(name, { name, segment, ambiguous: ambiguous.has(name) });
    }
  }
  return [...names.values()].sort((x, y) => y.name.length - x.name.length);
})();

/**
 * Segment names that name a segment wherever they stand (not the everyday-word aliases such as
 * "new", "at risk", 流失风险, 核心), normalized, longest first: the classifier replaces them with
 * one placeholder so it learns "a segment was named" rather than which one.
 */
export const UNAMBIGUOUS_SEGMENT_NAMES: readonly string[] = SEGMENT_NAMES.filter((s) => !s.ambiguous && s.name.length >= 2).map((s) => s.name);

/**
 * Resolves a segment name as typed in a command: the snake_case key, the English or Chinese
 * label, or a common variant, case- and punctuation-insensitively (`Champions`, `cant_lose_them`,
 * `Can't lose them`, `核心用户`, `at-risk`).
 */
export function matchSegment(name: string): RfmSegment | undefined {
  const n = normalizeName(cleanText(name)).slice(0, 100);
  const hit = SEGMENT_NAMES.find((s) => s.name === n);
  if (hit) return hit.segment;
  // "champions segment", "核心用户分群"
  const stripped = n.replace(/\s?(segment|group|分群|人群|群体|群)$/u, '');
  return stripped !== n ? SEGMENT_NAMES.find((s) => s.name === stripped)?.segment : undefined;
}

function segmentDisplay(segment: RfmSegment, lang: Lang): string {
  return lang === 'zh' ? `${RFM_SEGMENT_LABELS[segment].zh}（${segment}）` : segment;
}

function unknownSegmentError(typed: string, lang: Lang): string {
  const n = normalizeName(typed).slice(0, 100);
  const input = echo(typed);
  const guess =
    closest(
      n,
      SEGMENT_NAMES.map((s) => [s.name, s.segment] as const),
    ) ??
    // Short Chinese names are a character or two off ("冠军" for 冠军用户): try containment.
    (n.length >= 2 ? SEGMENT_NAMES.find((s) => s.name.length >= 2 && (s.name.includes(n) || n.includes(s.name)))?.segment : undefined);
  if (lang === 'zh') {
    return guess
      ? `未知分群“${input}”，你是不是要找 ${segmentDisplay(guess, lang)}？`
      : `未知分群“${input}”。可用分群：${RFM_SEGMENTS.map((s) => RFM_SEGMENT_LABELS[s].zh).join('、')}`;
  }
  return guess
    ? `unknown segment "${input}" — did you mean ${guess}?`
    : `unknown segment "${input}"; segments are: ${RFM_SEGMENTS.join(', ')}`;
}

const TIER_WORDS: Readonly<Record<string, RiskTier>> = {
  high: 'high', 'high risk': 'high', 高: 'high', 高风险: 'high', 高危: 'high',
  medium: 'medium', 'medium risk': 'medium', mid: 'medium', moderate: 'medium', 中: 'medium', 中风险: 'medium', 中等风险: 'medium',
  low: 'low', 'low risk': 'low', 低: 'low', 低风险: 'low', 低危: 'low',
};

// ---------------------------------------------------------------------------------------------
// User references
// ---------------------------------------------------------------------------------------------

/** An address as RFC 5321 bounds it: a local part of up to 64 characters, labels of up to 63, at most 8 dots. */
const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** `alice@example.com` → email (lower-cased); `42`, `#42`, `u_123` → id; anything else undefined. */
export function parseUserRef(token: string): UserRef | undefined {
  const t = trimEndOf(trimStartOf(cleanText(token), `<(["'`), `>)]"',.?!`);
  const email = EMAIL.exec(t);
  if (email && email[0] === t) return { kind: 'email', value: t.toLowerCase() };
  const id = t.replace(/^#/, '');
  return ID.test(id) && !id.includes('@') ? { kind: 'id', value: id } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

const MSG = {
  en: {
    unknownCommand: (c: string, guess?: string) =>
      guess ? `unknown command "${echo(c)}" — did you mean ${guess}? Try /retain help` : `unknown command "${echo(c)}"; try /retain help`,
    noArgs: (c: string) => `${c} takes no arguments`,
    usage: (u: string) => `usage: /retain ${u}`,
    nBound: (v: string) => `the number of users must be a whole number from 1 to ${MAX_N}, got ${echo(v)}`,
    daysBound: (v: string) => `the number of days must be a whole number from 1 to ${MAX_DAYS}, got ${echo(v)}`,
    badRef: (v: string) => `"${echo(v)}" is neither a user id nor an email address`,
    twoNumbers: 'give at most one number',
    runsBound: (v: string) => `the number of runs must be a whole number from 2 to ${MAX_RUNS}, got ${echo(v)}`,
    twoSegments: 'name two segments to compare, e.g. "compare champions and loyal"',
  },
  zh: {
    unknownCommand: (c: string, guess?: string) =>
      guess ? `未知命令“${echo(c)}”，你是不是要用 ${guess}？试试 /retain help` : `未知命令“${echo(c)}”，试试 /retain help`,
    noArgs: (c: string) => `${c} 不需要参数`,
    usage: (u: string) => `用法：/retain ${u}`,
    nBound: (v: string) => `用户数量必须是 1 到 ${MAX_N} 之间的整数，收到的是 ${echo(v)}`,
    daysBound: (v: string) => `天数必须是 1 到 ${MAX_DAYS} 之间的整数，收到的是 ${echo(v)}`,
    badRef: (v: string) => `“${echo(v)}”既不是用户 ID 也不是邮箱地址`,
    twoNumbers: '最多只能给一个数字',
    runsBound: (v: string) => `评分次数必须是 2 到 ${MAX_RUNS} 之间的整数，收到的是 ${echo(v)}`,
    twoSegments: '请给出两个要对比的分群，例如“核心用户和忠诚用户对比”',
  },
} as const;

class ParseError extends Error {}

function checkN(value: number, raw: string, lang: Lang): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_N) throw new ParseError(MSG[lang].nBound(raw));
  return value;
}

function checkRuns(value: number, raw: string, lang: Lang): number {
  if (!Number.isInteger(value) || value < 2 || value > MAX_RUNS) throw new ParseError(MSG[lang].runsBound(raw));
  return value;
}

function checkDays(value: number, raw: string, lang: Lang): number {
  const shown = String(value) === raw ? raw : `${value} (${raw})`;
  if (!Number.isInteger(value) || value < 1 || value > MAX_DAYS) throw new ParseError(MSG[lang].daysBound(shown));
  return value;
}

// ---------------------------------------------------------------------------------------------
// Slash commands
// ---------------------------------------------------------------------------------------------

type Sub =
  | 'help' | 'overview' | 'segments' | 'segment' | 'at-risk' | 'user' | 'recommend'
  | 'campaigns' | 'uplift' | 'roi' | 'model' | 'changes' | 'trend' | 'compare' | 'rescore' | 'pause' | 'resume';

const SUB_ALIASES: Readonly<Record<string, Sub>> = {
  help: 'help', '?': 'help', 帮助: 'help',
  overview: 'overview', summary: 'overview', 概览: 'overview', 总览: 'overview',
  segments: 'segments', 分群列表: 'segments',
  segment: 'segment', 分群: 'segment',
  'at-risk': 'at-risk', at_risk: 'at-risk', atrisk: 'at-risk', risk: 'at-risk', 风险: 'at-risk', 风险用户: 'at-risk',
  user: 'user', 用户: 'user',
  recommend: 'recommend', recommendations: 'recommend', 推荐: 'recommend',
  campaigns: 'campaigns', campaign: 'campaigns', 活动: 'campaigns',
  uplift: 'uplift', 提升: 'uplift',
  roi: 'roi', payoff: 'roi', 'pay-off': 'roi', 回报: 'roi', 回报率: 'roi',
  model: 'model', 模型: 'model',
  changes: 'changes', change: 'changes', 变化: 'changes', 分群变化: 'changes',
  trend: 'trend', 趋势: 'trend',
  compare: 'compare', 对比: 'compare', 比较: 'compare',
  rescore: 'rescore', 重新评分: 'rescore',
  pause: 'pause', 暂停: 'pause',
  resume: 'resume', 恢复: 'resume',
};

const SUB_NAMES: readonly Sub[] = [
  'help', 'overview', 'segments', 'segment', 'at-risk', 'user', 'recommend',
  'campaigns', 'uplift', 'roi', 'model', 'changes', 'trend', 'compare', 'rescore', 'pause', 'resume',
];

const SUB_USAGE: Readonly<Record<Sub, string>> = {
  help: 'help', overview: 'overview', segments: 'segments', segment: 'segment <name> [n]',
  'at-risk': 'at-risk [n] [segment]', user: 'user <id|email>', recommend: 'recommend <id|email>',
  campaigns: 'campaigns [days]', uplift: 'uplift', roi: 'roi [days]', model: 'model', changes: 'changes', trend: 'trend [runs]',
  compare: 'compare <segment> <segment>', rescore: 'rescore',
  pause: 'pause outreach', resume: 'resume outreach',
};

const OUTREACH_WORDS = new Set(['outreach', '外呼', '触达']);

/** Splits `分群核心用户` → [`分群`, `核心用户`] and `暂停外呼` → [`暂停`, `外呼`] (no space is usual in Chinese). */
function splitHead(tokens: string[]): string[] {
  const head = tokens[0];
  if (head === undefined || head.toLowerCase() in SUB_ALIASES || !CJK.test(head)) return tokens;
  const alias = Object.keys(SUB_ALIASES)
    .filter((a) => CJK.test(a) && head.startsWith(a))
    .sort((a, b) => b.length - a.length)[0];
  return alias ? [alias, head.slice(alias.length), ...tokens.slice(1)] : tokens;
}

/** Removes the one integer token (with an optional `d`/`天`/`days` suffix) from `args`, if any. */
function takeNumber(args: string[], lang: Lang, unit: RegExp = /^$/): { value?: number; raw?: string; rest: string[] } {
  const isNum = (a: string) => new RegExp(`^-?${DIGITS}(?:\\.${DIGITS})?(?:${unit.source})?$`).test(a);
  const nums = args.filter(isNum);
  if (nums.length > 1) throw new ParseError(MSG[lang].twoNumbers);
  const raw = nums[0];
  if (raw === undefined) return { rest: args };
  return { value: Number(raw.replace(/[^\d.-]/g, '')), raw, rest: args.filter((a) => a !== raw) };
}

/**
 * Parses the text of a `/retain` slash command (with or without the leading `/retain`):
 * `help`, `overview`, `segments`, `segment <name> [n]`, `at-risk [n] [segment|tier]`,
 * `user <id|email>`, `recommend <id|email>`, `campaigns [days]`, `uplift`, `roi [days]`, `model`, `changes`, `trend [runs]`, `compare <segment> <segment>`, `rescore`,
 * `pause outreach`, `resume outreach`; Chinese subcommand names work too (`分群 核心用户 20`).
 * Empty text is `help`. Errors say what was wrong and, for typos, what was probably meant.
 */
export function parseCommand(text: string): CommandResult {
  const head = cut(text);
  const lang = detectLang(head);
  try {
    return { ok: true, intent: commandIntent(cleanText(head), lang), lang };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, lang, error: err.message };
    throw err;
  }
}

function commandIntent(text: string, lang: Lang): Intent {
  const m = MSG[lang];
  const tokens = splitHead(text.replace(/^\/retain\b\s?/i, '').split(' ').filter((t) => t.length > 0));
  const [head, ...args] = tokens;
  if (head === undefined) return { kind: 'help' };
  const sub = SUB_ALIASES[head.toLowerCase()];
  if (sub === undefined) {
    const guess = closest(
      head.toLowerCase(),
      SUB_NAMES.map((s) => [s, s] as const),
    );
    throw new ParseError(m.unknownCommand(head, guess === undefined ? undefined : SUB_USAGE[guess]));
  }
  const noArgs = (intent: Intent): Intent => {
    if (args.length > 0) throw new ParseError(`${m.noArgs(sub)}. ${m.usage(SUB_USAGE[sub])}`);
    return intent;
  };
  const ref = (): UserRef => {
    if (args.length !== 1) throw new ParseError(m.usage(SUB_USAGE[sub]));
    const r = parseUserRef(args[0] as string);
    if (!r) throw new ParseError(m.badRef(args[0] as string));
    return r;
  };

  switch (sub) {
    case 'help':
      return noArgs({ kind: 'help' });
    case 'overview':
      return noArgs({ kind: 'overview' });
    case 'segments':
      return noArgs({ kind: 'segments' });
    case 'segment': {
      if (args.length === 0) return { kind: 'segments' };
      const { value, raw, rest } = takeNumber(args, lang);
      const name = rest.join(' ');
      if (name.length === 0) throw new ParseError(m.usage(SUB_USAGE.segment));
      const segment = matchSegment(name);
      if (!segment) throw new ParseError(unknownSegmentError(name, lang));
      return { kind: 'segment', segment, n: value === undefined ? DEFAULT_N : checkN(value, raw as string, lang) };
    }
    case 'at-risk': {
      const { value, raw, rest } = takeNumber(args, lang);
      const n = value === undefined ? DEFAULT_N : checkN(value, raw as string, lang);
      const name = rest.join(' ');
      if (name.length === 0) return { kind: 'at_risk', n };
      const tier = TIER_WORDS[normalizeName(name)];
      if (tier) return { kind: 'at_risk', n, tier };
      const segment = matchSegment(name);
      if (!segment) throw new ParseError(unknownSegmentError(name, lang));
      return { kind: 'at_risk', n, segment };
    }
    case 'user':
      return { kind: 'user', ref: ref() };
    case 'recommend':
      return { kind: 'recommend', ref: ref() };
    case 'campaigns': {
      const { value, raw, rest } = takeNumber(args, lang, /d|天|days?/);
      if (rest.length > 0) throw new ParseError(m.usage(SUB_USAGE.campaigns));
      return { kind: 'campaigns', days: value === undefined ? DEFAULT_DAYS : checkDays(value, raw as string, lang) };
    }
    case 'uplift':
      return noArgs({ kind: 'uplift' });
    case 'roi': {
      const { value, raw, rest } = takeNumber(args, lang, /d|天|days?/);
      if (rest.length > 0) throw new ParseError(m.usage(SUB_USAGE.roi));
      return { kind: 'roi', days: value === undefined ? ROI_DAYS : checkDays(value, raw as string, lang) };
    }
    case 'model':
      return noArgs({ kind: 'model' });
    case 'changes':
      return noArgs({ kind: 'segment_change' });
    case 'trend': {
      const { value, raw, rest } = takeNumber(args, lang);
      if (rest.length > 0) throw new ParseError(m.usage(SUB_USAGE.trend));
      return { kind: 'risk_trend', runs: value === undefined ? DEFAULT_RUNS : checkRuns(value, raw as string, lang) };
    }
    case 'compare': {
      // Segment names may have spaces ("cant lose them"): read the two from the whole argument text.
      const two = twoSegments(args.join(' ').toLowerCase());
      if (!two) throw new ParseError(`${MSG[lang].twoSegments}. ${m.usage(SUB_USAGE.compare)}`);
      return { kind: 'compare_segments', a: two[0], b: two[1] };
    }
    case 'rescore':
      return noArgs({ kind: 'rescore' });
    case 'pause':
    case 'resume': {
      // `pause` alone is accepted: outreach is the only thing that can be paused.
      if (args.length > 1 || (args.length === 1 && !OUTREACH_WORDS.has((args[0] as string).toLowerCase()))) {
        throw new ParseError(m.usage(SUB_USAGE[sub]));
      }
      return { kind: sub === 'pause' ? 'pause_outreach' : 'resume_outreach' };
    }
    default:
      return assertUnreachable(sub);
  }
}

function assertUnreachable(x: never): never {
  throw new Error(`unhandled case ${String(x)}`);
}

// ---------------------------------------------------------------------------------------------
// Plain questions
// ---------------------------------------------------------------------------------------------

/** Requests to change or take data out: never served from chat, whatever else the text says. */
const DESTRUCTIVE =
  /\b(delete|remove|drop|truncate|erase|wipe|purge|destroy|deactivate|ban|export|dump|download)\b|删除|删掉|清空|清除|移除|销毁|导出|下载|封禁|注销/;
/**
 * "Since the last rescore", "上次评分以来": a reference to a past run, not an order to rescore.
 * Removed before the admin patterns look at a question.
 */
function withoutRunReferences(t: string): string {
  return t
    .replace(/\b(since|after|before|in|from|of|at) (the )?(last|previous|latest|prior) (re-?scor\w{0,3}|scoring|run)\b/g, ' ')
    .replace(/(上次|上一次|最近一次|前一次)(重新)?(评分|打分)/g, ' ');
}

/** Requests to act on users (send a coupon…): the bot reports, the outreach pipeline acts. "Give me …" asks for information. */
const ACTION =
  /\b(send|give(?! (me|us)\b)|grant|issue|refund|charge|notify)\b|\bemail (them|him|her|everyone|all|users?|customers?)\b|发送|发给|发放|群发|退款|扣款|发(一|个|张|些|点|几){0,2}(优惠券|券|邮件|短信|消息)|打电话/;

const OUTREACH_NOUN_EN = '(outreach|campaigns?|coupons?|e-?mails?|sending|messages?|mailings?|promos?|promotions?)';
const OUTREACH_NOUN_ZH = '(外呼|触达|外联|发送|推送|营销|优惠券|发券|邮件|短信|活动)';
/** Characters allowed between a verb and its object ("pause all the coupon emails"). */
const GAP = '.{0,80}';
const PAUSE = new RegExp(
  `^(pause|stop)$|\\b(pause|stop|halt|suspend|freeze|disable)\\b${GAP}\\b${OUTREACH_NOUN_EN}\\b|(暂停|停止|停掉|先停|关闭|冻结)${GAP}${OUTREACH_NOUN_ZH}|^暂停$`,
);
const RESUME = new RegExp(
  `^(resume|unpause)$|\\b(resume|restart|unpause|re-?enable|continue|turn back on|start again)\\b${GAP}\\b${OUTREACH_NOUN_EN}\\b|(恢复|继续|重新开启|重新开始|重启|开启)${GAP}${OUTREACH_NOUN_ZH}|^恢复$`,
);
const RESCORE = new RegExp(
  `\\bre-?scor(e|ing)\\b|\\b(recompute|recalculate|refresh|rerun|re-run|update)\\b${GAP}\\b(scores?|risk|predictions?)\\b|重新评分|重新打分|重新计算|重算|刷新(评分|分数|风险)|重跑`,
);

/**
 * Admin intents act, so in free text they need plain imperative wording: "don't pause
 * outreach" and "what happens if we pause outreach?" are refused, "pause outreach" and
 * "can you pause outreach?" are not.
 */
const NOT_AN_ORDER =
  /\b(don'?t|do not|never|not|if|what|how|why|when|whether|should|would|does|did|is|are|was|were)\b|不要|别|不用|如果|是否|会不会|要不要|怎么|什么|为什么|为何/;

const WHY = /\bwhy\b|\bexplain\b|\breasons?\b|\bhow come\b|\bwhat makes\b|为什么|为何|原因|解释|怎么会/;
const RECOMMEND = /\brecommend|\bsuggest|\bnext best\b|\bwhat (courses?|items?|products?|should)\b|\boffer\b|推荐|建议|什么课|哪些课|适合/;
const UPLIFT = /\buplift\b|\bhold[ -]?out\b|\bincremental\b|\blift\b|\bcontrol group\b|\bcausal\b|提升|增量|对照组|留出组/;
const MODEL =
  /\bmodel\b|\bauc\b|\baccuracy\b|\baccurate\b|\bprecision\b|\brecall\b|\bcalibrat|\bbrier\b|\bpredictions?\b|模型|准确率|准确度|精度|预测(得)?(准|效果)/;
const CAMPAIGN =
  /\bcampaigns?\b|\bcoupons?\b|\boutreach\b|\be[ -]?mails?\b|\bpromos?\b|\bpromotions?\b|\bdiscounts?\b|\bvouchers?\b|活动|优惠券|券|营销|外呼|触达|邮件|推送|短信/;
/**
 * "Did it pay off?": money words that name the ROI answer on their own (ROI, return on
 * investment, net or incremental revenue, 投入产出, 回报率, 净增收入) …
 */
const PAYOFF_ALONE =
  /\broi\b|\breturns? on investment\b|\bnet (incremental )?(revenue|sales)\b|\bincremental (revenue|sales|money)\b|投入产出|投产比|回报率|净增收入|增量收入|净收益|净收入/;
/**
 * … and words that do only next to an outreach noun ({@link CAMPAIGN}, offers, 发券): "is the
 * model worth it?" is about the model, "which users are the most profitable?" about users.
 */
const PAYOFF =
  /\breturns? on\b|\bpa(y|ys|id|ying) (off|back|for (itself|themselves))\b|\bworth (it|the (money|cost|spend|discounts?|effort|investment)|sending|giving|running|doing|keeping)\b|\bworthwhile\b|\bcost[- ]effective\b|\bprofit(s|able|ability)?\b|\b(lose|loses|losing|lost) money\b|\bbreak(s|ing)? even\b|\bwhat did .{1,80} (earn|make|bring in)\b|\bhow much (money |revenue )?did .{1,80} (earn|make|bring in|generate)\b|\b(earn|earned|make|made|making|bring|brought|generate|generated) (us )?(any |some |more )?(money|revenue|profit)\b|划算|划不划算|值不值|值得|不值|花得值|赚|亏|回报|回本|收益|成本效益|性价比/;
const OFFER_NOUN = /\boffers?\b|发券/;
/** A question, not an order: lets "发券赚了吗" through the {@link ACTION} refusal that "给用户发券" gets. */
const QUESTION =
  /\?|\b(did|do|does|is|are|was|were|would|will|has|have|what|how|which)\b|吗|么|呢|是否|有没有|值不值|划不划算|赚不赚|亏不亏|多少/;

function isPayoffQuestion(t: string): boolean {
  return PAYOFF_ALONE.test(t) || (PAYOFF.test(t) && (CAMPAIGN.test(t) || OFFER_NOUN.test(t)));
}

const SEGMENTS =
  /\bsegments\b|\b(each|every|per|by|all) segments?\b|\bsegment (sizes?|breakdown|distribution|counts?)\b|各个?分群|每个分群|所有分群|哪些分群|分群(情况|分布|大小|规模|列表|统计)|用户分群/;
const COUNT = /\bhow many\b|\bnumber of\b|\bcount\b|\bhow much\b|多少|几个|几位|几人|数量|人数|总数|有几/;
const RISK =
  /\bat risk\b|\brisky\b|\briskiest\b|\b(high|higher|highest|medium|moderate|low) (churn )?risk\b|\bchurn risk\b|\b(likely|about|going) to (churn|leave|lapse)\b|\b(might|could|will) (churn|leave|lapse)\b|\bchurning\b|风险|高危|可能流失|会流失|要流失|即将流失|快流失/;
const LIST =
  /\b(show|list|who|which|top|give|display|get|find|see|view|rank|ranked|pull)\b|列出|显示|看看|看下|看一下|给我|名单|列表|哪些|是谁|谁|前\s?\d|前[一二两三四五六七八九十百]|排名|最高/;
const OVERVIEW =
  /\boverview\b|\bsummary\b|\bsummari[sz]e\b|\bdashboard\b|\bstatus\b|\bhow are we doing\b|\bbig picture\b|\bkpis?\b|概览|总览|概况|整体|总体|汇总|大盘/;
/** The risk histogram is part of the overview. */
const RISK_DISTRIBUTION = /\brisk (distribution|histogram|breakdown)\b|风险分布/;
const HELP = /\bhelp\b|\bwhat can you do\b|\bhow (do i|to) use\b|\bcommands\b|\busage\b|^\?$|帮助|能做什么|会做什么|怎么用|如何使用|使用说明|命令|说明/;

const TIER_PATTERNS: readonly (readonly [RegExp, RiskTier])[] = [
  [/\bhigh(ly)?[ -]?(churn )?risk\b|\bhigh[ -]?churn\b|高风险|高流失风险|高危|风险(较)?高的?(?!的?\d|的?前)/, 'high'],
  [/\b(medium|moderate|mid|middle)[ -]?(churn )?risk\b|中风险|中等风险|中危/, 'medium'],
  [/\blow[ -]?(churn )?risk\b|低风险|低危/, 'low'],
];

const COMPARE = /\b(compare|comparison|vs\.?|versus|against|side by side|difference between)\b|对比|比较|相比|\bvs\b/;
const TREND =
  /\btrend(s|ing)?\b|\bover time\b|\b(last|past|previous|recent) (\d{1,2} |few |several )?(runs|rescores|scorings)\b|\bper run\b|\bacross runs\b|\bhistory\b|\bchanged? over\b|趋势|走势|曲线|折线|随时间|越来越|历次|每次评分|最近几次|最近\s{0,3}(\d{1,2}|[一二两三四五六七八九十]{1,3})\s{0,3}次|历史/;
const CHANGE =
  /\b(grew|grown|grow|grows|growing|shrank|shrunk|shrink|shrinks|shrinking|increased|decreased|declined|dropped|rose|gained|lost the most)\b|\bbiggest (change|gain|drop|increase|decrease|mover)s?\b|\bchanged (the )?most\b|\bsince (the )?(last|previous) (run|rescore|scoring|time)\b|增长最多|增加最多|减少最多|下降最多|变化最大|涨得最多|跌得最多|缩水|比上次|较上次|上次评分以来|变多|变少/;
const SEGMENT_WORD = /\b(segments?|cohorts?|groups?|personas?)\b|分群|人群|群体|哪个群|哪些群/;
const SINCE_LAST_RUN = /\bsince (the )?(last|previous) (run|rescore|scoring)\b|上次评分以来|比上次|较上次/;

/** Two different segments named in `t` (lower-cased), in the order written; undefined otherwise. */
function twoSegments(t: string): readonly [RfmSegment, RfmSegment] | undefined {
  const first = extractSegment(t);
  if (!first.segment) return undefined;
  const second = extractSegment(first.rest);
  if (!second.segment || second.segment === first.segment) return undefined;
  const at = (seg: RfmSegment) => {
    const names = SEGMENT_NAMES.filter((n) => n.segment === seg).map((n) => t.replace(/'/g, '').replace(/[_-]/g, ' ').indexOf(n.name)).filter((i) => i >= 0);
    return names.length ? Math.min(...names) : 0;
  };
  return at(first.segment) <= at(second.segment) ? [first.segment, second.segment] : [second.segment, first.segment];
}

const USER_NOUN = /\b(users?|customers?|people|persons?|members?|learners?|students?|subscribers?|buyers?|payers?|accounts?|scored)\b|用户|客户|人|会员|学员|买家|账户|账号/;

/** Generic "at risk" wording that, in a count, means the high tier (see parseQuestion). */
const GENERIC_AT_RISK = /\bat risk\b|\brisky\b|\bchurn risk\b|\b(likely|about|going) to churn\b|有流失风险|流失风险|可能流失|会流失|要流失|即将流失/;

interface Extracted {
  /** Lower-cased text with user refs, day phrases and segment names blanked out. */
  readonly rest: string;
  readonly ref?: UserRef;
  readonly days?: number;
  readonly daysRaw?: string;
  readonly n?: number;
  readonly nRaw?: string;
  readonly segment?: RfmSegment;
  readonly tier?: RiskTier;
}

function blank(s: string, from: number, length: number): string {
  return `${s.slice(0, from)} ${s.slice(from + length)}`;
}

function extractRef(t: string): { rest: string; ref?: UserRef } {
  const email = EMAIL.exec(t);
  if (email) return { rest: blank(t, email.index, email[0].length), ref: { kind: 'email', value: email[0].toLowerCase() } };
  // "user 42", "user #42", "user id u_123", "customer 42", "用户 42", "用户ID为42", "id 42", "#42"
  const id =
    /(?:\b(?:user|customer|member|learner|student)s?(?:\s{0,3}id)?|用户|会员|学员|客户|\bid\b|编号)\s{0,3}(?:[:=#]|为|是|号)?\s{0,3}#?([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})/iu.exec(t) ??
    /(?:^|\s)#([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})/.exec(t);
  const raw = id?.[1];
  const value = raw === undefined ? undefined : trimEndOf(raw, '.:-');
  // "高风险用户 20 个", "users 30 days": a count or a period, not an id.
  const counted = id ? /^\s{0,3}(个|位|名|人|条|天|日|周|月|年|days?\b|weeks?\b|months?\b)/u.test(t.slice(id.index + id[0].length)) : false;
  if (id && value && !counted && /\d/.test(value) && ID.test(value)) {
    return { rest: blank(t, id.index, id[0].length), ref: { kind: 'id', value } };
  }
  return { rest: t };
}

const DAY_RULES: readonly (readonly [RegExp, (m: RegExpExecArray) => number])[] = [
  [new RegExp(`\\b(?:last|past|previous|over the last|in the last)?\\s{0,3}(${EN_NUMBER})\\s{0,3}days?\\b`), (m) => toNumber(m[1] as string)],
  [new RegExp(`\\b(?:last|past|previous)?\\s{0,3}(${EN_NUMBER})\\s{0,3}weeks?\\b`), (m) => 7 * toNumber(m[1] as string)],
  [new RegExp(`\\b(?:last|past|previous)?\\s{0,3}(${EN_NUMBER})\\s{0,3}months?\\b`), (m) => 30 * toNumber(m[1] as string)],
  [new RegExp(`\\b(?:last|past|previous)?\\s{0,3}(${EN_NUMBER})\\s{0,3}years?\\b`), (m) => 365 * toNumber(m[1] as string)],
  [/\b(last|past|previous|this)\s{1,3}week('s)?\b|\bfortnight\b/, (m) => (m[0].includes('fortnight') ? 14 : 7)],
  [/\b(last|past|previous|this)\s{1,3}month('s)?\b/, () => 30],
  [/\b(last|past|previous|this)\s{1,3}quarter('s)?\b/, () => 90],
  [/\b(last|past|previous|this)\s{1,3}year('s)?\b/, () => 365],
  [/\b(yesterday|today)('s)?\b/, () => 1],
  [new RegExp(`(?:最近|过去|近|前)?\\s{0,3}(${DIGITS}|${CN_NUMBER})\\s{0,3}(?:天|日)`), (m) => toNumber(m[1] as string)],
  [new RegExp(`(?:最近|过去|近|前)?\\s{0,3}(${DIGITS}|${CN_NUMBER})\\s{0,3}(?:个)?(?:周|星期|礼拜)`), (m) => 7 * toNumber(m[1] as string)],
  [new RegExp(`(?:最近|过去|近|前)?\\s{0,3}(${DIGITS}|${CN_NUMBER})\\s{0,3}个月`), (m) => 30 * toNumber(m[1] as string)],
  // 1–2 digits only: "2024年" is a year, not 2024 years.
  [new RegExp(`(?:最近|过去|近|前)?\\s{0,3}(?<!\\d)(\\d{1,2}|${CN_NUMBER})\\s{0,3}年`), (m) => 365 * toNumber(m[1] as string)],
  [/(上|本|这)(个)?(周|星期|礼拜)/, () => 7],
  [/(上|本|这)(个)?月/, () => 30],
  [/(上|本|这)(个)?季度/, () => 90],
  [/去年|今年/, () => 365],
  [/昨天|今天/, () => 1],
];

function extractDays(t: string): { rest: string; days?: number; raw?: string } {
  for (const [re, value] of DAY_RULES) {
    const m = re.exec(t);
    if (m) return { rest: blank(t, m.index, m[0].length), days: value(m), raw: m[0].trim() };
  }
  return { rest: t };
}

const SEGMENT_CONTEXT_BEFORE = /(\b(in|from|among|within|of|segment)\s{1,3}(the\s{1,3})?|分群|在)\s{0,3}$/u;
const SEGMENT_CONTEXT_AFTER = /^\s{0,3}(segment|group|cohort|分群|人群|群体|群|这个分群)/u;

/** Finds a segment name in `t`; `rest` comes back with apostrophes dropped and `-`/`_` as spaces, like segment names. */
function extractSegment(text: string): { rest: string; segment?: RfmSegment } {
  const t = text.replace(/'/g, '').replace(/[_-]/g, ' ');
  for (const s of SEGMENT_NAMES) {
    const re = CJK.test(s.name)
      ? new RegExp(escapeRe(s.name), 'u')
      : new RegExp(`(?<![a-z0-9])${s.name.split(' ').map(escapeRe).join('\\s{1,3}')}(?![a-z0-9])`, 'u');
    const hit = re.exec(t);
    if (!hit) continue;
    if (s.ambiguous) {
      const before = t.slice(0, hit.index);
      const after = t.slice(hit.index + hit[0].length);
      if (!SEGMENT_CONTEXT_BEFORE.test(before) && !SEGMENT_CONTEXT_AFTER.test(after)) continue;
    }
    return { rest: blank(t, hit.index, hit[0].length), segment: s.segment };
  }
  return { rest: t };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function extractN(t: string): { n?: number; raw?: string } {
  const rules: readonly RegExp[] = [
    new RegExp(`\\btop\\s{0,3}(${EN_NUMBER})\\b`),
    new RegExp(`前\\s{0,3}(${DIGITS}|${CN_NUMBER})`),
    new RegExp(`(${DIGITS}|${CN_NUMBER})\\s{0,3}(?:个|位|名|人|条)`),
    /(?<![\d.])(\d{1,12})(?![\d.])/,
  ];
  for (const re of rules) {
    const m = re.exec(t);
    if (m) return { n: toNumber(m[1] as string), raw: m[1] as string };
  }
  return {};
}

function extract(text: string): Extracted {
  const lower = text.toLowerCase();
  const r = extractRef(lower);
  const d = extractDays(r.rest);
  const s = extractSegment(d.rest);
  const n = extractN(s.rest);
  const tier = TIER_PATTERNS.find(([re]) => re.test(s.rest))?.[1];
  return {
    rest: s.rest,
    ...(r.ref && { ref: r.ref }),
    ...(d.days !== undefined && { days: d.days, daysRaw: d.raw }),
    ...(n.n !== undefined && { n: n.n, nRaw: n.raw }),
    ...(s.segment && { segment: s.segment }),
    ...(tier && { tier }),
  };
}

/**
 * Maps a plain question (an app mention or DM, English or Chinese) to an intent, e.g.
 * "how many high risk users in Champions?" → count{tier: high, segment: champions},
 * "为什么用户 42 有流失风险" → why{id 42}, "how did last week's coupons do?" → campaigns{7},
 * "did the coupons pay off?" / "发券划算吗" → roi{90}.
 *
 * Refused as `not_understood`: empty text, text without words (a bare number), anything
 * outside the bot's questions ("what's the weather"), and requests to delete, export or act
 * on users ("delete all users", "send user 42 a coupon"). Numbers out of bounds give
 * `invalid` with an error naming the bound.
 *
 * Decisions: "at risk" with no tier lists users ranked by value at risk (no tier filter), but
 * in a count ("how many users are at risk") it means the high tier, so the answer is one
 * number the reply can name. Segment names that are everyday words ("new", "lost", "at
 * risk", 流失风险) count as a segment only next to "segment"/"in the …"/"分群".
 */
export function parseQuestion(text: string): QuestionResult {
  const head = cut(text);
  const lang = detectLang(head);
  try {
    const intent = questionIntent(cleanText(head), lang);
    return intent ? { ok: true, intent, lang } : { ok: false, lang, reason: 'not_understood' };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, lang, reason: 'invalid', error: err.message };
    throw err;
  }
}

/**
 * True when the rules refuse a question outright, whatever a classifier would make of it:
 * requests to delete or export data, to act on users (send a coupon), and admin wording that
 * is not an order ("don't pause outreach", "what if we pause outreach?"). Text is cleaned first.
 */
export function refusedByRules(text: string): boolean {
  const t = cleanText(cut(text)).toLowerCase().replace(new RegExp(EMAIL.source, 'g'), ' ');
  if (DESTRUCTIVE.test(t)) return true;
  const ta = withoutRunReferences(t);
  if ((PAUSE.test(ta) || RESUME.test(ta) || RESCORE.test(ta)) && NOT_AN_ORDER.test(t)) return true;
  return ACTION.test(t) && !(isPayoffQuestion(t) && QUESTION.test(t) && !extractRef(cleanText(cut(text)).toLowerCase()).ref);
}

/**
 * The intent `kind` (chosen by the classifier or a button) with its slots read from `text` by the
 * same extractors the rules use: segment, tier, number of users, period. `ref` is the user the
 * question names, already resolved by the caller; intents about one user need it. A slot out of
 * bounds ("top 500") gives `invalid` with an error naming the bound; an intent about a user
 * without one gives `not_understood` (the caller asks which user).
 */
export function intentWithSlots(kind: IntentKind, text: string, lang: Lang, ref?: UserRef): QuestionResult {
  const head = cut(text);
  try {
    const x = extract(cleanText(head));
    const n = (): number => (x.n === undefined ? DEFAULT_N : checkN(x.n, x.nRaw ?? String(x.n), lang));
    const days = (dflt: number): number => (x.days === undefined ? dflt : checkDays(x.days, x.daysRaw ?? String(x.days), lang));
    const ok = (intent: Intent): QuestionResult => ({ ok: true, intent, lang });
    switch (kind) {
      case 'help':
      case 'overview':
      case 'segments':
      case 'uplift':
      case 'model':
      case 'rescore':
      case 'pause_outreach':
      case 'resume_outreach':
        return ok({ kind });
      case 'segment':
        return ok(x.segment ? { kind: 'segment', segment: x.segment, n: n() } : { kind: 'segments' });
      case 'at_risk':
        return ok({ kind: 'at_risk', n: n(), ...(x.segment && { segment: x.segment }), ...(x.tier && { tier: x.tier }) });
      case 'count': {
        const tier = x.tier ?? (GENERIC_AT_RISK.test(x.rest) || /risk|风险/.test(x.rest) ? 'high' : undefined);
        return ok({ kind: 'count', ...(tier && { tier }), ...(x.segment && { segment: x.segment }) });
      }
      case 'user':
      case 'why':
      case 'recommend': {
        const r = ref ?? x.ref;
        return r ? ok({ kind, ref: r }) : { ok: false, lang, reason: 'not_understood' };
      }
      case 'campaigns':
        return ok({ kind: 'campaigns', days: days(DEFAULT_DAYS) });
      case 'segment_change':
        return ok({ kind: 'segment_change' });
      case 'risk_trend':
        return ok({ kind: 'risk_trend', runs: x.n === undefined ? DEFAULT_RUNS : checkRuns(x.n, x.nRaw ?? String(x.n), lang) });
      case 'compare_segments': {
        const two = twoSegments(cleanText(head).toLowerCase());
        if (!two) throw new ParseError(MSG[lang].twoSegments);
        return ok({ kind: 'compare_segments', a: two[0], b: two[1] });
      }
      case 'roi':
        return ok({ kind: 'roi', days: days(ROI_DAYS) });
      default:
        return assertUnreachable(kind);
    }
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, lang, reason: 'invalid', error: err.message };
    throw err;
  }
}

function questionIntent(text: string, lang: Lang): Intent | undefined {
  // Emails are left out of the keyword checks below: "drop@example.com" is not a request to drop anything.
  const t = text.toLowerCase().replace(new RegExp(EMAIL.source, 'g'), ' ');
  if (!/[a-z]|\p{Script=Han}/u.test(text.toLowerCase())) return undefined;
  if (DESTRUCTIVE.test(t)) return undefined;
  const ta = withoutRunReferences(t);
  const admin = PAUSE.test(ta) ? 'pause_outreach' : RESUME.test(ta) ? 'resume_outreach' : RESCORE.test(ta) ? 'rescore' : undefined;
  if (admin) return NOT_AN_ORDER.test(t) ? undefined : { kind: admin };
  // "发券赚了吗" asks about coupons that went out; "给用户 42 发券划算吗" is about acting on a user.
  const payoff = isPayoffQuestion(t);
  if (ACTION.test(t) && !(payoff && QUESTION.test(t) && !extractRef(text.toLowerCase()).ref)) return undefined;

  // A slash command pasted into a message ("/retain segment champions 20") reads as the command.
  const asCommand = /^\/?retain\b/i.test(text) ? parseCommand(text) : undefined;
  if (asCommand?.ok) return asCommand.intent;

  const x = extract(text);
  const n = (): number => (x.n === undefined ? DEFAULT_N : checkN(x.n, x.nRaw ?? String(x.n), lang));
  const days = (): number => (x.days === undefined ? DEFAULT_DAYS : checkDays(x.days, x.daysRaw ?? String(x.days), lang));
  const r = x.rest;

  if (x.ref) {
    if (WHY.test(r)) return { kind: 'why', ref: x.ref };
    if (RECOMMEND.test(r)) return { kind: 'recommend', ref: x.ref };
    return { kind: 'user', ref: x.ref };
  }
  // Before the others: "coupon ROI" names campaigns, "the coupon offer paid off?" an offer.
  if (payoff) return { kind: 'roi', days: x.days === undefined ? ROI_DAYS : checkDays(x.days, x.daysRaw ?? String(x.days), lang) };
  // Across runs: two segments compared, how the high-risk count moved, which segment changed.
  const two = twoSegments(text.toLowerCase());
  if (two && COMPARE.test(t)) return { kind: 'compare_segments', a: two[0], b: two[1] };
  if (TREND.test(t) && (x.tier !== undefined || RISK.test(t))) {
    return { kind: 'risk_trend', runs: x.n === undefined ? DEFAULT_RUNS : checkRuns(x.n, x.nRaw ?? String(x.n), lang) };
  }
  if (CHANGE.test(t) && (SEGMENT_WORD.test(t) || SINCE_LAST_RUN.test(t))) return { kind: 'segment_change' };
  // "why are users churning?", "recommend courses for champions": explanations and
  // recommendations exist per user only, and guessing another answer would mislead.
  if ((WHY.test(r) && RISK.test(r)) || RECOMMEND.test(r)) return undefined;
  if (UPLIFT.test(r)) return { kind: 'uplift' };
  if (MODEL.test(r)) return { kind: 'model' };
  if (CAMPAIGN.test(r)) return { kind: 'campaigns', days: days() };
  if (!x.segment && SEGMENTS.test(r)) return { kind: 'segments' };
  if (RISK_DISTRIBUTION.test(r)) return { kind: 'overview' };
  // "How many" counts users: "汇率多少" or "how much is 5 miles in km" is not a question about them.
  if (COUNT.test(r) && (x.tier !== undefined || x.segment !== undefined || RISK.test(r) || USER_NOUN.test(r))) {
    const tier = x.tier ?? (GENERIC_AT_RISK.test(r) ? 'high' : undefined);
    return { kind: 'count', ...(tier && { tier }), ...(x.segment && { segment: x.segment }) };
  }
  if (x.tier || RISK.test(r)) {
    return { kind: 'at_risk', n: n(), ...(x.segment && { segment: x.segment }), ...(x.tier && { tier: x.tier }) };
  }
  if (x.segment) return { kind: 'segment', segment: x.segment, n: n() };
  if (OVERVIEW.test(r)) return { kind: 'overview' };
  if (HELP.test(r)) return { kind: 'help' };
  return undefined;
}
