/**
 * bench:models phase: item-item similarity, ours against the dense baseline.
 *
 * - Ours: itemCfNeighbours (inverted index, exact cosine, top-50, heavy users capped at 300
 *   items), on the same interaction matrix buildRecommender gives it (purchase 1, view 0.3).
 * - Baseline: ml-distance `similarity.cosine` on dense per-item user vectors (Float64Array,
 *   length = users), warmed up, then timed on a random sample of item pairs; the median
 *   time a pair is extrapolated to all n(n − 1)/2 pairs; a dense matrix would also need items × users × 8 bytes.
 * - Agreement: for sampled items, their best neighbour by ours is re-scored densely.
 *
 * Input: a seeded database (`<dbUrl>`: every user's interactions before --end, read chunk by
 * chunk as buildRecommenderAsOf does) or `-` for a synthetic matrix: --items × --users with
 * --interactions draws, items by Zipf popularity (exponent 1), users by Zipf activity
 * (exponent --user-zipf, default 0.5: a heavy tail of very active users), 20% purchases.
 */
import { similarity } from 'ml-distance';
import { loadConfig } from '../../src/config.js';
import { itemCfNeighbours, type Interactions } from '../../src/ml/item-cf.js';
import { forEachChunk } from '../../src/services/churn.js';
import { modelSettings } from '../../src/services/model-settings.js';
import { catalog, interactionsForRange } from '../../src/store/interactions.js';
import { mulberry32, phaseArgs, runPhase, timed, withDatabase } from './common.js';

const { dbUrl, values } = phaseArgs({
  end: { type: 'string' },
  items: { type: 'string', default: '5000' },
  users: { type: 'string', default: '100000' },
  interactions: { type: 'string', default: '2000000' },
  'user-zipf': { type: 'string', default: '0.5' },
  pairs: { type: 'string', default: '400' },
  'pair-budget': { type: 'string', default: '5' },
});
const VIEW_WEIGHT = 0.3; // buildRecommender's default viewWeight

async function fromDatabase(): Promise<Interactions> {
  return withDatabase(dbUrl, async (db) => {
    const s = modelSettings(loadConfig({}));
    const items = await catalog(db);
    const itemIndex = new Map(items.map((it, i) => [it.id, i]));
    const users = new Map<string, number>();
    const u: number[] = [];
    const it: number[] = [];
    const w: number[] = [];
    await forEachChunk(db, s.chunkSize, async (from, to) => {
      const r = await interactionsForRange(db, new Date(values.end!), from, to);
      for (let e = 0; e < r.userIds.length; e++) {
        const i = itemIndex.get(r.itemIds[e]!);
        if (i === undefined) continue;
        let ui = users.get(r.userIds[e]!);
        if (ui === undefined) users.set(r.userIds[e]!, (ui = users.size));
        u.push(ui);
        it.push(i);
        w.push(r.bought[e] ? 1 : VIEW_WEIGHT);
      }
    });
    return { userIdx: Int32Array.from(u), itemIdx: Int32Array.from(it), weight: Float32Array.from(w), nUsers: users.size, nItems: items.length };
  });
}

