/**
 * Uplift models for one offer: per user, the incremental probability of converting if
 * contacted, P(y = 1 | x, t = 1) − P(y = 1 | x, t = 0), learned from settled outreach
 * (treated rows and the random holdout). Two learners, both on the churn model's solver
 * ({@link fitLogistic}: Newton/IRLS with L2, on columns standardised once over all rows):
 *
 * - `t-learner` (two-model approach): μ₁ fitted on treated rows, μ₀ on holdout rows;
 *   uplift = μ₁(x) − μ₀(x).
 * - `class-transformation` (Jaskowski & Jaroszewicz 2012, "Uplift modeling for clinical
 *   trial data"): z = y·t + (1 − y)(1 − t), i.e. z = 1 for treated converters and holdout
 *   non-converters. When P(t = 1) = ½, P(z = 1 | x) = ½ + ½·uplift(x), so
 *   uplift = 2·P(z = 1 | x) − 1 from one logistic model. Holdouts are small, so rows are
 *   reweighted to give both arms the same total weight, which is what P(t) = ½ means for
 *   the fit. μ₁ is fitted too, because the value policy needs P(convert | offer).
 *
 * Both give the same prediction shape. Pure: no I/O, no randomness; the same data gives
 * the same model. Serialise with `toJSON()`, restore with `UpliftModel.load(json)`.
 */
import { qiniAucScore, upliftAucScore } from '../domain/uplift-metrics.js';
import { Standardizer, balancedWeights, fitLogistic } from './logistic.js';

/** Settled outreach rows for one offer. */
export interface UpliftData {
  /** Row-major nRows × nCols matrix of features, already transformed by the caller (standardised here). */
  readonly x: Float64Array;
  readonly nRows: number;
  readonly nCols: number;
  /** 1 = got the offer, 0 = holdout, per row. */
  readonly treatment: ArrayLike<number>;
  /** 1 = converted within the window, 0 = did not, per row. */
  readonly y: ArrayLike<number>;
}

export type UpliftLearner = 't-learner' | 'class-transformation';

/** Every learner, in the order {@link selectUplift} tries them (and breaks ties). */
export const UPLIFT_LEARNERS: readonly UpliftLearner[] = ['t-learner', 'class-transformation'];

export interface UpliftFitOptions {
  readonly learner: UpliftLearner;
  /** L2 strength of every logistic fit, in standardised units (as `fitLogistic`). Default 1. */
  readonly lambda?: number;
  /** One unique, non-empty name per column, in column order. */
  readonly featureNames: readonly string[];
}

export type UpliftSelectOptions = Omit<UpliftFitOptions, 'learner'>;

/** One user's prediction. */
export interface UpliftPrediction {
  /** Incremental conversion probability if contacted, in [−1, 1]. */
  readonly uplift: number;
  /** P(convert | x, offer): μ₁. */
  readonly pTreated: number;
  /**
   * P(convert | x, no offer): μ₀ for the T-learner; for the class transformation
   * pTreated − uplift clamped to [0, 1] (so pTreated − pControl can differ from `uplift`
   * where the clamp bites).
   */
  readonly pControl: number;
}

export interface UpliftSelection {
  /** The winner refitted on every row. */
  readonly model: UpliftModel;
  readonly learner: UpliftLearner;
  /** Each learner fitted on the rows with mask 0 and scored on the rows with mask 1. */
  readonly validation: Record<UpliftLearner, { readonly qini: number; readonly auuc: number }>;
}

/** Coefficients of one logistic part, in standardised units. */
export interface LogitPartJSON {
  readonly coefficients: number[];
  readonly intercept: number;
}

interface ModelJSONBase {
  readonly name: 'UpliftModel';
  readonly featureNames: string[];
  readonly means: number[];
  readonly scales: number[];
  readonly lambda: number;
  /** μ₁ = P(y = 1 | x, t = 1). */
  readonly treated: LogitPartJSON;
}

/** JSON form of an {@link UpliftModel}, stored as `jsonb`. */
export type UpliftModelJSON =
  | (ModelJSONBase & { readonly learner: 't-learner'; /** μ₀ = P(y = 1 | x, t = 0). */ readonly control: LogitPartJSON })
  | (ModelJSONBase & { readonly learner: 'class-transformation'; /** P(z = 1 | x). */ readonly transformed: LogitPartJSON });

