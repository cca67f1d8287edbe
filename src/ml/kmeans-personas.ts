/**
 * Personas: k-means clusters of users on standardised behaviour features plus their topic
 * profile (the share of their activity in each category), with k chosen by silhouette,
 * nearest-centroid assignment for streaming new users, and a plain-words description of
 * what sets each cluster apart.
 *
 * Fit on a bounded sample of users, then `assign` every user chunk by chunk: the model is
 * a few centroids and the scaling, so it labels millions of users without holding them.
 */
import { mulberry32 } from './prng.js';

/** Options for {@link fitPersonas}. */
export interface PersonaFitOptions {
  /** Names of the behaviour columns, in row order. */
  readonly features: readonly string[];
  /** Names of the topic-share columns (each 0–1), which follow the behaviour columns in a row. */
  readonly topics?: readonly string[];
  /** Number of clusters; when absent it is chosen by silhouette over [kMin, kMax]. */
  readonly k?: number;
  /** Smallest k tried (default 2). */
  readonly kMin?: number;
  /** Largest k tried (default 8). */
  readonly kMax?: number;
  /** Seed for sampling and k-means++ (default 1). */
  readonly seed?: number;
  /**
   * Rows used to choose k (default 2,000). Silhouette needs every pairwise distance, so its
   * cost is quadratic in this number: 2,000 rows is a 32 MB distance matrix.
   */
  readonly silhouetteSample?: number;
  /** k-means++ restarts, keeping the lowest inertia (default 4). */
  readonly restarts?: number;
  /** Lloyd iterations per restart (default 100). */
  readonly maxIterations?: number;
  /**
   * Multiplier on topic shares (default 2). Shares are not z-scored: they are already on a
   * common 0–1 scale, and z-scoring would make a topic one user in a thousand touches as
   * loud as the main ones. At 2, a user who moves entirely from one topic to another moves
   * 2√2 ≈ 2.8 — about as far as a three-standard-deviation change in one behaviour.
   */
  readonly topicWeight?: number;
  /** Behaviour columns to pass through log(1 + x) before standardising (counts, money). */
  readonly log1p?: readonly string[];
}

/** Silhouette of the sample for one k. */
export interface KSelection {
  readonly k: number;
  readonly silhouette: number;
}

/** Serialised form of {@link PersonaModel}. */
export interface PersonaModelJson {
  readonly kind: 'kmeans-personas';
  readonly version: 1;
  readonly features: string[];
  readonly topics: string[];
  readonly log1p: string[];
  readonly topicWeight: number;
  readonly means: number[];
  readonly scales: number[];
  readonly topicMeans: number[];
  readonly topicSds: number[];
  readonly centroids: number[][];
  readonly sizes: number[];
  readonly selection: KSelection[];
}

/**
 * A fitted persona model. Clusters are numbered by size, largest first, so cluster 0 is
 * the biggest persona on every refit of similar data.
 */
export class PersonaModel {
  readonly k: number;
  private readonly logMask: Uint8Array;
  private readonly scratch: Float64Array;

  constructor(
    readonly features: readonly string[],
    readonly topics: readonly string[],
    readonly log1p: readonly string[],
    readonly topicWeight: number,
    /** Per behaviour column (after log1p): training mean and standard deviation (1 when constant). */
    readonly means: Float64Array,
    readonly scales: Float64Array,
    /** Per topic column: training mean and standard deviation of the raw share. */
    readonly topicMeans: Float64Array,
    readonly topicSds: Float64Array,
    /** Centroids in model space: z-scores, then topic shares × topicWeight. */
    readonly centroids: readonly Float64Array[],
    /** Training rows per cluster. */
    readonly sizes: readonly number[],
    /** Silhouette per k tried; empty when k was given. */
    readonly selection: readonly KSelection[],
  ) {
    this.k = centroids.length;
    const dims = features.length + topics.length;
    for (const c of centroids) {
      if (c.length !== dims) throw new RangeError(`each centroid must have ${dims} values, got ${c.length}`);
    }
    const logSet = new Set(log1p);
    this.logMask = Uint8Array.from(features, (f) => (logSet.has(f) ? 1 : 0));
    this.scratch = new Float64Array(dims);
  }

