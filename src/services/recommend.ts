/**
 * Builds the recommender from what happened before a date, and writes every user's top-N
 * with reasons. Interactions are read chunk by chunk; per-user work is O(history × K).
 */
import { buildRecommender, Recommender, type RecommenderInteraction } from '../ml/recommend.js';
import { catalog, interactionsForRange } from '../store/interactions.js';
import { finishModelRun, insertModelRun } from '../store/model-runs.js';
import { replaceRecommendations, type RecommendationRow } from '../store/scores.js';
import { forEachChunk, type Deps } from './churn.js';
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

export async function buildRecommenderAsOf(d: Deps, s: Pick<ModelSettings, 'chunkSize'>, before: Date): Promise<BuiltRecommender> {
  const items = await catalog(d.db);
  const users: string[] = [];
  const itemIds: string[] = [];
  const bought: boolean[] = [];
  await forEachChunk(d.db, s.chunkSize, async (from, to) => {
    const r = await interactionsForRange(d.db, before, from, to);
    for (let i = 0; i < r.userIds.length; i++) {
      users.push(r.userIds[i]!);
      itemIds.push(r.itemIds[i]!);
      bought.push(r.bought[i]!);
    }
  });
  function* interactions(): Generator<RecommenderInteraction> {
    for (let i = 0; i < users.length; i++) yield { userId: users[i]!, itemId: itemIds[i]!, kind: bought[i] ? 'purchase' : 'view' };
  }
  const recommender = buildRecommender({
    items: items.map((i) => ({ id: i.id, title: i.title, tags: i.tags, description: i.description, category: i.category })),
    interactions: interactions(),
  });
  const buyers = new Map<string, number>();
  for (let i = 0; i < itemIds.length; i++) if (bought[i]) buyers.set(itemIds[i]!, (buyers.get(itemIds[i]!) ?? 0) + 1);
  const popular = [...buyers.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  return { recommender, popular, interactions: users.length, items: items.length };
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
    await forEachChunk(d.db, s.chunkSize, async (from, to) => {
      const ids = (await d.db.query<{ id: string }>('select id from users where seq >= $1 and seq < $2', [from, to])).map((r) => r.id);
      const histories = groupHistories(await interactionsForRange(d.db, asOf, from, to));
      const rows: RecommendationRow[] = [];
      for (const id of ids) {
        const h = histories.get(id) ?? { owned: [], viewed: [] };
        built.recommender.recommend(h, s.topN).forEach((r, rank) => rows.push({ userId: id, rank: rank + 1, itemId: r.itemId, score: r.score, reason: r.reason }));
      }
      await replaceRecommendations(d.db, runId, ids, rows);
      users += ids.length;
      recs += rows.length;
      opts.onProgress?.(users);
    });
    await finishModelRun(d.db, runId, 'done', { metrics: { users, recommendations: recs } });
  } catch (e) {
    await finishModelRun(d.db, runId, 'failed', { error: (e as Error).message });
    throw e;
  }
  return { modelRunId: runId, users, recommendations: recs, interactions: built.interactions, items: built.items };
}