function assertUnreachable(x: never): never {
  throw new RangeError(`unknown uplift learner ${JSON.stringify(x)}`);
}

function isLearner(v: unknown): v is UpliftLearner {
  return v === 't-learner' || v === 'class-transformation';
}

/** Numerically stable logistic function. */
function sigmoid(eta: number): number {
  if (eta >= 0) return 1 / (1 + Math.exp(-eta));
  const e = Math.exp(eta);
  return e / (1 + e);
}

/** A logistic model on the shared standardised columns, evaluated on raw rows. */
class LogitPart {
  /** coefficientⱼ / scaleⱼ, so η = intercept + Σ kⱼ·(xⱼ − meanⱼ). */
  private readonly perUnit: Float64Array;

  constructor(
    readonly coefficients: Float64Array,
    readonly intercept: number,
    scales: Float64Array,
    what: string,
  ) {
    if (coefficients.length !== scales.length) {
      throw new RangeError(`UpliftModel: ${what} coefficients must have one entry per feature (${scales.length}), got ${coefficients.length}`);
    }
    if (!Number.isFinite(intercept)) throw new RangeError(`UpliftModel: ${what} intercept must be finite (got ${intercept})`);
    this.perUnit = new Float64Array(coefficients.length);
    for (let j = 0; j < coefficients.length; j++) {
      const c = coefficients[j] as number;
      if (!Number.isFinite(c)) throw new RangeError(`UpliftModel: ${what} coefficients must be finite (coefficient ${j} is ${c})`);
      this.perUnit[j] = c / (scales[j] as number);
    }
  }

  /** P(label = 1) for the row at `off` in `x`; values are checked by the caller. */
  proba(x: ArrayLike<number>, off: number, means: Float64Array): number {
    let eta = this.intercept;
    for (let j = 0; j < this.perUnit.length; j++) eta += (this.perUnit[j] as number) * ((x[off + j] as number) - (means[j] as number));
    return sigmoid(eta);
  }

  toJSON(): LogitPartJSON {
    return { coefficients: Array.from(this.coefficients), intercept: this.intercept };
  }
}

/** Everything that defines an uplift model; coefficients are in standardised units. */
export interface UpliftModelParams {
  readonly learner: UpliftLearner;
  readonly featureNames: readonly string[];
  readonly means: ArrayLike<number>;
  readonly scales: ArrayLike<number>;
  /** The L2 strength it was trained with (kept for the record, not used to predict). */
  readonly lambda: number;
  /** μ₁. */
  readonly treated: { readonly coefficients: ArrayLike<number>; readonly intercept: number };
  /** μ₀ for the T-learner, P(z = 1 | x) for the class transformation. */
  readonly second: { readonly coefficients: ArrayLike<number>; readonly intercept: number };
}

/**
 * A fitted uplift model for one offer. Build it with {@link fitUplift} or
 * {@link selectUplift}; store it with `toJSON()` and restore it with `UpliftModel.load`.
 */
export class UpliftModel {
  readonly learner: UpliftLearner;
  readonly featureNames: readonly string[];
  readonly means: Float64Array;
  readonly scales: Float64Array;
  readonly lambda: number;
  private readonly treated: LogitPart;
  /** μ₀ (t-learner) or P(z = 1 | x) (class-transformation). */
  private readonly second: LogitPart;

