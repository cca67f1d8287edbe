/**
 * The outbox: outreach rows, coupons, outbound webhook deliveries and their attempt log,
 * and the settings switches. Senders claim a row with a conditional update and a lease, so
 * two workers (or a sweep-restored job racing a slow original) can never send one row twice.
 */
import type { Queryable } from '../db/client.js';

export interface OutreachRow {
  id: number;
  cycleId: string;
  userId: string;
  tier: string;
  channel: string;
  holdout: boolean;
  state: string;
  scheduledAt: Date;
  attempts: number;
  couponId: number | null;
  messageId: string | null;
}

export interface PlannedRow {
  userId: string;
  tier: string;
  channel: 'coupon' | 'email';
  holdout: boolean;
  scheduledAt: Date;
  churnProbability: number;
  /** The rescore run whose score planned the row. */
  modelRunId: number | null;
  /** `tiers`, `uplift` or `explore`. */
  policy: string;
  /** Why this offer: shown on the user card and sent in `outreach.planned`. */
  reason: Record<string, unknown>;
  /** What the uplift model learns from once the row settles. */
  features: unknown;
  coupon: { code: string; kind: string; value: number; currency: string | null; expiresAt: Date } | null;
}

/**
 * Inserts a cycle's outreach rows and their coupons (one statement each, inside the caller's
 * transaction). Unique per (user, cycle): re-planning a cycle inserts nothing twice.
 * Returns the rows that are new.
 */
export async function insertPlanned(tx: Queryable, cycleId: string, campaign: string, rows: readonly PlannedRow[]): Promise<{ id: number; userId: string; holdout: boolean; channel: string; scheduledAt: Date }[]> {
  if (rows.length === 0) return [];
  const inserted = await tx.query<{ id: number; user_id: string; holdout: boolean; channel: string; scheduled_at: string }>(
    `insert into outreach (cycle_id, campaign, model_run_id, user_id, tier, channel, holdout, state, scheduled_at, churn_probability, policy, reason, features)
     select $1, $2, t.run, t.user_id, t.tier, t.channel, t.holdout::boolean, case when t.holdout::boolean then 'skipped' else 'planned' end, t.at, t.p, t.policy, t.reason::jsonb, t.features::jsonb
     from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::float8[], $9::bigint[], $10::text[], $11::text[], $12::text[])
       as t(user_id, tier, channel, holdout, at, p, run, policy, reason, features)
     on conflict (user_id, cycle_id) do nothing
     returning id, user_id, holdout, channel, scheduled_at`,
    [
      cycleId,
      campaign,
      rows.map((r) => r.userId),
      rows.map((r) => r.tier),
      rows.map((r) => r.channel),
      rows.map((r) => String(r.holdout)), // as text: postgres.js binds a boolean array as a scalar
      rows.map((r) => r.scheduledAt.toISOString()),
      rows.map((r) => r.churnProbability),
      rows.map((r) => r.modelRunId),
      rows.map((r) => r.policy),
      // JSON as text, cast in SQL: the drivers disagree on serialising jsonb arrays.
      rows.map((r) => JSON.stringify(r.reason)),
      rows.map((r) => (r.features === null || r.features === undefined ? null : JSON.stringify(r.features))),
    ],
  );
  const byUser = new Map(rows.map((r) => [r.userId, r]));
  const withCoupon = inserted.filter((r) => !r.holdout && byUser.get(r.user_id)?.coupon);
  if (withCoupon.length) {
    const coupons = await tx.query<{ id: number; outreach_id: number }>(
      `insert into coupons (code, user_id, outreach_id, kind, value, currency, expires_at)
       select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
       returning id, outreach_id`,
      [
        withCoupon.map((r) => byUser.get(r.user_id)!.coupon!.code),
        withCoupon.map((r) => r.user_id),
        withCoupon.map((r) => r.id),
        withCoupon.map((r) => byUser.get(r.user_id)!.coupon!.kind),
        withCoupon.map((r) => byUser.get(r.user_id)!.coupon!.value),
        withCoupon.map((r) => byUser.get(r.user_id)!.coupon!.currency),
        withCoupon.map((r) => byUser.get(r.user_id)!.coupon!.expiresAt.toISOString()),
      ],
    );
    await tx.query(`update outreach o set coupon_id = c.id from unnest($1::bigint[], $2::bigint[]) as c(id, outreach_id) where o.id = c.outreach_id`, [
      coupons.map((c) => c.id),
      coupons.map((c) => c.outreach_id),
    ]);
  }
  return inserted.map((r) => ({ id: Number(r.id), userId: r.user_id, holdout: r.holdout, channel: r.channel, scheduledAt: new Date(r.scheduled_at) }));
}

