/**
 * Outbound webhooks in the Standard Webhooks shape (https://www.standardwebhooks.com): a JSON
 * body `{ type, timestamp, data }`, signed with `webhook-id`, `webhook-timestamp` and
 * `webhook-signature`. One call is one attempt; retries, the delivery log and dead-lettering
 * belong to the caller, which gets back everything it needs to record the attempt.
 */
import { ValidationError } from '../domain/errors.js';
import { sign } from '../domain/webhook-signature.js';

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
  /** Abort the attempt after this long (connect, headers and body). Default 10 000. */
  timeoutMs?: number;
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

/**
 * Makes one signed delivery attempt. Never throws for anything the receiver or the network
 * does; every outcome is a {@link WebhookAttempt}. Redirects are not followed (a 3xx is a
 * non-retryable failure): a signed payload should reach only the URL that was configured.
 */
export async function sendWebhook(input: SendWebhookInput): Promise<WebhookAttempt> {
  const fetchImpl = input.fetchImpl ?? fetch;
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

  const timestampSec = Math.floor(started / 1000);
  const body = JSON.stringify({ type: input.eventType, timestamp: new Date(started).toISOString(), data: input.payload ?? null });
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Rekindle-Webhooks/1',
    'webhook-id': input.messageId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': sign(input.secret, input.messageId, timestampSec, body),
  };

  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, status: null, durationMs: elapsed(), error: describeNetworkError(err, timeoutMs), retryable: true };
  }

  // Read the body either way: it frees the connection, and an error body explains the failure.
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (res.ok) {
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

/** 408, 429 and 5xx may succeed later; any other non-2xx status will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string') return `network error: ${cause.code}`;
  if (cause && typeof cause.message === 'string') return `network error: ${cause.message}`;
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
