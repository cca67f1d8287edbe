/** Real BullMQ workers in the test process, on a queue prefix of the test's own. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { openQueues, type Queues } from '../../jobs/enqueue.js';
import type { HandlerContext } from '../../jobs/handlers/context.js';
import { handlers } from '../../jobs/handlers/index.js';
import { startWorkers, type Workers } from '../../jobs/worker.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { silentLogger } from '../../src/logger.js';
import { createMailer, type Mailer } from '../../src/outreach/mailer.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { outreachSettings, type OutreachSettings } from '../../src/services/outreach-settings.js';

export const uniquePrefix = () => `rkt${randomBytes(4).toString('hex')}`;

export interface TestJobs {
  redis: Redis;
  queues: Queues;
  mailer: Mailer;
  ctx: HandlerContext;
  workers: Workers | null;
  start(): void;
  close(): Promise<void>;
}

export function testJobs(o: {
  db: Database;
  smtpUrl: string;
  now?: () => Date;
  redisUrl?: string;
  env?: Record<string, string>;
  outreach?: Partial<OutreachSettings>;
  deliveryConcurrency?: number;
}): TestJobs {
  const prefix = uniquePrefix();
  const redis = new Redis(o.redisUrl ?? inject('redisUrl'), { maxRetriesPerRequest: null });
  redis.on('error', () => {}); // a test that kills its Redis sees the reconnect attempts; the assertions tell what matters
  const queues = openQueues(redis, prefix);
  // Test receivers listen on loopback: private webhook targets allowed unless a test says otherwise.
  const config = loadConfig({ DELIVERY_BACKOFF_MS: '50', DELIVERY_LEASE_SECONDS: '5', QUIET_HOURS: 'off', WEBHOOK_ALLOW_PRIVATE: 'true', ...o.env });
  const mailer = createMailer({ smtpUrl: o.smtpUrl, outboxDir: 'outbox-test', log: silentLogger });
  const outreach = { ...outreachSettings(config), unsubscribeSecret: 'test-unsubscribe-secret-0123456789', ...o.outreach };
  const ctx: HandlerContext = { db: o.db, log: silentLogger, now: o.now ?? (() => new Date()), mailer, queues, model: { ...modelSettings(config), chunkSize: 400 }, outreach };
  const t: TestJobs = {
    redis,
    queues,
    mailer,
    ctx,
    workers: null,
    start() {
      t.workers = startWorkers({ connection: redis, prefix, concurrency: { scoring: 1, delivery: o.deliveryConcurrency ?? 4 }, handlers, ctx, lockSeconds: 5 });
    },
    async close() {
      await t.workers?.close();
      await queues.close();
      await mailer.close();
      redis.disconnect();
    },
  };
  return t;
}