  /** @throws RangeError when lengths disagree, names repeat, or a number is not finite. */
  constructor(params: UpliftModelParams) {
    if (!isLearner(params.learner)) throw new RangeError(`UpliftModel: learner must be 't-learner' or 'class-transformation' (got ${JSON.stringify(params.learner)})`);
    const p = params.featureNames.length;
    const seen = new Set<string>();
    for (const name of params.featureNames) {
      if (typeof name !== 'string' || name.length === 0) throw new RangeError('UpliftModel: feature names must be non-empty strings');
      if (seen.has(name)) throw new RangeError(`UpliftModel: feature names must be unique (${JSON.stringify(name)} repeats)`);
      seen.add(name);
    }
    if (params.means.length !== p || params.scales.length !== p) {
      throw new RangeError(`UpliftModel: means and scales must have one entry per feature (${p}), got ${params.means.length} and ${params.scales.length}`);
    }
    if (!(params.lambda >= 0) || !Number.isFinite(params.lambda)) {
      throw new RangeError(`UpliftModel: lambda must be a finite number ≥ 0 (got ${params.lambda})`);
    }
    this.learner = params.learner;
    this.featureNames = [...params.featureNames];
    this.means = Float64Array.from(params.means);
    this.scales = Float64Array.from(params.scales);
    // Validates means and scales (finite, scales > 0).
    new Standardizer(this.means, this.scales);
    this.lambda = params.lambda;
    this.treated = new LogitPart(Float64Array.from(params.treated.coefficients), params.treated.intercept, this.scales, 'treated');
    const secondName = this.learner === 't-learner' ? 'control' : 'transformed';
    this.second = new LogitPart(Float64Array.from(params.second.coefficients), params.second.intercept, this.scales, secondName);
  }

  /** Number of features the model expects per row. */
  get nFeatures(): number {
    return this.featureNames.length;
  }

  private checkRow(x: ArrayLike<number>, off: number, row: number): void {
    for (let j = 0; j < this.featureNames.length; j++) {
      const v = x[off + j] as number;
      if (!Number.isFinite(v)) throw new RangeError(`UpliftModel: feature ${this.featureNames[j]} must be finite (row ${row} has ${v})`);
    }
  }

  private predictAt(x: ArrayLike<number>, off: number): UpliftPrediction {
    const pTreated = this.treated.proba(x, off, this.means);
    const q = this.second.proba(x, off, this.means);
    switch (this.learner) {
      case 't-learner':
        return { uplift: pTreated - q, pTreated, pControl: q };
      case 'class-transformation': {
        const uplift = 2 * q - 1;
        return { uplift, pTreated, pControl: Math.min(1, Math.max(0, pTreated - uplift)) };
      }
      default:
        return assertUnreachable(this.learner);
    }
  }

  /**
   * Uplift, P(convert | offer) and P(convert | no offer) for one row of features, in
   * `featureNames` order.
   * @throws RangeError on a wrong length or a non-finite value.
   */
  predict(row: ArrayLike<number>): UpliftPrediction {
    if (row.length !== this.nFeatures) {
      throw new RangeError(`UpliftModel.predict: row must have ${this.nFeatures} values (got ${row.length})`);
    }
    this.checkRow(row, 0, 0);
    return this.predictAt(row, 0);
  }

  /**
   * Uplift for every row of a row-major nRows × nFeatures matrix.
   * @throws RangeError on a shape mismatch or a non-finite value.
   */
  predictMany(x: Float64Array, nRows: number): Float64Array {
    const p = this.nFeatures;
    checkShape(x, nRows, p, 'UpliftModel.predictMany');
    const out = new Float64Array(nRows);
    for (let i = 0, off = 0; i < nRows; i++, off += p) {
      this.checkRow(x, off, i);
      out[i] = this.predictAt(x, off).uplift;
    }
    return out;
  }

  toJSON(): UpliftModelJSON {
    const base = {
      name: 'UpliftModel' as const,
      featureNames: [...this.featureNames],
      means: Array.from(this.means),
      scales: Array.from(this.scales),
      lambda: this.lambda,
      treated: this.treated.toJSON(),
    };
    switch (this.learner) {
      case 't-learner':
        return { ...base, learner: 't-learner', control: this.second.toJSON() };
      case 'class-transformation':
        return { ...base, learner: 'class-transformation', transformed: this.second.toJSON() };
      default:
        return assertUnreachable(this.learner);
    }
  }

