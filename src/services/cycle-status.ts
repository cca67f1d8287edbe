/** Where a cycle is: what `rekindle cycle --wait` and the demo follow. */
import type { Queryable } from '../db/client.js';

export interface CycleStatus {
  cycleId: string;
  exists: boolean;
  status: string | null;
  rescoreRunId: number | null;
  scoringDone: boolean;
  scored: number;
  recommendRunId: number | null;
  planned: number | null;
  holdout: number | null;
  skipped: Record<string, number>;
  /** Who picked the offers (`tiers` or `uplift`), and why the tiers did when the uplift model could not. */
  policy: string | null;
  policyFallback: string | null;
  outreach: { planned: number; sending: number; sent: number; failed: number; due: number; delayed: number };
  webhooks: { pending: number; delivered: number; dead: number };
}

export async function cycleStatus(q: Queryable, cycleId: string, now: Date = new Date()): Promise<CycleStatus> {
  const [c] = await q.query<{ status: string; rescore_run_id: number | null; recommend_run_id: number | null; planned: number | null; holdout: number | null; skipped: Record<string, number> | null; run_status: string | null; scored: number; policy: string | null; policy_fallback: string | null }>(
    `select c.status, c.rescore_run_id, c.recommend_run_id, c.planned, c.holdout, c.skipped, c.policy, c.policy_fallback, m.status as run_status,
            (select count(*)::int from user_scores s where s.model_run_id = c.rescore_run_id) as scored
     from cycles c left join model_runs m on m.id = c.rescore_run_id where c.id = $1`,
    [cycleId],
  );
  const [o] = await q.query<Record<string, number>>(
    `select count(*) filter (where state = 'planned')::int as planned, count(*) filter (where state = 'sending')::int as sending,
            count(*) filter (where state = 'sent')::int as sent, count(*) filter (where state = 'failed')::int as failed,
            count(*) filter (where state in ('planned','sending') and scheduled_at <= $2)::int as due,
            count(*) filter (where state = 'planned' and scheduled_at > $2)::int as delayed
     from outreach where cycle_id = $1 and not holdout`,
    [cycleId, now.toISOString()],
  );
  const [w] = await q.query<Record<string, number>>(
    `select count(*) filter (where d.state = 'pending')::int as pending, count(*) filter (where d.state = 'delivered')::int as delivered,
            count(*) filter (where d.state = 'dead')::int as dead
     from webhook_deliveries d
     where d.message_id in (select 'outreach-' || id || '-planned' from outreach where cycle_id = $1)
        or d.message_id in (select 'coupon-' || c.code from coupons c join outreach o on o.id = c.outreach_id where o.cycle_id = $1)`,
    [cycleId],
  );
  return {
    cycleId,
    exists: Boolean(c),
    status: c?.status ?? null,
    rescoreRunId: c?.rescore_run_id ?? null,
    scoringDone: c?.run_status === 'done',
    scored: c?.scored ?? 0,
    recommendRunId: c?.recommend_run_id ?? null,
    planned: c?.planned ?? null,
    holdout: c?.holdout ?? null,
    skipped: c?.skipped ?? {},
    policy: c?.policy ?? null,
    policyFallback: c?.policy_fallback ?? null,
    outreach: { planned: o!.planned!, sending: o!.sending!, sent: o!.sent!, failed: o!.failed!, due: o!.due!, delayed: o!.delayed! },
    webhooks: { pending: w!.pending!, delivered: w!.delivered!, dead: w!.dead! },
  };
}

/** A cycle is finished when it is planned and nothing due is left to deliver (quiet-hours rows may wait). */
export function cycleFinished(s: CycleStatus): boolean {
  return s.status === 'planned' && s.outreach.due === 0 && s.webhooks.pending === 0;
}