function zipfSampler(n: number, exponent: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) cdf[k] = acc += 1 / Math.pow(k + 1, exponent);
  for (let k = 0; k < n; k++) cdf[k] = (cdf[k] as number) / acc;
  return () => {
    const r = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function synthetic(): Interactions {
  const nItems = Number(values.items);
  const nUsers = Number(values.users);
  const nnz = Number(values.interactions);
  const rand = mulberry32(1);
  const item = zipfSampler(nItems, 1, rand);
  const user = zipfSampler(nUsers, Number(values['user-zipf']), rand);
  // Ranks are shuffled onto ids so popularity is not correlated with the index.
  const itemPerm = Int32Array.from({ length: nItems }, (_, i) => i);
  for (let i = nItems - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [itemPerm[i], itemPerm[j]] = [itemPerm[j] as number, itemPerm[i] as number];
  }
  const userIdx = new Int32Array(nnz);
  const itemIdx = new Int32Array(nnz);
  const weight = new Float32Array(nnz);
  for (let e = 0; e < nnz; e++) {
    userIdx[e] = user();
    itemIdx[e] = itemPerm[item()] as number;
    weight[e] = rand() < 0.2 ? 1 : VIEW_WEIGHT;
  }
  return { userIdx, itemIdx, weight, nUsers, nItems };
}

/** Item → (user, weight) lists, duplicates merged by max (as itemCfNeighbours does). */
function byItem(m: Interactions): (item: number, into: Float64Array) => number[] {
  const start = new Int32Array(m.nItems + 1);
  for (let e = 0; e < m.itemIdx.length; e++) {
    const i1 = (m.itemIdx[e] as number) + 1;
    start[i1] = (start[i1] as number) + 1;
  }
  for (let i = 0; i < m.nItems; i++) start[i + 1] = (start[i + 1] as number) + (start[i] as number);
  const fill = start.slice(0, m.nItems);
  const order = new Int32Array(m.itemIdx.length);
  for (let e = 0; e < m.itemIdx.length; e++) {
    const i = m.itemIdx[e] as number;
    const q = fill[i] as number;
    fill[i] = q + 1;
    order[q] = e;
  }
  // Fills `into` densely; returns the users set, so the caller can clear them afterwards.
  return (item, into) => {
    const touched: number[] = [];
    for (let q = start[item] as number; q < (start[item + 1] as number); q++) {
      const e = order[q] as number;
      const u = m.userIdx[e] as number;
      if ((into[u] as number) === 0) touched.push(u);
      into[u] = Math.max(into[u] as number, m.weight[e] as number);
    }
    return touched;
  };
}

await runPhase(async () => {
  const source = dbUrl === '-' ? 'synthetic' : 'database';
  const load = await timed(() => (source === 'synthetic' ? synthetic() : fromDatabase()));
  const m = load.value;
  const ours = await timed(() => itemCfNeighbours(m));
  const cf = ours.value;

  // Dense baseline on sampled pairs.
  const fill = byItem(m);
  const a = new Float64Array(m.nUsers);
  const b = new Float64Array(m.nUsers);
  const rand = mulberry32(11);
  const maxPairs = Number(values.pairs);
  const budget = Number(values['pair-budget']);
  // Warm-up (untimed): the first calls run interpreted, several times slower than optimised code.
  if (m.nItems > 1) {
    const ta = fill(0, a);
    const tb = fill(1, b);
    for (let t = 0; t < 200; t++) similarity.cosine(a, b);
    for (const u of ta) a[u] = 0;
    for (const u of tb) b[u] = 0;
  }
  let pairs = 0;
  let cosineSeconds = 0;
  const perPairTimes: number[] = [];
  let nan = 0;
  while (pairs < maxPairs && cosineSeconds < budget && m.nItems > 1) {
    const i = Math.floor(rand() * m.nItems);
    let j = Math.floor(rand() * (m.nItems - 1));
    if (j >= i) j++;
    const ta = fill(i, a);
    const tb = fill(j, b);
    const t0 = performance.now();
    const s = similarity.cosine(a, b);
    const dt = (performance.now() - t0) / 1000;
    cosineSeconds += dt;
    perPairTimes.push(dt);
    if (Number.isNaN(s)) nan++;
    for (const u of ta) a[u] = 0;
    for (const u of tb) b[u] = 0;
    pairs++;
  }
  // The median: robust to the GC pauses and the other work sharing the 2 cores.
  perPairTimes.sort((x, y) => x - y);
  const perPair = pairs ? (perPairTimes[Math.floor(pairs / 2)] as number) : 0;
  const allPairs = (m.nItems * (m.nItems - 1)) / 2;

  // Agreement: our best neighbour of sampled items, re-scored densely.
  let checked = 0;
  let maxDiff = 0;
  for (let t = 0; t < 50; t++) {
    const i = Math.floor(rand() * m.nItems);
    const begin = cf.offsets[i] as number;
    if ((cf.offsets[i + 1] as number) === begin) continue;
    const j = cf.items[begin] as number;
    const ta = fill(i, a);
    const tb = fill(j, b);
    maxDiff = Math.max(maxDiff, Math.abs(similarity.cosine(a, b) - (cf.scores[begin] as number)));
    for (const u of ta) a[u] = 0;
    for (const u of tb) b[u] = 0;
    checked++;
  }

  return {
    source,
    loadSeconds: load.seconds,
    items: m.nItems,
    users: m.nUsers,
    interactions: m.userIdx.length,
    seconds: ours.seconds,
    stats: cf.stats,
    neighbours: cf.items.length,
    dense: {
      pairs,
      secondsPerPair: perPair,
      meanSecondsPerPair: pairs ? cosineSeconds / pairs : 0,
      nanPairs: nan,
      allPairs,
      extrapolatedSeconds: perPair * allPairs,
      matrixBytes: m.nItems * m.nUsers * 8,
    },
    agreement: { checked, maxAbsDiff: maxDiff, cappedUsers: cf.stats.cappedUsers },
  };
});
