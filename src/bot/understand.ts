/**
 * From a plain question to what the bot does with it. Order:
 *
 * 1. The rules (intent.ts) first, as high-precision shortcuts: a question they parse is answered
 *    as they parse it, one they refuse (delete, export, act on users, "don't pause") is refused.
 * 2. Entities: emails, and id-shaped tokens checked against the users table (one indexed query,
 *    at most {@link MAX_CANDIDATES} tokens). A question naming a known user is about that user:
 *    the classifier only chooses between the card, the explanation and the recommendations.
 * 3. The classifier (nlu.ts) on the rest. Confident → answered, with slots read by the rules'
 *    extractors. Torn between two intents → "did you mean" with both. Out of scope, or not
 *    confident about anything → one short line with three examples close to what was asked.
 *
 * The classifier never runs an admin intent by itself: a question it reads as "rescore" or
 * "pause outreach" that the rules did not parse is offered as a button, so acting always takes
 * plain wording or an explicit click (which the bot checks and audits like a command).
 */
import { type Label } from './corpus/index.js';
import { entityCandidates, MAX_CANDIDATES } from './entities.js';
import { ADMIN_INTENTS, cleanText, detectLang, intentWithSlots, MAX_TEXT, parseQuestion, refusedByRules, type Intent, type IntentKind, type Lang, type UserRef } from './intent.js';
import type { LlmFallback } from './llm.js';
import type { IntentClassifier, Ranked } from './nlu.js';

export { MAX_CANDIDATES };

/** Probability above which the classifier's best intent is answered. */
export const ACCEPT = 0.5;
/** Below {@link ACCEPT}: the second intent must reach this for "did you mean" (else: out of scope). */
export const SECOND = 0.12;

export type Understanding =
  | { readonly kind: 'answer'; readonly intent: Intent; readonly lang: Lang; readonly via: 'rules' | 'classifier' | 'llm' }
  /** Understood, but a value is out of bounds, the user is unknown, or which user is missing. */
  | { readonly kind: 'invalid'; readonly lang: Lang; readonly error: string }
  /** One or two readings to confirm with buttons (one: an admin intent the classifier found). */
  | { readonly kind: 'did_you_mean'; readonly lang: Lang; readonly options: readonly Intent[] }
  /** Not something the bot answers: three example questions close to what was asked. */
  | { readonly kind: 'out_of_scope'; readonly lang: Lang; readonly examples: readonly string[]; /** Refused by the rules (delete, export, act): never sent to an LLM. */ readonly refused?: true };

const USER_INTENTS: readonly IntentKind[] = ['user', 'why', 'recommend'];

/** One example per intent and language, offered when a question is out of scope. */
export const INTENT_EXAMPLES: Readonly<Record<Lang, Readonly<Record<IntentKind, string>>>> = {
  en: {
    help: 'what can you do?',
    overview: 'show me the overall picture',
    segments: 'which segment is largest?',
    segment: 'list hibernating users',
    at_risk: 'top 20 at-risk users in Champions',
    count: 'how many high risk users?',
    user: "what's up with user 42?",
    why: 'why is user 42 at risk?',
    recommend: 'courses for user 42',
    campaigns: "how did last week's coupons do?",
    uplift: 'did outreach beat the holdout?',
    roi: 'did the coupons pay off?',
    model: 'how good is the model?',
    segment_change: 'which segment grew most since the last run?',
    risk_trend: 'how has the high-risk count changed over the last 5 runs?',
    compare_segments: 'compare champions and loyal',
    rescore: 'rescore everyone now',
    pause_outreach: 'pause outreach',
    resume_outreach: 'resume outreach',
  },
  zh: {
    help: '你能做什么',
    overview: '看下整体情况',
    segments: '哪个分群最大',
    segment: '列出沉睡用户',
    at_risk: '列出核心用户中流失风险最高的 20 个用户',
    count: '高风险用户有多少',
    user: '看下用户 42',
    why: '用户 42 流失原因',
    recommend: '用户 42 推荐什么课',
    campaigns: '上周的优惠券效果怎么样',
    uplift: '触达组和对照组比提升多少',
    roi: '发券划算吗',
    model: '模型效果怎么样',
    segment_change: '上次评分以来哪个分群增长最多',
    risk_trend: '最近 5 次评分高风险人数趋势',
    compare_segments: '核心用户和忠诚用户对比',
    rescore: '重新评分',
    pause_outreach: '暂停外呼',
    resume_outreach: '恢复外呼',
  },
};

