/**
 * bench:models phase: the reference, ml-logistic-regression, on the same stored training
 * rows as ours, driven as test/unit/ml/logistic.test.ts drives it: standardised features
 * (it has no scaling), a leading column of ones (it has no intercept), a learning rate tuned
 * to its summed gradient, and a fixed number of steps (it has no convergence check). It is
 * one-vs-all even for two classes, so every train() fits two classifiers.
 *
 * - Rate and steps: rate = c / rows (the gradient is summed, so c, not the rate, carries
 *   over between row counts). c and the step count are picked by replaying the library's
 *   exact update, w += rate · Xᵀ(y − σ(Xw)), on Float64Arrays over a 50k-row sample: for
 *   each c of the grid, the steps until the training log-likelihood per row is within
 *   --tolerance of the maximum-likelihood optimum (our IRLS, λ = 0, on that sample); the
 *   fastest c wins, and the library is then run with that c and that many steps (at most
 *   --max-steps). A grid tuned on a few thousand rows picked a c that failed to converge on
 *   200k rows (outlier rows raise the curvature), hence the larger sample. Tuning time is
 *   reported, not counted. --steps N skips the search (c still tuned, at N steps).
 * - Rows: all of them, unless a short calibration run says training would take longer than
 *   the budget; then a seeded random sample that fits it (reported as capped).
 * - Beside it, ours with the library's objective (no weights, λ = 0) on the very same rows:
 *   the coefficient gap says whether the library converged.
 */
import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import { FEATURE_NAMES } from '../../src/domain/features.js';
import { rocAuc } from '../../src/domain/metrics.js';
import { ChurnModel, Standardizer } from '../../src/ml/logistic.js';
import { mulberry32, phaseArgs, readSet, runPhase, timed } from './common.js';

const { values } = phaseArgs({
  data: { type: 'string' },
  steps: { type: 'string' },
  'max-steps': { type: 'string', default: '500' },
  tolerance: { type: 'string', default: '5e-5' },
  budget: { type: 'string', default: '120' },
  'max-rows': { type: 'string' },
  grid: { type: 'string', default: '0.25,0.5,1,2,4,8' },
});
const FIXED_STEPS = values.steps ? Number(values.steps) : null;
const MAX_STEPS = FIXED_STEPS ?? Number(values['max-steps']);
const TOLERANCE = Number(values.tolerance);
const BUDGET_S = Number(values.budget);
const TUNE_ROWS = 50_000;
const CALIBRATION_ROWS = 20_000;
const CALIBRATION_STEPS = 5;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Rows `idx` of x, standardised, with a leading 1: the library's design matrix. */
function design(x: Float64Array, p: number, idx: ArrayLike<number>, s: Standardizer): Matrix {
  const m = new Matrix(idx.length, p + 1);
  const z = new Float64Array(p);
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r] as number;
    s.transformRow(x.subarray(i * p, (i + 1) * p), z);
    m.set(r, 0, 1);
    for (let j = 0; j < p; j++) m.set(r, j + 1, z[j] as number);
  }
  return m;
}

/** P(y = 1) for every row from the weights of classifier 0 (trained with 0 → 0, 1 → 1). */
function libScores(w: number[], x: Float64Array, n: number, p: number, s: Standardizer): Float64Array {
  const out = new Float64Array(n);
  const z = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    s.transformRow(x.subarray(i * p, (i + 1) * p), z);
    let eta = w[0] as number;
    for (let j = 0; j < p; j++) eta += (w[j + 1] as number) * (z[j] as number);
    out[i] = sigmoid(eta);
  }
  return out;
}

function logLik(probs: ArrayLike<number>, y: ArrayLike<number>, idx: ArrayLike<number>): number {
  let ll = 0;
  for (let r = 0; r < idx.length; r++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probs[r] as number));
    ll += y[idx[r] as number] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return ll / idx.length;
}

/**
 * Replays classifier 0 of the library (target = label) for up to `maxSteps` steps of
 * w += (c / rows) · Xᵀ(y − σ(Xw)) from w = 0, returning the log-likelihood per row after
 * every step (stopping early once it is within `tol` of `target`, or when it diverges).
 */
