/**
 * The HTTP side, composed: webhooks, health, unsubscribe, the queue dashboard (and the Slack
 * bot when configured) on the public port; metrics on a listener of their own (METRICS_HOST,
 * loopback by default). `serve` runs it alone; `demo` runs it beside the workers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { openQueues, type Queues } from '../../jobs/enqueue.js';
import { configWarnings } from '../config.js';
import { assertMigrated } from '../db/migrate.js';
import { dashboardRouter } from '../http/dashboard.js';
import { createMetrics, metricsUrlOf, startMetricsServer, type Metrics } from '../http/metrics.js';
import { buildHttpApp } from '../http/server.js';
import { outreachSettings } from '../services/outreach-settings.js';
import { resolveUnsubscribeSecret } from '../services/unsubscribe.js';
import type { Runtime } from './runtime.js';

export interface RunningServer {
  url: string;
  server: Server;
  metrics: Metrics;
  /** Where /metrics answers (its own listener), or null with METRICS_ENABLED=false. */
  metricsUrl: string | null;
  queues: Queues;
  close(): Promise<void>;
}

export interface StartHttpOptions {
  /** Default PORT. 0 (any free port: tests, demo, simulate) also puts metrics on a free port unless `metricsPort` says otherwise. */
  port?: number;
  host?: string;
  /** Default METRICS_PORT, or 0 when `port` is 0 (a throwaway server must not take the fixed metrics port). */
  metricsPort?: number;
  metrics?: Metrics;
  now?: () => number;
}

export async function startHttp(rt: Runtime, opts: StartHttpOptions = {}): Promise<RunningServer> {
  for (const warning of configWarnings(rt.config)) rt.log.warn(warning);
  // Readiness pings on a fail-fast connection; the dashboard's queues on a patient one.
  const probe = new Redis(rt.config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
  probe.on('error', () => {});
  const redis = new Redis(rt.config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', (err) => rt.log.warn({ err: err.message }, 'redis connection error'));
  const queues = openQueues(redis, rt.config.QUEUE_PREFIX);
  for (const q of [queues.scoring, queues.delivery]) q.on('error', () => {}); // the redis listener above reports it
  const metrics = opts.metrics ?? createMetrics(rt.db);
  const signing = await resolveUnsubscribeSecret(rt.db, outreachSettings(rt.config).unsubscribeSecret);
  // Every configured secret verifies (rotation); the first, the one links are signed with, leads.
  const unsubscribeSecrets = rt.config.UNSUBSCRIBE_SECRETS.length > 0 ? rt.config.UNSUBSCRIBE_SECRETS : [signing];
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
    unsubscribeSecret: unsubscribeSecrets,
    checks: [
      { name: 'database', check: async () => void (await rt.db.query('select 1')) },
      { name: 'migrations', check: () => assertMigrated(rt.db) },
      { name: 'redis', check: async () => void (await probe.ping()) },
    ],
    hooks: { onRejected: metrics.onRejected, onIngested: metrics.onIngested, onIgnored: metrics.onIgnored },
    extra: [
      ...(bot?.router ? [bot.router] : []),
      dashboardRouter([queues.scoring, queues.delivery], { user: rt.config.ADMIN_USER, password: rt.config.ADMIN_PASSWORD }),
    ],
  });
  // Metrics first: a taken metrics port fails start-up before the public port opens.
  const metricsServer = rt.config.METRICS_ENABLED
    ? await startMetricsServer(metrics, { host: rt.config.METRICS_HOST, port: opts.metricsPort ?? (opts.port === 0 ? 0 : rt.config.METRICS_PORT), token: rt.config.METRICS_TOKEN }).catch(async (err: unknown) => {
        await queues.close();
        redis.disconnect();
        probe.disconnect();
        throw err;
      })
    : null;
  const metricsUrl = metricsServer ? metricsUrlOf(metricsServer) : null;
  if (metricsServer) rt.log.info({ metricsUrl, token: Boolean(rt.config.METRICS_TOKEN) }, 'metrics listening');
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
    metricsUrl,
    queues,
    close: async () => {
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((r) => metricsServer.close(() => r()));
      }
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
