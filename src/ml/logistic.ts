/**
 * Binary logistic regression for churn: a Newton/IRLS solver with an L2 penalty (the
 * intercept is not penalised), per-row sample weights, feature standardisation, and a
 * serialisable `ChurnModel` that predicts and explains.
 *
 * Data layout: a design matrix is a row-major `Float64Array` of nRows × nCols, so one row
 * is `x.subarray(i * nCols, (i + 1) * nCols)`. No copies of it are made while fitting:
 * standardisation is applied on the fly, and each Newton iteration is one pass over the
 * rows that accumulates the gradient and the upper triangle of XᵀWX together.
 *
 * Objective (minimised): −Σᵢ wᵢ [yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)] + (λ/2)·‖β‖², with
 * pᵢ = σ(β₀ + xᵢ·β). This is scikit-learn's `LogisticRegression(C = 1/λ)` objective, so
 * λ = 1 matches its default.
 */

/** What the solver needs besides the data. */
export interface LogisticFitOptions {
  /** L2 strength λ ≥ 0 on the non-intercept coefficients. Default 1. */
  readonly lambda?: number;
  /**
   * Non-negative weight per row (e.g. {@link balancedWeights}); default 1 for every row.
   * A weight scales that row's log-likelihood term; zero drops the row.
   */
  readonly sampleWeights?: ArrayLike<number>;
  /** Newton iterations before giving up (the result then has `converged: false`). Default 100. */
  readonly maxIterations?: number;
  /**
   * Stop when the largest coefficient change of a Newton step is below this (default
   * 1e-7). That step is still applied, and Newton converges quadratically, so the
   * coefficients are then accurate to roughly the square of this.
   */
  readonly tolerance?: number;
  /**
   * Fit on standardised columns, (x − mean) / scale, computed row by row so the
   * standardised matrix is never materialised. Coefficients are then in that space.
   */
  readonly standardizer?: Standardizer;
}

/** A fitted coefficient vector and how the solver got there. */
export interface LogisticFit {
  /** One coefficient per column (in standardised units when a standardizer was given). */
  readonly coefficients: Float64Array;
  readonly intercept: number;
  /** Newton steps taken on the full data (warm-start steps on a sample not counted). */
  readonly iterations: number;
  /** False when `maxIterations` ran out first (e.g. separable data with λ = 0). */
  readonly converged: boolean;
  /**
   * Weighted log-likelihood Σᵢ wᵢ log p(yᵢ), without the penalty term, from the last pass
   * over the data (before the final sub-tolerance step, which changes it by O(step²)).
   */
  readonly logLikelihood: number;
}

const DEFAULT_LAMBDA = 1;
const DEFAULT_MAX_ITERATIONS = 100;
const DEFAULT_TOLERANCE = 1e-7;
// Floor on a row's curvature p(1 − p): with separable data and λ = 0, p saturates and the
// Hessian would underflow to singular; the floor keeps the Newton system solvable without
// moving the fixed point (the gradient is unchanged).
const CURVATURE_FLOOR = 1e-12;
// A step that raises the objective by more than this (relative) is halved. The slack
// absorbs the rounding of a sum over a million rows near the optimum.
const INCREASE_SLACK = 1e-10;
const MAX_HALVINGS = 40;

function isNonNegativeInteger(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

function checkShape(x: Float64Array, nRows: number, nCols: number, what: string): void {
  if (!isNonNegativeInteger(nRows) || !isNonNegativeInteger(nCols)) {
    throw new RangeError(`${what}: nRows and nCols must be non-negative integers (got ${nRows} and ${nCols})`);
  }
  if (x.length !== nRows * nCols) {
    throw new RangeError(
      `${what}: x must hold nRows × nCols = ${nRows} × ${nCols} = ${nRows * nCols} values (got ${x.length})`,
    );
  }
}

/**
 * Per-row weights that give each class the same total weight, n / 2 (scikit-learn's
 * `class_weight='balanced'`: wᵢ = n / (2·n_class(yᵢ))). The total stays n, so λ keeps its
 * meaning. Churn labels are usually imbalanced; without balancing, a rare class
 * barely moves the fit.
 *
 * @param labels - 0/1 per row; both classes must be present.
 * @throws RangeError on a label not 0/1 or a missing class.
 */
export function balancedWeights(labels: ArrayLike<number>): Float64Array {
  const n = labels.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`balancedWeights: labels must be 0 or 1 (label ${i} is ${String(y)})`);
    nPos += y;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) {
    throw new RangeError(`balancedWeights: labels must contain both classes (got ${nPos} ones and ${nNeg} zeros)`);
  }
  const wPos = n / (2 * nPos);
  const wNeg = n / (2 * nNeg);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = labels[i] === 1 ? wPos : wNeg;
  return w;
}

