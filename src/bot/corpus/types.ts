import type { IntentKind } from '../intent.js';

/** A label the classifier learns: one of the bot's intents, or a question it must refuse. */
export type Label = IntentKind | 'out_of_scope';

/** Per label, paraphrase groups of utterances (near-duplicates stay together in evaluation splits). */
export type Corpus = Readonly<Record<Label, readonly (readonly string[])[]>>;

export interface Utterance {
  readonly text: string;
  readonly label: Label;
  readonly lang: 'en' | 'zh';
  /** `<lang>:<label>:<index>`: the paraphrase group. */
  readonly group: string;
}
