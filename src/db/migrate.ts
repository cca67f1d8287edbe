/**
 * Applies drizzle-kit migrations and tells whether a database is up to date, so `serve`
 * and `worker` can refuse to start on an unmigrated one.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { NotReadyError } from '../domain/errors.js';
import type { Database } from './client.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

interface Journal {
  entries: { idx: number; when: number; tag: string }[];
}

function journal(): Journal {
  return JSON.parse(readFileSync(`${MIGRATIONS_DIR}/meta/_journal.json`, 'utf8')) as Journal;
}

/** Applies every pending migration (idempotent). Returns how many the database now has. */
export async function migrate(db: Database): Promise<{ applied: number; total: number }> {
  // drizzle's migrator takes its own driver's database type; both share the PgDatabase shape.
  if (db.kind === 'postgres') await migratePostgres(db.orm as never, { migrationsFolder: MIGRATIONS_DIR });
  else await migratePglite(db.orm as never, { migrationsFolder: MIGRATIONS_DIR });
  const s = await migrationStatus(db);
  return { applied: s.applied, total: s.total };
}

export interface MigrationStatus {
  upToDate: boolean;
  applied: number;
  total: number;
  pending: string[];
}

export async function migrationStatus(db: Database): Promise<MigrationStatus> {
  const entries = journal().entries;
  const exists = await db.query<{ ok: boolean }>(`select to_regclass('drizzle.__drizzle_migrations') is not null as ok`);
  const applied = exists[0]?.ok
    ? new Set((await db.query<{ created_at: string | number }>('select created_at from drizzle.__drizzle_migrations')).map((r) => Number(r.created_at)))
    : new Set<number>();
  const pending = entries.filter((e) => !applied.has(e.when)).map((e) => e.tag);
  return { upToDate: pending.length === 0, applied: entries.length - pending.length, total: entries.length, pending };
}

/** Throws a clear error naming the pending migrations and the command that applies them. */
export async function assertMigrated(db: Database): Promise<void> {
  const s = await migrationStatus(db);
  if (!s.upToDate) {
    throw new NotReadyError(
      `The database is not migrated (${s.applied} of ${s.total} migrations applied; pending: ${s.pending.join(', ')}). Run \`npx rekindle migrate\` first.`,
    );
  }
}
