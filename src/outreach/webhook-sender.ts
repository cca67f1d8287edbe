/**
 * Outbound webhooks in the Standard Webhooks shape (https://www.standardwebhooks.com): a JSON
 * body `{ type, timestamp, data }`, signed with `webhook-id`, `webhook-timestamp` and
 * `webhook-signature`. One call is one attempt; retries, the delivery log and dead-lettering
 * belong to the caller, which gets back everything it needs to record the attempt.
 *
 * Endpoint URLs come from whoever may run `rekindle webhooks add`, and the worker runs inside
 * your network, so a URL is an SSRF risk: unless private targets are allowed
 * (WEBHOOK_ALLOW_PRIVATE), the host is resolved once, every address is checked against the
 * private, loopback, link-local and unique-local ranges (IPv4 and IPv6, IPv4 inside IPv6 too),
 * and the connection goes to the address that was checked (a pinned lookup), so a second DNS
 * answer (rebinding) cannot switch it. A refused target is a permanent failure.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ValidationError } from '../domain/errors.js';
import { sign } from '../domain/webhook-signature.js';

/** One address a name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to every address (the system resolver by default). */
export type Lookup = (hostname: string) => Promise<ResolvedAddress[]>;

const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface SendWebhookInput {
  url: string;
  /** The endpoint's secret, `whsec_<base64>`. */
  secret: string;
  /** The `webhook-id`: the same on every attempt of one delivery, so receivers can dedupe. */
  messageId: string;
  /** e.g. `coupon.issued`, `outreach.planned`, `user.risk_changed`. */
  eventType: string;
  payload: unknown;
  /** Clock in milliseconds: the signed timestamp and the measured duration both come from it. */
  now: () => number;
  /** Abort the attempt after this long (DNS, connect, headers and body). Default 10 000. */
  timeoutMs?: number;
  /** Private, loopback, link-local and unique-local targets are refused unless true (WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate?: boolean | undefined;
  /** DNS, for tests; the system resolver otherwise. */
  lookup?: Lookup;
  /**
   * Another transport, for tests of the outcome mapping. The default is node:http(s) connected
   * to the checked address; a `fetchImpl` gets the URL and does its own DNS.
   */
  fetchImpl?: typeof fetch;
}

export interface WebhookAttempt {
  /** 2xx. */
  ok: boolean;
  /** The HTTP status, null when no response arrived (network error, timeout). */
  status: number | null;
  durationMs: number;
  /** Why the attempt failed, for the delivery log; absent when ok. */
  error?: string;
  /** Whether another attempt may succeed: network errors, timeouts, 408, 429 and 5xx. */
  retryable: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** How much of an error response body goes into `error`. */
const BODY_EXCERPT = 200;
/** The most of a response body we read; then the body is cancelled (a receiver may stream forever). */
export const MAX_RESPONSE_BYTES = 64 * 1024;

// Keep-alive pools: one TCP (and TLS) handshake per receiver, not per delivery. Pooled sockets
// were connected to checked addresses; idle ones do not keep the process alive.
const HTTP_AGENT = new HttpAgent({ keepAlive: true });
const HTTPS_AGENT = new HttpsAgent({ keepAlive: true });

/**
 * Makes one signed delivery attempt. Never throws for anything the receiver or the network
 * does; every outcome is a {@link WebhookAttempt}. Redirects are not followed (a 3xx is a
 * non-retryable failure): a signed payload should reach only the URL that was configured.
 */
export async function sendWebhook(input: SendWebhookInput): Promise<WebhookAttempt> {
  const timeoutMs = input.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = input.now();
  const elapsed = (): number => Math.max(0, Math.round(input.now() - started));

  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    return { ok: false, status: null, durationMs: 0, error: 'invalid endpoint URL', retryable: false };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, status: null, durationMs: 0, error: `unsupported URL scheme ${url.protocol}`, retryable: false };
  }

  // One deadline for the whole attempt: DNS, connect, headers and the body we read.
  const signal = AbortSignal.timeout(timeoutMs);
  const target = await withDeadline(checkWebhookTarget(url, { allowPrivate: input.allowPrivate ?? false, lookup: input.lookup ?? systemLookup }), signal).catch(
    (err: unknown) => ({ ok: false as const, retryable: true, error: describeNetworkError(err, timeoutMs) }),
  );
  if (!target.ok) return { ok: false, status: null, durationMs: elapsed(), error: target.error, retryable: target.retryable };

  const timestampSec = Math.floor(started / 1000);
  const body = JSON.stringify({ type: input.eventType, timestamp: new Date(started).toISOString(), data: input.payload ?? null });
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Rekindle-Webhooks/1',
    'webhook-id': input.messageId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': sign(input.secret, input.messageId, timestampSec, body),
  };

  let res: Answer;
  try {
    res = input.fetchImpl ? await viaFetch(input.fetchImpl, url, headers, body, signal) : await post(url, target.addresses[0]!, headers, body, signal);
  } catch (err) {
    return { ok: false, status: null, durationMs: elapsed(), error: describeNetworkError(err, timeoutMs), retryable: true };
  }

  // Read some of the body either way: it frees the connection, and an error body explains the
  // failure. Never all of it: past MAX_RESPONSE_BYTES the body is cancelled.
  let text = '';
  try {
    text = await readAtMost(res.body, MAX_RESPONSE_BYTES);
  } catch (err) {
    if (res.status >= 200 && res.status < 300) {
      // The receiver said 2xx before the body broke off: it has the event.
      return { ok: true, status: res.status, durationMs: elapsed(), retryable: false };
    }
    text = `(body unreadable: ${describeNetworkError(err, timeoutMs)})`;
  }
  const durationMs = elapsed();
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, durationMs, retryable: false };
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, BODY_EXCERPT);
  return {
    ok: false,
    status: res.status,
    durationMs,
    error: `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`,
    retryable: isRetryableStatus(res.status),
  };
}

