/**
 * Uplift statistics for outreach: conversion rates of the treated and the holdout group,
 * their difference with a confidence interval, a two-proportion z-test, revenue per user.
 * Pure functions: no I/O, no randomness.
 *
 * Conventions (as in metrics.ts):
 * - invalid input (negative or non-integer counts, more conversions than users, a
 *   confidence outside (0, 1)) throws a `RangeError` whose message states the constraint;
 * - a statistic that is undefined for valid input (a rate over zero users) is `NaN`, not a
 *   throw, so a report over many tiers can show "n/a" with `Number.isNaN`. `NaN` becomes
 *   `null` under `JSON.stringify`, which is what `--json` output should show anyway.
 */

/** Users in a group and how many of them converted (users, not purchases: at most n). */
export interface GroupCounts {
  n: number;
  conversions: number;
}

export interface UpliftEstimate {
  /** conversions / n of the treated group; NaN when n = 0. */
  treatedRate: number;
  /** conversions / n of the holdout group; NaN when n = 0. */
  holdoutRate: number;
  /** treatedRate − holdoutRate (absolute, in rate units); NaN when either n = 0. */
  uplift: number;
  /** Newcombe hybrid score interval for `uplift`, within [−1, 1]; [NaN, NaN] when either n = 0. */
  ci: readonly [number, number];
  /** The confidence level of `ci`, e.g. 0.95. */
  confidence: number;
  /** Pooled two-proportion z statistic (treated − holdout); NaN when either n = 0. */
  z: number;
  /** Two-sided p-value of `z`; NaN when either n = 0. */
  pValue: number;
}

const SQRT_2PI = Math.sqrt(2 * Math.PI);

function checkCounts(conversions: number, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`${what}: n must be a non-negative integer (got ${String(n)})`);
  }
  if (!Number.isInteger(conversions) || conversions < 0 || conversions > n) {
    throw new RangeError(
      `${what}: conversions must be an integer between 0 and n = ${n} (got ${String(conversions)}); count converted users, not purchases`,
    );
  }
}

function checkConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be strictly between 0 and 1 (got ${String(confidence)})`);
  }
}

/** conversions / n; NaN when n = 0. */
export function conversionRate(conversions: number, n: number): number {
  checkCounts(conversions, n, 'conversionRate');
  return n === 0 ? Number.NaN : conversions / n;
}

/**
 * Revenue per user of a group, in minor units (may be fractional and, with refunds,
 * negative); NaN when n = 0.
 */
export function revenuePerUser(revenueMinor: number, n: number): number {
  if (!Number.isFinite(revenueMinor)) {
    throw new RangeError(`revenuePerUser: revenue must be a finite number of minor units (got ${String(revenueMinor)})`);
  }
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`revenuePerUser: n must be a non-negative integer (got ${String(n)})`);
  }
  return n === 0 ? Number.NaN : revenueMinor / n;
}

/**
 * Standard normal CDF Φ(x), by Hart's (1968) double-precision rational approximation as
 * given by West, "Better approximations to cumulative normal functions" (Wilmott, 2005).
 * Computes the tail directly (no 1 − Φ cancellation): absolute error about 1e-15, and
 * relative error in the tail under 1e-8 out to |x| = 10 (4.6e-11 at x = −5), far more
 * than a p-value needs.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const a = Math.abs(x);
  let tail: number;
  if (a > 37) {
    tail = 0;
  } else {
    const e = Math.exp((-a * a) / 2);
    if (a < 7.07106781186547) {
      let num = 3.52624965998911e-2 * a + 0.700383064443688;
      num = num * a + 6.37396220353165;
      num = num * a + 33.912866078383;
      num = num * a + 112.079291497871;
      num = num * a + 221.213596169931;
      num = num * a + 220.206867912376;
      let den = 8.83883476483184e-2 * a + 1.75566716318264;
      den = den * a + 16.064177579207;
      den = den * a + 86.7807322029461;
      den = den * a + 296.564248779674;
      den = den * a + 637.333633378831;
      den = den * a + 793.826512519948;
      den = den * a + 440.413735824752;
      tail = (e * num) / den;
    } else {
      // Continued fraction for the Mills ratio, accurate this far out.
      let b = a + 0.65;
      b = a + 4 / b;
      b = a + 3 / b;
      b = a + 2 / b;
      b = a + 1 / b;
      tail = e / b / SQRT_2PI;
    }
  }
  return x > 0 ? 1 - tail : tail;
}

// Acklam's rational approximations (relative error < 1.15e-9 before refinement).
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

/**
 * The standard normal quantile Φ⁻¹(p) for p in (0, 1): Peter Acklam's algorithm followed
 * by one Halley step on {@link normalCdf}, which brings it to near machine precision
 * (Acklam's note on refinement). ±Infinity at 0 and 1.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be between 0 and 1 (got ${String(p)})`);
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  const [a0, a1, a2, a3, a4, a5] = A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = D as [number, number, number, number];
  let x: number;
  if (p < P_LOW || p > 1 - P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p));
    const v = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
    x = p < 0.5 ? v : -v;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
  }
  // One Halley step on Φ(x) − p. Above 0.5 the same error is computed as (1 − p) − Φ(−x):
  // normalCdf returns the tail exactly, while Φ(x) near 1 would have lost its low digits.
  const e = p < 0.5 ? normalCdf(x) - p : 1 - p - normalCdf(-x);
  const u = e * SQRT_2PI * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** The two-sided critical value z for a confidence level: 1.959964 for 0.95. */
