/** The express app: inbound webhooks and health now; unsubscribe, metrics, the queue dashboard and Slack mount here too. */
import express, { type Express, type Router } from 'express';
import type { Logger } from '../logger.js';
import { errorHandler, sendError } from './errors.js';

export interface AppOptions {
  log: Logger;
  routers: Router[];
}

export function createApp(o: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETags on API answers: hashing every JSON body costs the webhook endpoint ~5% for nothing.
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  for (const r of o.routers) app.use(r);
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`));
  app.use(errorHandler(o.log));
  return app;
}
