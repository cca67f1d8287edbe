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

const SCORE_COLUMNS = [
  'user_id', 'model_run_id', 'scored_at', 'churn_probability', 'risk_tier', 'p_alive', 'expected_purchases', 'expected_value_minor',
  'rfm_r', 'rfm_f', 'rfm_m', 'segment', 'persona', 'explanation', 'features',
] as const;

/**
 * A scoring run writes into a table of its own, shaped like user_scores with only its primary
 * key, and `publishScores` swaps it in when every chunk is done. Readers (the bot, the
 * planner) see the previous run whole until then, never a mix of two runs; the writes skip
 * the secondary indexes and leave no dead rows behind (bench:models at 1M users: upserting
 * into the live table cost ~1.3 s a 32k chunk, plus a vacuum).
 */
export function stagingTable(runId: number): string {
  if (!Number.isSafeInteger(runId) || runId <= 0) throw new Error(`not a model run id: ${runId}`);
  return `user_scores_r${runId}`;
}

/**
 * Creates the run's staging table (empty, even when a retried start left one), and drops the
 * ones that failed or abandoned runs left behind.
 */
export async function createScoreStaging(db: Queryable, runId: number): Promise<void> {
  const leftovers = await db.query<{ name: string }>(
    `select t.tablename as name from pg_tables t
     left join model_runs r on r.id = substring(t.tablename from '^user_scores_r([0-9]+)$')::bigint
     where t.schemaname = current_schema() and t.tablename ~ '^user_scores_r[0-9]+$'
       and (r.id is null or r.status <> 'running' or r.started_at < now() - interval '1 day')`,
  );
  for (const { name } of leftovers) await db.query(`drop table if exists ${stagingTable(Number(name.slice('user_scores_r'.length)))}`);
  const t = stagingTable(runId);
  await db.query(`drop table if exists ${t}`);
  await db.query(`create table ${t} (like user_scores including defaults including constraints, primary key (user_id))`);
}

/**
 * Writes a chunk of scores into the run's staging table: one COPY. A retried chunk whose
 * first attempt committed meets its own rows (a duplicate key): it then replaces them.
 */
export async function writeScores(db: Pick<Database, 'transaction'>, modelRunId: number, scoredAt: Date, rows: readonly ScoreRow[]): Promise<void> {
  const target = stagingTable(modelRunId);
  const values = rows.map((r) => [
    r.userId, modelRunId, scoredAt, r.churnProbability, r.riskTier, r.pAlive, r.expectedPurchases, r.expectedValueMinor,
    r.rfmR, r.rfmF, r.rfmM, r.segment, r.persona, r.explanation, r.features,
  ]);
  const attempt = (replace: boolean) =>
    db.transaction(async (tx) => {
      if (replace) await tx.query(`delete from ${target} where user_id = any($1::text[])`, [rows.map((r) => r.userId)]);
      await tx.copyIn(target, SCORE_COLUMNS, values);
    });
  try {
    await attempt(false);
  } catch (e) {
    if ((e as { code?: string }).code !== '23505') throw e;
    await attempt(true);
  }
}

/**
 * Makes a finished run's scores the published ones: builds user_scores' secondary indexes on
 * the staging table (whatever the migrations defined, read from the catalogue), vacuums it so
 * index-only scans work from the start, then swaps the tables in one short transaction and
 * gives the indexes their names back; in the same transaction every user whose risk tier moved
 * gets a `user.risk_changed` outbox row per subscribed endpoint (`webhookDeliveries`). Users no
 * longer in the population are simply not in the new table (`removed` counts them). Publishing
 * a run already published (its table is gone) returns null.
 */
export async function publishScores(db: Pick<Database, 'query' | 'transaction'>, runId: number): Promise<{ published: number; removed: number; webhookDeliveries: number[] } | null> {
  const t = stagingTable(runId);
  const [exists] = await db.query<{ ok: boolean }>(`select to_regclass($1) is not null as ok`, [t]);
  if (!exists?.ok) return null;
  const indexes = await db.query<{ name: string; def: string; schema: string }>(
    `select indexname as name, indexdef as def, schemaname as schema from pg_indexes
     where schemaname = current_schema() and tablename = 'user_scores' and indexname <> 'user_scores_pkey' order by indexname`,
  );
  const temporary = (name: string) => `${name.slice(0, 48)}_r${runId}`;
  for (const ix of indexes) {
    const head = new RegExp(`^CREATE (UNIQUE )?INDEX ${ix.name} ON (ONLY )?${ix.schema}\\.user_scores `);
    if (!head.test(ix.def)) throw new Error(`cannot rebuild index ${ix.name} on the new scores: unexpected definition ${ix.def}`);
    await db.query(`drop index if exists ${temporary(ix.name)}`);
    await db.query(ix.def.replace(head, (_m, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX ${temporary(ix.name)} ON ${ix.schema}.${t} `));
  }
  // VACUUM cannot run in a transaction block; without it only index-only scans are slower.
  await db.query(`vacuum (analyze) ${t}`).catch(() => db.query(`analyze ${t}`));
  const [counts] = await db.query<{ published: number; removed: number }>(
    `select (select count(*)::int from ${t}) as published,
            (select count(*)::int from user_scores o where not exists (select 1 from ${t} n where n.user_id = o.user_id)) as removed`,
  );
  const webhookDeliveries = await db.transaction(async (tx) => {
    // Users whose tier moved since the published run, announced to the endpoints that want it,
    // committed with the swap: one join over both tables, not a lookup per user.
    const [{ wanted } = { wanted: false }] = await tx.query<{ wanted: boolean }>(
      `select exists (select 1 from webhook_endpoints e where e.enabled and (cardinality(e.event_types) = 0 or 'user.risk_changed' = any(e.event_types))) as wanted`,
    );
    const announced = !wanted ? [] : await tx.query<{ id: number }>(
      `insert into webhook_deliveries (endpoint_id, message_id, event_type, payload, next_attempt_at)
       select e.id, 'risk-' || n.model_run_id || '-' || n.user_id, 'user.risk_changed',
              jsonb_build_object('user_id', n.user_id, 'from_tier', o.risk_tier, 'to_tier', n.risk_tier, 'churn_probability', n.churn_probability,
                                 'previous_probability', o.churn_probability, 'model_run_id', n.model_run_id),
              now()
       from ${t} n
       join user_scores o on o.user_id = n.user_id and o.risk_tier <> n.risk_tier
       join webhook_endpoints e on e.enabled and (cardinality(e.event_types) = 0 or 'user.risk_changed' = any(e.event_types))
       on conflict (endpoint_id, message_id) do nothing
       returning id`,
    );
    await tx.query('lock table user_scores in access exclusive mode');
    const old = `user_scores_old_r${runId}`;
    await tx.query(`alter table user_scores rename to ${old}`);
    await tx.query(`alter table ${t} rename to user_scores`);
    await tx.query(`drop table ${old}`);
    await tx.query(`alter table user_scores rename constraint ${t}_pkey to user_scores_pkey`);
    for (const ix of indexes) await tx.query(`alter index ${temporary(ix.name)} rename to ${ix.name}`);
    return announced.map((r) => Number(r.id));
  });
  return { published: counts?.published ?? 0, removed: counts?.removed ?? 0, webhookDeliveries };
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
