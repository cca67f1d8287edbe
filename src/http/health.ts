/**
 * `GET /healthz` (the process answers) and `GET /readyz` (every dependency answers).
 *
 * `/readyz` is public (load balancers probe it), so a failing check answers a generic reason
 * ("database unreachable"); the driver's own message, which names hosts, ports and database
 * users, goes to the log only.
 */
import express, { type Router } from 'express';
import type { Logger } from '../logger.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** What `/readyz` says about a failing check, by its name; others say `<name> not ready`. */
const REASONS: Readonly<Record<string, string>> = {
  database: 'database unreachable',
  migrations: 'database migrations not applied',
  redis: 'redis unreachable',
};

class CheckTimeout extends Error {}

export function healthRouter(checks: readonly ReadinessCheck[], started: number, now: () => number, log?: Logger, opts: { timeoutMs?: number } = {}): Router {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round((now() - started) / 1000) });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        const t = now();
        try {
          await withTimeout(c.check(), timeoutMs, `${c.name} did not answer within ${timeoutMs / 1000} s`);
          return [c.name, { ok: true, ms: now() - t }] as const;
        } catch (err) {
          log?.warn({ check: c.name, err }, 'readiness check failed');
          // A timeout is our own words; anything else may carry the driver's.
          const error = err instanceof CheckTimeout ? err.message : (REASONS[c.name] ?? `${c.name} not ready`);
          return [c.name, { ok: false, ms: now() - t, error }] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new CheckTimeout(message)), ms)))]).finally(() => clearTimeout(t));
}
