/** Delivery jobs: emails in batches of due rows (one row alone for retries and delays), one POST per webhook delivery row, and the sweep. */
import { deliverEmail, deliverEmailBatch, deliverWebhook } from '../../src/services/deliver.js';
import { sweepWork } from '../../src/services/sweep.js';
import { jobId } from '../catalog.js';
import { enqueueBulk, type Queues } from '../enqueue.js';
import type { Handler } from './context.js';

/** Due rows per `outreach.send-batch` job. */
export const EMAIL_BATCH = 50;

/**
 * Enqueues delivery for outreach rows: rows due now (`scheduledAt` ≤ now) that were never tried
 * go in batches of {@link EMAIL_BATCH} by id order, each job named by its first and last id;
 * rows scheduled later (quiet hours) or already tried (a retry keeps its backoff) get the
 * single-email job with a delay.
 */
export async function enqueueEmails(queues: Queues, rows: readonly { id: number; scheduledAt: Date; attempts?: number }[], now: number): Promise<void> {
  const due = rows.filter((o) => o.scheduledAt.getTime() <= now && !o.attempts).map((o) => o.id).sort((a, b) => a - b);
  const later = rows.filter((o) => o.scheduledAt.getTime() > now || o.attempts);
  const batches: number[][] = [];
  for (let i = 0; i < due.length; i += EMAIL_BATCH) batches.push(due.slice(i, i + EMAIL_BATCH));
  await enqueueBulk(queues, 'outreach.send-batch', batches.map((ids) => ({ data: { outreachIds: ids }, opts: { jobId: jobId.emails(ids) } })));
  await enqueueBulk(queues, 'outreach.send-email', later.map((o) => ({ data: { outreachId: o.id }, opts: { jobId: jobId.email(o.id), delay: Math.max(0, o.scheduledAt.getTime() - now) } })));
}

export const sendEmail: Handler<'outreach.send-email'> = async (data, _job, ctx) => ({ outcome: await deliverEmail(ctx, ctx.outreach, data.outreachId) });

export const sendEmailBatch: Handler<'outreach.send-batch'> = async (data, _job, ctx) => {
  const r = await deliverEmailBatch(ctx, ctx.outreach, data.outreachIds);
  // A crash before this line leaves released rows planned: the sweep re-adds them.
  await enqueueBulk(ctx.queues, 'outreach.send-email', r.retry.map((o) => ({ data: { outreachId: o.outreachId }, opts: { jobId: jobId.email(o.outreachId), delay: o.delayMs } })));
  return { sent: r.sent, alreadyDone: r.alreadyDone, skipped: r.skipped, failed: r.failed, retried: r.retry.length };
};

export const deliverWebhookJob: Handler<'webhook.deliver'> = async (data, _job, ctx) => ({ outcome: await deliverWebhook(ctx, ctx.outreach, data.deliveryId) });

/** Re-adds a job for every outbox row not done; rows whose job still exists are no-ops (same id). */
export const sweep: Handler<'outreach.sweep'> = async (_data, _job, ctx) => {
  const work = await sweepWork(ctx.db);
  const now = ctx.now().getTime();
  await enqueueEmails(ctx.queues, work.emails, now);
  await enqueueBulk(ctx.queues, 'webhook.deliver', work.webhooks.map((w) => ({ data: { deliveryId: w.id }, opts: { jobId: jobId.webhook(w.id), delay: Math.max(0, w.nextAttemptAt.getTime() - now) } })));
  if (work.emails.length || work.webhooks.length) ctx.log.info({ emails: work.emails.length, webhooks: work.webhooks.length }, 'sweep re-enqueued outbox rows');
  return { emails: work.emails.length, webhooks: work.webhooks.length };
};
