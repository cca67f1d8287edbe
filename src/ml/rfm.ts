/**
 * RFM scoring: quintile scores (1–5) for recency, frequency and monetary value, the segment
 * names growth teams use, and a rule-based churn probability for when there is too little
 * history to train a model.
 *
 * Scores are relative to a reference population. `fitRfm` summarises that population
 * (a bounded sample is enough) so that chunked rescoring jobs can score millions of users
 * one at a time against the same cut points.
 */

/**
 * Segment keys, best to worst. Snake-case so they can be stored in SQL (a `text` column or a
 * `CHECK (segment IN (...))`) and used as Slack option values; display names are in
 * {@link RFM_SEGMENT_LABELS}.
 */
export const RFM_SEGMENTS = [
  'champions',
  'loyal',
  'potential_loyalists',
  'new',
  'promising',
  'need_attention',
  'about_to_sleep',
  'at_risk',
  'cant_lose_them',
  'hibernating',
  'lost',
] as const;
export type RfmSegment = (typeof RFM_SEGMENTS)[number];

/** Display names of each segment, in English and Simplified Chinese. */
export const RFM_SEGMENT_LABELS: Readonly<Record<RfmSegment, { readonly en: string; readonly zh: string }>> = {
  champions: { en: 'Champions', zh: '核心用户' },
  loyal: { en: 'Loyal', zh: '忠诚用户' },
  potential_loyalists: { en: 'Potential loyalists', zh: '潜在忠诚用户' },
  new: { en: 'New', zh: '新用户' },
  promising: { en: 'Promising', zh: '有潜力用户' },
  need_attention: { en: 'Need attention', zh: '需要关注' },
  about_to_sleep: { en: 'About to sleep', zh: '即将沉睡' },
  at_risk: { en: 'At risk', zh: '流失风险' },
  cant_lose_them: { en: "Can't lose them", zh: '不能失去' },
  hibernating: { en: 'Hibernating', zh: '沉睡用户' },
  lost: { en: 'Lost', zh: '已流失' },
};

/** A quintile score: 1 (worst fifth) … 5 (best fifth). */
export type RfmScore = 1 | 2 | 3 | 4 | 5;

/**
 * The R × FM grid, indexed `[r - 1][fm - 1]`. This is the widely used grid (recency on one
 * axis, the rounded mean of F and M on the other) with one change: its bottom-left
 * "Hibernating" block (R 1–2, FM 1–2) is split so that the oldest row (R = 1) is "Lost".
 * Every cell has exactly one segment, so no rule-order tie-breaking is needed.
 *
 * ```
 *        FM=1            FM=2                 FM=3                 FM=4            FM=5
 * R=5    new             potential_loyalists  potential_loyalists  champions       champions
 * R=4    promising       potential_loyalists  potential_loyalists  loyal           loyal
 * R=3    about_to_sleep  about_to_sleep       need_attention       loyal           loyal
 * R=2    hibernating     hibernating          at_risk              at_risk         cant_lose_them
 * R=1    lost            lost                 at_risk              at_risk         cant_lose_them
 * ```
 */
const GRID: readonly (readonly RfmSegment[])[] = [
  ['lost', 'lost', 'at_risk', 'at_risk', 'cant_lose_them'],
  ['hibernating', 'hibernating', 'at_risk', 'at_risk', 'cant_lose_them'],
  ['about_to_sleep', 'about_to_sleep', 'need_attention', 'loyal', 'loyal'],
  ['promising', 'potential_loyalists', 'potential_loyalists', 'loyal', 'loyal'],
  ['new', 'potential_loyalists', 'potential_loyalists', 'champions', 'champions'],
];

/**
 * The population one dimension is scored against: its distinct values, sorted, with the
 * number of reference rows strictly below each and equal to each.
 */
export interface QuintileReference {
  readonly n: number;
  readonly values: Float64Array;
  readonly below: Float64Array;
  readonly counts: Float64Array;
}

/**
 * Summarises a population for quintile scoring.
 *
 * @throws RangeError when a value is not finite.
 */
export function fitQuintiles(values: ArrayLike<number>, name = 'value'): QuintileReference {
  const sorted = Float64Array.from(values);
  for (let i = 0; i < sorted.length; i++) {
    if (!Number.isFinite(sorted[i])) {
      throw new RangeError(`${name}[${i}] must be a finite number, got ${String(values[i])}`);
    }
  }
  sorted.sort();
  const distinct: number[] = [];
  const below: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    const v = sorted[i] as number;
    let j = i + 1;
    while (j < sorted.length && sorted[j] === v) j++;
    distinct.push(v);
    below.push(i);
    counts.push(j - i);
    i = j;
  }
  return {
    n: sorted.length,
    values: Float64Array.from(distinct),
    below: Float64Array.from(below),
    counts: Float64Array.from(counts),
  };
}

