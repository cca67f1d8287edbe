/** `POST /webhooks/events`: signed Standard Webhooks deliveries of one event or a batch. */
import express, { type Request, type Response, type Router } from 'express';
import { parseEventBody } from '../domain/events.js';
import { verify } from '../domain/webhook-signature.js';
import type { Ingestor } from '../services/ingest.js';
import type { Logger } from '../logger.js';
import { sendError } from './errors.js';

export interface WebhookRouteOptions {
  ingestor: Ingestor;
  secrets: readonly string[];
  toleranceSec: number;
  maxBodyBytes: number;
  source: string;
  now: () => number;
  log: Logger;
  /** Called with the reason whenever a delivery is refused (metrics hook). */
  onRejected?: (reason: string) => void;
  onIngested?: (inserted: number, duplicates: number) => void;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;\s*charset\s*=\s*"?utf-?8"?\s*)?$/i;

/**
 * Reads the raw body up to `limit` bytes. A lean stand-in for express.raw on the hot path:
 * resolves with the body, or with null after answering 413/415 itself (a body over the limit
 * is refused as soon as the Content-Length says so, or as soon as it grows past it).
 */
function readRawBody(req: Request, res: Response, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    sendError(res, 413, 'payload_too_large', `the request body is larger than the limit (${limit} bytes)`);
    return Promise.resolve(null);
  }
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding !== 'identity') {
    req.resume();
    sendError(res, 415, 'unsupported_encoding', `Content-Encoding ${encoding} is not supported; send the body uncompressed`);
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        sendError(res, 413, 'payload_too_large', `the request body is larger than the limit (${limit} bytes)`);
        req.resume();
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(Object.assign(err, { type: 'request.aborted' }));
    });
  });
}

export function webhookRouter(o: WebhookRouteOptions): Router {
  const router = express.Router();
  const reject = (reason: string) => o.onRejected?.(reason);

  // One handler, not a chain: every next() through express's router costs the hot path.
  router.post('/webhooks/events', async (req, res, next) => {
    const type = req.headers['content-type'];
    if (!type || !JSON_TYPE.test(type)) {
      reject('content_type');
      sendError(res, 415, 'unsupported_media_type', `Content-Type must be application/json, got ${type ? `"${type}"` : 'none'}`);
      return;
    }
    let body: Buffer | null;
    try {
      body = await readRawBody(req, res, o.maxBodyBytes);
    } catch (err) {
      next(err);
      return;
    }
    if (body === null) return;
    if (o.secrets.length === 0) {
      reject('not_configured');
      sendError(res, 503, 'not_configured', 'no WEBHOOK_SECRETS are configured, so no delivery can be verified');
      return;
    }
    const header = (n: string) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v[0] : v;
    };
    const v = verify(o.secrets, { id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature') }, body, o.now(), o.toleranceSec);
    if (!v.ok) {
      reject('signature');
      sendError(res, 401, 'bad_signature', v.reason);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      reject('bad_json');
      sendError(res, 400, 'bad_json', `the request body is not valid JSON: ${(e as Error).message}`);
      return;
    }
    const r = parseEventBody(parsed);
    if (!r.ok) {
      reject('schema');
      const first = r.issues[0]!;
      sendError(res, 400, 'invalid_event', `${first.field}: ${first.message}`, { issues: r.issues });
      return;
    }
    try {
      const result = await o.ingestor.ingest(r.events, o.source);
      o.onIngested?.(result.inserted, result.duplicates);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(result));
    } catch (err) {
      o.log.error({ err, events: r.events.length }, 'ingest failed');
      reject('storage');
      sendError(res, 503, 'storage_unavailable', 'the events could not be stored; retry the delivery');
    }
  });
  return router;
}
