/**
 * The synthetic catalog: courses, columns, audio books and memberships across ten
 * topics, with Chinese and English titles, tags, descriptions and CNY prices.
 *
 * Everything the behaviour model needs about an item is recoverable from its
 * {@link ItemRecord} alone (see {@link itemTraits}), so a catalog that went through the
 * database and back drives the same simulation: series live in the id
 * (`item-<series>-<part>`), lesson counts and popularity are hashed from the id, and a
 * membership's billing period is in its tags.
 */
import { knownItemType, type ItemRecord, type ItemType } from '../domain/events.js';
import {
  EN_FORMATS,
  EN_PARTS,
  EN_TEACHER_BIO,
  EN_TEACHERS,
  EN_TYPE_WORD,
  LEVEL_TAGS_ZH,
  TOPICS,
  ZH_FORMATS,
  ZH_PARTS_2,
  ZH_SEASON,
  ZH_TEACHER_BIO,
  ZH_TEACHERS,
  ZH_TYPE_WORD,
  type TopicContent,
} from './catalog-content.js';
import { hashString, Rng, unitFromHash } from './prng.js';

export const DEFAULT_CATALOG_SIZE = 300;
export const MIN_CATALOG_SIZE = 8;

/** Tags that mark a membership's billing period. */
export const MONTHLY_TAG = '连续包月';
export const YEARLY_TAG = '连续包年';

export interface CatalogOptions {
  seed: number;
  /** Number of items, at least {@link MIN_CATALOG_SIZE}; default {@link DEFAULT_CATALOG_SIZE}. */
  items?: number;
}

/** What the simulation reads off an item. */
export interface ItemTraits {
  /** Items sharing a series key are parts of one series, bought in `part` order. */
  seriesKey: string;
  part: number;
  /** Lessons (videos, articles, chapters) a learner works through; 0 for memberships. */
  lessons: number;
  /** Billing period in days for memberships, else null. */
  periodDays: number | null;
  /** Relative appeal to someone browsing the topic (log-normal, sequels lower). */
  popularity: number;
}

const CONTENT_TYPES = ['course', 'column', 'audiobook'] as const;
type ContentType = (typeof CONTENT_TYPES)[number];

const PRICES: Record<ContentType, readonly number[]> = {
  course: [9900, 12900, 19900, 19900, 29900, 29900, 39900, 49900, 59900, 99900],
  column: [4900, 6900, 9900, 9900, 12900, 19900],
  audiobook: [990, 1990, 1990, 2990, 3990, 4990],
};
const MONTHLY_PRICES = [1900, 2500, 3000, 4900] as const;
const YEARLY_PRICES = [19800, 25800, 36800, 49800] as const;

/** The synthetic platform's page for an item (a reserved example domain: nothing real behind it). */
function itemUrl(type: string, id: string): string {
  return `https://learn.example.com/${type}/${encodeURIComponent(id)}`;
}

/**
 * Generates a catalog deterministically from `seed`. Every item type and both title
 * languages are present for any size ≥ {@link MIN_CATALOG_SIZE}.
 */
