/**
 * Item-item collaborative filtering: the top-K most cosine-similar items of every item,
 * over a sparse user × item interaction matrix.
 *
 * The matrix is never materialised densely. Co-occurrence dot products are accumulated
 * through an inverted index (item → users → items), so the work is Σ over users of
 * (items per user)² / 2 multiply-adds, and the heaviest users are capped so that sum stays
 * bounded. Everything is indexed by dense integers in typed arrays: callers map their
 * string ids to 0..n-1 once.
 */
import { mulberry32 } from './prng.js';

/** A sparse interaction matrix as parallel arrays: entry e is (userIdx[e], itemIdx[e], weight[e]). */
export interface Interactions {
  readonly userIdx: Int32Array;
  readonly itemIdx: Int32Array;
  /** Non-negative; e.g. 1 for a purchase and a caller-chosen lower weight for a view. */
  readonly weight: Float32Array;
  readonly nUsers: number;
  readonly nItems: number;
}

/** Options for {@link itemCfNeighbours}. */
export interface ItemCfOptions {
  /** Neighbours kept per item (default 50). */
  readonly k?: number;
  /**
   * Users with more distinct items than this keep a seeded random sample of that many
   * (default 300). One user with n items costs n²/2 accumulations, so a single scraper or
   * staff account with 20k views would otherwise cost as much as a million typical users.
   */
  readonly maxItemsPerUser?: number;
  /** Seed for the heavy-user sample (default 1). */
  readonly seed?: number;
}

/**
 * Neighbour lists in compressed sparse row form: the neighbours of item i are
 * `items[offsets[i] .. offsets[i + 1])` with `scores` in the same positions, best first
 * (ties broken by the lower item index, so the output is deterministic).
 */
export interface NeighbourLists {
  readonly offsets: Int32Array;
  readonly items: Int32Array;
  readonly scores: Float32Array;
}

/** Counts that explain the cost of a run. */
export interface ItemCfStats {
  /** Interactions given. */
  readonly interactions: number;
  /** Distinct (user, item) pairs with positive weight, after capping heavy users. */
  readonly entries: number;
  /** Users whose items were sampled down to `maxItemsPerUser`. */
  readonly cappedUsers: number;
  /** Co-occurrence multiply-adds performed. */
  readonly accumulations: number;
}

/** Output of {@link itemCfNeighbours}. */
export interface ItemCfResult extends NeighbourLists {
  /**
   * Per item, the sum over users of its deduplicated weight before heavy users are capped:
   * a popularity count (buyers + view weight × viewers who did not buy) for cold start.
   */
  readonly itemTotals: Float64Array;
  readonly stats: ItemCfStats;
}

/**
 * Computes the top-K cosine neighbours of every item.
 *
 * Duplicate (user, item) entries — a user who viewed and then bought — count once, with
 * their largest weight: the strongest signal for that pair, rather than a sum that would
 * let ten views outweigh a purchase. Cosine is exact on the matrix after capping (norms are
 * taken after the cap too, so similarities stay within [0, 1]). Items without interactions
 * get no neighbours (never NaN), and only pairs with a shared user appear.
 *
 * @throws RangeError on mismatched lengths, out-of-range indices or negative/non-finite weights.
 */
