/**
 * bench:models phase: featuresAsOf over every chunk of users as of the end date (all users,
 * not only payers), the set-based pass every model run starts from. Rows are dropped after
 * each chunk, as the scoring run does.
 */
import { forEachChunk } from '../../src/services/churn.js';
import { loadConfig } from '../../src/config.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { featuresAsOf, membershipPeriods } from '../../src/store/features.js';
import { phaseArgs, runPhase, timed, withDatabase } from './common.js';

const { dbUrl, values } = phaseArgs({ end: { type: 'string' } });

await runPhase(() =>
  withDatabase(dbUrl, async (db) => {
    const s = modelSettings(loadConfig({}));
    const asOf = new Date(values.end!);
    let rows = 0;
    let payers = 0;
    let chunks = 0;
    let slowestChunk = 0;
    const t = await timed(async () => {
      const periods = await membershipPeriods(db, asOf);
      await forEachChunk(db, s.chunkSize, async (from, to) => {
        const c = await timed(() => featuresAsOf(db, { asOf, seqFrom: from, seqTo: to, periods }));
        slowestChunk = Math.max(slowestChunk, c.seconds);
        chunks++;
        rows += c.value.length;
        for (const r of c.value) if (r.frequency > 0) payers++;
      });
    });
    return { seconds: t.seconds, rows, payers, chunks, chunkSize: s.chunkSize, slowestChunkSeconds: slowestChunk };
  }),
);