  /** Number of values a row must have: behaviour columns, then topic columns. */
  get width(): number {
    return this.features.length + this.topics.length;
  }

  /** Maps a raw row into model space (into `out`). */
  project(row: ArrayLike<number>, out: Float64Array = new Float64Array(this.width)): Float64Array {
    if (row.length !== this.width) throw new RangeError(`row must have ${this.width} values, got ${row.length}`);
    const nf = this.features.length;
    for (let j = 0; j < nf; j++) {
      let x = row[j] as number;
      if (!Number.isFinite(x)) throw new RangeError(`${this.features[j]} must be a finite number, got ${String(x)}`);
      if (this.logMask[j] === 1) {
        if (x <= -1) throw new RangeError(`${this.features[j]} must be > -1 for log1p, got ${x}`);
        x = Math.log1p(x);
      }
      out[j] = (x - (this.means[j] as number)) / (this.scales[j] as number);
    }
    for (let t = 0; t < this.topics.length; t++) {
      const x = row[nf + t] as number;
      if (!Number.isFinite(x)) throw new RangeError(`topic ${this.topics[t]} must be a finite number, got ${String(x)}`);
      out[nf + t] = x * this.topicWeight;
    }
    return out;
  }

  /** The cluster of one raw row: its nearest centroid (ties: the lower cluster number). */
  assign(row: ArrayLike<number>): number {
    const x = this.project(row, this.scratch);
    return nearest(x, 0, this.centroids).index;
  }

  /** The clusters of many raw rows. */
  assignMany(rows: readonly ArrayLike<number>[]): Int32Array {
    return Int32Array.from(rows, (r) => this.assign(r));
  }

  /** A plain object for `jsonb` storage. */
  toJSON(): PersonaModelJson {
    return {
      kind: 'kmeans-personas',
      version: 1,
      features: [...this.features],
      topics: [...this.topics],
      log1p: [...this.log1p],
      topicWeight: this.topicWeight,
      means: Array.from(this.means),
      scales: Array.from(this.scales),
      topicMeans: Array.from(this.topicMeans),
      topicSds: Array.from(this.topicSds),
      centroids: this.centroids.map((c) => Array.from(c)),
      sizes: [...this.sizes],
      selection: this.selection.map((s) => ({ ...s })),
    };
  }

  /** Rebuilds a model from {@link PersonaModel.toJSON} output. */
  static load(json: PersonaModelJson): PersonaModel {
    if (json?.kind !== 'kmeans-personas' || json.version !== 1) {
      throw new TypeError(
        `expected a kmeans-personas model of version 1, got kind=${String(json?.kind)} version=${String(json?.version)}`,
      );
    }
    return new PersonaModel(
      json.features,
      json.topics,
      json.log1p,
      json.topicWeight,
      Float64Array.from(json.means),
      Float64Array.from(json.scales),
      Float64Array.from(json.topicMeans),
      Float64Array.from(json.topicSds),
      json.centroids.map((c) => Float64Array.from(c)),
      json.sizes,
      json.selection,
    );
  }
}

/**
 * Fits personas on rows of `[...behaviour features, ...topic shares]`.
 *
 * Behaviour columns are standardised (after optional log1p) with the rows' mean and
 * standard deviation; topic shares are scaled by `topicWeight`. Unless `k` is given, k is
 * the one with the highest mean silhouette on a seeded sample of at most `silhouetteSample`
 * rows (ties go to the smaller k); the final clustering then uses all rows. With fewer than
 * two distinct rows there is one cluster.
 *
 * @throws RangeError on ragged rows, non-finite values, or an impossible k.
 */
