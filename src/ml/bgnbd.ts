/**
 * BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005, "'Counting Your Customers' the
 * Easy Way", Marketing Science 24(2)): while alive, a customer buys at a Poisson rate
 * λ ~ Gamma(r, α); after each purchase they drop out with probability p ~ Beta(a, b).
 *
 * Fitted by maximum likelihood (Nelder–Mead on log-parameters, with restarts) on each
 * customer's (x, t_x, T): repeat purchases in the calibration window, time of the last
 * one, and time since the first purchase, all in one time unit (weeks for CDNOW).
 * Equation numbers below refer to the paper.
 */

/** The four BG/NBD parameters, all positive. Plain numbers, so `JSON.stringify` works. */
export interface BgNbdParams {
  /** Gamma shape of the purchase rate. */
  readonly r: number;
  /** Gamma scale of the purchase rate, in the data's time unit. */
  readonly alpha: number;
  /** Beta shape of the dropout probability. */
  readonly a: number;
  /** Beta shape of the dropout probability. */
  readonly b: number;
}

/** One entry per customer: repeat purchases x, recency t_x and age T (same time unit). */
export interface BgNbdData {
  /** x: repeat purchases in the calibration window (integer ≥ 0). */
  readonly frequency: ArrayLike<number>;
  /** t_x: time from first to last purchase (0 when x = 0), 0 ≤ t_x ≤ T. */
  readonly recency: ArrayLike<number>;
  /** T: time from first purchase to the end of the calibration window. */
  readonly T: ArrayLike<number>;
}

/** Knobs for {@link fitBgNbd}; the defaults reproduce the published CDNOW fit. */
export interface BgNbdFitOptions {
  /** Starting point; default r = a = b = 1 and α = r·ΣT/Σx (the implied mean rate). */
  readonly initial?: BgNbdParams;
  /** Nelder–Mead iterations per run. Default 5000. */
  readonly maxIterations?: number;
  /** Restarts from the best point after the first run. Default 5. */
  readonly restarts?: number;
  /** Relative tolerance on the mean log-likelihood across the simplex. Default 1e-12. */
  readonly tolerance?: number;
}

/** Fitted parameters plus the optimiser's report. */
export interface BgNbdFit extends BgNbdParams {
  /** Total log-likelihood (eq. 6 summed over customers) at the fitted parameters. */
  readonly logLikelihood: number;
  /** Nelder–Mead iterations over all runs. */
  readonly iterations: number;
  /**
   * False when a run hit `maxIterations`, a parameter sits at the search bound, or no
   * customer repeated (Σx = 0: the likelihood then grows as r/α → 0 and a, b are not
   * identified, so the returned values are finite but arbitrary).
   */
  readonly converged: boolean;
}

// Search box on log-parameters: wide enough for any time unit in practice (e^±20 spans
// 2e-9 … 5e8), finite so that degenerate data cannot drive a parameter to 0 or ∞.
const LOG_BOUND = 20;
const SIMPLEX_STEP = 0.5;
const X_TOLERANCE = 1e-9;
const MAX_SERIES_TERMS = 2_000_000;

// Lanczos approximation, g = 7, n = 9 (the widely used coefficients from Godfrey; ~15
// significant digits for Re(x) > 0.5).
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
] as const;
const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * ln|Γ(x)| by the Lanczos approximation (reflection formula below 0.5), accurate to about
 * 1e-15 relative. Returns +Infinity at the poles x = 0, −1, −2, …
 */
export function lnGamma(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0.5) {
    // Γ(x)·Γ(1 − x) = π / sin(πx)
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  }
  const xm1 = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (xm1 + i);
  const t = xm1 + LANCZOS_G + 0.5;
  return HALF_LN_2PI + (xm1 + 0.5) * Math.log(t) - t + Math.log(sum);
}