const MSG = {
  en: {
    whichUser: 'Which user? Name one by id or email, e.g. "why is user 42 at risk?"',
    unknownUser: (id: string) => `I couldn't find a user "${id}". Check the id (ids look like the ones in \`/retain at-risk\`).`,
  },
  zh: {
    whichUser: '哪个用户？请给出用户 ID 或邮箱，例如“用户 42 流失原因”',
    unknownUser: (id: string) => `没有找到用户“${id}”。请检查 ID（格式见 \`/retain at-risk\` 的结果）。`,
  },
} as const;

export interface UnderstandDeps {
  readonly classifier: IntentClassifier;
  /** Which of `ids` (at most {@link MAX_CANDIDATES}) are known users: one indexed query. */
  readonly knownUserIds: (ids: readonly string[]) => Promise<ReadonlySet<string>>;
  /** Optional: asked when the classifier cannot place a question (see llm.ts). */
  readonly llm?: LlmFallback | undefined;
}

/** Understands a plain question (a mention or DM); the only I/O is the bounded id lookup. */
export async function understand(d: UnderstandDeps, text: string): Promise<Understanding> {
  const head = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  const rules = parseQuestion(head);
  const c = entityCandidates(head);
  // The rules know ids only after "user"/"用户"/"#": a question naming a known id-shaped user
  // elsewhere ("模型为什么觉得 u1074 会走") is about that user whatever keyword the rules saw.
  const shaped = c.ids.filter((i) => !/^\d{1,20}$/.test(i));
  const rulesNamedUser = rules.ok && 'ref' in rules.intent;
  if (rules.ok && (rulesNamedUser || shaped.length === 0 || ADMIN_INTENTS.includes(rules.intent.kind))) return fromRules(d.classifier, head, rules.intent, rules.lang);
  if (!rules.ok && rules.reason === 'invalid') return { kind: 'invalid', lang: rules.lang, error: rules.error };
  const known = c.ids.length > 0 ? await d.knownUserIds(c.ids) : new Set<string>();
  if (rules.ok && !shaped.some((i) => known.has(i))) return fromRules(d.classifier, head, rules.intent, rules.lang);
  const r = interpret(d.classifier, head, known);
  // The classifier could not place it (torn, or not confident): the model may, if one is set.
  if (!d.llm || !(r.kind === 'did_you_mean' || (r.kind === 'out_of_scope' && !r.refused))) return r;
  const id = c.ids.find((i) => known.has(i));
  const ref: UserRef | undefined = id !== undefined ? { kind: 'id', value: id } : c.emails[0] !== undefined ? { kind: 'email', value: c.emails[0] } : undefined;
  const chosen = await d.llm(head, r.lang, ref);
  if (chosen === undefined || chosen === 'out_of_scope') return r;
  if (ADMIN_INTENTS.includes(chosen.kind)) return { kind: 'did_you_mean', lang: r.lang, options: [chosen] };
  return { kind: 'answer', intent: chosen, lang: r.lang, via: 'llm' };
}

/** Classifier probability above which it overrules a reading of the rules (measured: see README). */
export const OVERRULE = 0.75;

/**
 * A question the rules parsed. The rules stay the shortcut, but two of their readings yield to a
 * confident classifier: the "user card" they default to for a question naming a user ("what
 * would alice@… enjoy next" has no recommend keyword), and any non-admin reading the classifier
 * contradicts with p ≥ {@link OVERRULE} (chosen with the other thresholds by eval:bot's
 * cross-validation on the corpus: 0.75 on the whole corpus, 0.75 or 0.9 per seed). Admin readings of
 * the rules are never overruled, and the classifier never turns a question into an admin one.
 */
