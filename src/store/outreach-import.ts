/**
 * Writes imported past campaigns into the outreach table in batches: one statement per batch
 * (a CTE adds users not seen yet, the outer insert adds the rows), a bounded number of batches
 * in flight, so memory stays constant whatever the file size. Idempotent through the unique
 * (user_id, cycle_id) index: a row already stored is counted as a duplicate.
 */
import type { Database, Queryable } from '../db/client.js';
import type { ImportedOutreach } from '../domain/outreach-import.js';

const INSERT_IMPORTED = `
with new_users as (
  insert into users (id)
  select * from unnest($1::text[])
  on conflict (id) do nothing
)
insert into outreach (cycle_id, campaign, user_id, tier, channel, holdout, state, scheduled_at, sent_at, coupon_code, discount_minor, currency, origin)
select t.cycle_id, t.campaign, t.user_id, 'imported', t.channel, t.holdout::boolean, t.state, t.scheduled_at, t.sent_at, t.coupon_code, t.discount_minor, t.currency, 'import'
from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::bigint[], $12::text[])
  as t(cycle_id, campaign, user_id, channel, holdout, state, scheduled_at, sent_at, coupon_code, discount_minor, currency)
on conflict (user_id, cycle_id) do nothing
returning 1`;

const byKey = (a: ImportedOutreach, b: ImportedOutreach) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.cycleId < b.cycleId ? -1 : a.cycleId > b.cycleId ? 1 : 0);

/**
 * Inserts one batch of imported outreach rows (and the ids of users not stored yet) in one
 * statement; returns how many rows were new. Keys are sorted so concurrent batches take
 * index locks in one order and cannot deadlock.
 */
export async function insertImportedOutreach(q: Pick<Queryable, 'query'>, rows: readonly ImportedOutreach[]): Promise<number> {
  if (rows.length === 0) return 0;
  const sorted = [...rows].sort(byKey);
  const userIds = [...new Set(sorted.map((r) => r.userId))];
  const inserted = await q.query(
    INSERT_IMPORTED,
    [
      userIds,
      sorted.map((r) => r.cycleId),
      sorted.map((r) => r.campaign),
      sorted.map((r) => r.userId),
      sorted.map((r) => r.channel),
      sorted.map((r) => String(r.holdout)), // as text: postgres.js binds a boolean array as a scalar
      sorted.map((r) => r.state),
      sorted.map((r) => r.scheduledAt.toISOString()),
      sorted.map((r) => r.sentAt?.toISOString() ?? null),
      sorted.map((r) => r.couponCode),
      sorted.map((r) => r.discountMinor),
      sorted.map((r) => r.currency),
    ],
    { prepare: true },
  );
  return inserted.length;
}

export interface OutreachImportStats {
  rows: number;
  inserted: number;
  duplicates: number;
  batches: number;
}

export interface OutreachImportWriter {
  /** Resolves when the row is buffered; waits while too many batches are in flight (back-pressure). */
  add(row: ImportedOutreach): Promise<void>;
  /** Writes what is buffered and waits for every batch in flight. */
  flush(): Promise<OutreachImportStats>;
  readonly stats: OutreachImportStats;
}

export function createOutreachImportWriter(db: Pick<Database, 'query' | 'kind'>, opts: { batchSize?: number; concurrency?: number } = {}): OutreachImportWriter {
  const batchSize = opts.batchSize ?? 2000;
  // PGlite is one connection: more in flight only queues.
  const concurrency = db.kind === 'pglite' ? 1 : (opts.concurrency ?? 3);
  const stats: OutreachImportStats = { rows: 0, inserted: 0, duplicates: 0, batches: 0 };
  let buffer: ImportedOutreach[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;

  function dispatch(): void {
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    const p = insertImportedOutreach(db, batch).then(
      (inserted) => {
        stats.batches++;
        stats.rows += batch.length;
        stats.inserted += inserted;
        stats.duplicates += batch.length - inserted;
      },
      (e: unknown) => {
        failure ??= e;
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }

  return {
    stats,
    async add(row) {
      if (failure) throw failure;
      buffer.push(row);
      if (buffer.length >= batchSize) {
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
        if (failure) throw failure;
        dispatch();
      }
    },
    async flush() {
      dispatch();
      await Promise.all(inFlight);
      if (failure) throw failure;
      return stats;
    },
  };
}

/** Refreshes planner statistics on outreach after a bulk load. */
export async function analyzeOutreach(db: Pick<Database, 'query'>): Promise<void> {
  await db.query('analyze outreach');
}
