/**
 * Precomputed totals of a rescore run: users, users active in the 30 days before the run, and
 * per (segment, tier) users, summed churn probability and value at risk, plus churn probability
 * histograms. Everything the bot's overview, segments and risk histogram need, computed once
 * when a run has written all its scores, so those answers read one row instead of every score
 * (a full pass over user_scores and a 30-day window of events: ~1 s at 1M users).
 *
 * The numbers describe the scores as they were when the run finished: `asOf` is the run's
 * as-of time, and readers say so. A run without aggregates (an older database, a run finished
 * before this existed, a refresh that failed) is answered live; see {@link latestScoreAggregates}.
 */
import type { Queryable } from '../db/client.js';
import { NotFoundError } from '../domain/errors.js';

/** Users and risk totals of one (segment, tier) cell. */
export interface ScoreCell {
  segment: string | null;
  tier: string;
  users: number;
  /** Σ churn probability: divide by users for the mean. */
  churnSum: number;
  /** Σ expected value × churn probability, minor units. */
  valueAtRiskMinor: number;
}

export interface ScoreAggregates {
  runId: number;
  /** The run's as-of time: the moment these numbers describe. */
  asOf: Date;
  computedAt: Date;
  users: number;
  /** Users with any event in the 30 days before `asOf`. */
  active30d: number;
  cells: ScoreCell[];
  /** Users per bucket of churn probability over [0, 1], keyed by the bucket count (see {@link AGGREGATE_HISTOGRAM_BUCKETS}). */
  histograms: Record<string, number[]>;
}

/** The histogram resolutions stored with each run; other bucket counts are counted live. */
export const AGGREGATE_HISTOGRAM_BUCKETS = [10, 20, 50, 100] as const;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/** Live: users, summed churn probability and value at risk per (segment, tier), from every score now. */
export async function scoreCells(q: Queryable): Promise<ScoreCell[]> {
  const rows = await q.query<Record<string, unknown>>(
    `select s.segment, s.risk_tier, count(*)::int as users, coalesce(sum(s.churn_probability), 0)::float8 as churn_sum,
            coalesce(sum(s.expected_value_minor * s.churn_probability), 0)::float8 as value_at_risk
     from user_scores s group by s.segment, s.risk_tier`,
  );
  return rows.map((r) => ({
    segment: (r.segment as string | null) ?? null,
    tier: String(r.risk_tier),
    users: num(r.users),
    churnSum: num(r.churn_sum),
    valueAtRiskMinor: num(r.value_at_risk),
  }));
}

/** Bucket index (1-based) of churn probability in `b` equal-width buckets, 1 falling in the last: the live riskHistogram's expression. */
const bucketOf = (b: number) => `least(width_bucket(churn_probability, 0, 1, ${b}), ${b})`;

/**
 * Computes the aggregates of rescore run `runId` from the current scores and stores them
 * (replacing any earlier ones of that run). Call it once the run's scores are the published
 * ones (after `publishScores`, so user_scores holds exactly that run's rows, vacuumed) and
 * before the run is marked done, so the newest finished run always has them. `asOf` (default:
 * the run's `as_of`) is what "active in the last 30 days" counts back from. Idempotent:
 * calling it again recomputes and replaces.
 *
 * Three set-based reads (users and 30-day actives; the segment × tier cells; the histograms,
 * all resolutions in one pass) and one upsert. At 1M users: ~1–1.5 s, mostly the 30-day
 * window of events.
 */
/** All users, and those with any event in the 30 days before `at`. */
export async function usersAndActive(q: Queryable, at: Date): Promise<{ users: number; active: number }> {
  const since = new Date(at.getTime() - 30 * 86_400_000);
  const [r] = await q.query<{ users: number; active: number }>(
    `select (select count(*)::int from users) as users,
            (select count(*)::int from (select e.user_id from events e where e.occurred_at >= $1 and e.occurred_at < $2 group by e.user_id) a) as active`,
    [since.toISOString(), at.toISOString()],
  );
  return { users: num(r?.users ?? 0), active: num(r?.active ?? 0) };
}

export async function refreshScoreAggregates(q: Queryable, runId: number, asOf?: Date): Promise<ScoreAggregates> {
  const [run] = await q.query<{ kind: string; as_of: unknown }>('select kind, as_of from model_runs where id = $1', [runId]);
  if (!run || run.kind !== 'rescore') throw new NotFoundError(`no rescore model run with id ${runId}`);
  const at = asOf ?? date(run.as_of);
  if (Number.isNaN(at.getTime())) throw new RangeError('asOf must be a valid date');
  const [counts, cells, bucketRows] = await Promise.all([
    usersAndActive(q, at),
    scoreCells(q),
    // One pass for every resolution: the (b10, b20, b50, b100) combinations are few (≤ ~200).
    q.query<Record<string, unknown>>(
      `select ${AGGREGATE_HISTOGRAM_BUCKETS.map((b) => `${bucketOf(b)}::int as b${b}`).join(', ')}, count(*)::int as n
       from user_scores group by ${AGGREGATE_HISTOGRAM_BUCKETS.map((_, i) => i + 1).join(', ')}`,
    ),
  ]);
  const histograms: Record<string, number[]> = {};
  for (const b of AGGREGATE_HISTOGRAM_BUCKETS) {
    const counts_ = new Array<number>(b).fill(0);
    for (const r of bucketRows) {
      const i = Math.max(1, num(r[`b${b}`])) - 1; // width_bucket gives 0 below the range: probabilities are ≥ 0, but be safe
      counts_[i] = (counts_[i] ?? 0) + num(r.n);
    }
    histograms[String(b)] = counts_;
  }
  const [row] = await q.query<Record<string, unknown>>(
    `insert into score_aggregates (model_run_id, as_of, users, active_30d, cells, histograms)
     values ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb)
     on conflict (model_run_id) do update set as_of = excluded.as_of, users = excluded.users, active_30d = excluded.active_30d,
       cells = excluded.cells, histograms = excluded.histograms, computed_at = now()
     returning model_run_id, as_of, computed_at, users, active_30d, cells, histograms`,
    [runId, at.toISOString(), counts.users, counts.active, JSON.stringify(cells), JSON.stringify(histograms)],
  );
  return toAggregates(row!);
}

function toAggregates(r: Record<string, unknown>): ScoreAggregates {
  return {
    runId: num(r.model_run_id),
    asOf: date(r.as_of),
    computedAt: date(r.computed_at),
    users: num(r.users),
    active30d: num(r.active_30d),
    cells: json<ScoreCell[]>(r.cells),
    histograms: json<Record<string, number[]>>(r.histograms),
  };
}

/** The stored aggregates of one run, or null. */
export async function scoreAggregatesOf(q: Queryable, runId: number): Promise<ScoreAggregates | null> {
  const [r] = await q.query<Record<string, unknown>>(
    'select model_run_id, as_of, computed_at, users, active_30d, cells, histograms from score_aggregates where model_run_id = $1',
    [runId],
  );
  return r ? toAggregates(r) : null;
}

/**
 * The aggregates of the newest finished rescore run, or null when there is no finished run or
 * that run has none (never an older run's: those would describe scores since replaced).
 */
export async function latestScoreAggregates(q: Queryable): Promise<ScoreAggregates | null> {
  const [r] = await q.query<Record<string, unknown>>(
    `select a.model_run_id, a.as_of, a.computed_at, a.users, a.active_30d, a.cells, a.histograms
     from (select id from model_runs where kind = 'rescore' and status = 'done' order by id desc limit 1) run
     join score_aggregates a on a.model_run_id = run.id`,
  );
  return r ? toAggregates(r) : null;
}
