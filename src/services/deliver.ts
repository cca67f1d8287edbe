/**
 * Delivers one outbox row: an email for an outreach row, or a signed POST for a webhook
 * delivery row. The row is claimed with a lease first (so it is sent by one sender at a
 * time), sent, then marked. A crash between the SMTP server accepting a message and the row
 * being marked sent is the one window that can repeat a message; every message carries a
 * Message-ID derived from the row id so receivers can drop the repeat.
 */
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
  failOutreach,
  isOutreachPaused,
  markOutreachSent,
  outreachContext,
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
  const unsubscribeUrl = `${s.publicBaseUrl}/unsubscribe?token=${signUnsubscribeToken(ctx.userId, s.unsubscribeSecret)}`;
  // Item pages are linked through the signed click redirect (`/r/<token>`), never directly.
  const links = { publicBaseUrl: s.publicBaseUrl, secret: s.unsubscribeSecret };
  const messageId = outreachMessageId(outreachId, s.from);
  try {
    const content = renderEmail({
      kind: ctx.channel === 'coupon' && ctx.coupon ? 'coupon' : 'winback',
      locale: ctx.locale,
      timeZone: ctx.timezone,
      user: { name: ctx.name, email: ctx.email },
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
    await d.mailer.send(buildMessage({ from: s.from, to: ctx.email, content, messageId, unsubscribeUrl, unsubscribePostUrl: unsubscribeUrl }));
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
