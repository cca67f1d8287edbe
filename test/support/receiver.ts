/**
 * A webhook receiver for tests: a real `node:http` server on 127.0.0.1, port 0, that records
 * every request and answers from a script (e.g. 500 then 200), plus a check of Standard
 * Webhooks signatures with the `standardwebhooks` package, an implementation independent of
 * ours.
 *
 * @example
 * const rx = await startReceiver();
 * rx.respondWith(500, 200);            // first request 500, second 200, then the default
 * await deliver(…rx.url…);
 * const [first] = await rx.waitForRequests(1);
 * expect(verifyStandardWebhook(first, TEST_SECRET).type).toBe('coupon.issued');
 * await rx.close();
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request as received. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. `/hooks/a?x=1`. */
  path: string;
  /** Lower-cased header names, as Node gives them. */
  headers: IncomingHttpHeaders;
  /** The raw body as text (verify signatures over exactly this). */
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  /** What the receiver answered (after the script ran). */
  status: number;
  /** `Date.now()` when the body had arrived. */
  receivedAt: number;
}

/** How to answer one request: a status, or a status with a body and/or a delay first. */
export type ScriptedResponse = number | { status: number; body?: string; delayMs?: number; headers?: Record<string, string> };

/** Answers a request that the queued script does not cover. */
export type Responder = (req: ReceivedRequest, index: number) => ScriptedResponse;

export interface ReceiverOptions {
  /** Answer when no scripted response is queued; default 200 with body `ok`. */
  respond?: Responder;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>`; any path is accepted (paths are recorded). */
  url: string;
  /** Every request, in arrival order. Clear with `requests.length = 0`. */
  readonly requests: ReceivedRequest[];
  /**
   * Queues the next answers, consumed one per request in order; after they run out the
   * default responder answers again. `respondWith(500, 500, 200)`, or objects with a body
   * or a `delayMs` (longer than the sender's timeout to simulate a hang).
   */
  respondWith(...responses: ScriptedResponse[]): void;
  /** Replaces the default responder. */
  setResponder(respond: Responder): void;
  /**
   * Resolves once at least `count` requests arrived (all of them, oldest first).
   * @throws Error after `timeoutMs` (default 5 000) saying how many arrived
   */
  waitForRequests(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Stops listening and drops open connections (also ones held by a `delayMs`). */
  close(): Promise<void>;
}

const DEFAULT: Responder = () => ({ status: 200, body: 'ok' });

/** Starts a scriptable, recording HTTP receiver on a free loopback port. */
export async function startReceiver(opts: ReceiverOptions = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  let respond = opts.respond ?? DEFAULT;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const rec: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        json,
        status: 0,
        receivedAt: Date.now(),
      };
      const index = requests.length;
      const scripted = queue.length > 0 ? (queue.shift() as ScriptedResponse) : respond(rec, index);
      const r = typeof scripted === 'number' ? { status: scripted } : scripted;
      rec.status = r.status;
      requests.push(rec);
      for (const w of waiters) w();
      const answer = (): void => send(res, r.status, r.body ?? (r.status < 300 ? 'ok' : `status ${r.status}`), r.headers);
      if (r.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, r.delayMs);
        timers.add(t);
      } else {
        answer();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respondWith(...responses) {
      queue.push(...responses);
    },
    setResponder(r) {
      respond = r;
    },
    waitForRequests(count, timeoutMs = 5_000) {
      if (requests.length >= count) return Promise.resolve([...requests]);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...requests]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`waited ${timeoutMs} ms for ${count} webhook requests, got ${requests.length}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

/** The Standard Webhooks payload `{ type, timestamp, data }` our sender posts. */
export interface StandardWebhookPayload {
  type: string;
  timestamp: string;
  data: unknown;
}

/**
 * Verifies a recorded request's `webhook-id`/`webhook-timestamp`/`webhook-signature` with the
 * `standardwebhooks` package and returns the parsed payload.
 * The package rejects timestamps more than 5 minutes from the real clock, so sign with a
 * `now` close to `Date.now()` in tests that verify.
 * @throws WebhookVerificationError when the signature or timestamp does not check out
 */
export function verifyStandardWebhook(req: ReceivedRequest, secret: string): StandardWebhookPayload {
  const h: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const v = req.headers[name];
    if (typeof v === 'string') h[name] = v;
  }
  return new Webhook(secret).verify(req.body, h) as StandardWebhookPayload;
}
