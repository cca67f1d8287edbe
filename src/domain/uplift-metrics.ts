/**
 * Ranking metrics for uplift models: the uplift and Qini curves, their perfect (oracle)
 * curves, the normalised areas under them, and uplift at k. Each function follows the
 * definition of scikit-uplift (`sklift/metrics/metrics.py`, the releases with
 * `perfect_qini_curve(..., negative_effect)` and `uplift_at_k(..., strategy)`): the same
 * curve points, the same tie handling, the same normalisation, so numbers can be compared
 * with papers and notebooks that use it. Pure functions: no I/O, no randomness.
 *
 * Inputs, per row: `y` the outcome (1 = converted in the window), `uplift` the model's
 * score (higher = target first), `treatment` (1 = got the offer, 0 = holdout).
 *
 * Conventions (as in metrics.ts and uplift.ts):
 * - invalid input (unequal lengths, a label or treatment not 0/1, a non-finite score, k
 *   outside (0, 1]) throws a `RangeError` whose message states the constraint;
 * - a statistic that is undefined for valid input is `NaN`. sklift raises instead when
 *   `y` or `treatment` lacks one of its two values (its `check_is_binary`); here the
 *   normalised scores return `NaN` in that case, and the curves are still computed.
 */

/**
 * Points of a curve, as two parallel arrays (sklift returns the same pair): `x[i]` is the
 * number of rows targeted (the top x[i] by score), `value[i]` the curve's value there.
 * Starts at (0, 0); one point per distinct score after that.
 */
export interface UpliftCurve {
  readonly x: Float64Array;
  readonly value: Float64Array;
}

function validate(y: ArrayLike<number>, uplift: ArrayLike<number> | null, treatment: ArrayLike<number>, what: string): void {
  if (uplift === null) {
    if (y.length !== treatment.length) {
      throw new RangeError(`${what}: y and treatment must have the same length (got ${y.length} and ${treatment.length})`);
    }
  } else if (y.length !== uplift.length || y.length !== treatment.length) {
    throw new RangeError(
      `${what}: y, uplift and treatment must have the same length (got ${y.length}, ${uplift.length} and ${treatment.length})`,
    );
  }
  for (let i = 0; i < y.length; i++) {
    const yi = y[i];
    if (yi !== 0 && yi !== 1) throw new RangeError(`${what}: outcomes y must be 0 or 1 (y[${i}] is ${String(yi)})`);
    const ti = treatment[i];
    if (ti !== 0 && ti !== 1) {
      throw new RangeError(`${what}: treatment must be 0 (holdout) or 1 (treated) (treatment[${i}] is ${String(ti)})`);
    }
    if (uplift !== null) {
      const s = uplift[i] as number;
      if (!Number.isFinite(s)) throw new RangeError(`${what}: uplift scores must be finite numbers (uplift[${i}] is ${String(s)})`);
    }
  }
}

/**
 * The rows grouped by distinct score, highest score first, with each group's counts.
 * Curves only need these counts (a run of equal scores is one threshold, so the order
 * inside a run never matters), which lets a native numeric sort of the scores replace an
 * index sort with a comparator: about 10× faster on a million rows.
 */
interface ScoreGroups {
  /** Distinct scores, descending (−0 and 0 are one score). */
  readonly values: Float64Array;
  /** Per group: treated rows, treated converters, control rows, control converters. */
  readonly nT: Float64Array;
  readonly yT: Float64Array;
  readonly nC: Float64Array;
  readonly yC: Float64Array;
}

