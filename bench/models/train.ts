/**
 * bench:models phase: our churn training (Newton/IRLS with L2, ChurnModel.train) on the
 * stored training set, as fitChurn does it (balanced class weights, λ = CHURN_L2), timed
 * alone; AUC on the held-out test set, beside the recency-only baseline. With --rows N the
 * training rows are first resampled with replacement to N (to time a given row count when the
 * seeded platform has fewer payers than that).
 */
import { loadConfig } from '../../src/config.js';
import { FEATURE_NAMES } from '../../src/domain/features.js';
import { rocAuc } from '../../src/domain/metrics.js';
import { balancedWeights, ChurnModel } from '../../src/ml/logistic.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { mulberry32, phaseArgs, readSet, runPhase, timed, type StoredSet } from './common.js';

const { values } = phaseArgs({ data: { type: 'string' }, rows: { type: 'string' } });

/** Rows drawn with replacement (seeded) up to `rows`: the same distribution, a given size. */
function resample(set: StoredSet, rows: number): StoredSet {
  const rand = mulberry32(5);
  const p = set.width;
  const x = new Float64Array(rows * p);
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const i = Math.floor(rand() * set.n);
    x.set(set.x.subarray(i * p, (i + 1) * p), r * p);
    labels[r] = set.labels[i] as number;
  }
  return { ...set, n: rows, x, labels };
}

await runPhase(async () => {
  const s = modelSettings(loadConfig({}));
  const stored = readSet(`${values.data}.train`);
  const train = values.rows ? resample(stored, Number(values.rows)) : stored;
  const test = readSet(`${values.data}.test`);
  const fit = await timed(() => ChurnModel.train(train.x, train.n, train.labels, { featureNames: FEATURE_NAMES, lambda: s.l2, sampleWeights: balancedWeights(train.labels) }));
  const auc = rocAuc(fit.value.model.predictMany(test.x, test.n), test.labels);
  return {
    seconds: fit.seconds,
    rows: train.n,
    resampledFrom: values.rows ? stored.n : null,
    features: train.width,
    iterations: fit.value.iterations,
    converged: fit.value.converged,
    lambda: s.l2,
    auc,
    recencyAuc: rocAuc(test.recencyDays, test.labels),
    testRows: test.n,
  };
});