export type Claim = { claimed: true; attempts: number } | { claimed: false; state: string | null };

/** Takes a row for sending: planned, or sending with an expired lease (its sender died). */
export async function claimOutreach(q: Queryable, id: number, leaseSeconds: number): Promise<Claim> {
  const [row] = await q.query<{ attempts: number }>(
    `update outreach set state = 'sending', attempts = attempts + 1, sending_at = now(), lease_until = now() + make_interval(secs => $2)
     where id = $1 and not holdout and (state = 'planned' or (state = 'sending' and lease_until < now()))
     returning attempts`,
    [id, leaseSeconds],
  );
  if (row) return { claimed: true, attempts: Number(row.attempts) };
  const [cur] = await q.query<{ state: string }>('select state from outreach where id = $1', [id]);
  return { claimed: false, state: cur?.state ?? null };
}

/** One row of a batch claim: claimed (with its attempt count), or the state that kept it from being claimed. */
export type BatchClaim = { id: number } & Claim;

/**
 * {@link claimOutreach} for many rows in one statement, with the same conditions. Rows are
 * locked in id order, so two overlapping batches (a plan's and a sweep's) never deadlock; the
 * one that waits re-checks the conditions and leaves what the other took. Ids with no row are
 * answered `{ claimed: false, state: null }`.
 */
export async function claimOutreachBatch(q: Queryable, ids: readonly number[], leaseSeconds: number): Promise<BatchClaim[]> {
  if (ids.length === 0) return [];
  const rows = await q.query<{ id: number; attempts: number | null; state: string; claimed: boolean }>(
    `with locked as (
       select id from outreach
       where id = any($1::bigint[]) and not holdout and (state = 'planned' or (state = 'sending' and lease_until < now()))
       order by id for update
     ), claimed as (
       update outreach o set state = 'sending', attempts = o.attempts + 1, sending_at = now(), lease_until = now() + make_interval(secs => $2)
       from locked where o.id = locked.id and (o.state = 'planned' or (o.state = 'sending' and o.lease_until < now()))
       returning o.id, o.attempts
     )
     select o.id, c.attempts, o.state, c.id is not null as claimed
     from outreach o left join claimed c on c.id = o.id
     where o.id = any($1::bigint[])`,
    [ids, leaseSeconds],
  );
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  return ids.map((id): BatchClaim => {
    const r = byId.get(id);
    if (r?.claimed) return { id, claimed: true, attempts: Number(r.attempts) };
    // The outer select reads the snapshot from before the update: for an unclaimed row that is its state.
    return { id, claimed: false, state: r?.state ?? null };
  });
}

/**
 * Expected coupon money (each row's planned `reason.cost`, minor units) of the treated coupon
 * rows a campaign scheduled at or after `since` (the service's clock, as planning sets it): what a budget over several days has spent.
 * Rows that failed or were skipped issued nothing and do not count.
 */
export async function couponSpendSince(q: Queryable, campaign: string, since: Date): Promise<number> {
  const [r] = await q.query<{ spent: number | null }>(
    `select sum(coalesce((reason->>'cost')::float8, 0))::float8 as spent from outreach
     where campaign = $1 and channel = 'coupon' and not holdout and state in ('planned','sending','sent') and scheduled_at >= $2::timestamptz`,
    [campaign, since.toISOString()],
  );
  return Number(r?.spent ?? 0);
}

/** `at` is the service's clock (the conversion window starts there), not the database's: a simulated clock moves it too. */
export async function markOutreachSent(q: Queryable, id: number, messageId: string, at: Date): Promise<void> {
  await q.query(`update outreach set state = 'sent', sent_at = $3, message_id = $2, lease_until = null, last_error = null where id = $1 and state = 'sending'`, [id, messageId, at.toISOString()]);
}

