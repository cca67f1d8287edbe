/** Delivery jobs: one email per outreach row, one POST per webhook delivery row, and the sweep. */
import { deliverEmail, deliverWebhook } from '../../src/services/deliver.js';
import { sweepWork } from '../../src/services/sweep.js';
import { jobId } from '../catalog.js';
import { enqueueBulk } from '../enqueue.js';
import type { Handler } from './context.js';

export const sendEmail: Handler<'outreach.send-email'> = async (data, _job, ctx) => ({ outcome: await deliverEmail(ctx, ctx.outreach, data.outreachId) });

export const deliverWebhookJob: Handler<'webhook.deliver'> = async (data, _job, ctx) => ({ outcome: await deliverWebhook(ctx, ctx.outreach, data.deliveryId) });

/** Re-adds a job for every outbox row not done; rows whose job still exists are no-ops (same id). */
export const sweep: Handler<'outreach.sweep'> = async (_data, _job, ctx) => {
  const work = await sweepWork(ctx.db);
  const now = ctx.now().getTime();
  await enqueueBulk(ctx.queues, 'outreach.send-email', work.emails.map((o) => ({ data: { outreachId: o.id }, opts: { jobId: jobId.email(o.id), delay: Math.max(0, o.scheduledAt.getTime() - now) } })));
  await enqueueBulk(ctx.queues, 'webhook.deliver', work.webhooks.map((w) => ({ data: { deliveryId: w.id }, opts: { jobId: jobId.webhook(w.id), delay: Math.max(0, w.nextAttemptAt.getTime() - now) } })));
  if (work.emails.length || work.webhooks.length) ctx.log.info({ emails: work.emails.length, webhooks: work.webhooks.length }, 'sweep re-enqueued outbox rows');
  return { emails: work.emails.length, webhooks: work.webhooks.length };
};
