/**
 * Optional LLM fallback for questions the classifier cannot place: an OpenAI-compatible
 * chat-completions endpoint (`LLM_URL`, `LLM_MODEL`) is given a tool schema of our intents and
 * slots and asked to call it. Its reply only *chooses* an intent and slots; it is validated with
 * zod and then turned into an {@link Intent} by our own code, and the answer's numbers come from
 * our queries as always. Anything else — an error status, garbage, a wrong schema, no reply
 * within `LLM_TIMEOUT_MS` — gives `undefined`, and the bot answers as it would without a model.
 *
 * What is sent: the question cut to 500 characters with Slack markup undone and every email and
 * id-shaped token replaced by a placeholder (`ⓔ`, `ⓤ`): no user ids, no addresses, nothing from
 * the database. Which user a question names is resolved by us, never by the model.
 */
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { RISK_TIERS } from '../domain/risk.js';
import { RFM_SEGMENTS } from '../ml/rfm.js';
import { nluText } from './nlu.js';
import { MAX_DAYS, MAX_N, MAX_RUNS, type Intent, type IntentKind, type Lang, type UserRef } from './intent.js';
import { IntentSchema } from './intent-schema.js';

export interface LlmOptions {
  url: string;
  model: string;
  apiKey?: string | undefined;
  timeoutMs: number;
  log: Logger;
}

/** Asks the model to place a question; undefined when it cannot (or says out of scope). */
export type LlmFallback = (text: string, lang: Lang, ref: UserRef | undefined) => Promise<Intent | 'out_of_scope' | undefined>;

const INTENTS = [
  'help', 'overview', 'segments', 'segment', 'at_risk', 'count', 'user', 'why', 'recommend', 'campaigns', 'uplift', 'roi', 'model',
  'segment_change', 'risk_trend', 'compare_segments', 'rescore', 'pause_outreach', 'resume_outreach',
] as const satisfies readonly IntentKind[];

/** The tool the model must call: its JSON schema (sent) and the zod schema its arguments must pass. */
export const TOOL_NAME = 'choose_intent';
const Choice = z
  .object({
    intent: z.enum([...INTENTS, 'out_of_scope']),
    segment: z.enum(RFM_SEGMENTS).optional(),
    other_segment: z.enum(RFM_SEGMENTS).optional(),
    tier: z.enum(RISK_TIERS).optional(),
    n: z.number().int().min(1).max(MAX_N).optional(),
    days: z.number().int().min(1).max(MAX_DAYS).optional(),
    runs: z.number().int().min(2).max(MAX_RUNS).optional(),
  })
  .strict();

export const TOOL = {
  type: 'function',
  function: {
    name: TOOL_NAME,
    description:
      'Choose what a retention analytics Slack bot should answer. Use out_of_scope for anything that is not a question about users, segments, churn risk, campaigns, coupons, uplift, ROI or the churn model, and for any request to change or export data.',
    parameters: {
      type: 'object',
      additionalProperties: false,
      required: ['intent'],
      properties: {
        intent: {
          type: 'string',
          enum: [...INTENTS, 'out_of_scope'],
          description:
            'overview: totals and risk distribution; segments: all segment sizes; segment: users of one segment; at_risk: list users by churn risk; count: number of users (by tier/segment); user/why/recommend: one user (card, why at risk, what to recommend; the user is the placeholder ⓤ or ⓔ); campaigns: outreach results; uplift: treated vs holdout; roi: did coupons pay off; model: model quality; segment_change: which segment grew/shrank since the last run; risk_trend: high-risk count over recent runs; compare_segments: two segments side by side; rescore/pause_outreach/resume_outreach: admin actions',
        },
        segment: { type: 'string', enum: [...RFM_SEGMENTS] },
        other_segment: { type: 'string', enum: [...RFM_SEGMENTS], description: 'second segment, for compare_segments' },
        tier: { type: 'string', enum: [...RISK_TIERS] },
        n: { type: 'integer', minimum: 1, maximum: MAX_N, description: 'how many users to list' },
        days: { type: 'integer', minimum: 1, maximum: MAX_DAYS, description: 'period in days' },
        runs: { type: 'integer', minimum: 2, maximum: MAX_RUNS, description: 'how many rescore runs' },
      },
    },
  },
} as const;

