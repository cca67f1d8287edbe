/**
 * The intent classifier: character n-gram TF-IDF features (no word segmentation needed, so
 * Chinese, English, typos and mixed text share one featurizer) and a softmax regression
 * (src/ml/softmax.ts) trained on the labelled corpus (src/bot/corpus) at start-up, in 1–3
 * seconds. Deterministic: same corpus, same model.
 *
 * Features of a question: the text cleaned (Slack markup undone, NFKC), lower-cased, entities
 * masked ({@link maskEntities}: ids → ⓤ, emails → ⓔ, digits → 0) and segment names → ⓢ, then
 * every character 1- to 3-gram of ` text `, its words (Latin words and placeholders; Chinese by
 * Intl.Segmenter('zh', word)) and word bigrams with start/end marks. TF is sublinear
 * (1 + ln tf), IDF smoothed, and each vector has unit length (L2). Measured on eval:bot's
 * held-out templates, classifier alone (mean of 5 seeds): char 1–3 + words en 74.2% / zh 77.2%;
 * with bigrams, Chinese words and ⓢ 75.5% / 79.1%; with λ chosen by inner CV 76.6% / 82.1%.
 */
import { fitSoftmax, SoftmaxModel, type SparseRow } from '../ml/softmax.js';
import type { Label, Utterance } from './corpus/index.js';
import { maskEntities } from './entities.js';
import { cleanText, UNAMBIGUOUS_SEGMENT_NAMES } from './intent.js';

/** The text the features are built from. */
export function nluText(text: string): string {
  return maskEntities(cleanText(text).toLowerCase()).replace(/\s{1,500}/g, ' ').trim();
}

/** Which features {@link rawFeatures} builds (the defaults are what the bot uses). */
export interface FeatureOptions {
  /** Longest character n-gram (default 3). */
  readonly charMax?: number;
  /** Word bigrams beside word unigrams (default true). */
  readonly wordBigrams?: boolean;
  /** Chinese words by Intl.Segmenter('zh', word), as words (default true). */
  readonly zhWords?: boolean;
  /** Segment names → one placeholder `ⓢ` (default true). */
  readonly maskSegments?: boolean;
}

const DEFAULT_FEATURES: Required<FeatureOptions> = { charMax: 3, wordBigrams: true, zhWords: true, maskSegments: true };

const SEGMENT_RE = new RegExp(
  UNAMBIGUOUS_SEGMENT_NAMES.map((n) => n.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '[ _-]?'))
    .map((n) => (/^[a-z]/.test(n) ? `\\b${n}\\b` : n))
    .join('|'),
  'gu',
);

const ZH_SEGMENTER = new Intl.Segmenter('zh', { granularity: 'word' });