  /**
   * Restore a model from {@link UpliftModel.toJSON} output (e.g. a `jsonb` column).
   * @throws RangeError when `json` is not a valid UpliftModel document; the message names the field.
   */
  static load(json: unknown): UpliftModel {
    if (typeof json !== 'object' || json === null) throw new RangeError('UpliftModel.load: expected an object');
    const doc = json as Record<string, unknown>;
    if (doc.name !== 'UpliftModel') throw new RangeError(`UpliftModel.load: invalid model: name must be "UpliftModel" (got ${JSON.stringify(doc.name)})`);
    const learner = doc.learner;
    if (!isLearner(learner)) {
      throw new RangeError(`UpliftModel.load: learner must be "t-learner" or "class-transformation" (got ${JSON.stringify(learner)})`);
    }
    const names = doc.featureNames;
    if (!Array.isArray(names) || !names.every((n): n is string => typeof n === 'string')) {
      throw new RangeError('UpliftModel.load: featureNames must be an array of strings');
    }
    const p = names.length;
    if (typeof doc.lambda !== 'number') throw new RangeError('UpliftModel.load: lambda must be a number');
    const secondField = learner === 't-learner' ? 'control' : 'transformed';
    return new UpliftModel({
      learner,
      featureNames: names,
      means: finiteArray(doc.means, p, 'means'),
      scales: finiteArray(doc.scales, p, 'scales'),
      lambda: doc.lambda,
      treated: logitPart(doc.treated, p, 'treated'),
      second: logitPart(doc[secondField], p, secondField),
    });
  }
}

function finiteArray(value: unknown, length: number, field: string): number[] {
  if (!Array.isArray(value)) throw new RangeError(`UpliftModel.load: ${field} must be an array of numbers`);
  if (value.length !== length) {
    throw new RangeError(`UpliftModel.load: ${field} must have ${length} entries, one per feature (got ${value.length})`);
  }
  return value.map((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`UpliftModel.load: ${field}[${i}] must be a finite number`);
    return v;
  });
}

function logitPart(value: unknown, p: number, field: string): { coefficients: number[]; intercept: number } {
  if (typeof value !== 'object' || value === null) throw new RangeError(`UpliftModel.load: ${field} must be an object with coefficients and intercept`);
  const part = value as Record<string, unknown>;
  if (typeof part.intercept !== 'number') throw new RangeError(`UpliftModel.load: ${field}.intercept must be a number`);
  return { coefficients: finiteArray(part.coefficients, p, `${field}.coefficients`), intercept: part.intercept };
}

function checkShape(x: Float64Array, nRows: number, nCols: number, what: string): void {
  if (!Number.isInteger(nRows) || nRows < 0 || !Number.isInteger(nCols) || nCols < 0) {
    throw new RangeError(`${what}: nRows and nCols must be non-negative integers (got ${nRows} and ${nCols})`);
  }
  if (x.length !== nRows * nCols) {
    throw new RangeError(`${what}: x must hold nRows × nCols = ${nRows} × ${nCols} = ${nRows * nCols} values (got ${x.length})`);
  }
}

/** Shape, 0/1 flags and finite features, with row numbers of the caller's data. */
function checkData(data: UpliftData, featureNames: readonly string[], what: string): void {
  const { x, nRows, nCols, treatment, y } = data;
  checkShape(x, nRows, nCols, what);
  if (featureNames.length !== nCols) {
    throw new RangeError(`${what}: featureNames must name every column (${nCols}), got ${featureNames.length}`);
  }
  if (treatment.length !== nRows || y.length !== nRows) {
    throw new RangeError(`${what}: treatment and y must have one value per row (${nRows}), got ${treatment.length} and ${y.length}`);
  }
  for (let i = 0, off = 0; i < nRows; i++, off += nCols) {
    const t = treatment[i];
    if (t !== 0 && t !== 1) throw new RangeError(`${what}: treatment must be 0 (holdout) or 1 (treated) (row ${i} is ${String(t)})`);
    const yi = y[i];
    if (yi !== 0 && yi !== 1) throw new RangeError(`${what}: y must be 0 or 1 (row ${i} is ${String(yi)})`);
    for (let j = 0; j < nCols; j++) {
      const v = x[off + j] as number;
      if (!Number.isFinite(v)) throw new RangeError(`${what}: features must be finite (row ${i}, column ${j} is ${v})`);
    }
  }
}

interface ArmCounts {
  readonly treated: number;
  readonly treatedConverted: number;
  readonly control: number;
  readonly controlConverted: number;
}

