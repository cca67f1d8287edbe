/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${webhook-id}.${webhook-timestamp}.${body}` with a base64 key given as `whsec_<base64>`,
 * sent as space-separated `v1,<base64 signature>` entries. Written here rather than taken
 * from the `standardwebhooks` package because we need several secrets at once (rotation), a
 * configurable replay window and reasons we can show; the package signs in our tests, so
 * the two implementations check each other.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignatureHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

function key(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** The `v1,<base64>` signature of a message. */
export function sign(secret: string, id: string, timestampSec: number, body: string | Buffer): string {
  const mac = createHmac('sha256', key(secret));
  mac.update(`${id}.${timestampSec}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** Verifies a delivery against any of `secrets`; `now` in milliseconds, tolerance in seconds. */
export function verify(secrets: readonly string[], h: SignatureHeaders, body: Buffer, now: number, toleranceSec: number): VerifyResult {
  if (!h.id) return { ok: false, reason: 'missing webhook-id header' };
  if (!h.timestamp) return { ok: false, reason: 'missing webhook-timestamp header' };
  if (!h.signature) return { ok: false, reason: 'missing webhook-signature header' };
  if (!/^\d{1,12}$/.test(h.timestamp)) return { ok: false, reason: 'webhook-timestamp must be Unix seconds' };
  const ts = Number(h.timestamp);
  const skew = Math.abs(now / 1000 - ts);
  if (skew > toleranceSec) return { ok: false, reason: `webhook-timestamp is outside the ${toleranceSec}s replay window` };
  const offered = h.signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  if (offered.length === 0) return { ok: false, reason: 'webhook-signature has no v1 signature' };
  for (const secret of secrets) {
    const expected = Buffer.from(sign(secret, h.id, ts, body).slice(3), 'base64');
    for (const o of offered) if (o.length === expected.length && timingSafeEqual(o, expected)) return { ok: true };
  }
  return { ok: false, reason: 'webhook-signature does not match' };
}