export function generateCatalog(opts: CatalogOptions): ItemRecord[] {
  const size = opts.items ?? DEFAULT_CATALOG_SIZE;
  if (!Number.isInteger(size) || size < MIN_CATALOG_SIZE) {
    throw new RangeError(`items must be an integer ≥ ${MIN_CATALOG_SIZE}, got ${size}`);
  }
  if (!Number.isFinite(opts.seed)) throw new RangeError(`seed must be a finite number, got ${opts.seed}`);
  const rng = new Rng(opts.seed ^ 0x5eed_ca7);
  const usedTitles = new Set<string>();
  const items: ItemRecord[] = [];
  let series = 0;

  const memberships = Math.max(2, Math.round(size * 0.05));
  const contentSlots = size - memberships;
  const totalWeight = TOPICS.reduce((s, t) => s + t.weight, 0);
  // Largest-remainder split of content slots across topics by audience weight.
  const quotas = TOPICS.map((t) => (contentSlots * t.weight) / totalWeight);
  const slots = quotas.map(Math.floor);
  let left = contentSlots - slots.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, i) => [q - Math.floor(q), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    slots[i] = (slots[i] as number) + 1;
  }

  TOPICS.forEach((topic, ti) => {
    let remaining = slots[ti] as number;
    while (remaining > 0) {
      const r = rng.next();
      const length = Math.min(remaining, r < 0.58 ? 1 : r < 0.8 ? 2 : r < 0.94 ? 3 : 4);
      // The first series cover every content type and the fourth is English, so small catalogs have both.
      const type: ContentType = series < 3 ? CONTENT_TYPES[series] as ContentType : pickType(rng);
      const english = series === 3 || rng.chance(0.18);
      series++;
      const base = uniqueBase(rng, topic, type, english, usedTitles, length);
      const price = rng.pick(PRICES[type]);
      const level = rng.int(2);
      const teacher = english ? rng.pick(EN_TEACHERS) : rng.pick(ZH_TEACHERS);
      const bio = english ? rng.pick(EN_TEACHER_BIO) : rng.pick(ZH_TEACHER_BIO);
      const baseTags = sampleDistinct(rng, topic.tags, 2 + rng.int(3));
      for (let part = 1; part <= length; part++) {
        const id = itemId(series, part);
        const lessons = lessonCount(id, type);
        const title = seriesTitle(base, part, length, english).replace('{n}', String(lessons));
        usedTitles.add(title);
        const tags = [...baseTags, ZH_TYPE_WORD[type], LEVEL_TAGS_ZH[Math.min(2, level + part - 1)] as string];
        if (length > 1) tags.push('系列');
        items.push({
          id,
          title,
          itemType: type,
          category: topic.name,
          tags,
          description: describe(rng, topic, type, title, lessons, english, teacher, bio, part, length),
          priceMinor: part > 1 && rng.chance(0.3) ? Math.max(990, price - 5000) : price,
          currency: 'CNY',
          url: itemUrl(type, id),
        });
      }
      remaining -= length;
    }
  });

  // Memberships: a monthly club per topic (most popular first), then yearly plans.
  const byWeight = TOPICS.map((t, i) => [t.weight, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let m = 0; m < memberships; m++) {
    const topic = TOPICS[(byWeight[m % byWeight.length] as readonly [number, number])[1]] as TopicContent;
    const yearly = Math.floor(m / TOPICS.length) % 2 === 1;
    const english = m === 2 || (m > 3 && rng.chance(0.15));
    series++;
    const id = itemId(series, 1);
    const round = Math.floor(m / (2 * TOPICS.length));
    const suffix = round > 0 ? ` ${round + 1}` : '';
    const title = english
      ? `${topic.en} Club${suffix} Membership (${yearly ? 'Yearly' : 'Monthly'})`
      : `${topic.name}${suffix}会员·${yearly ? '年卡' : '连续包月'}`;
    const price = yearly ? rng.pick(YEARLY_PRICES) : rng.pick(MONTHLY_PRICES);
    items.push({
      id,
      title,
      itemType: 'membership',
      category: topic.name,
      tags: ['会员', yearly ? YEARLY_TAG : MONTHLY_TAG, ...sampleDistinct(rng, topic.tags, 2)],
      description: english
        ? `Unlimited access to every ${topic.en.toLowerCase()} course, column and audiobook while your membership is active. ` +
          `Billed ${yearly ? 'once a year' : 'every month'} and renews automatically; you can switch auto-renew off at any time. ` +
          `Members also get live Q&A sessions and early access to new releases.`
        : `开通后畅学全部${topic.name}类课程、专栏和有声书。` +
          `${yearly ? '按年' : '按月'}自动续费，可随时在设置中关闭自动续费。` +
          `会员还可参加每月直播答疑，新课抢先看。`,
      priceMinor: price,
      currency: 'CNY',
      url: itemUrl('membership', id),
    });
  }
  return items;
}

/** Reads the simulation traits off an item record (ids need not follow our pattern). */
export function itemTraits(item: ItemRecord): ItemTraits {
  const m = /^(.*)-(\d+)$/.exec(item.id);
  const seriesKey = m ? (m[1] as string) : item.id;
  const part = m ? Math.max(1, Number(m[2])) : 1;
  const type = knownItemType(item.itemType) ?? 'course';
  let periodDays: number | null = null;
  if (type === 'membership') {
    const tags = item.tags ?? [];
    periodDays = tags.includes(YEARLY_TAG) ? 365 : tags.includes(MONTHLY_TAG) ? 30 : (item.priceMinor ?? 0) >= 10000 ? 365 : 30;
  }
  const h1 = unitFromHash(hashString(item.id, 17)) || 1e-9;
  const h2 = unitFromHash(hashString(item.id, 29));
  const z = Math.sqrt(-2 * Math.log(h1)) * Math.cos(2 * Math.PI * h2);
  // Later parts rarely sell to someone without the earlier ones.
  const popularity = Math.exp(0.9 * z) * (part > 1 ? 0.12 : 1);
  return { seriesKey, part, lessons: type === 'membership' ? 0 : lessonCount(item.id, type), periodDays, popularity };
}

