/**
 * Shared by the bench:models phases. Each phase is its own child process (so its peak RSS
 * is its own), started by bench/models.ts as
 *   node --import ./bench/rss-reporter.mjs --import tsx bench/models/<phase>.ts <dbUrl> [--opt value …]
 * and reports one `BENCH_RESULT {json}` line on stdout.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { openDatabase, type Database } from '../../src/db/client.js';
import { silentLogger } from '../../src/logger.js';
import type { TrainingSet } from '../../src/services/churn.js';

export const DAY_MS = 86_400_000;

/** The child's database URL (first argument) and its options. */
export function phaseArgs<O extends NonNullable<ParseArgsConfig['options']>>(options: O) {
  const [dbUrl, ...rest] = process.argv.slice(2);
  if (!dbUrl) throw new Error(`usage: ${process.argv[1]} <dbUrl> [options]`);
  const { values } = parseArgs({ args: rest, options, strict: true });
  return { dbUrl, values };
}

export async function withDatabase<T>(dbUrl: string, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: dbUrl, poolSize: 4 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export function deps(db: Database, now: Date) {
  return { db, log: silentLogger, now: () => now };
}

export function report(result: Record<string, unknown>): void {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

/**
 * A training set on disk, so the phases that train (ours, the reference) read the same rows
 * without a features pass of their own: `<base>.json` (meta) + `<base>.x` (Float64, row-major)
 * + `<base>.y` (Uint8 labels) + `<base>.r` (Float64 recency days).
 */
export interface StoredSet {
  n: number;
  width: number;
  x: Float64Array;
  labels: Uint8Array;
  recencyDays: Float64Array;
  asOf: string;
  labelEnd: string;
  population: number;
}

export function writeSet(base: string, set: TrainingSet, width: number): void {
  writeFileSync(`${base}.json`, JSON.stringify({ n: set.n, width, asOf: set.asOf.toISOString(), labelEnd: set.labelEnd.toISOString(), population: set.population }));
  writeFileSync(`${base}.x`, new Uint8Array(set.x.buffer, set.x.byteOffset, set.x.byteLength));
  writeFileSync(`${base}.y`, set.labels);
  writeFileSync(`${base}.r`, new Uint8Array(set.recencyDays.buffer, set.recencyDays.byteOffset, set.recencyDays.byteLength));
}

export function readSet(base: string): StoredSet {
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { n: number; width: number; asOf: string; labelEnd: string; population: number };
  const f64 = (path: string) => {
    const b = readFileSync(path);
    // Copy into an aligned buffer (a Buffer may sit at any offset of a shared pool).
    const out = new Float64Array(b.byteLength / 8);
    new Uint8Array(out.buffer).set(b);
    return out;
  };
  return { ...meta, x: f64(`${base}.x`), labels: new Uint8Array(readFileSync(`${base}.y`)), recencyDays: f64(`${base}.r`) };
}

export { mulberry32 } from '../../src/ml/prng.js';

/** The phase's main: runs `fn`, prints its result, exits non-zero (with the stack) on failure. */
export async function runPhase(fn: () => Promise<Record<string, unknown>>): Promise<void> {
  try {
    report(await fn());
  } catch (e) {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}

/** Where a phase's database time went: wall seconds and calls per kind of statement. */
export type QueryProfile = Record<string, { calls: number; seconds: number }>;

function label(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (s.startsWith('with u as')) return 'featuresAsOf';
  if (s.includes('bool_or(e.type')) return 'interactionsForRange';
  if (s.startsWith('insert into webhook_deliveries')) return 'risk changes (publish)';
  if (s.includes('percentile_cont')) return 'membershipPeriods';
  if (s.includes('count(distinct user_id)')) return 'count payers';
  if (s.startsWith('delete from recommendations_r')) return 'replace retried recommendations';
  return s.slice(0, 48);
}

/**
 * Wraps a Database so every statement (also inside transactions) is timed by kind. The
 * phases here run their statements one at a time, so the sums are wall time spent waiting
 * on PostgreSQL (plus postgres.js parsing the rows); the rest of the phase is JavaScript.
 */
export function profiled(db: Database): { db: Database; profile: QueryProfile } {
  const profile: QueryProfile = {};
  const wrapQ = <Q extends { query: Database['query'] }>(q: Q): Database['query'] =>
    async function query<T>(text: string, params?: readonly unknown[]): Promise<T[]> {
      const t0 = performance.now();
      try {
        return await q.query<T>(text, params);
      } finally {
        const k = label(text);
        const e = (profile[k] ??= { calls: 0, seconds: 0 });
        e.calls++;
        e.seconds += (performance.now() - t0) / 1000;
      }
    };
  const timedCopy =
    (q: Pick<Database, 'copyIn'>): Database['copyIn'] =>
    async (table, columns, rows) => {
      const t0 = performance.now();
      try {
        return await q.copyIn(table, columns, rows);
      } finally {
        const e = (profile[`copy ${table}`] ??= { calls: 0, seconds: 0 });
        e.calls++;
        e.seconds += (performance.now() - t0) / 1000;
      }
    };
  const wrapped: Database = {
    kind: db.kind,
    orm: db.orm,
    ...(db.raw ? { raw: db.raw } : {}),
    query: wrapQ(db),
    copyIn: timedCopy(db),
    transaction: (fn) => db.transaction((tx) => fn({ query: wrapQ(tx), copyIn: timedCopy(tx) })),
    close: () => db.close(),
  };
  return { db: wrapped, profile };
}

export function roundProfile(p: QueryProfile): QueryProfile {
  return Object.fromEntries(
    Object.entries(p)
      .sort((a, b) => b[1].seconds - a[1].seconds)
      .map(([k, v]) => [k, { calls: v.calls, seconds: Math.round(v.seconds * 100) / 100 }]),
  );
}