function armCounts(treatment: ArrayLike<number>, y: ArrayLike<number>, rows: Uint32Array): ArmCounts {
  let treated = 0;
  let treatedConverted = 0;
  let controlConverted = 0;
  for (const i of rows) {
    if (treatment[i] === 1) {
      treated++;
      treatedConverted += y[i] as number;
    } else {
      controlConverted += y[i] as number;
    }
  }
  return { treated, treatedConverted, control: rows.length - treated, controlConverted };
}

/**
 * What each learner needs before a fit: both arms, and both outcomes in every arm that
 * gets its own model (treated for μ₁ always; control too for the T-learner's μ₀; the
 * class transformation's z has both classes once the treated arm has both outcomes).
 */
function checkArms(c: ArmCounts, learner: UpliftLearner, what: string): void {
  const counts = `${c.treated} treated rows (${c.treatedConverted} converted), ${c.control} holdout rows (${c.controlConverted} converted)`;
  if (c.treated === 0 || c.control === 0) throw new RangeError(`${what}: needs both treated and holdout rows (got ${counts})`);
  if (c.treatedConverted === 0 || c.treatedConverted === c.treated) {
    throw new RangeError(`${what}: treated rows must include converted and not converted users (got ${counts})`);
  }
  if (learner === 't-learner' && (c.controlConverted === 0 || c.controlConverted === c.control)) {
    throw new RangeError(`${what}: the t-learner needs holdout rows that converted and that did not (got ${counts})`);
  }
}

/** The rows of `x` listed in `rows`, as a new row-major matrix. */
function takeRows(x: Float64Array, nCols: number, rows: Uint32Array): Float64Array {
  const out = new Float64Array(rows.length * nCols);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r] as number;
    out.set(x.subarray(i * nCols, (i + 1) * nCols), r * nCols);
  }
  return out;
}

function takeValues(v: ArrayLike<number>, rows: Uint32Array): Uint8Array {
  const out = new Uint8Array(rows.length);
  for (let r = 0; r < rows.length; r++) out[r] = v[rows[r] as number] as number;
  return out;
}

function rowsWhere(flags: ArrayLike<number>, value: number): Uint32Array {
  let n = 0;
  for (let i = 0; i < flags.length; i++) if (flags[i] === value) n++;
  const out = new Uint32Array(n);
  for (let i = 0, k = 0; i < flags.length; i++) if (flags[i] === value) out[k++] = i;
  return out;
}

/** Fit one learner on the given rows of already checked data. */
function fitRows(data: UpliftData, rows: Uint32Array, learner: UpliftLearner, lambda: number, featureNames: readonly string[], what: string): UpliftModel {
  const { nCols } = data;
  checkArms(armCounts(data.treatment, data.y, rows), learner, what);
  // Rows are ascending and unique, so as many as the data means all of them: no copy.
  const x = rows.length === data.nRows ? data.x : takeRows(data.x, nCols, rows);
  const t = takeValues(data.treatment, rows);
  const y = takeValues(data.y, rows);
  const n = rows.length;
  // One standardisation for every part, so the penalty weighs a column the same in μ₁,
  // μ₀ and the z model.
  const standardizer = Standardizer.fit(x, n, nCols);

  const treatedRows = rowsWhere(t, 1);
  const mu1 = fitLogistic(takeRows(x, nCols, treatedRows), treatedRows.length, nCols, takeValues(y, treatedRows), { lambda, standardizer });

  let second: { coefficients: Float64Array; intercept: number };
  switch (learner) {
    case 't-learner': {
      const controlRows = rowsWhere(t, 0);
      second = fitLogistic(takeRows(x, nCols, controlRows), controlRows.length, nCols, takeValues(y, controlRows), { lambda, standardizer });
      break;
    }
    case 'class-transformation': {
      const z = new Uint8Array(n);
      for (let i = 0; i < n; i++) z[i] = y[i] === t[i] ? 1 : 0;
      // Each arm gets total weight n/2 (balancedWeights on the treatment flag), the P(t) = ½
      // the transformation assumes; the total stays n, so λ means what it means elsewhere.
      second = fitLogistic(x, n, nCols, z, { lambda, standardizer, sampleWeights: balancedWeights(t) });
      break;
    }
    default:
      return assertUnreachable(learner);
  }
  return new UpliftModel({
    learner,
    featureNames,
    means: standardizer.means,
    scales: standardizer.scales,
    lambda,
    treated: mu1,
    second,
  });
}