function groupByScore(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): ScoreGroups {
  const n = y.length;
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = (uplift[i] as number) + 0; // −0 + 0 is +0
  sorted.sort();
  let m = 0;
  for (let i = 0; i < n; i++) if (m === 0 || sorted[i] !== sorted[m - 1]) sorted[m++] = sorted[i] as number;
  const values = new Float64Array(m);
  for (let k = 0; k < m; k++) values[k] = sorted[m - 1 - k] as number;
  const g: ScoreGroups = { values, nT: new Float64Array(m), yT: new Float64Array(m), nC: new Float64Array(m), yC: new Float64Array(m) };
  for (let i = 0; i < n; i++) {
    const k = groupOf(values, uplift[i] as number);
    if (treatment[i] === 1) {
      g.nT[k] = (g.nT[k] as number) + 1;
      g.yT[k] = (g.yT[k] as number) + (y[i] as number);
    } else {
      g.nC[k] = (g.nC[k] as number) + 1;
      g.yC[k] = (g.yC[k] as number) + (y[i] as number);
    }
  }
  return g;
}

/** Index of `v` in `values` (descending, contains v). */
function groupOf(values: Float64Array, v: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) > v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Cumulative counts at the end of each run of equal scores (sklift's threshold indices). */
interface Thresholds {
  /** Rows targeted: N = N_T + N_C. */
  readonly n: Float64Array;
  /** Treated rows among them: N_T. */
  readonly nT: Float64Array;
  /** Treated converters: Y_T. */
  readonly yT: Float64Array;
  /** Control converters: Y_C. */
  readonly yC: Float64Array;
}

function thresholds(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): Thresholds {
  const g = groupByScore(y, uplift, treatment);
  const m = g.values.length;
  const out: Thresholds = { n: new Float64Array(m), nT: new Float64Array(m), yT: new Float64Array(m), yC: new Float64Array(m) };
  // Integer counts: the running sums are exact, like sklift's stable_cumsum.
  let n = 0;
  let nT = 0;
  let yT = 0;
  let yC = 0;
  for (let k = 0; k < m; k++) {
    n += (g.nT[k] as number) + (g.nC[k] as number);
    nT += g.nT[k] as number;
    yT += g.yT[k] as number;
    yC += g.yC[k] as number;
    out.n[k] = n;
    out.nT[k] = nT;
    out.yT[k] = yT;
    out.yC[k] = yC;
  }
  return out;
}

/** Prepend the (0, 0) point, as sklift does whenever the first threshold is not at x = 0 (always, for n > 0). */
function withOrigin(x: Float64Array, value: Float64Array): UpliftCurve {
  const ox = new Float64Array(x.length + 1);
  const ov = new Float64Array(value.length + 1);
  ox.set(x, 1);
  ov.set(value, 1);
  return { x: ox, value: ov };
}

/** a / b, or 0 when b = 0 (sklift's `np.divide(..., out=zeros, where=b != 0)`). */
function divOrZero(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * The uplift curve (sklift `uplift_curve`): sort rows by score, highest first; at the
 * last row of each run of equal scores, with N rows targeted of which N_T treated and
 * N_C control, Y_T and Y_C converters among them,
 *   value = (Y_T / N_T − Y_C / N_C) · N,
 * a ratio taken as 0 when its group is empty. The curve starts at (0, 0). Its last value
 * is the whole sample's uplift times n, whatever the ranking.
 *
 * @throws RangeError on unequal lengths, y or treatment not 0/1, or a non-finite score.
 */
export function upliftCurve(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): UpliftCurve {
  validate(y, uplift, treatment, 'upliftCurve');
  return upliftCurveOf(y, uplift, treatment);
}

function upliftCurveOf(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): UpliftCurve {
  const t = thresholds(y, uplift, treatment);
  const value = new Float64Array(t.n.length);
  for (let k = 0; k < value.length; k++) {
    const n = t.n[k] as number;
    const nT = t.nT[k] as number;
    value[k] = (divOrZero(t.yT[k] as number, nT) - divOrZero(t.yC[k] as number, n - nT)) * n;
  }
  return withOrigin(t.n, value);
}

/**
 * The Qini curve (sklift `qini_curve`; Radcliffe 2007): with the counts of
 * {@link upliftCurve} at each distinct score,
 *   value = Y_T − Y_C · N_T / N_C,
 * the incremental converters among the targeted, with N_T / N_C taken as 0 when no
 * control row is targeted yet. Starts at (0, 0).
 *
 * @throws RangeError on unequal lengths, y or treatment not 0/1, or a non-finite score.
 */
export function qiniCurve(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): UpliftCurve {
  validate(y, uplift, treatment, 'qiniCurve');
  return qiniCurveOf(y, uplift, treatment);
}

function qiniCurveOf(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): UpliftCurve {
  const t = thresholds(y, uplift, treatment);
  const value = new Float64Array(t.n.length);
  for (let k = 0; k < value.length; k++) {
    const nT = t.nT[k] as number;
    value[k] = (t.yT[k] as number) - (t.yC[k] as number) * divOrZero(nT, (t.n[k] as number) - nT);
  }
  return withOrigin(t.n, value);
}

/**
 * The best uplift curve the data allows (sklift `perfect_uplift_curve`): the uplift curve
 * of the oracle score 2·[y = t] + s, where s = y when control converters outnumber
 * treated non-converters and s = t otherwise. So treated converters and control
 * non-converters come first, control converters (negative effect) last.
 *
 * @throws RangeError on unequal lengths or y or treatment not 0/1.
 */
export function perfectUpliftCurve(y: ArrayLike<number>, treatment: ArrayLike<number>): UpliftCurve {
  validate(y, null, treatment, 'perfectUpliftCurve');
  return perfectUpliftCurveOf(y, treatment);
}

function perfectUpliftCurveOf(y: ArrayLike<number>, treatment: ArrayLike<number>): UpliftCurve {
  const n = y.length;
  let controlConverters = 0;
  let treatedNonConverters = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === 1 && treatment[i] === 0) controlConverters++;
    if (y[i] === 0 && treatment[i] === 1) treatedNonConverters++;
  }
  const byY = controlConverters > treatedNonConverters;
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    score[i] = 2 * (y[i] === treatment[i] ? 1 : 0) + ((byY ? y[i] : treatment[i]) as number);
  }
  return upliftCurveOf(y, score, treatment);
}