/** Serialised form of a {@link Standardizer}. */
export interface StandardizerJSON {
  readonly means: number[];
  readonly scales: number[];
}

/**
 * Column centring and scaling fitted on training data: z = (x − mean) / scale with the
 * population standard deviation as scale. A constant column gets scale 1 and a mean equal
 * to its value, so its standardised values are exactly 0 (never NaN or ±Infinity).
 */
export class Standardizer {
  /** @throws RangeError when the arrays differ in length or a scale is not a positive finite number. */
  constructor(
    readonly means: Float64Array,
    readonly scales: Float64Array,
  ) {
    if (means.length !== scales.length) {
      throw new RangeError(`Standardizer: means and scales must have the same length (got ${means.length} and ${scales.length})`);
    }
    for (let j = 0; j < means.length; j++) {
      if (!Number.isFinite(means[j])) throw new RangeError(`Standardizer: means must be finite (mean ${j} is ${means[j]})`);
      const s = scales[j] as number;
      if (!(s > 0) || !Number.isFinite(s)) {
        throw new RangeError(`Standardizer: scales must be positive finite numbers (scale ${j} is ${s})`);
      }
    }
  }

  /** Number of columns this standardiser was fitted on. */
  get nCols(): number {
    return this.means.length;
  }

  /**
   * Fit means and scales column by column (two passes, so the variance does not suffer
   * the cancellation of the one-pass Σx² formula).
   *
   * @throws RangeError on a shape mismatch, zero rows or a non-finite value.
   */
  static fit(x: Float64Array, nRows: number, nCols: number): Standardizer {
    checkShape(x, nRows, nCols, 'Standardizer.fit');
    if (nRows === 0) throw new RangeError('Standardizer.fit: needs at least one row (got 0)');
    const sums = new Float64Array(nCols);
    const mins = new Float64Array(nCols).fill(Infinity);
    const maxs = new Float64Array(nCols).fill(-Infinity);
    for (let i = 0, off = 0; i < nRows; i++, off += nCols) {
      for (let j = 0; j < nCols; j++) {
        const v = x[off + j] as number;
        if (!Number.isFinite(v)) {
          throw new RangeError(`Standardizer.fit: values must be finite (row ${i}, column ${j} is ${v})`);
        }
        sums[j] = (sums[j] as number) + v;
        if (v < (mins[j] as number)) mins[j] = v;
        if (v > (maxs[j] as number)) maxs[j] = v;
      }
    }
    const means = new Float64Array(nCols);
    for (let j = 0; j < nCols; j++) means[j] = (sums[j] as number) / nRows;
    const sq = new Float64Array(nCols);
    for (let i = 0, off = 0; i < nRows; i++, off += nCols) {
      for (let j = 0; j < nCols; j++) {
        const d = (x[off + j] as number) - (means[j] as number);
        sq[j] = (sq[j] as number) + d * d;
      }
    }
    const scales = new Float64Array(nCols);
    for (let j = 0; j < nCols; j++) {
      // Decide constancy from min === max, not from the variance: the mean of a constant
      // column can be off by an ulp, leaving a variance of ~1e-34 whose inverse explodes.
      if (mins[j] === maxs[j]) {
        means[j] = mins[j] as number;
        scales[j] = 1;
      } else {
        const s = Math.sqrt((sq[j] as number) / nRows);
        scales[j] = s > 0 && Number.isFinite(s) ? s : 1;
      }
    }
    return new Standardizer(means, scales);
  }

  /** Standardise one row into `out` (allocated when omitted). */
  transformRow(row: ArrayLike<number>, out: Float64Array = new Float64Array(this.nCols)): Float64Array {
    if (row.length !== this.nCols) {
      throw new RangeError(`Standardizer.transformRow: row must have ${this.nCols} values (got ${row.length})`);
    }
    for (let j = 0; j < this.nCols; j++) out[j] = ((row[j] as number) - (this.means[j] as number)) / (this.scales[j] as number);
    return out;
  }

  /** Standardise a whole row-major matrix into a new array. */
  transform(x: Float64Array, nRows: number): Float64Array {
    const p = this.nCols;
    checkShape(x, nRows, p, 'Standardizer.transform');
    const out = new Float64Array(x.length);
    for (let i = 0, off = 0; i < nRows; i++, off += p) {
      for (let j = 0; j < p; j++) out[off + j] = ((x[off + j] as number) - (this.means[j] as number)) / (this.scales[j] as number);
    }
    return out;
  }

  toJSON(): StandardizerJSON {
    return { means: Array.from(this.means), scales: Array.from(this.scales) };
  }
}

// Rows per block in `accumulate`: two transposed blocks of ⌈(p+1)/4⌉·4 columns × BLOCK
// doubles stay in L1/L2 cache (57 KB at p = 25), and Hessian entries become dot products
// over contiguous memory.
const BLOCK = 128;

