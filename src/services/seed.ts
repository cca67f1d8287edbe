/**
 * Seeds a synthetic knowledge-paid platform (src/synth) through the same batch writer the
 * importer uses. Deterministic for a seed and an end date; safe to run twice (same ids).
 */
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { generateCatalog } from '../synth/catalog.js';
import { generateUsers } from '../synth/platform.js';
import { analyzeTables, createBatchWriter } from '../store/batch-writer.js';

export interface SeedOptions {
  users: number;
  seed: number;
  /** The platform's "today": events end before it. */
  end: Date;
  days?: number;
  onProgress?: (usersDone: number, eventsDone: number) => void;
}

export interface SeedResult {
  users: number;
  items: number;
  events: number;
  inserted: number;
  duplicates: number;
}

export async function seedPlatform(d: { db: Database; log: Logger }, o: SeedOptions): Promise<SeedResult> {
  const items = generateCatalog({ seed: o.seed });
  const writer = createBatchWriter(d.db, { batchSize: 5000 });
  for (const item of items) await writer.add({ item });
  let users = 0;
  let events = 0;
  for (const u of generateUsers({ users: o.users, seed: o.seed, end: o.end, ...(o.days ? { days: o.days } : {}) }, items)) {
    await writer.add({ user: u.user });
    for (const event of u.events) await writer.add({ event });
    users++;
    events += u.events.length;
    if (users % 1000 === 0) o.onProgress?.(users, events);
  }
  const stats = await writer.flush();
  await analyzeTables(d.db);
  o.onProgress?.(users, events);
  d.log.info({ users, items: items.length, events, inserted: stats.inserted }, 'seeded');
  return { users, items: items.length, events, inserted: stats.inserted, duplicates: stats.duplicates };
}
