import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { rocAuc } from '../../../src/domain/metrics.js';
import { ChurnModel, Standardizer, balancedWeights, fitLogistic, type LogisticFit } from '../../../src/ml/logistic.js';
import { gaussian, mulberry32 } from '../../support/prng.js';

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

interface Generated {
  readonly x: Float64Array;
  readonly y: Uint8Array;
  readonly nRows: number;
  readonly nCols: number;
}

/**
 * Rows from a known logistic model: x ~ N(0, 1) per column, then shifted and scaled by
 * `means`/`scales` (the true coefficients apply to the standard normal draws), y ~ Bernoulli(σ(η)).
 */
function generate(
  seed: number,
  nRows: number,
  intercept: number,
  beta: readonly number[],
  means: readonly number[] = beta.map(() => 0),
  scales: readonly number[] = beta.map(() => 1),
): Generated {
  const rand = mulberry32(seed);
  const p = beta.length;
  const x = new Float64Array(nRows * p);
  const y = new Uint8Array(nRows);
  for (let i = 0; i < nRows; i++) {
    let eta = intercept;
    for (let j = 0; j < p; j++) {
      const u = gaussian(rand);
      x[i * p + j] = (means[j] as number) + (scales[j] as number) * u;
      eta += (beta[j] as number) * u;
    }
    y[i] = rand() < sigmoid(eta) ? 1 : 0;
  }
  return { x, y, nRows, nCols: p };
}

/** Gradient of the penalised objective at a fit, computed naively: ~0 at the optimum (KKT). */
function gradient(d: Generated, fit: LogisticFit, lambda: number, weights?: ArrayLike<number>): number[] {
  const g = new Array<number>(d.nCols + 1).fill(0);
  for (let i = 0; i < d.nRows; i++) {
    let eta = fit.intercept;
    for (let j = 0; j < d.nCols; j++) eta += (fit.coefficients[j] as number) * (d.x[i * d.nCols + j] as number);
    const r = (weights ? (weights[i] as number) : 1) * (sigmoid(eta) - (d.y[i] as number));
    g[0] = (g[0] as number) + r;
    for (let j = 0; j < d.nCols; j++) g[j + 1] = (g[j + 1] as number) + r * (d.x[i * d.nCols + j] as number);
  }
  for (let j = 0; j < d.nCols; j++) g[j + 1] = (g[j + 1] as number) + lambda * (fit.coefficients[j] as number);
  return g;
}

