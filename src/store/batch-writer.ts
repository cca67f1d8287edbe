/**
 * Streams rows into the database in batches, with a bounded number of transactions in
 * flight: memory stays constant whatever the input size. The importer and the synthetic
 * platform both write through this.
 */
import type { EventRecord, ItemRecord, UserRecord } from '../domain/events.js';
import type { Database } from '../db/client.js';
import { copyMergeBatch } from './events.js';

export interface BatchWriterStats {
  events: number;
  inserted: number;
  duplicates: number;
  batches: number;
}

export interface BatchWriter {
  /** Resolves when the row is buffered; waits while too many batches are in flight (back-pressure). */
  add(row: { event?: EventRecord; user?: UserRecord; item?: ItemRecord }): Promise<void>;
  /** Writes what is buffered and waits for every batch in flight. */
  flush(): Promise<BatchWriterStats>;
  readonly stats: BatchWriterStats;
}

/** Refreshes planner statistics after a bulk load: fresh tables otherwise get nested-loop plans. */
export async function analyzeTables(db: Pick<Database, 'query'>): Promise<void> {
  await db.query('analyze users, items, events');
}

/**
 * Each batch is COPYed into staging tables and merged set-based in one transaction
 * (copyMergeBatch): bench:import measured it beside a bare COPY. A batch goes out when it
 * holds `batchSize` events, or as many user and item rows.
 */
export function createBatchWriter(db: Pick<Database, 'query' | 'copyIn' | 'kind' | 'transaction'>, opts: { batchSize?: number; concurrency?: number } = {}): BatchWriter {
  const batchSize = opts.batchSize ?? 5000;
  // PGlite is one connection: more in flight only queues.
  const concurrency = db.kind === 'pglite' ? 1 : (opts.concurrency ?? 3);
  const stats: BatchWriterStats = { events: 0, inserted: 0, duplicates: 0, batches: 0 };
  let events: EventRecord[] = [];
  let users: UserRecord[] = [];
  let items: ItemRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;

  function dispatch(): void {
    if (events.length === 0 && users.length === 0 && items.length === 0) return;
    const batch = { events, users, items };
    events = [];
    users = [];
    items = [];
    const p = copyMergeBatch(db, batch).then(
      (inserted) => {
        stats.batches++;
        stats.events += batch.events.length;
        stats.inserted += inserted.size;
        stats.duplicates += batch.events.length - inserted.size;
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
      if (row.event) events.push(row.event);
      if (row.user) users.push(row.user);
      if (row.item) items.push(row.item);
      if (events.length >= batchSize || users.length + items.length >= 2 * batchSize) {
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
