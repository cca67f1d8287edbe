/** A database of the test's own, cloned from the run's migrated template (PostgreSQL) or a fresh in-memory PGlite. */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { withDatabase } from './global-setup.js';

export type Driver = 'postgres' | 'pglite';

export interface TestDatabase {
  db: Database;
  url: string | undefined;
  drop(): Promise<void>;
}

export async function freshDatabase(driver: Driver = 'postgres'): Promise<TestDatabase> {
  if (driver === 'pglite') {
    const db = await openDatabase({ pgliteDir: 'memory://' });
    await migrate(db);
    return { db, url: undefined, drop: () => db.close() };
  }
  const adminUrl = inject('pgAdminUrl');
  const name = `rk_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  // CREATE DATABASE … TEMPLATE needs the template to have no other sessions; retry briefly if a sibling file is cloning.
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.unsafe(`create database ${name} template ${inject('templateDb')}`);
      break;
    } catch (e) {
      if (attempt > 20 || !/being accessed by other users/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  const url = withDatabase(adminUrl, name);
  const db = await openDatabase({ databaseUrl: url, poolSize: 6 });
  return {
    db,
    url,
    drop: async () => {
      await db.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
