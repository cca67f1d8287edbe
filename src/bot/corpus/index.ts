import { EN } from './en.js';
import type { Corpus, Label, Utterance } from './types.js';
import { ZH } from './zh.js';

export type { Corpus, Label, Utterance } from './types.js';

export const CORPORA: Readonly<Record<'en' | 'zh', Corpus>> = { en: EN, zh: ZH };

/** Every utterance of the corpus, flattened, with its label, language and paraphrase group. */
export function utterances(): Utterance[] {
  const out: Utterance[] = [];
  for (const lang of ['en', 'zh'] as const) {
    for (const [label, groups] of Object.entries(CORPORA[lang]) as [Label, readonly (readonly string[])[]][]) {
      groups.forEach((g, i) => {
        for (const text of g) out.push({ text, label, lang, group: `${lang}:${label}:${i}` });
      });
    }
  }
  return out;
}
