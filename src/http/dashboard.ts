/** The BullMQ dashboard (@bull-board) at /admin/queues, behind HTTP basic auth. */
import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type RequestHandler, type Router } from 'express';
import type { Queue } from 'bullmq';

export const DASHBOARD_PATH = '/admin/queues';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function basicAuth(user: string, password: string, realm = 'Rekindle admin'): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const i = decoded.indexOf(':');
    if (i > 0 && same(decoded.slice(0, i), user) && same(decoded.slice(i + 1), password)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).json({ error: { code: 'unauthorized', message: 'the queue dashboard needs the admin user and password' } });
  };
}

/** Without ADMIN_USER/ADMIN_PASSWORD the dashboard is not served at all. */
export function dashboardRouter(queues: Queue[], auth: { user?: string | undefined; password?: string | undefined }): Router {
  const router = express.Router();
  if (!auth.user || !auth.password) {
    router.use(DASHBOARD_PATH, (_req, res) => {
      res.status(404).json({ error: { code: 'disabled', message: 'the queue dashboard is off: set ADMIN_USER and ADMIN_PASSWORD to turn it on' } });
    });
    return router;
  }
  const adapter = new ExpressAdapter();
  adapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: adapter, options: { uiConfig: { boardTitle: 'Rekindle jobs' } } });
  router.use(DASHBOARD_PATH, basicAuth(auth.user, auth.password), adapter.getRouter() as Router);
  return router;
}
