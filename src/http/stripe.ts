/**
 * `POST /webhooks/stripe`: Stripe's signed events, verified with the official `stripe` package
 * (`webhooks.constructEvent`, Stripe's default tolerance of 300 s), each of the configured
 * signing secrets tried in turn (rotation), mapped by domain/stripe.ts and ingested as source
 * `stripe`, idempotent on Stripe's event id. Types we do not map answer 200 and are counted.
 */
import express, { type Response, type Router } from 'express';
import Stripe from 'stripe';
import { mapStripeEvent, type StripeEventLike } from '../domain/stripe.js';
import type { Logger } from '../logger.js';
import type { Ingestor } from '../services/ingest.js';
import { sendError } from './errors.js';
import { ingestAndAnswer, refuseInvalid, validateMapped } from './mapped-ingest.js';
import { asGate, readGatedBody, type BodyGate } from './webhooks.js';

export const STRIPE_SOURCE = 'stripe';

export interface StripeRouteOptions {
  ingestor: Ingestor;
  /** STRIPE_WEBHOOK_SECRET: every `whsec_…` accepted (rotation). */
  secrets: readonly string[];
  maxBodyBytes: number;
  /** Bodies read at once (INGEST_MAX_INFLIGHT); beyond it a delivery gets 503 with Retry-After (the sender retries). */
  maxInFlight: number | BodyGate;
  now: () => number;
  log: Logger;
  onRejected?: (reason: string) => void;
  onIngested?: (inserted: number, duplicates: number) => void;
  /** An event answered 200 but not stored: its source, type and why. */
  onIgnored?: (source: string, type: string, reason: string) => void;
}

/** Verifies `body` against each secret; the event, or the reason the last one gave. */
function verify(body: Buffer, header: string, secrets: readonly string[], now: number): { ok: true; event: Stripe.Event } | { ok: false; reason: string } {
  let reason: string | null = null;
  for (const secret of secrets) {
    try {
      return { ok: true, event: Stripe.webhooks.constructEvent(body, header, secret, undefined, undefined, now) };
    } catch (e) {
      const message = (e as Error).message;
      // A secret whose signature matched says what else is wrong (the timestamp): keep its word.
      if (reason === null || !/^No signatures found/.test(message)) reason = message;
      if (!(e instanceof Stripe.errors.StripeSignatureVerificationError)) break;
    }
  }
  return { ok: false, reason: reason ?? 'no signing secret matched' };
}

export function stripeRouter(o: StripeRouteOptions): Router {
  const router = express.Router();
  const log = o.log.child({ module: 'stripe' });
  const ingest = { ingestor: o.ingestor, source: STRIPE_SOURCE, log, onRejected: o.onRejected, onIngested: o.onIngested };
  const gate = asGate(o.maxInFlight);
  router.post('/webhooks/stripe', async (req, res, next) => {
    if (o.secrets.length === 0) {
      req.resume();
      o.onRejected?.('not_configured');
      sendError(res, 503, 'not_configured', 'no STRIPE_WEBHOOK_SECRET is configured, so no Stripe event can be verified');
      return;
    }
    const header = req.headers['stripe-signature'];
    if (typeof header !== 'string' || header === '') {
      req.resume();
      o.onRejected?.('signature');
      sendError(res, 401, 'bad_signature', 'missing Stripe-Signature header');
      return;
    }
    // The signature needs the body: bodies held at once are capped, with /webhooks/events.
    const body = await readGatedBody(gate, req, res, next, o.maxBodyBytes, o.onRejected);
    if (body === null) return;
    try {
      await handle(res, body, header);
    } finally {
      gate.leave();
    }
  });
  const handle = async (res: Response, body: Buffer, header: string): Promise<void> => {
    const v = verify(body, header, o.secrets, o.now());
    if (!v.ok) {
      o.onRejected?.('signature');
      sendError(res, 401, 'bad_signature', `the Stripe signature does not verify: ${v.reason}`);
      return;
    }
    const evt = v.event as unknown as StripeEventLike;
    const mapped = mapStripeEvent(evt);
    if ('ignored' in mapped) {
      o.onIgnored?.(STRIPE_SOURCE, evt.type, mapped.ignored);
      log.debug({ stripeEvent: evt.id, type: evt.type, reason: mapped.ignored }, 'stripe event not stored');
      res.status(200).json({ received: 1, stored: 0, ignored: mapped.ignored, type: evt.type });
      return;
    }
    const r = validateMapped(mapped.events.map((event) => ({ label: evt.id, event })));
    if (!r.ok) {
      log.warn({ stripeEvent: evt.id, type: evt.type, issues: r.issues }, 'a mapped stripe event failed validation');
      refuseInvalid(res, ingest, r.issues);
      return;
    }
    await ingestAndAnswer(res, ingest, r.events, { type: evt.type });
  };
  return router;
}