export function zForConfidence(confidence: number): number {
  checkConfidence(confidence);
  return normalQuantile(1 - (1 - confidence) / 2);
}

/**
 * Wilson score interval for a binomial proportion (Wilson 1927; method 3 of Newcombe
 * 1998, "Two-sided confidence intervals for the single proportion"): never leaves [0, 1]
 * and keeps near-nominal coverage for small n and rates near 0 or 1, where the Wald
 * interval collapses to a point. [NaN, NaN] when n = 0.
 */
export function wilsonInterval(conversions: number, n: number, confidence = 0.95): [number, number] {
  checkCounts(conversions, n, 'wilsonInterval');
  const z = zForConfidence(confidence);
  return wilson(conversions, n, z);
}

function wilson(x: number, n: number, z: number): [number, number] {
  if (n === 0) return [Number.NaN, Number.NaN];
  const z2 = z * z;
  const denom = n + z2;
  const centre = (x + z2 / 2) / denom;
  const half = (z * Math.sqrt((x * (n - x)) / n + z2 / 4)) / denom;
  // At x = 0 or x = n the bound is exactly 0 or 1; the arithmetic leaves ~1e-17 of noise.
  const lo = x === 0 ? 0 : Math.max(0, centre - half);
  const hi = x === n ? 1 : Math.min(1, centre + half);
  return [lo, hi];
}

/**
 * Absolute uplift (treated rate − holdout rate) with a confidence interval and a test.
 *
 * The interval is Newcombe's hybrid score interval, method 10 of Newcombe (1998),
 * "Interval estimation for the difference between independent proportions: comparison of
 * eleven methods", Stat Med 17:873–890. With Wilson intervals (l₁, u₁) and (l₂, u₂) for
 * p₁ and p₂, and d = p₁ − p₂:
 *   lower = d − √((p₁ − l₁)² + (u₂ − p₂)²),  upper = d + √((u₁ − p₁)² + (p₂ − l₂)²).
 * Chosen over the Wald interval because holdouts are small (10% of a tier) and
 * conversion rates are often near 0, where Wald under-covers and can even give a zero
 * width interval at 0/n; Newcombe's stays inside [−1, 1] and near nominal coverage.
 *
 * The z-test is the pooled two-proportion test (equal to Pearson's χ² without continuity
 * correction, z² = χ²), two-sided. When both groups converted all or none of their users
 * the pooled variance is 0: there is no evidence of a difference, so z = 0 and p = 1.
 *
 * Either group with n = 0 gives NaN rates/uplift/z/p and a [NaN, NaN] interval (see the
 * module conventions) rather than a throw: a new tier may have no holdout yet.
 */
export function upliftWithCI(treated: GroupCounts, holdout: GroupCounts, confidence = 0.95): UpliftEstimate {
  checkCounts(treated.conversions, treated.n, 'upliftWithCI (treated)');
  checkCounts(holdout.conversions, holdout.n, 'upliftWithCI (holdout)');
  const zc = zForConfidence(confidence);
  const treatedRate = treated.n === 0 ? Number.NaN : treated.conversions / treated.n;
  const holdoutRate = holdout.n === 0 ? Number.NaN : holdout.conversions / holdout.n;
  if (treated.n === 0 || holdout.n === 0) {
    return {
      treatedRate,
      holdoutRate,
      uplift: Number.NaN,
      ci: [Number.NaN, Number.NaN],
      confidence,
      z: Number.NaN,
      pValue: Number.NaN,
    };
  }
  const p1 = treatedRate;
  const p2 = holdoutRate;
  const d = p1 - p2;
  const [l1, u1] = wilson(treated.conversions, treated.n, zc);
  const [l2, u2] = wilson(holdout.conversions, holdout.n, zc);
  const lower = d - Math.hypot(p1 - l1, u2 - p2);
  const upper = d + Math.hypot(u1 - p1, p2 - l2);

  const pooled = (treated.conversions + holdout.conversions) / (treated.n + holdout.n);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / treated.n + 1 / holdout.n));
  const z = se === 0 ? 0 : d / se;
  const pValue = se === 0 ? 1 : Math.min(1, 2 * normalCdf(-Math.abs(z)));

  return {
    treatedRate,
    holdoutRate,
    uplift: d,
    ci: [Math.max(-1, lower), Math.min(1, upper)],
    confidence,
    z,
    pValue,
  };
}

/**
 * Sufficient statistics of a ratio mean over clusters (users): with, per user u, y_u the sum
 * of the outcome over the user's rows and n_u the number of rows, the sums over the G users
 * of n_u, n_u², y_u, y_u² and y_u·n_u. Sums, so a database can return one row per group
 * instead of one per user; {@link clusterSums} builds them from per-user values.
 */