export function itemCfNeighbours(
  input: Interactions,
  options: ItemCfOptions = {},
): ItemCfResult {
  const { userIdx, itemIdx, weight, nUsers, nItems } = input;
  const k = options.k ?? 50;
  const cap = options.maxItemsPerUser ?? 300;
  validate(input, k, cap);
  const nnzIn = userIdx.length;

  // 1. Group by user (counting sort), then drop zero weights and merge duplicates with max.
  const userStart = new Int32Array(nUsers + 1);
  for (let e = 0; e < nnzIn; e++) {
    const u1 = (userIdx[e] as number) + 1;
    userStart[u1] = (userStart[u1] as number) + 1;
  }
  for (let u = 0; u < nUsers; u++) userStart[u + 1] = (userStart[u + 1] as number) + (userStart[u] as number);
  const fill = userStart.slice(0, nUsers);
  const uItems = new Int32Array(nnzIn);
  const uWeights = new Float32Array(nnzIn);
  for (let e = 0; e < nnzIn; e++) {
    const u = userIdx[e] as number;
    const p = fill[u] as number;
    fill[u] = p + 1;
    uItems[p] = itemIdx[e] as number;
    uWeights[p] = weight[e] as number;
  }
  const lastUser = new Int32Array(nItems).fill(-1);
  const slot = new Int32Array(nItems);
  const rand = mulberry32(options.seed ?? 1);
  const scratchW = new Float32Array(nItems);
  const itemTotals = new Float64Array(nItems);
  let write = 0;
  let cappedUsers = 0;
  for (let u = 0; u < nUsers; u++) {
    const begin = write;
    for (let p = userStart[u] as number, end = userStart[u + 1] as number; p < end; p++) {
      const it = uItems[p] as number;
      const w = uWeights[p] as number;
      if (w === 0) continue;
      if (lastUser[it] === u) {
        const s = slot[it] as number;
        if (w > (uWeights[s] as number)) uWeights[s] = w;
      } else {
        lastUser[it] = u;
        slot[it] = write;
        uItems[write] = it;
        uWeights[write] = w;
        write++;
      }
    }
    const count = write - begin;
    for (let p = begin; p < write; p++) {
      const it = uItems[p] as number;
      itemTotals[it] = (itemTotals[it] as number) + (uWeights[p] as number);
    }
    if (count > cap) {
      cappedUsers++;
      // Sort first so the sample depends only on the seed and the user's item set, not on
      // the order the interactions arrived in; then a partial Fisher–Yates shuffle.
      for (let p = begin; p < write; p++) scratchW[uItems[p] as number] = uWeights[p] as number;
      uItems.subarray(begin, write).sort();
      for (let t = 0; t < cap; t++) {
        const r = begin + t + Math.floor(rand() * (count - t));
        const tmp = uItems[begin + t] as number;
        uItems[begin + t] = uItems[r] as number;
        uItems[r] = tmp;
      }
      for (let p = begin; p < begin + cap; p++) uWeights[p] = scratchW[uItems[p] as number] as number;
      write = begin + cap;
    }
    userStart[u] = begin;
  }
  userStart[nUsers] = write;
  const nnz = write;

  // 2. Transpose to item → (user, weight); users come out ascending within each item.
  const itemStart = new Int32Array(nItems + 1);
  for (let p = 0; p < nnz; p++) {
    const i1 = (uItems[p] as number) + 1;
    itemStart[i1] = (itemStart[i1] as number) + 1;
  }
  for (let i = 0; i < nItems; i++) itemStart[i + 1] = (itemStart[i + 1] as number) + (itemStart[i] as number);
  const tUsers = new Int32Array(nnz);
  const tWeights = new Float32Array(nnz);
  const tPos = new Int32Array(nnz);
  {
    const f = itemStart.slice(0, nItems);
    for (let u = 0; u < nUsers; u++) {
      for (let p = userStart[u] as number, end = userStart[u + 1] as number; p < end; p++) {
        const it = uItems[p] as number;
        const q = f[it] as number;
        f[it] = q + 1;
        tUsers[q] = u;
        tWeights[q] = uWeights[p] as number;
      }
    }
  }
  // 3. Rebuild user → items from the transpose so each user's items are ascending, and
  //    remember where each (item, user) entry sits in its user's list: the accumulation
  //    below then visits only the items after it, computing each unordered pair once.
  const sItems = uItems; // reused: same length, no longer needed in the old order
  const sWeights = uWeights;
  {
    const f = userStart.slice(0, nUsers);
    for (let i = 0; i < nItems; i++) {
      for (let q = itemStart[i] as number, end = itemStart[i + 1] as number; q < end; q++) {
        const u = tUsers[q] as number;
        const p = f[u] as number;
        f[u] = p + 1;
        sItems[p] = i;
        sWeights[p] = tWeights[q] as number;
        tPos[q] = p;
      }
    }
  }
  const invNorm = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) {
    let s = 0;
    for (let q = itemStart[i] as number, end = itemStart[i + 1] as number; q < end; q++) {
      const w = tWeights[q] as number;
      s += w * w;
    }
    invNorm[i] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }

  // 4. Accumulate dot products with later items and offer each pair to both items' heaps.
  const heaps = new TopKHeaps(nItems, k);
  const acc = new Float64Array(nItems);
  const touched = new Int32Array(nItems);
  let accumulations = 0;
  for (let i = 0; i < nItems; i++) {
    let nTouched = 0;
    for (let q = itemStart[i] as number, qEnd = itemStart[i + 1] as number; q < qEnd; q++) {
      const wi = tWeights[q] as number;
      const uEnd = userStart[(tUsers[q] as number) + 1] as number;
      const from = (tPos[q] as number) + 1;
      accumulations += uEnd - from;
      for (let p = from; p < uEnd; p++) {
        const j = sItems[p] as number;
        // Weights are positive, so a zero accumulator means "not touched yet".
        if (acc[j] === 0) touched[nTouched++] = j;
        acc[j] = (acc[j] as number) + wi * (sWeights[p] as number);
      }
    }
    const ni = invNorm[i] as number;
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t] as number;
      const s = (acc[j] as number) * ni * (invNorm[j] as number);
      acc[j] = 0;
      heaps.offer(i, j, s);
      heaps.offer(j, i, s);
    }
  }
  return {
    ...heaps.toLists(),
    itemTotals,
    stats: { interactions: nnzIn, entries: nnz, cappedUsers, accumulations },
  };
}