export function fitPersonas(rows: readonly ArrayLike<number>[], options: PersonaFitOptions): PersonaModel {
  const features = [...options.features];
  const topics = [...(options.topics ?? [])];
  const nf = features.length;
  const d = nf + topics.length;
  const n = rows.length;
  const seed = options.seed ?? 1;
  const kMin = options.kMin ?? 2;
  const kMax = options.kMax ?? 8;
  const restarts = options.restarts ?? 4;
  const maxIterations = options.maxIterations ?? 100;
  const sampleSize = options.silhouetteSample ?? 2000;
  const topicWeight = options.topicWeight ?? 2;
  const log1p = [...(options.log1p ?? [])];
  if (n === 0) throw new RangeError('fitPersonas needs at least one row');
  if (d === 0) throw new RangeError('fitPersonas needs at least one feature or topic column');
  if (!(topicWeight > 0) || !Number.isFinite(topicWeight)) throw new RangeError(`topicWeight must be > 0, got ${topicWeight}`);
  if (!Number.isInteger(kMin) || !Number.isInteger(kMax) || kMin < 2 || kMax < kMin) {
    throw new RangeError(`kMin and kMax must be integers with 2 <= kMin <= kMax, got ${kMin} and ${kMax}`);
  }
  if (!Number.isInteger(restarts) || restarts < 1) throw new RangeError(`restarts must be an integer >= 1, got ${restarts}`);
  if (!Number.isInteger(sampleSize) || sampleSize < 2) throw new RangeError(`silhouetteSample must be an integer >= 2, got ${sampleSize}`);
  for (const name of log1p) {
    if (!features.includes(name)) throw new RangeError(`log1p column ${name} is not one of the features`);
  }
  if (options.k !== undefined && (!Number.isInteger(options.k) || options.k < 1 || options.k > n)) {
    throw new RangeError(`k must be an integer from 1 to the number of rows (${n}), got ${options.k}`);
  }

  // Scaling is fitted from the rows, then applied by the model itself so fit and assign agree.
  const logSet = new Set(log1p);
  const means = new Float64Array(nf);
  const scales = new Float64Array(nf);
  const topicMeans = new Float64Array(topics.length);
  const topicSds = new Float64Array(topics.length);
  const raw = new Float64Array(n * d);
  rows.forEach((row, i) => {
    if (row.length !== d) throw new RangeError(`row ${i} must have ${d} values (${nf} features, ${topics.length} topics), got ${row.length}`);
    for (let j = 0; j < d; j++) {
      let x = row[j] as number;
      const name = j < nf ? features[j] : `topic ${topics[j - nf]}`;
      if (!Number.isFinite(x)) throw new RangeError(`row ${i}: ${name} must be a finite number, got ${String(x)}`);
      if (j < nf && logSet.has(features[j] as string)) {
        if (x <= -1) throw new RangeError(`row ${i}: ${name} must be > -1 for log1p, got ${x}`);
        x = Math.log1p(x);
      }
      raw[i * d + j] = x;
    }
  });
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += raw[i * d + j] as number;
    const mean = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += ((raw[i * d + j] as number) - mean) ** 2;
    const sd = Math.sqrt(v / n);
    if (j < nf) {
      means[j] = mean;
      // A constant column carries no information; scale 1 keeps it at z = 0 instead of NaN.
      scales[j] = sd > 1e-12 ? sd : 1;
    } else {
      topicMeans[j - nf] = mean;
      topicSds[j - nf] = sd;
    }
  }
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < nf; j++) x[i * d + j] = ((raw[i * d + j] as number) - (means[j] as number)) / (scales[j] as number);
    for (let j = nf; j < d; j++) x[i * d + j] = (raw[i * d + j] as number) * topicWeight;
  }

  const rand = mulberry32(seed);
  let k = options.k;
  const selection: KSelection[] = [];
  if (k === undefined) {
    const sample = sampleRows(x, n, d, Math.min(sampleSize, n), rand);
    const m = sample.length / d;
    const distinct = countDistinct(sample, m, d, kMax + 1);
    const hi = Math.min(kMax, distinct, m - 1);
    if (hi < kMin) {
      k = distinct >= 2 && m >= 2 ? Math.min(distinct, m) : 1;
    } else {
      const dist = pairwiseDistances(sample, m, d);
      let best = -Infinity;
      for (let kk = kMin; kk <= hi; kk++) {
        const { labels } = kmeans(sample, m, d, kk, restarts, maxIterations, rand);
        const s = silhouette(dist, m, labels, kk);
        selection.push({ k: kk, silhouette: s });
        if (s > best + 1e-12) {
          best = s;
          k = kk;
        }
      }
    }
  }
  const fit = kmeans(x, n, d, k as number, restarts, maxIterations, rand);

  // Number clusters by size, largest first (ties: the earlier centroid), for stable names.
  const sizes = new Array<number>(fit.k).fill(0);
  for (let i = 0; i < n; i++) {
    const c = fit.labels[i] as number;
    sizes[c] = (sizes[c] as number) + 1;
  }
  const order = Array.from(sizes.keys()).sort((a, b) => (sizes[b] as number) - (sizes[a] as number) || a - b);
  const centroids = order.map((c) => fit.centroids.slice(c * d, (c + 1) * d));
  return new PersonaModel(
    features,
    topics,
    log1p,
    topicWeight,
    means,
    scales,
    topicMeans,
    topicSds,
    centroids,
    order.map((c) => sizes[c] as number),
    selection,
  );
}

