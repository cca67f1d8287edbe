/**
 * TF-IDF over item text (title, tags, description) into sparse, L2-normalised vectors;
 * cosine between them; the top-K content neighbours of every item; and the terms that
 * explain a vector or a pair ("similar topic: 职场").
 */
import { TopKHeaps, type NeighbourLists } from './item-cf.js';
import { tokenize, type TokenizeOptions } from './text.js';

/** The text of one item. Every field is optional: an item may have only a title. */
export interface TfidfDocument {
  readonly title?: string | null;
  readonly tags?: readonly string[] | null;
  readonly description?: string | null;
}

/** How much one occurrence of a word in each field counts towards its term frequency. */
export interface FieldWeights {
  readonly title: number;
  readonly tags: number;
  readonly description: number;
}

/**
 * Titles and tags are short and chosen by an editor to say what the item is about, while
 * descriptions are long and full of marketing filler; so a title or tag word counts double.
 */
export const DEFAULT_FIELD_WEIGHTS: FieldWeights = { title: 2, tags: 2, description: 1 };

/** Options for {@link fitTfidf}. */
export interface TfidfOptions {
  readonly fieldWeights?: Partial<FieldWeights>;
  /**
   * Use log(1 + tf) instead of tf (default true), so a description that repeats a word
   * ten times does not drown the title.
   */
  readonly sublinearTf?: boolean;
  /** Drop terms found in fewer documents than this (default 1: keep all). */
  readonly minDf?: number;
  /**
   * Drop terms found in more than this share of documents (default 1: keep all). On big
   * catalogues 0.5 removes words like "课程" that make everything look alike, and shortens
   * the posting lists that {@link contentNeighbours} walks.
   */
  readonly maxDfRatio?: number;
  readonly tokenize?: TokenizeOptions;
}

/**
 * A sparse vector: term indices strictly ascending, with their weights. Vectors made here
 * have unit L2 norm, or are empty when a document has no known term.
 */
export interface SparseVector {
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/** Serialised form of {@link TfidfModel}. */
export interface TfidfModelJson {
  readonly kind: 'tfidf';
  readonly version: 1;
  readonly vocabulary: string[];
  readonly idf: number[];
  readonly fieldWeights: FieldWeights;
  readonly sublinearTf: boolean;
  readonly stopWords?: string[];
}

/** A fitted vocabulary with its inverse document frequencies. */
export class TfidfModel {
  private readonly index: Map<string, number>;

  constructor(
    readonly vocabulary: readonly string[],
    readonly idf: Float64Array,
    readonly fieldWeights: FieldWeights,
    readonly sublinearTf: boolean,
    readonly tokenizeOptions: TokenizeOptions = {},
  ) {
    if (idf.length !== vocabulary.length) {
      throw new RangeError(`idf has ${idf.length} entries for a vocabulary of ${vocabulary.length}`);
    }
    this.index = new Map(vocabulary.map((t, i) => [t, i]));
  }

  /** The index of a term, or -1 when it is not in the vocabulary. */
  termIndex(term: string): number {
    return this.index.get(term) ?? -1;
  }

  /** The L2-normalised TF-IDF vector of a document; words outside the vocabulary are ignored. */
  transform(doc: TfidfDocument): SparseVector {
    const tf = termFrequencies(doc, this.fieldWeights, this.tokenizeOptions);
    const entries: [number, number][] = [];
    for (const [term, f] of tf) {
      const t = this.index.get(term);
      if (t === undefined) continue;
      entries.push([t, (this.sublinearTf ? Math.log1p(f) : f) * (this.idf[t] as number)]);
    }
    return normalised(entries);
  }

  /** A plain object for `jsonb` storage. */
  toJSON(): TfidfModelJson {
    const stop = this.tokenizeOptions.stopWords;
    return {
      kind: 'tfidf',
      version: 1,
      vocabulary: [...this.vocabulary],
      idf: Array.from(this.idf),
      fieldWeights: { ...this.fieldWeights },
      sublinearTf: this.sublinearTf,
      ...(stop ? { stopWords: [...stop] } : {}),
    };
  }

