/** Outbound webhook endpoints (each with its own secret and event filter) and their delivery log. */
import { randomBytes } from 'node:crypto';
import { ValidationError, NotFoundError } from '../domain/errors.js';
import type { Queryable } from '../db/client.js';
import { checkWebhookTarget, type Lookup } from '../outreach/webhook-sender.js';

export const OUTBOUND_EVENTS = ['outreach.planned', 'coupon.issued', 'user.risk_changed'] as const;

export interface EndpointInput {
  url: string;
  events?: string[];
  secret?: string | undefined;
  description?: string | undefined;
}

/**
 * Registers an endpoint. A URL whose host is (or resolves to) a private, loopback or link-local
 * address is refused up front unless `allowPrivate` (WEBHOOK_ALLOW_PRIVATE): it would be
 * dead-lettered on its first delivery anyway. A name that does not resolve now is accepted with
 * a warning (every delivery checks again).
 */
export async function addEndpoint(
  q: Queryable,
  e: EndpointInput,
  opts: { allowPrivate?: boolean | undefined; lookup?: Lookup } = {},
): Promise<{ id: number; secret: string; warnings: string[] }> {
  let url: URL;
  try {
    url = new URL(e.url);
  } catch {
    throw new ValidationError(`--url must be an http(s) URL, got "${e.url}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(`--url must be an http(s) URL, got "${e.url}"`);
  const unknown = (e.events ?? []).filter((t) => !(OUTBOUND_EVENTS as readonly string[]).includes(t));
  if (unknown.length) throw new ValidationError(`unknown event type(s) ${unknown.join(', ')}; known: ${OUTBOUND_EVENTS.join(', ')}`);
  if (e.secret !== undefined && !/^whsec_[A-Za-z0-9+/=]{24,}$/.test(e.secret)) throw new ValidationError('--secret must look like whsec_<base64, at least 18 bytes>');
  const warnings: string[] = [];
  const target = await checkWebhookTarget(url, { allowPrivate: opts.allowPrivate ?? false, ...(opts.lookup ? { lookup: opts.lookup } : {}) });
  if (!target.ok && !target.retryable) throw new ValidationError(`--url ${e.url}: ${target.error}`);
  if (!target.ok) warnings.push(`${url.hostname} could not be resolved now (${target.error}); every delivery checks its addresses again`);
  const secret = e.secret ?? `whsec_${randomBytes(24).toString('base64')}`;
  const [row] = await q.query<{ id: number }>(`insert into webhook_endpoints (url, secret, event_types, description) values ($1, $2, $3::text[], $4) returning id`, [
    url.toString(),
    secret,
    e.events ?? [],
    e.description ?? null,
  ]);
  return { id: Number(row!.id), secret, warnings };
}

export interface EndpointSummary {
  id: number;
  url: string;
  events: string[];
  enabled: boolean;
  pending: number;
  delivered: number;
  dead: number;
}

export async function listEndpoints(q: Queryable): Promise<EndpointSummary[]> {
  const rows = await q.query<{ id: number; url: string; event_types: string[]; enabled: boolean; pending: number; delivered: number; dead: number }>(
    `select e.id, e.url, e.event_types, e.enabled,
            count(d.id) filter (where d.state = 'pending')::int as pending,
            count(d.id) filter (where d.state = 'delivered')::int as delivered,
            count(d.id) filter (where d.state = 'dead')::int as dead
     from webhook_endpoints e left join webhook_deliveries d on d.endpoint_id = e.id group by e.id order by e.id`,
  );
  return rows.map((r) => ({ id: Number(r.id), url: r.url, events: r.event_types, enabled: r.enabled, pending: r.pending, delivered: r.delivered, dead: r.dead }));
}

export async function setEndpointEnabled(q: Queryable, id: number, enabled: boolean): Promise<void> {
  const rows = await q.query('update webhook_endpoints set enabled = $2 where id = $1 returning id', [id, enabled]);
  if (rows.length === 0) throw new NotFoundError(`no webhook endpoint with id ${id}`);
}

export interface DeliveryLogEntry {
  deliveryId: number;
  endpointId: number;
  eventType: string;
  messageId: string;
  state: string;
  attempts: { attempt: number; status: number | null; durationMs: number; error: string | null; at: string }[];
}

/** The newest deliveries with every attempt; `dead` shows only the dead-lettered ones. */
export async function deliveryLog(q: Queryable, o: { dead?: boolean; limit?: number }): Promise<DeliveryLogEntry[]> {
  const rows = await q.query<{ id: number; endpoint_id: number; event_type: string; message_id: string; state: string; attempts: DeliveryLogEntry['attempts'] | null }>(
    `select d.id, d.endpoint_id, d.event_type, d.message_id, d.state,
            (select jsonb_agg(jsonb_build_object('attempt', a.attempt, 'status', a.status, 'durationMs', a.duration_ms, 'error', a.error, 'at', a.at) order by a.attempt)
             from webhook_attempts a where a.delivery_id = d.id) as attempts
     from webhook_deliveries d where ($1::boolean is not true or d.state = 'dead') order by d.id desc limit $2`,
    [o.dead ?? false, o.limit ?? 50],
  );
  return rows.map((r) => ({ deliveryId: Number(r.id), endpointId: Number(r.endpoint_id), eventType: r.event_type, messageId: r.message_id, state: r.state, attempts: r.attempts ?? [] }));
}

/** Re-opens a dead-lettered delivery; the sweep (or the next worker pass) sends it again. */
export async function retryDelivery(q: Queryable, id: number): Promise<void> {
  const rows = await q.query(`update webhook_deliveries set state = 'pending', next_attempt_at = now(), attempts = 0 where id = $1 and state = 'dead' returning id`, [id]);
  if (rows.length === 0) throw new NotFoundError(`no dead-lettered webhook delivery with id ${id}`);
}
