/**
 * Read-only queries for the growth team's questions, shared by the Slack bot and the CLI
 * reports: counts, segments, ranked at-risk users, one user's card, the model card, the risk
 * histogram, and the digest's "became high risk" list. Every query is set-based (one
 * statement, no per-user loops) and shaped for an index:
 *
 * - whole-population totals (overview, segments, histogram) are read from the newest finished
 *   rescore run's precomputed aggregates (src/store/score-aggregates.ts) by the insights
 *   service; the live versions here are the fallback for a run without them, and the reference
 *   the aggregates are tested against. Live, they are an index-only pass over every score
 *   (~250 ms at 1M users) and, for "active in the last 30 days", over a month of events (~0.3–0.5 s);
 * - ranked lists walk `(expected_value_minor * churn_probability) desc nulls last` (the
 *   expression index `user_scores_value_at_risk_idx`), or, with a segment or tier filter,
 *   one short index range per (segment, tier) cell of `user_scores_segment_tier_value_at_risk_idx`,
 *   merged (`rankedCells`);
 * - a user's card is primary-key lookups;
 * - the digest's "became high" list is one merge anti-join, in user id order, of the high tier
 *   (the partial index `user_scores_high_tier_user_idx`) against the baseline table
 *   `digest_baseline_users`, both index-only.
 *
 * Value at risk is `expected_value_minor × churn_probability`: what the user would spend over
 * the horizon if they stay, weighted by the chance they do not.
 */
import type { Queryable } from '../db/client.js';
import { RISK_TIERS, type RiskTier } from '../domain/risk.js';
import { RFM_SEGMENTS } from '../ml/rfm.js';
import { scoreCells, usersAndActive, type ScoreAggregates, type ScoreCell } from './score-aggregates.js';

export { scoreCells, type ScoreCell } from './score-aggregates.js';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export interface RunSummary {
  runId: number;
  kind: 'rescore' | 'backtest';
  status: string;
  asOf: Date;
  startedAt: Date;
  finishedAt: Date | null;
  /** The reason when the run fell back to RFM rules; null when the logistic model scored. */
  fallback: string | null;
  metrics: Record<string, unknown>;
  rowCount: number | null;
  positives: number | null;
  baseRate: number | null;
}

export interface ChurnMetrics {
  auc: number | null;
  prAuc: number | null;
  brier: number | null;
  baselineAuc: number | null;
  n: number | null;
  positives: number | null;
}

export interface OverviewCounts {
  /**
   * When the numbers come from a rescore run's precomputed aggregates: that run's as-of time,
   * the moment they describe ("as of …"). Null when they were counted live just now.
   */
  asOf: Date | null;
  users: number;
  /** Users with any event in the 30 days before `asOf` (or before now, counted live). */
  active30d: number;
  /** Scored users: those who ever paid (the churn population). */
  payers: number;
  tiers: Record<RiskTier, number>;
  /** Users per segment, best segment first (RFM order), empty segments left out. */
  segments: { segment: string; users: number }[];
  lastRescore: (RunSummary & { churn: ChurnMetrics | null }) | null;
}

export interface SegmentStat {
  segment: string;
  users: number;
  /** Mean churn probability. */
  avgChurn: number;
  high: number;
  medium: number;
  low: number;
  valueAtRiskMinor: number;
}

/** One row of a ranked list. `name`/`email` are raw: the adapter masks them. */
export interface RankedUser {
  userId: string;
  name: string | null;
  email: string | null;
  churnProbability: number;
  tier: string;
  segment: string | null;
  pAlive: number | null;
  expectedValueMinor: number | null;
  valueAtRiskMinor: number | null;
  /** The feature pushing risk up the most (first explanation entry), if any. */
  topFeature: string | null;
}

export interface Explanation {
  feature: string;
  contribution: number | null;
  value: number | null;
  /** RFM fallback runs explain with a reason instead of coefficients. */
  reason?: string;
}

