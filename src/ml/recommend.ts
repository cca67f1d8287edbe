/**
 * The recommender: item-item collaborative filtering blended with TF-IDF content
 * similarity, popularity (overall and per category) for cold start, never an item the user
 * owns, and a structured reason on every recommendation.
 *
 * Everything that depends on the whole catalogue or all interactions is computed once in
 * {@link buildRecommender}; a call to `recommend` touches only the neighbour lists of the
 * user's history items (O(history × K)) and the precomputed popularity lists.
 */
import { itemCfNeighbours, type ItemCfStats, type NeighbourLists } from './item-cf.js';
import { contentNeighbours, fitTfidf, topSharedTerm, type SparseVector, type TfidfOptions } from './tfidf.js';

/** A catalogue item. */
export interface RecommenderItem {
  readonly id: string;
  readonly title: string;
  readonly tags?: readonly string[] | null;
  readonly description?: string | null;
  readonly category?: string | null;
}

/** One user–item event. Repeats of the same pair count once, with the stronger kind. */
export interface RecommenderInteraction {
  readonly userId: string;
  readonly itemId: string;
  readonly kind: 'purchase' | 'view';
}

/**
 * Why an item was recommended, kept structured so the text can be rendered later in either
 * language. `because_viewed` exists besides the other four because a suggestion driven by
 * an item the user only looked at must not claim they bought it.
 */
export type RecommendationReason =
  | { readonly kind: 'because_bought'; readonly itemId: string }
  | { readonly kind: 'because_viewed'; readonly itemId: string }
  | { readonly kind: 'similar_topic'; readonly itemId: string; readonly topic: string }
  | { readonly kind: 'popular_in'; readonly category: string }
  | { readonly kind: 'popular' };

/** One recommended item. */
export interface Recommendation {
  readonly itemId: string;
  /**
   * Personalised items: the blended score (higher is better). Popularity fill-ins: their
   * popularity term alone, and they always come after every personalised item.
   */
  readonly score: number;
  readonly reason: RecommendationReason;
}

/** What a user has: items are identified by the catalogue's ids; unknown ids are ignored. */
export interface UserHistory {
  /** Owned items, oldest first: these are never recommended. */
  readonly owned: readonly string[];
  /** Viewed items, oldest first. */
  readonly viewed?: readonly string[];
}

/** Tuning for {@link buildRecommender}; all optional. */
export interface RecommenderOptions {
  /** Weight of collaborative-filtering similarity in the blend (default 1). */
  readonly cfWeight?: number;
  /** Weight of content similarity in the blend (default 0.5). */
  readonly contentWeight?: number;
  /**
   * Weight of normalised popularity (0–1) added to each personalised candidate (default
   * 0.05): a tie-breaker towards items others liked, small enough not to override similarity.
   */
  readonly popularityWeight?: number;
  /**
   * Weight of a view relative to a purchase (default 0.3), both as an interaction in the
   * CF matrix and as a history item when recommending.
   */
  readonly viewWeight?: number;
  /** CF neighbours kept per item (default 50). */
  readonly cfK?: number;
  /** Content neighbours kept per item (default 20). */
  readonly contentK?: number;
  /** Content pairs below this cosine are ignored (default 0.05: sharing one common word is not a topic). */
  readonly minContentScore?: number;
  /** Cap on distinct items per user in the CF matrix (default 300; see item-cf). */
  readonly maxItemsPerUser?: number;
  /** Length of each precomputed popularity list (default 200). */
  readonly popularListSize?: number;
  /** Most recent owned and viewed items used per request, each (default 200). */
  readonly maxHistory?: number;
  /** Seed for item-cf's heavy-user sampling (default 1). */
  readonly seed?: number;
  readonly tfidf?: TfidfOptions;
}

/** What was built, for logs and job results. */
export interface RecommenderStats {
  readonly items: number;
  readonly users: number;
  readonly interactions: number;
  /** Interactions whose item is not in the catalogue (skipped). */
  readonly unknownItemInteractions: number;
  readonly cf: ItemCfStats | null;
  readonly contentEdges: number;
}

