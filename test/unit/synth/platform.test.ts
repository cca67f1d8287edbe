import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, ITEM_TYPES, parseEvent, toRecords, UserProfile, type ItemRecord } from '../../../src/domain/events.js';
import { rocAuc } from '../../../src/domain/metrics.js';
import { generateCatalog, itemTraits, MONTHLY_TAG, YEARLY_TAG } from '../../../src/synth/catalog.js';
import { generateUsers, type SynthUser } from '../../../src/synth/platform.js';
import { hashInts, Rng } from '../../../src/synth/prng.js';
import { toWireEvent, toWireUser } from '../../../src/synth/wire.js';

const DAY = 86_400_000;
const END = new Date('2026-01-01T00:00:00Z');
const HAN = /\p{Script=Han}/u;

function users(n: number, seed: number, catalog: ItemRecord[], end = END): SynthUser[] {
  return [...generateUsers({ users: n, seed, end }, catalog)];
}

describe('prng', () => {
  it('repeats a sequence for a seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
    expect(new Rng(1).reseed(42).next()).toBe(xs[0]);
    expect(hashInts(1, 2)).not.toBe(hashInts(2, 1));
  });

  it('draws uniforms in [0, 1) and Poisson counts with the right mean', () => {
    const r = new Rng(7);
    let sum = 0;
    let pois = 0;
    let outside = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = r.next();
      if (u < 0 || u >= 1) outside++;
      sum += u;
      pois += r.poisson(2.5);
    }
    expect(outside).toBe(0);
    expect(sum / 20_000).toBeCloseTo(0.5, 1);
    expect(pois / 20_000).toBeCloseTo(2.5, 1);
  });
});

describe('generateCatalog', () => {
  const catalog = generateCatalog({ seed: 1 });

  it('is deterministic for a seed and differs across seeds', () => {
    expect(generateCatalog({ seed: 1 })).toEqual(catalog);
    expect(generateCatalog({ seed: 2 })).not.toEqual(catalog);
  });

  it('holds ~300 unique items of every type, in 8–12 categories, titled in Chinese and English', () => {
    expect(catalog).toHaveLength(300);
    expect(new Set(catalog.map((i) => i.id)).size).toBe(300);
    expect(new Set(catalog.map((i) => i.title)).size).toBe(300);
    expect(new Set(catalog.map((i) => i.itemType))).toEqual(new Set(ITEM_TYPES));
    const categories = new Set(catalog.map((i) => i.category));
    expect(categories.size).toBeGreaterThanOrEqual(8);
    expect(categories.size).toBeLessThanOrEqual(12);
    expect(categories).toContain('编程');
    const chinese = catalog.filter((i) => HAN.test(i.title ?? ''));
    const english = catalog.filter((i) => /^[\x20-\x7e]+$/.test(i.title ?? ''));
    expect(chinese.length).toBeGreaterThan(150);
    expect(english.length).toBeGreaterThan(20);
  });

  it('gives every item tags, a multi-sentence description and a realistic CNY price', () => {
    for (const item of catalog) {
      expect(item.currency).toBe('CNY');
      expect(Number.isInteger(item.priceMinor)).toBe(true);
      expect(item.tags?.length).toBeGreaterThanOrEqual(2);
      expect((item.description ?? '').split(/[。.](?:\s|$)|。/u).filter(Boolean).length).toBeGreaterThanOrEqual(3);
      const price = item.priceMinor as number;
      if (item.itemType === 'audiobook') expect(price).toBeLessThanOrEqual(4990);
      if (item.itemType === 'course') expect(price).toBeGreaterThanOrEqual(4900);
    }
  });

  it('bills memberships monthly or yearly, and chains series parts', () => {
    const members = catalog.filter((i) => i.itemType === 'membership');
    expect(members.length).toBeGreaterThanOrEqual(10);
    for (const m of members) expect(m.tags?.includes(MONTHLY_TAG) || m.tags?.includes(YEARLY_TAG)).toBe(true);
    expect(new Set(members.map((m) => itemTraits(m).periodDays))).toEqual(new Set([30, 365]));
    const sequels = catalog.filter((i) => itemTraits(i).part > 1);
    expect(sequels.length).toBeGreaterThan(20);
    for (const s of sequels) {
      const t = itemTraits(s);
      const prev = catalog.find((i) => itemTraits(i).seriesKey === t.seriesKey && itemTraits(i).part === t.part - 1);
      expect(prev?.category).toBe(s.category);
    }
  });

  it('keeps every type and both languages in a small catalog, and rejects a tiny one', () => {
    const small = generateCatalog({ seed: 5, items: 12 });
    expect(small).toHaveLength(12);
    expect(new Set(small.map((i) => i.itemType))).toEqual(new Set(ITEM_TYPES));
    expect(small.some((i) => HAN.test(i.title ?? ''))).toBe(true);
    expect(small.some((i) => /^[\x20-\x7e]+$/.test(i.title ?? ''))).toBe(true);
    expect(() => generateCatalog({ seed: 5, items: 3 })).toThrow(/items must be an integer ≥ 8/);
  });
});

