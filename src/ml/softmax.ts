/**
 * Multinomial (softmax) logistic regression over sparse feature vectors, for short-text
 * classification (the bot's intents). Trained by seeded mini-batch-free SGD with AdaGrad step
 * sizes and an L2 penalty; cost grows with the non-zeros of the data (rows × features per row ×
 * classes), never with the vocabulary, so a 10k-term vocabulary costs nothing until a row uses it.
 *
 * Why not the IRLS solver in logistic.ts: Newton needs XᵀWX, a dense d × d matrix per class; a
 * character-n-gram vocabulary is d ≈ 10⁴, so one Newton step is ~10¹² operations. Here an epoch
 * over 2k utterances of ~150 n-grams and 20 classes is ~6·10⁶.
 */
import { mulberry32 } from './prng.js';

export interface SparseRow {
  /** Feature indices, any order, no duplicates. */
  readonly indices: readonly number[] | Uint32Array;
  readonly values: readonly number[] | Float64Array;
}

export interface SoftmaxFitOptions {
  /** L2 strength per example step (default 1e-4). */
  readonly lambda?: number;
  /** Passes over the data (default 30). */
  readonly epochs?: number;
  /** AdaGrad base step (default 0.5). */
  readonly learningRate?: number;
  /** Seed of the shuffling (default 1). */
  readonly seed?: number;
}

export interface SoftmaxJSON {
  readonly nFeatures: number;
  readonly nClasses: number;
  /** Row-major nFeatures × nClasses. */
  readonly weights: number[];
  readonly bias: number[];
}

/** A fitted model: `predict` returns class probabilities summing to 1. */
export class SoftmaxModel {
  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    /** Row-major nFeatures × nClasses: a feature's weights for all classes are adjacent. */
    readonly weights: Float64Array,
    readonly bias: Float64Array,
  ) {
    if (weights.length !== nFeatures * nClasses) throw new RangeError(`SoftmaxModel: weights must hold ${nFeatures} × ${nClasses} values (got ${weights.length})`);
    if (bias.length !== nClasses) throw new RangeError(`SoftmaxModel: bias must hold ${nClasses} values (got ${bias.length})`);
  }

  /** Probabilities of each class for one row; features at or beyond nFeatures are ignored. */
  predict(row: SparseRow): Float64Array {
    const k = this.nClasses;
    const z = Float64Array.from(this.bias);
    for (let j = 0; j < row.indices.length; j++) {
      const f = row.indices[j] as number;
      if (f >= this.nFeatures) continue;
      const v = row.values[j] as number;
      const base = f * k;
      for (let c = 0; c < k; c++) z[c] = (z[c] as number) + v * (this.weights[base + c] as number);
    }
    return softmaxInPlace(z);
  }

  toJSON(): SoftmaxJSON {
    return { nFeatures: this.nFeatures, nClasses: this.nClasses, weights: Array.from(this.weights), bias: Array.from(this.bias) };
  }

  static load(j: SoftmaxJSON): SoftmaxModel {
    return new SoftmaxModel(j.nFeatures, j.nClasses, Float64Array.from(j.weights), Float64Array.from(j.bias));
  }
}

function softmaxInPlace(z: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of z) if (v > max) max = v;
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    const e = Math.exp((z[c] as number) - max);
    z[c] = e;
    sum += e;
  }
  for (let c = 0; c < z.length; c++) z[c] = (z[c] as number) / sum;
  return z;
}

/**
 * Fits a softmax regression on `rows` with integer `labels` in [0, nClasses). Deterministic for
 * a given seed. Throws a RangeError naming the problem for empty data, a label out of range or
 * a feature index out of range.
 */
export function fitSoftmax(rows: readonly SparseRow[], labels: readonly number[], nFeatures: number, nClasses: number, o: SoftmaxFitOptions = {}): SoftmaxModel {
  if (rows.length === 0) throw new RangeError('fitSoftmax: no rows to fit');
  if (rows.length !== labels.length) throw new RangeError(`fitSoftmax: ${rows.length} rows but ${labels.length} labels`);
  if (!Number.isInteger(nClasses) || nClasses < 2) throw new RangeError(`fitSoftmax: nClasses must be an integer ≥ 2 (got ${nClasses})`);
  labels.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= nClasses) throw new RangeError(`fitSoftmax: label of row ${i} must be an integer in [0, ${nClasses}) (got ${y})`);
  });
  rows.forEach((r, i) => {
    for (const f of r.indices) if (!Number.isInteger(f) || f < 0 || f >= nFeatures) throw new RangeError(`fitSoftmax: row ${i} has feature ${f} outside [0, ${nFeatures})`);
  });
  const lambda = o.lambda ?? 1e-4;
  const epochs = o.epochs ?? 30;
  const eta = o.learningRate ?? 0.5;
  const rand = mulberry32(o.seed ?? 1);
  const k = nClasses;
  const w = new Float64Array(nFeatures * k);
  const b = new Float64Array(k);
  const gw = new Float64Array(nFeatures * k); // AdaGrad accumulators
  const gb = new Float64Array(k);
  const model = new SoftmaxModel(nFeatures, k, w, b);
  const order = rows.map((_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const i of order) {
      const row = rows[i] as SparseRow;
      const p = model.predict(row);
      const y = labels[i] as number;
      for (let c = 0; c < k; c++) {
        const g = (p[c] as number) - (c === y ? 1 : 0);
        gb[c] = (gb[c] as number) + g * g;
        b[c] = (b[c] as number) - (eta * g) / Math.sqrt((gb[c] as number) + 1e-8);
        for (let j = 0; j < row.indices.length; j++) {
          const at = (row.indices[j] as number) * k + c;
          const gr = g * (row.values[j] as number) + lambda * (w[at] as number);
          gw[at] = (gw[at] as number) + gr * gr;
          w[at] = (w[at] as number) - (eta * gr) / Math.sqrt((gw[at] as number) + 1e-8);
        }
      }
    }
  }
  return model;
}
