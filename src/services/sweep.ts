/** What must have a delivery job: outbox rows not yet done. The jobs layer re-adds them by their deterministic ids. */
import type { Queryable } from '../db/client.js';
import { pendingDeliveries, pendingOutreach } from '../store/outreach.js';

export interface SweepWork {
  emails: { id: number; scheduledAt: Date; attempts: number }[];
  webhooks: { id: number; nextAttemptAt: Date }[];
}

export async function sweepWork(q: Queryable, limit = 10_000): Promise<SweepWork> {
  return { emails: await pendingOutreach(q, limit), webhooks: await pendingDeliveries(q, limit) };
}