  /** Rebuilds a model from {@link TfidfModel.toJSON} output. */
  static load(json: TfidfModelJson): TfidfModel {
    if (json?.kind !== 'tfidf' || json.version !== 1) {
      throw new TypeError(`expected a tfidf model of version 1, got kind=${String(json?.kind)} version=${String(json?.version)}`);
    }
    return new TfidfModel(
      json.vocabulary,
      Float64Array.from(json.idf),
      json.fieldWeights,
      json.sublinearTf,
      json.stopWords ? { stopWords: new Set(json.stopWords) } : {},
    );
  }
}

/**
 * Fits TF-IDF on a corpus and returns the model with every document's vector.
 *
 * tf = Σ over fields of (field weight × occurrences), then log(1 + tf) when `sublinearTf`;
 * idf = ln((1 + N) / (1 + df)) + 1 (smoothed, as in scikit-learn), so a term in every
 * document keeps a small positive weight rather than vanishing. Each tag also counts as
 * one whole term ("时间管理" as well as "时间" and "管理"), so two items sharing a tag match
 * on it even when the segmenter splits it. The vocabulary is sorted, so the model does not
 * depend on document order.
 */
export function fitTfidf(
  docs: readonly TfidfDocument[],
  options: TfidfOptions = {},
): { model: TfidfModel; vectors: SparseVector[] } {
  const fieldWeights = { ...DEFAULT_FIELD_WEIGHTS, ...options.fieldWeights };
  for (const [field, w] of Object.entries(fieldWeights)) {
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`fieldWeights.${field} must be finite and >= 0, got ${w}`);
  }
  const sublinearTf = options.sublinearTf ?? true;
  const minDf = options.minDf ?? 1;
  const maxDfRatio = options.maxDfRatio ?? 1;
  if (!(maxDfRatio > 0 && maxDfRatio <= 1)) throw new RangeError(`maxDfRatio must be in (0, 1], got ${maxDfRatio}`);
  const tokenizeOptions = options.tokenize ?? {};

  const perDoc = docs.map((d) => termFrequencies(d, fieldWeights, tokenizeOptions));
  const df = new Map<string, number>();
  for (const tf of perDoc) for (const term of tf.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  const n = docs.length;
  const vocabulary = [...df.entries()]
    .filter(([, d]) => d >= minDf && d <= maxDfRatio * n)
    .map(([t]) => t)
    .sort();
  const idf = Float64Array.from(vocabulary, (t) => Math.log((1 + n) / (1 + (df.get(t) as number))) + 1);
  const model = new TfidfModel(vocabulary, idf, fieldWeights, sublinearTf, tokenizeOptions);
  const vectors = perDoc.map((tf) => {
    const entries: [number, number][] = [];
    for (const [term, f] of tf) {
      const t = model.termIndex(term);
      if (t >= 0) entries.push([t, (sublinearTf ? Math.log1p(f) : f) * (idf[t] as number)]);
    }
    return normalised(entries);
  });
  return { model, vectors };
}

/** Cosine similarity of two sparse vectors (0 when either is empty or all-zero). */
export function cosineSparse(a: SparseVector, b: SparseVector): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.values.length; i++) na += (a.values[i] as number) ** 2;
  for (let j = 0; j < b.values.length; j++) nb += (b.values[j] as number) ** 2;
  if (na === 0 || nb === 0) return 0;
  for (let i = 0, j = 0; i < a.indices.length && j < b.indices.length; ) {
    const ai = a.indices[i] as number;
    const bj = b.indices[j] as number;
    if (ai === bj) {
      dot += (a.values[i++] as number) * (b.values[j++] as number);
    } else if (ai < bj) i++;
    else j++;
  }
  return dot / Math.sqrt(na * nb);
}

/** The k heaviest terms of a vector, heaviest first (ties: earlier in the vocabulary). */
export function topTerms(
  vector: SparseVector,
  vocabulary: readonly string[],
  k: number,
): { term: string; weight: number }[] {
  const order = Array.from(vector.indices.keys()).sort(
    (x, y) => (vector.values[y] as number) - (vector.values[x] as number) || (vector.indices[x] as number) - (vector.indices[y] as number),
  );
  return order.slice(0, Math.max(0, k)).map((p) => ({
    term: vocabulary[vector.indices[p] as number] as string,
    weight: vector.values[p] as number,
  }));
}

/**
 * The term contributing most to the dot product of two vectors — the word to show in a
 * "similar topic" reason — or -1 when they share none.
 */
export function topSharedTerm(a: SparseVector, b: SparseVector): number {
  let best = -1;
  let bestProduct = 0;
  for (let i = 0, j = 0; i < a.indices.length && j < b.indices.length; ) {
    const ai = a.indices[i] as number;
    const bj = b.indices[j] as number;
    if (ai === bj) {
      const p = (a.values[i++] as number) * (b.values[j++] as number);
      if (p > bestProduct) {
        bestProduct = p;
        best = ai;
      }
    } else if (ai < bj) i++;
    else j++;
  }
  return best;
}

