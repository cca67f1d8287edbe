import type { Utterance } from '../src/bot/corpus/index.js';
import { featureText } from '../src/bot/nlu.js';
import { mulberry32 } from '../src/ml/prng.js';

/**
 * The unit the split keeps whole: a paraphrase group, joined with every other group of its
 * language that shares a template with it — the same text once ids, numbers and segment names
 * are masked and punctuation dropped ("潜力用户列表" and "休眠用户列表" are one template,
 * "ⓢ 列表"). Without this, a held-out "休眠用户列表" has its twin in training and measures the
 * segment-name lookup, not a new phrasing.
 */
export function splitUnits(all: readonly Utterance[]): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (g: string): string => {
    let r = g;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(g, r);
    return r;
  };
  const byTemplate = new Map<string, string>();
  for (const u of all) {
    if (!parent.has(u.group)) parent.set(u.group, u.group);
    const key = `${u.lang}|${featureText(u.text).replace(/[^\p{L}\p{N}ⓤⓔⓢ]+/gu, ' ').trim()}`;
    const other = byTemplate.get(key);
    if (other === undefined) byTemplate.set(key, u.group);
    else parent.set(find(u.group), find(other));
  }
  const unit = new Map<string, string>();
  for (const g of parent.keys()) unit.set(g, find(g));
  return unit;
}

/**
 * Held-out units ({@link splitUnits}): 20% (at least one) of each language × label, chosen by a
 * seeded shuffle. A unit's label is its first group's; units are never split.
 */
export function split(all: readonly Utterance[], seed: number): { train: Utterance[]; test: Utterance[] } {
  const unit = splitUnits(all);
  const rand = mulberry32(seed);
  const byKey = new Map<string, string[]>();
  for (const u of all) {
    const g = unit.get(u.group) as string;
    if (g !== u.group) continue;
    const key = `${u.lang}:${u.label}`;
    const gs = byKey.get(key) ?? [];
    if (!gs.includes(g)) gs.push(g);
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
  const held = (u: Utterance) => test.has(unit.get(u.group) as string);
  return { train: all.filter((u) => !held(u)), test: all.filter(held) };
}