export interface ClusterSums {
  /** G, the number of users (clusters) in the group. */
  clusters: number;
  /** Σ n_u: rows (a user in one cycle is one row). */
  n: number;
  /** Σ n_u². */
  nn: number;
  /** Σ y_u. */
  y: number;
  /** Σ y_u². */
  yy: number;
  /** Σ y_u·n_u. */
  yn: number;
}

/** A ratio mean Σy / Σn and its cluster-robust variance; NaN where undefined. */
export interface RatioMean {
  mean: number;
  variance: number;
}

/** The difference of two ratio means (treated − holdout) with a cluster-robust normal interval. */
export interface ClusteredDifference {
  treatedMean: number;
  holdoutMean: number;
  /** treatedMean − holdoutMean; NaN when either group has no rows. */
  difference: number;
  /** Standard error of `difference`; NaN when either group has fewer than 2 users. */
  se: number;
  /** difference ± z·se; [NaN, NaN] when `se` is NaN. */
  ci: readonly [number, number];
  confidence: number;
}

/** Sums per-user values (y_u: the user's outcome summed over their rows, n_u ≥ 1: their rows) into {@link ClusterSums}. */
export function clusterSums(units: readonly { y: number; n: number }[]): ClusterSums {
  const s: ClusterSums = { clusters: 0, n: 0, nn: 0, y: 0, yy: 0, yn: 0 };
  units.forEach((u, i) => {
    if (!Number.isInteger(u.n) || u.n < 1) throw new RangeError(`clusterSums: units[${i}].n must be a positive integer: a user in the group has at least one row (got ${String(u.n)})`);
    if (!Number.isFinite(u.y)) throw new RangeError(`clusterSums: units[${i}].y must be a finite number (got ${String(u.y)})`);
    s.clusters += 1;
    s.n += u.n;
    s.nn += u.n * u.n;
    s.y += u.y;
    s.yy += u.y * u.y;
    s.yn += u.y * u.n;
  });
  return s;
}

function checkClusterSums(s: ClusterSums, what: string): void {
  if (!Number.isInteger(s.clusters) || s.clusters < 0) throw new RangeError(`${what}: clusters must be a non-negative integer (got ${String(s.clusters)})`);
  if (!(Number.isFinite(s.n) && s.n >= s.clusters) || (s.clusters === 0 && s.n !== 0)) {
    throw new RangeError(`${what}: n must be at least the number of clusters (${s.clusters}), each user having a row (got ${String(s.n)})`);
  }
  for (const k of ['nn', 'y', 'yy', 'yn'] as const) {
    if (!Number.isFinite(s[k])) throw new RangeError(`${what}: ${k} must be a finite number (got ${String(s[k])})`);
  }
}

/**
 * The ratio mean m = Σy / Σn over rows and its cluster-robust (by user) variance
 *   var(m) = G/(G−1) · Σ_u (y_u − m·n_u)² / (Σn)²,
 * the linearised (delta-method) sandwich estimator with the usual small-sample factor
 * G/(G−1) (Cameron & Miller 2015, "A Practitioner's Guide to Cluster-Robust Inference",
 * §II.C). Rows of one user are not independent (one row per cycle), so the users, not the
 * rows, are the independent units. Σ(y_u − m·n_u)² is expanded as Σy² − 2m·Σyn + m²·Σn²;
 * rounding can leave it a hair below 0, which is read as 0. Mean NaN with no rows; variance
 * NaN with fewer than 2 users.
 */
export function clusteredRatioMean(s: ClusterSums): RatioMean {
  checkClusterSums(s, 'clusteredRatioMean');
  if (s.n === 0) return { mean: Number.NaN, variance: Number.NaN };
  const m = s.y / s.n;
  if (s.clusters < 2) return { mean: m, variance: Number.NaN };
  const ss = Math.max(0, s.yy - 2 * m * s.yn + m * m * s.nn);
  return { mean: m, variance: ((s.clusters / (s.clusters - 1)) * ss) / (s.n * s.n) };
}

/**
 * Treated mean − holdout mean of a per-row outcome (converted 0/1, revenue in minor units…)
 * with a cluster-robust normal interval: the two arms hold disjoint users (the holdout is
 * drawn by user), so the variance of the difference is the sum of the arms' variances from
 * {@link clusteredRatioMean}. With one row per user this is the Wald interval up to the
 * factor G/(G−1) in each arm's variance.
 */
export function clusteredDifference(treated: ClusterSums, holdout: ClusterSums, confidence = 0.95): ClusteredDifference {
  const z = zForConfidence(confidence);
  const t = clusteredRatioMean(treated);
  const h = clusteredRatioMean(holdout);
  const difference = t.mean - h.mean;
  const se = Math.sqrt(t.variance + h.variance);
  const ci: readonly [number, number] = Number.isNaN(se) || Number.isNaN(difference) ? [Number.NaN, Number.NaN] : [difference - z * se, difference + z * se];
  return { treatedMean: t.mean, holdoutMean: h.mean, difference, se: Number.isNaN(difference) ? Number.NaN : se, ci, confidence };
}