/** Options for {@link contentNeighbours}. */
export interface ContentNeighbourOptions {
  /** Neighbours kept per document (default 20). */
  readonly k?: number;
  /** Keep only pairs whose cosine is above this (default 0). */
  readonly minScore?: number;
}

/**
 * The top-K most similar documents of every document, by cosine of their unit vectors.
 *
 * Walks an inverted index (term → documents), visiting each unordered pair that shares a
 * term once per shared term: the cost is Σ over terms of df² / 2, which is small for a
 * catalogue of ~10k items whose terms are mostly rare. Returned in the same CSR form as
 * item-cf neighbours, so the recommender treats both alike.
 */
export function contentNeighbours(vectors: readonly SparseVector[], options: ContentNeighbourOptions = {}): NeighbourLists {
  const k = options.k ?? 20;
  const minScore = options.minScore ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  const n = vectors.length;
  let nTerms = 0;
  let nnz = 0;
  for (const v of vectors) {
    nnz += v.indices.length;
    for (let p = 0; p < v.indices.length; p++) nTerms = Math.max(nTerms, (v.indices[p] as number) + 1);
  }
  // Postings are filled in document order, so each list is ascending and `pos` lets a
  // document skip straight past itself to the later documents.
  const start = new Int32Array(nTerms + 1);
  for (const v of vectors) {
    for (let p = 0; p < v.indices.length; p++) {
      const t1 = (v.indices[p] as number) + 1;
      start[t1] = (start[t1] as number) + 1;
    }
  }
  for (let t = 0; t < nTerms; t++) start[t + 1] = (start[t + 1] as number) + (start[t] as number);
  const fill = start.slice(0, nTerms);
  const postDoc = new Int32Array(nnz);
  const postVal = new Float64Array(nnz);
  const pos: Int32Array[] = [];
  for (let d = 0; d < n; d++) {
    const v = vectors[d] as SparseVector;
    const dp = new Int32Array(v.indices.length);
    for (let p = 0; p < v.indices.length; p++) {
      const t = v.indices[p] as number;
      const q = fill[t] as number;
      fill[t] = q + 1;
      postDoc[q] = d;
      postVal[q] = v.values[p] as number;
      dp[p] = q;
    }
    pos.push(dp);
  }
  const heaps = new TopKHeaps(n, k);
  const acc = new Float64Array(n);
  const touched = new Int32Array(n);
  const seen = new Uint8Array(n);
  for (let d = 0; d < n; d++) {
    const v = vectors[d] as SparseVector;
    const dp = pos[d] as Int32Array;
    let nTouched = 0;
    for (let p = 0; p < v.indices.length; p++) {
      const w = v.values[p] as number;
      const end = start[(v.indices[p] as number) + 1] as number;
      for (let q = (dp[p] as number) + 1; q < end; q++) {
        const e = postDoc[q] as number;
        if (seen[e] === 0) {
          seen[e] = 1;
          touched[nTouched++] = e;
        }
        acc[e] = (acc[e] as number) + w * (postVal[q] as number);
      }
    }
    for (let t = 0; t < nTouched; t++) {
      const e = touched[t] as number;
      const s = acc[e] as number;
      acc[e] = 0;
      seen[e] = 0;
      if (s > minScore) {
        heaps.offer(d, e, s);
        heaps.offer(e, d, s);
      }
    }
  }
  return heaps.toLists();
}

function termFrequencies(doc: TfidfDocument, weights: FieldWeights, tokenizeOptions: TokenizeOptions): Map<string, number> {
  const tf = new Map<string, number>();
  const add = (term: string, w: number): void => {
    if (w > 0) tf.set(term, (tf.get(term) ?? 0) + w);
  };
  if (doc.title) for (const t of tokenize(doc.title, tokenizeOptions)) add(t, weights.title);
  for (const tag of doc.tags ?? []) {
    const words = tokenize(tag, tokenizeOptions);
    for (const t of words) add(t, weights.tags);
    const whole = tag.normalize('NFKC').trim().toLowerCase();
    if (whole.length > 0 && !(words.length === 1 && words[0] === whole)) add(whole, weights.tags);
  }
  if (doc.description) for (const t of tokenize(doc.description, tokenizeOptions)) add(t, weights.description);
  return tf;
}

function normalised(entries: [number, number][]): SparseVector {
  entries.sort((x, y) => x[0] - y[0]);
  let norm = 0;
  for (const [, v] of entries) norm += v * v;
  const indices = new Int32Array(entries.length);
  const values = new Float64Array(entries.length);
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  entries.forEach(([t, v], p) => {
    indices[p] = t;
    values[p] = v * inv;
  });
  return { indices, values };
}
