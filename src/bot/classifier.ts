/**
 * The intent classifier trained on the whole corpus, once per process, on first use (1–3 s
 * on 2 cores depending on load; the bot warms it at start). Training is deterministic, so every process
 * answers the same question the same way.
 */
import { utterances } from './corpus/index.js';
import { trainClassifier, type IntentClassifier } from './nlu.js';

let trained: IntentClassifier | undefined;

export function defaultClassifier(): IntentClassifier {
  trained ??= trainClassifier(utterances());
  return trained;
}