function replay(z: Float64Array, y: Uint8Array, rows: number, P: number, c: number, maxSteps: number, target: number, tol: number): number[] {
  const w = new Float64Array(P);
  const g = new Float64Array(P);
  const rate = c / rows;
  const trace: number[] = [];
  for (let step = 0; step < maxSteps; step++) {
    g.fill(0);
    let ll = 0;
    for (let i = 0, off = 0; i < rows; i++, off += P) {
      let eta = 0;
      for (let j = 0; j < P; j++) eta += (w[j] as number) * (z[off + j] as number);
      const pr = sigmoid(eta);
      const yi = y[i] as number;
      ll += yi === 1 ? Math.log(Math.max(pr, 1e-300)) : Math.log(Math.max(1 - pr, 1e-300));
      const r = yi - pr;
      for (let j = 0; j < P; j++) g[j] = (g[j] as number) + r * (z[off + j] as number);
    }
    // ll is at the weights before this step; record it, then step.
    trace.push(ll / rows);
    if (!Number.isFinite(ll) || (step > 20 && ll / rows < (trace[0] as number))) break;
    if (ll / rows >= target - tol) break;
    for (let j = 0; j < P; j++) w[j] = (w[j] as number) + rate * (g[j] as number);
  }
  return trace;
}

function trainLib(X: Matrix, y: ArrayLike<number>, idx: ArrayLike<number>, steps: number, rate: number): number[] {
  const lib = new LogisticRegression({ numSteps: steps, learningRate: rate });
  lib.train(X, Matrix.columnVector(Array.from(idx, (i) => y[i] as number)));
  const positive = lib.classifiers[0];
  if (!positive?.weights) throw new Error('ml-logistic-regression trained no classifier');
  return positive.weights.to1DArray();
}

function sample(n: number, m: number, seed: number): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  if (m >= n) return all;
  const rand = mulberry32(seed);
  for (let t = 0; t < m; t++) {
    const r = t + Math.floor(rand() * (n - t));
    const tmp = all[t] as number;
    all[t] = all[r] as number;
    all[r] = tmp;
  }
  return all.subarray(0, m).sort();
}

