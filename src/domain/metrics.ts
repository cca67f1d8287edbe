/**
 * Evaluation metrics for the churn model (ranking and calibration of probabilities) and
 * for recommendations (top-k lists). Pure functions: no I/O, no randomness.
 *
 * Conventions shared by every function here:
 * - invalid input (unequal lengths, labels other than 0/1, non-finite scores, k not a
 *   positive integer) throws a `RangeError` whose message states the constraint;
 * - a metric that is mathematically undefined for valid input (AUC with a single class,
 *   recall with nothing relevant) returns `NaN` rather than throwing, so a caller that
 *   averages over many users or model runs can skip it with `Number.isNaN`.
 */

/** A 0/1 label per example; any numeric array-like works (number[], Uint8Array, …). */
export type Labels = ArrayLike<number>;

function validateScored(scores: ArrayLike<number>, labels: Labels, what: string): void {
  if (scores.length !== labels.length) {
    throw new RangeError(
      `${what}: scores and labels must have the same length (got ${scores.length} scores and ${labels.length} labels)`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) {
      throw new RangeError(`${what}: labels must be 0 or 1 (label ${i} is ${String(y)})`);
    }
    const s = scores[i] as number;
    if (!Number.isFinite(s)) {
      throw new RangeError(`${what}: scores must be finite numbers (score ${i} is ${String(s)})`);
    }
  }
}

/**
 * Indices of `scores` sorted by score, ascending or descending. Returned as a typed array
 * so that 1M-row holdouts do not allocate a boxed array of objects.
 */
function argsort(scores: ArrayLike<number>, descending: boolean): Uint32Array {
  const idx = new Uint32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const sign = descending ? -1 : 1;
  // Ties broken by index only to make the order deterministic; the metrics below treat a
  // run of equal scores as one threshold, so the tie order never changes a result.
  idx.sort((i, j) => sign * ((scores[i] as number) - (scores[j] as number)) || i - j);
  return idx;
}

/**
 * Area under the ROC curve, computed from ranks (the Mann–Whitney U statistic divided by
 * n₊·n₋): the probability that a random positive scores above a random negative, with a
 * tie counted as one half (tied scores get their average rank).
 *
 * O(n log n). Returns `NaN` when the labels hold only one class (or are empty): the AUC
 * is undefined without at least one positive and one negative.
 *
 * @param scores - any monotone risk score (probability, logit…); finite numbers.
 * @param labels - 1 for a positive (e.g. churned), 0 for a negative; same length.
 * @throws RangeError on unequal lengths, a label not 0/1 or a non-finite score.
 */
export function rocAuc(scores: ArrayLike<number>, labels: Labels): number {
  validateScored(scores, labels, 'rocAuc');
  const n = scores.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += labels[i] as number;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;

  const order = argsort(scores, false);
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    // A run [i, j) of equal scores shares the average of ranks i+1 … j.
    let j = i + 1;
    const s = scores[order[i] as number] as number;
    while (j < n && scores[order[j] as number] === s) j++;
    const avgRank = (i + 1 + j) / 2;
    let posInRun = 0;
    for (let k = i; k < j; k++) posInRun += labels[order[k] as number] as number;
    rankSumPos += posInRun * avgRank;
    i = j;
  }
  const u = rankSumPos - (nPos * (nPos + 1)) / 2;
  return u / (nPos * nNeg);
}

/**
 * Area under the precision–recall curve as average precision (the step-wise sum
 * Σₖ (Rₖ − Rₖ₋₁)·Pₖ over distinct score thresholds, highest first; scikit-learn's
 * `average_precision_score`). Tied scores form one threshold, so their order does not
 * matter. No interpolation: interpolated PR areas are optimistic.
 *
 * Returns `NaN` when there is no positive (recall is undefined). With positives only it
 * returns 1: every threshold has precision 1.
 *
 * @throws RangeError on unequal lengths, a label not 0/1 or a non-finite score.
 */
