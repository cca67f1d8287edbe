/**
 * The scoring run: fit the models on bounded samples (churn one horizon back with its
 * held-out metrics, BG/NBD, RFM quintiles, personas), store them as a model_runs row, then
 * score every payer chunk by chunk into user_scores. `fitScoringModels` and `scoreRange`
 * are separate so the jobs can fan chunks out to many workers.
 */
import { FEATURE_NAMES, FEATURES, transformRow } from '../domain/features.js';
import { riskTier } from '../domain/risk.js';
import { BgNbdModel } from '../ml/bgnbd.js';
import { ChurnModel } from '../ml/logistic.js';
import { describeClusters, fitPersonas, PersonaModel, type PersonaModelJson } from '../ml/kmeans-personas.js';
import { fitRfm, RfmModel, rfmChurnFallback, type RfmModelJson } from '../ml/rfm.js';
import { featuresAsOf, itemDims, membershipPeriods, payerSampleFraction, payerShare, type FeatureRow, type ItemDims } from '../store/features.js';
import { refreshScoreAggregates } from '../store/score-aggregates.js';
import { createScoreStaging, publishScores, writeScores, type ScoreRow } from '../store/scores.js';
import { finishModelRun, getModelRun, insertModelRun } from '../store/model-runs.js';
import { NotFoundError } from '../domain/errors.js';
import { addDays, collectTrainingSet, describePredictor, evaluateChurn, fitChurn, mapChunks, type Deps } from './churn.js';
import type { ModelSettings } from './model-settings.js';

/** Behaviour columns the personas cluster on (plus topic shares). */
const PERSONA_FEATURES = ['recency_days', 'frequency', 'monetary_total', 'refund_rate', 'views_30d', 'completion', 'coupon_redemptions', 'renewals', 'membership_active', 'tenure_days'] as const;
const PERSONA_LOG1P = ['recency_days', 'frequency', 'monetary_total', 'views_30d', 'coupon_redemptions', 'renewals', 'tenure_days'];
const MAX_TOPICS = 8;

export interface ScoringModels {
  runId: number;
  asOf: Date;
  horizonDays: number;
  churn: { kind: 'logistic'; model: ChurnModel } | { kind: 'rfm'; reason: string };
  rfm: RfmModel;
  bgnbd: BgNbdModel | null;
  personas: PersonaModel | null;
  topics: string[];
  periods: Map<string, number>;
  items: ItemDims;
  thresholds: { high: number; medium: number };
}

const PERSONA_INDEX = PERSONA_FEATURES.map((f) => FEATURE_NAMES.indexOf(f));

function personaRow(r: FeatureRow, topics: string[]): number[] {
  const row = PERSONA_INDEX.map((i) => r.values[i]!);
  for (const t of topics) row.push(r.categories[t] ?? 0);
  return row;
}