interface QueryOptions {
  readonly cfWeight: number;
  readonly contentWeight: number;
  readonly popularityWeight: number;
  readonly viewWeight: number;
  readonly maxHistory: number;
}

/** Serialised form of {@link Recommender}: typed arrays as little-endian base64. */
export interface RecommenderJson {
  readonly kind: 'recommender';
  readonly version: 1;
  readonly options: QueryOptions;
  readonly itemIds: string[];
  readonly categories: string[];
  readonly itemCategory: string;
  readonly popularity: string;
  readonly popular: string;
  readonly popularByCategory: { readonly offsets: string; readonly items: string };
  readonly cf: { readonly offsets: string; readonly items: string; readonly scores: string };
  readonly content: { readonly offsets: string; readonly items: string; readonly scores: string; readonly topics: string };
  readonly topicTerms: string[];
  readonly stats: RecommenderStats;
}

/** Per-item model state shared by build and load. */
interface RecommenderState {
  readonly options: QueryOptions;
  readonly itemIds: readonly string[];
  readonly categories: readonly string[];
  /** Category index per item, -1 when none. */
  readonly itemCategory: Int32Array;
  /** Popularity per item (buyers + view weight × viewers), see item-cf `itemTotals`. */
  readonly popularity: Float32Array;
  /** Items by popularity, most popular first. */
  readonly popular: Int32Array;
  /** Per category, its items by popularity (CSR over category indices). */
  readonly popularByCategory: { readonly offsets: Int32Array; readonly items: Int32Array };
  readonly cf: NeighbourLists;
  /** Content neighbours, with the index into `topicTerms` of the term each pair shares most. */
  readonly content: NeighbourLists & { readonly topics: Int32Array };
  readonly topicTerms: readonly string[];
  readonly stats: RecommenderStats;
}

/** A built recommender; cheap to query, serialisable with toJSON/load. */
export class Recommender {
  private readonly index: Map<string, number>;
  private readonly maxPopularity: number;
  // Scratch space reused across calls so a request allocates O(history × K), not O(items).
  private readonly cfOwned: Float64Array;
  private readonly cfViewed: Float64Array;
  private readonly contentSum: Float64Array;
  private readonly bestOwned: Float64Array;
  private readonly bestViewed: Float64Array;
  private readonly bestContent: Float64Array;
  private readonly srcOwned: Int32Array;
  private readonly srcViewed: Int32Array;
  private readonly srcContent: Int32Array;
  private readonly topicContent: Int32Array;
  private readonly mark: Uint8Array;