export function prAuc(scores: ArrayLike<number>, labels: Labels): number {
  validateScored(scores, labels, 'prAuc');
  const n = scores.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += labels[i] as number;
  if (nPos === 0) return Number.NaN;

  const order = argsort(scores, true);
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  let i = 0;
  while (i < n) {
    const s = scores[order[i] as number] as number;
    let j = i;
    while (j < n && scores[order[j] as number] === s) {
      if (labels[order[j] as number] === 1) tp++;
      else fp++;
      j++;
    }
    const recall = tp / nPos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
    i = j;
  }
  return ap;
}

/**
 * Brier score: mean squared difference between the predicted probability and the 0/1
 * outcome. 0 is perfect; always predicting the base rate p scores p(1 − p).
 *
 * @param probabilities - predicted P(label = 1), each in [0, 1].
 * @throws RangeError on unequal or zero lengths, a label not 0/1 or a probability
 *   outside [0, 1].
 */
export function brierScore(probabilities: ArrayLike<number>, labels: Labels): number {
  validateScored(probabilities, labels, 'brierScore');
  const n = probabilities.length;
  if (n === 0) throw new RangeError('brierScore: needs at least one prediction (got 0)');
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = probabilities[i] as number;
    if (p < 0 || p > 1) {
      throw new RangeError(`brierScore: probabilities must be in [0, 1] (probability ${i} is ${p})`);
    }
    const d = p - (labels[i] as number);
    sum += d * d;
  }
  return sum / n;
}

function validateTopK(ranked: readonly string[], k: number, what: string): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`${what}: k must be a positive integer (got ${String(k)})`);
  }
  // A duplicate in a recommendation list is a bug upstream; counting it twice would
  // inflate the metric, so refuse it instead of silently de-duplicating.
  const seen = new Map<string, number>();
  for (let i = 0; i < ranked.length; i++) {
    const item = ranked[i] as string;
    const first = seen.get(item);
    if (first !== undefined) {
      throw new RangeError(
        `${what}: ranked items must be unique (${JSON.stringify(item)} is at positions ${first} and ${i})`,
      );
    }
    seen.set(item, i);
  }
}

function hitsAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  let hits = 0;
  const end = Math.min(k, ranked.length);
  for (let i = 0; i < end; i++) if (relevant.has(ranked[i] as string)) hits++;
  return hits;
}

/**
 * Normalised discounted cumulative gain at k with binary relevance:
 * DCG@k = Σ_{i<k, ranked[i] relevant} 1 / log₂(i + 2), divided by the DCG of an ideal
 * list (all relevant items first, min(k, |relevant|) of them). In [0, 1].
 *
 * Returns `NaN` when `relevant` is empty (no ideal list to normalise by); skip such
 * users when averaging.
 *
 * @param ranked - recommended item ids, best first; must be unique. May be shorter than k.
 * @param relevant - the ids the user actually engaged with in the evaluation window.
 * @param k - cut-off, a positive integer.
 * @throws RangeError when k is not a positive integer or `ranked` has duplicates.
 */
export function ndcgAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  validateTopK(ranked, k, 'ndcgAtK');
  if (relevant.size === 0) return Number.NaN;
  let dcg = 0;
  const end = Math.min(k, ranked.length);
  for (let i = 0; i < end; i++) {
    if (relevant.has(ranked[i] as string)) dcg += 1 / Math.log2(i + 2);
  }
  let idcg = 0;
  const ideal = Math.min(k, relevant.size);
  for (let i = 0; i < ideal; i++) idcg += 1 / Math.log2(i + 2);
  return dcg / idcg;
}

/**
 * Precision at k: relevant items among the first k, divided by k. A list shorter than k
 * is penalised (the missing slots count as misses), so a recommender cannot score well
 * by returning fewer items.
 *
 * @throws RangeError when k is not a positive integer or `ranked` has duplicates.
 */
export function precisionAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  validateTopK(ranked, k, 'precisionAtK');
  return hitsAtK(ranked, relevant, k) / k;
}

/**
 * Recall at k: relevant items among the first k, divided by the number of relevant items.
 * Returns `NaN` when `relevant` is empty (undefined); skip such users when averaging.
 *
 * @throws RangeError when k is not a positive integer or `ranked` has duplicates.
 */
export function recallAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  validateTopK(ranked, k, 'recallAtK');
  if (relevant.size === 0) return Number.NaN;
  return hitsAtK(ranked, relevant, k) / relevant.size;
}
