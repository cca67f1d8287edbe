/**
 * Churn training sets, fitting and evaluation, shared by the scoring run and the backtest.
 * A training set is the payers as of a date with their features and whether they paid again
 * within the horizon; it is collected chunk by chunk and sampled to a bounded size.
 */
import { FEATURE_NAMES, FEATURES, transformRow } from '../domain/features.js';
import { brierScore, prAuc, rocAuc } from '../domain/metrics.js';
import type { Database } from '../db/client.js';
import { EVENT_TYPES } from '../domain/events.js';
import { balancedWeights, ChurnModel } from '../ml/logistic.js';
import { fitRfm, rfmChurnFallback, type RfmModel } from '../ml/rfm.js';
import { featuresAsOf, itemDims, payerSampleFraction, payerShare, userSeqRange, type FeatureRow, type ItemDims } from '../store/features.js';
import type { Logger } from '../logger.js';
import type { ModelSettings } from './model-settings.js';

export const DAY_MS = 86_400_000;
export const addDays = (d: Date, days: number) => new Date(d.getTime() + days * DAY_MS);

export interface Deps {
  db: Database;
  log: Logger;
}

/**
 * Runs `fn` for each chunk of users (a `seq` range), `concurrency` chunks at a time, and
 * returns the results in chunk order (so what is built from them does not depend on timing).
 * After a failure no new chunk starts; the first error is thrown once the running ones end.
 */
export async function mapChunks<T>(db: Database, s: { chunkSize: number; concurrency?: number }, fn: (from: number, to: number) => Promise<T>): Promise<T[]> {
  const { min, max, count } = await userSeqRange(db);
  if (count === 0) return [];
  const starts: number[] = [];
  for (let from = min; from <= max; from += s.chunkSize) starts.push(from);
  const out = new Array<T>(starts.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < starts.length) {
      const i = next++;
      try {
        out[i] = await fn(starts[i]!, starts[i]! + s.chunkSize);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(s.concurrency ?? 1, starts.length)) }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return out;
}

/** Calls `fn` for each chunk of users (a `seq` range), in order, one at a time. */
export async function forEachChunk(db: Database, chunkSize: number, fn: (from: number, to: number) => Promise<void>): Promise<void> {
  await mapChunks(db, { chunkSize }, fn);
}

export interface TrainingSet {
  asOf: Date;
  labelEnd: Date;
  n: number;
  /** Transformed features (log1p where defined), row-major in FEATURES order. */
  x: Float64Array;
  /** 1 = churned: no payment in [asOf, labelEnd). */
  labels: Uint8Array;
  recencyDays: Float64Array;
  frequency: Float64Array;
  monetary: Float64Array;
  /** Payers before asOf in all (estimated from the sample when it is one). */
  population: number;
}

/** What a feature pass needs besides the dates: billing periods and the item catalogue's dimensions. */
export interface FeatureContext {
  periods?: Map<string, number> | undefined;
  items?: ItemDims | undefined;
}

/**
 * Payers as of `asOf` with labels from [asOf, labelEnd), about `maxRows` of them: a
 * deterministic share of users (by seq, sized by the estimated payer share) is read, so the
 * cost follows the sample, not the population.
 */
export async function collectTrainingSet(
  d: Deps,
  s: Pick<ModelSettings, 'chunkSize'> & { concurrency?: number },
  asOf: Date,
  labelEnd: Date,
  maxRows: number,
  ctx: FeatureContext = {},
): Promise<TrainingSet> {
  const fraction = payerSampleFraction(await payerShare(d.db, asOf), maxRows);
  const items = ctx.items ?? (await itemDims(d.db));
  // Each chunk keeps only the numbers (not its FeatureRows), so memory follows the sample size.
  const chunks = await mapChunks(d.db, s, async (from, to) => {
    const rows = await featuresAsOf(d.db, { asOf, seqFrom: from, seqTo: to, labelEnd, payersOnly: true, periods: ctx.periods, items, fraction });
    const x = new Float64Array(rows.length * FEATURES.length);
    rows.forEach((r, i) => x.set(transformRow(r.values), i * FEATURES.length));
    return {
      x,
      labels: Uint8Array.from(rows, (r) => (r.labelPayments === 0 ? 1 : 0)),
      recency: Float64Array.from(rows, (r) => r.recencyDays),
      frequency: Float64Array.from(rows, (r) => r.frequency),
      monetary: Float64Array.from(rows, (r) => r.monetaryMinor),
    };
  });
  const n = chunks.reduce((a, c) => a + c.labels.length, 0);
  const x = new Float64Array(n * FEATURES.length);
  const labels = new Uint8Array(n);
  const recency = new Float64Array(n);
  const frequency = new Float64Array(n);
  const monetary = new Float64Array(n);
  let at = 0;
  for (const c of chunks) {
    x.set(c.x, at * FEATURES.length);
    labels.set(c.labels, at);
    recency.set(c.recency, at);
    frequency.set(c.frequency, at);
    monetary.set(c.monetary, at);
    at += c.labels.length;
  }
  return { asOf, labelEnd, n, x, labels, recencyDays: recency, frequency, monetary, population: Math.round(n / fraction) };
}

