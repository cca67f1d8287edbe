/**
 * Plans a cycle's outreach: every high/medium-risk user goes through the policy (consent,
 * frequency cap, holdout, quiet hours) and the outcome is written — outreach rows, coupons,
 * and outbound webhook rows — in ONE transaction, unique per (user, cycle). Delivery jobs are
 * enqueued by the caller after the commit; whatever they miss, the sweep finds.
 */
import { randomBytes } from 'node:crypto';
import { decide, type OutreachDecision } from '../domain/outreach-policy.js';
import type { Database, Queryable } from '../db/client.js';
import type { Logger } from '../logger.js';
import { enqueueWebhookEvents, insertPlanned, isOutreachPaused, type PlannedRow, type WebhookEvent } from '../store/outreach.js';
import { userSeqRange } from '../store/features.js';
import type { OutreachSettings } from './outreach-settings.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 60 random bits in Crockford base32: unguessable, unambiguous to read out loud. */
export function couponCode(): string {
  const b = randomBytes(8);
  let n = b.readBigUInt64BE() >> 4n;
  let s = '';
  for (let i = 0; i < 12; i++) {
    s = CROCKFORD[Number(n & 31n)]! + s;
    n >>= 5n;
  }
  return `RK-${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

export interface PlanResult {
  cycleId: string;
  paused: boolean;
  planned: number;
  holdout: number;
  skipped: Record<string, number>;
  /** New rows to deliver now or later (not holdout). */
  toDeliver: { id: number; scheduledAt: Date }[];
  webhookDeliveries: number[];
}

interface Candidate {
  user_id: string;
  risk_tier: string;
  churn_probability: number;
  model_run_id: number;
  email: string | null;
  unsubscribed: boolean;
  timezone: string | null;
  last_sent: string | null;
}

const CHUNK = 50_000;
/** start === end disables quiet hours in the policy. */
const NO_QUIET_HOURS = { start: '00:00', end: '00:00' };

export async function planOutreach(d: { db: Database; log: Logger; now: () => Date }, s: OutreachSettings, cycleId: string): Promise<PlanResult> {
  const now = d.now();
  const result: PlanResult = { cycleId, paused: false, planned: 0, holdout: 0, skipped: {}, toDeliver: [], webhookDeliveries: [] };
  if (await isOutreachPaused(d.db)) {
    d.log.warn({ cycleId }, 'outreach is paused: nothing planned');
    return { ...result, paused: true };
  }
  const { min, max } = await userSeqRange(d.db);
  await d.db.transaction(async (tx: Queryable) => {
    for (let from = min; from <= max; from += CHUNK) {
      const candidates = await tx.query<Candidate>(
        `select s.user_id, s.risk_tier, s.churn_probability, s.model_run_id, u.email, u.unsubscribed_at is not null as unsubscribed, u.timezone,
                -- The cap counts holdout rows at their would-be time too, so both groups are capped alike.
                (select max(coalesce(o.sent_at, o.scheduled_at)) from outreach o
                  where o.user_id = s.user_id and o.campaign = $3 and (o.holdout or o.state in ('planned','sending','sent'))) as last_sent
         from user_scores s join users u on u.id = s.user_id
         where u.seq >= $1 and u.seq < $2`,
        [from, from + CHUNK, s.campaign],
      );
      const rows: PlannedRow[] = [];
      let runId: number | null = null;
      for (const c of candidates) {
        const decision: OutreachDecision = decide(
          { userId: c.user_id, tier: c.risk_tier as 'high' | 'medium' | 'low', email: c.email, unsubscribed: c.unsubscribed, timeZone: c.timezone, lastMessageAt: c.last_sent ? new Date(c.last_sent) : null },
          { now, campaignSalt: s.campaign, holdoutFraction: s.holdoutFraction, frequencyCapDays: s.frequencyCapDays, quiet: s.quiet ?? NO_QUIET_HOURS, paused: false },
        );
        if (decision.action === 'skip') {
          result.skipped[decision.reason] = (result.skipped[decision.reason] ?? 0) + 1;
          continue;
        }
        runId = Number(c.model_run_id);
        const holdout = decision.action === 'holdout';
        rows.push({
          userId: c.user_id,
          tier: c.risk_tier,
          channel: decision.channel,
          holdout,
          scheduledAt: decision.scheduledAt,
          churnProbability: Number(c.churn_probability),
          coupon:
            decision.channel === 'coupon' && !holdout
              ? { code: couponCode(), kind: s.coupon.kind, value: s.coupon.value, currency: s.coupon.kind === 'amount' ? s.coupon.currency : null, expiresAt: new Date(now.getTime() + s.coupon.expiryDays * 86_400_000) }
              : null,
        });
      }
      const inserted = await insertPlanned(tx, cycleId, s.campaign, runId, rows);
      const byUser = new Map(rows.map((r) => [r.userId, r]));
      const events: WebhookEvent[] = [];
      for (const r of inserted) {
        if (r.holdout) {
          result.holdout++;
          continue;
        }
        result.planned++;
        result.toDeliver.push({ id: r.id, scheduledAt: r.scheduledAt });
        const plan = byUser.get(r.userId)!;
        events.push({
          type: 'outreach.planned',
          messageId: `outreach-${r.id}-planned`,
          payload: { outreach_id: r.id, user_id: r.userId, cycle_id: cycleId, tier: plan.tier, channel: plan.channel, scheduled_at: r.scheduledAt.toISOString(), churn_probability: plan.churnProbability },
        });
        if (plan.coupon) {
          events.push({
            type: 'coupon.issued',
            messageId: `coupon-${plan.coupon.code}`,
            payload: { code: plan.coupon.code, user_id: r.userId, kind: plan.coupon.kind, value: plan.coupon.value, currency: plan.coupon.currency, expires_at: plan.coupon.expiresAt.toISOString(), outreach_id: r.id },
          });
        }
      }
      result.webhookDeliveries.push(...(await enqueueWebhookEvents(tx, events)));
    }
    await tx.query(
      `insert into cycles (id, planned, holdout, skipped, planned_at) values ($1, $2, $3, $4::text::jsonb, now())
       on conflict (id) do update set planned = coalesce(cycles.planned, 0) + $2, holdout = coalesce(cycles.holdout, 0) + $3, skipped = $4::text::jsonb, planned_at = now()`,
      [cycleId, result.planned, result.holdout, JSON.stringify(result.skipped)],
    );
  });
  d.log.info({ cycleId, planned: result.planned, holdout: result.holdout, skipped: result.skipped, webhooks: result.webhookDeliveries.length }, 'outreach planned');
  return result;
}