export function fromRules(classifier: IntentClassifier, text: string, intent: Intent, lang: Lang, th: Thresholds = DEFAULT_THRESHOLDS): Understanding {
  if (ADMIN_INTENTS.includes(intent.kind)) return { kind: 'answer', intent, lang, via: 'rules' };
  const ranked = classifier.rank(text);
  const ref = 'ref' in intent ? intent.ref : undefined;
  if (ref) {
    const best = ranked.find((r) => USER_INTENTS.includes(r.label as IntentKind));
    if (intent.kind === 'user' && best && best.label !== 'user' && best.p >= th.accept) return { kind: 'answer', intent: { kind: best.label as 'why' | 'recommend', ref }, lang, via: 'classifier' };
    return { kind: 'answer', intent, lang, via: 'rules' };
  }
  const top = ranked[0] as Ranked;
  // Confident it is an admin request the rules read as something else ("turn off outreach" →
  // campaigns): offer the admin reading beside the rules' one rather than answer either.
  if (top.p >= th.overrule && ADMIN_INTENTS.includes(top.label as IntentKind)) return { kind: 'did_you_mean', lang, options: [{ kind: top.label } as Intent, intent] };
  if (top.p >= th.overrule && top.label !== intent.kind && !USER_INTENTS.includes(top.label as IntentKind)) {
    if (top.label === 'out_of_scope') return outOfScope(ranked, lang);
    const r = intentWithSlots(top.label as IntentKind, text, lang);
    if (r.ok) return { kind: 'answer', intent: r.intent, lang, via: 'classifier' };
  }
  return { kind: 'answer', intent, lang, via: 'rules' };
}

/**
 * The decision of {@link understand} after the rules said "not understood", given which id
 * candidates are known users. Pure: the evaluation calls it directly.
 */
export interface Thresholds {
  /** Probability above which the best in-scope intent is answered. */
  readonly accept: number;
  /** Below `accept`: both of the two best must reach this for "did you mean". */
  readonly second: number;
  /** `accept` for a question without a word of the domain. */
  readonly acceptNoDomain: number;
  /** Probability at which the classifier overrules a (non-admin) reading of the rules. */
  readonly overrule: number;
  /** Out of scope is refused when it is the best label and its (renormalised) probability reaches this; below, the best in-scope label is weighed instead. */
  readonly outOfScope: number;
}

export function interpret(classifier: IntentClassifier, text: string, known: ReadonlySet<string>, th: Thresholds = DEFAULT_THRESHOLDS): Understanding {
  const lang = detectLang(text);
  const ranked = classifier.rank(text);
  if (refusedByRules(text) || !/[a-z]|\p{Script=Han}/iu.test(cleanText(text))) return { ...outOfScope(ranked, lang), refused: true } as Understanding;
  const c = entityCandidates(text);
  const top = ranked[0] as Ranked;
  const userMass = ranked.reduce((s, r) => s + (USER_INTENTS.includes(r.label as IntentKind) ? r.p : 0), 0);
  // Ids by their shape (u1074, a3f9c2, a UUID) name a user wherever they stand; a bare number
  // does only when the wording is about a user ("what's up with 42", not "what is 2+2").
  const id = c.ids.find((i) => known.has(i) && (!/^\d{1,20}$/.test(i) || userMass >= th.accept));
  const ref: UserRef | undefined = id !== undefined ? { kind: 'id', value: id } : c.emails[0] !== undefined ? { kind: 'email', value: c.emails[0] } : undefined;

  if (ref) {
    // A known user is named: the question is about them. Out of scope still wins when the
    // classifier is sure ("recommend a movie to u1074"); the rules already refused acting on them.
    if (top.label === 'out_of_scope' && top.p >= 0.8) return outOfScope(ranked, lang);
    const best = ranked.find((r) => USER_INTENTS.includes(r.label as IntentKind)) as Ranked;
    return slotted(best.label as IntentKind, text, lang, ref);
  }
  if (userMass >= 0.7) {
    // About a user, but none known: name the token that looked like one, or ask which user.
    const typed = c.ids.find((i) => !/^\d{1,20}$/.test(i)) ?? c.ids[0];
    return { kind: 'invalid', lang, error: typed !== undefined ? MSG[lang].unknownUser(typed.slice(0, 40)) : MSG[lang].whichUser };
  }
  // Intents about one user cannot be answered or offered without one: the rest, renormalised.
  const rest = ranked.filter((r) => !USER_INTENTS.includes(r.label as IntentKind)).map((r) => ({ label: r.label, p: r.p / (1 - userMass) }));
  if ((rest[0] as Ranked).label === 'out_of_scope' && (rest[0] as Ranked).p >= th.outOfScope) return outOfScope(ranked, lang);
  const best = rest.find((r) => r.label !== 'out_of_scope') as Ranked;
  // Without a word of the bot's domain (users, risk, coupons, 分群, 券…), only a sure reading is
  // answered: "今天天气怎么样" reads like "今天数据怎么样" to character n-grams.
  const domain = DOMAIN.test(cleanText(text).toLowerCase());
  const accept = domain ? th.accept : th.acceptNoDomain;
  const offerable = rest.filter((r) => r.label !== 'out_of_scope');
  if (best.p >= accept) {
    if (ADMIN_INTENTS.includes(best.label as IntentKind)) return didYouMean([best.label as IntentKind], text, lang);
    return slotted(best.label as IntentKind, text, lang);
  }
  const [first, second] = offerable as [Ranked, Ranked | undefined];
  if (domain && first.p >= th.second && second && second.p >= th.second) return didYouMean([first.label as IntentKind, second.label as IntentKind], text, lang);
  if (domain && first.p >= th.accept / 2) return didYouMean([first.label as IntentKind], text, lang);
  return outOfScope(ranked, lang);
}