// Below this x, ln Γ(s + x) − ln Γ(s) is summed as Σ ln(s + k): exact to rounding, where
// the difference of two large ln Γ values would cancel (s = 10⁷ loses ~8 digits).
const DIRECT_RATIO_MAX_X = 64;

/** ln[Γ(s + x) / Γ(s)] for s > 0 and an integer x ≥ 0 (ln of the rising factorial (s)ₓ). */
function lnGammaRatio(s: number, x: number): number {
  if (x <= DIRECT_RATIO_MAX_X) {
    let sum = 0;
    for (let k = 0; k < x; k++) sum += Math.log(s + k);
    return sum;
  }
  return lnGamma(s + x) - lnGamma(s);
}

/**
 * Σₙ cₙ·zⁿ with c₀ = 1 and cₙ₊₁/cₙ = (p1 + n)(p2 + n) / ((q1 + n)(q2 + n)), i.e. the
 * generalised hypergeometric 3F2(p1, p2, 1; q1, q2; z) when q2 = 2 and 2F1(p1, p2; q1; z)
 * when q2 = 1. Terms are built by their ratio (no factorials or Pochhammer symbols to
 * overflow). Early terms may grow when the numerator parameters are large, so the sum only
 * stops once the ratio is below 1 and a geometric bound on the tail is below 1e-16 of the
 * sum; the ratio tends to z, so 0 ≤ z < 1 guarantees this happens.
 */
function ratioSeries(p1: number, p2: number, q1: number, q2: number, z: number): number {
  let term = 1;
  let sum = 1;
  for (let n = 0; n < MAX_SERIES_TERMS; n++) {
    const ratio = (((p1 + n) * (p2 + n)) / ((q1 + n) * (q2 + n))) * z;
    term *= ratio;
    sum += term;
    if (term === 0) return sum; // a numerator parameter hit a non-positive integer: the series ended
    const rho = Math.max(Math.abs(ratio), z);
    if (rho < 1 && (Math.abs(term) * rho) / (1 - rho) <= 1e-16 * Math.abs(sum)) return sum;
  }
  throw new RangeError(
    `hypergeometric series did not converge in ${MAX_SERIES_TERMS} terms (z = ${z} is too close to 1: the horizon is too long relative to alpha + T)`,
  );
}

/**
 * Gauss hypergeometric function ₂F₁(a, b; c; z) by its power series, for 0 ≤ z < 1.
 *
 * @throws RangeError when z is outside [0, 1) or c is a non-positive integer (a pole).
 */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  if (!(z >= 0 && z < 1)) throw new RangeError(`hyp2f1: z must be in [0, 1) (got ${z})`);
  if (c <= 0 && Number.isInteger(c)) throw new RangeError(`hyp2f1: c must not be 0 or a negative integer (got ${c})`);
  if (![a, b, c].every(Number.isFinite)) throw new RangeError(`hyp2f1: a, b and c must be finite (got ${a}, ${b}, ${c})`);
  return ratioSeries(a, b, c, 1, z);
}

function checkParams(params: BgNbdParams, what: string): void {
  for (const key of ['r', 'alpha', 'a', 'b'] as const) {
    const v = params[key];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
      throw new RangeError(`${what}: ${key} must be a positive finite number (got ${String(v)})`);
    }
  }
}

function checkCustomer(x: number, tx: number, T: number, what: string, where = ''): void {
  if (!Number.isInteger(x) || x < 0) throw new RangeError(`${what}: frequency x must be an integer ≥ 0${where} (got ${x})`);
  if (!Number.isFinite(T) || T < 0) throw new RangeError(`${what}: age T must be a finite number ≥ 0${where} (got ${T})`);
  if (!Number.isFinite(tx) || tx < 0 || tx > T) {
    throw new RangeError(`${what}: recency t_x must be in [0, T]${where} (got t_x = ${tx}, T = ${T})`);
  }
}