/** Words for a feature being high or low, e.g. `{ high: 'buys often', low: 'rarely buys' }`. */
export interface FeatureLabel {
  readonly high: string;
  readonly low: string;
}

/** Options for {@link describeClusters}. */
export interface DescribeOptions {
  /** Most traits named per cluster (default 3). */
  readonly maxTraits?: number;
  /** Smallest distance from the overall mean, in standard deviations, worth naming (default 0.5). */
  readonly minZ?: number;
  /** Words for a cluster's dominant topic (default `mostly ${topic}`). */
  readonly topicText?: (topic: string) => string;
  /** Text for a cluster with no distinguishing trait (default 'close to the average user'). */
  readonly typicalText?: string;
}

/** One reason a cluster stands out. */
export interface ClusterTrait {
  readonly kind: 'feature' | 'topic';
  /** The feature or topic name. */
  readonly name: string;
  /** Centroid minus overall mean, in standard deviations of the training rows. */
  readonly z: number;
  readonly text: string;
}

/** What sets one cluster apart. */
export interface ClusterDescription {
  readonly cluster: number;
  readonly size: number;
  /** Share of the training rows. */
  readonly share: number;
  /** Strongest first. */
  readonly traits: readonly ClusterTrait[];
  /** The traits' texts joined by ", ", e.g. "buys often, mostly 职场, many refunds". */
  readonly text: string;
}

/**
 * Describes each cluster by the features where its centroid sits furthest from the overall
 * mean, measured in standard deviations so that counts, money and rates compare fairly.
 *
 * A behaviour feature reads as its `high` or `low` label (falling back to "high <name>" /
 * "low <name>" when the caller gave no label). For topics only the cluster's dominant topic
 * is a candidate, and only when the cluster holds more of it than the average user: "mostly
 * 职场" is informative; "little 职场" rarely is.
 */
