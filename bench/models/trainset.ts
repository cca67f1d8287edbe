/**
 * bench:models phase: the churn training set and its held-out test set, exactly as the
 * scoring run collects them (collectTrainingSet), but with every payer rather than the run's
 * CHURN_TRAIN_SAMPLE, so training is timed on the most rows the data has:
 *   train: features as of end − 2H, labels in [end − 2H, end − H)
 *   test:  features as of end − H,  labels in [end − H, end)
 * Written to disk so the training phases (ours and the reference) read the same rows.
 */
import { loadConfig } from '../../src/config.js';
import { FEATURES } from '../../src/domain/features.js';
import { collectTrainingSet } from '../../src/services/churn.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { membershipPeriods } from '../../src/store/features.js';
import { DAY_MS, deps, phaseArgs, runPhase, timed, withDatabase, writeSet } from './common.js';

const ALL = Number.MAX_SAFE_INTEGER;
const { dbUrl, values } = phaseArgs({ end: { type: 'string' }, out: { type: 'string' } });

await runPhase(() =>
  withDatabase(dbUrl, async (db) => {
    const s = modelSettings(loadConfig({}));
    const end = new Date(values.end!);
    const H = s.horizonDays * DAY_MS;
    const at = (ms: number) => new Date(end.getTime() - ms);
    const d = deps(db, end);
    const train = await timed(async () => collectTrainingSet(d, s, at(2 * H), at(H), ALL, { periods: await membershipPeriods(db, at(2 * H)) }));
    const test = await timed(async () => collectTrainingSet(d, s, at(H), end, ALL, { periods: await membershipPeriods(db, at(H)) }));
    writeSet(`${values.out}.train`, train.value, FEATURES.length);
    writeSet(`${values.out}.test`, test.value, FEATURES.length);
    const pos = (y: Uint8Array) => y.reduce((a, b) => a + b, 0);
    return {
      seconds: train.seconds + test.seconds,
      train: { rows: train.value.n, positives: pos(train.value.labels), population: train.value.population, seconds: train.seconds },
      test: { rows: test.value.n, positives: pos(test.value.labels), population: test.value.population, seconds: test.seconds },
      features: FEATURES.length,
      trainSample: 'all payers',
    };
  }),
);
