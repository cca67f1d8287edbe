/** user_scores and recommendations: bulk writes per chunk. */
import type { Database, Queryable } from '../db/client.js';
import { copyIntoStaging, createStaging, stagedName, stagingExists, swapIn } from './staging.js';

export interface ScoreRow {
  userId: string;
  churnProbability: number;
  riskTier: string;
  pAlive: number | null;
  expectedPurchases: number | null;
  expectedValueMinor: number | null;
  rfmR: number;
  rfmF: number;
  rfmM: number;
  segment: string;
  persona: number | null;
  explanation: unknown;
  /**
   * Raw feature values in the order of the run's `params.featureNames` (FEATURES): an array,
   * not an object, because the names repeated on a million rows were 60% of the table.
   */
  features: number[];
}

const SCORE_COLUMNS = [
  'user_id', 'model_run_id', 'scored_at', 'churn_probability', 'risk_tier', 'p_alive', 'expected_purchases', 'expected_value_minor',
  'rfm_r', 'rfm_f', 'rfm_m', 'segment', 'persona', 'explanation', 'features',
] as const;

/** Creates the run's staging table for scores, and drops what failed runs left behind. */
export async function createScoreStaging(db: Queryable, runId: number): Promise<void> {
  await createStaging(db, 'user_scores', runId);
}

/** Writes a chunk of scores into the run's staging table: one COPY (a retried chunk replaces its rows). */
export async function writeScores(db: Pick<Database, 'transaction'>, modelRunId: number, scoredAt: Date, rows: readonly ScoreRow[]): Promise<void> {
  const values = rows.map((r) => [
    r.userId, modelRunId, scoredAt, r.churnProbability, r.riskTier, r.pAlive, r.expectedPurchases, r.expectedValueMinor,
    r.rfmR, r.rfmF, r.rfmM, r.segment, r.persona, r.explanation, r.features,
  ]);
  await copyIntoStaging(db, 'user_scores', modelRunId, SCORE_COLUMNS, values, rows.map((r) => r.userId));
}

/**
 * Makes a finished run's scores the published ones (swapIn); in the same transaction every
 * user whose risk tier moved gets a `user.risk_changed` outbox row per subscribed endpoint
 * (`webhookDeliveries`). Users no longer in the population are simply not in the new table
 * (`removed` counts them). A run older than the one already live is not published
 * (`supersededBy` names the live one); a run already published (its table is gone) returns null.
 */
export async function publishScores(db: Pick<Database, 'query' | 'transaction'>, runId: number): Promise<{ published: number; removed: number; webhookDeliveries: number[]; supersededBy: number | null } | null> {
  if (!(await stagingExists(db, 'user_scores', runId))) return null;
  const t = stagedName('user_scores', runId);
  const [counts] = await db.query<{ published: number; removed: number }>(
    `select (select count(*)::int from ${t}) as published,
            (select count(*)::int from user_scores o where not exists (select 1 from ${t} n where n.user_id = o.user_id)) as removed`,
  );
  const outcome = await swapIn(db, 'user_scores', runId, async (tx, staged) => {
    // Users whose tier moved since the published run, announced to the endpoints that want it,
    // committed with the swap: one join over both tables, not a lookup per user.
    const [{ wanted } = { wanted: false }] = await tx.query<{ wanted: boolean }>(
      `select exists (select 1 from webhook_endpoints e where e.enabled and (cardinality(e.event_types) = 0 or 'user.risk_changed' = any(e.event_types))) as wanted`,
    );
    if (!wanted) return [];
    const announced = await tx.query<{ id: number }>(
      `insert into webhook_deliveries (endpoint_id, message_id, event_type, payload, next_attempt_at)
       select e.id, 'risk-' || n.model_run_id || '-' || n.user_id, 'user.risk_changed',
              jsonb_build_object('user_id', n.user_id, 'from_tier', o.risk_tier, 'to_tier', n.risk_tier, 'churn_probability', n.churn_probability,
                                 'previous_probability', o.churn_probability, 'model_run_id', n.model_run_id),
              now()
       from ${staged} n
       join user_scores o on o.user_id = n.user_id and o.risk_tier <> n.risk_tier
       join webhook_endpoints e on e.enabled and (cardinality(e.event_types) = 0 or 'user.risk_changed' = any(e.event_types))
       on conflict (endpoint_id, message_id) do nothing
       returning id`,
    );
    return announced.map((r) => Number(r.id));
  });
  if (!outcome.swapped) return { published: 0, removed: 0, webhookDeliveries: [], supersededBy: outcome.liveRunId };
  return { published: counts?.published ?? 0, removed: counts?.removed ?? 0, webhookDeliveries: outcome.result, supersededBy: null };
}

export interface RecommendationRow {
  userId: string;
  rank: number;
  itemId: string;
  score: number;
  reason: unknown;
}

const RECOMMENDATION_COLUMNS = ['user_id', 'rank', 'item_id', 'score', 'reason', 'model_run_id'] as const;

/** Creates the recommendation run's staging table, and drops what failed runs left behind. */
export async function createRecommendationStaging(db: Queryable, runId: number): Promise<void> {
  await createStaging(db, 'recommendations', runId);
}

/** Writes a chunk of users' recommendations into the run's staging table: one COPY. */
export async function writeRecommendations(db: Pick<Database, 'transaction'>, modelRunId: number, userIds: readonly string[], rows: readonly RecommendationRow[]): Promise<void> {
  await copyIntoStaging(
    db,
    'recommendations',
    modelRunId,
    RECOMMENDATION_COLUMNS,
    rows.map((r) => [r.userId, r.rank, r.itemId, r.score, r.reason, modelRunId]),
    userIds,
  );
}

/** Swaps a finished recommendation run in whole (not when a newer one is live already); null when it already was. */
export async function publishRecommendations(db: Pick<Database, 'query' | 'transaction'>, runId: number): Promise<{ published: number; supersededBy: number | null } | null> {
  if (!(await stagingExists(db, 'recommendations', runId))) return null;
  const outcome = await swapIn(db, 'recommendations', runId, async (tx, staged) => {
    const [r] = await tx.query<{ n: number }>(`select count(*)::int as n from ${staged}`);
    return r?.n ?? 0;
  });
  return outcome.swapped ? { published: outcome.result, supersededBy: null } : { published: 0, supersededBy: outcome.liveRunId };
}
