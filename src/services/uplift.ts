/**
 * Learning from past campaigns: per offer (coupon, email), an uplift model fitted on settled
 * outreach — the treated rows of that offer against every holdout row (the holdout gets
 * nothing, so it is the control for both offers) — with a minimum-data gate, an honest
 * held-out evaluation beside random and churn-risk ranking, and the stored model the value
 * policy plans with.
 *
 * Evaluation protocol (fixed, so numbers compare): users split 70/30 by a hash of the user id;
 * the learner is chosen on a further 30% of the training users (selectUplift, by Qini) and
 * scored on the 30% test users. The stored model is then refitted on every row.
 */
import { imputeColumnMeans, UPLIFT_FEATURE_NAMES, upliftRow, type OutreachFeatures } from '../domain/uplift-features.js';
import { qiniAucScore, upliftAtK, upliftAucScore } from '../domain/uplift-metrics.js';
import { hash32 } from '../domain/risk.js';
import { fmix32 } from '../domain/outreach-policy.js';
import type { Offer } from '../domain/value-policy.js';
import type { Database, Queryable } from '../db/client.js';
import type { Logger } from '../logger.js';
import { selectUplift, UpliftModel, type UpliftLearner, type UpliftModelJSON } from '../ml/uplift.js';
import { featuresAsOf, itemDims } from '../store/features.js';
import { insertModelRun } from '../store/model-runs.js';

export const OFFERS: readonly Offer[] = ['coupon', 'email'];

export interface UpliftGate {
  /** Settled rows needed in each arm (treated with the offer; holdout). */
  minRows: number;
  /** Conversions needed in each arm. */
  minConversions: number;
}

export type UpliftOutcome = 'purchase' | 'engagement';

export interface OfferEvaluation {
  learner: UpliftLearner;
  qini: number;
  auuc: number;
  upliftAt: { '0.1': number; '0.3': number; '0.5': number };
  random: { qini: number; auuc: number };
  risk: { qini: number; auuc: number };
  validation: Record<UpliftLearner, { qini: number; auuc: number }>;
  nTrain: number;
  nTest: number;
  treatedRate: number;
  holdoutRate: number;
}

export interface UpliftFit {
  outcome: UpliftOutcome;
  /** Per offer: the evaluation, or why the gate held it back. */
  offers: Record<Offer, OfferEvaluation | { gate: string }>;
  models: Partial<Record<Offer, UpliftModel>>;
  /** Set when not every offer passed the gate: the policy keeps to the risk tiers, and says why. */
  fallback: string | null;
  impute: number[];
  /** Per offer, the treated training rows by risk tier: where the model has seen the offer at work. */
  support: Record<Offer, Record<string, number>>;
}

interface TrainingRow {
  user_id: string;
  tier: string;
  channel: string;
  holdout: boolean;
  converted: boolean;
  features: OutreachFeatures | string;
}

/**
 * Training reads at most this many settled rows, the newest: the fit stays bounded however long
 * the loop has run (DESIGN: training samples a bounded number of rows), and follows what users
 * do now rather than a year ago.
 */
export const UPLIFT_MAX_ROWS = 300_000;

/** Settled rows with their planning-time features, optionally one campaign only. */
async function trainingRows(q: Queryable, o: { campaign?: string | undefined; outcome: UpliftOutcome }): Promise<TrainingRow[]> {
  const outcome =
    o.outcome === 'purchase'
      ? 'oc.converted'
      : `exists (select 1 from events e where e.user_id = oc.user_id and e.occurred_at >= oc.window_start
                  and e.occurred_at < oc.window_start + make_interval(days => oc.window_days))`;
  return q.query<TrainingRow>(
    `select oc.user_id, oc.tier, oc.channel, oc.holdout, ${outcome} as converted, o.features
     from outreach_outcomes oc join outreach o on o.id = oc.outreach_id
     where o.features is not null and oc.channel in ('coupon', 'email') ${o.campaign ? 'and oc.campaign = $1' : ''}
     order by oc.outreach_id desc limit ${UPLIFT_MAX_ROWS}`,
    o.campaign ? [o.campaign] : [],
  );
}