/** Scratch buffers for `accumulate`, allocated once per fit. */
interface Workspace {
  /** Columns of the augmented row [1, z₁ … z_p] padded with zero columns to a multiple of 4. */
  readonly width: number;
  /** Transposed block: zt[j * BLOCK + b] is augmented column j of the block's row b. */
  readonly zt: Float64Array;
  /** The same scaled by each row's curvature wᵢ·pᵢ(1 − pᵢ). */
  readonly czt: Float64Array;
  /** Row residuals wᵢ·(pᵢ − yᵢ). */
  readonly r: Float64Array;
  /** Row curvatures wᵢ·pᵢ(1 − pᵢ). */
  readonly c: Float64Array;
  /** Hessian accumulator, width × width; only entries with row ≤ column are meaningful. */
  readonly hp: Float64Array;
}

function workspace(p: number): Workspace {
  const width = Math.ceil((p + 1) / 4) * 4;
  const zt = new Float64Array(width * BLOCK);
  zt.fill(1, 0, BLOCK); // the intercept's column of ones never changes
  return {
    width,
    zt,
    czt: new Float64Array(width * BLOCK),
    r: new Float64Array(BLOCK),
    c: new Float64Array(BLOCK),
    hp: new Float64Array(width * width),
  };
}

/**
 * One pass over the rows (every `stride`-th) at coefficients `beta` (index 0 is the intercept): returns the
 * unpenalised weighted negative log-likelihood and fills the gradient `g` and the upper
 * triangle of the Hessian XᵀWX `h` (P × P row-major, P = p + 1), both without the penalty.
 *
 * This is the whole cost of a fit (about P²/2 multiply-adds per row), hence the shape:
 * rows are standardised into a transposed block, and the block's Hessian is computed in
 * 2 × 4 tiles of dot products over contiguous memory, eight sums held in registers. V8
 * does not vectorise, so what counts is loads per multiply-add (6 per 8 here) and
 * independent sums to hide add latency. Measured on 1M × 25: ~2.5× faster than adding
 * each row's outer product into `h`.
 */
function accumulate(
  x: Float64Array,
  nRows: number,
  stride: number,
  p: number,
  y: Float64Array,
  w: Float64Array,
  shift: Float64Array,
  invScale: Float64Array,
  beta: Float64Array,
  g: Float64Array,
  h: Float64Array,
  ws: Workspace,
): number {
  const P = p + 1;
  const { width, zt, czt, r, c, hp } = ws;
  g.fill(0);
  hp.fill(0);
  let nll = 0;
  const b0 = beta[0] as number;
  // Rows 0, stride, 2·stride, …: stride 1 is the full data, more is the warm-start sample.
  const nUsed = Math.ceil(nRows / stride);
  for (let start = 0; start < nUsed; start += BLOCK) {
    const m = Math.min(BLOCK, nUsed - start);
    for (let b = 0; b < m; b++) {
      const i = (start + b) * stride;
      const off = i * p;
      let eta = b0;
      for (let j = 0; j < p; j++) {
        const zj = ((x[off + j] as number) - (shift[j] as number)) * (invScale[j] as number);
        zt[(j + 1) * BLOCK + b] = zj;
        eta += (beta[j + 1] as number) * zj;
      }
      const wi = w[i] as number;
      // log(1 + e^η) and σ(η) without overflow for large |η|.
      let prob: number;
      let softplus: number;
      if (eta >= 0) {
        const e = Math.exp(-eta);
        prob = 1 / (1 + e);
        softplus = eta + Math.log1p(e);
      } else {
        const e = Math.exp(eta);
        prob = e / (1 + e);
        softplus = Math.log1p(e);
      }
      const yi = y[i] as number;
      nll += wi * (softplus - yi * eta);
      r[b] = wi * (prob - yi);
      const curv = prob * (1 - prob);
      c[b] = wi * (curv < CURVATURE_FLOOR ? CURVATURE_FLOOR : curv);
    }
    for (let j = 0; j < P; j++) {
      const jb = j * BLOCK;
      let gs = 0;
      for (let b = 0; b < m; b++) {
        const v = zt[jb + b] as number;
        gs += (r[b] as number) * v;
        czt[jb + b] = (c[b] as number) * v;
      }
      g[j] = (g[j] as number) + gs;
    }
    // Tiles of rows (j, j+1) × columns (k … k+3). k starts at j rounded down to a multiple
    // of 4, so tiles never run past `width`; the few entries below the diagonal that this
    // computes are never read. Padding columns are zero in both blocks.
    for (let j = 0; j < P; j += 2) {
      const a0b = j * BLOCK;
      const a1b = a0b + BLOCK;
      const r0 = j * width;
      const r1 = r0 + width;
      for (let k = j & ~3; k < P; k += 4) {
        const z0b = k * BLOCK;
        const z1b = z0b + BLOCK;
        const z2b = z1b + BLOCK;
        const z3b = z2b + BLOCK;
        let s00 = 0;
        let s01 = 0;
        let s02 = 0;
        let s03 = 0;
        let s10 = 0;
        let s11 = 0;
        let s12 = 0;
        let s13 = 0;
        for (let b = 0; b < m; b++) {
          const a0 = czt[a0b + b] as number;
          const a1 = czt[a1b + b] as number;
          const z0 = zt[z0b + b] as number;
          const z1 = zt[z1b + b] as number;
          const z2 = zt[z2b + b] as number;
          const z3 = zt[z3b + b] as number;
          s00 += a0 * z0;
          s01 += a0 * z1;
          s02 += a0 * z2;
          s03 += a0 * z3;
          s10 += a1 * z0;
          s11 += a1 * z1;
          s12 += a1 * z2;
          s13 += a1 * z3;
        }
        hp[r0 + k] = (hp[r0 + k] as number) + s00;
        hp[r0 + k + 1] = (hp[r0 + k + 1] as number) + s01;
        hp[r0 + k + 2] = (hp[r0 + k + 2] as number) + s02;
        hp[r0 + k + 3] = (hp[r0 + k + 3] as number) + s03;
        hp[r1 + k] = (hp[r1 + k] as number) + s10;
        hp[r1 + k + 1] = (hp[r1 + k + 1] as number) + s11;
        hp[r1 + k + 2] = (hp[r1 + k + 2] as number) + s12;
        hp[r1 + k + 3] = (hp[r1 + k + 3] as number) + s13;
      }
    }
  }
  for (let j = 0; j < P; j++) {
    for (let k = j; k < P; k++) h[j * P + k] = hp[j * width + k] as number;
  }
  return nll;
}

