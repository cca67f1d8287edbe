/** model_runs: one row per trained model or scoring run, with its parameters and metrics. */
import type { Queryable } from '../db/client.js';

export type ModelRunKind = 'rescore' | 'recommend' | 'backtest' | 'uplift';

export interface ModelRun {
  id: number;
  kind: ModelRunKind;
  status: 'running' | 'done' | 'failed';
  asOf: Date;
  cutoff: Date | null;
  horizonDays: number | null;
  fallback: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  rowCount: number | null;
  positives: number | null;
  baseRate: number | null;
  startedAt: Date;
  finishedAt: Date | null;
}

const COLUMNS = `id, kind, status, as_of, cutoff, horizon_days, fallback, params, metrics, row_count, positives, base_rate, started_at, finished_at`;

function toRun(r: Record<string, unknown>): ModelRun {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    id: Number(r.id),
    kind: r.kind as ModelRunKind,
    status: r.status as ModelRun['status'],
    asOf: new Date(r.as_of as string),
    cutoff: date(r.cutoff),
    horizonDays: r.horizon_days === null ? null : Number(r.horizon_days),
    fallback: (r.fallback as string | null) ?? null,
    params: json(r.params),
    metrics: json(r.metrics),
    rowCount: r.row_count === null ? null : Number(r.row_count),
    positives: r.positives === null ? null : Number(r.positives),
    baseRate: r.base_rate === null ? null : Number(r.base_rate),
    startedAt: new Date(r.started_at as string),
    finishedAt: date(r.finished_at),
  };
}

export async function insertModelRun(
  q: Queryable,
  run: Pick<ModelRun, 'kind' | 'asOf' | 'cutoff' | 'horizonDays' | 'fallback' | 'params' | 'metrics' | 'rowCount' | 'positives' | 'baseRate'> & { status?: ModelRun['status'] },
): Promise<number> {
  const [row] = await q.query<{ id: number }>(
    `insert into model_runs (kind, status, as_of, cutoff, horizon_days, fallback, params, metrics, row_count, positives, base_rate, finished_at)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, case when $2 = 'running' then null else now() end) returning id`,
    [
      run.kind,
      run.status ?? 'running',
      run.asOf.toISOString(),
      run.cutoff?.toISOString() ?? null,
      run.horizonDays,
      run.fallback,
      // Objects, not JSON text: both drivers serialise a jsonb parameter themselves (STACK-NOTES).
      run.params,
      run.metrics,
      run.rowCount,
      run.positives,
      run.baseRate,
    ],
  );
  return Number(row!.id);
}

export async function finishModelRun(q: Queryable, id: number, status: 'done' | 'failed', extra: { metrics?: Record<string, unknown>; error?: string } = {}): Promise<void> {
  await q.query(
    `update model_runs set status = $2, finished_at = now(), metrics = metrics || coalesce($3::jsonb, '{}'::jsonb), error = $4 where id = $1`,
    [id, status, extra.metrics ?? null, extra.error ?? null],
  );
}

export async function getModelRun(q: Queryable, id: number): Promise<ModelRun | null> {
  const [r] = await q.query<Record<string, unknown>>(`select ${COLUMNS} from model_runs where id = $1`, [id]);
  return r ? toRun(r) : null;
}

export async function latestModelRun(q: Queryable, kind: ModelRunKind, status: ModelRun['status'] = 'done'): Promise<ModelRun | null> {
  const [r] = await q.query<Record<string, unknown>>(`select ${COLUMNS} from model_runs where kind = $1 and status = $2 order by id desc limit 1`, [kind, status]);
  return r ? toRun(r) : null;
}