/** The test users: 30% by a hash of the user id (the same split for every offer and run). */
function isTest(userId: string): boolean {
  return fmix32(hash32(`uplift-test:${userId}`)) / 0x1_0000_0000 < 0.3;
}

function isValidation(userId: string): boolean {
  return fmix32(hash32(`uplift-validation:${userId}`)) / 0x1_0000_0000 < 0.3;
}

/** A deterministic pseudo-random score per user, for the random-ranking baseline. */
function randomScore(userId: string): number {
  return fmix32(hash32(`uplift-random:${userId}`)) / 0x1_0000_0000;
}

const nCols = UPLIFT_FEATURE_NAMES.length;
const CHURN_COL = UPLIFT_FEATURE_NAMES.indexOf('churn_probability');

/**
 * Fits and evaluates the uplift models on the settled outreach in the database. Pure reads:
 * storing the result is {@link recordUpliftFit}'s.
 */
export async function fitUpliftModels(q: Queryable, o: { gate: UpliftGate; outcome?: UpliftOutcome; campaign?: string | undefined; lambda?: number }): Promise<UpliftFit> {
  const outcome = o.outcome ?? 'purchase';
  const rows = await trainingRows(q, { campaign: o.campaign, outcome });
  const n = rows.length;
  const x = new Float64Array(n * nCols);
  rows.forEach((r, i) => {
    const f = (typeof r.features === 'string' ? JSON.parse(r.features) : r.features) as OutreachFeatures;
    upliftRow(f, x.subarray(i * nCols, (i + 1) * nCols));
  });
  const impute = imputeColumnMeans(x, n, nCols);
  const offers = {} as UpliftFit['offers'];
  const models: UpliftFit['models'] = {};
  const held: string[] = [];
  const support = Object.fromEntries(OFFERS.map((o) => [o, {} as Record<string, number>])) as UpliftFit['support'];
  for (const r of rows) {
    if (r.holdout) continue;
    const s = support[r.channel as Offer];
    if (s) s[r.tier] = (s[r.tier] ?? 0) + 1;
  }
  for (const offer of OFFERS) {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      if (r.holdout || r.channel === offer) idx.push(i);
    }
    const t: number[] = idx.map((i) => (rows[i]!.holdout ? 0 : 1));
    const y: number[] = idx.map((i) => (rows[i]!.converted ? 1 : 0));
    const nT = t.reduce((a, b) => a + b, 0);
    const nC = t.length - nT;
    const convT = y.reduce((a, v, k) => a + (t[k] === 1 ? v : 0), 0);
    const convC = y.reduce((a, v, k) => a + (t[k] === 0 ? v : 0), 0);
    const gate =
      nT < o.gate.minRows || nC < o.gate.minRows
        ? `${offer}: ${nT} treated and ${nC} holdout rows settled (UPLIFT_MIN_ROWS is ${o.gate.minRows} per arm)`
        : convT < o.gate.minConversions || convC < o.gate.minConversions
          ? `${offer}: ${convT} treated and ${convC} holdout conversions (UPLIFT_MIN_CONVERSIONS is ${o.gate.minConversions} per arm)`
          : null;
    if (gate) {
      offers[offer] = { gate };
      held.push(gate);
      continue;
    }
    try {
      const sub = takeRows(x, idx);
      const users = idx.map((i) => rows[i]!.user_id);
      const testMask = users.map((u) => (isTest(u) ? 1 : 0));
      const trainIdx = testMask.flatMap((m, k) => (m === 0 ? [k] : []));
      const testIdx = testMask.flatMap((m, k) => (m === 1 ? [k] : []));
      const pick = <T>(a: readonly T[], ks: number[]) => ks.map((k) => a[k]!);
      const train = { x: takeRows(sub, trainIdx), nRows: trainIdx.length, nCols, treatment: pick(t, trainIdx), y: pick(y, trainIdx) };
      const validation = pick(users, trainIdx).map((u) => (isValidation(u) ? 1 : 0));
      const chosen = selectUplift(train, validation, { featureNames: UPLIFT_FEATURE_NAMES, lambda: o.lambda ?? 1 });
      const xTest = takeRows(sub, testIdx);
      const yTest = pick(y, testIdx);
      const tTest = pick(t, testIdx);
      const scores = chosen.model.predictMany(xTest, testIdx.length);
      const rnd = pick(users, testIdx).map(randomScore);
      const risk = testIdx.map((_, k) => xTest[k * nCols + CHURN_COL]!);
      offers[offer] = {
        learner: chosen.learner,
        qini: qiniAucScore(yTest, scores, tTest),
        auuc: upliftAucScore(yTest, scores, tTest),
        upliftAt: { '0.1': upliftAtK(yTest, scores, tTest, 0.1), '0.3': upliftAtK(yTest, scores, tTest, 0.3), '0.5': upliftAtK(yTest, scores, tTest, 0.5) },
        random: { qini: qiniAucScore(yTest, rnd, tTest), auuc: upliftAucScore(yTest, rnd, tTest) },
        risk: { qini: qiniAucScore(yTest, risk, tTest), auuc: upliftAucScore(yTest, risk, tTest) },
        validation: chosen.validation,
        nTrain: trainIdx.length,
        nTest: testIdx.length,
        treatedRate: rate(yTest, tTest, 1),
        holdoutRate: rate(yTest, tTest, 0),
      };
      // The model the policy plans with: the chosen learner, refitted on every row.
      const all = { x: sub, nRows: idx.length, nCols, treatment: t, y };
      models[offer] = selectUplift(all, users.map((u) => (isValidation(u) ? 1 : 0)), { featureNames: UPLIFT_FEATURE_NAMES, lambda: o.lambda ?? 1 }).model;
    } catch (e) {
      // Data the learners cannot be fitted on (an arm without conversions in the training users…) holds the offer back like the gate.
      if (!(e instanceof RangeError)) throw e;
      const why = `${offer}: ${e.message}`;
      offers[offer] = { gate: why };
      held.push(why);
    }
  }
  return { outcome, offers, models, fallback: held.length ? `the uplift model's minimum-data gate: ${held.join('; ')}` : null, impute: Array.from(impute), support };
}