/**
 * Solve A·x = b for a symmetric positive definite A given by its upper triangle (n × n
 * row-major), by Cholesky A = L·Lᵀ. L overwrites the strict lower triangle and the
 * diagonal of `a`; the strict upper triangle is only read. Returns false when A is not
 * numerically positive definite.
 */
function choleskySolve(a: Float64Array, n: number, b: Float64Array, out: Float64Array): boolean {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[j * n + i] as number; // A[j][i] from the upper triangle (equals A[i][j])
      for (let k = 0; k < j; k++) s -= (a[i * n + k] as number) * (a[j * n + k] as number);
      if (i === j) {
        // Relative pivot test: a pivot that lost all but ~13 digits of its diagonal means
        // a (near-)linear dependence between columns.
        const diag = a[i * n + i] as number;
        if (!(s > 1e-13 * diag) || !(s > 0)) return false;
        a[i * n + i] = Math.sqrt(s);
      } else {
        a[i * n + j] = s / (a[j * n + j] as number);
      }
    }
  }
  // Forward substitution L·u = b, then back substitution Lᵀ·x = u.
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (a[i * n + k] as number) * (out[k] as number);
    out[i] = s / (a[i * n + i] as number);
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = out[i] as number;
    for (let k = i + 1; k < n; k++) s -= (a[k * n + i] as number) * (out[k] as number);
    out[i] = s / (a[i * n + i] as number);
  }
  return true;
}

/**
 * Fit a binary logistic regression by Newton's method (IRLS) with an L2 penalty on the
 * non-intercept coefficients.
 *
 * Each iteration is one pass over the rows (gradient and XᵀWX together, upper triangle
 * only) and one Cholesky solve of the (p+1) × (p+1) system; a step that raises the
 * penalised objective is halved, so the iteration cannot diverge. It stops when the
 * largest coefficient change falls below `tolerance` or the objective stops improving at
 * machine precision. From 200k rows on, the first steps are taken on an evenly strided
 * 50k-row sample (deterministic, no randomness). Constant columns (zero variance) are
 * collinear with the intercept: their coefficients are pinned at 0, which is also the
 * penalised optimum.
 *
 * @param x - row-major nRows × nCols design matrix, finite values.
 * @param labels - 0/1 per row; both classes must carry weight.
 * @throws RangeError on a shape mismatch, a non-finite value, a label not 0/1, a missing
 *   class, negative weights, or (only possible with λ = 0) linearly dependent columns.
 */