await runPhase(async () => {
  const train = readSet(`${values.data}.train`);
  const test = readSet(`${values.data}.test`);
  const p = train.width;
  const n = train.n;

  const sAll = Standardizer.fit(train.x, n, p);

  // Rate and steps: replay the library's update on a sample, against the optimum there.
  const grid = values.grid!.split(',').map(Number);
  const tuning: { c: number; stepsToTolerance: number | null; logLikAtMax: number }[] = [];
  let best: { c: number; steps: number } | null = null;
  const tuneTime = await timed(() => {
    const tIdx = sample(n, Math.min(n, TUNE_ROWS), 3);
    const P = p + 1;
    const z = new Float64Array(tIdx.length * P);
    const ty = new Uint8Array(tIdx.length);
    const tx = new Float64Array(tIdx.length * p);
    const row = new Float64Array(p);
    for (let r = 0; r < tIdx.length; r++) {
      const i = tIdx[r] as number;
      tx.set(train.x.subarray(i * p, (i + 1) * p), r * p);
      sAll.transformRow(train.x.subarray(i * p, (i + 1) * p), row);
      z[r * P] = 1;
      z.set(row, r * P + 1);
      ty[r] = train.labels[i] as number;
    }
    const mle = ChurnModel.train(tx, tIdx.length, ty, { featureNames: FEATURE_NAMES, lambda: 0 }).model;
    const pm = mle.predictMany(tx, tIdx.length);
    let llStar = 0;
    for (let r = 0; r < tIdx.length; r++) llStar += ty[r] === 1 ? Math.log(pm[r] as number) : Math.log(1 - (pm[r] as number));
    llStar /= tIdx.length;
    for (const c of grid) {
      const trace = replay(z, ty, tIdx.length, P, c, MAX_STEPS + 1, llStar, FIXED_STEPS === null ? TOLERANCE : -Infinity);
      const last = trace[trace.length - 1] as number;
      // trace[k] is the log-likelihood after k steps.
      const reached = FIXED_STEPS === null && last >= llStar - TOLERANCE ? trace.length - 1 : null;
      tuning.push({ c, stepsToTolerance: reached, logLikAtMax: last });
    }
    const ok = tuning.filter((t) => t.stepsToTolerance !== null);
    if (ok.length) {
      const t = ok.reduce((a, b) => ((b.stepsToTolerance as number) < (a.stepsToTolerance as number) ? b : a));
      best = { c: t.c, steps: Math.max(10, t.stepsToTolerance as number) };
    } else {
      const t = tuning.reduce((a, b) => (b.logLikAtMax > a.logLikAtMax ? b : a));
      best = { c: t.c, steps: MAX_STEPS };
    }
  });
  const chosen = best as unknown as { c: number; steps: number };
  const STEPS = chosen.steps;

  // How many rows fit the budget: time a few steps on a slice, extrapolate linearly in rows × steps.
  const calIdx = sample(n, Math.min(n, CALIBRATION_ROWS), 7);
  const calX = design(train.x, p, calIdx, sAll);
  const cal = await timed(() => trainLib(calX, train.labels, calIdx, CALIBRATION_STEPS, 1 / calIdx.length));
  const secondsPerRowStep = cal.seconds / (calIdx.length * CALIBRATION_STEPS);
  let m = values['max-rows'] ? Math.min(n, Number(values['max-rows'])) : n;
  let capReason: string | null = values['max-rows'] && m < n ? `--max-rows ${m}` : null;
  if (secondsPerRowStep * m * STEPS > BUDGET_S) {
    const fit = Math.max(1000, Math.floor(BUDGET_S / (secondsPerRowStep * STEPS) / 1000) * 1000);
    if (fit < m) {
      capReason = `all ${n.toLocaleString('en')} rows would take ~${Math.round(secondsPerRowStep * n * STEPS)} s (> ${BUDGET_S} s budget)`;
      m = fit;
    }
  }
  const idx = sample(n, m, 1);
  // Standardise on exactly the rows trained on, as ChurnModel.train does.
  const xm = new Float64Array(m * p);
  const ym = new Uint8Array(m);
  for (let r = 0; r < m; r++) {
    const i = idx[r] as number;
    xm.set(train.x.subarray(i * p, (i + 1) * p), r * p);
    ym[r] = train.labels[i] as number;
  }
  const allRows = Int32Array.from({ length: m }, (_, i) => i);
  const s = Standardizer.fit(xm, m, p);

  const rate = chosen.c / m;

  const X = design(xm, p, allRows, s);
  const lib = await timed(() => trainLib(X, ym, allRows, STEPS, rate));
  const libAuc = rocAuc(libScores(lib.value, test.x, test.n, p, s), test.labels);

  // Ours, same rows and the library's objective: the maximum-likelihood weights it should reach.
  const ours = await timed(() => ChurnModel.train(xm, m, ym, { featureNames: FEATURE_NAMES, lambda: 0 }));
  const oursAuc = rocAuc(ours.value.model.predictMany(test.x, test.n), test.labels);
  const mle = [ours.value.model.intercept, ...ours.value.model.coefficients];
  let maxGap = 0;
  for (let j = 0; j < mle.length; j++) maxGap = Math.max(maxGap, Math.abs((lib.value[j] as number) - (mle[j] as number)));
  const trainLl = (w: number[]) => logLik(X.mmul(Matrix.columnVector(w)).to1DArray().map(sigmoid), ym, allRows);

  return {
    seconds: lib.seconds,
    rows: m,
    availableRows: n,
    capReason,
    steps: STEPS,
    classifiers: 2,
    c: chosen.c,
    stepsSearched: FIXED_STEPS === null,
    maxSteps: MAX_STEPS,
    tolerance: TOLERANCE,
    tuneRows: Math.min(n, TUNE_ROWS),
    rate,
    tuning,
    tuneSeconds: tuneTime.seconds,
    calibrationSecondsPerRowStep: secondsPerRowStep,
    auc: libAuc,
    sameRows: { seconds: ours.seconds, auc: oursAuc, iterations: ours.value.iterations, converged: ours.value.converged },
    maxCoefficientGap: maxGap,
    trainLogLik: { library: trainLl(lib.value), ours: trainLl(mle) },
  };
});