describe('generateUsers', () => {
  const catalog = generateCatalog({ seed: 3 });
  const sample = users(2000, 3, catalog);

  it('is deterministic for a seed and differs across seeds', () => {
    expect(users(200, 3, catalog)).toEqual(sample.slice(0, 200));
    const other = users(200, 4, catalog);
    expect(other.map((u) => u.events.length)).not.toEqual(sample.slice(0, 200).map((u) => u.events.length));
  });

  it('generates any range of users independently', () => {
    const range = [...generateUsers({ users: 50, seed: 3, end: END, firstUser: 100 }, catalog)];
    expect(range).toEqual(sample.slice(100, 150));
  });

  it('emits events that parse as inbound events and round-trip to the same records', () => {
    const items = new Map(catalog.map((i) => [i.id, i]));
    for (const u of sample.slice(0, 400)) {
      for (const e of u.events) {
        const item = e.itemId !== null && e.type === 'purchase' ? items.get(e.itemId) : undefined;
        const wire = toWireEvent(e, e.type === 'signup' ? { user: u.user } : item ? { item } : {});
        const parsed = parseEvent(JSON.parse(JSON.stringify(wire)));
        if (!parsed.ok) throw new Error(`${e.eventId} (${e.type}) is invalid: ${JSON.stringify(parsed.issues)}`);
        const back = toRecords(parsed.event);
        expect(back.event).toEqual(e);
        if (e.type === 'signup') expect(back.user).toEqual(u.user);
      }
    }
  });

  it('gives users deterministic emails, names, locales and IANA time zones', () => {
    const locales = new Map<string, number>();
    const zones = new Map<string, number>();
    sample.forEach((u, i) => {
      expect(u.user.id).toBe(`u${i}`);
      expect(u.user.email).toBe(`user${i}@example.com`);
      expect(UserProfile.safeParse(toWireUser(u.user)).success).toBe(true);
      locales.set(u.user.locale as string, (locales.get(u.user.locale as string) ?? 0) + 1);
      zones.set(u.user.timezone as string, (zones.get(u.user.timezone as string) ?? 0) + 1);
    });
    expect((locales.get('zh-CN') ?? 0) / sample.length).toBeGreaterThan(0.7);
    expect([...locales.keys()].some((l) => l.startsWith('en'))).toBe(true);
    expect((zones.get('Asia/Shanghai') ?? 0) / sample.length).toBeGreaterThan(0.7);
    expect(zones.size).toBeGreaterThan(3);
    expect(sample.some((u) => HAN.test(u.user.name ?? ''))).toBe(true);
    expect(sample.some((u) => /^[A-Za-z]+ [A-Za-z]+$/.test(u.user.name ?? ''))).toBe(true);
  });

  it('keeps each user\'s events sorted, after signup, before end, with unique ids', () => {
    const ids = new Set<string>();
    const start = END.getTime() - 730 * DAY;
    const problems: string[] = [];
    sample.forEach((u, i) => {
      const signup = u.user.signupAt!.getTime();
      if (signup < start) problems.push(`${u.user.id} signed up before the period`);
      if (u.events[0]?.type !== 'signup') problems.push(`${u.user.id} does not start with signup`);
      let prev = -Infinity;
      u.events.forEach((e, k) => {
        const t = e.occurredAt.getTime();
        if (t < prev) problems.push(`${e.eventId} out of order`);
        if (t < signup || t >= END.getTime()) problems.push(`${e.eventId} outside [signup, end)`);
        if (e.eventId !== `s3-${i}-${k}` || e.source !== 'default' || e.userId !== u.user.id) problems.push(`${e.eventId} mislabelled`);
        ids.add(e.eventId);
        prev = t;
      });
    });
    expect(problems).toEqual([]);
    expect(ids.size).toBe(sample.reduce((s, u) => s + u.events.length, 0));
  });

  it('produces every event type, ~12–20 events a user with a long tail, and sane money', () => {
    const counts = new Map<string, number>();
    let total = 0;
    let max = 0;
    for (const u of sample) {
      total += u.events.length;
      max = Math.max(max, u.events.length);
      for (const e of u.events) {
        counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
        if (e.type === 'purchase' || e.type === 'renewal' || e.type === 'refund') {
          expect(e.currency).toBe('CNY');
          expect(e.amountMinor).toBeGreaterThan(0);
        }
      }
    }
    // email_click comes only from our own emails (the click redirect), never from the history.
    for (const t of EVENT_TYPES.filter((t) => t !== 'email_click')) expect(counts.get(t), t).toBeGreaterThan(0);
    expect(total / sample.length).toBeGreaterThan(10);
    expect(total / sample.length).toBeLessThan(25);
    expect(max).toBeGreaterThan(100);
  });

  it('follows item rules: refunds after their purchase, renewals of memberships, progress on owned items', () => {
    const members = new Set(catalog.filter((i) => i.itemType === 'membership').map((i) => i.id));
    const problems: string[] = [];
    for (const u of sample) {
      const bought = new Map<string, number>();
      for (const e of u.events) {
        const t = e.occurredAt.getTime();
        if (e.type === 'purchase') bought.set(e.itemId!, t);
        if (e.type === 'refund' && !((bought.get(e.itemId!) ?? Infinity) < t)) problems.push(`${e.eventId} refunds an item not bought before`);
        if ((e.type === 'renewal' || e.type === 'subscription_cancel' || e.type === 'payment_failed') && !members.has(e.itemId!)) problems.push(`${e.eventId} bills a non-membership`);
        if (e.type === 'lesson_progress' && !(e.percent! > 0 && e.percent! <= 100 && e.lessonId?.startsWith(`${e.itemId}-L`))) problems.push(`${e.eventId} has a bad lesson or percent`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('buys mostly within the user\'s topics, and sequels after their first part', () => {
    const items = new Map(catalog.map((i) => [i.id, i]));
    let inTaste = 0;
    let purchases = 0;
    let part1Owners = 0;
    let part1OwnersWithSequel = 0;
    let sequelBuyers = 0;
    const firstParts = catalog.filter((i) => itemTraits(i).part === 1 && catalog.some((j) => itemTraits(j).seriesKey === itemTraits(i).seriesKey && itemTraits(j).part === 2));
    const sequelOf = new Map(firstParts.map((i) => [i.id, `${itemTraits(i).seriesKey}-2`]));
    for (const u of sample) {
      const owned = new Set<string>();
      for (const e of u.events) {
        if (e.type !== 'purchase') continue;
        purchases++;
        owned.add(e.itemId!);
        if (u.truth.topics.includes(items.get(e.itemId!)?.category ?? '')) inTaste++;
      }
      for (const [first, second] of sequelOf) {
        if (owned.has(first)) {
          part1Owners++;
          if (owned.has(second)) part1OwnersWithSequel++;
        } else if (owned.has(second)) sequelBuyers++;
      }
    }
    expect(inTaste / purchases).toBeGreaterThan(0.7);
    // Part 2 is bought by part 1's owners far more often than by anyone else.
    const nonOwners = sample.length * sequelOf.size - part1Owners;
    expect(part1OwnersWithSequel / part1Owners).toBeGreaterThan(20 * (sequelBuyers / nonOwners));
  });

  it('records a truth where loyal users stay longer', () => {
    const loyal = sample.filter((u) => u.truth.loyalty > 0.7);
    const fickle = sample.filter((u) => u.truth.loyalty < 0.3);
    const stayed = (xs: SynthUser[]) => xs.filter((u) => u.truth.churnedAt === null).length / xs.length;
    expect(stayed(loyal)).toBeGreaterThan(stayed(fickle) + 0.15);
    for (const u of sample) {
      expect(u.truth.topics.length).toBeGreaterThanOrEqual(1);
      expect(u.truth.topics.length).toBeLessThanOrEqual(3);
      if (u.truth.churnedAt) expect(u.truth.churnedAt.getTime()).toBeLessThan(END.getTime());
    }
  });

  it('rejects bad options with messages that state the constraint', () => {
    expect(() => users(-1, 1, catalog)).toThrow(/users must be a non-negative integer/);
    expect(() => [...generateUsers({ users: 1, seed: 1, end: new Date('nope') }, catalog)]).toThrow(/end must be a valid date/);
    expect(() => [...generateUsers({ users: 1, seed: 1, end: END }, [])]).toThrow(/at least one course/);
  });
});

describe('churn learnability (cutoff = end − 90 days)', () => {
  interface Row {
    label: number;
    recencyPayment: number;
    recencyAny: number;
    x: number[];
  }

  /** Simple features as of the cutoff; label 1 = no purchase or renewal in [cutoff, end). */
  function featurize(u: SynthUser, cutoff: number, members: Set<string>): Row | null {
    const signup = u.user.signupAt!.getTime();
    if (signup >= cutoff) return null;
    let label = 1;
    let lastPay = -1;
    let lastAny = signup;
    let lastView = signup;
    let views30 = 0;
    let pays90 = 0;
    let pays = 0;
    let cancelAfterPay = 0;
    let failed90 = 0;
    let memberPay = -1;
    const owned = new Set<string>();
    const progress = new Map<string, number>();
    for (const e of u.events) {
      const t = e.occurredAt.getTime();
      if (t >= cutoff) {
        if (e.type === 'purchase' || e.type === 'renewal') label = 0;
        continue;
      }
      const age = (cutoff - t) / DAY;
      lastAny = t;
      switch (e.type) {
        case 'view':
        case 'lesson_progress':
          lastView = t;
          if (age < 30) views30++;
          if (e.type === 'lesson_progress') progress.set(e.itemId!, e.percent!);
          break;
        case 'purchase':
        case 'renewal':
          lastPay = t;
          pays++;
          if (age < 90) pays90++;
          if (members.has(e.itemId!)) {
            memberPay = t;
            cancelAfterPay = 0;
          } else owned.add(e.itemId!);
          break;
        case 'refund':
          owned.delete(e.itemId!);
          break;
        case 'subscription_cancel':
          cancelAfterPay = 1;
          break;
        case 'payment_failed':
          if (age < 90) failed90++;
          break;
        default:
          break;
      }
    }
    const tenure = (cutoff - signup) / DAY;
    let completion = 0;
    let neverStarted = 0;
    for (const id of owned) {
      const p = progress.get(id);
      if (p === undefined) neverStarted++;
      else completion += p / 100 / owned.size;
    }
    const recencyPayment = lastPay < 0 ? tenure : (cutoff - lastPay) / DAY;
    const memberRecent = memberPay > 0 && (cutoff - memberPay) / DAY < 31 ? 1 : 0;
    return {
      label,
      recencyPayment,
      recencyAny: (cutoff - lastAny) / DAY,
      x: [
        Math.log1p(recencyPayment),
        Math.log1p(views30),
        Math.log1p((cutoff - lastView) / DAY),
        pays90,
        Math.log1p(pays),
        pays === 0 ? 1 : 0,
        memberRecent,
        memberRecent * cancelAfterPay,
        failed90,
        completion,
        neverStarted,
        Math.log1p(tenure),
      ],
    };
  }

  /** Plain gradient-descent logistic regression on standardised columns. */
  function fitLogistic(xs: number[][], ys: number[], iterations = 300): (x: number[]) => number {
    const d = xs[0]!.length;
    const mean = new Array<number>(d).fill(0);
    const sd = new Array<number>(d).fill(0);
    for (const x of xs) x.forEach((v, j) => (mean[j]! += v / xs.length));
    for (const x of xs) x.forEach((v, j) => (sd[j]! += (v - mean[j]!) ** 2 / xs.length));
    const scale = sd.map((v) => Math.sqrt(v) || 1);
    const z = xs.map((x) => x.map((v, j) => (v - mean[j]!) / scale[j]!));
    const w = new Array<number>(d + 1).fill(0);
    for (let it = 0; it < iterations; it++) {
      const g = new Array<number>(d + 1).fill(0);
      z.forEach((x, i) => {
        let s = w[0]!;
        for (let j = 0; j < d; j++) s += w[j + 1]! * x[j]!;
        const r = 1 / (1 + Math.exp(-s)) - ys[i]!;
        g[0]! += r;
        for (let j = 0; j < d; j++) g[j + 1]! += r * x[j]!;
      });
      for (let j = 0; j <= d; j++) w[j]! -= (1.0 * g[j]!) / z.length;
    }
    return (x) => x.reduce((s, v, j) => s + (w[j + 1]! * (v - mean[j]!)) / scale[j]!, w[0]!);
  }

  it('rewards engagement features beyond recency (ROC-AUC on a holdout)', () => {
    const catalog = generateCatalog({ seed: 21 });
    const members = new Set(catalog.filter((i) => i.itemType === 'membership').map((i) => i.id));
    const cutoff = END.getTime() - 90 * DAY;
    const rows: Row[] = [];
    for (const u of generateUsers({ users: 10_000, seed: 21, end: END }, catalog)) {
      const r = featurize(u, cutoff, members);
      if (r) rows.push(r);
    }
    const train = rows.filter((_, i) => i % 2 === 0);
    const test = rows.filter((_, i) => i % 2 === 1);
    const churnRate = rows.reduce((s, r) => s + r.label, 0) / rows.length;
    expect(churnRate).toBeGreaterThan(0.5);
    expect(churnRate).toBeLessThan(0.9);

    const labels = test.map((r) => r.label);
    const recencyPayment = rocAuc(test.map((r) => r.recencyPayment), labels);
    const recencyAny = rocAuc(test.map((r) => r.recencyAny), labels);
    const score = fitLogistic(train.map((r) => r.x), train.map((r) => r.label));
    const engaged = rocAuc(test.map((r) => score(r.x)), labels);

    expect(recencyPayment).toBeGreaterThan(0.65);
    expect(engaged).toBeGreaterThan(0.8);
    expect(engaged).toBeGreaterThan(recencyPayment + 0.05);
    expect(engaged).toBeGreaterThan(recencyAny + 0.03);
  });
});

