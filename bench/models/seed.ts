/** bench:models phase: migrate a fresh database and seed the synthetic platform (seed, end date given). */
import { migrate } from '../../src/db/migrate.js';
import { seedPlatform } from '../../src/services/seed.js';
import { deps, phaseArgs, runPhase, timed, withDatabase } from './common.js';

const { dbUrl, values } = phaseArgs({ users: { type: 'string' }, seed: { type: 'string', default: '1' }, end: { type: 'string' } });

await runPhase(() =>
  withDatabase(dbUrl, async (db) => {
    await migrate(db);
    const end = new Date(values.end!);
    const t = await timed(() => seedPlatform(deps(db, end), { users: Number(values.users), seed: Number(values.seed), end }));
    return { seconds: t.seconds, users: t.value.users, items: t.value.items, events: t.value.events, inserted: t.value.inserted };
  }),
);
