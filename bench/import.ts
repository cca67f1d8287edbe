/**
 * bench:import — `rekindle import` of a 1M-event CSV in a child process: time, rows/s and the
 * child's peak RSS (target < 300 MB), beside the bare postgres.js COPY rate measured in the
 * same run. Then the same file again (idempotent: nothing new).
 * Usage: npm run bench:import [-- --events 1000000]
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

async function bareCopy(url: string, file: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create temporary table copy_bench (event_id text, type text, user_id text, occurred_at timestamptz, item_id text, amount_minor bigint, currency text, quantity int, lesson_id text, percent real, coupon_code text)`;
  const t0 = performance.now();
  const { createReadStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  await pipeline(createReadStream(file), await sql`copy copy_bench from stdin with (format csv, header true)`.writable());
  const seconds = (performance.now() - t0) / 1000;
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
    const copyRate = await bareCopy(scratch.url, file);
    const first = await runImport(scratch.url, file);
    const second = await runImport(scratch.url, file);
    console.log(
      table([
        { run: 'bare COPY into a temp table (no checks)', seconds: N / copyRate, 'rows/s': Math.round(copyRate), 'peak RSS MB': '', new: '', duplicates: '' },
        { run: 'rekindle import (first)', seconds: first.seconds, 'rows/s': Math.round(N / first.seconds), 'peak RSS MB': first.rssMb, new: first.report.files[0]!.inserted, duplicates: first.report.files[0]!.duplicates },
        { run: 'rekindle import (again)', seconds: second.seconds, 'rows/s': Math.round(N / second.seconds), 'peak RSS MB': second.rssMb, new: second.report.files[0]!.inserted, duplicates: second.report.files[0]!.duplicates },
      ]),
    );
    console.log('\ntarget: peak RSS < 300 MB; the second import adds nothing');
  } finally {
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
