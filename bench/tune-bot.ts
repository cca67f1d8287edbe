/**
 * Chooses the classifier's L2 strength by cross-validation on the training folds only: for each
 * outer seed of eval:bot, the training groups are split again (grouped, 80/20, stratified) and
 * each λ of the grid is scored on that inner validation part; the outer test groups are never
 * looked at. Prints the inner scores per seed and the λ each seed picks.
 *   node --import tsx bench/tune-bot.ts
 */
import { utterances } from '../src/bot/corpus/index.js';
import { trainClassifier } from '../src/bot/nlu.js';
import { split } from './eval-split.js';

const all = utterances();
const grid = [3e-6, 1e-5, 3e-5];
for (let seed = 1; seed <= 5; seed++) {
  const { train } = split(all, seed);
  const scores = grid.map((lambda) => {
    let right = 0;
    let n = 0;
    for (let inner = 0; inner < 2; inner++) {
      const s = split(train, 1000 * seed + inner);
      const c = trainClassifier(s.train, { lambda });
      for (const u of s.test) {
        n++;
        if (c.rank(u.text)[0]?.label === u.label) right++;
      }
    }
    return right / n;
  });
  const best = grid[scores.indexOf(Math.max(...scores))];
  console.log(`seed ${seed}: ${grid.map((l, i) => `λ=${l} ${(100 * (scores[i] as number)).toFixed(1)}%`).join('  ')}  → ${best}`);
}
