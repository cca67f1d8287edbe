/**
 * Builds the recommender from what happened before a date, and writes every user's top-N
 * with reasons. Interactions are read once, chunk by chunk, and kept per chunk for scoring;
 * per-user work is O(history × K). The rows go into the run's own table, swapped in whole.
 */
import { buildRecommender, Recommender, type RecommenderInteraction } from '../ml/recommend.js';
import { catalog, interactionsForRange } from '../store/interactions.js';
import { finishModelRun, insertModelRun } from '../store/model-runs.js';
import { createRecommendationStaging, publishRecommendations, writeRecommendations, type RecommendationRow } from '../store/scores.js';
import { mapChunks, type Deps } from './churn.js';
import type { ModelSettings } from './model-settings.js';

export interface Histories {
  /** user → owned items and viewed-only items. */
  byUser: Map<string, { owned: string[]; viewed: string[] }>;
}

export function groupHistories(r: { userIds: string[]; itemIds: string[]; bought: boolean[] }): Map<string, { owned: string[]; viewed: string[] }> {
  const byUser = new Map<string, { owned: string[]; viewed: string[] }>();
  for (let i = 0; i < r.userIds.length; i++) {
    const u = r.userIds[i]!;
    let h = byUser.get(u);
    if (!h) byUser.set(u, (h = { owned: [], viewed: [] }));
    (r.bought[i] ? h.owned : h.viewed).push(r.itemIds[i]!);
  }
  return byUser;
}

/** Item ids by number of buyers before `before`, most bought first: the popularity baseline. */
export interface BuiltRecommender {
  recommender: Recommender;
  popular: string[];
  interactions: number;
  items: number;
}

/** The interactions the recommender was built from, kept per chunk so scoring need not read them again. */
export interface ChunkInteractions {
  from: number;
  to: number;
  userIds: string[];
  itemIds: string[];
  bought: boolean[];
}

export async function buildRecommenderAsOf(d: Deps, s: Pick<ModelSettings, 'chunkSize'> & { concurrency?: number }, before: Date): Promise<BuiltRecommender & { chunks: ChunkInteractions[] }> {
  const items = await catalog(d.db);
  const chunks = await mapChunks(d.db, s, async (from, to) => ({ from, to, ...(await interactionsForRange(d.db, before, from, to)) }));
  function* interactions(): Generator<RecommenderInteraction> {
    for (const c of chunks) for (let i = 0; i < c.userIds.length; i++) yield { userId: c.userIds[i]!, itemId: c.itemIds[i]!, kind: c.bought[i] ? 'purchase' : 'view' };
  }
  const recommender = buildRecommender({
    items: items.map((i) => ({ id: i.id, title: i.title, tags: i.tags, description: i.description, category: i.category })),
    interactions: interactions(),
  });
  const buyers = new Map<string, number>();
  let count = 0;
  for (const c of chunks) {
    count += c.userIds.length;
    for (let i = 0; i < c.itemIds.length; i++) if (c.bought[i]) buyers.set(c.itemIds[i]!, (buyers.get(c.itemIds[i]!) ?? 0) + 1);
  }
  const popular = [...buyers.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  return { recommender, popular, interactions: count, items: items.length, chunks };
}

export interface RecommendRunResult {
  modelRunId: number;
  users: number;
  recommendations: number;
  interactions: number;
  items: number;
}

/** Recommends top-N for every user (cold-start users get popular items) and stores them. */
export async function recommendAll(d: Deps & { now: () => Date }, s: ModelSettings, opts: { asOf?: Date; onProgress?: (done: number) => void } = {}): Promise<RecommendRunResult> {
  const asOf = opts.asOf ?? d.now();
  const built = await buildRecommenderAsOf(d, s, asOf);
  const runId = await insertModelRun(d.db, {
    kind: 'recommend',
    asOf,
    cutoff: null,
    horizonDays: null,
    fallback: null,
    params: { topN: s.topN, stats: built.recommender.stats },
    metrics: {},
    rowCount: built.interactions,
    positives: null,
    baseRate: null,
  });
  let users = 0;
  let recs = 0;
  try {
    await createRecommendationStaging(d.db, runId);
    // Two chunks at a time: one computes while the other's rows are copied in.
    // Taken out of `built` so each chunk's interactions are freed once it is done.
    const chunks = built.chunks.splice(0);
    let failed = false;
    const work = async () => {
      for (let c = chunks.shift(); c && !failed; c = chunks.shift()) {
        const ids = (await d.db.query<{ id: string }>('select id from users where seq >= $1 and seq < $2', [c.from, c.to])).map((r) => r.id);
        const histories = groupHistories(c);
        const rows: RecommendationRow[] = [];
        for (const id of ids) {
          const h = histories.get(id) ?? { owned: [], viewed: [] };
          built.recommender.recommend(h, s.topN).forEach((r, rank) => rows.push({ userId: id, rank: rank + 1, itemId: r.itemId, score: r.score, reason: r.reason }));
        }
        await writeRecommendations(d.db, runId, ids, rows);
        users += ids.length;
        recs += rows.length;
        opts.onProgress?.(users);
      }
    };
    // After a failure the other worker takes no new chunk.
    const guarded = () => work().catch((e: unknown) => {
      failed = true;
      throw e;
    });
    await Promise.all(Array.from({ length: Math.max(1, s.concurrency) }, guarded));
    const published = await publishRecommendations(d.db, runId);
    if (published?.supersededBy) throw new Error(`recommendation run ${runId} was not published: run ${published.supersededBy}, newer, is already live`);
    await finishModelRun(d.db, runId, 'done', { metrics: { users, recommendations: recs } });
  } catch (e) {
    await finishModelRun(d.db, runId, 'failed', { error: (e as Error).message });
    throw e;
  }
  return { modelRunId: runId, users, recommendations: recs, interactions: built.interactions, items: built.items };
}