/** Fits every model as of `asOf` and records them (with held-out churn metrics) as a running model run. */
export async function fitScoringModels(d: Deps, s: ModelSettings, asOf: Date): Promise<ScoringModels> {
  const H = s.horizonDays;
  const cutoff = addDays(asOf, -H);
  // Where the fit's time goes, in the log line that ends it (ms per step).
  const timingsMs: Record<string, number> = {};
  let lapStart = performance.now();
  const lap = (step: string) => {
    const now = performance.now();
    timingsMs[step] = Math.round(now - lapStart);
    lapStart = now;
  };
  // Billing periods as each window knew them (no look-ahead into the held-out evaluation).
  const items = await itemDims(d.db);
  const periods = await membershipPeriods(d.db, asOf);
  const olderPeriods = await membershipPeriods(d.db, addDays(asOf, -2 * H));
  const cutoffPeriods = await membershipPeriods(d.db, cutoff);
  lap('periods');
  // Held-out evaluation: train two horizons back, test on the last full horizon.
  const older = await collectTrainingSet(d, s, addDays(asOf, -2 * H), cutoff, s.trainSample, { periods: olderPeriods, items });
  const latest = await collectTrainingSet(d, s, cutoff, asOf, s.trainSample, { periods: cutoffPeriods, items });
  lap('trainingSets');
  const heldOut = older.n > 0 && latest.n > 0 ? evaluateChurn(await fitChurn(d, s, older), latest) : null;
  // Production model: the newest complete window.
  const predictor = await fitChurn(d, s, latest);
  lap('churn');

  // About `fitSample` of today's payers (a share of users by seq) for RFM quintiles, BG/NBD and personas.
  const fraction = payerSampleFraction(await payerShare(d.db, asOf), s.fitSample);
  const sample = (await mapChunks(d.db, s, (from, to) => featuresAsOf(d.db, { asOf, seqFrom: from, seqTo: to, payersOnly: true, periods, items, fraction }))).flat();
  lap('fitSample');
  const rfm = fitRfm({ recencyDays: sample.map((r) => r.recencyDays), frequency: sample.map((r) => r.frequency), monetary: sample.map((r) => Math.max(0, r.monetaryMinor)) });
  const bg = fitBgNbdIfEnough(sample.map((r) => r.x), sample.map((r) => r.tx), sample.map((r) => r.T));
  lap('rfmAndBgnbd');
  const topicCounts = new Map<string, number>();
  for (const r of sample) for (const [c, v] of Object.entries(r.categories)) topicCounts.set(c, (topicCounts.get(c) ?? 0) + v);
  const topics = [...topicCounts.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_TOPICS).map(([t]) => t);
  let personas: PersonaModel | null = null;
  let personaDescriptions: unknown[] = [];
  if (sample.length >= 50) {
    personas = fitPersonas(
      sample.map((r) => personaRow(r, topics)),
      { features: PERSONA_FEATURES, topics, log1p: PERSONA_LOG1P, seed: 1, kMin: 3, kMax: 8, ...(s.personasK > 0 ? { k: s.personasK } : {}) },
    );
    const labels = Object.fromEntries(FEATURES.map((f) => [f.name, { high: f.high, low: f.low }]));
    personaDescriptions = describeClusters(personas, labels);
  }

  lap('personas');
  const runId = await insertModelRun(d.db, {
    kind: 'rescore',
    asOf,
    cutoff,
    horizonDays: H,
    fallback: predictor.kind === 'rfm' ? predictor.reason : null,
    params: {
      churn: describePredictor(predictor),
      rfm: rfm.toJSON(),
      bgnbd: bg ? { ...bg.model.toJSON(), converged: bg.fit.converged, logLikelihood: bg.fit.logLikelihood } : null,
      personas: personas?.toJSON() ?? null,
      personaDescriptions,
      topics,
      periods: Object.fromEntries(periods),
      thresholds: { high: s.riskHigh, medium: s.riskMedium },
      featureNames: FEATURE_NAMES,
    },
    metrics: heldOut ? { churn: heldOut } : {},
    rowCount: latest.n,
    positives: latest.labels.reduce((a, b) => a + b, 0),
    baseRate: latest.n ? latest.labels.reduce((a, b) => a + b, 0) / latest.n : null,
  });
  await createScoreStaging(d.db, runId);
  d.log.info({ runId, model: predictor.kind, fallback: predictor.kind === 'rfm' ? predictor.reason : undefined, auc: heldOut?.auc, baselineAuc: heldOut?.baselineAuc, trainRows: latest.n, timingsMs }, 'scoring models fitted');
  return {
    runId,
    asOf,
    horizonDays: H,
    churn: predictor.kind === 'logistic' ? { kind: 'logistic', model: predictor.model } : { kind: 'rfm', reason: predictor.reason },
    rfm,
    bgnbd: bg?.model ?? null,
    personas,
    topics,
    periods,
    items,
    thresholds: { high: s.riskHigh, medium: s.riskMedium },
  };
}

/** Loads the models of a rescore run (so any worker can score any chunk). */
export async function loadScoringModels(d: Deps, runId: number): Promise<ScoringModels> {
  const run = await getModelRun(d.db, runId);
  if (!run || run.kind !== 'rescore') throw new NotFoundError(`no rescore model run with id ${runId}`);
  const p = run.params as {
    churn: { kind: 'logistic'; model: unknown } | { kind: 'rfm'; reason: string };
    rfm: RfmModelJson;
    bgnbd: { r: number; alpha: number; a: number; b: number } | null;
    personas: PersonaModelJson | null;
    topics: string[];
    periods: Record<string, number>;
    thresholds: { high: number; medium: number };
  };
  return {
    runId,
    asOf: run.asOf,
    horizonDays: run.horizonDays ?? 90,
    churn: p.churn.kind === 'logistic' ? { kind: 'logistic', model: ChurnModel.load(p.churn.model) } : { kind: 'rfm', reason: p.churn.reason },
    rfm: RfmModel.load(p.rfm),
    bgnbd: p.bgnbd ? new BgNbdModel(p.bgnbd) : null,
    personas: p.personas ? PersonaModel.load(p.personas) : null,
    topics: p.topics,
    periods: new Map(Object.entries(p.periods)),
    items: await itemDims(d.db),
    thresholds: p.thresholds,
  };
}

/**
 * Scores the payers with seq in [from, to) into the run's staging table (published whole by
 * publishScores, which also announces tier changes). Returns how many were scored.
 */
