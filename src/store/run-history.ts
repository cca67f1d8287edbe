import type { Queryable } from '../db/client.js';
import type { ScoreCell } from './score-aggregates.js';

/** Runs a history answer reads, at most. */
export const MAX_HISTORY_RUNS = 30;

export interface RunCells {
  runId: number;
  asOf: Date;
  users: number;
  cells: ScoreCell[];
}

/**
 * The stored per-run aggregates (score_aggregates) of the last `n` finished rescore runs, oldest
 * first: one indexed query, `n` rows. Runs without stored aggregates are skipped.
 */
export async function recentRunCells(q: Queryable, n: number): Promise<RunCells[]> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_HISTORY_RUNS) throw new RangeError(`recentRunCells: n must be an integer from 1 to ${MAX_HISTORY_RUNS} (got ${n})`);
  const rows = await q.query<Record<string, unknown>>(
    `select a.model_run_id, a.as_of, a.users, a.cells
     from model_runs r join score_aggregates a on a.model_run_id = r.id
     where r.kind = 'rescore' and r.status = 'done'
     order by r.id desc limit $1`,
    [n],
  );
  return rows
    .map((r) => ({
      runId: Number(r.model_run_id),
      asOf: r.as_of instanceof Date ? r.as_of : new Date(r.as_of as string),
      users: Number(r.users),
      cells: (typeof r.cells === 'string' ? JSON.parse(r.cells) : r.cells) as ScoreCell[],
    }))
    .reverse();
}