describe('fitLogistic: hand-checked cases', () => {
  it('reproduces the closed form for one binary feature (saturated model)', () => {
    // x = 0: y = 1,0,0,0 → P = 1/4; x = 1: y = 1,1,1,0 → P = 3/4. With λ = 0 the MLE fits both
    // groups exactly: intercept = logit(1/4) = ln(1/3) = −1.098612,
    // slope = logit(3/4) − logit(1/4) = ln 3 − ln(1/3) = 2 ln 3 = 2.197225.
    const x = Float64Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
    const y = [1, 0, 0, 0, 1, 1, 1, 0];
    const fit = fitLogistic(x, 8, 1, y, { lambda: 0, tolerance: 1e-12 });
    expect(fit.converged).toBe(true);
    expect(fit.intercept).toBeCloseTo(Math.log(1 / 3), 12);
    expect(fit.coefficients[0]).toBeCloseTo(2 * Math.log(3), 12);
    // LL = 2·[ln(1/4) + 3 ln(3/4)] (each group: one row at probability 1/4, three at 3/4)
    expect(fit.logLikelihood).toBeCloseTo(2 * (Math.log(0.25) + 3 * Math.log(0.75)), 12);
  });

  it('solves two separable points with L2 by the stationarity equation', () => {
    // x = −1 → y = 0, x = +1 → y = 1, λ = 1. By symmetry the intercept is 0; the gradient in β is
    // (σ(−β) − 0)(−1) + (σ(β) − 1)(+1) + λβ = −2σ(−β) + λβ, so β solves β = 2σ(−β):
    // β = 0.7 gives 2σ(−0.7) = 0.6637 < 0.7, β = 0.66 gives 0.6815 > 0.66; bisection: β = 0.6748316143.
    const fit = fitLogistic(Float64Array.from([-1, 1]), 2, 1, [0, 1], { lambda: 1, tolerance: 1e-12 });
    expect(fit.converged).toBe(true);
    expect(fit.intercept).toBeCloseTo(0, 12);
    const beta = fit.coefficients[0] as number;
    expect(beta).toBeCloseTo(0.6748316143, 9);
    expect(beta - 2 * sigmoid(-beta)).toBeCloseTo(0, 12);
  });

  it('fits the base rate through the intercept when the only column is constant', () => {
    // A constant column is collinear with the intercept: its coefficient is pinned at 0 and the
    // intercept is logit(ȳ) = logit(3/10) = ln(3/7) = −0.847298, with λ = 0 or not.
    const y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    for (const lambda of [0, 1]) {
      const fit = fitLogistic(new Float64Array(10).fill(4.2), 10, 1, y, { lambda });
      expect(fit.coefficients[0]).toBe(0);
      expect(fit.intercept).toBeCloseTo(Math.log(3 / 7), 12);
    }
    // No columns at all: the intercept-only model.
    expect(fitLogistic(new Float64Array(0), 10, 0, y).intercept).toBeCloseTo(Math.log(3 / 7), 12);
  });

  it('balanced weights give each class the same total and an intercept of 0', () => {
    const y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const w = balancedWeights(y);
    // n/(2·n₁) = 10/6 for ones, n/(2·n₀) = 10/14 for zeros: each class sums to 5.
    expect(w[0]).toBeCloseTo(10 / 6, 15);
    expect(w[9]).toBeCloseTo(10 / 14, 15);
    const fit = fitLogistic(new Float64Array(10), 10, 1, y, { sampleWeights: w, lambda: 0 });
    expect(fit.intercept).toBeCloseTo(0, 12);
    expect(() => balancedWeights([1, 1])).toThrow(/both classes \(got 2 ones and 0 zeros\)/);
    expect(() => balancedWeights([1, 3])).toThrow(/labels must be 0 or 1/);
  });

  it('treats an integer weight like a duplicated row', () => {
    const d = generate(11, 300, -0.3, [0.8, -0.5]);
    const w = Array.from({ length: d.nRows }, (_, i) => (i % 3 === 0 ? 2 : 1));
    const rows: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < d.nRows; i++) {
      for (let k = 0; k < (w[i] as number); k++) {
        rows.push(d.x[2 * i] as number, d.x[2 * i + 1] as number);
        y.push(d.y[i] as number);
      }
    }
    const weighted = fitLogistic(d.x, d.nRows, 2, d.y, { sampleWeights: w, lambda: 0.5, tolerance: 1e-12 });
    const duplicated = fitLogistic(Float64Array.from(rows), y.length, 2, y, { lambda: 0.5, tolerance: 1e-12 });
    expect(weighted.intercept).toBeCloseTo(duplicated.intercept, 10);
    expect(weighted.coefficients[0]).toBeCloseTo(duplicated.coefficients[0] as number, 10);
    expect(weighted.coefficients[1]).toBeCloseTo(duplicated.coefficients[1] as number, 10);
    expect(weighted.logLikelihood).toBeCloseTo(duplicated.logLikelihood, 8);
  });
});

