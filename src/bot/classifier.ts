/**
 * The intent classifier trained on the whole corpus, once per process, on first use (about a
 * second on 2 cores; the bot warms it at start). Training is deterministic, so every process
 * answers the same question the same way.
 */
import { utterances } from './corpus/index.js';
import { trainClassifier, type IntentClassifier } from './nlu.js';

let trained: IntentClassifier | undefined;

export function defaultClassifier(): IntentClassifier {
  trained ??= trainClassifier(utterances());
  return trained;
}