/** The neighbours of one item (views into the lists, not copies). */
export function neighboursOf(lists: NeighbourLists, item: number): { items: Int32Array; scores: Float32Array } {
  const begin = lists.offsets[item] ?? 0;
  const end = lists.offsets[item + 1] ?? begin;
  return { items: lists.items.subarray(begin, end), scores: lists.scores.subarray(begin, end) };
}

/**
 * One bounded min-heap per item, in flat typed arrays, keeping the k best (score desc,
 * then item asc) candidates offered. Used by item-cf and by the TF-IDF content neighbours.
 */
export class TopKHeaps {
  private readonly ids: Int32Array;
  private readonly vals: Float64Array;
  private readonly size: Int32Array;

  constructor(
    readonly n: number,
    readonly k: number,
  ) {
    this.ids = new Int32Array(n * k);
    this.vals = new Float64Array(n * k);
    this.size = new Int32Array(n);
  }

  /** Offers `candidate` with `score` to the heap of `owner`. */
  offer(owner: number, candidate: number, score: number): void {
    const k = this.k;
    if (k === 0) return;
    const base = owner * k;
    const ids = this.ids;
    const vals = this.vals;
    const size = this.size[owner] as number;
    if (size < k) {
      // Sift up: the root holds the worst kept candidate.
      let c = size;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        const pv = vals[base + parent] as number;
        const pi = ids[base + parent] as number;
        if (!(score < pv || (score === pv && candidate > pi))) break;
        vals[base + c] = pv;
        ids[base + c] = pi;
        c = parent;
      }
      vals[base + c] = score;
      ids[base + c] = candidate;
      this.size[owner] = size + 1;
      return;
    }
    const rv = vals[base] as number;
    if (score < rv || (score === rv && candidate > (ids[base] as number))) return;
    // Replace the root and sift down.
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= k) break;
      let w = l;
      const r = l + 1;
      if (r < k) {
        const lv = vals[base + l] as number;
        const rv2 = vals[base + r] as number;
        if (rv2 < lv || (rv2 === lv && (ids[base + r] as number) > (ids[base + l] as number))) w = r;
      }
      const wv = vals[base + w] as number;
      const wi = ids[base + w] as number;
      if (!(wv < score || (wv === score && wi > candidate))) break;
      vals[base + c] = wv;
      ids[base + c] = wi;
      c = w;
    }
    vals[base + c] = score;
    ids[base + c] = candidate;
  }

  /** The kept candidates of every owner, best first, as compact CSR lists. */
  toLists(): NeighbourLists {
    const offsets = new Int32Array(this.n + 1);
    for (let i = 0; i < this.n; i++) offsets[i + 1] = (offsets[i] as number) + (this.size[i] as number);
    const total = offsets[this.n] as number;
    const items = new Int32Array(total);
    const scores = new Float32Array(total);
    const order: number[] = [];
    for (let i = 0; i < this.n; i++) {
      const base = i * this.k;
      const size = this.size[i] as number;
      order.length = 0;
      for (let t = 0; t < size; t++) order.push(base + t);
      order.sort((a, b) => {
        const d = (this.vals[b] as number) - (this.vals[a] as number);
        return d !== 0 ? d : (this.ids[a] as number) - (this.ids[b] as number);
      });
      const out = offsets[i] as number;
      for (let t = 0; t < size; t++) {
        const src = order[t] as number;
        items[out + t] = this.ids[src] as number;
        scores[out + t] = this.vals[src] as number;
      }
    }
    return { offsets, items, scores };
  }
}

function validate(input: Interactions, k: number, cap: number): void {
  const { userIdx, itemIdx, weight, nUsers, nItems } = input;
  if (!Number.isInteger(nUsers) || nUsers < 0) throw new RangeError(`nUsers must be a non-negative integer, got ${nUsers}`);
  if (!Number.isInteger(nItems) || nItems < 0) throw new RangeError(`nItems must be a non-negative integer, got ${nItems}`);
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  if (!Number.isInteger(cap) || cap < 2) throw new RangeError(`maxItemsPerUser must be an integer >= 2, got ${cap}`);
  if (itemIdx.length !== userIdx.length || weight.length !== userIdx.length) {
    throw new RangeError(
      `userIdx, itemIdx and weight must have the same length, got ${userIdx.length}, ${itemIdx.length}, ${weight.length}`,
    );
  }
  for (let e = 0; e < userIdx.length; e++) {
    const u = userIdx[e] as number;
    const i = itemIdx[e] as number;
    const w = weight[e] as number;
    if (u < 0 || u >= nUsers) throw new RangeError(`userIdx[${e}] = ${u} is outside 0..${nUsers - 1}`);
    if (i < 0 || i >= nItems) throw new RangeError(`itemIdx[${e}] = ${i} is outside 0..${nItems - 1}`);
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight[${e}] = ${w} must be finite and >= 0`);
  }
}