describe('fitLogistic: generated data', () => {
  it('recovers known coefficients', () => {
    // SE of each coefficient here is ≈ 1/√(n·E[p(1−p)]) ≈ 1/√(20000·0.15) ≈ 0.02; allow 4 SE.
    const d = generate(42, 20_000, -0.5, [1.5, -1, 0.5, 0]);
    const fit = fitLogistic(d.x, d.nRows, d.nCols, d.y, { lambda: 0 });
    expect(fit.converged).toBe(true);
    expect(fit.iterations).toBeLessThan(10);
    expect(Math.abs(fit.intercept + 0.5)).toBeLessThan(0.08);
    [1.5, -1, 0.5, 0].forEach((b, j) => expect(Math.abs((fit.coefficients[j] as number) - b)).toBeLessThan(0.08));
    // And it is the optimum: the gradient vanishes (relative to n = 20,000).
    for (const g of gradient(d, fit, 0)) expect(Math.abs(g)).toBeLessThan(1e-6);
  });

  it('reaches the optimum on the warm-start path (≥ 200k rows)', () => {
    const d = generate(5, 200_000, 1, [0.7, -1.2, 0.3]);
    const fit = fitLogistic(d.x, d.nRows, d.nCols, d.y, { lambda: 2 });
    expect(fit.converged).toBe(true);
    for (const g of gradient(d, fit, 2)) expect(Math.abs(g)).toBeLessThan(1e-5);
    expect(Math.abs((fit.coefficients[1] as number) + 1.2)).toBeLessThan(0.03);
  });

  it('shrinks coefficients towards 0 as λ grows, leaving the intercept at the base rate', () => {
    const d = generate(8, 2000, 0.4, [1, -2, 0.5]);
    let prevNorm = Infinity;
    for (const lambda of [0, 1, 10, 100, 1000, 1e4]) {
      const fit = fitLogistic(d.x, d.nRows, d.nCols, d.y, { lambda });
      const norm = Math.hypot(...fit.coefficients);
      expect(norm).toBeLessThan(prevNorm);
      prevNorm = norm;
    }
    const huge = fitLogistic(d.x, d.nRows, d.nCols, d.y, { lambda: 1e9 });
    let ones = 0;
    for (const v of d.y) ones += v;
    expect(Math.hypot(...huge.coefficients)).toBeLessThan(1e-5);
    expect(huge.intercept).toBeCloseTo(Math.log(ones / (d.nRows - ones)), 4);
  });

  it('stays finite on separable data without a penalty', () => {
    const x = Float64Array.from([-3, -2, -1, 1, 2, 3]);
    const fit = fitLogistic(x, 6, 1, [0, 0, 0, 1, 1, 1], { lambda: 0 });
    expect(Number.isFinite(fit.intercept)).toBe(true);
    expect(Number.isFinite(fit.coefficients[0])).toBe(true);
    expect(fit.coefficients[0]).toBeGreaterThan(5);
    expect(fit.logLikelihood).toBeGreaterThan(-1e-6);
  });

  it('rejects invalid input with the constraint in the message', () => {
    const x = Float64Array.from([1, 2, 3, 4]);
    expect(() => fitLogistic(x, 3, 1, [0, 1, 0])).toThrow(/x must hold nRows × nCols = 3 × 1 = 3 values \(got 4\)/);
    expect(() => fitLogistic(x, 4, 1, [0, 1, 0])).toThrow(/labels must have one value per row \(4\), got 3/);
    expect(() => fitLogistic(x, 4, 1, [0, 1, 0, 2])).toThrow(/labels must be 0 or 1 \(label 3 is 2\)/);
    expect(() => fitLogistic(x, 4, 1, [1, 1, 1, 1])).toThrow(/labels must contain both classes/);
    expect(() => fitLogistic(Float64Array.from([1, Number.NaN, 3, 4]), 4, 1, [0, 1, 0, 1])).toThrow(
      /values must be finite \(row 1, column 0 is NaN\)/,
    );
    expect(() => fitLogistic(x, 4, 1, [0, 1, 0, 1], { sampleWeights: [1, -1, 1, 1] })).toThrow(/sample weights must be finite and ≥ 0/);
    expect(() => fitLogistic(x, 4, 1, [0, 1, 0, 1], { lambda: -1 })).toThrow(/lambda must be a finite number ≥ 0/);
    // Duplicated column without a penalty: XᵀWX is singular.
    const d = generate(1, 100, 0, [1]);
    const dup = new Float64Array(200);
    for (let i = 0; i < 100; i++) dup.set([d.x[i] as number, d.x[i] as number], 2 * i);
    expect(() => fitLogistic(dup, 100, 2, d.y, { lambda: 0 })).toThrow(/singular.*use lambda > 0/);
    // …while a penalty makes it solvable and splits the weight evenly.
    const fit = fitLogistic(dup, 100, 2, d.y, { lambda: 1 });
    expect(fit.coefficients[0]).toBeCloseTo(fit.coefficients[1] as number, 10);
  });
});

describe('Standardizer', () => {
  it('centres and scales by the population standard deviation', () => {
    // Column 0: 1, 2, 3 → mean 2, variance (1 + 0 + 1)/3 = 2/3. Column 1: constant 5.
    const s = Standardizer.fit(Float64Array.from([1, 5, 2, 5, 3, 5]), 3, 2);
    expect(Array.from(s.means)).toEqual([2, 5]);
    expect(s.scales[0]).toBeCloseTo(Math.sqrt(2 / 3), 15);
    expect(s.scales[1]).toBe(1);
    expect(Array.from(s.transformRow([3, 5]))).toEqual([1 / Math.sqrt(2 / 3), 0]);
  });

  it('maps a constant column to exact zeros even when its mean is inexact', () => {
    // Σ of 0.1 a thousand times is not exactly 100: a variance-based test would see noise.
    const x = new Float64Array(1000).fill(0.1);
    const s = Standardizer.fit(x, 1000, 1);
    expect(s.scales[0]).toBe(1);
    expect(s.transform(x, 1000).every((v) => v === 0)).toBe(true);
  });
});