export function fitLogistic(
  x: Float64Array,
  nRows: number,
  nCols: number,
  labels: ArrayLike<number>,
  options: LogisticFitOptions = {},
): LogisticFit {
  const what = 'fitLogistic';
  checkShape(x, nRows, nCols, what);
  if (labels.length !== nRows) throw new RangeError(`${what}: labels must have one value per row (${nRows}), got ${labels.length}`);
  const lambda = options.lambda ?? DEFAULT_LAMBDA;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`${what}: lambda must be a finite number ≥ 0 (got ${lambda})`);
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`${what}: maxIterations must be a positive integer (got ${maxIterations})`);
  }
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  if (!(tolerance > 0)) throw new RangeError(`${what}: tolerance must be > 0 (got ${tolerance})`);

  const p = nCols;
  const shift = new Float64Array(p);
  const invScale = new Float64Array(p).fill(1);
  if (options.standardizer) {
    const s = options.standardizer;
    if (s.nCols !== p) throw new RangeError(`${what}: the standardizer was fitted on ${s.nCols} columns, x has ${p}`);
    for (let j = 0; j < p; j++) {
      shift[j] = s.means[j] as number;
      invScale[j] = 1 / (s.scales[j] as number);
    }
  }

  if (options.sampleWeights && options.sampleWeights.length !== nRows) {
    throw new RangeError(`${what}: sampleWeights must have one value per row (${nRows}), got ${options.sampleWeights.length}`);
  }
  const y = new Float64Array(nRows);
  const w = new Float64Array(nRows);
  let wSum = 0;
  let wPos = 0;
  for (let i = 0; i < nRows; i++) {
    const yi = labels[i];
    if (yi !== 0 && yi !== 1) throw new RangeError(`${what}: labels must be 0 or 1 (label ${i} is ${String(yi)})`);
    y[i] = yi;
    const wi = options.sampleWeights ? (options.sampleWeights[i] as number) : 1;
    if (!(wi >= 0) || !Number.isFinite(wi)) {
      throw new RangeError(`${what}: sample weights must be finite and ≥ 0 (weight ${i} is ${String(wi)})`);
    }
    w[i] = wi;
    wSum += wi;
    wPos += wi * yi;
  }
  if (!(wPos > 0) || !(wSum - wPos > 0)) {
    throw new RangeError(
      `${what}: labels must contain both classes with positive weight (weight of ones ${wPos}, of zeros ${wSum - wPos}); the intercept is infinite otherwise`,
    );
  }

  // Finite check plus constant-column detection in one pass.
  const first = x.subarray(0, p);
  const constant = new Uint8Array(p).fill(1);
  for (let i = 0, off = 0; i < nRows; i++, off += p) {
    for (let j = 0; j < p; j++) {
      const v = x[off + j] as number;
      if (!Number.isFinite(v)) throw new RangeError(`${what}: values must be finite (row ${i}, column ${j} is ${v})`);
      if (v !== first[j]) constant[j] = 0;
    }
  }

  const P = p + 1;
  const beta = new Float64Array(P);
  // Start from the intercept-only MLE: a much better start than 0 for a rare class.
  const base = wPos / wSum;
  beta[0] = Math.log(base / (1 - base));
  const solver = new NewtonSolver(x, nRows, p, y, w, shift, invScale, constant);

  // Warm start: the first Newton steps, taken from far away, need little precision, so
  // take them on an evenly strided sample (every k-th row: row order may follow time or
  // id, so a contiguous slice could be biased) and finish on all rows. The optimum is the
  // full data's either way; on 1M × 25 this halves the full passes (8 → 4).
  if (nRows >= WARM_START_MIN_ROWS) {
    const stride = Math.floor(nRows / WARM_START_ROWS);
    let sw = 0;
    let swPos = 0;
    for (let i = 0; i < nRows; i += stride) {
      sw += w[i] as number;
      swPos += (w[i] as number) * (y[i] as number);
    }
    // Only when the sample has both classes (else its intercept is infinite); λ scaled by
    // the sample's share of the weight so the sample's optimum approximates the full one.
    if (swPos > 0 && sw - swPos > 0) {
      const trial = beta.slice();
      const warm = solver.run(trial, stride, (lambda * sw) / wSum, WARM_START_TOLERANCE, maxIterations);
      if (warm.status !== 'singular') beta.set(trial);
    }
  }

  const result = solver.run(beta, 1, lambda, tolerance, maxIterations);
  if (result.status === 'singular') {
    throw new RangeError(
      `${what}: XᵀWX + λI is singular: some columns are linear combinations of others (e.g. duplicated features); use lambda > 0 or drop them`,
    );
  }
  return {
    coefficients: beta.slice(1),
    intercept: beta[0] as number,
    iterations: result.iterations,
    converged: result.status === 'converged',
    logLikelihood: -result.nll,
  };
}

// The warm start pays off once a full pass is expensive; below this many rows a fit takes
// well under a second anyway.
const WARM_START_MIN_ROWS = 200_000;
const WARM_START_ROWS = 50_000;
// Loose: the full-data steps that follow finish the job; this only saves their first steps.
const WARM_START_TOLERANCE = 1e-3;