  private constructor(private readonly state: RecommenderState) {
    const n = state.itemIds.length;
    this.index = new Map(state.itemIds.map((id, i) => [id, i]));
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, state.popularity[i] as number);
    this.maxPopularity = max;
    this.cfOwned = new Float64Array(n);
    this.cfViewed = new Float64Array(n);
    this.contentSum = new Float64Array(n);
    this.bestOwned = new Float64Array(n);
    this.bestViewed = new Float64Array(n);
    this.bestContent = new Float64Array(n);
    this.srcOwned = new Int32Array(n);
    this.srcViewed = new Int32Array(n);
    this.srcContent = new Int32Array(n);
    this.topicContent = new Int32Array(n);
    this.mark = new Uint8Array(n);
  }

  /** @internal Use {@link buildRecommender} or {@link Recommender.load}. */
  static fromState(state: RecommenderState): Recommender {
    return new Recommender(state);
  }

  /** Counts from the build. */
  get stats(): RecommenderStats {
    return this.state.stats;
  }

  /**
   * Up to `n` recommendations for a user, best first, never an owned item.
   *
   * Each owned item (weight 1) and viewed item (weight `viewWeight`) in the history adds
   * weight × similarity to its CF and content neighbours; a candidate's score is
   * (cfWeight · CF sum + contentWeight · content sum) / total history weight
   * + popularityWeight · popularity / max popularity. Its reason is the single largest
   * contribution. When fewer than `n` candidates come out (new users, unknown items, a
   * tiny catalogue), the rest are the most popular items in the categories of the user's
   * history, then the most popular overall.
   */
  recommend(history: UserHistory, n: number): Recommendation[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
    const s = this.state;
    const { cfWeight, contentWeight, popularityWeight, viewWeight, maxHistory } = s.options;
    const owned = new Set(history.owned);
    const sources: { item: number; owned: boolean }[] = [];
    const seen = new Set<number>();
    const pushRecent = (ids: readonly string[], isOwned: boolean): void => {
      let taken = 0;
      for (let p = ids.length - 1; p >= 0 && taken < maxHistory; p--) {
        const id = ids[p] as string;
        if (!isOwned && owned.has(id)) continue;
        const i = this.index.get(id);
        if (i === undefined || seen.has(i)) continue;
        seen.add(i);
        sources.push({ item: i, owned: isOwned });
        taken++;
      }
    };
    pushRecent(history.owned, true);
    pushRecent(history.viewed ?? [], false);

    // mark: 0 untouched, 1 candidate, 2 owned (never a candidate); reset before returning.
    const ownedIdx: number[] = [];
    for (const id of owned) {
      const i = this.index.get(id);
      if (i !== undefined) {
        this.mark[i] = 2;
        ownedIdx.push(i);
      }
    }
    const touched: number[] = [];
    const touch = (j: number): boolean => {
      const m = this.mark[j];
      if (m === 2) return false;
      if (m === 0) {
        this.mark[j] = 1;
        touched.push(j);
      }
      return true;
    };
    let totalWeight = 0;
    for (const src of sources) {
      const w = src.owned ? 1 : viewWeight;
      totalWeight += w;
      for (let p = s.cf.offsets[src.item] as number, end = s.cf.offsets[src.item + 1] as number; p < end; p++) {
        const j = s.cf.items[p] as number;
        if (!touch(j)) continue;
        const v = w * (s.cf.scores[p] as number);
        if (src.owned) {
          this.cfOwned[j] = (this.cfOwned[j] as number) + v;
          if (v > (this.bestOwned[j] as number)) {
            this.bestOwned[j] = v;
            this.srcOwned[j] = src.item;
          }
        } else {
          this.cfViewed[j] = (this.cfViewed[j] as number) + v;
          if (v > (this.bestViewed[j] as number)) {
            this.bestViewed[j] = v;
            this.srcViewed[j] = src.item;
          }
        }
      }
      const c = s.content;
      for (let p = c.offsets[src.item] as number, end = c.offsets[src.item + 1] as number; p < end; p++) {
        const j = c.items[p] as number;
        if (!touch(j)) continue;
        const v = w * (c.scores[p] as number);
        this.contentSum[j] = (this.contentSum[j] as number) + v;
        if (v > (this.bestContent[j] as number)) {
          this.bestContent[j] = v;
          this.srcContent[j] = src.item;
          this.topicContent[j] = c.topics[p] as number;
        }
      }
    }

    const scored: Recommendation[] = [];
    const popNorm = this.maxPopularity > 0 ? 1 / this.maxPopularity : 0;
    for (const j of touched) {
      const signal =
        cfWeight * ((this.cfOwned[j] as number) + (this.cfViewed[j] as number)) + contentWeight * (this.contentSum[j] as number);
      const score = signal > 0 ? signal / totalWeight + popularityWeight * (s.popularity[j] as number) * popNorm : 0;
      const byOwned = cfWeight * (this.bestOwned[j] as number);
      const byContent = contentWeight * (this.bestContent[j] as number);
      const byViewed = cfWeight * (this.bestViewed[j] as number);
      let reason: RecommendationReason;
      if (byOwned > 0 && byOwned >= byContent && byOwned >= byViewed) {
        reason = { kind: 'because_bought', itemId: s.itemIds[this.srcOwned[j] as number] as string };
      } else if (byContent > 0 && byContent >= byViewed) {
        reason = {
          kind: 'similar_topic',
          itemId: s.itemIds[this.srcContent[j] as number] as string,
          topic: s.topicTerms[this.topicContent[j] as number] ?? '',
        };
      } else {
        reason = { kind: 'because_viewed', itemId: s.itemIds[this.srcViewed[j] as number] as string };
      }
      // A zero-weight signal (e.g. views with viewWeight 0) is no reason to recommend.
      if (signal > 0) scored.push({ itemId: s.itemIds[j] as string, score, reason });
      this.cfOwned[j] = 0;
      this.cfViewed[j] = 0;
      this.contentSum[j] = 0;
      this.bestOwned[j] = 0;
      this.bestViewed[j] = 0;
      this.bestContent[j] = 0;
      this.mark[j] = 0;
    }
    for (const i of ownedIdx) this.mark[i] = 0;
    // Ties broken by item id so the same request always gets the same list.
    scored.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
    const out = scored.slice(0, n);
    if (out.length >= n) return out;

    // Cold start: popular in the user's categories (most frequent first), then overall.
    const chosen = new Set(out.map((r) => r.itemId));
    const take = (items: Int32Array, begin: number, end: number, reason: RecommendationReason): void => {
      for (let p = begin; p < end && out.length < n; p++) {
        const j = items[p] as number;
        const id = s.itemIds[j] as string;
        if (owned.has(id) || chosen.has(id)) continue;
        chosen.add(id);
        out.push({ itemId: id, score: popularityWeight * (s.popularity[j] as number) * popNorm, reason });
      }
    };
    const categoryCounts = new Map<number, number>();
    for (const src of sources) {
      const c = s.itemCategory[src.item] as number;
      if (c >= 0) categoryCounts.set(c, (categoryCounts.get(c) ?? 0) + (src.owned ? 1 : viewWeight));
    }
    const cats = [...categoryCounts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (const [c] of cats) {
      if (out.length >= n) break;
      const pc = s.popularByCategory;
      take(pc.items, pc.offsets[c] as number, pc.offsets[c + 1] as number, {
        kind: 'popular_in',
        category: s.categories[c] as string,
      });
    }
    take(s.popular, 0, s.popular.length, { kind: 'popular' });
    return out;
  }

  /** A plain object for `jsonb` storage (typed arrays as base64, a few MB for 10k items). */
  toJSON(): RecommenderJson {
    const s = this.state;
    return {
      kind: 'recommender',
      version: 1,
      options: { ...s.options },
      itemIds: [...s.itemIds],
      categories: [...s.categories],
      itemCategory: encode(s.itemCategory),
      popularity: encode(s.popularity),
      popular: encode(s.popular),
      popularByCategory: { offsets: encode(s.popularByCategory.offsets), items: encode(s.popularByCategory.items) },
      cf: { offsets: encode(s.cf.offsets), items: encode(s.cf.items), scores: encode(s.cf.scores) },
      content: {
        offsets: encode(s.content.offsets),
        items: encode(s.content.items),
        scores: encode(s.content.scores),
        topics: encode(s.content.topics),
      },
      topicTerms: [...s.topicTerms],
      stats: s.stats,
    };
  }

  /** Rebuilds a recommender from {@link Recommender.toJSON} output (e.g. in another worker process). */
  static load(json: RecommenderJson): Recommender {
    if (json?.kind !== 'recommender' || json.version !== 1) {
      throw new TypeError(`expected a recommender of version 1, got kind=${String(json?.kind)} version=${String(json?.version)}`);
    }
    const n = json.itemIds.length;
    const i32 = (b64: string): Int32Array => new Int32Array(decode(b64));
    const f32 = (b64: string): Float32Array => new Float32Array(decode(b64));
    const lists = (l: { offsets: string; items: string; scores: string }, name: string): NeighbourLists => {
      const offsets = i32(l.offsets);
      const items = i32(l.items);
      const scores = f32(l.scores);
      if (offsets.length !== n + 1 || items.length !== scores.length || offsets[n] !== items.length) {
        throw new TypeError(`recommender ${name} lists do not match ${n} items`);
      }
      return { offsets, items, scores };
    };
    const content = { ...lists(json.content, 'content'), topics: i32(json.content.topics) };
    if (content.topics.length !== content.items.length) throw new TypeError('recommender content topics do not match its lists');
    const itemCategory = i32(json.itemCategory);
    const popularity = f32(json.popularity);
    if (itemCategory.length !== n || popularity.length !== n) throw new TypeError(`recommender item arrays do not match ${n} items`);
    return new Recommender({
      options: json.options,
      itemIds: json.itemIds,
      categories: json.categories,
      itemCategory,
      popularity,
      popular: i32(json.popular),
      popularByCategory: { offsets: i32(json.popularByCategory.offsets), items: i32(json.popularByCategory.items) },
      cf: lists(json.cf, 'cf'),
      content,
      topicTerms: json.topicTerms,
      stats: json.stats,
    });
  }
}

