/**
 * Signed click tokens for the item links in outreach email (`GET /r/<token>`).
 *
 * Format: `<outreachId>.<base64url(itemId)>.<base64url(MAC)>`, where `outreachId` is the
 * outreach row id in canonical decimal and
 * `MAC = HMAC-SHA256(K, "rekindle.click.v1:" + outreachId + ":" + itemId)[0..16]` with
 * `K = HMAC-SHA256(secret, "rekindle.click.key.v1")`.
 *
 * The key is derived from the same secret as unsubscribe tokens (so there is one secret to
 * configure and rotate), but a click MAC is never computed with the unsubscribe key or over the
 * unsubscribe purpose string, and the two formats differ in shape (three parts here, two
 * there): an unsubscribe token never verifies as a click token and vice versa. The MAC is
 * truncated to 128 bits like the unsubscribe one (RFC 2104 §5). Tokens do not expire: a link in
 * an old email keeps working; what it may lead to is decided at click time (services/click.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from './errors.js';

const KEY_LABEL = 'rekindle.click.key.v1';
const PURPOSE = 'rekindle.click.v1:';
const MAC_BYTES = 16;
/** Item ids are at most 200 characters at the edges (MAX_ID_LENGTH), so at most 800 bytes of UTF-8; the limit bounds the work. */
const MAX_ITEM_ID_BYTES = 800;
/** Longest token we look at; anything longer is refused before decoding. */
const MAX_TOKEN_LENGTH = 1200;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** Canonical decimal: no sign, no leading zero, at most 16 digits (checked against MAX_SAFE_INTEGER too). */
const DECIMAL_ID = /^[1-9][0-9]{0,15}$/;

/** What a click token names: one item in one outreach email. */
export interface ClickClaims {
  outreachId: number;
  itemId: string;
}

function mac(outreachId: number, itemId: string, secret: string): Buffer {
  const key = createHmac('sha256', secret).update(KEY_LABEL).digest();
  return createHmac('sha256', key).update(`${PURPOSE}${outreachId}:`).update(itemId, 'utf8').digest().subarray(0, MAC_BYTES);
}

/**
 * The URL-safe click token for `itemId` in the email of outreach row `outreachId`.
 * @throws ValidationError when `outreachId` is not a positive safe integer, `itemId` is empty or
 *   longer than 800 UTF-8 bytes, or `secret` is empty
 */
export function signClickToken(outreachId: number, itemId: string, secret: string): string {
  if (!Number.isSafeInteger(outreachId) || outreachId <= 0) {
    throw new ValidationError(`click token: outreachId must be a positive integer, got ${String(outreachId)}`);
  }
  if (itemId.length === 0) throw new ValidationError(`click token: itemId must not be empty (outreach ${outreachId})`);
  const itemBytes = Buffer.from(itemId, 'utf8');
  if (itemBytes.length > MAX_ITEM_ID_BYTES) {
    throw new ValidationError(`click token: itemId must be at most ${MAX_ITEM_ID_BYTES} UTF-8 bytes (outreach ${outreachId})`);
  }
  if (secret.length === 0) throw new ValidationError('click token: secret must not be empty');
  return `${outreachId}.${itemBytes.toString('base64url')}.${mac(outreachId, itemId, secret).toString('base64url')}`;
}

/**
 * The outreach row and item a token was signed for, or `null` when the token is malformed,
 * tampered with, signed with another secret, or not a click token at all (an unsubscribe token,
 * say). Pass several secrets during a rotation: any one of them verifies. Never throws on
 * untrusted input; compares MACs in constant time and checks every secret.
 */
export function verifyClickToken(token: unknown, secret: string | readonly string[]): ClickClaims | null {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [idPart, itemPart, macPart] = parts as [string, string, string];
  if (!DECIMAL_ID.test(idPart) || !B64URL.test(itemPart) || !B64URL.test(macPart)) return null;
  const outreachId = Number(idPart);
  if (!Number.isSafeInteger(outreachId)) return null;
  const itemBytes = Buffer.from(itemPart, 'base64url');
  const offered = Buffer.from(macPart, 'base64url');
  // Only the canonical encoding is accepted, so one (outreach, item) pair has exactly one valid
  // token text (Node's decoder silently ignores trailing bits, and bad UTF-8 would be replaced).
  if (itemBytes.toString('base64url') !== itemPart || offered.toString('base64url') !== macPart) return null;
  if (offered.length !== MAC_BYTES || itemBytes.length > MAX_ITEM_ID_BYTES) return null;
  const itemId = itemBytes.toString('utf8');
  if (itemId.length === 0 || !Buffer.from(itemId, 'utf8').equals(itemBytes)) return null;
  const secrets = typeof secret === 'string' ? [secret] : secret;
  let ok = false;
  for (const s of secrets) {
    if (s.length === 0) continue;
    // No early exit: every secret is checked, so timing does not reveal which one matched.
    if (timingSafeEqual(mac(outreachId, itemId, s), offered)) ok = true;
  }
  return ok ? { outreachId, itemId } : null;
}