/** A response: its status and a body to read from (Node's IncomingMessage or a fetch body). */
interface Answer {
  status: number;
  body: AsyncIterable<Uint8Array> | null;
}

/** POSTs over node:http(s), connecting to `pinned` whatever DNS says now; redirects are not followed. */
function post(url: URL, pinned: ResolvedAddress, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Answer> {
  const https = url.protocol === 'https:';
  // net asks with `all: true` when it may try several families (autoSelectFamily); either way,
  // the only answer is the checked address. TLS still verifies the certificate for the host name.
  const lookup = ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: pinned.address, family: pinned.family }]);
    else cb(null, pinned.address, pinned.family);
  }) as unknown as LookupFunction;
  return new Promise<Answer>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: https ? HTTPS_AGENT : HTTP_AGENT, lookup, signal },
      (res: IncomingMessage) => resolve({ status: res.statusCode ?? 0, body: res }),
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function viaFetch(fetchImpl: typeof fetch, url: URL, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Answer> {
  const res = await fetchImpl(url, { method: 'POST', headers, body, redirect: 'manual', signal });
  return { status: res.status, body: res.body as unknown as AsyncIterable<Uint8Array> | null };
}

/**
 * Reads up to `limit` bytes of a body as UTF-8, then stops: leaving the loop early cancels a
 * fetch body and destroys a Node response (and its connection), so nothing more is read.
 */
async function readAtMost(body: AsyncIterable<Uint8Array> | null, limit: number): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    const room = limit - size;
    if (c.length >= room) {
      chunks.push(Buffer.from(c.buffer, c.byteOffset, room));
      break;
    }
    chunks.push(Buffer.from(c.buffer, c.byteOffset, c.length));
    size += c.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function withDeadline<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export type TargetCheck = { ok: true; addresses: ResolvedAddress[] } | { ok: false; retryable: boolean; error: string };

/**
 * Where a webhook URL may be delivered: every address its host resolves to (a literal address
 * as it is), each checked with {@link privateAddressKind} unless `allowPrivate`. A refusal is
 * permanent (retryable: false) and says which address and why; a name that does not resolve
 * is retryable (DNS may come back).
 */
export async function checkWebhookTarget(url: URL, o: { allowPrivate: boolean; lookup?: Lookup }): Promise<TargetCheck> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(host);
  let addresses: ResolvedAddress[];
  if (family) addresses = [{ address: host, family }];
  else {
    try {
      addresses = await (o.lookup ?? systemLookup)(host);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { ok: false, retryable: true, error: `network error: ${typeof code === 'string' ? code : (err as Error).message}` };
    }
    if (addresses.length === 0) return { ok: false, retryable: true, error: `network error: ${host} has no address` };
  }
  if (!o.allowPrivate) {
    for (const a of addresses) {
      const kind = privateAddressKind(a.address);
      if (kind === null) continue;
      const what = `${/^(?:[aeio]|un)/.test(kind) ? 'an' : 'a'} ${kind} address`;
      return {
        ok: false,
        retryable: false,
        error: `refused: ${family ? `${a.address} is ${what}` : `${host} resolves to ${a.address}, ${what}`}; webhooks go to public addresses only (WEBHOOK_ALLOW_PRIVATE=true allows private targets)`,
      };
    }
  }
  return { ok: true, addresses };
}