/**
 * ln of the dropout odds term of eq. 6: ln[(a / (b + x − 1)) · ((α + T)/(α + t_x))^{r+x}],
 * i.e. ln(A₄/A₃). Only meaningful for x > 0.
 */
function logDeadOdds(p: BgNbdParams, x: number, tx: number, T: number): number {
  return Math.log(p.a) - Math.log(p.b + x - 1) + (p.r + x) * (Math.log(p.alpha + T) - Math.log(p.alpha + tx));
}

/** ln(1 + eˣ) without overflow. */
function log1pExp(v: number): number {
  return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
}

/** Customers grouped by identical (x, t_x, T), so the likelihood is evaluated once per group. */
interface Groups {
  readonly x: Float64Array;
  readonly tx: Float64Array;
  readonly T: Float64Array;
  readonly count: Float64Array;
  /** Distinct x values and, per group, the index of its x among them. */
  readonly xs: Float64Array;
  readonly xIndex: Uint32Array;
  readonly customers: number;
  readonly totalX: number;
  readonly totalT: number;
}

function group(data: BgNbdData, what: string): Groups {
  const n = data.frequency.length;
  if (data.recency.length !== n || data.T.length !== n) {
    throw new RangeError(
      `${what}: frequency, recency and T must have the same length (got ${n}, ${data.recency.length}, ${data.T.length})`,
    );
  }
  if (n === 0) throw new RangeError(`${what}: needs at least one customer (got 0)`);
  const index = new Map<string, number>();
  const gx: number[] = [];
  const gtx: number[] = [];
  const gT: number[] = [];
  const gc: number[] = [];
  let totalX = 0;
  let totalT = 0;
  for (let i = 0; i < n; i++) {
    const x = data.frequency[i] as number;
    const T = data.T[i] as number;
    // t_x does not enter the likelihood when x = 0; normalise it so such rows group together.
    const tx = x === 0 ? 0 : (data.recency[i] as number);
    checkCustomer(x, data.recency[i] as number, T, what, ` for customer ${i}`);
    totalX += x;
    totalT += T;
    const key = `${x}|${tx}|${T}`;
    const g = index.get(key);
    if (g === undefined) {
      index.set(key, gx.length);
      gx.push(x);
      gtx.push(tx);
      gT.push(T);
      gc.push(1);
    } else {
      gc[g] = (gc[g] as number) + 1;
    }
  }
  const xs = [...new Set(gx)].sort((p, q) => p - q);
  const xPos = new Map(xs.map((v, i) => [v, i]));
  return {
    x: Float64Array.from(gx),
    tx: Float64Array.from(gtx),
    T: Float64Array.from(gT),
    count: Float64Array.from(gc),
    xs: Float64Array.from(xs),
    xIndex: Uint32Array.from(gx, (v) => xPos.get(v) as number),
    customers: n,
    totalX,
    totalT,
  };
}

/** Σ log-likelihood over grouped customers; `perX` is scratch of length xs.length. */
function groupedLogLikelihood(p: BgNbdParams, g: Groups, perX: Float64Array): number {
  const { r, alpha, a, b } = p;
  // Terms of ln(A₁·A₂) that depend on x only (eq. 6), computed once per distinct x:
  // ln Γ(r+x) − ln Γ(r) + r ln α + ln Γ(b+x) − ln Γ(b) − [ln Γ(a+b+x) − ln Γ(a+b)].
  const rLnAlpha = r * Math.log(alpha);
  for (let k = 0; k < g.xs.length; k++) {
    const x = g.xs[k] as number;
    perX[k] = lnGammaRatio(r, x) + rLnAlpha + lnGammaRatio(b, x) - lnGammaRatio(a + b, x);
  }
  let ll = 0;
  for (let i = 0; i < g.x.length; i++) {
    const x = g.x[i] as number;
    const lnAlphaT = Math.log(alpha + (g.T[i] as number));
    // ln A₃ = −(r + x)·ln(α + T); with x > 0, ln(A₃ + A₄) = ln A₃ + ln(1 + A₄/A₃) (log-sum-exp).
    let li = (perX[g.xIndex[i] as number] as number) - (r + x) * lnAlphaT;
    if (x > 0) {
      const lnRatio = Math.log(a) - Math.log(b + x - 1) + (r + x) * (lnAlphaT - Math.log(alpha + (g.tx[i] as number)));
      li += log1pExp(lnRatio);
    }
    ll += (g.count[i] as number) * li;
  }
  return ll;
}