/** Input to {@link buildRecommender}. */
export interface RecommenderInput {
  readonly items: readonly RecommenderItem[];
  /** Any iterable, so a caller can stream rows from the database without an array of millions. */
  readonly interactions: Iterable<RecommenderInteraction>;
  readonly options?: RecommenderOptions;
}

/**
 * Builds a recommender from the catalogue and the interaction log: item-cf neighbours,
 * TF-IDF content neighbours (with the shared term that explains each pair), and popularity
 * lists. Interactions on items missing from the catalogue are skipped and counted.
 *
 * @throws RangeError on duplicate item ids or invalid options.
 */
export function buildRecommender(input: RecommenderInput): Recommender {
  const o = input.options ?? {};
  const options: QueryOptions = {
    cfWeight: nonNegative(o.cfWeight ?? 1, 'cfWeight'),
    contentWeight: nonNegative(o.contentWeight ?? 0.5, 'contentWeight'),
    popularityWeight: nonNegative(o.popularityWeight ?? 0.05, 'popularityWeight'),
    viewWeight: nonNegative(o.viewWeight ?? 0.3, 'viewWeight'),
    maxHistory: o.maxHistory ?? 200,
  };
  if (!Number.isInteger(options.maxHistory) || options.maxHistory < 1) {
    throw new RangeError(`maxHistory must be an integer >= 1, got ${options.maxHistory}`);
  }
  const popularListSize = o.popularListSize ?? 200;
  if (!Number.isInteger(popularListSize) || popularListSize < 0) {
    throw new RangeError(`popularListSize must be a non-negative integer, got ${popularListSize}`);
  }
  const items = input.items;
  const nItems = items.length;
  const index = new Map<string, number>();
  items.forEach((it, i) => {
    if (index.has(it.id)) throw new RangeError(`duplicate item id ${it.id} at positions ${index.get(it.id)} and ${i}`);
    index.set(it.id, i);
  });

  // Intern user ids into dense ints while streaming, growing the typed arrays by doubling.
  const users = new Map<string, number>();
  let cap = 1024;
  let userIdx = new Int32Array(cap);
  let itemIdx = new Int32Array(cap);
  let weight = new Float32Array(cap);
  let nnz = 0;
  let seenInteractions = 0;
  let unknown = 0;
  for (const ev of input.interactions) {
    seenInteractions++;
    const i = index.get(ev.itemId);
    if (i === undefined) {
      unknown++;
      continue;
    }
    let u = users.get(ev.userId);
    if (u === undefined) {
      u = users.size;
      users.set(ev.userId, u);
    }
    if (nnz === cap) {
      cap *= 2;
      userIdx = grow(userIdx, new Int32Array(cap));
      itemIdx = grow(itemIdx, new Int32Array(cap));
      weight = grow(weight, new Float32Array(cap));
    }
    userIdx[nnz] = u;
    itemIdx[nnz] = i;
    weight[nnz] = ev.kind === 'purchase' ? 1 : options.viewWeight;
    nnz++;
  }
  const cfResult = itemCfNeighbours(
    {
      userIdx: userIdx.subarray(0, nnz),
      itemIdx: itemIdx.subarray(0, nnz),
      weight: weight.subarray(0, nnz),
      nUsers: users.size,
      nItems,
    },
    {
      k: o.cfK ?? 50,
      ...(o.maxItemsPerUser !== undefined ? { maxItemsPerUser: o.maxItemsPerUser } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    },
  );
  const cf: NeighbourLists = { offsets: cfResult.offsets, items: cfResult.items, scores: cfResult.scores };

  const { vectors, model: tfidf } = fitTfidf(
    items.map((it) => ({ title: it.title, tags: it.tags ?? null, description: it.description ?? null })),
    o.tfidf ?? {},
  );
  const contentLists = contentNeighbours(vectors, { k: o.contentK ?? 20, minScore: o.minContentScore ?? 0.05 });
  // Name each content pair by the term it shares most, keeping only terms that name a pair.
  const topicTerms: string[] = [];
  const topicIndex = new Map<number, number>();
  const topics = new Int32Array(contentLists.items.length);
  for (let i = 0; i < nItems; i++) {
    for (let p = contentLists.offsets[i] as number, end = contentLists.offsets[i + 1] as number; p < end; p++) {
      const term = topSharedTerm(vectors[i] as SparseVector, vectors[contentLists.items[p] as number] as SparseVector);
      let t = topicIndex.get(term);
      if (t === undefined) {
        t = topicTerms.length;
        topicIndex.set(term, t);
        topicTerms.push(term >= 0 ? (tfidf.vocabulary[term] as string) : '');
      }
      topics[p] = t;
    }
  }

  const popularity = Float32Array.from(cfResult.itemTotals);
  const categories: string[] = [];
  const categoryIndex = new Map<string, number>();
  const itemCategory = new Int32Array(nItems).fill(-1);
  items.forEach((it, i) => {
    const c = it.category?.trim();
    if (!c) return;
    let ci = categoryIndex.get(c);
    if (ci === undefined) {
      ci = categories.length;
      categoryIndex.set(c, ci);
      categories.push(c);
    }
    itemCategory[i] = ci;
  });
  // Most popular first, ties to the earlier catalogue position; never-touched items are
  // left out so "popular" is never a lie.
  const byPopularity = Array.from({ length: nItems }, (_, i) => i)
    .filter((i) => (popularity[i] as number) > 0)
    .sort((a, b) => (popularity[b] as number) - (popularity[a] as number) || a - b);
  const popular = Int32Array.from(byPopularity.slice(0, popularListSize));
  const perCategory: number[][] = categories.map(() => []);
  for (const i of byPopularity) {
    const c = itemCategory[i] as number;
    const list = perCategory[c];
    if (c >= 0 && list && list.length < popularListSize) list.push(i);
  }
  const pcOffsets = new Int32Array(categories.length + 1);
  perCategory.forEach((l, c) => (pcOffsets[c + 1] = (pcOffsets[c] as number) + l.length));
  const pcItems = Int32Array.from(perCategory.flat());

  return Recommender.fromState({
    options,
    itemIds: items.map((it) => it.id),
    categories,
    itemCategory,
    popularity,
    popular,
    popularByCategory: { offsets: pcOffsets, items: pcItems },
    cf,
    content: { ...contentLists, topics },
    topicTerms,
    stats: {
      items: nItems,
      users: users.size,
      interactions: seenInteractions,
      unknownItemInteractions: unknown,
      cf: cfResult.stats,
      contentEdges: contentLists.items.length,
    },
  });
}

function nonNegative(v: number, name: string): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be finite and >= 0, got ${v}`);
  return v;
}

function grow<T extends Int32Array | Float32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

// Typed arrays are stored as raw little-endian bytes (every platform Node supports is
// little-endian); base64 is about a third the size of a JSON number array and exact for floats.
function encode(a: Int32Array | Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function decode(b64: string): ArrayBuffer {
  const b = Buffer.from(b64, 'base64');
  // Copy into a fresh, 4-byte-aligned buffer: Buffer slices may share a pool at any offset.
  const out = new ArrayBuffer(b.byteLength);
  new Uint8Array(out).set(b);
  return out;
}