describe('ChurnModel', () => {
  const names = ['days_since_purchase', 'sessions_30d', 'spend', 'tickets'];

  it('predicts like an unstandardised fit (the MLE does not depend on scaling)', () => {
    const d = generate(3, 5000, -1, [1, -0.8, 0.4, 0], [30, 12, 500, 1], [20, 5, 300, 0.5]);
    const { model, converged } = ChurnModel.train(d.x, d.nRows, d.y, { featureNames: names, lambda: 0 });
    expect(converged).toBe(true);
    const raw = fitLogistic(d.x, d.nRows, d.nCols, d.y, { lambda: 0, tolerance: 1e-10 });
    const probs = model.predictMany(d.x, d.nRows);
    for (let i = 0; i < d.nRows; i += 97) {
      let eta = raw.intercept;
      for (let j = 0; j < d.nCols; j++) eta += (raw.coefficients[j] as number) * (d.x[i * d.nCols + j] as number);
      expect(probs[i]).toBeCloseTo(sigmoid(eta), 9);
      expect(model.predictProba(d.x.subarray(i * d.nCols, (i + 1) * d.nCols))).toBe(probs[i]);
    }
    // Standardised coefficient = raw coefficient × scale.
    for (let j = 0; j < d.nCols; j++) {
      expect(model.coefficients[j]).toBeCloseTo((raw.coefficients[j] as number) * (model.scales[j] as number), 7);
    }
  });

  it('copes with zero-variance features (no NaN, coefficient 0)', () => {
    const d = generate(4, 500, 0, [1, 0, 0]);
    for (let i = 0; i < d.nRows; i++) {
      d.x[i * 3 + 1] = 0; // all-zero column
      d.x[i * 3 + 2] = 7; // constant column
    }
    for (const lambda of [0, 1]) {
      const { model } = ChurnModel.train(d.x, d.nRows, d.y, { featureNames: ['a', 'zero', 'seven'], lambda });
      expect(Array.from(model.scales.subarray(1))).toEqual([1, 1]);
      expect(Array.from(model.coefficients.subarray(1))).toEqual([0, 0]);
      expect(Number.isFinite(model.coefficients[0])).toBe(true);
      // A value never seen in training for the constant column changes nothing.
      expect(model.predictProba([0.5, 3, -100])).toBe(model.predictProba([0.5, 0, 7]));
    }
  });

  it('round-trips through JSON', () => {
    const d = generate(9, 1000, -0.2, [0.5, 0.5, -1, 0.1], [1, 2, 3, 4], [1, 2, 3, 4]);
    const { model } = ChurnModel.train(d.x, d.nRows, d.y, { featureNames: names, lambda: 1 });
    const stored = JSON.parse(JSON.stringify(model)) as unknown;
    const copy = ChurnModel.load(stored);
    expect(copy.toJSON()).toEqual(model.toJSON());
    expect(copy.lambda).toBe(1);
    expect(Array.from(copy.predictMany(d.x, d.nRows))).toEqual(Array.from(model.predictMany(d.x, d.nRows)));
  });

  it('load rejects malformed documents, naming the field', () => {
    const good = { name: 'ChurnModel', featureNames: ['a', 'b'], means: [0, 0], scales: [1, 1], coefficients: [1, 2], intercept: 0, lambda: 1 };
    expect(ChurnModel.load(good).nFeatures).toBe(2);
    expect(() => ChurnModel.load(null)).toThrow(/expected an object/);
    expect(() => ChurnModel.load({ ...good, name: 'LogisticRegression' })).toThrow(/name must be "ChurnModel"/);
    expect(() => ChurnModel.load({ ...good, coefficients: [1] })).toThrow(/coefficients must have 2 entries/);
    expect(() => ChurnModel.load({ ...good, means: [0, 'x'] })).toThrow(/means\[1\] must be a finite number/);
    expect(() => ChurnModel.load({ ...good, scales: [1, 0] })).toThrow(/scales must be positive finite numbers/);
    expect(() => ChurnModel.load({ ...good, featureNames: ['a', 'a'] })).toThrow(/feature names must be unique/);
  });

  it('explains a prediction with the features that push the risk up, largest first', () => {
    // Contributions = coefficient × (value − mean)/scale:
    //   a: 2 × (1 − 0)/1 = 2;  b: −1 × (−3 − 0)/1 = 3;  c: 0.5 × (3 − 1)/2 = 0.5;  d: 1 × (−1 − 0)/1 = −1 (lowers risk).
    const model = new ChurnModel({
      featureNames: ['a', 'b', 'c', 'd'],
      means: [0, 0, 1, 0],
      scales: [1, 1, 2, 1],
      coefficients: [2, -1, 0.5, 1],
      intercept: -1,
      lambda: 1,
    });
    const row = [1, -3, 3, -1];
    expect(model.explain(row, 10)).toEqual([
      { feature: 'b', contribution: 3, value: -3 },
      { feature: 'a', contribution: 2, value: 1 },
      { feature: 'c', contribution: 0.5, value: 3 },
    ]);
    expect(model.explain(row, 2).map((f) => f.feature)).toEqual(['b', 'a']);
    expect(model.explain(row)).toHaveLength(3);
    expect(model.explain(row, 0)).toEqual([]);
    // η = −1 + 2 + 3 + 0.5 − 1 = 3.5
    expect(model.predictProba(row)).toBeCloseTo(sigmoid(3.5), 15);
    expect(() => model.explain([1, 2], 3)).toThrow(/row must have 4 values \(got 2\)/);
    expect(() => model.predictProba([1, 2, Number.NaN, 4])).toThrow(/feature c must be finite/);
    expect(() => model.predictMany(new Float64Array(7), 2)).toThrow(/2 × 4 = 8 values \(got 7\)/);
  });

  it('matches ml-logistic-regression (the reference) on moderate data', () => {
    // Correlated features on different scales; ours unpenalised (the library has no penalty).
    const rand = mulberry32(2024);
    const gen = (n: number): Generated => {
      const x = new Float64Array(n * 4);
      const y = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const u = gaussian(rand);
        const v = [u + 0.5 * gaussian(rand), 3 + 2 * gaussian(rand), 0.3 * u + gaussian(rand), 10 * gaussian(rand)];
        x.set(v, i * 4);
        const eta = -0.7 + 0.9 * (v[0] as number) - 0.4 * ((v[1] as number) - 3) + 0.5 * (v[2] as number) + 0.02 * (v[3] as number);
        y[i] = rand() < sigmoid(eta) ? 1 : 0;
      }
      return { x, y, nRows: n, nCols: 4 };
    };
    const train = gen(3000);
    const test = gen(3000);
    const { model } = ChurnModel.train(train.x, train.nRows, train.y, { featureNames: names, lambda: 0 });

    // The library: standardised features (it has no scaling), a column of ones (it has no
    // intercept), and a rate tuned to its summed gradient (≈ 2/n; its 5e-4 default is too small
    // to converge in a reasonable number of steps here and too large for 100k rows).
    const s = Standardizer.fit(train.x, train.nRows, 4);
    const design = (d: Generated): Matrix => {
      const z = s.transform(d.x, d.nRows);
      return new Matrix(Array.from({ length: d.nRows }, (_, i) => [1, ...z.subarray(i * 4, i * 4 + 4)]));
    };
    const lib = new LogisticRegression({ numSteps: 200, learningRate: 2 / train.nRows });
    lib.train(design(train), Matrix.columnVector(Array.from(train.y)));
    // One-vs-all: classifier 0 is trained with label 0 → 0 and every other label → 1, so it scores P(y = 1).
    const positive = lib.classifiers[0];
    if (!positive) throw new Error('ml-logistic-regression trained no classifier');
    const libAuc = rocAuc(positive.testScores(design(test)), test.y);
    const ourAuc = rocAuc(model.predictMany(test.x, test.nRows), test.y);
    expect(Math.abs(ourAuc - libAuc)).toBeLessThan(0.001);
    expect(ourAuc).toBeGreaterThan(0.75);
    // Both find the same maximum-likelihood weights: [intercept, standardised coefficients].
    const libWeights = positive.weights?.to1DArray() ?? [];
    const ours = [model.intercept, ...model.coefficients];
    libWeights.forEach((w, j) => expect(Math.abs(w - (ours[j] as number))).toBeLessThan(1e-4));
    // The library's own class prediction agrees with thresholding ours at 0.5.
    const libClass = lib.predict(design(test));
    const ourProbs = model.predictMany(test.x, test.nRows);
    let agree = 0;
    for (let i = 0; i < test.nRows; i++) if (libClass[i] === ((ourProbs[i] as number) >= 0.5 ? 1 : 0)) agree++;
    expect(agree / test.nRows).toBeGreaterThan(0.999);
  });
});
