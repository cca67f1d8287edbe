/**
 * Tokenisation for mixed Chinese/English item text (titles, tags, descriptions), for TF-IDF.
 *
 * Word boundaries come from `Intl.Segmenter('zh', { granularity: 'word' })`, which carries
 * ICU's Chinese dictionary. Its running time grows much faster than linearly with input
 * length (STACK-NOTES: 100k characters took 17.5 s, 40k took 0.3 s), so text is first cut
 * into sentences, and over-long sentences into bounded chunks, before segmenting.
 */

/** English words too common to say anything about a topic. */
export const EN_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again all also am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further get got had has have having he her here hers him ' +
    'his how i if in into is it its itself just let me more most my no nor not now of off on once only or other our ours ' +
    'out over own same she should so some such than that the their theirs them then there these they this those through ' +
    'to too under until up us very was we were what when where which while who whom why will with would you your yours ' +
    "yourself don't can't won't it's i'm you're"
  ).split(' '),
);

/** Chinese function words and fillers common in course copy ("一门关于…的课程"). */
export const ZH_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    '的 了 和 与 及 或 是 在 有 也 都 就 而 并 把 被 对 从 到 向 以 为 于 之 其 这 那 个 些 吗 呢 吧 啊 呀 嘛 哦 着 过 ' +
    '我 你 他 她 它 您 我们 你们 他们 她们 它们 自己 大家 ' +
    '一个 一些 一种 一下 这个 那个 这些 那些 这样 那样 这里 那里 这种 那种 ' +
    '什么 怎么 怎样 如何 为什么 哪些 多少 ' +
    '可以 能够 可能 应该 需要 不是 没有 就是 还是 已经 非常 很多 更多 一样 一起 一直 ' +
    '因为 所以 但是 但 如果 虽然 然后 而且 以及 或者 还有 关于 通过 进行 对于 根据 ' +
    '本 该 每 各 等 等等 让 给 更 最 很 太 又 再 还 只 才 不 没'
  ).split(' '),
);

/** Options for {@link tokenize}. */
export interface TokenizeOptions {
  /** Words to drop after lower-casing; default: {@link EN_STOP_WORDS} ∪ {@link ZH_STOP_WORDS}. */
  readonly stopWords?: ReadonlySet<string>;
  /**
   * Keep single-character words. Default false: single Han characters in course copy are
   * mostly particles and measure words (门, 节, 讲), and single Latin letters are noise.
   * `c++` and `c#` survive either way.
   */
  readonly keepSingleChars?: boolean;
}

const DEFAULT_STOP_WORDS: ReadonlySet<string> = new Set([...EN_STOP_WORDS, ...ZH_STOP_WORDS]);

/**
 * ICU's cost is fine up to a few thousand characters; 512 keeps every call far below
 * the measured blow-up while rarely cutting through a word (we cut at a space when we can).
 */
const MAX_CHUNK = 512;

// Sentence ends in either script, plus line breaks; the lookbehind keeps the mark with its sentence.
const SENTENCE_END = /(?<=[。！？!?；;\n\r…])/u;
// Also cut at an ASCII full stop followed by a space, but not inside "3.5" or "Node.js".
const LATIN_SENTENCE_END = /(?<=\.)(?=\s)/u;

let segmenter: Intl.Segmenter | undefined;
function zhSegmenter(): Intl.Segmenter {
  // Built once: constructing a segmenter loads ICU data and costs far more than a short segment() call.
  segmenter ??= new Intl.Segmenter('zh', { granularity: 'word' });
  return segmenter;
}

/**
 * Cuts text into sentences, and sentences longer than 512 characters into chunks at a
 * space where possible, so each piece can be segmented in bounded time.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(SENTENCE_END)) {
    for (const sentence of part.split(LATIN_SENTENCE_END)) {
      let s = sentence;
      while (s.length > MAX_CHUNK) {
        const space = s.lastIndexOf(' ', MAX_CHUNK);
        const cut = space > MAX_CHUNK / 2 ? space : MAX_CHUNK;
        out.push(s.slice(0, cut));
        s = s.slice(cut);
      }
      if (s.trim().length > 0) out.push(s);
    }
  }
  return out;
}

const HAS_LETTER = /\p{L}/u;

/**
 * Splits mixed Chinese/English text into normalised words: NFKC (full-width Latin and
 * digits become ASCII), lower-cased, without punctuation, pure numbers or stop words.
 * "职场沟通技巧入门" → ["职场", "沟通", "技巧", "入门"]; "Python数据分析" → ["python", "数据", "分析"].
 */
export function tokenize(text: string, options: TokenizeOptions = {}): string[] {
  const stopWords = options.stopWords ?? DEFAULT_STOP_WORDS;
  const keepSingle = options.keepSingleChars ?? false;
  const seg = zhSegmenter();
  const out: string[] = [];
  for (const sentence of splitSentences(text.normalize('NFKC'))) {
    const parts = Array.from(seg.segment(sentence));
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Intl.SegmentData;
      if (!part.isWordLike) continue;
      let word = part.segment.toLowerCase();
      // ICU splits "C++" and "C#" into a letter and punctuation; glue the suffix back on,
      // since these are topic words in a catalogue of programming courses.
      const next = parts[i + 1]?.segment;
      if ((next === '+' && parts[i + 2]?.segment === '+') || next === '#') {
        if (/^[a-z]$/u.test(word)) {
          word += next === '#' ? '#' : '++';
          i += next === '#' ? 1 : 2;
        }
      }
      if (!HAS_LETTER.test(word)) continue; // numbers and versions ("2024", "3.5") are not topics
      if (!keepSingle && [...word].length < 2) continue;
      if (stopWords.has(word)) continue;
      out.push(word);
    }
  }
  return out;
}