export type ChurnPredictor =
  | { kind: 'logistic'; model: ChurnModel; iterations: number; converged: boolean }
  | { kind: 'rfm'; rfm: RfmModel; reason: string };

/** Why the data is too thin to train on, or null when it is enough. */
export async function thinDataReason(d: Deps, s: ModelSettings, set: TrainingSet): Promise<string | null> {
  const positives = set.labels.reduce((a, b) => a + b, 0);
  const negatives = set.n - positives;
  if (set.n < s.minUsers) return `only ${set.n} users had paid before ${day(set.asOf)} (CHURN_MIN_USERS is ${s.minUsers})`;
  if (positives < s.minPositives) return `only ${positives} of them churned in the training window (CHURN_MIN_POSITIVES is ${s.minPositives})`;
  if (negatives < s.minPositives) return `only ${negatives} of them stayed in the training window (CHURN_MIN_POSITIVES is ${s.minPositives})`;
  // The oldest event, one index probe per event type through events(type, occurred_at):
  // a plain min() read every event (1.8 s at 16M events).
  const [span] = await d.db.query<{ days: number | null }>(
    `select extract(epoch from ($1::timestamptz - min(first.at))) / 86400.0 as days
     from unnest($2::text[]) as t(type)
     cross join lateral (select min(e.occurred_at) as at from events e where e.type = t.type and e.occurred_at < $1) first`,
    [set.asOf.toISOString(), [...EVENT_TYPES]],
  );
  const days = Number(span?.days ?? 0);
  if (days < s.minHistoryDays) return `only ${Math.floor(days)} days of history before ${day(set.asOf)} (CHURN_MIN_HISTORY_DAYS is ${s.minHistoryDays})`;
  return null;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Fits the churn model: logistic regression (Newton/IRLS, L2) with balanced class weights,
 * then the intercept moved back by the log prior odds so probabilities match the base rate
 * again (King & Zeng's prior correction) — balancing helps the fit, tiers need calibration.
 * Falls back to RFM rules when the data is too thin, saying why.
 */
export async function fitChurn(d: Deps, s: ModelSettings, set: TrainingSet): Promise<ChurnPredictor> {
  const rfm = fitRfm({ recencyDays: set.recencyDays, frequency: set.frequency, monetary: set.monetary.map((m) => Math.max(0, m)) });
  const reason = await thinDataReason(d, s, set);
  if (reason) return { kind: 'rfm', rfm, reason };
  const t = ChurnModel.train(set.x, set.n, set.labels, { featureNames: FEATURE_NAMES, lambda: s.l2, sampleWeights: balancedWeights(set.labels) });
  const base = set.labels.reduce((a, b) => a + b, 0) / set.n;
  const json = t.model.toJSON();
  const model = ChurnModel.load({ ...json, intercept: json.intercept + Math.log(base / (1 - base)) });
  return { kind: 'logistic', model, iterations: t.iterations, converged: t.converged };
}

/** Churn probability for a transformed feature row. */
export function predictChurn(p: ChurnPredictor, row: Float64Array, recencyDays: number, frequency: number, monetary: number): number {
  if (p.kind === 'logistic') return p.model.predictProba(row);
  const r = p.rfm.score(recencyDays, frequency, Math.max(0, monetary));
  return rfmChurnFallback(r.r, r.f, r.m);
}

export interface ChurnMetrics {
  auc: number;
  prAuc: number;
  brier: number;
  baselineAuc: number;
  baselinePrAuc: number;
  baselineBrier: number;
  n: number;
  positives: number;
  baseRate: number;
}

/**
 * Scores an evaluation set with a predictor and with the recency-only baseline (a logistic
 * fit on recency alone; its ranking is recency itself, its Brier needs the fit).
 */
export function evaluateChurn(p: ChurnPredictor, set: TrainingSet): ChurnMetrics {
  const w = FEATURES.length;
  const probs = new Float64Array(set.n);
  for (let i = 0; i < set.n; i++) probs[i] = predictChurn(p, set.x.subarray(i * w, (i + 1) * w), set.recencyDays[i]!, set.frequency[i]!, set.monetary[i]!);
  const positives = set.labels.reduce((a, b) => a + b, 0);
  const recencyOnly = ChurnModel.train(Float64Array.from(set.recencyDays), set.n, set.labels, { featureNames: ['recency_days'], lambda: 1 }).model;
  const baseProbs = set.recencyDays.map((r) => recencyOnly.predictProba([r]));
  return {
    auc: rocAuc(probs, set.labels),
    prAuc: prAuc(probs, set.labels),
    brier: brierScore(probs, set.labels),
    baselineAuc: rocAuc(set.recencyDays, set.labels),
    baselinePrAuc: prAuc(set.recencyDays, set.labels),
    baselineBrier: brierScore(baseProbs, set.labels),
    n: set.n,
    positives,
    baseRate: set.n ? positives / set.n : 0,
  };
}

export function describePredictor(p: ChurnPredictor): Record<string, unknown> {
  return p.kind === 'logistic'
    ? { kind: 'logistic', model: p.model.toJSON(), iterations: p.iterations, converged: p.converged }
    : { kind: 'rfm', reason: p.reason, rfm: p.rfm.toJSON() };
}

export type { FeatureRow };