interface NewtonResult {
  readonly status: 'converged' | 'max-iterations' | 'singular';
  readonly iterations: number;
  /** Unpenalised weighted negative log-likelihood at the last evaluated point. */
  readonly nll: number;
}

/** Newton iterations over fixed data, with buffers allocated once and reused by every run. */
class NewtonSolver {
  private readonly P: number;
  private readonly prevBeta: Float64Array;
  private readonly g: Float64Array;
  private readonly h: Float64Array;
  private readonly delta: Float64Array;
  private readonly ws: Workspace;

  constructor(
    private readonly x: Float64Array,
    private readonly nRows: number,
    private readonly p: number,
    private readonly y: Float64Array,
    private readonly w: Float64Array,
    private readonly shift: Float64Array,
    private readonly invScale: Float64Array,
    private readonly constant: Uint8Array,
  ) {
    const P = p + 1;
    this.P = P;
    this.prevBeta = new Float64Array(P);
    this.g = new Float64Array(P);
    this.h = new Float64Array(P * P);
    this.delta = new Float64Array(P);
    this.ws = workspace(p);
  }

  /**
   * Newton steps from `beta` (updated in place) on every `stride`-th row. Stops when a
   * step's largest coefficient change is below `tolerance`: that step is applied without
   * another pass, since Newton's error after it is of the order of its square.
   */
  run(beta: Float64Array, stride: number, lambda: number, tolerance: number, maxIterations: number): NewtonResult {
    const { P, p, prevBeta, g, h, delta, constant } = this;
    let prevObjective = Infinity;
    let iterations = 0;
    let halvings = 0;
    let nll = 0;
    for (;;) {
      nll = accumulate(this.x, this.nRows, stride, p, this.y, this.w, this.shift, this.invScale, beta, g, h, this.ws);
      let penalty = 0;
      for (let j = 1; j < P; j++) penalty += (beta[j] as number) * (beta[j] as number);
      const objective = nll + 0.5 * lambda * penalty;

      if (objective > prevObjective + INCREASE_SLACK * (1 + Math.abs(prevObjective)) && halvings < MAX_HALVINGS) {
        // Overshoot (rare for logistic loss, possible on near-separable data): back off
        // halfway towards the last accepted point and re-evaluate.
        for (let j = 0; j < P; j++) beta[j] = 0.5 * ((beta[j] as number) + (prevBeta[j] as number));
        halvings++;
        continue;
      }
      halvings = 0;
      // No progress at machine precision: a smaller tolerance than the data allows.
      if (iterations > 0 && prevObjective - objective <= 1e-15 * (1 + Math.abs(objective))) {
        return { status: 'converged', iterations, nll };
      }
      if (iterations >= maxIterations) return { status: 'max-iterations', iterations, nll };

      for (let j = 1; j < P; j++) {
        g[j] = (g[j] as number) + lambda * (beta[j] as number);
        h[j * P + j] = (h[j * P + j] as number) + lambda;
      }
      for (let j = 0; j < p; j++) {
        if (constant[j] !== 1) continue;
        // Pin the coefficient: an identity row/column and a zero gradient give a zero step.
        const c = j + 1;
        g[c] = 0;
        for (let k = 0; k < P; k++) h[Math.min(c, k) * P + Math.max(c, k)] = 0;
        h[c * P + c] = 1;
      }
      if (!choleskySolve(h, P, g, delta)) return { status: 'singular', iterations, nll };
      prevBeta.set(beta);
      prevObjective = objective;
      let maxStep = 0;
      for (let j = 0; j < P; j++) {
        const d = delta[j] as number;
        beta[j] = (beta[j] as number) - d;
        if (Math.abs(d) > maxStep) maxStep = Math.abs(d);
      }
      iterations++;
      if (maxStep < tolerance) return { status: 'converged', iterations, nll };
    }
  }
}

/** Numerically stable logistic function. */
function sigmoid(eta: number): number {
  if (eta >= 0) return 1 / (1 + Math.exp(-eta));
  const e = Math.exp(eta);
  return e / (1 + e);
}

/** Everything that defines a churn model; coefficients are in standardised units. */
export interface ChurnModelParams {
  readonly featureNames: readonly string[];
  readonly means: ArrayLike<number>;
  readonly scales: ArrayLike<number>;
  readonly coefficients: ArrayLike<number>;
  readonly intercept: number;
  /** The L2 strength it was trained with (kept for the record, not used to predict). */
  readonly lambda: number;
}

/** JSON form of a {@link ChurnModel}, stored as `jsonb` beside the model's metrics. */
export interface ChurnModelJSON {
  readonly name: 'ChurnModel';
  readonly featureNames: string[];
  readonly means: number[];
  readonly scales: number[];
  readonly coefficients: number[];
  readonly intercept: number;
  readonly lambda: number;
}

