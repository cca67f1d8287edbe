/**
 * bench:models phase: the full scoring run, `rescore` (fit churn with its held-out metrics,
 * BG/NBD, RFM, personas on samples; then features → score → write user_scores chunk by
 * chunk), as of the end date. The split between fitting and scoring is taken from the run's
 * own "scoring models fitted" log line; database time per kind of statement is measured by
 * wrapping the Database.
 */
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { rescore } from '../../src/services/rescore.js';
import { phaseArgs, profiled, roundProfile, runPhase, timed, withDatabase } from './common.js';

const { dbUrl, values } = phaseArgs({ end: { type: 'string' } });

await runPhase(() =>
  withDatabase(dbUrl, async (raw) => {
    const s = modelSettings(loadConfig({}));
    const end = new Date(values.end!);
    const { db, profile } = profiled(raw);
    let fittedAt = 0;
    let auc: number | undefined;
    let baselineAuc: number | undefined;
    let fitSteps: Record<string, number> | undefined;
    let trainRows: number | undefined;
    const log = pino(
      { level: 'info' },
      {
        write(line: string) {
          const o = JSON.parse(line) as { msg?: string; auc?: number; baselineAuc?: number; timingsMs?: Record<string, number>; trainRows?: number };
          if (o.msg === 'scoring models fitted') {
            fittedAt = performance.now();
            auc = o.auc;
            baselineAuc = o.baselineAuc;
            fitSteps = o.timingsMs;
            trainRows = o.trainRows;
          }
        },
      },
    );
    const t0 = performance.now();
    const r = await timed(() => rescore({ db, log, now: () => end }, s, { asOf: end }));
    const [{ n } = { n: 0 }] = await raw.query<{ n: number }>('select count(*)::int as n from user_scores');
    return {
      seconds: r.seconds,
      fitSeconds: fittedAt ? (fittedAt - t0) / 1000 : null,
      scoreSeconds: fittedAt ? r.seconds - (fittedAt - t0) / 1000 : null,
      scored: r.value.scored,
      userScoresRows: n,
      model: r.value.model,
      fallback: r.value.fallback,
      heldOutAuc: auc ?? null,
      heldOutBaselineAuc: baselineAuc ?? null,
      trainRows: trainRows ?? null,
      fitStepsMs: fitSteps ?? null,
      db: roundProfile(profile),
    };
  }),
);