/** A retryable failure: back to planned so the next attempt (or the sweep) can claim it. */
export async function releaseOutreach(q: Queryable, id: number, error: string): Promise<void> {
  await q.query(`update outreach set state = 'planned', lease_until = null, last_error = $2 where id = $1 and state = 'sending'`, [id, error.slice(0, 1000)]);
}

export async function failOutreach(q: Queryable, id: number, error: string): Promise<void> {
  await q.query(`update outreach set state = 'failed', lease_until = null, last_error = $2 where id = $1 and state in ('planned','sending')`, [id, error.slice(0, 1000)]);
}

/** Everything a message to one outreach row needs, in one query. */
export interface OutreachContext {
  id: number;
  userId: string;
  tier: string;
  channel: string;
  email: string | null;
  name: string | null;
  locale: string | null;
  timezone: string | null;
  unsubscribed: boolean;
  coupon: { code: string; kind: 'amount' | 'percent'; value: number; currency: string | null; expiresAt: Date } | null;
  /** Best first; `url` is the item's stored page (null when it has none). */
  recommendations: { itemId: string; title: string; reason: unknown; reasonTitle: string | null; url: string | null }[];
}

const CONTEXT_SELECT = `select o.id, o.user_id, o.tier, o.channel, u.email, u.name, u.locale, u.timezone, u.unsubscribed_at is not null as unsubscribed,
            c.code, c.kind, c.value, c.currency, c.expires_at,
            coalesce((select jsonb_agg(jsonb_build_object('itemId', r.item_id, 'title', coalesce(i.title, r.item_id), 'reason', r.reason,
                                                      'reasonTitle', ri.title, 'url', i.url) order by r.rank)
                      from recommendations r left join items i on i.id = r.item_id left join items ri on ri.id = r.reason->>'itemId'
                      where r.user_id = o.user_id and r.rank <= $2), '[]'::jsonb) as recs
     from outreach o join users u on u.id = o.user_id left join coupons c on c.id = o.coupon_id`;

function toContext(r: Record<string, unknown>): OutreachContext {
  const recs = (typeof r.recs === 'string' ? JSON.parse(r.recs) : r.recs) as OutreachContext['recommendations'];
  return {
    id: Number(r.id),
    userId: String(r.user_id),
    tier: String(r.tier),
    channel: String(r.channel),
    email: (r.email as string | null) ?? null,
    name: (r.name as string | null) ?? null,
    locale: (r.locale as string | null) ?? null,
    timezone: (r.timezone as string | null) ?? null,
    unsubscribed: Boolean(r.unsubscribed),
    coupon: r.code ? { code: String(r.code), kind: r.kind as 'amount' | 'percent', value: Number(r.value), currency: (r.currency as string | null) ?? null, expiresAt: new Date(r.expires_at as string) } : null,
    recommendations: recs,
  };
}

export async function outreachContext(q: Queryable, id: number, maxRecommendations = 4): Promise<OutreachContext | null> {
  const [r] = await q.query<Record<string, unknown>>(`${CONTEXT_SELECT} where o.id = $1`, [id, maxRecommendations]);
  return r ? toContext(r) : null;
}

/** {@link outreachContext} for many rows in one query, by row id (ids with no row are absent). */
export async function outreachContexts(q: Queryable, ids: readonly number[], maxRecommendations = 4): Promise<Map<number, OutreachContext>> {
  if (ids.length === 0) return new Map();
  const rows = await q.query<Record<string, unknown>>(`${CONTEXT_SELECT} where o.id = any($1::bigint[])`, [ids, maxRecommendations]);
  return new Map(rows.map((r) => [Number(r.id), toContext(r)]));
}

/** Rows the sweep must make sure have a job: planned, or sending with a dead sender's lease. */
export async function pendingOutreach(q: Queryable, limit: number): Promise<{ id: number; scheduledAt: Date; attempts: number }[]> {
  const rows = await q.query<{ id: number; scheduled_at: string; attempts: number }>(
    `select id, scheduled_at, attempts from outreach
     where not holdout and (state = 'planned' or (state = 'sending' and lease_until < now()))
     order by scheduled_at limit $1`,
    [limit],
  );
  return rows.map((r) => ({ id: Number(r.id), scheduledAt: new Date(r.scheduled_at), attempts: Number(r.attempts) }));
}

// --- outbound webhooks ------------------------------------------------------

