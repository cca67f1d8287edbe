/**
 * Slack, faked at the wire: a real node:http server on loopback that answers the Web API
 * methods the bot calls (`WebClient` pointed at it through `slackApiUrl`), accepts file bytes
 * at the upload URL it hands out, and receives `response_url` posts — recording every call.
 * Plus `signSlackRequest`, which signs a body exactly as Slack does (v0 HMAC-SHA256 over
 * `v0:<timestamp>:<body>`), so requests go through Bolt's real signature check.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ApiCall {
  method: string;
  /** Form fields or JSON body; JSON-encoded fields (`blocks`, `attachments`) are decoded. */
  args: Record<string, any>;
  token: string | undefined;
  at: number;
  /** What the fake answered. */
  result: Record<string, any>;
}

export interface Upload {
  fileId: string;
  bytes: Buffer;
  /** The PNG inside the multipart body, when there is one. */
  png: Buffer | null;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, any>;
  at: number;
}

export interface FakeSlack {
  /** Base for `SLACK_API_URL` (ends with `/api/`). */
  apiUrl: string;
  /** A fresh response_url for one slash command or click. */
  responseUrl(id?: string): string;
  calls: ApiCall[];
  uploads: Upload[];
  responses: ResponseUrlPost[];
  callsOf(method: string): ApiCall[];
  /** Resolves with the first call (after `since`) matching, or rejects after `timeoutMs`. */
  waitForCall(method: string, match?: (c: ApiCall) => boolean, timeoutMs?: number, since?: number): Promise<ApiCall>;
  waitForResponse(id: string, match?: (r: ResponseUrlPost) => boolean, timeoutMs?: number): Promise<ResponseUrlPost>;
  /** Makes a method fail with a Slack error code (`{ ok: false, error }`) until cleared. */
  failWith(method: string, error: string | null): void;
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_TEAM = 'T0FAKE01';
export const FAKE_BOT_USER = 'U0BOT0001';
export const FAKE_BOT_ID = 'B0BOT0001';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decodeArgs(raw: Buffer, contentType: string | undefined): Record<string, any> {
  const text = raw.toString('utf8');
  let args: Record<string, any> = {};
  if (contentType?.includes('application/json')) args = text ? JSON.parse(text) : {};
  else for (const [k, v] of new URLSearchParams(text)) args[k] = v;
  for (const k of ['blocks', 'attachments', 'files']) {
    if (typeof args[k] === 'string') {
      try {
        args[k] = JSON.parse(args[k]);
      } catch {
        /* leave it as sent: a test asserting on it will show it */
      }
    }
  }
  return args;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const PNG_END = Buffer.from('IEND');

function pngIn(bytes: Buffer): Buffer | null {
  const start = bytes.indexOf(PNG_SIGNATURE);
  if (start < 0) return null;
  const end = bytes.indexOf(PNG_END, start);
  return end < 0 ? null : bytes.subarray(start, end + 8); // IEND + its CRC
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: ApiCall[] = [];
  const uploads: Upload[] = [];
  const responses: ResponseUrlPost[] = [];
  const failures = new Map<string, string>();
  const waiters = new Set<() => void>();
  let ts = 1_700_000_000;
  let files = 0;
  let base = '';
  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const answer = (method: string, args: Record<string, any>): Record<string, any> => {
    const failure = failures.get(method);
    if (failure) return { ok: false, error: failure };
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.test/', team: 'Fake', user: 'rekindle', team_id: FAKE_TEAM, user_id: FAKE_BOT_USER, bot_id: FAKE_BOT_ID };
      case 'chat.postMessage':
        return { ok: true, channel: args.channel, ts: `${++ts}.000100`, message: { text: args.text, blocks: args.blocks } };
      case 'chat.update':
        return { ok: true, channel: args.channel, ts: args.ts, text: args.text };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `${++ts}.000200` };
      case 'conversations.open':
        return { ok: true, channel: { id: `D${String(args.users ?? 'X').replace(/\W/g, '').slice(0, 9)}` } };
      case 'files.getUploadURLExternal': {
        const fileId = `F${String(++files).padStart(8, '0')}`;
        return { ok: true, upload_url: `${base}/upload/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal':
        return { ok: true, files: (args.files as { id: string; title?: string }[] | undefined)?.map((f) => ({ id: f.id, title: f.title })) ?? [] };
      case 'views.open':
      case 'views.publish':
      case 'views.update':
        return { ok: true, view: { id: `V${++ts}` } };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  };

  const server: Server = createServer(async (req, res) => {
    try {
      const raw = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, body: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (url.pathname.startsWith('/api/')) {
        const method = url.pathname.slice('/api/'.length);
        const args = decodeArgs(raw, req.headers['content-type']);
        const auth = req.headers.authorization;
        const result = answer(method, args);
        calls.push({ method, args, token: auth?.replace(/^Bearer /, '') ?? args.token, at: Date.now(), result });
        notify();
        send(200, result);
        return;
      }
      if (url.pathname.startsWith('/upload/')) {
        uploads.push({ fileId: url.pathname.slice('/upload/'.length), bytes: raw, png: pngIn(raw) });
        notify();
        send(200, `OK - ${raw.length}`, 'text/plain');
        return;
      }
      if (url.pathname.startsWith('/respond/')) {
        responses.push({ id: url.pathname.slice('/respond/'.length), body: JSON.parse(raw.toString('utf8') || '{}'), at: Date.now() });
        notify();
        send(200, 'ok', 'text/plain');
        return;
      }
      send(404, { ok: false, error: 'not_found' });
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const waitUntil = <T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = find();
        if (hit !== undefined) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`fake Slack: timed out after ${timeoutMs} ms waiting for ${what}; calls so far: ${calls.map((c) => c.method).join(', ') || 'none'}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  let responseSeq = 0;
  return {
    apiUrl: `${base}/api/`,
    responseUrl: (id = `r${++responseSeq}`) => `${base}/respond/${id}`,
    calls,
    uploads,
    responses,
    callsOf: (method) => calls.filter((c) => c.method === method),
    waitForCall: (method, match = () => true, timeoutMs = 20_000, since = 0) =>
      waitUntil(() => calls.find((c) => c.method === method && c.at >= since && match(c)), timeoutMs, method),
    waitForResponse: (id, match = () => true, timeoutMs = 20_000) => waitUntil(() => responses.find((r) => r.id === id && match(r)), timeoutMs, `response_url ${id}`),
    failWith: (method, error) => {
      if (error === null) failures.delete(method);
      else failures.set(method, error);
    },
    reset: () => {
      calls.length = 0;
      uploads.length = 0;
      responses.length = 0;
      failures.clear();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * The headers Slack sends with a request: `x-slack-request-timestamp` and
 * `x-slack-signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>" keyed by the signing secret>`.
 */
export function signSlackRequest(body: string, secret: string, timestamp: number = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': `v0=${signature}` };
}

/** Everything the blocks say, flattened to one string (section texts, fields, headers, contexts, buttons). */
export function blocksText(blocks: unknown): string {
  const out: string[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (typeof o.text === 'string') out.push(o.text);
      for (const [k, v] of Object.entries(o)) if (k !== 'text' || typeof v !== 'string') walk(v);
    }
  };
  walk(blocks);
  return out.join('\n');
}
