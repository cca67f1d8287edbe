/**
 * bench:import — `rekindle import` of a 1M-event CSV in a child process: time, rows/s and the
 * child's peak RSS (target < 300 MB), beside two baselines measured in the same run on the same
 * file: a bare postgres.js COPY into a plain table (no indexes, no checks: the issue's
 * baseline, target ≥ 80% of it) and a bare COPY into the events table itself (its indexes, no
 * validation, no users or items). Then the same file again (idempotent: nothing new).
 * Usage: npm run bench:import [-- --events 1000000]
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { machine, runMeasured, scratchDatabase, table } from './support.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '1000000' } } });
const N = Number(args.events);
const TYPES = ['view', 'view', 'view', 'lesson_progress', 'purchase', 'renewal', 'refund', 'coupon_redeemed'] as const;

async function writeCsv(path: string): Promise<void> {
  const w = createWriteStream(path);
  w.write('event_id,type,user_id,occurred_at,item_id,amount_minor,currency,quantity,lesson_id,percent,coupon_code\n');
  const t0 = Date.UTC(2025, 0, 1);
  for (let i = 0; i < N; i++) {
    const type = TYPES[i % TYPES.length]!;
    const user = `u${(i * 7919) % Math.max(1, Math.floor(N / 20))}`;
    const at = new Date(t0 + i * 31_000).toISOString();
    const item = `c${i % 500}`;
    const line =
      type === 'view'
        ? `b${i},view,${user},${at},${item},,,,,,`
        : type === 'lesson_progress'
          ? `b${i},lesson_progress,${user},${at},${item},,,,l${i % 30},${i % 101},`
          : type === 'coupon_redeemed'
            ? `b${i},coupon_redeemed,${user},${at},,,,,,,CODE${i % 1000}`
            : `b${i},${type},${user},${at},${item},${1000 + (i % 90) * 100},CNY,${type === 'purchase' ? 1 : ''},,,`;
    if (!w.write(`${line}\n`)) await new Promise<void>((r) => w.once('drain', () => r()));
  }
  await new Promise<void>((r) => w.end(r));
}

async function runImport(url: string, file: string): Promise<{ seconds: number; rssMb: number; report: { files: { inserted: number; duplicates: number; bad: number }[] } }> {
  const r = await runMeasured(['bin/rekindle.js', 'import', '--events', file, '--json'], { DATABASE_URL: url, LOG_LEVEL: 'warn' });
  if (r.code !== 0 || r.rssMb === null) throw new Error(`import exited ${r.code}: ${r.err.slice(-2000)}`);
  return { seconds: r.seconds, rssMb: r.rssMb, report: JSON.parse(r.out) };
}

/** Bare COPY of the file: into a plain table (no indexes), or into `events` itself (its indexes, a constant source column). */
async function bareCopy(url: string, file: string, into: 'plain' | 'events'): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const columns = 'event_id, type, user_id, occurred_at, item_id, amount_minor, currency, quantity, lesson_id, percent, coupon_code';
  if (into === 'plain') await sql`create table copy_bench (event_id text, type text, user_id text, occurred_at timestamptz, item_id text, amount_minor bigint, currency text, quantity int, lesson_id text, percent real, coupon_code text)`;
  else await sql.unsafe(`alter table events alter column source set default 'bare-copy'`);
  const t0 = performance.now();
  const { createReadStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  await pipeline(createReadStream(file), await sql.unsafe(`copy ${into === 'plain' ? 'copy_bench' : 'events'} (${columns}) from stdin with (format csv, header true)`).writable());
  const seconds = (performance.now() - t0) / 1000;
  if (into === 'plain') await sql`drop table copy_bench`;
  else {
    await sql.unsafe(`alter table events alter column source drop default`);
    await sql`delete from events where source = 'bare-copy'`;
    await sql`vacuum events`;
  }
  await sql.end();
  return N / seconds;
}

async function main() {
  console.log(`bench:import — ${machine()}; ${N.toLocaleString('en')} events\n`);
  const dir = mkdtempSync(join(tmpdir(), 'rk-bench-import-'));
  const file = join(dir, 'events.csv');
  await writeCsv(file);
  console.log(`CSV: ${(statSync(file).size / 2 ** 20).toFixed(0)} MB`);
  const scratch = await scratchDatabase('import');
  try {
    const db = await openDatabase({ databaseUrl: scratch.url });
    await migrate(db);
    await db.close();
    const copyRate = await bareCopy(scratch.url, file, 'plain');
    const copyEventsRate = await bareCopy(scratch.url, file, 'events');
    const first = await runImport(scratch.url, file);
    const second = await runImport(scratch.url, file);
    const pct = (rate: number) => `${Math.round((100 * rate) / copyRate)}%`;
    console.log(
      table([
        { run: 'bare COPY into a plain table (no indexes, no checks)', seconds: N / copyRate, 'rows/s': Math.round(copyRate), 'of bare COPY': '100%', 'peak RSS MB': '', new: '', duplicates: '' },
        { run: 'bare COPY into events (its 6 indexes, no checks)', seconds: N / copyEventsRate, 'rows/s': Math.round(copyEventsRate), 'of bare COPY': pct(copyEventsRate), 'peak RSS MB': '', new: '', duplicates: '' },
        { run: 'rekindle import (first)', seconds: first.seconds, 'rows/s': Math.round(N / first.seconds), 'of bare COPY': pct(N / first.seconds), 'peak RSS MB': first.rssMb, new: first.report.files[0]!.inserted, duplicates: first.report.files[0]!.duplicates },
        { run: 'rekindle import (again)', seconds: second.seconds, 'rows/s': Math.round(N / second.seconds), 'of bare COPY': pct(N / second.seconds), 'peak RSS MB': second.rssMb, new: second.report.files[0]!.inserted, duplicates: second.report.files[0]!.duplicates },
      ]),
    );
    console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores; other processes share them)`);
    console.log('target: import ≥ 80% of the bare COPY rows/s, peak RSS < 300 MB; the second import adds nothing');
  } finally {
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