/** The masked text with segment names replaced by `ⓢ` (features only; the LLM gets {@link nluText}). */
export function featureText(text: string, o: FeatureOptions = {}): string {
  const t = nluText(text);
  return (o.maskSegments ?? DEFAULT_FEATURES.maskSegments) ? t.replace(/'/g, '').replace(SEGMENT_RE, ' ⓢ ').replace(/\s{2,500}/g, ' ').trim() : t;
}

/** The words of a question: Latin words and placeholders, and Chinese words by Intl.Segmenter. */
function words(t: string, zh: boolean): string[] {
  const out: string[] = [];
  if (!zh) return t.match(/[a-z']{2,30}|ⓤ|ⓔ|ⓢ|0/g) ?? [];
  for (const s of ZH_SEGMENTER.segment(t)) {
    if (!s.isWordLike && !/[ⓤⓔⓢ]/u.test(s.segment)) continue;
    const w = s.segment.trim();
    if (w.length === 0 || (w.length === 1 && /[a-z]/.test(w))) continue;
    out.push(w.length > 30 ? w.slice(0, 30) : w);
  }
  return out;
}

/** Raw features (term → count) of a question. */
export function rawFeatures(text: string, o: FeatureOptions = {}): Map<string, number> {
  const f = { ...DEFAULT_FEATURES, ...o };
  const t = ` ${featureText(text, f)} `;
  const counts = new Map<string, number>();
  const add = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const chars = Array.from(t);
  for (let n = 1; n <= f.charMax; n++) {
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join('');
      if (n === 1 && g === ' ') continue;
      add(`c${g}`);
    }
  }
  const ws = words(t, f.zhWords && /\p{Script=Han}/u.test(t));
  for (const w of ws) add(`w${w}`);
  if (f.wordBigrams) {
    for (let i = 0; i + 1 < ws.length; i++) add(`b${ws[i]} ${ws[i + 1]}`);
    if (ws.length > 0) (add(`b^ ${ws[0]}`), add(`b${ws[ws.length - 1]} $`));
  }
  return counts;
}

export interface Ranked {
  readonly label: Label;
  readonly p: number;
}

export interface ClassifierJSON {
  readonly labels: Label[];
  readonly vocabulary: string[];
  readonly idf: number[];
  readonly model: ReturnType<SoftmaxModel['toJSON']>;
}

export interface TrainOptions {
  readonly epochs?: number;
  readonly lambda?: number;
  readonly seed?: number;
  readonly features?: FeatureOptions;
}

/** A trained classifier: {@link rank} gives every label with its probability, best first. */
export class IntentClassifier {
  private readonly index: Map<string, number>;

  constructor(
    readonly labels: readonly Label[],
    readonly vocabulary: readonly string[],
    readonly idf: Float64Array,
    readonly model: SoftmaxModel,
    readonly features: FeatureOptions = {},
  ) {
    this.index = new Map(vocabulary.map((term, i) => [term, i]));
  }

  /** The TF-IDF vector of a question over the training vocabulary (unknown terms dropped). */
  vector(text: string): SparseRow {
    const indices: number[] = [];
    const values: number[] = [];
    let norm = 0;
    for (const [term, tf] of rawFeatures(text, this.features)) {
      const i = this.index.get(term);
      if (i === undefined) continue;
      const v = (1 + Math.log(tf)) * (this.idf[i] as number);
      indices.push(i);
      values.push(v);
      norm += v * v;
    }
    const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    return { indices, values: values.map((v) => v * s) };
  }

  /** Every label with its probability, best first. */
  rank(text: string): Ranked[] {
    const p = this.model.predict(this.vector(text));
    return this.labels.map((label, i) => ({ label, p: p[i] as number })).sort((a, b) => b.p - a.p);
  }

  toJSON(): ClassifierJSON {
    return { labels: [...this.labels], vocabulary: [...this.vocabulary], idf: Array.from(this.idf), model: this.model.toJSON() };
  }

  static load(j: ClassifierJSON): IntentClassifier {
    return new IntentClassifier(j.labels, j.vocabulary, Float64Array.from(j.idf), SoftmaxModel.load(j.model));
  }
}

/**
 * L2 strength of the softmax. Chosen by grouped cross-validation inside each eval:bot training
 * split (bench/tune-bot.ts; grid 3e-6…3e-4, flat within ~1.5 points): 3e-6 won in 4 of 5 seeds.
 */
export const LAMBDA = 3e-6;

/** Trains a classifier on `examples` (every label present at least once). */
export function trainClassifier(examples: readonly Pick<Utterance, 'text' | 'label'>[], o: TrainOptions = {}): IntentClassifier {
  if (examples.length === 0) throw new RangeError('trainClassifier: no examples');
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  if (labels.length < 2) throw new RangeError(`trainClassifier: need at least two labels, got ${labels.join(', ')}`);
  const feats = examples.map((e) => rawFeatures(e.text, o.features));
  const df = new Map<string, number>();
  for (const f of feats) for (const term of f.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  const vocabulary = [...df.keys()].sort();
  const n = examples.length;
  const idf = Float64Array.from(vocabulary, (term) => Math.log((1 + n) / (1 + (df.get(term) as number))) + 1);
  const classifier = new IntentClassifier(labels, vocabulary, idf, new SoftmaxModel(vocabulary.length, labels.length, new Float64Array(vocabulary.length * labels.length), new Float64Array(labels.length)), o.features);
  const rows = examples.map((e) => classifier.vector(e.text));
  const y = examples.map((e) => labels.indexOf(e.label));
  const model = fitSoftmax(rows, y, vocabulary.length, labels.length, { epochs: o.epochs ?? 30, lambda: o.lambda ?? LAMBDA, seed: o.seed ?? 1 });
  return new IntentClassifier(labels, vocabulary, idf, model, o.features);
}
