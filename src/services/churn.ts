/**
 * Churn training sets, fitting and evaluation, shared by the scoring run and the backtest.
 * A training set is the payers as of a date with their features and whether they paid again
 * within the horizon; it is collected chunk by chunk and sampled to a bounded size.
 */
import { FEATURE_NAMES, FEATURES, transformRow } from '../domain/features.js';
import { brierScore, prAuc, rocAuc } from '../domain/metrics.js';
import { inSample } from '../domain/risk.js';
import type { Database } from '../db/client.js';
import { balancedWeights, ChurnModel } from '../ml/logistic.js';
import { fitRfm, rfmChurnFallback, type RfmModel } from '../ml/rfm.js';
import { featuresAsOf, userSeqRange, type FeatureRow } from '../store/features.js';
import type { Logger } from '../logger.js';
import type { ModelSettings } from './model-settings.js';

export const DAY_MS = 86_400_000;
export const addDays = (d: Date, days: number) => new Date(d.getTime() + days * DAY_MS);

export interface Deps {
  db: Database;
  log: Logger;
}

/** Calls `fn` for each chunk of users (a `seq` range), in order. */
export async function forEachChunk(db: Database, chunkSize: number, fn: (from: number, to: number) => Promise<void>): Promise<void> {
  const { min, max, count } = await userSeqRange(db);
  if (count === 0) return;
  for (let from = min; from <= max; from += chunkSize) await fn(from, from + chunkSize);
}

/** A growable row-major Float64Array. */
export class RowBuffer {
  data: Float64Array;
  n = 0;
  constructor(
    readonly width: number,
    capacity = 1024,
  ) {
    this.data = new Float64Array(width * capacity);
  }
  push(row: ArrayLike<number>): void {
    if ((this.n + 1) * this.width > this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data.set(row, this.n * this.width);
    this.n++;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.n * this.width);
  }
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
  /** Payers before asOf in all (the sample is drawn from them). */
  population: number;
}

/** Payers as of `asOf` with labels from [asOf, labelEnd), sampled to at most `maxRows`. */
export async function collectTrainingSet(d: Deps, s: Pick<ModelSettings, 'chunkSize'>, asOf: Date, labelEnd: Date, maxRows: number, periods?: Map<string, number>): Promise<TrainingSet> {
  const [{ payers } = { payers: 0 }] = await d.db.query<{ payers: number }>(
    `select count(distinct user_id)::int as payers from events where type in ('purchase','renewal') and occurred_at < $1`,
    [asOf.toISOString()],
  );
  const fraction = payers > maxRows ? maxRows / payers : 1;
  const x = new RowBuffer(FEATURES.length, Math.min(maxRows, Math.max(1024, payers)));
  const labels: number[] = [];
  const recency: number[] = [];
  const frequency: number[] = [];
  const monetary: number[] = [];
  await forEachChunk(d.db, s.chunkSize, async (from, to) => {
    const rows = await featuresAsOf(d.db, { asOf, seqFrom: from, seqTo: to, labelEnd, payersOnly: true, periods });
    for (const r of rows) {
      if (!inSample(r.userId, fraction, 'train')) continue;
      x.push(transformRow(r.values));
      labels.push(r.labelPayments === 0 ? 1 : 0);
      recency.push(r.recencyDays);
      frequency.push(r.frequency);
      monetary.push(r.monetaryMinor);
    }
  });
  return {
    asOf,
    labelEnd,
    n: x.n,
    x: x.view(),
    labels: Uint8Array.from(labels),
    recencyDays: Float64Array.from(recency),
    frequency: Float64Array.from(frequency),
    monetary: Float64Array.from(monetary),
    population: payers,
  };
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
  const [span] = await d.db.query<{ days: number | null }>(
    `select extract(epoch from ($1::timestamptz - min(occurred_at))) / 86400.0 as days from events where occurred_at < $1`,
    [set.asOf.toISOString()],
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
