/**
 * How the scored base changed across rescore runs, from the per-run aggregates each run stores
 * (never from raw scores): high-risk users per run, users per segment per run, and a side-by-side
 * of two segments in the latest run. Cost: one query of at most {@link MAX_HISTORY_RUNS} rows.
 */
import type { Queryable } from '../db/client.js';
import { MAX_HISTORY_RUNS, recentRunCells, type RunCells } from '../store/run-history.js';

export { MAX_HISTORY_RUNS };

export interface RunPoint {
  runId: number;
  asOf: Date;
  users: number;
  high: number;
  /** Users per segment (segment key; unsegmented users under `none`). */
  segments: Record<string, number>;
}

export interface SegmentStats {
  segment: string;
  users: number;
  high: number;
  meanChurn: number | null;
  valueAtRiskMinor: number;
}

function point(r: RunCells): RunPoint {
  const segments: Record<string, number> = {};
  let high = 0;
  for (const c of r.cells) {
    const k = c.segment ?? 'none';
    segments[k] = (segments[k] ?? 0) + c.users;
    if (c.tier === 'high') high += c.users;
  }
  return { runId: r.runId, asOf: r.asOf, users: r.users, high, segments };
}

/** The last `n` runs (oldest first) with their high-risk count and segment sizes. */
export async function runHistory(q: Queryable, n: number): Promise<RunPoint[]> {
  return (await recentRunCells(q, n)).map(point);
}

export interface SegmentChange {
  segment: string;
  users: number;
  /** Users in the previous run; null when there is no previous run. */
  before: number | null;
  change: number | null;
}

/** Segment sizes in the latest run beside the run before it, largest first. Null without any run. */
export async function segmentChanges(q: Queryable): Promise<{ latest: RunPoint; previous: RunPoint | null; changes: SegmentChange[] } | null> {
  const runs = await runHistory(q, 2);
  const latest = runs.at(-1);
  if (!latest) return null;
  const previous = runs.length > 1 ? (runs[0] as RunPoint) : null;
  const keys = new Set([...Object.keys(latest.segments), ...Object.keys(previous?.segments ?? {})]);
  keys.delete('none');
  const changes = [...keys]
    .map((segment) => {
      const users = latest.segments[segment] ?? 0;
      const before = previous ? (previous.segments[segment] ?? 0) : null;
      return { segment, users, before, change: before === null ? null : users - before };
    })
    .sort((a, b) => b.users - a.users || a.segment.localeCompare(b.segment));
  return { latest, previous, changes };
}

/** Two segments side by side in the latest run's aggregates. Null without any run. */
export async function compareSegments(q: Queryable, a: string, b: string): Promise<{ asOf: Date; runId: number; a: SegmentStats; b: SegmentStats } | null> {
  const [run] = await recentRunCells(q, 1);
  if (!run) return null;
  const stats = (segment: string): SegmentStats => {
    const cells = run.cells.filter((c) => c.segment === segment);
    const users = cells.reduce((s, c) => s + c.users, 0);
    const churn = cells.reduce((s, c) => s + c.churnSum, 0);
    return {
      segment,
      users,
      high: cells.filter((c) => c.tier === 'high').reduce((s, c) => s + c.users, 0),
      meanChurn: users > 0 ? churn / users : null,
      valueAtRiskMinor: cells.reduce((s, c) => s + c.valueAtRiskMinor, 0),
    };
  };
  return { asOf: run.asOf, runId: run.runId, a: stats(a), b: stats(b) };
}