/**
 * BG/NBD log-likelihood of a data set at given parameters: eq. 6 of the paper, in logs,
 * summed over customers.
 *
 * @throws RangeError on invalid parameters or data (see {@link fitBgNbd}).
 */
export function bgNbdLogLikelihood(params: BgNbdParams, data: BgNbdData): number {
  checkParams(params, 'bgNbdLogLikelihood');
  const g = group(data, 'bgNbdLogLikelihood');
  return groupedLogLikelihood(params, g, new Float64Array(g.xs.length));
}

interface NelderMeadResult {
  readonly x: Float64Array;
  readonly f: number;
  readonly iterations: number;
  readonly converged: boolean;
}

/**
 * Nelder–Mead minimisation (standard coefficients: reflection 1, expansion 2, contraction
 * and shrink 1/2; Lagarias et al. 1998). Stops when the function values across the simplex
 * agree to `fTolerance` (relative) and its vertices to `X_TOLERANCE`.
 */
function nelderMead(
  f: (v: Float64Array) => number,
  start: Float64Array,
  step: number,
  fTolerance: number,
  maxIterations: number,
): NelderMeadResult {
  const n = start.length;
  const pts: Float64Array[] = [];
  const vals: number[] = [];
  const evaluate = (v: Float64Array): number => {
    const y = f(v);
    return Number.isFinite(y) ? y : Infinity; // NaN would break the ordering
  };
  for (let i = 0; i <= n; i++) {
    const v = Float64Array.from(start);
    if (i > 0) v[i - 1] = (v[i - 1] as number) + step;
    pts.push(v);
    vals.push(evaluate(v));
  }
  const order = Array.from({ length: n + 1 }, (_, i) => i);
  const centroid = new Float64Array(n);
  const xr = new Float64Array(n);
  const xe = new Float64Array(n);
  const xc = new Float64Array(n);
  const along = (out: Float64Array, from: Float64Array, towards: Float64Array, t: number): void => {
    for (let j = 0; j < n; j++) out[j] = (from[j] as number) + t * ((towards[j] as number) - (from[j] as number));
  };
  let iterations = 0;
  for (;;) {
    // Stable sort on value, then index: deterministic under ties.
    order.sort((i, j) => (vals[i] as number) - (vals[j] as number) || i - j);
    const best = order[0] as number;
    const worst = order[n] as number;
    const fBest = vals[best] as number;
    const fWorst = vals[worst] as number;
    let spread = 0;
    for (let k = 1; k <= n; k++) {
      const v = pts[order[k] as number] as Float64Array;
      for (let j = 0; j < n; j++) spread = Math.max(spread, Math.abs((v[j] as number) - ((pts[best] as Float64Array)[j] as number)));
    }
    if (fWorst - fBest <= fTolerance * (Math.abs(fBest) + fTolerance) && spread <= X_TOLERANCE) {
      return { x: Float64Array.from(pts[best] as Float64Array), f: fBest, iterations, converged: true };
    }
    if (iterations >= maxIterations) {
      return { x: Float64Array.from(pts[best] as Float64Array), f: fBest, iterations, converged: false };
    }
    iterations++;

    centroid.fill(0);
    for (let k = 0; k < n; k++) {
      const v = pts[order[k] as number] as Float64Array;
      for (let j = 0; j < n; j++) centroid[j] = (centroid[j] as number) + (v[j] as number) / n;
    }
    const xw = pts[worst] as Float64Array;
    const fSecondWorst = vals[order[n - 1] as number] as number;
    along(xr, centroid, xw, -1);
    const fr = evaluate(xr);
    if (fr < fBest) {
      along(xe, centroid, xw, -2);
      const fe = evaluate(xe);
      if (fe < fr) {
        xw.set(xe);
        vals[worst] = fe;
      } else {
        xw.set(xr);
        vals[worst] = fr;
      }
      continue;
    }
    if (fr < fSecondWorst) {
      xw.set(xr);
      vals[worst] = fr;
      continue;
    }
    // Contract: outside when the reflection beat the worst vertex, inside otherwise.
    const outside = fr < fWorst;
    along(xc, centroid, xw, outside ? -0.5 : 0.5);
    const fc = evaluate(xc);
    if (fc < (outside ? fr : fWorst)) {
      xw.set(xc);
      vals[worst] = fc;
      continue;
    }
    const xb = pts[best] as Float64Array;
    for (let k = 1; k <= n; k++) {
      const i = order[k] as number;
      const v = pts[i] as Float64Array;
      along(v, xb, v, 0.5);
      vals[i] = evaluate(v);
    }
  }
}

