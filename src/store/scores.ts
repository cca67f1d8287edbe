/** user_scores and recommendations: bulk writes per chunk. */
import type { Database, Queryable } from '../db/client.js';

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

export interface TierChange {
  userId: string;
  fromTier: string;
  toTier: string;
  churnProbability: number;
  previousProbability: number;
}

const SCORE_COLUMNS = [
  'user_id', 'model_run_id', 'scored_at', 'churn_probability', 'risk_tier', 'p_alive', 'expected_purchases', 'expected_value_minor',
  'rfm_r', 'rfm_f', 'rfm_m', 'segment', 'persona', 'explanation', 'features',
] as const;

/**
 * Writes a chunk of scores in one transaction: COPY into a temporary table shaped like
 * user_scores, read which users changed risk tier against the stored rows, then upsert.
 * `andThen` runs in the same transaction with those changes (the scoring run queues its
 * outbound webhooks there), so scores and what they announce commit together.
 */
export async function writeScores<T>(
  db: Pick<Database, 'transaction'>,
  modelRunId: number,
  scoredAt: Date,
  rows: readonly ScoreRow[],
  andThen: (tx: Queryable, changes: TierChange[]) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('create temp table score_stage (like user_scores including defaults) on commit drop');
    await tx.copyIn(
      'score_stage',
      SCORE_COLUMNS,
      rows.map((r) => [
        r.userId, modelRunId, scoredAt, r.churnProbability, r.riskTier, r.pAlive, r.expectedPurchases, r.expectedValueMinor,
        r.rfmR, r.rfmF, r.rfmM, r.segment, r.persona, r.explanation, r.features,
      ]),
    );
    // Statistics on the key only (cheap): without them the planner hashes all of user_scores.
    await tx.query('analyze score_stage (user_id)');
    const changed = await tx.query<{ user_id: string; from_tier: string; to_tier: string; churn_probability: number; previous_probability: number }>(
      `select s.user_id, u.risk_tier as from_tier, s.risk_tier as to_tier, s.churn_probability, u.churn_probability as previous_probability
       from score_stage s join user_scores u on u.user_id = s.user_id
       where u.risk_tier <> s.risk_tier`,
    );
    await tx.query(
      `insert into user_scores (${SCORE_COLUMNS.join(', ')})
       select ${SCORE_COLUMNS.join(', ')} from score_stage
       on conflict (user_id) do update set
         ${SCORE_COLUMNS.filter((c) => c !== 'user_id').map((c) => `${c} = excluded.${c}`).join(', ')}`,
    );
    return andThen(
      tx,
      changed.map((c) => ({ userId: c.user_id, fromTier: c.from_tier, toTier: c.to_tier, churnProbability: Number(c.churn_probability), previousProbability: Number(c.previous_probability) })),
    );
  });
}

/**
 * After a full run: a rescore rewrites every row, and the bot's index-only scans need the
 * visibility map fresh. VACUUM cannot run in a transaction; a failure only costs speed.
 */
export async function vacuumScores(q: Queryable): Promise<void> {
  await q.query('vacuum (analyze) user_scores').catch(() => undefined);
}

/** After a full run: scores of users no longer in the population (e.g. all events refunded away) go. */
export async function deleteScoresNotFromRun(q: Queryable, modelRunId: number): Promise<number> {
  const rows = await q.query(`delete from user_scores where model_run_id <> $1 returning 1`, [modelRunId]);
  return rows.length;
}

export interface RecommendationRow {
  userId: string;
  rank: number;
  itemId: string;
  score: number;
  reason: unknown;
}

/**
 * Replaces the recommendations of the given users in one transaction. (A delete and an insert
 * of the same keys cannot share one statement: CTEs see one snapshot, so the insert conflicts.)
 */
export async function replaceRecommendations(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  modelRunId: number,
  userIds: readonly string[],
  rows: readonly RecommendationRow[],
): Promise<void> {
  if (userIds.length === 0) return;
  await db.transaction(async (tx) => {
    await tx.query('delete from recommendations where user_id = any($1::text[])', [userIds]);
    await tx.query(
      `insert into recommendations (user_id, rank, item_id, score, reason, model_run_id)
       select t.user_id, t.rank, t.item_id, t.score, t.reason::jsonb, $6
       from unnest($1::text[], $2::int2[], $3::text[], $4::float8[], $5::text[]) as t(user_id, rank, item_id, score, reason)`,
      [rows.map((r) => r.userId), rows.map((r) => r.rank), rows.map((r) => r.itemId), rows.map((r) => r.score), rows.map((r) => JSON.stringify(r.reason)), modelRunId],
    );
  });
}
