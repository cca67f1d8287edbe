/**
 * bench:ingest — Rekindle's signed webhook endpoint under autocannon on loopback, beside
 * baselines measured in the same run: a bare express 5 endpoint (parse JSON, answer), a bare
 * multi-row INSERT of the same events through postgres.js, and a bare COPY of the same rows
 * into a plain table (the issue #12 baseline for batches: ≥ 60% of it).
 * Usage: npm run bench:ingest [-- --duration 10 --connections 50]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { signedHeaders, TEST_SECRET } from '../test/support/http.js';
import { machine, scratchDatabase, startChild, stopChild, table } from './support.js';

const { values: args } = parseArgs({ options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } } });
const duration = Number(args.duration);
const connections = Number(args.connections);

let counter = 0;
function event(): Record<string, unknown> {
  const n = ++counter;
  return {
    id: `b${process.pid}-${n}`,
    type: n % 5 === 0 ? 'purchase' : 'view',
    user_id: `u${n % 20000}`,
    occurred_at: '2026-11-01T08:30:00Z',
    item_id: `c${n % 300}`,
    ...(n % 5 === 0 ? { amount_minor: 19900, currency: 'CNY' } : {}),
  };
}

async function drive(port: number, perRequest: number): Promise<{ reqs: number; events: number; p50: number; p99: number; non2xx: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        path: '/webhooks/events',
        setupRequest: (req) => {
          const body = JSON.stringify(perRequest === 1 ? event() : Array.from({ length: perRequest }, event));
          return { ...req, body, headers: { 'content-type': 'application/json', ...signedHeaders(body, { secret: TEST_SECRET }) } };
        },
      },
    ],
  });
  const reqs = r.requests.average;
  return { reqs, events: reqs * perRequest, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors };
}

async function bareInsert(url: string, rowsPerStatement: number, seconds: number): Promise<number> {
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  const end = Date.now() + seconds * 1000;
  let rows = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const evs = Array.from({ length: rowsPerStatement }, event).map((e) => ({
        source: 'default',
        event_id: e.id as string,
        type: e.type as string,
        user_id: e.user_id as string,
        item_id: e.item_id as string,
        occurred_at: e.occurred_at as string,
        amount_minor: (e.amount_minor as number | undefined) ?? null,
        currency: (e.currency as string | undefined) ?? null,
      }));
      await sql`insert into events ${sql(evs)} on conflict do nothing`;
      rows += rowsPerStatement;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await sql.end();
  return rows / seconds;
}

/** Bare COPY of `n` events of the same shape into a plain table (no indexes, no checks): rows/s. */
async function bareCopy(url: string, n: number): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create table copy_bench (source text, event_id text, type text, user_id text, item_id text, occurred_at timestamptz, amount_minor bigint, currency text)`;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = event();
    lines.push(['default', e.id, e.type, e.user_id, e.item_id, e.occurred_at, e.amount_minor ?? '\\N', e.currency ?? '\\N'].join('\t'));
  }
  const { Readable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  const t0 = performance.now();
  await pipeline(Readable.from(function* () {
    for (let i = 0; i < lines.length; i += 10_000) yield lines.slice(i, i + 10_000).join('\n') + '\n';
  }()), await sql`copy copy_bench from stdin`.writable());
  const seconds = (performance.now() - t0) / 1000;
  await sql`drop table copy_bench`;
  await sql.end();
  return n / seconds;
}

async function main() {
  console.log(`bench:ingest — ${machine()}; autocannon ${connections} connections × ${duration}s per phase\n`);
  const scratch = await scratchDatabase('ingest');
  const db = await openDatabase({ databaseUrl: scratch.url });
  await migrate(db);
  await db.close();
  const results: Record<string, string | number>[] = [];
  try {
    const bare = await startChild(['--import', 'tsx', 'bench/bare-express.ts'], { PORT: '3901' });
    const bareSingle = await drive(3901, 1);
    const bareBatch = await drive(3901, 100);
    await stopChild(bare);

    const serve = await startChild(['bin/rekindle.js', 'serve'], { DATABASE_URL: scratch.url, PORT: '3902', HOST: '127.0.0.1', WEBHOOK_SECRETS: TEST_SECRET, LOG_LEVEL: 'info' });
    const single = await drive(3902, 1);
    const batch = await drive(3902, 100);
    await stopChild(serve);

    const insertRows = await bareInsert(scratch.url, 100, duration);
    const copyRows = await bareCopy(scratch.url, 200_000);

    results.push(
      { phase: 'bare express, 1 event/req', 'req/s': bareSingle.reqs, 'events/s': bareSingle.events, 'p50 ms': bareSingle.p50, 'p99 ms': bareSingle.p99, errors: bareSingle.non2xx, ratio: '' },
      { phase: 'rekindle, 1 signed event/req', 'req/s': single.reqs, 'events/s': single.events, 'p50 ms': single.p50, 'p99 ms': single.p99, errors: single.non2xx, ratio: `${((100 * single.reqs) / bareSingle.reqs).toFixed(0)}% of bare express` },
      { phase: 'bare express, 100 events/req', 'req/s': bareBatch.reqs, 'events/s': bareBatch.events, 'p50 ms': bareBatch.p50, 'p99 ms': bareBatch.p99, errors: bareBatch.non2xx, ratio: '' },
      { phase: 'bare postgres.js INSERT, 100 rows × 4 conns', 'req/s': insertRows / 100, 'events/s': insertRows, 'p50 ms': '', 'p99 ms': '', errors: 0, ratio: '' },
      { phase: 'bare postgres.js COPY into a plain table', 'req/s': '', 'events/s': copyRows, 'p50 ms': '', 'p99 ms': '', errors: 0, ratio: '' },
      {
        phase: 'rekindle, 100 signed events/req',
        'req/s': batch.reqs,
        'events/s': batch.events,
        'p50 ms': batch.p50,
        'p99 ms': batch.p99,
        errors: batch.non2xx,
        ratio: `${((100 * batch.events) / copyRows).toFixed(0)}% of bare COPY, ${((100 * batch.events) / insertRows).toFixed(0)}% of bare INSERT rows/s`,
      },
    );
    console.log(table(results));
    console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other processes share the cores)`);
    console.log('targets (issue #12): single ≥ 90% of bare express with p99 < 50 ms; batches of 100 ≥ 60% of the bare COPY rows/s');
  } finally {
    await scratch.drop();
  }
}

await main();
