/**
 * bench:ingest — Rekindle's signed webhook endpoint under autocannon on loopback, beside two
 * baselines measured in the same run: a bare express 5 endpoint (parse JSON, answer) and a
 * bare multi-row INSERT of the same events through postgres.js.
 * Usage: npm run bench:ingest [-- --duration 10 --connections 50]
 */
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

    results.push(
      { phase: 'bare express, 1 event/req', 'req/s': bareSingle.reqs, 'events/s': bareSingle.events, 'p50 ms': bareSingle.p50, 'p99 ms': bareSingle.p99, errors: bareSingle.non2xx, ratio: '' },
      { phase: 'rekindle, 1 signed event/req', 'req/s': single.reqs, 'events/s': single.events, 'p50 ms': single.p50, 'p99 ms': single.p99, errors: single.non2xx, ratio: `${((100 * single.reqs) / bareSingle.reqs).toFixed(0)}% of bare express` },
      { phase: 'bare express, 100 events/req', 'req/s': bareBatch.reqs, 'events/s': bareBatch.events, 'p50 ms': bareBatch.p50, 'p99 ms': bareBatch.p99, errors: bareBatch.non2xx, ratio: '' },
      { phase: 'bare postgres.js INSERT, 100 rows × 4 conns', 'req/s': insertRows / 100, 'events/s': insertRows, 'p50 ms': '', 'p99 ms': '', errors: 0, ratio: '' },
      { phase: 'rekindle, 100 signed events/req', 'req/s': batch.reqs, 'events/s': batch.events, 'p50 ms': batch.p50, 'p99 ms': batch.p99, errors: batch.non2xx, ratio: `${((100 * batch.events) / insertRows).toFixed(0)}% of bare INSERT rows/s` },
    );
    console.log(table(results));
    console.log('\ntargets: single ≥ 75% of bare express with p99 < 50 ms; batches ≥ 50% of bare INSERT rows/s');
  } finally {
    await scratch.drop();
  }
}

await main();
