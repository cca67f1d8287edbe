/** The express app: inbound webhooks and health now; unsubscribe, metrics, the queue dashboard and Slack mount here too. */
import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../logger.js';
import { errorHandler, sendError } from './errors.js';

export interface AppOptions {
  log: Logger;
  routers: Router[];
}

/**
 * Gives every request an id (the caller's `x-request-id` when it is sane, else a new one),
 * echoes it, and logs one line when the answer is sent: method, path (no query: tokens live
 * there), status, duration. Bodies, headers and addresses are never logged.
 */
function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    const started = performance.now();
    res.on('finish', () => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      const line = { reqId: id, method: req.method, path: req.path, status: res.statusCode, ms };
      if (res.statusCode >= 500) log.error(line, 'request failed');
      else if (res.statusCode >= 400) log.info(line, 'request refused');
      else log.debug(line, 'request');
    });
    next();
  };
}

export function createApp(o: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETags on API answers: hashing every JSON body costs the webhook endpoint ~5% for nothing.
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.use(requestLog(o.log));
  for (const r of o.routers) app.use(r);
  app.use((req, res) => sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`));
  app.use(errorHandler(o.log));
  return app;
}