function clampLog(v: number): number {
  return Math.min(LOG_BOUND, Math.max(-LOG_BOUND, v));
}

function paramsFromLog(v: Float64Array): BgNbdParams {
  return {
    r: Math.exp(clampLog(v[0] as number)),
    alpha: Math.exp(clampLog(v[1] as number)),
    a: Math.exp(clampLog(v[2] as number)),
    b: Math.exp(clampLog(v[3] as number)),
  };
}

/**
 * Maximum-likelihood BG/NBD fit. Minimises the mean negative log-likelihood over
 * (ln r, ln α, ln a, ln b), which keeps the parameters positive without constraints and
 * evens out their scales, with Nelder–Mead; then restarts from the best point with a fresh
 * simplex (a collapsed simplex can stall short of the optimum) until a restart no longer
 * improves. Deterministic: no randomness.
 *
 * On the CDNOW sample this gives r = 0.243, α = 4.414, a = 0.793, b = 2.426,
 * LL = −9582.4 (the paper's values).
 *
 * @throws RangeError on unequal lengths, no customers, a non-integer or negative x,
 *   t_x outside [0, T], or a non-finite value.
 */
export function fitBgNbd(data: BgNbdData, options: BgNbdFitOptions = {}): BgNbdFit {
  const what = 'fitBgNbd';
  const g = group(data, what);
  const maxIterations = options.maxIterations ?? 5000;
  const restarts = options.restarts ?? 5;
  const tolerance = options.tolerance ?? 1e-12;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`${what}: maxIterations must be a positive integer (got ${maxIterations})`);
  }
  if (!Number.isInteger(restarts) || restarts < 0) throw new RangeError(`${what}: restarts must be an integer ≥ 0 (got ${restarts})`);
  if (!(tolerance > 0)) throw new RangeError(`${what}: tolerance must be > 0 (got ${tolerance})`);

  let initial: BgNbdParams;
  if (options.initial) {
    checkParams(options.initial, `${what}: initial`);
    initial = options.initial;
  } else {
    // α = r / (mean purchase rate) with r = 1, so the first simplex is on the data's time scale.
    const alpha = g.totalX > 0 && g.totalT > 0 ? g.totalT / g.totalX : 1;
    initial = { r: 1, alpha, a: 1, b: 1 };
  }

  const perX = new Float64Array(g.xs.length);
  const objective = (v: Float64Array): number => -groupedLogLikelihood(paramsFromLog(v), g, perX) / g.customers;
  let point: Float64Array = Float64Array.from([initial.r, initial.alpha, initial.a, initial.b], (v) => clampLog(Math.log(v)));
  let value = objective(point);
  let iterations = 0;
  let converged = false;
  for (let run = 0; run <= restarts; run++) {
    const res = nelderMead(objective, point, SIMPLEX_STEP, tolerance, maxIterations);
    iterations += res.iterations;
    const improvement = value - res.f;
    if (res.f <= value) {
      point = res.x;
      value = res.f;
    }
    // Converged means a run ended by its tolerance and a fresh restart from its best point
    // could not improve on it (or no restarts were asked for).
    if (res.converged && (restarts === 0 || (run > 0 && improvement <= tolerance * (Math.abs(value) + tolerance)))) {
      converged = true;
      break;
    }
  }
  const params = paramsFromLog(point);
  const atBound = Array.from(point).some((v) => Math.abs(v) >= LOG_BOUND);
  return {
    ...params,
    logLikelihood: groupedLogLikelihood(params, g, perX),
    iterations,
    converged: converged && !atBound && g.totalX > 0,
  };
}

