/** Composition for the job side: Redis, queues, mailer and the handler context. Used by `worker`, `cycle` and `demo`. */
import type { Redis } from 'ioredis';
import { openQueues, type Queues } from '../../jobs/enqueue.js';
import type { HandlerContext } from '../../jobs/handlers/context.js';
import { createMailer, type Mailer } from '../outreach/mailer.js';
import { modelSettings } from '../services/model-settings.js';
import { outreachSettings } from '../services/outreach-settings.js';
import { resolveUnsubscribeSecret } from '../services/unsubscribe.js';
import { ExternalError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import { openRedis, type Runtime } from './runtime.js';

export interface JobsRuntime {
  redis: Redis;
  queues: Queues;
  mailer: Mailer;
  ctx: HandlerContext;
  close(): Promise<void>;
}

/**
 * Connects to Redis, failing with a message that says how to start one. While it probes, the
 * connection's `error` events are kept (ioredis prints a stack per retry to stderr when nobody
 * listens); once connected they go to `log`, as warnings.
 */
export async function connectRedis(url: string, log?: Logger): Promise<Redis> {
  const redis = openRedis(url);
  let connected = false;
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
    if (connected) log?.warn({ err: err.message }, 'redis connection error');
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within 3 s${lastError ? `: ${(lastError as NodeJS.ErrnoException).code ?? lastError.message}` : ''}`)), 3000))),
    ]);
  } catch (e) {
    redis.disconnect();
    const u = new URL(url);
    const port = u.port || '6379';
    throw new ExternalError(
      `Redis is not reachable at ${u.protocol}//${u.host} (${(e as Error).message}). Start one with:\n  redis-server --daemonize yes --port ${port} --save "" --appendonly no\nor point REDIS_URL at yours.`,
      true,
    );
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  return redis;
}

export async function openJobsRuntime(rt: Runtime, opts: { now?: () => Date } = {}): Promise<JobsRuntime> {
  const outreach = outreachSettings(rt.config);
  outreach.unsubscribeSecret = await resolveUnsubscribeSecret(rt.db, outreach.unsubscribeSecret);
  const redis = await connectRedis(rt.config.REDIS_URL, rt.log);
  const queues = openQueues(redis, rt.config.QUEUE_PREFIX);
  const mailer = createMailer({ smtpUrl: rt.config.SMTP_URL, outboxDir: rt.config.OUTBOX_DIR, log: rt.log.child({ module: 'mailer' }) });
  const ctx: HandlerContext = { db: rt.db, log: rt.log, now: opts.now ?? (() => new Date()), mailer, queues, model: modelSettings(rt.config), outreach };
  if (rt.config.SLACK_BOT_TOKEN && rt.config.SLACK_DIGEST_CHANNEL) {
    // The daily digest goes out from the worker that finishes the rescore.
    const [{ webApi }, { postDigest }] = await Promise.all([import('@slack/bolt'), import('../bot/digest.js')]);
    const client = new webApi.WebClient(rt.config.SLACK_BOT_TOKEN, { slackApiUrl: rt.config.SLACK_API_URL });
    ctx.afterRescore = async (runId) => {
      await postDigest(
        { db: rt.db, client, log: rt.log.child({ module: 'digest' }), channel: rt.config.SLACK_DIGEST_CHANNEL, lang: rt.config.SLACK_DIGEST_LANG, currency: rt.config.COUPON_CURRENCY, conversionWindowDays: rt.config.CONVERSION_WINDOW_DAYS, now: ctx.now },
        runId,
      );
    };
  }
  return {
    redis,
    queues,
    mailer,
    ctx,
    close: async () => {
      await queues.close();
      await mailer.close();
      redis.disconnect();
    },
  };
}