export interface CardRecommendation {
  rank: number;
  itemId: string;
  title: string | null;
  score: number;
  reason: Record<string, unknown>;
  /** Title of the item the reason refers to ("because you bought …"). */
  reasonTitle: string | null;
}

export interface LastOutreach {
  id: number;
  cycleId: string;
  tier: string;
  channel: string;
  holdout: boolean;
  state: string;
  scheduledAt: Date;
  sentAt: Date | null;
  createdAt: Date;
  lastError: string | null;
  coupon: { code: string; kind: string; value: number; currency: string | null; expiresAt: Date; redeemed: boolean } | null;
  /** What chose the offer (`tiers`, `uplift`, `explore`; null for imported rows) and why (src/services/outreach-plan.ts). */
  policy: string | null;
  reason: Record<string, unknown> | null;
  /** First purchase or renewal within the conversion window after sending (or the would-be time, for the holdout). */
  convertedAt: Date | null;
  windowEndsAt: Date;
}

export interface UserCard {
  userId: string;
  name: string | null;
  email: string | null;
  locale: string | null;
  timezone: string | null;
  signupAt: Date | null;
  unsubscribed: boolean;
  score: {
    churnProbability: number;
    tier: string;
    pAlive: number | null;
    expectedPurchases: number | null;
    expectedValueMinor: number | null;
    valueAtRiskMinor: number | null;
    segment: string | null;
    persona: number | null;
    rfm: { r: number | null; f: number | null; m: number | null };
    explanation: Explanation[];
    modelRunId: number;
    scoredAt: Date;
  } | null;
  recommendations: CardRecommendation[];
  lastOutreach: LastOutreach | null;
}

export interface ModelCard {
  rescore: (RunSummary & { churn: ChurnMetrics | null; scored: number | null }) | null;
  backtest: (RunSummary & { churn: ChurnMetrics | null; recommend: Record<string, unknown> | null; btyd: Record<string, unknown> | null }) | null;
}

export interface RiskBucket {
  from: number;
  to: number;
  users: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(v as string));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const finiteOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The value-at-risk expression exactly as `user_scores_value_at_risk_idx` spells it, so the planner matches it. */
const VAR = (alias: string) => `(${alias}.expected_value_minor * ${alias}.churn_probability)`;

function emptyTiers(): Record<RiskTier, number> {
  return { high: 0, medium: 0, low: 0 };
}

function segmentOrder(segment: string | null): number {
  const i = RFM_SEGMENTS.indexOf(segment as (typeof RFM_SEGMENTS)[number]);
  return i < 0 ? RFM_SEGMENTS.length : i;
}

function toChurnMetrics(metrics: Record<string, unknown>): ChurnMetrics | null {
  const c = metrics.churn as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') return null;
  return {
    auc: finiteOrNull(c.auc),
    prAuc: finiteOrNull(c.prAuc),
    brier: finiteOrNull(c.brier),
    baselineAuc: finiteOrNull(c.baselineAuc),
    n: finiteOrNull(c.n),
    positives: finiteOrNull(c.positives),
  };
}

function toRunSummary(r: Record<string, unknown>): RunSummary {
  return {
    runId: num(r.id),
    kind: r.kind as RunSummary['kind'],
    status: String(r.status),
    asOf: dateOrNull(r.as_of) as Date,
    startedAt: dateOrNull(r.started_at) as Date,
    finishedAt: dateOrNull(r.finished_at),
    fallback: (r.fallback as string | null) ?? null,
    metrics: json<Record<string, unknown>>(r.metrics) ?? {},
    rowCount: numOrNull(r.row_count),
    positives: numOrNull(r.positives),
    baseRate: numOrNull(r.base_rate),
  };
}

// params is left out on purpose: it holds whole fitted models (megabytes of jsonb to detoast).
const RUN_COLUMNS = 'id, kind, status, as_of, started_at, finished_at, fallback, metrics, row_count, positives, base_rate';