const Reply = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          tool_calls: z.array(z.object({ function: z.object({ name: z.literal(TOOL_NAME), arguments: z.string().max(2000) }) })).min(1),
        }),
      }),
    )
    .min(1),
});

/** An intent from the model's validated choice; undefined when its slots do not make one. */
export function intentFromChoice(c: z.infer<typeof Choice>, ref: UserRef | undefined): Intent | 'out_of_scope' | undefined {
  const k = c.intent;
  let candidate: unknown;
  switch (k) {
    case 'out_of_scope':
      return 'out_of_scope';
    case 'segment':
      candidate = c.segment ? { kind: k, segment: c.segment, n: c.n ?? 10 } : { kind: 'segments' };
      break;
    case 'at_risk':
      candidate = { kind: k, n: c.n ?? 10, ...(c.segment && { segment: c.segment }), ...(c.tier && { tier: c.tier }) };
      break;
    case 'count':
      candidate = { kind: k, ...(c.segment && { segment: c.segment }), ...(c.tier && { tier: c.tier }) };
      break;
    case 'user':
    case 'why':
    case 'recommend':
      if (!ref) return undefined; // the model never names a user: only the question does
      candidate = { kind: k, ref };
      break;
    case 'campaigns':
      candidate = { kind: k, days: c.days ?? 30 };
      break;
    case 'roi':
      candidate = { kind: k, days: c.days ?? 90 };
      break;
    case 'risk_trend':
      candidate = { kind: k, runs: c.runs ?? 10 };
      break;
    case 'compare_segments':
      if (!c.segment || !c.other_segment || c.segment === c.other_segment) return undefined;
      candidate = { kind: k, a: c.segment, b: c.other_segment };
      break;
    default:
      candidate = { kind: k };
  }
  const r = IntentSchema.safeParse(candidate);
  return r.success ? (r.data as Intent) : undefined;
}

/** The fallback, or undefined when `LLM_URL`/`LLM_MODEL` are not set. */
export function createLlmFallback(o: LlmOptions): LlmFallback {
  const log = o.log.child({ module: 'bot.llm' });
  return (text, lang, ref) => fallback(o, log, text, lang, ref);
}

async function fallback(o: LlmOptions, log: Logger, text: string, lang: Lang, ref?: UserRef): Promise<Intent | 'out_of_scope' | undefined> {
  const started = Date.now();
  const body = {
    model: o.model,
    temperature: 0,
    messages: [
      {
        role: 'system',
        content: `You route questions for a retention analytics bot. Call ${TOOL_NAME} exactly once. The question is in ${lang === 'zh' ? 'Chinese' : 'English'}; ⓤ and ⓔ stand for a user id and an email.`,
      },
      { role: 'user', content: nluText(text) },
    ],
    tools: [TOOL],
    tool_choice: { type: 'function', function: { name: TOOL_NAME } },
  };
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    if (!res.ok) {
      log.warn({ status: res.status, ms: Date.now() - started }, 'llm fallback: error status, answering without it');
      return undefined;
    }
    const raw = await res.text();
    if (raw.length > 100_000) throw new Error('reply too large');
    const reply = Reply.safeParse(JSON.parse(raw));
    if (!reply.success) {
      log.warn({ ms: Date.now() - started }, 'llm fallback: reply without a valid tool call, answering without it');
      return undefined;
    }
    const args = Choice.safeParse(JSON.parse(reply.data.choices[0]!.message.tool_calls[0]!.function.arguments));
    if (!args.success) {
      log.warn({ ms: Date.now() - started }, 'llm fallback: tool arguments failed validation, answering without it');
      return undefined;
    }
    log.info({ intent: args.data.intent, ms: Date.now() - started }, 'llm fallback answered');
    return intentFromChoice(args.data, ref);
  } catch (err) {
    // Timeout, connection refused, malformed JSON: the bot answers as if no model were set.
    log.warn({ err: (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message, ms: Date.now() - started }, 'llm fallback failed, answering without it');
    return undefined;
  }
}

