/** `GET /healthz` (the process answers) and `GET /readyz` (every dependency answers). */
import express, { type Router } from 'express';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export function healthRouter(checks: readonly ReadinessCheck[], started: number, now: () => number): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round((now() - started) / 1000) });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        const t = now();
        try {
          await withTimeout(c.check(), 2000, `${c.name} did not answer within 2 s`);
          return [c.name, { ok: true, ms: now() - t }] as const;
        } catch (e) {
          return [c.name, { ok: false, ms: now() - t, error: (e as Error).message }] as const;
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
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}