const RANKED_COLUMNS = (s: string) =>
  `${s}.user_id, ${s}.churn_probability, ${s}.risk_tier, ${s}.segment, ${s}.p_alive, ${s}.expected_value_minor,
   ${VAR(s)} as value_at_risk, ${s}.explanation->0->>'feature' as top_feature`;

function toRanked(r: Record<string, unknown>): RankedUser {
  return {
    userId: String(r.user_id),
    name: (r.name as string | null) ?? null,
    email: (r.email as string | null) ?? null,
    churnProbability: num(r.churn_probability),
    tier: String(r.risk_tier),
    segment: (r.segment as string | null) ?? null,
    pAlive: numOrNull(r.p_alive),
    expectedValueMinor: numOrNull(r.expected_value_minor),
    valueAtRiskMinor: numOrNull(r.value_at_risk),
    topFeature: (r.top_feature as string | null) ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------------------------

/** The latest finished run of a kind, without its (large) params. */
export async function latestRun(q: Queryable, kind: 'rescore' | 'backtest'): Promise<RunSummary | null> {
  const [r] = await q.query<Record<string, unknown>>(
    `select ${RUN_COLUMNS} from model_runs where kind = $1 and status = 'done' order by id desc limit 1`,
    [kind],
  );
  return r ? toRunSummary(r) : null;
}

/** One run by id, without its (large) params. */
export async function runSummary(q: Queryable, id: number): Promise<RunSummary | null> {
  const [r] = await q.query<Record<string, unknown>>(`select ${RUN_COLUMNS} from model_runs where id = $1`, [id]);
  return r ? toRunSummary(r) : null;
}

/**
 * A cache key for whole-population answers: the newest rescore run (finished or not), the
 * newest finished one and the newest with stored aggregates. Any of them moving (a run starts,
 * finishes, or gets its aggregates) changes the answer's source or its numbers.
 */
export async function rescoreRunsKey(q: Queryable): Promise<string> {
  const [r] = await q.query<{ newest: number | null; done: number | null; aggregated: number | null }>(
    `select max(id) as newest, max(id) filter (where status = 'done') as done, (select max(model_run_id) from score_aggregates) as aggregated
     from model_runs where kind = 'rescore'`,
  );
  return `${r?.newest ?? 0}:${r?.done ?? 0}:${r?.aggregated ?? 0}`;
}

/** Payers, tiers and segment sizes (best segment first, empty ones left out) from the (segment, tier) cells. */
function tally(cells: readonly ScoreCell[]): Pick<OverviewCounts, 'payers' | 'tiers' | 'segments'> {
  const tiers = emptyTiers();
  const bySegment = new Map<string, number>();
  let payers = 0;
  for (const c of cells) {
    payers += c.users;
    if (c.tier in tiers) tiers[c.tier as RiskTier] += c.users;
    if (c.segment !== null) bySegment.set(c.segment, (bySegment.get(c.segment) ?? 0) + c.users);
  }
  return {
    payers,
    tiers,
    segments: [...bySegment.entries()]
      .sort((a, b) => segmentOrder(a[0]) - segmentOrder(b[0]) || (a[0] < b[0] ? -1 : 1))
      .map(([segment, users]) => ({ segment, users })),
  };
}

/**
 * Live: users, users active in the 30 days before `now`, payers, tiers, segments, and the last
 * rescore with its AUC, counted from the tables now (see {@link overviewFromAggregates}).
 */
export async function overviewCounts(q: Queryable, now: Date): Promise<OverviewCounts> {
  const [counts, cells, run] = await Promise.all([
    usersAndActive(q, now),
    scoreCells(q),
    latestRun(q, 'rescore'),
  ]);
  return {
    asOf: null,
    users: counts.users,
    active30d: counts.active,
    ...tally(cells),
    lastRescore: run ? { ...run, churn: toChurnMetrics(run.metrics) } : null,
  };
}

/**
 * The overview from a run's precomputed aggregates (`asOf` = the run's as-of time); `run` is
 * the rescore run they belong to, for the model line.
 */
export function overviewFromAggregates(a: ScoreAggregates, run: RunSummary | null): OverviewCounts {
  return {
    asOf: a.asOf,
    users: a.users,
    active30d: a.active30d,
    ...tally(a.cells),
    lastRescore: run ? { ...run, churn: toChurnMetrics(run.metrics) } : null,
  };
}

/** Each segment with its size, mean churn probability, tier split and value at risk, best segment first. */
export function segmentStatsFromCells(cells: readonly ScoreCell[]): SegmentStat[] {
  const out = new Map<string, SegmentStat>();
  for (const c of cells) {
    if (c.segment === null) continue;
    let s = out.get(c.segment);
    if (!s) out.set(c.segment, (s = { segment: c.segment, users: 0, avgChurn: 0, high: 0, medium: 0, low: 0, valueAtRiskMinor: 0 }));
    s.users += c.users;
    s.avgChurn += c.churnSum; // a sum until the end
    s.valueAtRiskMinor += c.valueAtRiskMinor;
    if (c.tier === 'high' || c.tier === 'medium' || c.tier === 'low') s[c.tier] += c.users;
  }
  return [...out.values()]
    .map((s) => ({ ...s, avgChurn: s.users ? s.avgChurn / s.users : 0 }))
    .sort((a, b) => segmentOrder(a.segment) - segmentOrder(b.segment) || (a.segment < b.segment ? -1 : 1));
}

/** Live: each segment's statistics from the scores now (see {@link segmentStatsFromCells}). */
export async function segmentStats(q: Queryable): Promise<SegmentStat[]> {
  return segmentStatsFromCells(await scoreCells(q));
}

/** Scored users matching an optional tier and segment: an index-only range count. */
export async function countUsers(q: Queryable, f: { tier?: RiskTier | undefined; segment?: string | undefined }): Promise<number> {
  const where: string[] = [];
  const params: unknown[] = [];
  // Distinct statement texts per filter: a generic plan for "($1 is null or …)" could not use the index.
  if (f.segment !== undefined) where.push(`segment = $${params.push(f.segment)}`);
  if (f.tier !== undefined) where.push(`risk_tier = $${params.push(f.tier)}`);
  const [r] = await q.query<{ n: number }>(`select count(*)::int as n from user_scores${where.length ? ` where ${where.join(' and ')}` : ''}`, params);
  return num(r?.n ?? 0);
}

/**
 * Live: histogram of churn probability in `buckets` equal-width buckets over [0, 1] (probability
 * 1 falls in the last one). Every bucket is returned, empty ones with 0 users.
 */
export async function riskHistogram(q: Queryable, buckets = 20): Promise<RiskBucket[]> {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1000) throw new RangeError(`buckets must be an integer from 1 to 1000, got ${buckets}`);
  const rows = await q.query<{ b: number; n: number }>(
    `select least(width_bucket(churn_probability, 0, 1, $1), $1)::int as b, count(*)::int as n from user_scores group by 1`,
    [buckets],
  );
  const counts = new Array<number>(buckets).fill(0);
  for (const r of rows) {
    const i = Math.max(1, num(r.b)) - 1; // width_bucket gives 0 below the range: probabilities are ≥ 0, but be safe
    counts[i] = (counts[i] ?? 0) + num(r.n);
  }
  return histogramFromCounts(counts);
}

/** Buckets from users per bucket (equal widths over [0, 1]), e.g. a stored histogram of the aggregates. */
export function histogramFromCounts(counts: readonly number[]): RiskBucket[] {
  return counts.map((users, i) => ({ from: i / counts.length, to: (i + 1) / counts.length, users }));
}

// ---------------------------------------------------------------------------------------------
// Ranked lists
// ---------------------------------------------------------------------------------------------

/**
 * The top `n` scored users by value at risk among the given segments and tiers: one
 * `limit n` index range per (segment, tier) cell, then a merge of at most cells × n rows.
 */
async function rankedCells(q: Queryable, segments: readonly string[], tiers: readonly string[], n: number): Promise<RankedUser[]> {
  const rows = await q.query<Record<string, unknown>>(
    `select t.*, u.name, u.email
     from (
       select c.* from unnest($1::text[]) as seg(name) cross join unnest($2::text[]) as tr(name)
       cross join lateral (
         select ${RANKED_COLUMNS('s')} from user_scores s
         where s.segment = seg.name and s.risk_tier = tr.name
         order by ${VAR('s')} desc nulls last limit $3
       ) c
       order by c.value_at_risk desc nulls last, c.user_id limit $3
     ) t join users u on u.id = t.user_id
     order by t.value_at_risk desc nulls last, t.user_id`,
    [segments, tiers, n],
  );
  return rows.map(toRanked);
}

/**
 * Scored users ranked by value at risk (expected value × churn probability), highest first,
 * optionally only one segment and/or one tier. `n` is capped by the caller (the intent parser
 * allows 1–100).
 */
export async function atRiskUsers(q: Queryable, f: { n: number; segment?: string | undefined; tier?: RiskTier | undefined }): Promise<RankedUser[]> {
  if (!Number.isInteger(f.n) || f.n < 1 || f.n > 1000) throw new RangeError(`n must be an integer from 1 to 1000, got ${f.n}`);
  if (f.segment === undefined && f.tier === undefined) {
    const rows = await q.query<Record<string, unknown>>(
      `select t.*, u.name, u.email from (
         select ${RANKED_COLUMNS('s')} from user_scores s order by ${VAR('s')} desc nulls last limit $1
       ) t join users u on u.id = t.user_id
       order by t.value_at_risk desc nulls last, t.user_id`,
      [f.n],
    );
    return rows.map(toRanked);
  }
  return rankedCells(q, f.segment !== undefined ? [f.segment] : RFM_SEGMENTS, f.tier !== undefined ? [f.tier] : RISK_TIERS, f.n);
}

/** The users of one segment, the ones with the most value at risk first. */
export async function segmentUsers(q: Queryable, segment: string, n: number): Promise<RankedUser[]> {
  return atRiskUsers(q, { n, segment });
}

// ---------------------------------------------------------------------------------------------
// One user
// ---------------------------------------------------------------------------------------------

/**
 * Resolves an id or an email to a user id. Emails match exactly first (the `users.email`
 * index), then case-insensitively; when several users share an address the most recently
 * updated wins.
 */
export async function findUserId(q: Queryable, ref: { kind: 'id' | 'email'; value: string }): Promise<string | null> {
  if (ref.kind === 'id') {
    const [r] = await q.query<{ id: string }>('select id from users where id = $1', [ref.value]);
    return r ? String(r.id) : null;
  }
  const [exact] = await q.query<{ id: string }>('select id from users where email = $1 order by updated_at desc, id limit 1', [ref.value]);
  if (exact) return String(exact.id);
  const [folded] = await q.query<{ id: string }>('select id from users where lower(email) = lower($1) order by updated_at desc, id limit 1', [ref.value]);
  return folded ? String(folded.id) : null;
}

/**
 * Everything the bot shows about one user: profile, score with its explanation, top
 * recommendations with titles, and the last outreach with its outcome (coupon redeemed,
 * converted within `windowDays`). Null when there is no such user.
 */
export async function userCard(q: Queryable, userId: string, o: { windowDays: number; recommendations?: number }): Promise<UserCard | null> {
  const [[u], recs, [o1]] = await Promise.all([
    q.query<Record<string, unknown>>(
      `select u.id, u.email, u.name, u.locale, u.timezone, u.signup_at, u.unsubscribed_at is not null as unsubscribed,
              s.churn_probability, s.risk_tier, s.p_alive, s.expected_purchases, s.expected_value_minor, ${VAR('s')} as value_at_risk,
              s.segment, s.persona, s.rfm_r, s.rfm_f, s.rfm_m, s.explanation, s.model_run_id, s.scored_at
       from users u left join user_scores s on s.user_id = u.id where u.id = $1`,
      [userId],
    ),
    q.query<Record<string, unknown>>(
      `select r.rank, r.item_id, i.title, r.score, r.reason, ri.title as reason_title
       from recommendations r left join items i on i.id = r.item_id left join items ri on ri.id = r.reason->>'itemId'
       where r.user_id = $1 order by r.rank limit $2`,
      [userId, o.recommendations ?? 5],
    ),
    q.query<Record<string, unknown>>(
      `select o.id, o.cycle_id, o.tier, o.channel, o.holdout, o.state, o.scheduled_at, o.sent_at, o.created_at, o.last_error,
              o.policy, o.reason, c.code, c.kind, c.value, c.currency, c.expires_at,
              (c.redeemed_at is not null or exists (
                 select 1 from events e where e.coupon_code = c.code and e.type in ('coupon_redeemed','purchase'))) as redeemed,
              (select min(e.occurred_at) from events e
                where e.user_id = o.user_id and e.type in ('purchase','renewal')
                  and e.occurred_at >= coalesce(o.sent_at, o.scheduled_at)
                  and e.occurred_at < coalesce(o.sent_at, o.scheduled_at) + make_interval(days => $2)) as converted_at,
              coalesce(o.sent_at, o.scheduled_at) + make_interval(days => $2) as window_ends_at
       from outreach o left join coupons c on c.id = o.coupon_id
       where o.user_id = $1 order by o.created_at desc, o.id desc limit 1`,
      [userId, o.windowDays],
    ),
  ]);
  if (!u) return null;
  const explanation = (json<unknown[]>(u.explanation) ?? []).map((e) => {
    const x = e as Record<string, unknown>;
    return {
      feature: String(x.feature),
      contribution: finiteOrNull(x.contribution),
      value: finiteOrNull(x.value),
      ...(typeof x.reason === 'string' ? { reason: x.reason } : {}),
    };
  });
  return {
    userId: String(u.id),
    name: (u.name as string | null) ?? null,
    email: (u.email as string | null) ?? null,
    locale: (u.locale as string | null) ?? null,
    timezone: (u.timezone as string | null) ?? null,
    signupAt: dateOrNull(u.signup_at),
    unsubscribed: Boolean(u.unsubscribed),
    score:
      u.churn_probability === null || u.churn_probability === undefined
        ? null
        : {
            churnProbability: num(u.churn_probability),
            tier: String(u.risk_tier),
            pAlive: numOrNull(u.p_alive),
            expectedPurchases: numOrNull(u.expected_purchases),
            expectedValueMinor: numOrNull(u.expected_value_minor),
            valueAtRiskMinor: numOrNull(u.value_at_risk),
            segment: (u.segment as string | null) ?? null,
            persona: numOrNull(u.persona),
            rfm: { r: numOrNull(u.rfm_r), f: numOrNull(u.rfm_f), m: numOrNull(u.rfm_m) },
            explanation,
            modelRunId: num(u.model_run_id),
            scoredAt: dateOrNull(u.scored_at) as Date,
          },
    recommendations: recs.map((r) => ({
      rank: num(r.rank),
      itemId: String(r.item_id),
      title: (r.title as string | null) ?? null,
      score: num(r.score),
      reason: json<Record<string, unknown>>(r.reason) ?? {},
      reasonTitle: (r.reason_title as string | null) ?? null,
    })),
    lastOutreach: o1
      ? {
          id: num(o1.id),
          cycleId: String(o1.cycle_id),
          tier: String(o1.tier),
          channel: String(o1.channel),
          holdout: Boolean(o1.holdout),
          state: String(o1.state),
          scheduledAt: dateOrNull(o1.scheduled_at) as Date,
          sentAt: dateOrNull(o1.sent_at),
          createdAt: dateOrNull(o1.created_at) as Date,
          lastError: (o1.last_error as string | null) ?? null,
          coupon: o1.code
            ? {
                code: String(o1.code),
                kind: String(o1.kind),
                value: num(o1.value),
                currency: (o1.currency as string | null) ?? null,
                expiresAt: dateOrNull(o1.expires_at) as Date,
                redeemed: Boolean(o1.redeemed),
              }
            : null,
          policy: (o1.policy as string | null) ?? null,
          reason: json<Record<string, unknown>>(o1.reason) ?? null,
          convertedAt: dateOrNull(o1.converted_at),
          windowEndsAt: dateOrNull(o1.window_ends_at) as Date,
        }
      : null,
  };
}

/** A persona's description as the rescore run that assigned it described it (`params.personaDescriptions`). */
export interface PersonaDescription {
  cluster: number;
  size: number;
  share: number;
  text: string;
}

/**
 * The persona descriptions of one rescore run. Reading them detoasts the run's params (the
 * fitted models: can be megabytes), so callers cache the answer per run id.
 */
export async function personaDescriptions(q: Queryable, runId: number): Promise<PersonaDescription[]> {
  const [r] = await q.query<{ d: unknown }>(`select params->'personaDescriptions' as d from model_runs where id = $1`, [runId]);
  const list = json<unknown>(r?.d ?? null);
  if (!Array.isArray(list)) return [];
  return list.map((x, i) => {
    const d = x as Record<string, unknown>;
    return { cluster: typeof d.cluster === 'number' ? d.cluster : i, size: num(d.size ?? 0), share: num(d.share ?? 0), text: String(d.text ?? '') };
  });
}

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/** The latest finished rescore and backtest runs with their held-out metrics. */
export async function modelCard(q: Queryable): Promise<ModelCard> {
  const [rescore, backtest] = await Promise.all([latestRun(q, 'rescore'), latestRun(q, 'backtest')]);
  return {
    rescore: rescore ? { ...rescore, churn: toChurnMetrics(rescore.metrics), scored: finiteOrNull(rescore.metrics.scored) } : null,
    backtest: backtest
      ? {
          ...backtest,
          churn: toChurnMetrics(backtest.metrics),
          recommend: (backtest.metrics.recommend as Record<string, unknown> | undefined) ?? null,
          btyd: (backtest.metrics.btyd as Record<string, unknown> | undefined) ?? null,
        }
      : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Digest: users who became high risk since the previous digest
// ---------------------------------------------------------------------------------------------

/**
 * `user_scores` keeps only each user's latest score, so the tiers of the previous run are
 * gone once a rescore has written. The digest therefore keeps its own baseline: every user who
 * was high risk at the last digested run, as rows of `digest_baseline_users` (a primary key in
 * user id order), and that run's id and the baseline's size in `settings` under this key
 * (`{ runId, users }`). Neither depends on how a rescore writes its scores.
 */
export const DIGEST_SNAPSHOT_KEY = 'digest.high_risk_snapshot';

export interface DigestSnapshotInfo {
  runId: number;
  users: number;
}

export async function digestSnapshotInfo(q: Queryable): Promise<DigestSnapshotInfo | null> {
  const [r] = await q.query<{ run_id: number | null; users: number | null }>(
    `select (value->>'runId')::bigint as run_id, (value->>'users')::int as users from settings where key = $1`,
    [DIGEST_SNAPSHOT_KEY],
  );
  return r && r.run_id !== null ? { runId: num(r.run_id), users: num(r.users ?? 0) } : null;
}

/**
 * High-tier users scored by `runId` who are not in the digest baseline (all high-tier users
 * before the first digest): how many, and the `n` with the most value at risk (ties by user id).
 *
 * One statement: a merge anti-join of the high tier in user id order (index-only on the
 * partial index `user_scores_high_tier_user_idx`, which carries what value at risk is made of)
 * against the baseline's primary key, counted and cut to the top `n` by a bounded sort; only
 * those `n` rows are then read from user_scores and users. Its cost grows with the high tier and
 * the baseline (~0.1 s for 300k and 260k), not with how many became high or where they rank.
 */
export async function newHighRiskUsers(q: Queryable, runId: number, n: number): Promise<{ total: number; users: RankedUser[] }> {
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new RangeError(`n must be an integer from 0 to 1000, got ${n}`);
  const rows = await q.query<Record<string, unknown>>(
    `with fresh as materialized (
       select h.user_id, ${VAR('h')} as value_at_risk
       from user_scores h
       where h.risk_tier = 'high' and h.model_run_id = $1
         and not exists (select 1 from digest_baseline_users b where b.user_id = h.user_id)
     ), top as (
       select f.user_id from fresh f order by f.value_at_risk desc nulls last, f.user_id limit $2
     )
     select c.total, t.*, u.name, u.email
     from (select count(*)::int as total from fresh) c
     left join (select ${RANKED_COLUMNS('s')} from top join user_scores s on s.user_id = top.user_id) t on true
     left join users u on u.id = t.user_id
     order by t.value_at_risk desc nulls last, t.user_id`,
    [runId, n],
  );
  return { total: num(rows[0]?.total ?? 0), users: rows.filter((r) => r.user_id !== null && r.user_id !== undefined).map(toRanked) };
}

/** Whether `runId` is the run the current scores come from (a newer rescore overwrites them). */
export async function runHasScores(q: Queryable, runId: number): Promise<boolean> {
  const [r] = await q.query<{ yes: boolean }>('select exists (select 1 from user_scores where model_run_id = $1) as yes', [runId]);
  return Boolean(r?.yes);
}

/**
 * Makes the high tier of `runId` the digest baseline, in one statement that writes only the
 * difference: one index-only merge full join of the high tier and the baseline in user id
 * order finds who left the high tier (deleted) and who joined it (inserted); the run and the
 * baseline's new size go to settings. Returns the size. Vacuum the table afterwards
 * ({@link vacuumDigestBaseline}).
 */
export async function saveDigestSnapshot(q: Queryable, runId: number, by: string): Promise<number> {
  const [r] = await q.query<{ users: number }>(
    `with diff as materialized (
       -- A plain select: joined inside the DELETE, user_scores would need row marks and be read from the heap.
       select h.user_id as high_id, b.user_id as base_id
       from (select s.user_id from user_scores s where s.risk_tier = 'high' and s.model_run_id = $2) h
       full join digest_baseline_users b on b.user_id = h.user_id
       where h.user_id is null or b.user_id is null
     ), gone as (
       delete from digest_baseline_users b using diff where diff.high_id is null and b.user_id = diff.base_id
       returning 1
     ), added as (
       insert into digest_baseline_users (user_id) select diff.high_id from diff where diff.base_id is null
       returning 1
     ), size as (
       -- Every part of a WITH sees the table as it was before the statement.
       select ((select count(*) from digest_baseline_users) - (select count(*) from gone) + (select count(*) from added))::int as users
     )
     insert into settings (key, value, updated_by)
     select $1, jsonb_build_object('runId', $2::bigint, 'users', size.users), $3 from size
     on conflict (key) do update set value = excluded.value, updated_at = now(), updated_by = excluded.updated_by
     returning (value->>'users')::int as users`,
    [DIGEST_SNAPSHOT_KEY, runId, by],
  );
  return num(r?.users ?? 0);
}

/**
 * VACUUM (ANALYZE) of the baseline after it was saved: sets the visibility map, so the next
 * digest's merge reads the baseline index-only, and refreshes its statistics. Cannot run in a
 * transaction; a failure only costs speed.
 */
export async function vacuumDigestBaseline(q: Queryable): Promise<void> {
  await q.query('vacuum (analyze) digest_baseline_users');
}

/** Names and emails of the given users (a digest re-rendered after a click), in no particular order. */
export async function contactsByIds(q: Queryable, userIds: readonly string[]): Promise<{ userId: string; name: string | null; email: string | null }[]> {
  if (userIds.length === 0) return [];
  const rows = await q.query<{ id: string; name: string | null; email: string | null }>('select id, name, email from users where id = any($1::text[])', [userIds]);
  return rows.map((r) => ({ userId: String(r.id), name: r.name ?? null, email: r.email ?? null }));
}
