/** Unsubscribing: the signing secret (configured, or one kept in the database) and the state change. */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/client.js';
import { getSetting } from '../store/outreach.js';

const KEY = 'unsubscribe.secret';

/**
 * UNSUBSCRIBE_SECRET when configured; otherwise a random secret created once and kept in the
 * settings table, so links stay valid across restarts and across processes sharing the database.
 */
export async function resolveUnsubscribeSecret(q: Queryable, configured: string): Promise<string> {
  if (configured) return configured;
  const existing = await getSetting<string>(q, KEY);
  if (existing) return existing;
  await q.query(`insert into settings (key, value, updated_by) values ($1, $2::text::jsonb, 'rekindle') on conflict (key) do nothing`, [KEY, JSON.stringify(randomBytes(32).toString('base64url'))]);
  return (await getSetting<string>(q, KEY))!;
}

/**
 * Marks the user unsubscribed (idempotent) and cancels their undelivered outreach. Returns false
 * for an unknown user. `at` comes from the caller's clock: settled outcomes compare it with
 * conversion windows, which a simulated clock moves.
 */
export async function unsubscribe(q: Queryable, userId: string, at: Date = new Date()): Promise<boolean> {
  const rows = await q.query(`update users set unsubscribed_at = coalesce(unsubscribed_at, $2) where id = $1 returning id`, [userId, at.toISOString()]);
  if (rows.length === 0) return false;
  await q.query(`update outreach set state = 'failed', last_error = 'unsubscribed' where user_id = $1 and state = 'planned'`, [userId]);
  return true;
}