/**
 * P(alive at T | x, t_x, T) (eq. 11 of the paper / Fader–Hardie note 2008):
 * 1 / (1 + δ_{x>0} · a/(b + x − 1) · ((α + T)/(α + t_x))^{r+x}). Always 1 when x = 0: the
 * model lets a customer drop out only right after a purchase.
 *
 * @throws RangeError on invalid parameters, x not an integer ≥ 0, or t_x outside [0, T].
 */
export function pAlive(params: BgNbdParams, x: number, tx: number, T: number): number {
  checkParams(params, 'pAlive');
  checkCustomer(x, tx, T, 'pAlive');
  if (x === 0) return 1;
  // 1 / (1 + e^z) computed so that a huge z gives 0 rather than NaN.
  const z = logDeadOdds(params, x, tx, T);
  return z > 0 ? Math.exp(-z) / (1 + Math.exp(-z)) : 1 / (1 + Math.exp(z));
}

/**
 * Expected purchases in the next t time units for a customer with history (x, t_x, T),
 * E[Y(t) | x, t_x, T] (eq. 10):
 *
 *   (a + b + x − 1)/(a − 1) · [1 − ((α+T)/(α+T+t))^{r+x} ₂F₁(r+x, b+x; a+b+x−1; z)] · P(alive)
 *
 * with z = t/(α+T+t). Computed in a form that stays finite and accurate everywhere:
 * - Euler's transformation ₂F₁(A,B;C;z) = (1−z)^{C−A−B} ₂F₁(C−A, C−B; C; z) turns the
 *   bracket into 1 − (1−z)^{a−1} ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose series no longer
 *   grows with x (for a heavy buyer the original terms reach (1−z)^{−x}, then cancel);
 * - writing ₂F₁(A, ε; C; z) = 1 + ε·G with ε = a − 1 removes the 0/0 at a = 1:
 *   the bracket over (a − 1) is −expm1(ε·ln(1−z))/ε − (1−z)^ε·G;
 * - (a+b+x−1)·G = (a+b−1−r)·z·₃F₂(·; z) has no pole as a + b + x − 1 → 0.
 * The series is summed until a bound on its tail is below 1e-16 of the sum.
 *
 * @param t - horizon length ≥ 0, in the data's time unit.
 * @throws RangeError on invalid input, or when z is so close to 1 (t ≳ 10⁵·(α+T)) that
 *   the series would need more than two million terms.
 */
