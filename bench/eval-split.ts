import type { Utterance } from '../src/bot/corpus/index.js';
import { mulberry32 } from '../src/ml/prng.js';

/** Held-out groups: 20% (at least one) of each language × label, chosen by a seeded shuffle. */
export function split(all: readonly Utterance[], seed: number): { train: Utterance[]; test: Utterance[] } {
  const rand = mulberry32(seed);
  const byKey = new Map<string, string[]>();
  for (const u of all) {
    const key = `${u.lang}:${u.label}`;
    const gs = byKey.get(key) ?? [];
    if (!gs.includes(u.group)) gs.push(u.group);
    byKey.set(key, gs);
  }
  const test = new Set<string>();
  for (const gs of byKey.values()) {
    const s = [...gs];
    for (let i = s.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [s[i], s[j]] = [s[j] as string, s[i] as string];
    }
    for (const g of s.slice(0, Math.max(1, Math.round(s.length * 0.2)))) test.add(g);
  }
  return { train: all.filter((u) => !test.has(u.group)), test: all.filter((u) => test.has(u.group)) };
}