/** One feature's push on a user's risk, as returned by {@link ChurnModel.explain}. */
export interface RiskFactor {
  readonly feature: string;
  /** Coefficient × standardised value: the feature's additive share of the log-odds. */
  readonly contribution: number;
  /** The raw feature value for this user. */
  readonly value: number;
}

/** Options for {@link ChurnModel.train}. */
export interface ChurnModelTrainOptions extends Omit<LogisticFitOptions, 'standardizer'> {
  /** One unique, non-empty name per column, in column order. */
  readonly featureNames: readonly string[];
}

/** A trained model plus the solver's report. */
export interface ChurnModelTraining {
  readonly model: ChurnModel;
  readonly iterations: number;
  readonly converged: boolean;
  readonly logLikelihood: number;
}

function finiteArray(value: unknown, length: number | null, field: string): number[] {
  if (!Array.isArray(value)) throw new RangeError(`ChurnModel.load: ${field} must be an array of numbers`);
  if (length !== null && value.length !== length) {
    throw new RangeError(`ChurnModel.load: ${field} must have ${length} entries, one per feature (got ${value.length})`);
  }
  return value.map((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`ChurnModel.load: ${field}[${i}] must be a finite number`);
    return v;
  });
}

/**
 * A churn logistic regression on standardised features: P(churn | x) = σ(β₀ + Σⱼ βⱼ·zⱼ)
 * with zⱼ = (xⱼ − meanⱼ) / scaleⱼ. Serialise with `toJSON()`, restore with
 * `ChurnModel.load(json)` (the ml-logistic-regression pattern).
 */
export class ChurnModel {
  readonly featureNames: readonly string[];
  readonly means: Float64Array;
  readonly scales: Float64Array;
  readonly coefficients: Float64Array;
  readonly intercept: number;
  readonly lambda: number;
  /** coefficientⱼ / scaleⱼ, so a prediction is intercept + Σ kⱼ·(xⱼ − meanⱼ). */
  private readonly perUnit: Float64Array;

  /** @throws RangeError when lengths disagree, names repeat, or a number is not finite. */
  constructor(params: ChurnModelParams) {
    const p = params.featureNames.length;
    const seen = new Set<string>();
    for (const name of params.featureNames) {
      if (typeof name !== 'string' || name.length === 0) throw new RangeError('ChurnModel: feature names must be non-empty strings');
      if (seen.has(name)) throw new RangeError(`ChurnModel: feature names must be unique (${JSON.stringify(name)} repeats)`);
      seen.add(name);
    }
    for (const [field, arr] of [
      ['means', params.means],
      ['scales', params.scales],
      ['coefficients', params.coefficients],
    ] as const) {
      if (arr.length !== p) throw new RangeError(`ChurnModel: ${field} must have one entry per feature (${p}), got ${arr.length}`);
    }
    if (!Number.isFinite(params.intercept)) throw new RangeError(`ChurnModel: intercept must be finite (got ${params.intercept})`);
    if (!(params.lambda >= 0) || !Number.isFinite(params.lambda)) throw new RangeError(`ChurnModel: lambda must be a finite number ≥ 0 (got ${params.lambda})`);
    this.featureNames = [...params.featureNames];
    this.means = Float64Array.from(params.means);
    this.scales = Float64Array.from(params.scales);
    this.coefficients = Float64Array.from(params.coefficients);
    this.intercept = params.intercept;
    this.lambda = params.lambda;
    // Validates means and scales (finite, scales > 0).
    new Standardizer(this.means, this.scales);
    this.perUnit = new Float64Array(p);
    for (let j = 0; j < p; j++) {
      const c = this.coefficients[j] as number;
      if (!Number.isFinite(c)) throw new RangeError(`ChurnModel: coefficients must be finite (coefficient ${j} is ${c})`);
      this.perUnit[j] = c / (this.scales[j] as number);
    }
  }

  /**
   * Standardise the columns, then fit by {@link fitLogistic} (default λ = 1 in
   * standardised units).
   *
   * @param x - row-major nRows × featureNames.length matrix of raw feature values.
   * @param labels - 1 = churned, 0 = stayed.
   */
  static train(x: Float64Array, nRows: number, labels: ArrayLike<number>, options: ChurnModelTrainOptions): ChurnModelTraining {
    const p = options.featureNames.length;
    checkShape(x, nRows, p, 'ChurnModel.train');
    const standardizer = Standardizer.fit(x, nRows, p);
    const lambda = options.lambda ?? DEFAULT_LAMBDA;
    const fit = fitLogistic(x, nRows, p, labels, { ...options, lambda, standardizer });
    const model = new ChurnModel({
      featureNames: options.featureNames,
      means: standardizer.means,
      scales: standardizer.scales,
      coefficients: fit.coefficients,
      intercept: fit.intercept,
      lambda,
    });
    return { model, iterations: fit.iterations, converged: fit.converged, logLikelihood: fit.logLikelihood };
  }

