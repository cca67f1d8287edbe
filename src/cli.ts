/**
 * The one CLI: `rekindle <command>`. Adapters only: parse flags, open what the command
 * needs, call a service, print. Exit status 0 on success, 1 on failure, 2 on bad usage.
 */
import { createServer } from 'node:http';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { AppError } from './domain/errors.js';
import { migrate } from './db/migrate.js';
import { buildHttpApp } from './http/server.js';
import { importFiles } from './services/import.js';
import { createProgress } from './cli/progress.js';
import { openRedis, openRuntime } from './cli/runtime.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

function positiveInt(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

const program = new Command('rekindle')
  .description('Retention engine for knowledge-paid platforms: personas, churn risk, recommendations, tiered outreach.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('migrate')
  .description('apply pending database migrations (PostgreSQL at DATABASE_URL, else embedded PGlite)')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const rt = await openRuntime({ requireMigrated: false });
    try {
      const r = await migrate(rt.db);
      out(o.json ? JSON.stringify({ ...r, database: rt.db.kind }) : `migrations: ${r.applied}/${r.total} applied (${rt.db.kind})`);
    } finally {
      await rt.close();
    }
  });

program
  .command('serve')
  .description('run the HTTP server: signed event webhooks, health, (and later Slack, unsubscribe, metrics)')
  .action(async () => {
    const rt = await openRuntime({ requireMigrated: true });
    const redis = openRedis(rt.config.REDIS_URL, { failFast: true });
    redis.on('error', () => {}); // readiness reports it; ioredis keeps reconnecting
    const { app, ingestor } = buildHttpApp({
      config: rt.config,
      db: rt.db,
      log: rt.log,
      checks: [
        { name: 'database', check: async () => void (await rt.db.query('select 1')) },
        {
          name: 'migrations',
          check: async () => {
            const { assertMigrated } = await import('./db/migrate.js');
            await assertMigrated(rt.db);
          },
        },
        { name: 'redis', check: async () => void (await redis.ping()) },
      ],
    });
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(rt.config.PORT, rt.config.HOST, r));
    rt.log.info({ port: rt.config.PORT, host: rt.config.HOST, database: rt.db.kind }, 'serving');
    const stop = async (signal: string) => {
      rt.log.info({ signal }, 'shutting down');
      server.close();
      await ingestor.drain();
      redis.disconnect();
      await rt.close();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });

program
  .command('import')
  .description('import CSV or NDJSON exports (formats in the README); idempotent, streaming')
  .option('--events <file>', 'events.csv / .ndjson')
  .option('--items <file>', 'items.csv / .ndjson')
  .option('--users <file>', 'users.csv / .ndjson')
  .option('--source <name>', 'source name the event ids are unique within', 'default')
  .option('--strict', 'validate everything first; write nothing if any row is bad')
  .option('--json', 'machine-readable report')
  .action(async (o: { events?: string; items?: string; users?: string; source: string; strict?: boolean; json?: boolean }) => {
    const rt = await openRuntime({ requireMigrated: true });
    const progress = createProgress();
    try {
      const report = await importFiles(rt, {
        ...o,
        onProgress: (p) => progress.update(p.bytes, p.totalBytes, `${p.phase === 'validate' ? 'checking' : 'importing'} ${p.file} (${p.rows} rows)`),
      });
      progress.stop();
      if (o.json) out(JSON.stringify(report));
      else {
        for (const f of report.files) out(`${f.file}: ${f.rows} rows, ${f.valid} valid, ${f.bad} bad${f.kind === 'events' ? `, ${f.inserted} new events, ${f.duplicates} already stored` : ''}`);
        for (const b of report.badRows) out(`  ${b.file}:${b.line}: ${b.field}: ${b.message}`);
        if (report.badTotal > report.badRows.length) out(`  … and ${report.badTotal - report.badRows.length} more bad rows`);
        if (!report.written) out('nothing was written (--strict and a bad row was found)');
      }
      if (!report.written) process.exitCode = 1;
    } finally {
      progress.stop();
      await rt.close();
    }
  });

export { program, positiveInt };

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof AppError) {
      process.stderr.write(`rekindle: ${e.message}\n`);
      process.exitCode = e.code === 'validation' || e.code === 'config' ? 2 : 1;
      return;
    }
    process.stderr.write(`rekindle: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
