/** Builds the HTTP app from config and opened dependencies; `serve` and `demo` and the tests all use this. */
import type { Express, Router } from 'express';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { createIngestor, type Ingestor } from '../services/ingest.js';
import { createApp } from './app.js';
import { healthRouter, type ReadinessCheck } from './health.js';
import { segmentRouter } from './segment.js';
import { stripeRouter } from './stripe.js';
import { bodyGate, webhookRouter } from './webhooks.js';
import { unsubscribeRouter } from './unsubscribe.js';
import { redirectRouter } from './redirect.js';

export interface HttpDeps {
  config: Config;
  db: Database;
  log: Logger;
  checks: ReadinessCheck[];
  now?: () => number;
  /**
   * The key unsubscribe links are signed with (see resolveUnsubscribeSecret), or every accepted
   * one during a rotation (the first signs); click links derive theirs from the same list.
   */
  unsubscribeSecret?: string | readonly string[];
  /** More routers to mount (Slack, metrics, dashboard). */
  extra?: Router[];
  hooks?: {
    onRejected?: (reason: string) => void;
    onIngested?: (inserted: number, duplicates: number) => void;
    /** A Stripe or Segment event answered 200 but not stored (an unmapped type…): counted. */
    onIgnored?: (source: string, type: string, reason: string) => void;
  };
}

export function buildHttpApp(d: HttpDeps): { app: Express; ingestor: Ingestor } {
  const now = d.now ?? Date.now;
  const secrets = d.unsubscribeSecret === undefined ? [] : typeof d.unsubscribeSecret === 'string' ? [d.unsubscribeSecret] : [...d.unsubscribeSecret];
  const hasSecret = secrets.some((s) => s.length > 0);
  const log = d.log.child({ module: 'http' });
  const ingestor = createIngestor({ db: d.db, log: log.child({ module: 'ingest' }), maxInFlight: Math.max(1, Math.min(4, d.config.DATABASE_POOL_SIZE - 1)) });
  // One cap on bodies held at once for every signed endpoint, not one per endpoint.
  const bodies = bodyGate(d.config.INGEST_MAX_INFLIGHT);
  const app = createApp({
    log,
    // The hot route first: every router in front of it costs each request a match attempt.
    routers: [
      webhookRouter({
        ingestor,
        secrets: d.config.WEBHOOK_SECRETS,
        toleranceSec: d.config.WEBHOOK_TOLERANCE_SECONDS,
        maxBodyBytes: d.config.INGEST_MAX_BODY_BYTES,
        maxInFlight: bodies,
        source: d.config.INGEST_SOURCE,
        now,
        log,
        ...d.hooks,
      }),
      stripeRouter({
        ingestor,
        secrets: d.config.STRIPE_WEBHOOK_SECRET,
        maxBodyBytes: d.config.INGEST_MAX_BODY_BYTES,
        maxInFlight: bodies,
        now,
        log,
        ...d.hooks,
      }),
      segmentRouter({
        ingestor,
        secrets: d.config.SEGMENT_WEBHOOK_SECRET,
        eventMap: d.config.SEGMENT_EVENT_MAP,
        maxBodyBytes: d.config.INGEST_MAX_BODY_BYTES,
        maxInFlight: bodies,
        log,
        ...d.hooks,
      }),
      healthRouter(d.checks, now(), now, log),
      ...(hasSecret ? [unsubscribeRouter({ db: d.db, secret: secrets, publicBaseUrl: d.config.PUBLIC_BASE_URL, now })] : []),
      // Click links are signed with a key derived from the unsubscribe secret (domain/click-token.ts).
      ...(hasSecret ? [redirectRouter({ db: d.db, secret: secrets, utmSource: d.config.UTM_SOURCE, now, log })] : []),
      ...(d.extra ?? []),
    ],
  });
  return { app, ingestor };
}
