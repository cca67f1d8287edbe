/**
 * Writes events, and the users and items they mention, as ONE statement per batch: two
 * data-modifying CTEs upsert users and items, the outer insert adds events. One round trip
 * and one implicit transaction whatever the batch size, which is what lets the webhook
 * endpoint keep up with bare express (bench:ingest). Used by the ingestor, the importer and
 * the synthetic platform alike.
 */
import type { EventRecord, ItemRecord, UserRecord } from '../domain/events.js';
import type { Database, Queryable } from '../db/client.js';
import { pgTextArray } from './pg-array.js';

export interface Batch {
  events: readonly EventRecord[];
  users: readonly UserRecord[];
  items: readonly ItemRecord[];
}

/** Keeps the last non-undefined value per field; keys sorted so concurrent batches lock rows in one order. */
function mergeById<T extends { id: string }>(rows: readonly T[]): T[] {
  const byId = new Map<string, T>();
  for (const r of rows) {
    const prev = byId.get(r.id);
    if (!prev) {
      byId.set(r.id, { ...r });
      continue;
    }
    for (const [k, v] of Object.entries(r)) if (v !== undefined) (prev as Record<string, unknown>)[k] = v;
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const WRITE_BATCH = `
with upserted_users as (
  insert into users (id, email, name, locale, timezone, signup_at)
  select s.* from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) as s(id, email, name, locale, timezone, signup_at)
  -- An id-only row for a user who exists adds nothing: skipped, not locked by the upsert.
  where s.email is not null or s.name is not null or s.locale is not null or s.timezone is not null or s.signup_at is not null
     or not exists (select 1 from users u where u.id = s.id)
  on conflict (id) do update set
    email = coalesce(excluded.email, users.email),
    name = coalesce(excluded.name, users.name),
    locale = coalesce(excluded.locale, users.locale),
    timezone = coalesce(excluded.timezone, users.timezone),
    signup_at = least(users.signup_at, excluded.signup_at),
    updated_at = now()
  where (excluded.email is not null and excluded.email is distinct from users.email)
     or (excluded.name is not null and excluded.name is distinct from users.name)
     or (excluded.locale is not null and excluded.locale is distinct from users.locale)
     or (excluded.timezone is not null and excluded.timezone is distinct from users.timezone)
     or (excluded.signup_at is not null and (users.signup_at is null or excluded.signup_at < users.signup_at))
  returning 1
), upserted_items as (
  insert into items (id, title, item_type, category, tags, description, price_minor, currency, url)
  select id, title, item_type, category, coalesce(tags::text[], '{}'), description, price_minor, currency, url
  from unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $27::text[])
    as t(id, title, item_type, category, tags, description, price_minor, currency, url)
  where t.title is not null or t.item_type is not null or t.category is not null or t.tags is not null or t.description is not null
     or t.price_minor is not null or t.currency is not null or t.url is not null
     or not exists (select 1 from items i where i.id = t.id)
  on conflict (id) do update set
    title = coalesce(excluded.title, items.title),
    item_type = coalesce(excluded.item_type, items.item_type),
    category = coalesce(excluded.category, items.category),
    tags = case when excluded.tags <> '{}' then excluded.tags else items.tags end,
    description = coalesce(excluded.description, items.description),
    price_minor = coalesce(excluded.price_minor, items.price_minor),
    currency = coalesce(excluded.currency, items.currency),
    url = coalesce(excluded.url, items.url),
    updated_at = now()
  where (excluded.title is not null and excluded.title is distinct from items.title)
     or (excluded.item_type is not null and excluded.item_type is distinct from items.item_type)
     or (excluded.category is not null and excluded.category is distinct from items.category)
     or (excluded.tags <> '{}' and excluded.tags is distinct from items.tags)
     or (excluded.description is not null and excluded.description is distinct from items.description)
     or (excluded.price_minor is not null and excluded.price_minor is distinct from items.price_minor)
     or (excluded.currency is not null and excluded.currency is distinct from items.currency)
     or (excluded.url is not null and excluded.url is distinct from items.url)
  returning 1
)
insert into events (source, event_id, type, user_id, item_id, occurred_at, amount_minor, currency, quantity, lesson_id, percent, coupon_code)
select * from unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::timestamptz[], $21::bigint[], $22::text[], $23::int[], $24::text[], $25::real[], $26::text[])
on conflict (source, event_id) do nothing
returning source, event_id`;

/**
 * Writes a batch atomically (one statement) and returns the keys of the events that were
 * new, as `source\u0000eventId`, so callers can count duplicates per request.
 */
export async function writeBatch(q: Queryable, batch: Batch): Promise<Set<string>> {
  const users = mergeById(batch.users);
  const items = mergeById(batch.items);
  const events = batch.events;
  const rows = await q.query<{ source: string; event_id: string }>(WRITE_BATCH, [
    users.map((u) => u.id),
    users.map((u) => u.email ?? null),
    users.map((u) => u.name ?? null),
    users.map((u) => u.locale ?? null),
    users.map((u) => u.timezone ?? null),
    users.map((u) => u.signupAt?.toISOString() ?? null),
    items.map((i) => i.id),
    items.map((i) => i.title ?? null),
    items.map((i) => i.itemType ?? null),
    items.map((i) => i.category ?? null),
    items.map((i) => (i.tags ? pgTextArray(i.tags) : null)),
    items.map((i) => i.description ?? null),
    items.map((i) => i.priceMinor ?? null),
    items.map((i) => i.currency ?? null),
    events.map((e) => e.source),
    events.map((e) => e.eventId),
    events.map((e) => e.type),
    events.map((e) => e.userId),
    events.map((e) => e.itemId),
    events.map((e) => e.occurredAt.toISOString()),
    events.map((e) => e.amountMinor),
    events.map((e) => e.currency),
    events.map((e) => e.quantity),
    events.map((e) => e.lessonId),
    events.map((e) => e.percent),
    events.map((e) => e.couponCode),
    items.map((i) => i.url ?? null),
  ], { prepare: true });
  return new Set(rows.map((r) => eventKey(r.source, r.event_id)));
}

export const eventKey = (source: string, eventId: string): string => `${source}\u0000${eventId}`;

/*
 * The bulk path: events are COPYed into a staging table of the transaction's own (temp,
 * dropped at commit) and merged with one set-based insert; the users and items they touch
 * (merged per id in JS, since an upsert may touch a row once per statement) go in as arrays,
 * one upsert each. Users in id order, then items in id order, then events in key order: every
 * batch locks rows in one global order, so concurrent batches never deadlock. bench:import
 * measures it beside a bare COPY.
 */
const STAGE_EVENTS = `create temp table rk_stage_events (source text, event_id text, type text, user_id text, item_id text, occurred_at timestamptz, amount_minor bigint, currency text, quantity int, lesson_id text, percent real, coupon_code text) on commit drop`;

const MERGE_USERS = `
insert into users (id, email, name, locale, timezone, signup_at)
select s.id, s.email, s.name, s.locale, s.timezone, s.signup_at
from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) as s(id, email, name, locale, timezone, signup_at)
-- A row with nothing but its id adds nothing to a user who exists: skip it before the upsert,
-- which would lock (and so write) the existing row even when its WHERE says no.
where s.email is not null or s.name is not null or s.locale is not null or s.timezone is not null or s.signup_at is not null
   or not exists (select 1 from users u where u.id = s.id)
order by s.id
on conflict (id) do update set
  email = coalesce(excluded.email, users.email),
  name = coalesce(excluded.name, users.name),
  locale = coalesce(excluded.locale, users.locale),
  timezone = coalesce(excluded.timezone, users.timezone),
  signup_at = least(users.signup_at, excluded.signup_at),
  updated_at = now()
where (excluded.email is not null and excluded.email is distinct from users.email)
   or (excluded.name is not null and excluded.name is distinct from users.name)
   or (excluded.locale is not null and excluded.locale is distinct from users.locale)
   or (excluded.timezone is not null and excluded.timezone is distinct from users.timezone)
   or (excluded.signup_at is not null and (users.signup_at is null or excluded.signup_at < users.signup_at))`;

const MERGE_ITEMS = `
insert into items (id, title, item_type, category, tags, description, price_minor, currency, url)
select s.id, s.title, s.item_type, s.category, coalesce(s.tags::text[], '{}'), s.description, s.price_minor, s.currency, s.url
from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[])
  as s(id, title, item_type, category, tags, description, price_minor, currency, url)
where s.title is not null or s.item_type is not null or s.category is not null or s.tags is not null or s.description is not null
   or s.price_minor is not null or s.currency is not null or s.url is not null
   or not exists (select 1 from items i where i.id = s.id)
order by s.id
on conflict (id) do update set
  title = coalesce(excluded.title, items.title),
  item_type = coalesce(excluded.item_type, items.item_type),
  category = coalesce(excluded.category, items.category),
  tags = case when excluded.tags <> '{}' then excluded.tags else items.tags end,
  description = coalesce(excluded.description, items.description),
  price_minor = coalesce(excluded.price_minor, items.price_minor),
  currency = coalesce(excluded.currency, items.currency),
  url = coalesce(excluded.url, items.url),
  updated_at = now()
where (excluded.title is not null and excluded.title is distinct from items.title)
   or (excluded.item_type is not null and excluded.item_type is distinct from items.item_type)
   or (excluded.category is not null and excluded.category is distinct from items.category)
   or (excluded.tags <> '{}' and excluded.tags is distinct from items.tags)
   or (excluded.description is not null and excluded.description is distinct from items.description)
   or (excluded.price_minor is not null and excluded.price_minor is distinct from items.price_minor)
   or (excluded.currency is not null and excluded.currency is distinct from items.currency)
   or (excluded.url is not null and excluded.url is distinct from items.url)`;

const MERGE_EVENTS = `
insert into events (source, event_id, type, user_id, item_id, occurred_at, amount_minor, currency, quantity, lesson_id, percent, coupon_code)
select source, event_id, type, user_id, item_id, occurred_at, amount_minor, currency, quantity, lesson_id, percent, coupon_code
from rk_stage_events order by source, event_id
on conflict (source, event_id) do nothing
returning source, event_id`;

const EVENT_COLUMNS = ['source', 'event_id', 'type', 'user_id', 'item_id', 'occurred_at', 'amount_minor', 'currency', 'quantity', 'lesson_id', 'percent', 'coupon_code'];

/**
 * Writes a batch in one transaction through COPY and set-based merges; the same result as
 * {@link writeBatch} (the keys of the events that were new), at bulk speed. Use it for
 * batches of hundreds of rows and more: for a handful, writeBatch's single statement wins.
 */
export async function copyMergeBatch(db: Pick<Database, 'transaction'>, batch: Batch): Promise<Set<string>> {
  const users = mergeById(batch.users);
  const items = mergeById(batch.items);
  return db.transaction(async (tx) => {
    if (users.length)
      await tx.query(MERGE_USERS, [
        users.map((u) => u.id),
        users.map((u) => u.email ?? null),
        users.map((u) => u.name ?? null),
        users.map((u) => u.locale ?? null),
        users.map((u) => u.timezone ?? null),
        users.map((u) => u.signupAt?.toISOString() ?? null),
      ]);
    if (items.length)
      await tx.query(MERGE_ITEMS, [
        items.map((i) => i.id),
        items.map((i) => i.title ?? null),
        items.map((i) => i.itemType ?? null),
        items.map((i) => i.category ?? null),
        items.map((i) => (i.tags ? pgTextArray(i.tags) : null)),
        items.map((i) => i.description ?? null),
        items.map((i) => i.priceMinor ?? null),
        items.map((i) => i.currency ?? null),
        items.map((i) => i.url ?? null),
      ]);
    if (batch.events.length === 0) return new Set<string>();
    await tx.query(STAGE_EVENTS);
    await tx.copyIn(
      'rk_stage_events',
      EVENT_COLUMNS,
      batch.events.map((e) => [e.source, e.eventId, e.type, e.userId, e.itemId, e.occurredAt, e.amountMinor, e.currency, e.quantity, e.lessonId, e.percent, e.couponCode]),
    );
    const rows = await tx.query<{ source: string; event_id: string }>(MERGE_EVENTS);
    return new Set(rows.map((r) => eventKey(r.source, r.event_id)));
  });
}
