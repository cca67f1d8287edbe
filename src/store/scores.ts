/** user_scores and recommendations: bulk writes per chunk, one statement each. */
import type { Queryable } from '../db/client.js';

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
  features: Record<string, number>;
}

export async function upsertScores(q: Queryable, modelRunId: number, scoredAt: Date, rows: readonly ScoreRow[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `insert into user_scores (user_id, model_run_id, scored_at, churn_probability, risk_tier, p_alive, expected_purchases, expected_value_minor,
                              rfm_r, rfm_f, rfm_m, segment, persona, explanation, features)
     select t.user_id, $1, $2, t.p, t.tier, t.alive, t.exp, t.val, t.r, t.f, t.m, t.seg, t.persona, t.expl::jsonb, t.feat::jsonb
     from unnest($3::text[], $4::float8[], $5::text[], $6::float8[], $7::float8[], $8::float8[], $9::int2[], $10::int2[], $11::int2[], $12::text[], $13::int[], $14::text[], $15::text[])
       as t(user_id, p, tier, alive, exp, val, r, f, m, seg, persona, expl, feat)
     on conflict (user_id) do update set
       model_run_id = excluded.model_run_id, scored_at = excluded.scored_at, churn_probability = excluded.churn_probability,
       risk_tier = excluded.risk_tier, p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases,
       expected_value_minor = excluded.expected_value_minor, rfm_r = excluded.rfm_r, rfm_f = excluded.rfm_f, rfm_m = excluded.rfm_m,
       segment = excluded.segment, persona = excluded.persona, explanation = excluded.explanation, features = excluded.features`,
    [
      modelRunId,
      scoredAt.toISOString(),
      rows.map((r) => r.userId),
      rows.map((r) => r.churnProbability),
      rows.map((r) => r.riskTier),
      rows.map((r) => r.pAlive),
      rows.map((r) => r.expectedPurchases),
      rows.map((r) => r.expectedValueMinor),
      rows.map((r) => r.rfmR),
      rows.map((r) => r.rfmF),
      rows.map((r) => r.rfmM),
      rows.map((r) => r.segment),
      rows.map((r) => r.persona),
      rows.map((r) => JSON.stringify(r.explanation)),
      rows.map((r) => JSON.stringify(r.features)),
    ],
  );
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
