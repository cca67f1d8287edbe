/**
 * Delivers one outbox row: an email for an outreach row, or a signed POST for a webhook
 * delivery row. The row is claimed with a lease first (so it is sent by one sender at a
 * time), sent, then marked. A crash between the SMTP server accepting a message and the row
 * being marked sent is the one window that can repeat a message; every message carries a
 * Message-ID derived from the row id so receivers can drop the repeat.
 */
import type { Mail } from 'nodemailer';
import { ExternalError } from '../domain/errors.js';
import { signUnsubscribeToken } from '../domain/unsubscribe-token.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { RecommendationReason } from '../ml/recommend.js';
import { buildMessage, type Mailer } from '../outreach/mailer.js';
import { renderEmail } from '../outreach/templates.js';
import { nextAttemptDelay, sendWebhook } from '../outreach/webhook-sender.js';
import {
  claimDelivery,
  claimOutreach,
  claimOutreachBatch,
  failOutreach,
  isOutreachPaused,
  markOutreachSent,
  outreachContext,
  outreachContexts,
  type OutreachContext,
  recordAttempt,
  releaseOutreach,
} from '../store/outreach.js';
import { itemClickUrl } from './click.js';
import type { OutreachSettings } from './outreach-settings.js';

/** Thrown to have the job retried after `delayMs` (the jobs layer maps it to BullMQ's backoff). */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

export type EmailOutcome = 'sent' | 'already_done' | 'skipped' | 'failed';

export interface DeliverDeps {
  db: Database;
  log: Logger;
  mailer: Mailer;
  now: () => Date;
  random?: () => number;
}

/** The Message-ID of an outreach row: the same on every attempt, so receivers can dedupe. */
export function outreachMessageId(id: number, from: string): string {
  const domain = /@([^>\s]+)/.exec(from)?.[1] ?? 'rekindle.local';
  return `<outreach-${id}@${domain}>`;
}

/**
 * The message for one claimed outreach row: rendered in the user's locale, with tracked item
 * links and a signed unsubscribe link. Both delivery paths (one row, a batch) build it here.
 */
export function renderOutreachEmail(d: Pick<DeliverDeps, 'now'>, s: OutreachSettings, ctx: OutreachContext, to: string, messageId: string): Mail.Options {
  const outreachId = ctx.id;
  const unsubscribeUrl = `${s.publicBaseUrl}/unsubscribe?token=${signUnsubscribeToken(ctx.userId, s.unsubscribeSecret)}`;
  // Item pages are linked through the signed click redirect (`/r/<token>`), never directly.
  const links = { publicBaseUrl: s.publicBaseUrl, secret: s.unsubscribeSecret };
  const content = renderEmail({
    kind: ctx.channel === 'coupon' && ctx.coupon ? 'coupon' : 'winback',
    locale: ctx.locale,
    timeZone: ctx.timezone,
    user: { name: ctx.name, email: to },
    recommendations: ctx.recommendations.map((r) => ({ itemId: r.itemId, title: r.title, reason: r.reason as RecommendationReason, url: itemClickUrl(links, outreachId, r) })),
    ...(ctx.coupon ? { coupon: ctx.coupon } : {}),
    // Titles of the items reasons point at ("because you bought 《X》").
    relatedTitles: Object.fromEntries(
      ctx.recommendations.flatMap((r) => {
        const id = (r.reason as { itemId?: string }).itemId;
        return id && r.reasonTitle ? [[id, r.reasonTitle]] : [];
      }),
    ),
    unsubscribeUrl,
    now: d.now(),
  });
  return buildMessage({ from: s.from, to, content, messageId, unsubscribeUrl, unsubscribePostUrl: unsubscribeUrl });
}

export async function deliverEmail(d: DeliverDeps, s: OutreachSettings, outreachId: number): Promise<EmailOutcome> {
  if (await isOutreachPaused(d.db)) throw new RetryLaterError('outreach is paused', Math.max(60_000, s.backoffMs));
  const claim = await claimOutreach(d.db, outreachId, s.leaseSeconds);
  if (!claim.claimed) {
    // Sent, failed or skipped already: nothing to do. Leased by another sender: look again when
    // the lease runs out — if that sender died, this job finishes the row.
    if (claim.state === 'sending') throw new RetryLaterError(`outreach ${outreachId} is leased by another sender`, s.leaseSeconds * 1000);
    return 'already_done';
  }
  const ctx = await outreachContext(d.db, outreachId);
  if (!ctx) return 'already_done';
  if (ctx.unsubscribed || !ctx.email) {
    await failOutreach(d.db, outreachId, ctx.unsubscribed ? 'unsubscribed before delivery' : 'no email address');
    return 'skipped';
  }
  const messageId = outreachMessageId(outreachId, s.from);
  try {
    await d.mailer.send(renderOutreachEmail(d, s, ctx, ctx.email, messageId));
  } catch (e) {
    const retryable = e instanceof ExternalError && e.retryable;
    const message = (e as Error).message;
    if (retryable && claim.attempts < s.maxAttempts) {
      await releaseOutreach(d.db, outreachId, message);
      throw new RetryLaterError(message, nextAttemptDelay(claim.attempts, s.backoffMs, s.backoffMs * 64, d.random ?? Math.random));
    }
    await failOutreach(d.db, outreachId, message);
    d.log.warn({ outreachId, attempts: claim.attempts, err: e }, 'email failed for good');
    return 'failed';
  }
  // The window: the server has the message; a crash before this line repeats it (same Message-ID).
  await markOutreachSent(d.db, outreachId, messageId, d.now());
  return 'sent';
}