function rate(y: number[], t: number[], arm: 0 | 1): number {
  let n = 0;
  let c = 0;
  for (let i = 0; i < y.length; i++) {
    if (t[i] !== arm) continue;
    n++;
    c += y[i]!;
  }
  return n ? c / n : Number.NaN;
}

function takeRows(x: Float64Array, idx: readonly number[]): Float64Array {
  const out = new Float64Array(idx.length * nCols);
  idx.forEach((i, k) => out.set(x.subarray(i * nCols, (i + 1) * nCols), k * nCols));
  return out;
}

/** Stores a fit as a model run (kind `uplift`): the models, the gate and the held-out metrics. */
export async function recordUpliftFit(q: Queryable, fit: UpliftFit, asOf: Date, gate: UpliftGate): Promise<number> {
  const metrics: Record<string, unknown> = {};
  for (const offer of OFFERS) metrics[offer] = fit.offers[offer];
  return insertModelRun(q, {
    kind: 'uplift',
    status: 'done',
    asOf,
    cutoff: null,
    horizonDays: null,
    fallback: fit.fallback,
    params: {
      outcome: fit.outcome,
      gate,
      featureNames: UPLIFT_FEATURE_NAMES,
      impute: fit.impute,
      support: fit.support,
      models: Object.fromEntries(OFFERS.map((o) => [o, fit.models[o]?.toJSON() ?? null])),
    },
    metrics,
    rowCount: null,
    positives: null,
    baseRate: null,
  });
}

