/**
 * The HTTP side, composed: webhooks, health, unsubscribe, metrics, the queue dashboard (and
 * the Slack bot when configured). `serve` runs it alone; `demo` runs it beside the workers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { openQueues, type Queues } from '../../jobs/enqueue.js';
import { assertMigrated } from '../db/migrate.js';
import { dashboardRouter } from '../http/dashboard.js';
import { createMetrics, metricsRouter, type Metrics } from '../http/metrics.js';
import { buildHttpApp } from '../http/server.js';
import { outreachSettings } from '../services/outreach-settings.js';
import { resolveUnsubscribeSecret } from '../services/unsubscribe.js';
import type { Runtime } from './runtime.js';

export interface RunningServer {
  url: string;
  server: Server;
  metrics: Metrics;
  queues: Queues;
  close(): Promise<void>;
}

export async function startHttp(rt: Runtime, opts: { port?: number; host?: string; metrics?: Metrics; now?: () => number } = {}): Promise<RunningServer> {
  // Readiness pings on a fail-fast connection; the dashboard's queues on a patient one.
  const probe = new Redis(rt.config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
  probe.on('error', () => {});
  const redis = new Redis(rt.config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', (err) => rt.log.warn({ err: err.message }, 'redis connection error'));
  const queues = openQueues(redis, rt.config.QUEUE_PREFIX);
  for (const q of [queues.scoring, queues.delivery]) q.on('error', () => {}); // the redis listener above reports it
  const metrics = opts.metrics ?? createMetrics(rt.db);
  const unsubscribeSecret = await resolveUnsubscribeSecret(rt.db, outreachSettings(rt.config).unsubscribeSecret);
  // The Slack bot, when a bot token is configured: HTTP mode mounts /slack/events here.
  let bot: import('../bot/app.js').SlackBot | null = null;
  if (rt.config.SLACK_BOT_TOKEN) {
    const { createSlackBot } = await import('../bot/app.js');
    const { enqueue, cycleIdFor } = await import('../../jobs/enqueue.js');
    const { jobId } = await import('../../jobs/catalog.js');
    bot = createSlackBot({
      config: rt.config,
      db: rt.db,
      log: rt.log,
      queues: {
        enqueueRescore: async () => {
          const cycleId = cycleIdFor(new Date(), 'slack');
          await enqueue(queues, 'cycle.start', { cycleId }, { jobId: jobId.cycle(cycleId) });
          return cycleId;
        },
      },
    });
  }
  const { app, ingestor } = buildHttpApp({
    config: rt.config,
    db: rt.db,
    log: rt.log,
    ...(opts.now ? { now: opts.now } : {}),
    unsubscribeSecret,
    checks: [
      { name: 'database', check: async () => void (await rt.db.query('select 1')) },
      { name: 'migrations', check: () => assertMigrated(rt.db) },
      { name: 'redis', check: async () => void (await probe.ping()) },
    ],
    hooks: { onRejected: metrics.onRejected, onIngested: metrics.onIngested },
    extra: [
      ...(bot?.router ? [bot.router] : []),
      ...(rt.config.METRICS_ENABLED ? [metricsRouter(metrics)] : []),
      dashboardRouter([queues.scoring, queues.delivery], { user: rt.config.ADMIN_USER, password: rt.config.ADMIN_PASSWORD }),
    ],
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(opts.port ?? rt.config.PORT, opts.host ?? rt.config.HOST, r));
  const { port } = server.address() as AddressInfo;
  if (bot) {
    // A Slack outage or a revoked token must not take the webhooks down with it.
    await bot.start().catch((err: unknown) => rt.log.error({ err }, 'the Slack bot could not start'));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    metrics,
    queues,
    close: async () => {
      await new Promise<void>((r) => {
        server.closeIdleConnections();
        server.close(() => r());
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      await ingestor.drain();
      await bot?.stop().catch(() => {});
      await queues.close();
      redis.disconnect();
      probe.disconnect();
    },
  };
}
