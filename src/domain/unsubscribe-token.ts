/**
 * Signed unsubscribe tokens for the links and `List-Unsubscribe` headers in outreach email.
 *
 * Format: `<base64url(userId)>.<base64url(HMAC-SHA256(secret, "rekindle.unsubscribe.v1:" + userId)[0..16])>`.
 * The MAC is truncated to 128 bits (RFC 2104 §5 allows truncation to at least half the hash
 * length), which keeps links short and is still far beyond guessing. The fixed prefix
 * separates these MACs from anything else signed with the same secret, so a token can never
 * double as some other signature. Tokens do not expire: a link in a two-year-old email must
 * still unsubscribe (RFC 8058 expects the one-click URI to keep working).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError } from './errors.js';

const PURPOSE = 'rekindle.unsubscribe.v1:';
const MAC_BYTES = 16;
/** Longest token we look at; anything longer is refused before decoding (user ids are short). */
const MAX_TOKEN_LENGTH = 1024;
const B64URL = /^[A-Za-z0-9_-]+$/;

function mac(userId: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(PURPOSE).update(userId, 'utf8').digest().subarray(0, MAC_BYTES);
}

/**
 * The URL-safe unsubscribe token for `userId`.
 * @throws ValidationError when `userId` or `secret` is empty.
 */
export function signUnsubscribeToken(userId: string, secret: string): string {
  if (userId.length === 0) throw new ValidationError('unsubscribe token: userId must not be empty');
  if (secret.length === 0) throw new ValidationError('unsubscribe token: secret must not be empty');
  return `${Buffer.from(userId, 'utf8').toString('base64url')}.${mac(userId, secret).toString('base64url')}`;
}

/**
 * The user id a token was signed for, or `null` when the token is malformed, tampered with
 * or signed with another secret. Pass several secrets during a rotation: any one of them
 * verifies. Never throws on untrusted input; compares MACs in constant time.
 */
export function verifyUnsubscribeToken(token: unknown, secret: string | readonly string[]): string | null {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
  const idPart = token.slice(0, dot);
  const macPart = token.slice(dot + 1);
  if (!B64URL.test(idPart) || !B64URL.test(macPart)) return null;
  const idBytes = Buffer.from(idPart, 'base64url');
  const offered = Buffer.from(macPart, 'base64url');
  // Only the canonical encoding is accepted, so one user id has exactly one valid token text
  // (Node's decoder silently ignores trailing bits and bad UTF-8 would be replaced).
  if (idBytes.toString('base64url') !== idPart || offered.toString('base64url') !== macPart) return null;
  if (offered.length !== MAC_BYTES) return null;
  const userId = idBytes.toString('utf8');
  if (userId.length === 0 || !Buffer.from(userId, 'utf8').equals(idBytes)) return null;
  const secrets = typeof secret === 'string' ? [secret] : secret;
  let ok = false;
  for (const s of secrets) {
    if (s.length === 0) continue;
    // No early exit: every secret is checked, so timing does not reveal which one matched.
    if (timingSafeEqual(mac(userId, s), offered)) ok = true;
  }
  return ok ? userId : null;
}
