/**
 * Opens the database: PostgreSQL through postgres.js when `DATABASE_URL` is set, else an
 * embedded PGlite in a local folder. Store code talks to a small `Queryable` (text + $n
 * params) that both drivers implement, so the same SQL runs on both; drizzle is there for
 * the schema, migrations and typed one-off queries.
 *
 * Drizzle gets its own postgres.js client: `drizzle(client)` swaps that client's json and
 * timestamp serializers, which broke raw queries sharing it (STACK-NOTES).
 */
import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { copyStatement, copyText } from './copy.js';
import * as schema from './schema.js';

export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface QueryOptions {
  prepare?: boolean;
}

export interface Queryable {
  /**
   * Runs one statement with `$1…$n` parameters and returns its rows. Arrays bind as Postgres
   * arrays. `prepare` keeps the statement prepared on the connection (PostgreSQL): for hot,
   * fixed statements it saves a round trip and a parse per call; never for SQL built per call.
   */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]>;
  /** Bulk-loads rows (values in `columns` order) with COPY; returns how many were sent. */
  copyIn(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<number>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  readonly orm: Orm;
  /** Runs `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** postgres.js only: the raw client, for COPY and LISTEN. */
  readonly raw?: postgres.Sql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  pgliteDir?: string;
  poolSize?: number;
}

// JIT is off: it spent ~1 s compiling each feature statement and won nothing back (bench:models).
// int8 as a JS number: counts and ids here stay far below 2^53.
const int8 = { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) };

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.poolSize ?? 10) : openPglite(opts.pgliteDir ?? '.data/pglite');
}

function openPostgres(url: string, max: number): Database {
  const options = { max, onnotice: () => {}, types: { int8 }, connection: { application_name: 'rekindle', jit: 'off' } } as const;
  const sql = postgres(url, options);
  const ormClient = postgres(url, { ...options, max: Math.min(4, max) });
  const orm = drizzlePostgres(ormClient, { schema, casing: 'snake_case' }) as unknown as Orm;
  const wrap = (s: postgres.Sql | postgres.TransactionSql): Queryable => ({
    query: async <T>(text: string, params: readonly unknown[] = [], opts: QueryOptions = {}) =>
      (await s.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: opts.prepare ?? false })) as unknown as T[],
    copyIn: async (table, columns, rows) => {
      if (rows.length === 0) return 0;
      const q = s.unsafe(copyStatement(table, columns, 'stdin'));
      const sink = await q.writable();
      // postgres.js resolves the query with the stream; an error the server sends after the
      // last row (a duplicate key, a bad value) then reaches only query.reject, and the
      // stream's end never comes: without this the write would wait forever.
      const failed = new Promise<never>((_, reject) => {
        (q as unknown as { reject: (e: unknown) => void }).reject = reject;
      });
      failed.catch(() => undefined);
      await Promise.race([pipeline(Readable.from([copyText(rows)]), sink), failed]);
      return rows.length;
    },
  });
  return {
    kind: 'postgres',
    orm,
    raw: sql,
    ...wrap(sql),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => (await sql.begin((tx) => fn(wrap(tx)))) as T,
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), ormClient.end({ timeout: 5 })]);
    },
  };
}

async function openPglite(dir: string): Promise<Database> {
  // Loaded only when used: the wasm build is large and a PostgreSQL deployment never needs it.
  const [{ PGlite, types: pgliteTypes }, { drizzle: drizzlePglite }] = await Promise.all([import('@electric-sql/pglite'), import('drizzle-orm/pglite')]);
  if (dir !== 'memory://') mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create(dir, {
    parsers: { [pgliteTypes.INT8]: (x: string) => Number(x) },
  });
  const orm = drizzlePglite(pg, { schema, casing: 'snake_case' }) as unknown as Orm;
  type Tx = { query: PGlite['query'] };
  const wrap = (s: Tx): Queryable => ({
    query: async <T>(text: string, params: readonly unknown[] = []) => (await s.query<T>(text, params as unknown[])).rows,
    copyIn: async (table, columns, rows) => {
      if (rows.length === 0) return 0;
      await s.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob: new Blob([copyText(rows)]) });
      return rows.length;
    },
  });
  return {
    kind: 'pglite',
    orm,
    ...wrap(pg),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => pg.transaction((tx) => fn(wrap(tx))),
    close: () => pg.close(),
  };
}