export function describeClusters(
  model: PersonaModel,
  labels: Readonly<Record<string, FeatureLabel>>,
  options: DescribeOptions = {},
): ClusterDescription[] {
  const maxTraits = options.maxTraits ?? 3;
  const minZ = options.minZ ?? 0.5;
  const topicText = options.topicText ?? ((t: string) => `mostly ${t}`);
  const typical = options.typicalText ?? 'close to the average user';
  const nf = model.features.length;
  const total = model.sizes.reduce((a, b) => a + b, 0);
  return model.centroids.map((c, cluster) => {
    const traits: ClusterTrait[] = [];
    for (let j = 0; j < nf; j++) {
      // Centroids are means of z-scores, and the z-scores average 0, so the centroid is the z.
      const z = c[j] as number;
      const name = model.features[j] as string;
      const label = labels[name];
      const text = z > 0 ? (label?.high ?? `high ${name}`) : (label?.low ?? `low ${name}`);
      traits.push({ kind: 'feature', name, z, text });
    }
    let dominant = -1;
    for (let t = 0; t < model.topics.length; t++) {
      if (dominant < 0 || (c[nf + t] as number) > (c[nf + dominant] as number)) dominant = t;
    }
    if (dominant >= 0 && (model.topicSds[dominant] as number) > 0) {
      const share = (c[nf + dominant] as number) / model.topicWeight;
      const z = (share - (model.topicMeans[dominant] as number)) / (model.topicSds[dominant] as number);
      const name = model.topics[dominant] as string;
      if (z > 0) traits.push({ kind: 'topic', name, z, text: topicText(name) });
    }
    const chosen = traits
      .filter((t) => Math.abs(t.z) >= minZ)
      .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
      .slice(0, maxTraits);
    const size = model.sizes[cluster] as number;
    return {
      cluster,
      size,
      share: total > 0 ? size / total : 0,
      traits: chosen,
      text: chosen.length > 0 ? chosen.map((t) => t.text).join(', ') : typical,
    };
  });
}

/**
 * Mean silhouette of a labelling, given all pairwise distances (row-major m × m).
 * Points alone in their cluster score 0, as in Rousseeuw (1987) and scikit-learn.
 */
export function silhouette(dist: Float64Array, m: number, labels: Int32Array, k: number): number {
  const counts = new Int32Array(k);
  for (let i = 0; i < m; i++) {
    const c = labels[i] as number;
    counts[c] = (counts[c] as number) + 1;
  }
  const sums = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < m; i++) {
    sums.fill(0);
    const row = i * m;
    for (let j = 0; j < m; j++) {
      const c = labels[j] as number;
      sums[c] = (sums[c] as number) + (dist[row + j] as number);
    }
    const own = labels[i] as number;
    const nOwn = counts[own] as number;
    if (nOwn <= 1) continue;
    const a = (sums[own] as number) / (nOwn - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) {
      if (c === own || (counts[c] as number) === 0) continue;
      b = Math.min(b, (sums[c] as number) / (counts[c] as number));
    }
    if (b === Infinity) continue;
    const denom = Math.max(a, b);
    total += denom > 0 ? (b - a) / denom : 0;
  }
  return m > 0 ? total / m : 0;
}

interface KmeansFit {
  readonly k: number;
  readonly labels: Int32Array;
  readonly centroids: Float64Array;
  readonly inertia: number;
}

/** Lloyd's k-means with k-means++ seeding, best of `restarts` by inertia. */
function kmeans(x: Float64Array, n: number, d: number, k: number, restarts: number, maxIterations: number, rand: () => number): KmeansFit {
  let best: KmeansFit | undefined;
  for (let r = 0; r < restarts; r++) {
    const fit = lloyd(x, n, d, k, kmeansPlusPlus(x, n, d, k, rand), maxIterations);
    if (best === undefined || fit.inertia < best.inertia) best = fit;
  }
  return best as KmeansFit;
}