/**
 * The best Qini curve the data allows (sklift `perfect_qini_curve`).
 *
 * - `negativeEffect = true` (default): the Qini curve of the oracle score y·t − y·(1 − t),
 *   i.e. treated converters first, control converters (people the offer would lose) last,
 *   so the curve rises above its end point and comes back down.
 * - `negativeEffect = false`: the piecewise line (0, 0) → (r, r) → (n, r) with
 *   r = Y_T − N_T · Y_C / N_C over the whole sample: every incremental conversion gained
 *   with the first r rows, and no negative effects. r is `NaN` with no control rows.
 *
 * @throws RangeError on unequal lengths or y or treatment not 0/1.
 */
export function perfectQiniCurve(y: ArrayLike<number>, treatment: ArrayLike<number>, negativeEffect = true): UpliftCurve {
  validate(y, null, treatment, 'perfectQiniCurve');
  return perfectQiniCurveOf(y, treatment, negativeEffect);
}

function perfectQiniCurveOf(y: ArrayLike<number>, treatment: ArrayLike<number>, negativeEffect: boolean): UpliftCurve {
  const n = y.length;
  if (negativeEffect) {
    const score = new Float64Array(n);
    for (let i = 0; i < n; i++) score[i] = (y[i] as number) * (2 * (treatment[i] as number) - 1);
    return qiniCurveOf(y, score, treatment);
  }
  let nT = 0;
  let yT = 0;
  let yC = 0;
  for (let i = 0; i < n; i++) {
    if (treatment[i] === 1) {
      nT++;
      yT += y[i] as number;
    } else {
      yC += y[i] as number;
    }
  }
  // Same operation order as sklift: Y_T − N_T · Y_C / N_C (0/0 is NaN there too).
  const r = yT - (nT * yC) / (n - nT);
  return { x: Float64Array.of(0, r, n), value: Float64Array.of(0, r, r) };
}