/**
 * Scores one value against a reference: 1–5, higher for larger values, or higher for
 * smaller values when `descending` (recency: fewer days since the last purchase is better).
 *
 * Ties: a value's position is its mid-rank, (rows below + half the rows equal) / n, so tied
 * values always get the same score regardless of input order, and a dimension where
 * everybody is equal scores everybody 3 — no information, the neutral middle. With ten
 * distinct values the scores are 1,1,2,2,3,3,4,4,5,5. An empty reference scores 3.
 */
export function quintileScore(ref: QuintileReference, value: number, descending = false): RfmScore {
  if (!Number.isFinite(value)) throw new RangeError(`value must be a finite number, got ${String(value)}`);
  if (ref.n === 0) return 3;
  // Lower bound: the first distinct value >= value.
  let lo = 0;
  let hi = ref.values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ref.values[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  const below = lo < ref.values.length ? (ref.below[lo] as number) : ref.n;
  const equal = lo < ref.values.length && ref.values[lo] === value ? (ref.counts[lo] as number) : 0;
  const better = descending ? ref.n - below - equal : below;
  // floor(5 * (better + equal / 2) / n) in integers, so the fifth boundaries are exact.
  const s = Math.floor((5 * (2 * better + equal)) / (2 * ref.n)) + 1;
  return Math.min(5, s) as RfmScore;
}

/**
 * Quintile scores of every value against the population formed by the values themselves.
 * See {@link quintileScore} for ties and small populations.
 */
export function quintileScores(values: ArrayLike<number>, descending = false): Uint8Array {
  const ref = fitQuintiles(values);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = quintileScore(ref, values[i] as number, descending);
  return out;
}

/**
 * The combined frequency–monetary score: the mean of F and M rounded half up, so (5, 4)
 * counts as 5 and (1, 2) as 2.
 */
export function fmScore(f: number, m: number): RfmScore {
  assertScore(f, 'f');
  assertScore(m, 'm');
  return Math.floor((f + m + 1) / 2) as RfmScore;
}

/** The segment of one user from their R, F and M scores (see the grid on {@link RFM_SEGMENTS}). */
export function rfmSegment(r: number, f: number, m: number): RfmSegment {
  assertScore(r, 'r');
  const row = GRID[r - 1] as readonly RfmSegment[];
  return row[fmScore(f, m) - 1] as RfmSegment;
}

/** Parallel arrays, one entry per user. */
export interface RfmInput {
  /** Days since the last purchase (as of the scoring date, computed by the caller). */
  readonly recencyDays: ArrayLike<number>;
  /** Number of purchases. */
  readonly frequency: ArrayLike<number>;
  /** Total spend, in any consistent unit (minor units are fine). */
  readonly monetary: ArrayLike<number>;
}

/** Scores and segment of one user. */
export interface RfmResult {
  readonly r: RfmScore;
  readonly f: RfmScore;
  readonly m: RfmScore;
  readonly fm: RfmScore;
  readonly segment: RfmSegment;
}

/** Serialised form of {@link RfmModel}. */
export interface RfmModelJson {
  readonly kind: 'rfm';
  readonly version: 1;
  readonly recency: QuintileReferenceJson;
  readonly frequency: QuintileReferenceJson;
  readonly monetary: QuintileReferenceJson;
}
interface QuintileReferenceJson {
  readonly n: number;
  readonly values: number[];
  readonly counts: number[];
}

/** Quintile cut points for the three dimensions, fitted on a reference population. */
export class RfmModel {
  constructor(
    readonly recency: QuintileReference,
    readonly frequency: QuintileReference,
    readonly monetary: QuintileReference,
  ) {}

  /** Scores and segments one user against the reference population. */
  score(recencyDays: number, frequency: number, monetary: number): RfmResult {
    const r = quintileScore(this.recency, recencyDays, true);
    const f = quintileScore(this.frequency, frequency);
    const m = quintileScore(this.monetary, monetary);
    return { r, f, m, fm: fmScore(f, m), segment: rfmSegment(r, f, m) };
  }

  /** A plain object for `jsonb` storage; `below` is recomputed on load. */
  toJSON(): RfmModelJson {
    const ref = (q: QuintileReference): QuintileReferenceJson => ({
      n: q.n,
      values: Array.from(q.values),
      counts: Array.from(q.counts),
    });
    return { kind: 'rfm', version: 1, recency: ref(this.recency), frequency: ref(this.frequency), monetary: ref(this.monetary) };
  }

  /** Rebuilds a model from {@link RfmModel.toJSON} output. */
  static load(json: RfmModelJson): RfmModel {
    if (json?.kind !== 'rfm' || json.version !== 1) {
      throw new TypeError(`expected an rfm model of version 1, got kind=${String(json?.kind)} version=${String(json?.version)}`);
    }
    const ref = (q: QuintileReferenceJson, name: string): QuintileReference => {
      if (q.values.length !== q.counts.length) {
        throw new TypeError(`rfm model ${name}: values and counts must have the same length`);
      }
      const below = new Float64Array(q.values.length);
      let acc = 0;
      for (let i = 0; i < q.counts.length; i++) {
        below[i] = acc;
        acc += q.counts[i] as number;
      }
      if (acc !== q.n) throw new TypeError(`rfm model ${name}: counts sum to ${acc}, expected n=${q.n}`);
      return { n: q.n, values: Float64Array.from(q.values), below, counts: Float64Array.from(q.counts) };
    };
    return new RfmModel(ref(json.recency, 'recency'), ref(json.frequency, 'frequency'), ref(json.monetary, 'monetary'));
  }
}

/**
 * Fits RFM cut points on a reference population (all users, or a bounded random sample of
 * them when there are millions: the model's size grows with the number of distinct values).
 *
 * @throws RangeError when the arrays differ in length or hold a non-finite value.
 */
export function fitRfm(input: RfmInput): RfmModel {
  const n = input.recencyDays.length;
  if (input.frequency.length !== n || input.monetary.length !== n) {
    throw new RangeError(
      `recencyDays, frequency and monetary must have the same length, got ${n}, ${input.frequency.length}, ${input.monetary.length}`,
    );
  }
  return new RfmModel(
    fitQuintiles(input.recencyDays, 'recencyDays'),
    fitQuintiles(input.frequency, 'frequency'),
    fitQuintiles(input.monetary, 'monetary'),
  );
}

/** Scores every user against the population they form, with their segments. */
export function rfmScores(input: RfmInput): {
  r: Uint8Array;
  f: Uint8Array;
  m: Uint8Array;
  segments: RfmSegment[];
} {
  const model = fitRfm(input);
  const n = input.recencyDays.length;
  const r = new Uint8Array(n);
  const f = new Uint8Array(n);
  const m = new Uint8Array(n);
  const segments: RfmSegment[] = new Array<RfmSegment>(n);
  for (let i = 0; i < n; i++) {
    const s = model.score(input.recencyDays[i] as number, input.frequency[i] as number, input.monetary[i] as number);
    r[i] = s.r;
    f[i] = s.f;
    m[i] = s.m;
    segments[i] = s.segment;
  }
  return { r, f, m, segments };
}

/**
 * Rule-based churn probability from RFM scores, for when there is too little labelled
 * history to train the logistic model (a new tenant, or fewer than a few hundred users
 * with a full horizon behind them).
 *
 * The rule is a fixed logistic curve centred on the middle of the grid:
 *
 *   z = 1.0·(3 − R) + 0.25·(3 − F) + 0.25·(3 − M),   p = 1 / (1 + e^(−z))
 *
 * so R = F = M = 3 gives 0.5, 555 gives 0.047, 111 gives 0.953, a "Can't lose them" 155
 * gives 0.73 and a "New" 511 gives 0.27. Recency carries four times the weight of F or M
 * (twice their sum) because in non-contractual settings time since the last purchase is
 * the strongest single sign that a customer has lapsed; frequency and monetary mostly say
 * how much there is to lose. It is a prior, not a calibrated probability: replace it with
 * the trained model as soon as one passes its holdout checks.
 *
 * @throws RangeError when a score is not an integer from 1 to 5.
 */
export function rfmChurnFallback(r: number, f: number, m: number): number {
  assertScore(r, 'r');
  assertScore(f, 'f');
  assertScore(m, 'm');
  const z = 1.0 * (3 - r) + 0.25 * (3 - f) + 0.25 * (3 - m);
  return 1 / (1 + Math.exp(-z));
}

function assertScore(s: number, name: string): asserts s is RfmScore {
  if (!Number.isInteger(s) || s < 1 || s > 5) {
    throw new RangeError(`${name} must be an integer score from 1 to 5, got ${String(s)}`);
  }
}