/** [first address, prefix length, kind] for IPv4 ranges that are not the public internet. */
const V4_RANGES: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4ToInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

const V4_TABLE = V4_RANGES.map(([ip, bits, kind]) => ({ base: v4ToInt(ip)!, size: 2 ** (32 - bits), kind }));

function v4Kind(n: number): string | null {
  for (const r of V4_TABLE) if (n >= r.base && n < r.base + r.size) return r.kind;
  return null;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, embedded dotted IPv4 allowed), or null. */
function v6Groups(ip: string): number[] | null {
  let s = ip.replace(/%.*$/, '');
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  if (dotted) {
    const n = v4ToInt(dotted[1]!);
    if (n === null) return null;
    s = `${s.slice(0, dotted.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === '' ? [] : h.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 1) return null;
  const groups = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  return groups.some(Number.isNaN) ? null : groups;
}

/**
 * What kind of non-public address `ip` is — loopback, private, link-local, unique-local,
 * multicast, CGNAT, documentation… — or null for a public (global unicast) address. IPv4
 * carried inside IPv6 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`) is judged by the IPv4 address inside. Not an IP address: `invalid`.
 */
export function privateAddressKind(ip: string): string | null {
  const v = isIP(ip.replace(/%.*$/, ''));
  if (v === 4) return v4Kind(v4ToInt(ip)!);
  if (v !== 6) return 'invalid';
  const g = v6Groups(ip);
  if (!g) return 'invalid';
  const v4 = (hi: number, lo: number) => v4Kind(hi * 65536 + lo);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6]!, g[7]!); // IPv4-mapped
  if (zeros(0, 6)) return v4(g[6]!, g[7]!) ?? 'reserved'; // IPv4-compatible (deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!); // NAT64
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!); // 6to4
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'site-local';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  if (g[0] === 0x0100 && zeros(1, 4)) return 'reserved'; // discard-only 100::/64
  return null;
}

/** 408, 429 and 5xx may succeed later; any other non-2xx status will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string') return `network error: ${cause.code}`;
  if (cause && typeof cause.message === 'string') return `network error: ${cause.message}`;
  // node:http puts the code on the error itself (ECONNREFUSED, ECONNRESET, CERT_HAS_EXPIRED…).
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return `network error: ${code}`;
  return `network error: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * The wait before the next attempt, exponential backoff with "full jitter" (AWS Architecture
 * Blog, "Exponential Backoff and Jitter", 2015): uniform in [0, min(maxMs, baseMs·2^(attempt−1))).
 * Pure: pass `Math.random` or a seeded generator.
 * @param attempt how many attempts have failed so far, starting at 1
 * @throws ValidationError when attempt < 1, baseMs ≤ 0 or maxMs < baseMs
 */
export function nextAttemptDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new ValidationError(`attempt must be an integer ≥ 1, got ${attempt}`);
  if (!(baseMs > 0) || !Number.isFinite(baseMs)) throw new ValidationError(`baseMs must be a positive number, got ${baseMs}`);
  if (!(maxMs >= baseMs) || !Number.isFinite(maxMs)) throw new ValidationError(`maxMs must be ≥ baseMs (${baseMs}), got ${maxMs}`);
  // 2^(attempt−1) overflows to Infinity for huge attempts; min() then caps it at maxMs.
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  const x = random();
  const r = Number.isFinite(x) ? Math.min(Math.max(x, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(r * ceiling);
}