export function expectedPurchases(params: BgNbdParams, x: number, tx: number, T: number, t: number): number {
  checkParams(params, 'expectedPurchases');
  checkCustomer(x, tx, T, 'expectedPurchases');
  if (!Number.isFinite(t) || t < 0) throw new RangeError(`expectedPurchases: horizon t must be a finite number ≥ 0 (got ${t})`);
  if (t === 0) return 0;
  const { r, alpha, a, b } = params;
  const z = t / (alpha + T + t);
  const lnOneMinusZ = -Math.log1p(t / (alpha + T)); // ln((α+T)/(α+T+t)) without cancellation
  const eps = a - 1;
  const c = a + b + x - 1;
  const A = a + b - 1 - r;
  const e1 = eps === 0 ? -lnOneMinusZ : -Math.expm1(eps * lnOneMinusZ) / eps;
  // c·G = A·z·Σₘ uₘ with uₘ₊₁/uₘ = (A+1+m)(1+ε+m) / ((c+1+m)(2+m))·z, u₀ = 1.
  const cG = A * z * ratioSeries(A + 1, 1 + eps, c + 1, 2, z);
  const bracket = c * e1 - Math.exp(eps * lnOneMinusZ) * cG;
  // P(alive) is the eq. 10 denominator 1 / (1 + δ·a/(b+x−1)·((α+T)/(α+t_x))^{r+x}).
  const alive = pAlive(params, x, tx, T);
  // Rounding can leave a tiny negative value when t is minute; an expectation is ≥ 0.
  return Math.max(0, bracket * alive);
}

/**
 * Expected purchases in (0, t] for a customer just acquired, E[X(t)] (eq. 9):
 * (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]. This is eq. 10 with
 * x = t_x = T = 0, so it shares that computation and its numerical care.
 *
 * @throws RangeError on invalid parameters or a negative or non-finite t.
 */
export function unconditionalExpected(params: BgNbdParams, t: number): number {
  if (!Number.isFinite(t) || t < 0) throw new RangeError(`unconditionalExpected: t must be a finite number ≥ 0 (got ${t})`);
  return expectedPurchases(params, 0, 0, 0, t);
}

/** JSON form of a {@link BgNbdModel}. */
export interface BgNbdModelJSON extends BgNbdParams {
  readonly name: 'BgNbd';
}

/**
 * Fitted BG/NBD parameters with the model's predictions as methods, serialisable with
 * `toJSON()` / `BgNbdModel.load(json)` like the other models in src/ml.
 */
export class BgNbdModel implements BgNbdParams {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;

  /** @throws RangeError when a parameter is not a positive finite number. */
  constructor(params: BgNbdParams) {
    checkParams(params, 'BgNbdModel');
    this.r = params.r;
    this.alpha = params.alpha;
    this.a = params.a;
    this.b = params.b;
  }

  /** Fit on data; see {@link fitBgNbd}. Returns the model and the optimiser's report. */
  static fit(data: BgNbdData, options?: BgNbdFitOptions): { model: BgNbdModel; fit: BgNbdFit } {
    const fit = fitBgNbd(data, options);
    return { model: new BgNbdModel(fit), fit };
  }

  /** See {@link pAlive}. */
  pAlive(x: number, tx: number, T: number): number {
    return pAlive(this, x, tx, T);
  }

  /** See {@link expectedPurchases}. */
  expectedPurchases(x: number, tx: number, T: number, t: number): number {
    return expectedPurchases(this, x, tx, T, t);
  }

  /** See {@link unconditionalExpected}. */
  unconditionalExpected(t: number): number {
    return unconditionalExpected(this, t);
  }

  toJSON(): BgNbdModelJSON {
    return { name: 'BgNbd', r: this.r, alpha: this.alpha, a: this.a, b: this.b };
  }

  /**
   * Restore from {@link BgNbdModel.toJSON} output.
   * @throws RangeError when the document is not a BG/NBD model or a parameter is invalid.
   */
  static load(json: unknown): BgNbdModel {
    if (typeof json !== 'object' || json === null) throw new RangeError('BgNbdModel.load: expected an object');
    const doc = json as Record<string, unknown>;
    if (doc.name !== 'BgNbd') throw new RangeError(`BgNbdModel.load: invalid model: name must be "BgNbd" (got ${JSON.stringify(doc.name)})`);
    return new BgNbdModel({ r: doc.r as number, alpha: doc.alpha as number, a: doc.a as number, b: doc.b as number });
  }
}
