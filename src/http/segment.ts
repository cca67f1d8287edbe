/**
 * `POST /webhooks/segment`: Segment Spec messages (one call, or `{ "batch": [...] }`) from
 * Segment's Webhooks destination, RudderStack or Customer.io CDP. Authenticated the way
 * Segment signs: `X-Signature` is the hex HMAC-SHA1 of the raw body keyed with the shared
 * secret (SEGMENT_WEBHOOK_SECRET, several for rotation). Mapped by domain/segment.ts, stored
 * as source `segment`, idempotent on `messageId`. A body is all or nothing: a message that
 * maps to an invalid event fails it with a 400 naming the message and field; messages that
 * map to nothing (page calls, track names we do not map) answer 200 and are counted.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Response, type Router } from 'express';
import { describeIssues, Id, MAX_BATCH, UserProfile, type FieldIssue, type UserRecord } from '../domain/events.js';
import { mapSegmentMessage, type SegmentMappedType } from '../domain/segment.js';
import type { Logger } from '../logger.js';
import type { Ingestor } from '../services/ingest.js';
import { sendError } from './errors.js';
import { answerIngestError, refuseInvalid, validateMapped } from './mapped-ingest.js';
import { asGate, readGatedBody, type BodyGate } from './webhooks.js';

export const SEGMENT_SOURCE = 'segment';

export interface SegmentRouteOptions {
  ingestor: Ingestor;
  /** SEGMENT_WEBHOOK_SECRET: every shared secret accepted (rotation). */
  secrets: readonly string[];
  eventMap: Readonly<Record<string, SegmentMappedType>>;
  maxBodyBytes: number;
  /** Bodies read at once (INGEST_MAX_INFLIGHT); beyond it a delivery gets 503 with Retry-After (the sender retries). */
  maxInFlight: number | BodyGate;
  log: Logger;
  onRejected?: (reason: string) => void;
  onIngested?: (inserted: number, duplicates: number) => void;
  onIgnored?: (source: string, type: string, reason: string) => void;
}

const HEX_SHA1 = /^[0-9a-f]{40}$/i;

/** Whether `signature` is the hex HMAC-SHA1 of `body` under any of `secrets` (every one checked, constant time). */
export function verifySegmentSignature(body: Buffer, signature: string, secrets: readonly string[]): boolean {
  if (!HEX_SHA1.test(signature)) return false;
  const offered = Buffer.from(signature.toLowerCase(), 'hex');
  let ok = false;
  for (const s of secrets) if (timingSafeEqual(createHmac('sha1', s).update(body).digest(), offered)) ok = true;
  return ok;
}

/** Message types a body may hold; anything else is not the Segment Spec. */
const CALLS = new Set(['track', 'identify', 'page', 'screen', 'group', 'alias']);

export function segmentRouter(o: SegmentRouteOptions): Router {
  const router = express.Router();
  const log = o.log.child({ module: 'segment' });
  const ingest = { ingestor: o.ingestor, source: SEGMENT_SOURCE, log, onRejected: o.onRejected, onIngested: o.onIngested };
  const gate = asGate(o.maxInFlight);
  router.post('/webhooks/segment', async (req, res, next) => {
    if (o.secrets.length === 0) {
      req.resume();
      o.onRejected?.('not_configured');
      sendError(res, 503, 'not_configured', 'no SEGMENT_WEBHOOK_SECRET is configured, so no Segment message can be verified');
      return;
    }
    const signature = req.headers['x-signature'];
    if (typeof signature !== 'string' || signature === '') {
      req.resume();
      o.onRejected?.('signature');
      sendError(res, 401, 'bad_signature', 'missing X-Signature header (hex HMAC-SHA1 of the body with the shared secret)');
      return;
    }
    // The signature needs the body: bodies held at once are capped, with /webhooks/events.
    const body = await readGatedBody(gate, req, res, next, o.maxBodyBytes, o.onRejected);
    if (body === null) return;
    try {
      await handle(res, body, signature);
    } finally {
      gate.leave();
    }
  });
  const handle = async (res: Response, body: Buffer, signature: string): Promise<void> => {
    if (!verifySegmentSignature(body, signature, o.secrets)) {
      o.onRejected?.('signature');
      sendError(res, 401, 'bad_signature', 'X-Signature is not the HMAC-SHA1 of the body under any configured SEGMENT_WEBHOOK_SECRET');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      o.onRejected?.('bad_json');
      sendError(res, 400, 'bad_json', `the request body is not valid JSON: ${(e as Error).message}`);
      return;
    }
    const root = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    const isBatch = root !== null && Array.isArray(root.batch);
    const messages: unknown[] = isBatch ? (root!.batch as unknown[]) : [parsed];
    if (messages.length === 0 || messages.length > MAX_BATCH) {
      o.onRejected?.('schema');
      sendError(res, 400, 'invalid_event', `batch: must hold 1 to ${MAX_BATCH} messages, got ${messages.length}`);
      return;
    }
    const issues: FieldIssue[] = [];
    const mapped: { label: string; event: Record<string, unknown> }[] = [];
    const profiles: UserRecord[] = [];
    let ignored = 0;
    messages.forEach((m, i) => {
      const label = isBatch ? `batch[${i}]` : 'message';
      if (typeof m !== 'object' || m === null || Array.isArray(m) || !CALLS.has(String((m as { type?: unknown }).type))) {
        issues.push({ field: `${label}.type`, message: `must be one of ${[...CALLS].join(', ')} (a Segment Spec call)` });
        return;
      }
      const msg = m as Record<string, unknown>;
      const r = mapSegmentMessage(msg, { eventMap: o.eventMap });
      if ('ignored' in r) {
        ignored++;
        o.onIgnored?.(SEGMENT_SOURCE, String(msg.type), r.ignored);
        return;
      }
      if (r.events.length > 0 && (typeof msg.messageId !== 'string' || msg.messageId.trim() === '')) {
        issues.push({ field: `${label}.messageId`, message: 'is required: events are stored once per messageId' });
        return;
      }
      for (const event of r.events) mapped.push({ label, event });
      if (r.profile) {
        const id = Id.safeParse(r.profile.user_id);
        const traits = UserProfile.safeParse(r.profile.traits);
        if (!id.success) issues.push(...describeIssues(id.error, `${label}.userId`));
        else if (!traits.success) issues.push(...describeIssues(traits.error, `${label}.traits`, r.profile.traits));
        else {
          const t = traits.data;
          profiles.push({ id: id.data, email: t.email, name: t.name, locale: t.locale, timezone: t.timezone, signupAt: t.signup_at ? new Date(t.signup_at) : undefined });
        }
      }
    });
    const v = validateMapped(mapped);
    if (!v.ok) issues.push(...v.issues);
    if (issues.length > 0) {
      log.warn({ issues: issues.slice(0, 5) }, 'a segment body failed validation');
      refuseInvalid(res, ingest, issues.slice(0, 50));
      return;
    }
    if (!v.ok) return;
    if (v.events.length === 0 && profiles.length === 0) {
      res.status(200).json({ received: messages.length, inserted: 0, duplicates: 0, profiles: 0, ignored });
      return;
    }
    try {
      const result = await o.ingestor.ingest(v.events, SEGMENT_SOURCE, profiles);
      o.onIngested?.(result.inserted, result.duplicates);
      res.status(200).json({ received: messages.length, inserted: result.inserted, duplicates: result.duplicates, profiles: profiles.length, ignored });
    } catch (err) {
      answerIngestError(res, ingest, err, v.events.length + profiles.length);
    }
  };
  return router;
}