export interface BatchOutcome {
  sent: number;
  alreadyDone: number;
  skipped: number;
  failed: number;
  /** Rows to try again one by one (the single-email job), after `delayMs`: released for a retryable failure, or leased by another sender. */
  retry: { outreachId: number; delayMs: number }[];
}

/**
 * Delivers many outreach rows with {@link deliverEmail}'s guarantee and per-row outcomes, at a
 * fraction of its queries and jobs: the pause check once, one claim and one context query for
 * the batch, then per row a render, the send and the mark. A retryable failure puts its row
 * back to planned and asks the caller to retry it alone (`retry`); a permanent one fails it.
 *
 * Rows are sent one after another, each marked before the next is handed over, so the
 * exactly-once window stays what it is for one row: one UPDATE after one accepted message.
 * Throughput comes from running several batch jobs at once (the worker's delivery concurrency
 * fills the pool), not from many messages of one batch in flight: a worker killed with a whole
 * batch in the pool would repeat every message the server had accepted and not yet seen marked.
 */
export async function deliverEmailBatch(d: DeliverDeps, s: OutreachSettings, outreachIds: readonly number[]): Promise<BatchOutcome> {
  if (await isOutreachPaused(d.db)) throw new RetryLaterError('outreach is paused', Math.max(60_000, s.backoffMs));
  const out: BatchOutcome = { sent: 0, alreadyDone: 0, skipped: 0, failed: 0, retry: [] };
  const claims = await claimOutreachBatch(d.db, outreachIds, s.leaseSeconds);
  const claimed: { id: number; attempts: number }[] = [];
  for (const c of claims) {
    if (c.claimed) claimed.push({ id: c.id, attempts: c.attempts });
    // Leased by another sender (or taken by one while this claim waited): look again when the lease runs out.
    else if (c.state === 'sending' || c.state === 'planned') out.retry.push({ outreachId: c.id, delayMs: s.leaseSeconds * 1000 });
    else out.alreadyDone++;
  }
  const contexts = await outreachContexts(
    d.db,
    claimed.map((c) => c.id),
  );
  for (const { id, attempts } of claimed) {
    const ctx = contexts.get(id);
    if (!ctx) {
      out.alreadyDone++;
      continue;
    }
    if (ctx.unsubscribed || !ctx.email) {
      await failOutreach(d.db, id, ctx.unsubscribed ? 'unsubscribed before delivery' : 'no email address');
      out.skipped++;
      continue;
    }
    const messageId = outreachMessageId(id, s.from);
    try {
      await d.mailer.send(renderOutreachEmail(d, s, ctx, ctx.email, messageId));
    } catch (e) {
      const retryable = e instanceof ExternalError && e.retryable;
      const message = (e as Error).message;
      if (retryable && attempts < s.maxAttempts) {
        await releaseOutreach(d.db, id, message);
        out.retry.push({ outreachId: id, delayMs: nextAttemptDelay(attempts, s.backoffMs, s.backoffMs * 64, d.random ?? Math.random) });
        continue;
      }
      await failOutreach(d.db, id, message);
      out.failed++;
      d.log.warn({ outreachId: id, attempts, err: e }, 'email failed for good');
      continue;
    }
    // The window: the server has the message; a crash before this line repeats it (same Message-ID).
    await markOutreachSent(d.db, id, messageId, d.now());
    out.sent++;
  }
  return out;
}

export type WebhookOutcome = 'delivered' | 'busy' | 'dead';
// 'busy' for webhooks: the row is no longer pending (delivered or dead by another sender).

export async function deliverWebhook(d: DeliverDeps, s: OutreachSettings, deliveryId: number): Promise<WebhookOutcome> {
  const row = await claimDelivery(d.db, deliveryId, s.leaseSeconds);
  if (!row) {
    const [cur] = await d.db.query<{ state: string }>('select state from webhook_deliveries where id = $1', [deliveryId]);
    if (cur?.state === 'pending') throw new RetryLaterError(`webhook delivery ${deliveryId} is leased by another sender`, s.leaseSeconds * 1000);
    return 'busy';
  }
  const res = await sendWebhook({
    url: row.url,
    secret: row.secret,
    messageId: row.messageId,
    eventType: row.eventType,
    payload: row.payload,
    now: () => d.now().getTime(),
    // A private target is refused (retryable: false), so it is dead-lettered below on its first attempt.
    allowPrivate: s.allowPrivateWebhooks ?? false,
  });
  if (res.ok) {
    await recordAttempt(d.db, deliveryId, row.attempts, { status: res.status, durationMs: res.durationMs }, { state: 'delivered', nextAttemptAt: null });
    return 'delivered';
  }
  if (res.retryable && row.attempts < s.maxAttempts) {
    const delay = nextAttemptDelay(row.attempts, s.backoffMs, s.backoffMs * 64, d.random ?? Math.random);
    await recordAttempt(d.db, deliveryId, row.attempts, { status: res.status, durationMs: res.durationMs, error: res.error }, { state: 'pending', nextAttemptAt: new Date(d.now().getTime() + delay) });
    throw new RetryLaterError(`webhook ${deliveryId} attempt ${row.attempts} failed: ${res.error ?? res.status}`, delay);
  }
  await recordAttempt(d.db, deliveryId, row.attempts, { status: res.status, durationMs: res.durationMs, error: res.error }, { state: 'dead', nextAttemptAt: null });
  d.log.warn({ deliveryId, attempts: row.attempts, status: res.status }, 'webhook dead-lettered');
  return 'dead';
}
