/** What every command opens: config, logger, database (and the migration check). Composition roots only. */
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { assertMigrated } from '../db/migrate.js';
import { createLogger, type Logger } from '../logger.js';
import { logSettings } from './console.js';

export interface Runtime {
  config: Config;
  log: Logger;
  db: Database;
  close(): Promise<void>;
}

export async function openRuntime(opts: { requireMigrated: boolean; env?: Record<string, string | undefined> }): Promise<Runtime> {
  const env = opts.env ?? process.env;
  const config = loadConfig(env);
  const log = createLogger({ ...logSettings(config), colour: !env.NO_COLOR });
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, poolSize: config.DATABASE_POOL_SIZE });
  try {
    if (opts.requireMigrated) await assertMigrated(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  return { config, log, db, close: () => db.close() };
}

/** A Redis connection for BullMQ and readiness checks; commands fail fast while it is down. */
export function openRedis(url: string, opts: { failFast?: boolean } = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableOfflineQueue: !opts.failFast,
    lazyConnect: false,
  });
}