/**
 * Words of the bot's domain. A question with none of them is answered only when the classifier
 * is sure ({@link ACCEPT_NO_DOMAIN}) and is never offered as "did you mean".
 */
const DOMAIN =
  /\b(users?|customers?|members?|people|learners?|students?|segments?|cohorts?|groups?|personas?|rfm|champions?|loyal|hibernating|dormant|risk\w{0,3}|churn\w{0,3}|retention|retain|leav\w{1,3}|lapse|lost|coupons?|vouchers?|discounts?|promos?|promotions?|campaigns?|outreach|e-?mails?|messages?|sending|offers?|uplift|lift|holdout|control|treated|incremental\w{0,3}|roi|revenue|profit\w{0,4}|money|worth|model|auc|accura\w{1,4}|predictions?|scor\w{1,4}|rescore|overview|summary|dashboard|kpis?|metrics|numbers|status|picture|help|commands?|usage|recommend\w{0,7}|courses?|options|menu|manual|docs?|documentation|examples?|capab\w{1,6}|features|health\w{0,2}|snapshot|weekly|things|going)\b|用户|客户|会员|学员|分群|人群|群|画像|风险|流失|留存|券|折扣|活动|营销|触达|外呼|邮件|短信|推送|提升|增量|对照|回报|收入|收益|赚|亏|划算|值|模型|准确|预测|评分|打分|重算|概览|总览|概况|整体|大盘|指标|数据|帮助|命令|说明|功能|推荐|课|例子|示例|菜单|选项|文档|入门|能力|本事|怎么用|健康|快照|本周|这周|情况|状态/u;

/** Probability needed to answer a question without a domain word. */
export const ACCEPT_NO_DOMAIN = 0.85;

/** Probability out of scope needs, as the best label, to be refused outright (0: whenever it is best). */
export const OUT_OF_SCOPE = 0;

/** The bot's thresholds: what eval:bot's inner cross-validation picks on the whole corpus (`npm run eval:bot -- --choose`). */
export const DEFAULT_THRESHOLDS: Thresholds = { accept: ACCEPT, second: SECOND, acceptNoDomain: ACCEPT_NO_DOMAIN, overrule: OVERRULE, outOfScope: OUT_OF_SCOPE };

function slotted(kind: IntentKind, text: string, lang: Lang, ref?: UserRef): Understanding {
  const r = intentWithSlots(kind, text, lang, ref);
  if (r.ok) return { kind: 'answer', intent: r.intent, lang, via: 'classifier' };
  if (r.reason === 'invalid') return { kind: 'invalid', lang, error: r.error };
  return { kind: 'invalid', lang, error: MSG[lang].whichUser };
}

function didYouMean(kinds: readonly IntentKind[], text: string, lang: Lang): Understanding {
  const options: Intent[] = [];
  for (const k of kinds) {
    const r = intentWithSlots(k, text, lang);
    if (r.ok) options.push(r.intent);
  }
  return options.length > 0 ? { kind: 'did_you_mean', lang, options } : { kind: 'out_of_scope', lang, examples: closestExamples([], lang) };
}

function outOfScope(ranked: readonly Ranked[], lang: Lang): Understanding {
  return { kind: 'out_of_scope', lang, examples: closestExamples(ranked, lang) };
}

/** Examples of the three in-scope intents the classifier ranks highest (admin intents left out). */
export function closestExamples(ranked: readonly Ranked[], lang: Lang): string[] {
  const kinds: IntentKind[] = [];
  for (const r of ranked) {
    const label = r.label as Label;
    if (label === 'out_of_scope' || ADMIN_INTENTS.includes(label) || label === 'help') continue;
    kinds.push(label);
    if (kinds.length === 3) break;
  }
  for (const k of ['overview', 'at_risk', 'roi'] as const) if (kinds.length < 3 && !kinds.includes(k)) kinds.push(k);
  return kinds.map((k) => INTENT_EXAMPLES[lang][k]);
}