/**
 * Trapezoidal area under a curve, as scikit-learn's `auc`: x must be monotone (a
 * decreasing x gives the area with its sign flipped). sklearn raises on a non-monotone x;
 * that only happens here for the no-negative-effect perfect Qini curve of a sample whose
 * overall uplift is negative (r < 0), where the normalisation has no meaning: NaN.
 */
function trapezoidArea(x: Float64Array, value: Float64Array): number {
  let anyDown = false;
  let anyUp = false;
  for (let i = 1; i < x.length; i++) {
    const dx = (x[i] as number) - (x[i - 1] as number);
    if (dx < 0) anyDown = true;
    else if (dx > 0) anyUp = true;
  }
  if (anyDown && anyUp) return Number.NaN;
  let area = 0;
  for (let i = 1; i < x.length; i++) {
    area += ((x[i] as number) - (x[i - 1] as number)) * ((value[i] as number) + (value[i - 1] as number)) / 2;
  }
  return anyDown ? -area : area;
}

/** True when y has both outcomes and treatment both arms: sklift's preconditions for a score. */
function hasBothClasses(y: ArrayLike<number>, treatment: ArrayLike<number>): boolean {
  let yOnes = 0;
  let tOnes = 0;
  for (let i = 0; i < y.length; i++) {
    yOnes += y[i] as number;
    tOnes += treatment[i] as number;
  }
  return yOnes > 0 && yOnes < y.length && tOnes > 0 && tOnes < y.length;
}

/**
 * (area(actual) − area(baseline)) / (area(perfect) − area(baseline)), the baseline being
 * the straight line from (0, 0) to the perfect curve's last point (which every ranking
 * shares). NaN when the denominator is 0 or not finite (numpy gives NaN or ±Infinity).
 */
function normalisedArea(actual: UpliftCurve, perfect: UpliftCurve): number {
  const last = perfect.x.length - 1;
  const baseline = trapezoidArea(Float64Array.of(0, perfect.x[last] as number), Float64Array.of(0, perfect.value[last] as number));
  const denominator = trapezoidArea(perfect.x, perfect.value) - baseline;
  if (denominator === 0 || !Number.isFinite(denominator)) return Number.NaN;
  return (trapezoidArea(actual.x, actual.value) - baseline) / denominator;
}

/**
 * Normalised area under the uplift curve (AUUC), sklift `uplift_auc_score`:
 *   (A(model) − A(random)) / (A(perfect) − A(random)),
 * where A is the trapezoidal area under the {@link upliftCurve} (x = rows targeted),
 * A(perfect) that of {@link perfectUpliftCurve}, and A(random) the area under the
 * straight line from (0, 0) to the curve's end point (n, n · overall uplift), which is
 * what targeting in random order gives on average. 1 = the oracle's ranking, 0 = no better
 * than random, negative = worse than random.
 *
 * Returns `NaN` when y lacks an outcome or treatment lacks an arm (sklift raises there),
 * or when the perfect curve has no area above the baseline.
 *
 * @throws RangeError on unequal lengths, y or treatment not 0/1, or a non-finite score.
 */
export function upliftAucScore(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>): number {
  validate(y, uplift, treatment, 'upliftAucScore');
  if (!hasBothClasses(y, treatment)) return Number.NaN;
  return normalisedArea(upliftCurveOf(y, uplift, treatment), perfectUpliftCurveOf(y, treatment));
}