/** Lessons in a content item, a pure function of its id so titles, descriptions and the simulation agree. */
export function lessonCount(id: string, type: ItemType): number {
  const u = unitFromHash(hashString(id, 5));
  switch (type) {
    case 'course':
      return 12 + Math.floor(u * 37);
    case 'column':
      return 20 + Math.floor(u * 81);
    case 'audiobook':
      return 5 + Math.floor(u * 16);
    case 'membership':
      return 0;
    default:
      return assertUnreachable(type);
  }
}

function assertUnreachable(x: never): never {
  throw new Error(`unexpected value ${String(x)}`);
}

function itemId(series: number, part: number): string {
  return `item-${String(series).padStart(4, '0')}-${part}`;
}

function pickType(rng: Rng): ContentType {
  const r = rng.next();
  return r < 0.45 ? 'course' : r < 0.7 ? 'column' : 'audiobook';
}

function sampleDistinct<T>(rng: Rng, xs: readonly T[], n: number): T[] {
  const pool = [...xs];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(rng.int(pool.length), 1)[0] as T);
  return out;
}

/** A title template (with `{n}` for the lesson count) not used by another series. */
function uniqueBase(rng: Rng, topic: TopicContent, type: ContentType, english: boolean, used: Set<string>, length: number): string {
  const stems = english ? topic.enStems : topic.zh;
  const formats = english ? EN_FORMATS[type] : ZH_FORMATS[type];
  let base = '';
  for (let attempt = 0; attempt < 24; attempt++) {
    base = rng.pick(formats).replace('{s}', rng.pick(stems));
    if (!used.has(seriesTitle(base, 1, length, english)) && !used.has(base)) return base;
  }
  let n = 2;
  while (used.has(`${base} ${n}`)) n++;
  return `${base} ${n}`;
}

function seriesTitle(base: string, part: number, length: number, english: boolean): string {
  if (length === 1) return base;
  if (english) return `${base}, ${EN_PARTS[part] ?? `Part ${part}`}`;
  if (length === 2) return base.endsWith('）') ? `${base}·${part === 1 ? '上册' : '下册'}` : `${base}${ZH_PARTS_2[part - 1]}`;
  return `${base}·${ZH_SEASON[part] ?? `第${part}季`}`;
}

function describe(
  rng: Rng,
  topic: TopicContent,
  type: ContentType,
  title: string,
  lessons: number,
  english: boolean,
  teacher: string,
  bio: string,
  part: number,
  length: number,
): string {
  if (english) {
    const [a, b] = sampleDistinct(rng, topic.enOutcomes, 2);
    const unit = type === 'audiobook' ? 'episodes' : type === 'column' ? 'issues' : 'lessons';
    const sentences = [
      `${title} is a ${EN_TYPE_WORD[type]} for ${rng.pick(topic.enAudience)}, in ${lessons} ${unit}.`,
      `You will learn to ${a ?? 'think clearly'}${b ? ` and ${b}` : ''}.`,
      `Taught by ${teacher}, ${bio}, with exercises after every ${unit === 'issues' ? 'issue' : unit.slice(0, -1)}.`,
    ];
    if (length > 1) sentences.push(part === 1 ? `This is part 1 of a ${length}-part series.` : `Builds on part ${part - 1}; take that first.`);
    return sentences.join(' ');
  }
  const [a, b] = sampleDistinct(rng, topic.zhOutcomes, 2);
  const unit = type === 'audiobook' ? '集' : type === 'column' ? '篇' : '讲';
  const sentences = [
    `《${title}》是一门面向${rng.pick(topic.zhAudience)}的${ZH_TYPE_WORD[type]}，共 ${lessons} ${unit}。`,
    `学完之后，你将能够${a ?? '系统地思考'}${b ? `，并且${b}` : ''}。`,
    `主讲人${teacher}，${bio}，每${unit}都配有练习和答疑。`,
  ];
  if (length > 1) sentences.push(part === 1 ? `本系列共 ${length} 部，这是第 1 部。` : `建议先学完第 ${part - 1} 部再开始本部。`);
  return sentences.join('');
}