/** Arthur & Vassilvitskii (2007): each next centre drawn with probability ∝ squared distance. */
function kmeansPlusPlus(x: Float64Array, n: number, d: number, k: number, rand: () => number): Float64Array {
  const centres = new Float64Array(k * d);
  const first = Math.floor(rand() * n);
  centres.set(x.subarray(first * d, first * d + d), 0);
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = sqDist(x, i * d, centres, 0, d);
  for (let c = 1; c < k; c++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += closest[i] as number;
    let pick = n - 1;
    if (sum > 0) {
      let target = rand() * sum;
      for (let i = 0; i < n; i++) {
        target -= closest[i] as number;
        if (target < 0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = Math.floor(rand() * n);
    }
    centres.set(x.subarray(pick * d, pick * d + d), c * d);
    for (let i = 0; i < n; i++) {
      const dd = sqDist(x, i * d, centres, c * d, d);
      if (dd < (closest[i] as number)) closest[i] = dd;
    }
  }
  return centres;
}

function lloyd(x: Float64Array, n: number, d: number, k: number, centres: Float64Array, maxIterations: number): KmeansFit {
  const labels = new Int32Array(n).fill(-1);
  const counts = new Int32Array(k);
  const distToCentre = new Float64Array(n);
  for (let iter = 0; iter < maxIterations; iter++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      let bi = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const dd = sqDist(x, i * d, centres, c * d, d);
        if (dd < bd) {
          bd = dd;
          bi = c;
        }
      }
      distToCentre[i] = bd;
      if (labels[i] !== bi) {
        labels[i] = bi;
        changed++;
      }
    }
    if (changed === 0 && iter > 0) break;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i] as number;
      counts[c] = (counts[c] as number) + 1;
    }
    // An empty cluster takes the point furthest from its centre (from a cluster that can
    // spare one), so k clusters survive; deterministic, unlike a random reseed.
    for (let c = 0; c < k; c++) {
      if ((counts[c] as number) > 0) continue;
      let far = -1;
      for (let i = 0; i < n; i++) {
        if ((counts[labels[i] as number] as number) > 1 && (far < 0 || (distToCentre[i] as number) > (distToCentre[far] as number))) far = i;
      }
      if (far < 0) break;
      const from = labels[far] as number;
      counts[from] = (counts[from] as number) - 1;
      labels[far] = c;
      counts[c] = 1;
      distToCentre[far] = 0;
    }
    centres.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i] as number;
      for (let j = 0; j < d; j++) centres[c * d + j] = (centres[c * d + j] as number) + (x[i * d + j] as number);
    }
    for (let c = 0; c < k; c++) {
      const cnt = counts[c] as number;
      if (cnt > 0) for (let j = 0; j < d; j++) centres[c * d + j] = (centres[c * d + j] as number) / cnt;
    }
  }
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist(x, i * d, centres, (labels[i] as number) * d, d);
  return { k, labels, centroids: centres, inertia };
}

function nearest(x: Float64Array, offset: number, centroids: readonly Float64Array[]): { index: number; distance: number } {
  let index = 0;
  let distance = Infinity;
  for (let c = 0; c < centroids.length; c++) {
    const dd = sqDist(x, offset, centroids[c] as Float64Array, 0, x.length - offset);
    if (dd < distance) {
      distance = dd;
      index = c;
    }
  }
  return { index, distance };
}

function sqDist(a: Float64Array, ao: number, b: Float64Array, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = (a[ao + j] as number) - (b[bo + j] as number);
    s += t * t;
  }
  return s;
}

function sampleRows(x: Float64Array, n: number, d: number, m: number, rand: () => number): Float64Array {
  if (m >= n) return x;
  // Partial Fisher–Yates over row indices, then sorted so the sample keeps input order.
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let t = 0; t < m; t++) {
    const r = t + Math.floor(rand() * (n - t));
    const tmp = idx[t] as number;
    idx[t] = idx[r] as number;
    idx[r] = tmp;
  }
  const chosen = idx.subarray(0, m).sort();
  const out = new Float64Array(m * d);
  for (let t = 0; t < m; t++) out.set(x.subarray((chosen[t] as number) * d, (chosen[t] as number) * d + d), t * d);
  return out;
}

function countDistinct(x: Float64Array, m: number, d: number, stopAt: number): number {
  const seen = new Set<string>();
  for (let i = 0; i < m && seen.size < stopAt; i++) seen.add(Array.from(x.subarray(i * d, i * d + d)).join(','));
  return seen.size;
}

function pairwiseDistances(x: Float64Array, m: number, d: number): Float64Array {
  const dist = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const v = Math.sqrt(sqDist(x, i * d, x, j * d, d));
      dist[i * m + j] = v;
      dist[j * m + i] = v;
    }
  }
  return dist;
}