/** What the planner needs: both offers' models, or the reason the tiers decide. */
export interface UpliftPolicyModels {
  runId: number;
  models: Record<Offer, UpliftModel>;
  impute: Float64Array;
  /** Treated training rows per offer and risk tier (runs stored before it was kept: none, and every offer counts as supported). */
  support: Record<Offer, Record<string, number>> | null;
}

/**
 * Whether the model may choose `offer` for a user of this risk tier: only where at least
 * `minRows` treated rows of that tier taught it the offer (the gate's per-arm minimum). A
 * T-learner's estimate for users the logging policy never gave the offer to is an
 * extrapolation — trained on the tiers' data it put email uplift for high-risk users at 0.19
 * where the truth was 0.03 — so there the offer waits until exploration has shown it enough.
 */
export function upliftSupported(m: UpliftPolicyModels, offer: Offer, tier: string, minRows: number): boolean {
  return m.support === null || (m.support[offer]?.[tier] ?? 0) >= minRows;
}

/** Loads the newest uplift run; null (with the reason) unless both offers passed the gate. */
export async function loadUpliftModels(q: Queryable): Promise<{ ok: UpliftPolicyModels } | { fallback: string }> {
  const [r] = await q.query<{ id: number; fallback: string | null; params: unknown }>(`select id, fallback, params from model_runs where kind = 'uplift' and status = 'done' order by id desc limit 1`);
  if (!r) return { fallback: 'no uplift model has been fitted yet (no settled outreach)' };
  if (r.fallback) return { fallback: r.fallback };
  const p = (typeof r.params === 'string' ? JSON.parse(r.params) : r.params) as { models: Record<Offer, UpliftModelJSON | null>; impute: number[]; support?: Record<Offer, Record<string, number>> };
  const coupon = p.models.coupon;
  const email = p.models.email;
  if (!coupon || !email) return { fallback: 'the newest uplift run has no model for every offer' };
  return { ok: { runId: Number(r.id), models: { coupon: UpliftModel.load(coupon), email: UpliftModel.load(email) }, impute: Float64Array.from(p.impute), support: p.support ?? null } };
}

/**
 * Imported campaigns carry no features: give each imported row the churn features of its user
 * as of the row's send day (what a model could have known then; churn probability and RFM stay
 * unknown and are imputed), and its contact history within its campaign. One features pass per
 * send day over the seq range of that day's users, so a few campaign days cost a few passes.
 * Returns the rows filled.
 */
export async function fillImportedFeatures(q: Queryable, maxDays = 60): Promise<number> {
  const days = await q.query<{ day: string; users: string[] }>(
    `select to_char(date_trunc('day', scheduled_at, 'UTC'), 'YYYY-MM-DD') as day, array_agg(distinct user_id) as users
     from outreach where origin = 'import' and features is null
     group by 1 order by 1 limit $1`,
    [maxDays],
  );
  if (days.length === 0) return 0;
  const items = await itemDims(q);
  let filled = 0;
  for (const d of days) {
    const asOf = new Date(`${d.day}T00:00:00Z`);
    const [range] = await q.query<{ lo: number | null; hi: number | null }>(`select min(seq)::float8 as lo, max(seq)::float8 as hi from users where id = any($1::text[])`, [d.users]);
    const wanted = new Set(d.users);
    const rows = range?.lo == null || range.hi == null ? [] : (await featuresAsOf(q, { asOf, seqFrom: Number(range.lo), seqTo: Number(range.hi) + 1, items })).filter((r) => wanted.has(r.userId));
    const updated = await q.query<{ id: number }>(
      `with h as (
         select o.id, o.user_id, count(p.id)::int as contacts, extract(epoch from (o.scheduled_at - max(p.scheduled_at))) / 86400.0 as since
         from outreach o left join outreach p on p.user_id = o.user_id and p.campaign = o.campaign and p.scheduled_at < o.scheduled_at
         where o.origin = 'import' and o.features is null and o.scheduled_at >= $1::timestamptz and o.scheduled_at < $1::timestamptz + interval '1 day'
         group by o.id, o.user_id, o.scheduled_at),
       f as (select * from unnest($2::text[], $3::text[]) as f(user_id, v))
       update outreach o set features = jsonb_build_object('v', coalesce(f.v::jsonb, '[]'::jsonb), 'churn', null, 'rfm', null, 'contacts', h.contacts, 'daysSinceContact', h.since)
       from h left join f on f.user_id = h.user_id
       where o.id = h.id
       returning o.id`,
      [asOf.toISOString(), rows.map((r) => r.userId), rows.map((r) => JSON.stringify(Array.from(r.values, (x) => Math.round(x * 1e4) / 1e4)))],
    );
    filled += updated.length;
  }
  return filled;
}