function resolveLambda(lambda: number | undefined, what: string): number {
  const l = lambda ?? 1;
  if (!(l >= 0) || !Number.isFinite(l)) throw new RangeError(`${what}: lambda must be a finite number ≥ 0 (got ${l})`);
  return l;
}

function allRows(n: number): Uint32Array {
  const rows = new Uint32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

/**
 * Fit an uplift model with the chosen learner on all rows.
 *
 * @throws RangeError on a shape mismatch, a treatment or outcome not 0/1, a non-finite
 *   feature, a missing arm, or an arm without both outcomes where a model is fitted on it
 *   (treated always; holdout for the T-learner).
 */
export function fitUplift(data: UpliftData, options: UpliftFitOptions): UpliftModel {
  const what = `fitUplift (${options.learner})`;
  if (!isLearner(options.learner)) {
    throw new RangeError(`fitUplift: learner must be 't-learner' or 'class-transformation' (got ${JSON.stringify(options.learner)})`);
  }
  checkData(data, options.featureNames, what);
  const lambda = resolveLambda(options.lambda, what);
  return fitRows(data, allRows(data.nRows), options.learner, lambda, options.featureNames, what);
}

/**
 * Choose a learner on held-out rows: each learner in {@link UPLIFT_LEARNERS} is fitted on
 * the rows with `validationMask` 0 and scored on the rows with mask 1 by the Qini
 * coefficient ({@link qiniAucScore}, negative effects included) and AUUC; the higher Qini
 * wins (a NaN Qini loses to any number; a tie goes to the earlier learner), and the winner
 * is refitted on all rows. Deterministic.
 *
 * The mask should be random with respect to the features and the arms (e.g. a hash of
 * the user id); a time split also works.
 *
 * @throws RangeError on invalid data (as {@link fitUplift}), a mask not 0/1 per row,
 *   validation rows without both arms, or training rows a learner cannot be fitted on.
 */
export function selectUplift(data: UpliftData, validationMask: ArrayLike<number>, options: UpliftSelectOptions): UpliftSelection {
  const what = 'selectUplift';
  checkData(data, options.featureNames, what);
  const lambda = resolveLambda(options.lambda, what);
  if (validationMask.length !== data.nRows) {
    throw new RangeError(`${what}: validationMask must have one value per row (${data.nRows}), got ${validationMask.length}`);
  }
  for (let i = 0; i < validationMask.length; i++) {
    const m = validationMask[i];
    if (m !== 0 && m !== 1) throw new RangeError(`${what}: validationMask must be 0 (train) or 1 (validate) (row ${i} is ${String(m)})`);
  }
  const trainRows = rowsWhere(validationMask, 0);
  const validRows = rowsWhere(validationMask, 1);
  const v = armCounts(data.treatment, data.y, validRows);
  if (v.treated === 0 || v.control === 0) {
    throw new RangeError(
      `${what}: validation rows (mask 1) need both treated and holdout rows to score uplift (got ${v.treated} treated, ${v.control} holdout)`,
    );
  }
  const xValid = takeRows(data.x, data.nCols, validRows);
  const tValid = takeValues(data.treatment, validRows);
  const yValid = takeValues(data.y, validRows);

  const validation = {} as Record<UpliftLearner, { qini: number; auuc: number }>;
  let best: UpliftLearner | null = null;
  let bestQini = Number.NEGATIVE_INFINITY;
  for (const learner of UPLIFT_LEARNERS) {
    const model = fitRows(data, trainRows, learner, lambda, options.featureNames, `${what} (${learner}, training rows with mask 0)`);
    const scores = model.predictMany(xValid, validRows.length);
    const qini = qiniAucScore(yValid, scores, tValid);
    validation[learner] = { qini, auuc: upliftAucScore(yValid, scores, tValid) };
    if (best === null || qini > bestQini) {
      best = learner;
      if (!Number.isNaN(qini)) bestQini = qini;
    }
  }
  const learner = best as UpliftLearner;
  const model = fitRows(data, allRows(data.nRows), learner, lambda, options.featureNames, `${what} (${learner}, all rows)`);
  return { model, learner, validation };
}