  /** Number of features the model expects per row. */
  get nFeatures(): number {
    return this.featureNames.length;
  }

  private logit(x: ArrayLike<number>, off: number, row: number): number {
    let eta = this.intercept;
    const p = this.featureNames.length;
    for (let j = 0; j < p; j++) {
      const v = x[off + j] as number;
      if (!Number.isFinite(v)) {
        throw new RangeError(`ChurnModel: feature ${this.featureNames[j]} must be finite (row ${row} has ${v})`);
      }
      eta += (this.perUnit[j] as number) * (v - (this.means[j] as number));
    }
    return eta;
  }

  /**
   * P(churn) for one row of raw feature values, in `featureNames` order.
   * @throws RangeError on a wrong length or a non-finite value.
   */
  predictProba(row: ArrayLike<number>): number {
    if (row.length !== this.nFeatures) {
      throw new RangeError(`ChurnModel.predictProba: row must have ${this.nFeatures} values (got ${row.length})`);
    }
    return sigmoid(this.logit(row, 0, 0));
  }

  /**
   * P(churn) for every row of a row-major nRows × nFeatures matrix.
   * @throws RangeError on a shape mismatch or a non-finite value.
   */
  predictMany(x: Float64Array, nRows: number): Float64Array {
    const p = this.nFeatures;
    checkShape(x, nRows, p, 'ChurnModel.predictMany');
    const out = new Float64Array(nRows);
    for (let i = 0, off = 0; i < nRows; i++, off += p) out[i] = sigmoid(this.logit(x, off, i));
    return out;
  }

  /**
   * The features that raise this user's risk most: contribution = coefficient ×
   * standardised value (its additive share of the log-odds relative to an average user),
   * positive contributions only, largest first (ties by feature name, for stable output).
   *
   * @param topN - how many to return at most (default 3).
   */
  explain(row: ArrayLike<number>, topN = 3): RiskFactor[] {
    if (!Number.isInteger(topN) || topN < 0) throw new RangeError(`ChurnModel.explain: topN must be an integer ≥ 0 (got ${topN})`);
    if (row.length !== this.nFeatures) {
      throw new RangeError(`ChurnModel.explain: row must have ${this.nFeatures} values (got ${row.length})`);
    }
    const factors: RiskFactor[] = [];
    for (let j = 0; j < this.nFeatures; j++) {
      const value = row[j] as number;
      if (!Number.isFinite(value)) throw new RangeError(`ChurnModel.explain: feature ${this.featureNames[j]} must be finite (got ${value})`);
      const contribution = (this.perUnit[j] as number) * (value - (this.means[j] as number));
      if (contribution > 0) factors.push({ feature: this.featureNames[j] as string, contribution, value });
    }
    factors.sort((a, b) => b.contribution - a.contribution || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
    return factors.slice(0, topN);
  }

  toJSON(): ChurnModelJSON {
    return {
      name: 'ChurnModel',
      featureNames: [...this.featureNames],
      means: Array.from(this.means),
      scales: Array.from(this.scales),
      coefficients: Array.from(this.coefficients),
      intercept: this.intercept,
      lambda: this.lambda,
    };
  }

  /**
   * Restore a model from {@link ChurnModel.toJSON} output (e.g. a `jsonb` column).
   * @throws RangeError when `json` is not a valid ChurnModel document; the message names the field.
   */
  static load(json: unknown): ChurnModel {
    if (typeof json !== 'object' || json === null) throw new RangeError('ChurnModel.load: expected an object');
    const doc = json as Record<string, unknown>;
    if (doc.name !== 'ChurnModel') throw new RangeError(`ChurnModel.load: invalid model: name must be "ChurnModel" (got ${JSON.stringify(doc.name)})`);
    const names = doc.featureNames;
    if (!Array.isArray(names) || !names.every((n): n is string => typeof n === 'string')) {
      throw new RangeError('ChurnModel.load: featureNames must be an array of strings');
    }
    const p = names.length;
    const intercept = doc.intercept;
    const lambda = doc.lambda;
    if (typeof intercept !== 'number') throw new RangeError('ChurnModel.load: intercept must be a number');
    if (typeof lambda !== 'number') throw new RangeError('ChurnModel.load: lambda must be a number');
    return new ChurnModel({
      featureNames: names,
      means: finiteArray(doc.means, p, 'means'),
      scales: finiteArray(doc.scales, p, 'scales'),
      coefficients: finiteArray(doc.coefficients, p, 'coefficients'),
      intercept,
      lambda,
    });
  }
}