/** Fits on what has settled and stores the run: what the plan step does before planning (unless the policy is tiers). */
export async function refreshUpliftModels(d: { db: Database; log: Logger; now: () => Date }, gate: UpliftGate): Promise<{ runId: number; fallback: string | null }> {
  await fillImportedFeatures(d.db);
  const fit = await fitUpliftModels(d.db, { gate });
  const runId = await recordUpliftFit(d.db, fit, d.now(), gate);
  const summary = Object.fromEntries(OFFERS.map((o) => [o, 'gate' in fit.offers[o] ? 'gated' : (fit.offers[o] as OfferEvaluation).qini]));
  d.log.info({ runId, fallback: fit.fallback, qini: summary }, 'uplift models fitted');
  return { runId, fallback: fit.fallback };
}

export interface UpliftRunSummary {
  runId: number;
  asOf: string;
  fallback: string | null;
  offers: Record<string, OfferEvaluation | null>;
}

/** The newest uplift run's metrics, for reports. */
export async function latestUpliftRun(q: Queryable): Promise<UpliftRunSummary | null> {
  const [r] = await q.query<{ id: number; as_of: string; fallback: string | null; metrics: unknown }>(`select id, as_of::text, fallback, metrics from model_runs where kind = 'uplift' and status = 'done' order by id desc limit 1`);
  if (!r) return null;
  const m = (typeof r.metrics === 'string' ? JSON.parse(r.metrics) : r.metrics) as Record<string, OfferEvaluation | { gate: string }>;
  return {
    runId: Number(r.id),
    asOf: new Date(r.as_of).toISOString(),
    fallback: r.fallback,
    offers: Object.fromEntries(OFFERS.map((o) => [o, m[o] && !('gate' in (m[o] as object)) ? (m[o] as OfferEvaluation) : null])),
  };
}

export interface UpliftBacktest {
  outcome: UpliftOutcome;
  campaign: string | null;
  uplift: Partial<Record<Offer, Omit<OfferEvaluation, 'validation' | 'learner'> & { learner: UpliftLearner }>>;
  /** Offers that could not be evaluated, and why. */
  skipped: Partial<Record<Offer, string>>;
}

/**
 * `rekindle backtest --uplift`: fit and evaluate on the settled outreach in the database (users
 * split 70/30 by a hash of the user id). The bar is only that each arm has rows and conversions
 * to fit on; the policy's own gate (UPLIFT_MIN_*) is not applied, so thin data shows as noise.
 */
export async function backtestUplift(q: Queryable, o: { campaign?: string | undefined; outcome: UpliftOutcome }): Promise<UpliftBacktest> {
  await fillImportedFeatures(q);
  const fit = await fitUpliftModels(q, { gate: { minRows: 20, minConversions: 5 }, campaign: o.campaign, outcome: o.outcome });
  const out: UpliftBacktest = { outcome: o.outcome, campaign: o.campaign ?? null, uplift: {}, skipped: {} };
  for (const offer of OFFERS) {
    const r = fit.offers[offer];
    if ('gate' in r) out.skipped[offer] = r.gate;
    else {
      const { validation: _validation, ...rest } = r;
      out.uplift[offer] = rest;
    }
  }
  return out;
}
