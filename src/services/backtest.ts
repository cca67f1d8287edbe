/**
 * The backtest a growth team reads before switching outreach on. Protocol (fixed so results
 * compare across data sets): the population is users with a purchase before the cutoff;
 * churned = no purchase or renewal in [cutoff, cutoff + horizon). The churn model is trained
 * one horizon earlier (features before cutoff − horizon, labels in [cutoff − horizon, cutoff)).
 * Recommendation truth: items a population user buys for the first time in the window.
 */
import { ndcgAtK, precisionAtK, recallAtK } from '../domain/metrics.js';
import { inSample } from '../domain/risk.js';
import { featuresAsOf, itemDims, membershipPeriods } from '../store/features.js';
import { firstPurchasesBetween, interactionsForRange } from '../store/interactions.js';
import { insertModelRun } from '../store/model-runs.js';
import { addDays, collectTrainingSet, evaluateChurn, fitChurn, forEachChunk, type ChurnMetrics, type Deps } from './churn.js';
import type { ModelSettings } from './model-settings.js';
import { buildRecommenderAsOf, groupHistories } from './recommend.js';
import { fitBgNbdIfEnough } from './rescore.js';

export interface BacktestResult {
  cutoff: string;
  horizonDays: number;
  churn: ChurnMetrics & { model: 'logistic' | 'rfm'; fallback: string | null };
  btyd: { params: { r: number; alpha: number; a: number; b: number } | null; predictedPurchases: number; actualPurchases: number; users: number; converged: boolean };
  recommend: {
    k: number;
    users: number;
    precision: number;
    recall: number;
    ndcg: number;
    coverage: number;
    popularity: { precision: number; recall: number; ndcg: number };
  };
  modelRunId: number;
}

export async function backtest(d: Deps, s: ModelSettings, o: { cutoff: Date; horizonDays?: number; k?: number }): Promise<BacktestResult> {
  const H = o.horizonDays ?? s.horizonDays;
  const k = o.k ?? 10;
  const cutoff = o.cutoff;
  const end = addDays(cutoff, H);
  const trainAt = addDays(cutoff, -H);
  d.log.info({ cutoff, horizonDays: H, k }, 'backtest started');

  // Churn: train one horizon back, evaluate on the window after the cutoff.
  const items = await itemDims(d.db);
  const periodsTrain = await membershipPeriods(d.db, trainAt);
  const trainSet = await collectTrainingSet(d, s, trainAt, cutoff, s.trainSample, { periods: periodsTrain, items });
  const predictor = await fitChurn(d, s, trainSet);
  const periodsEval = await membershipPeriods(d.db, cutoff);
  const evalSet = await collectTrainingSet(d, s, cutoff, end, s.trainSample, { periods: periodsEval, items });
  const churn = { ...evaluateChurn(predictor, evalSet), model: predictor.kind, fallback: predictor.kind === 'rfm' ? predictor.reason : null };

  // BG/NBD: fit on a sample of payers as of the cutoff; compare predicted with actual repeat days.
  const weeks = H / 7;
  const sample = { x: [] as number[], tx: [] as number[], T: [] as number[] };
  const all = { x: [] as number[], tx: [] as number[], T: [] as number[], actual: 0 };
  const fraction = evalSet.population > s.fitSample * 5 ? (s.fitSample * 5) / evalSet.population : 1;
  await forEachChunk(d.db, s.chunkSize, async (from, to) => {
    for (const r of await featuresAsOf(d.db, { asOf: cutoff, seqFrom: from, seqTo: to, labelEnd: end, payersOnly: true, periods: periodsEval, items })) {
      all.x.push(r.x);
      all.tx.push(r.tx);
      all.T.push(r.T);
      all.actual += r.labelDays ?? 0;
      if (inSample(r.userId, fraction, 'bgnbd')) {
        sample.x.push(r.x);
        sample.tx.push(r.tx);
        sample.T.push(r.T);
      }
    }
  });
  let btyd: BacktestResult['btyd'] = { params: null, predictedPurchases: 0, actualPurchases: all.actual, users: all.x.length, converged: false };
  const bg = fitBgNbdIfEnough(sample.x, sample.tx, sample.T);
  if (bg) {
    const { model, fit } = bg;
    let predicted = 0;
    for (let i = 0; i < all.x.length; i++) predicted += model.expectedPurchases(all.x[i]!, all.tx[i]!, all.T[i]!, weeks);
    btyd = { params: { r: model.r, alpha: model.alpha, a: model.a, b: model.b }, predictedPurchases: predicted, actualPurchases: all.actual, users: all.x.length, converged: fit.converged };
  }

  // Recommendations: built from what happened before the cutoff; truth is first purchases after it.
  const built = await buildRecommenderAsOf(d, s, cutoff);
  const sums = { p: 0, r: 0, n: 0, pp: 0, pr: 0, pn: 0, users: 0 };
  const shown = new Set<string>();
  await forEachChunk(d.db, s.chunkSize, async (from, to) => {
    const truth = await firstPurchasesBetween(d.db, cutoff, end, from, to);
    if (truth.size === 0) return;
    const histories = groupHistories(await interactionsForRange(d.db, cutoff, from, to));
    for (const [user, relevant] of truth) {
      const h = histories.get(user);
      if (!h || h.owned.length === 0) continue; // not in the population: no purchase before the cutoff
      const ranked = built.recommender.recommend(h, k).map((r) => r.itemId);
      ranked.forEach((i) => shown.add(i));
      const owned = new Set(h.owned);
      const pop: string[] = [];
      for (const i of built.popular) {
        if (pop.length === k) break;
        if (!owned.has(i)) pop.push(i);
      }
      sums.p += precisionAtK(ranked, relevant, k);
      sums.r += recallAtK(ranked, relevant, k);
      sums.n += ndcgAtK(ranked, relevant, k);
      sums.pp += precisionAtK(pop, relevant, k);
      sums.pr += recallAtK(pop, relevant, k);
      sums.pn += ndcgAtK(pop, relevant, k);
      sums.users++;
    }
  });
  const avg = (v: number) => (sums.users ? v / sums.users : 0);
  const recommend = {
    k,
    users: sums.users,
    precision: avg(sums.p),
    recall: avg(sums.r),
    ndcg: avg(sums.n),
    coverage: built.items ? shown.size / built.items : 0,
    popularity: { precision: avg(sums.pp), recall: avg(sums.pr), ndcg: avg(sums.pn) },
  };

  const modelRunId = await insertModelRun(d.db, {
    kind: 'backtest',
    status: 'done',
    asOf: cutoff,
    cutoff,
    horizonDays: H,
    fallback: churn.fallback,
    params: { k, churnModel: predictor.kind },
    metrics: { churn, btyd, recommend },
    rowCount: churn.n,
    positives: churn.positives,
    baseRate: churn.baseRate,
  });
  d.log.info({ modelRunId, auc: churn.auc, ndcg: recommend.ndcg }, 'backtest finished');
  return { cutoff: cutoff.toISOString(), horizonDays: H, churn, btyd, recommend, modelRunId };
}
