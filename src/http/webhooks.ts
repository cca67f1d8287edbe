/** `POST /webhooks/events`: signed Standard Webhooks deliveries of one event or a batch. */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { parseEventBody } from '../domain/events.js';
import { verify } from '../domain/webhook-signature.js';
import type { Ingestor } from '../services/ingest.js';
import type { Logger } from '../logger.js';
import { dataExceptionCode, sendError } from './errors.js';

export interface WebhookRouteOptions {
  ingestor: Ingestor;
  secrets: readonly string[];
  toleranceSec: number;
  maxBodyBytes: number;
  /** Bodies read (and held until answered) at once — a number, or a gate shared with the other signed endpoints; beyond it a delivery gets 503 with Retry-After. */
  maxInFlight: number | BodyGate;
  source: string;
  now: () => number;
  log: Logger;
  /** Called with the reason whenever a delivery is refused (metrics hook). */
  onRejected?: (reason: string) => void;
  onIngested?: (inserted: number, duplicates: number) => void;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;\s*charset\s*=\s*"?utf-?8"?\s*)?$/i;
const UNIX_SECONDS = /^\d{1,12}$/;

/**
 * What can be checked of a delivery's signature before its body is read: the headers are there,
 * the timestamp is Unix seconds inside the replay window, the signature has a `v1,` entry.
 * Returns why not, in the words `verify` uses, or null. The HMAC itself needs the body.
 */
function headerProblem(id: string | undefined, timestamp: string | undefined, signature: string | undefined, now: number, toleranceSec: number): string | null {
  if (!id) return 'missing webhook-id header';
  if (!timestamp) return 'missing webhook-timestamp header';
  if (!signature) return 'missing webhook-signature header';
  if (!UNIX_SECONDS.test(timestamp)) return 'webhook-timestamp must be Unix seconds';
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSec) return `webhook-timestamp is outside the ${toleranceSec}s replay window`;
  if (!signature.includes('v1,')) return 'webhook-signature has no v1 signature';
  return null;
}

/**
 * Reads the raw body up to `limit` bytes. A lean stand-in for express.raw on the hot path:
 * resolves with the body, or with null after answering 413/415 itself (a body over the limit
 * is refused as soon as the Content-Length says so, or as soon as it grows past it).
 */
export function readRawBody(req: Request, res: Response, limit: number): Promise<Buffer | null> {
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
    // A client that goes away mid-body may close without an 'error': its in-flight slot must come back.
    req.on('close', () => {
      if (done) return;
      done = true;
      reject(Object.assign(new Error('the request was closed before its body ended'), { type: 'request.aborted' }));
    });
  });
}

/**
 * How many request bodies the signed endpoints hold at once. One gate shared by every router
 * keeps the bound INGEST_MAX_INFLIGHT × INGEST_MAX_BODY_BYTES for the whole process; a bare
 * number gives a router a gate of its own.
 */
export interface BodyGate {
  readonly max: number;
  tryEnter(): boolean;
  leave(): void;
}

export function bodyGate(max: number): BodyGate {
  let held = 0;
  return {
    max,
    tryEnter: () => (held < max ? (held++, true) : false),
    leave: () => {
      held--;
    },
  };
}

export const asGate = (g: number | BodyGate): BodyGate => (typeof g === 'number' ? bodyGate(g) : g);

/**
 * Reads a signed endpoint's body inside the gate: past it, a 503 with Retry-After (the body is
 * drained, never buffered); a read error goes to `next`. Returns null when the request has
 * been answered. The caller must call `gate.leave()` once it is done with a non-null body.
 */
export async function readGatedBody(
  gate: BodyGate,
  req: Request,
  res: Response,
  next: NextFunction,
  maxBodyBytes: number,
  onRejected?: (reason: string) => void,
): Promise<Buffer | null> {
  if (!gate.tryEnter()) {
    req.resume();
    res.setHeader('retry-after', '1');
    onRejected?.('busy');
    sendError(res, 503, 'busy', `more than ${gate.max} deliveries are being read; retry shortly`);
    return null;
  }
  try {
    const body = await readRawBody(req, res, maxBodyBytes);
    if (body === null) gate.leave();
    return body;
  } catch (err) {
    gate.leave();
    next(err);
    return null;
  }
}

export function webhookRouter(o: WebhookRouteOptions): Router {
  const router = express.Router();
  const reject = (reason: string) => o.onRejected?.(reason);
  const header = (req: Request, n: string) => {
    const v = req.headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  /** Answers without reading the body: it is drained and dropped, never buffered. */
  const refuse = (req: Request, res: Response, reason: string, status: number, code: string, message: string) => {
    reject(reason);
    req.resume();
    sendError(res, status, code, message);
  };
  const gate = asGate(o.maxInFlight);

  // One handler, not a chain: every next() through express's router costs the hot path.
  router.post('/webhooks/events', async (req, res, next) => {
    const type = req.headers['content-type'];
    if (!type || !JSON_TYPE.test(type)) {
      refuse(req, res, 'content_type', 415, 'unsupported_media_type', `Content-Type must be application/json, got ${type ? `"${type}"` : 'none'}`);
      return;
    }
    if (o.secrets.length === 0) {
      refuse(req, res, 'not_configured', 503, 'not_configured', 'no WEBHOOK_SECRETS are configured, so no delivery can be verified');
      return;
    }
    // Everything but the HMAC is checked before a byte of the body is read: an unsigned client
    // cannot make us buffer up to INGEST_MAX_BODY_BYTES.
    const id = header(req, 'webhook-id');
    const timestamp = header(req, 'webhook-timestamp');
    const signature = header(req, 'webhook-signature');
    const now = o.now();
    const problem = headerProblem(id, timestamp, signature, now, o.toleranceSec);
    if (problem) {
      refuse(req, res, 'signature', 401, 'bad_signature', problem);
      return;
    }
    // Bodies held at once are capped: memory stays under maxInFlight × maxBodyBytes.
    const body = await readGatedBody(gate, req, res, next, o.maxBodyBytes, reject);
    if (body === null) return;
    try {
      const v = verify(o.secrets, { id, timestamp, signature }, body, now, o.toleranceSec);
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
        const sqlState = dataExceptionCode(err);
        if (sqlState) {
          // A value the schema let through but PostgreSQL refuses: the same on every retry.
          o.log.warn({ sqlState, err: (err as Error).message, events: r.events.length }, 'the database refused a value in a delivery');
          reject('schema');
          sendError(res, 400, 'invalid_event', `the database refused a value in these events (SQLSTATE ${sqlState}: ${(err as Error).message}); retrying will not help`);
          return;
        }
        o.log.error({ err, events: r.events.length }, 'ingest failed');
        reject('storage');
        sendError(res, 503, 'storage_unavailable', 'the events could not be stored; retry the delivery');
      }
    } finally {
      gate.leave();
    }
  });
  return router;
}
