import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/domain/errors.js';
import { sign } from '../../../src/domain/webhook-signature.js';
import { isRetryableStatus, nextAttemptDelay, sendWebhook } from '../../../src/outreach/webhook-sender.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('nextAttemptDelay', () => {
  it('is uniform below min(max, base·2^(attempt−1)) (hand-computed)', () => {
    expect(nextAttemptDelay(1, 1000, 60_000, () => 0.5)).toBe(500);
    expect(nextAttemptDelay(2, 1000, 60_000, () => 0.5)).toBe(1000);
    expect(nextAttemptDelay(4, 1000, 60_000, () => 0.5)).toBe(4000);
    expect(nextAttemptDelay(7, 1000, 60_000, () => 0.5)).toBe(30_000); // 64 000 capped at 60 000
    expect(nextAttemptDelay(3, 1000, 60_000, () => 0)).toBe(0);
    expect(nextAttemptDelay(3, 1000, 60_000, () => 0.999999)).toBe(3999);
  });

  it('stays in [0, cap) for any attempt and any random value, even absurd ones', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.double({ noNaN: false }), (attempt, x) => {
        const d = nextAttemptDelay(attempt, 250, 30_000, () => x);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(30_000, 250 * 2 ** (attempt - 1)));
      }),
      { seed: 3, numRuns: 2000 },
    );
  });

  it('spreads retries out (full jitter), not all at the cap', () => {
    let seed = 1;
    const lcg = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const delays = Array.from({ length: 1000 }, () => nextAttemptDelay(10, 100, 10_000, lcg));
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(4500);
    expect(mean).toBeLessThan(5500);
  });

  it('states its constraints', () => {
    expect(() => nextAttemptDelay(0, 100, 1000, Math.random)).toThrow(ValidationError);
    expect(() => nextAttemptDelay(1.5, 100, 1000, Math.random)).toThrow(/integer/);
    expect(() => nextAttemptDelay(1, 0, 1000, Math.random)).toThrow(/baseMs/);
    expect(() => nextAttemptDelay(1, 100, 50, Math.random)).toThrow(/maxMs/);
  });
});

describe('isRetryableStatus', () => {
  it('retries 408, 429 and 5xx only', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 410, 413, 422, 301].some(isRetryableStatus)).toBe(false);
  });
});

describe('sendWebhook (outcome mapping; the real HTTP path is in the integration test)', () => {
  const at = 1_700_000_000_123;
  // A public literal address: the private-target check needs no DNS.
  const input = { url: 'https://93.184.216.34/x', secret: SECRET, messageId: 'msg_1', eventType: 'coupon.issued', payload: { a: 1 }, now: () => at };

  it('signs the exact body with our signer and sends the Standard Webhooks shape', async () => {
    let seen: { body: string; headers: Record<string, string> } | undefined;
    const res = await sendWebhook({
      ...input,
      fetchImpl: (async (_url: URL, init: RequestInit) => {
        seen = { body: init.body as string, headers: init.headers as Record<string, string> };
        return new Response('ok', { status: 200 });
      }) as unknown as typeof fetch,
    });
    expect(res).toEqual({ ok: true, status: 200, durationMs: 0, retryable: false });
    expect(JSON.parse(seen!.body)).toEqual({ type: 'coupon.issued', timestamp: '2023-11-14T22:13:20.123Z', data: { a: 1 } });
    expect(seen!.headers['webhook-id']).toBe('msg_1');
    expect(seen!.headers['webhook-timestamp']).toBe('1700000000');
    expect(seen!.headers['webhook-signature']).toBe(sign(SECRET, 'msg_1', 1_700_000_000, seen!.body));
  });

  it('maps timeouts and network errors to retryable failures without a status', async () => {
    const timeout = await sendWebhook({
      ...input,
      timeoutMs: 5,
      fetchImpl: (async () => {
        throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      }) as unknown as typeof fetch,
    });
    expect(timeout).toMatchObject({ ok: false, status: null, retryable: true, error: 'timed out after 5 ms' });
    const refused = await sendWebhook({
      ...input,
      fetchImpl: (async () => {
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
      }) as unknown as typeof fetch,
    });
    expect(refused).toMatchObject({ ok: false, status: null, retryable: true, error: 'network error: ECONNREFUSED' });
  });

  it('does not follow redirects and does not retry them', async () => {
    let init: RequestInit | undefined;
    const res = await sendWebhook({
      ...input,
      fetchImpl: (async (_u: URL, i: RequestInit) => {
        init = i;
        return new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/' } });
      }) as unknown as typeof fetch,
    });
    expect(init?.redirect).toBe('manual');
    expect(res).toMatchObject({ ok: false, status: 302, retryable: false });
  });

  it('refuses non-http URLs without a request', async () => {
    let called = false;
    const res = await sendWebhook({
      ...input,
      url: 'file:///etc/passwd',
      fetchImpl: (async () => {
        called = true;
        return new Response('');
      }) as unknown as typeof fetch,
    });
    expect(called).toBe(false);
    expect(res).toMatchObject({ ok: false, status: null, retryable: false });
  });
});