export interface WebhookEvent {
  type: string;
  /** Stable per logical event: `webhook-id` receivers dedupe on. */
  messageId: string;
  payload: Record<string, unknown>;
}

/** Adds a delivery row per enabled endpoint subscribed to each event (empty filter = all). */
export async function enqueueWebhookEvents(tx: Queryable, events: readonly WebhookEvent[]): Promise<number[]> {
  if (events.length === 0) return [];
  const rows = await tx.query<{ id: number }>(
    `insert into webhook_deliveries (endpoint_id, message_id, event_type, payload, next_attempt_at)
     select e.id, t.message_id, t.type, t.payload::jsonb, now()
     from unnest($1::text[], $2::text[], $3::text[]) as t(type, message_id, payload)
     join webhook_endpoints e on e.enabled and (cardinality(e.event_types) = 0 or t.type = any(e.event_types))
     on conflict (endpoint_id, message_id) do nothing
     returning id`,
    [events.map((e) => e.type), events.map((e) => e.messageId), events.map((e) => JSON.stringify(e.payload))],
  );
  return rows.map((r) => Number(r.id));
}

export async function claimDelivery(q: Queryable, id: number, leaseSeconds: number): Promise<{ url: string; secret: string; messageId: string; eventType: string; payload: Record<string, unknown>; attempts: number } | null> {
  const [r] = await q.query<Record<string, unknown>>(
    `update webhook_deliveries d set attempts = d.attempts + 1, lease_until = now() + make_interval(secs => $2)
     from webhook_endpoints e
     where d.id = $1 and e.id = d.endpoint_id and d.state = 'pending' and (d.lease_until is null or d.lease_until < now())
     returning e.url, e.secret, d.message_id, d.event_type, d.payload, d.attempts`,
    [id, leaseSeconds],
  );
  if (!r) return null;
  return {
    url: String(r.url),
    secret: String(r.secret),
    messageId: String(r.message_id),
    eventType: String(r.event_type),
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    attempts: Number(r.attempts),
  };
}

export async function recordAttempt(
  q: Queryable,
  id: number,
  attempt: number,
  outcome: { status: number | null; durationMs: number; error?: string | undefined },
  next: { state: 'delivered' | 'pending' | 'dead'; nextAttemptAt: Date | null },
): Promise<void> {
  await q.query(
    `with a as (insert into webhook_attempts (delivery_id, attempt, status, duration_ms, error) values ($1, $2, $3, $4, $5))
     update webhook_deliveries set state = $6, last_status = $3, last_error = $5, last_duration_ms = $4, next_attempt_at = $7, lease_until = null,
       delivered_at = case when $6 = 'delivered' then now() else delivered_at end
     where id = $1`,
    [id, attempt, outcome.status, outcome.durationMs, outcome.error ?? null, next.state, next.nextAttemptAt?.toISOString() ?? null],
  );
}

export async function pendingDeliveries(q: Queryable, limit: number): Promise<{ id: number; nextAttemptAt: Date }[]> {
  const rows = await q.query<{ id: number; next_attempt_at: string | null }>(
    `select id, next_attempt_at from webhook_deliveries where state = 'pending' and (lease_until is null or lease_until < now()) order by next_attempt_at nulls first limit $1`,
    [limit],
  );
  return rows.map((r) => ({ id: Number(r.id), nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : new Date(0) }));
}

// --- settings -----------------------------------------------------------------

export async function getSetting<T>(q: Queryable, key: string): Promise<T | null> {
  const [r] = await q.query<{ value: unknown }>('select value from settings where key = $1', [key]);
  // Both drivers parse jsonb: a stored JSON string comes back as a JS string.
  return r ? (r.value as T) : null;
}

export async function setSetting(q: Queryable, key: string, value: unknown, by: string): Promise<void> {
  await q.query(
    `insert into settings (key, value, updated_by) values ($1, $2::text::jsonb, $3)
     on conflict (key) do update set value = excluded.value, updated_at = now(), updated_by = excluded.updated_by`,
    // JSON text bound as text and cast in SQL: the drivers disagree on how to serialise a bare string as jsonb.
    [key, JSON.stringify(value), by],
  );
}

export const OUTREACH_PAUSED = 'outreach.paused';

export async function isOutreachPaused(q: Queryable): Promise<boolean> {
  return (await getSetting<boolean>(q, OUTREACH_PAUSED)) === true;
}
