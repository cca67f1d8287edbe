/**
 * The zod schema of an {@link Intent}, for intents that come back from outside the parser: the
 * value of a "did you mean" button (Slack returns it as we sent it, but it is still input) and
 * an LLM's choice. Bounds are the parser's: 1–{@link MAX_N} users, 1–{@link MAX_DAYS} days.
 */
import { z } from 'zod';
import { RISK_TIERS } from '../domain/risk.js';
import { RFM_SEGMENTS } from '../ml/rfm.js';
import { MAX_DAYS, MAX_N, MAX_RUNS, type Intent } from './intent.js';

const segment = z.enum(RFM_SEGMENTS);
const tier = z.enum(RISK_TIERS);
const n = z.number().int().min(1).max(MAX_N);
const days = z.number().int().min(1).max(MAX_DAYS);
const ref = z.object({ kind: z.enum(['id', 'email']), value: z.string().min(1).max(254) }).strict();

export const IntentSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('help') }).strict(),
  z.object({ kind: z.literal('overview') }).strict(),
  z.object({ kind: z.literal('segments') }).strict(),
  z.object({ kind: z.literal('segment'), segment, n }).strict(),
  z.object({ kind: z.literal('at_risk'), n, segment: segment.optional(), tier: tier.optional() }).strict(),
  z.object({ kind: z.literal('count'), tier: tier.optional(), segment: segment.optional() }).strict(),
  z.object({ kind: z.literal('user'), ref }).strict(),
  z.object({ kind: z.literal('why'), ref }).strict(),
  z.object({ kind: z.literal('recommend'), ref }).strict(),
  z.object({ kind: z.literal('campaigns'), days }).strict(),
  z.object({ kind: z.literal('uplift') }).strict(),
  z.object({ kind: z.literal('roi'), days }).strict(),
  z.object({ kind: z.literal('model') }).strict(),
  z.object({ kind: z.literal('segment_change') }).strict(),
  z.object({ kind: z.literal('risk_trend'), runs: z.number().int().min(2).max(MAX_RUNS) }).strict(),
  z.object({ kind: z.literal('compare_segments'), a: segment, b: segment }).strict(),
  z.object({ kind: z.literal('rescore') }).strict(),
  z.object({ kind: z.literal('pause_outreach') }).strict(),
  z.object({ kind: z.literal('resume_outreach') }).strict(),
]);

/** A "did you mean" button's value: the intent and the language to answer in. */
export const ChoiceSchema = z.object({ lang: z.enum(['en', 'zh']), intent: IntentSchema }).strict();
export type Choice = { lang: 'en' | 'zh'; intent: Intent };

/** Parses a button value; undefined when it is not a valid choice (malformed JSON or schema). */
export function parseChoice(value: string): Choice | undefined {
  if (value.length > 2000) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return undefined; // not JSON: the caller reports the bad button
  }
  const r = ChoiceSchema.safeParse(raw);
  return r.success ? (r.data as Choice) : undefined;
}