/**
 * The Qini coefficient, normalised: sklift `qini_auc_score`,
 *   (A(model) − A(random)) / (A(perfect) − A(random)),
 * with A the trapezoidal area under the {@link qiniCurve} (x = rows targeted, value =
 * incremental converters Y_T − Y_C·N_T/N_C), A(perfect) that of {@link perfectQiniCurve}
 * with the same `negativeEffect`, and A(random) the area under the straight line from
 * (0, 0) to the curve's end point (n, Y_T − Y_C·N_T/N_C over everyone). 1 = the oracle's
 * ranking, 0 = random, negative = worse than random. With `negativeEffect = true` (the
 * default) the oracle also puts the people the offer loses last, so its area is larger
 * and coefficients are smaller than with `false`; with `false` a model can exceed 1.
 *
 * The oracle orders individual outcomes (every treated converter first), which no score
 * of the features can match when outcomes are noisy, so good models score well below 1
 * (on a synthetic offer worth +30 points to half the users, ranking by the true uplift
 * scores about 0.12). Compare learners and baselines on the same rows, not against 1.
 *
 * Returns `NaN` when y lacks an outcome or treatment lacks an arm (sklift raises there),
 * or when the perfect curve has no area above the baseline (or, with `negativeEffect =
 * false` and a negative overall uplift, is not a curve sklearn's `auc` accepts).
 *
 * @throws RangeError on unequal lengths, y or treatment not 0/1, or a non-finite score.
 */
export function qiniAucScore(
  y: ArrayLike<number>,
  uplift: ArrayLike<number>,
  treatment: ArrayLike<number>,
  negativeEffect = true,
): number {
  validate(y, uplift, treatment, 'qiniAucScore');
  if (!hasBothClasses(y, treatment)) return Number.NaN;
  return normalisedArea(qiniCurveOf(y, uplift, treatment), perfectQiniCurveOf(y, treatment, negativeEffect));
}

/**
 * Uplift at k, sklift `uplift_at_k(..., strategy='overall', k)`: take the top ⌊k·n⌋ rows
 * by score (both arms together; ties cut the way sklift cuts them, later row first) and
 * return the conversion rate of the treated rows among them minus that of the control
 * rows among them.
 *
 * `NaN` when ⌊k·n⌋ = 0 or the top rows hold no treated or no control row. sklift only
 * accepts a fraction k < 1; k = 1 is accepted here and gives the whole sample's uplift.
 *
 * @param k - the fraction targeted, in (0, 1].
 * @throws RangeError on unequal lengths, y or treatment not 0/1, a non-finite score, or k
 *   outside (0, 1].
 */
export function upliftAtK(y: ArrayLike<number>, uplift: ArrayLike<number>, treatment: ArrayLike<number>, k: number): number {
  validate(y, uplift, treatment, 'upliftAtK');
  if (!(k > 0 && k <= 1)) throw new RangeError(`upliftAtK: k must be a fraction in (0, 1] (got ${String(k)})`);
  const n = y.length;
  // Python's int(n_samples * k): the same IEEE product, truncated.
  const top = Math.floor(n * k);
  const g = groupByScore(y, uplift, treatment);
  let nT = 0;
  let yT = 0;
  let nC = 0;
  let yC = 0;
  let taken = 0;
  let run = 0;
  // Whole runs of equal scores while they fit.
  for (; run < g.values.length; run++) {
    const size = (g.nT[run] as number) + (g.nC[run] as number);
    if (taken + size > top) break;
    taken += size;
    nT += g.nT[run] as number;
    yT += g.yT[run] as number;
    nC += g.nC[run] as number;
    yC += g.yC[run] as number;
  }
  // The run the cut goes through: sklift's order (a stable ascending sort, reversed) takes
  // its later rows first.
  if (taken < top) {
    const v = g.values[run] as number;
    for (let i = n - 1; i >= 0 && taken < top; i--) {
      if (uplift[i] !== v) continue;
      taken++;
      if (treatment[i] === 1) {
        nT++;
        yT += y[i] as number;
      } else {
        nC++;
        yC += y[i] as number;
      }
    }
  }
  if (nT === 0 || nC === 0) return Number.NaN;
  return yT / nT - yC / nC;
}