export async function scoreRange(d: Deps, m: ScoringModels, from: number, to: number): Promise<{ scored: number }> {
  const t0 = performance.now();
  const rows = await featuresAsOf(d.db, { asOf: m.asOf, seqFrom: from, seqTo: to, payersOnly: true, periods: m.periods, items: m.items });
  const t1 = performance.now();
  const weeks = m.horizonDays / 7;
  const out: ScoreRow[] = rows.map((r) => {
    const x = transformRow(Float64Array.from(r.values));
    const rfm = m.rfm.score(r.recencyDays, r.frequency, Math.max(0, r.monetaryMinor));
    let p: number;
    let explanation: unknown;
    if (m.churn.kind === 'logistic') {
      p = m.churn.model.predictProba(x);
      explanation = m.churn.model.explain(x, 3).filter((f) => f.contribution > 0).map((f) => ({ feature: f.feature, contribution: round(f.contribution), value: round(r.values[FEATURE_INDEX.get(f.feature)!]!) }));
    } else {
      p = rfmChurnFallback(rfm.r, rfm.f, rfm.m);
      explanation = [{ feature: 'rfm_rules', reason: m.churn.reason, r: rfm.r, f: rfm.f, m: rfm.m }];
    }
    const expected = m.bgnbd ? guard(() => m.bgnbd!.expectedPurchases(r.x, r.tx, r.T, weeks)) : null;
    const aovMinor = r.frequency > 0 ? r.values[AOV]! * 100 : 0;
    return {
      userId: r.userId,
      churnProbability: p,
      riskTier: riskTier(p, m.thresholds),
      pAlive: m.bgnbd ? guard(() => m.bgnbd!.pAlive(r.x, r.tx, r.T)) : null,
      expectedPurchases: expected,
      // Value over the horizon if they stay: expected purchases (at least one) at their average order.
      expectedValueMinor: Math.round(Math.max(1, expected ?? 1) * aovMinor),
      rfmR: rfm.r,
      rfmF: rfm.f,
      rfmM: rfm.m,
      segment: rfm.segment,
      persona: m.personas ? m.personas.assign(personaRow(r, m.topics)) : null,
      explanation,
      features: Array.from(r.values, round),
    };
  });
  const t2 = performance.now();
  await writeScores(d.db, m.runId, m.asOf, out);
  d.log.debug({ runId: m.runId, from, to, scored: out.length, featuresMs: Math.round(t1 - t0), scoreMs: Math.round(t2 - t1), writeMs: Math.round(performance.now() - t2) }, 'chunk scored');
  return { scored: out.length };
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;
const FEATURE_INDEX = new Map<string, number>(FEATURE_NAMES.map((n, i) => [n, i]));
const AOV = FEATURE_NAMES.indexOf('avg_order_value');

/** A prediction the model cannot make for this user (a numeric range error) is left empty, not fatal. */
function guard(f: () => number): number | null {
  try {
    const v = f();
    return Number.isFinite(v) ? v : null;
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

/** Minimum repeat buyers for a BG/NBD fit worth using: below it the parameters are not identified. */
export const BGNBD_MIN_REPEATERS = 30;

/** Fits BG/NBD when enough users repeated and the optimiser converged; otherwise null (P(alive) stays empty). */
export function fitBgNbdIfEnough(x: number[], tx: number[], T: number[]): { model: BgNbdModel; fit: ReturnType<typeof BgNbdModel.fit>['fit'] } | null {
  if (x.filter((v) => v > 0).length < BGNBD_MIN_REPEATERS) return null;
  const r = BgNbdModel.fit({ frequency: x, recency: tx, T });
  return r.fit.converged ? r : null;
}

export interface RescoreResult {
  modelRunId: number;
  scored: number;
  removed: number;
  model: 'logistic' | 'rfm';
  fallback: string | null;
}

/** The whole run in one process: fit, score every chunk, finish. */
export async function rescore(d: Deps & { now: () => Date }, s: ModelSettings, opts: { asOf?: Date; onProgress?: (done: number) => void } = {}): Promise<RescoreResult> {
  const models = await fitScoringModels(d, s, opts.asOf ?? d.now());
  let scored = 0;
  try {
    await mapChunks(d.db, s, async (from, to) => {
      const r = await scoreRange(d, models, from, to);
      scored += r.scored; // after the await: `scored += await …` would read it before
      opts.onProgress?.(scored);
    });
    const published = await publishScores(d.db, models.runId);
    if (!published) throw new Error(`the scores of run ${models.runId} were not found to publish (its staging table is gone)`);
    if (published.supersededBy !== null) throw new Error(`run ${models.runId} was not published: run ${published.supersededBy}, newer, is already live`);
    const removed = published.removed;
    // The bot's totals for this run; without them it counts live (slower), so a failure is not the run's.
    await refreshScoreAggregates(d.db, models.runId, models.asOf).catch((err: unknown) => d.log.warn({ err, runId: models.runId }, 'score aggregates not refreshed: the bot counts live'));
    await finishModelRun(d.db, models.runId, 'done', { metrics: { scored } });
    return { modelRunId: models.runId, scored, removed, model: models.churn.kind, fallback: models.churn.kind === 'rfm' ? models.churn.reason : null };
  } catch (e) {
    await finishModelRun(d.db, models.runId, 'failed', { error: (e as Error).message });
    throw e;
  }
}
