/**
 * The synthetic knowledge-paid platform: users with a known ground truth and the event
 * stream they produce, for the demo, tests and benchmarks at any size.
 *
 * Behaviour model (one user at a time, in weekly steps from signup to `end`):
 * - Latent traits: loyalty ℓ ∈ (0, 1); intensity (log-normal: heavy users browse, study
 *   and buy more); diligence (how much of what they buy they study); 1–3 favourite
 *   topics with Dirichlet weights; a taste for subscriptions and for coupons.
 * - Engagement `e` wanders around 1 (AR(1) on the log scale); views, study sessions and
 *   purchases scale with it.
 * - Buying: many buy right after signing up; later purchases mostly follow days or weeks
 *   of viewing the item (some considered items are dropped), some are impulses. Items
 *   follow topic tastes × popularity; finishing a part of a series often leads to the
 *   next part, so co-purchase carries signal beyond popularity. Memberships renew every
 *   month or year and unlock their topic's content, which members then study.
 * - Leaving: each active week the user starts to leave with a hazard that rises with
 *   low loyalty and with what the events show: no purchase yet, paid-but-never-started
 *   items, a recent refund or failed payment, auto-renew switched off, an engagement dip;
 *   studying lately and having finished something lower it. Leaving takes 4–12 weeks:
 *   study stops first, views and purchases fade, subscribers often switch auto-renew off
 *   or their card fails; then the user goes quiet. Quiet users come back at a rate that
 *   grows with their history (purchases, finished items), sometimes through a win-back
 *   coupon, and a forgotten subscription may keep renewing.
 *
 * So churn (no purchase or renewal in the next 90 days) is noisy but learnable from
 * recency together with engagement, completion, cancellations, failed payments and trend.
 * Each user is simulated from its own PRNG stream (seed, index), so any range of users
 * can be generated independently and memory stays constant.
 */
import type { EventRecord, EventType, ItemRecord, UserRecord } from '../domain/events.js';
import { DEFAULT_SOURCE } from '../domain/events.js';
import { itemTraits } from './catalog.js';
import { drawPerson, type Zone } from './people.js';
import { hashInts, pickCumulative, Rng } from './prng.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

export const DEFAULT_DAYS = 730;

export interface PlatformOptions {
  users: number;
  seed: number;
  /** Exclusive upper bound for every event time (the simulation's "now"). */
  end: Date;
  /** Length of the simulated history; users sign up throughout it. Default {@link DEFAULT_DAYS}. */
  days?: number;
  /** Index of the first user (for generating a range of users in parallel); default 0. */
  firstUser?: number;
}

/** What the simulation knows that the events only hint at. */
export interface UserTruth {
  /** Latent loyalty in (0, 1): higher stays longer and buys more. */
  loyalty: number;
  /** When the user went quiet and stayed quiet until `end` (the end of their fade-out), or null if active or still fading at `end`. */
  churnedAt: Date | null;
  /** The user's favourite categories, strongest first. */
  topics: string[];
}

/** Latent traits the forward simulation's responses depend on (never a model input). */
export interface UserTraits {
  loyalty: number;
  diligence: number;
  couponTaste: number;
  intensity: number;
  phaseAtEnd: 'active' | 'fading' | 'quiet';
}

export interface SynthUser {
  user: UserRecord;
  /** Sorted by `occurredAt`, all before `end`, ids `s{seed}-{userIndex}-{k}`. */
  events: EventRecord[];
  truth: UserTruth;
}

export interface ForwardUser extends SynthUser {
  /** The natural future after `end`, sorted, ids `s{seed}-{userIndex}-f{k}`. */
  future: EventRecord[];
  traits: UserTraits;
}

/**
 * The seeded history of each user and their natural future up to `end + futureDays`: what
 * they would do if nobody contacted them. The history is identical to {@link generateUsers}'s.
 */
export function* generateForward(opts: PlatformOptions & { futureDays: number }, catalog: ItemRecord[]): Generator<ForwardUser> {
  if (!(opts.futureDays >= 0)) throw new RangeError(`futureDays must be ≥ 0, got ${opts.futureDays}`);
  const days = opts.days ?? DEFAULT_DAYS;
  const endMs = opts.end.getTime();
  if (!Number.isFinite(endMs)) throw new RangeError('end must be a valid date');
  const first = opts.firstUser ?? 0;
  const sim = new UserSim(compileCatalog(catalog), opts.seed, endMs, days, endMs + opts.futureDays * DAY);
  for (let i = first; i < first + opts.users; i++) yield sim.forward(i, endMs + opts.futureDays * DAY);
}

/**
 * Streams users and their events, one user at a time. Deterministic for
 * (seed, end, days, catalog). Event semantics: `lesson_progress.percent` is the user's
 * progress through the whole item after that session (100 = finished), and `lesson_id`
 * is the last lesson reached; a `purchase` of a membership starts a subscription that
 * `renewal`s bill every period until auto-renew is switched off (`subscription_cancel`)
 * or a `payment_failed` is not recovered.
 */
export function* generateUsers(opts: PlatformOptions, catalog: ItemRecord[]): Generator<SynthUser> {
  if (!Number.isInteger(opts.users) || opts.users < 0) throw new RangeError(`users must be a non-negative integer, got ${opts.users}`);
  const days = opts.days ?? DEFAULT_DAYS;
  if (!(days > 0)) throw new RangeError(`days must be positive, got ${days}`);
  const endMs = opts.end.getTime();
  if (!Number.isFinite(endMs)) throw new RangeError('end must be a valid date');
  if (!Number.isFinite(opts.seed)) throw new RangeError(`seed must be a finite number, got ${opts.seed}`);
  const first = opts.firstUser ?? 0;
  if (!Number.isInteger(first) || first < 0) throw new RangeError(`firstUser must be a non-negative integer, got ${first}`);
  const model = compileCatalog(catalog);
  const sim = new UserSim(model, opts.seed, endMs, days);
  for (let i = first; i < first + opts.users; i++) yield sim.run(i);
}

interface CatalogModel {
  items: ItemRecord[];
  category: Int32Array;
  isMembership: Uint8Array;
  price: Int32Array;
  lessons: Int32Array;
  periodDays: Int32Array;
  /** Index of the next part in the item's series, or -1. */
  nextPart: Int32Array;
  categories: string[];
  /** Content (non-membership) items per category, with cumulative popularity. */
  content: Int32Array[];
  contentCum: Float64Array[];
  memberships: Int32Array[];
  /** Cumulative category popularity, for purchases outside a user's tastes. */
  categoryCum: Float64Array;
}

function compileCatalog(items: ItemRecord[]): CatalogModel {
  const n = items.length;
  const category = new Int32Array(n);
  const isMembership = new Uint8Array(n);
  const price = new Int32Array(n);
  const lessons = new Int32Array(n);
  const periodDays = new Int32Array(n);
  const nextPart = new Int32Array(n).fill(-1);
  const categories: string[] = [];
  const catIndex = new Map<string, number>();
  const popularity = new Float64Array(n);
  const bySeriesPart = new Map<string, number>();
  const traits = items.map(itemTraits);
  items.forEach((it, i) => {
    const cat = it.category ?? '(none)';
    let c = catIndex.get(cat);
    if (c === undefined) {
      c = categories.length;
      categories.push(cat);
      catIndex.set(cat, c);
    }
    const t = traits[i] as ReturnType<typeof itemTraits>;
    category[i] = c;
    isMembership[i] = it.itemType === 'membership' ? 1 : 0;
    price[i] = it.priceMinor ?? 0;
    lessons[i] = Math.max(1, t.lessons);
    periodDays[i] = t.periodDays ?? 0;
    popularity[i] = t.popularity;
    bySeriesPart.set(`${t.seriesKey}\u0000${t.part}`, i);
  });
  items.forEach((_, i) => {
    const t = traits[i] as ReturnType<typeof itemTraits>;
    const next = bySeriesPart.get(`${t.seriesKey}\u0000${t.part + 1}`);
    if (next !== undefined && !isMembership[i]) nextPart[i] = next;
  });
  const content: Int32Array[] = [];
  const contentCum: Float64Array[] = [];
  const memberships: Int32Array[] = [];
  const catWeight = new Float64Array(categories.length);
  for (let c = 0; c < categories.length; c++) {
    const idx: number[] = [];
    const mem: number[] = [];
    for (let i = 0; i < n; i++) if (category[i] === c) (isMembership[i] ? mem : idx).push(i);
    const cum = new Float64Array(idx.length);
    let s = 0;
    idx.forEach((i, k) => {
      s += popularity[i] as number;
      cum[k] = s;
    });
    content.push(Int32Array.from(idx));
    contentCum.push(cum);
    memberships.push(Int32Array.from(mem));
    catWeight[c] = s;
  }
  if (!content.some((c) => c.length > 0)) throw new RangeError('catalog must hold at least one course, column or audiobook');
  const categoryCum = new Float64Array(categories.length);
  let s = 0;
  for (let c = 0; c < categories.length; c++) categoryCum[c] = s += catWeight[c] as number;
  return { items, category, isMembership, price, lessons, periodDays, nextPart, categories, content, contentCum, memberships, categoryCum };
}

// Owned-item states.
const UNSTARTED = 0;
const STUDYING = 1;
const FINISHED = 2;
const ABANDONED = 3;
const REFUNDED = 4;

// Phases of a user's life.
const ACTIVE = 0;
const FADING = 1;
const QUIET = 2;
const PHASE_NAMES = ['active', 'fading', 'quiet'] as const;

interface LoopState {
  phase: number;
  /** Log engagement and engagement. */
  x: number;
  e: number;
  fadeLeft: number;
  fadeFactor: number;
  cancelInFade: boolean;
  returnAt: number;
  churnedAt: number;
  week: number;
  /** Start of the next week to simulate. */
  w: number;
  activity: number;
  purchaseRate: number;
}

/** Relative likelihood of activity by local hour of day (commute, lunch, evening peak). */
const HOUR_WEIGHTS = [2, 1, 0.5, 0.3, 0.3, 0.5, 1.5, 4, 5, 4, 3, 3, 5, 4, 3, 3, 3, 4, 5, 6, 8, 9, 8, 5];
const HOUR_CUM = (() => {
  const c = new Float64Array(24);
  let s = 0;
  HOUR_WEIGHTS.forEach((w, i) => (c[i] = s += w));
  return c;
})();

/**
 * Behaviour knobs, tuned so that ~16 events per user come out and churn (no purchase or
 * renewal in 90 days) is learnable beyond recency; see test/unit/synth/platform.test.ts.
 */
const K = {
  /** Browsing views a week at engagement 1, before intensity and loyalty. */
  views: 0.3,
  /** Views of an item while considering it, beyond the first (Poisson mean). */
  considerViews: 0.8,
  /** Chance a week of starting a study session on an item in progress, before diligence. */
  study: 0.45,
  /** Purchases a week at engagement 1, before intensity and loyalty. */
  buy: 0.07,
  /** Spread (log-normal sigma) of intensity across users. */
  intensitySd: 0.8,
  /** Chance of buying right after signup, before loyalty. */
  intent: 0.4,
  intentDelayDays: 1.5,
  /** Purchase boost in the first weeks for users who have not bought yet. */
  firstBuy: 2.5,
  /** Share of users who like subscriptions. */
  memberShare: 0.35,
  /** Signup times are start + span · u^growth: below 1, a growing platform. */
  growth: 0.6,
  // Weekly hazard of starting to leave, as log-odds terms.
  hazard: -4.1,
  loy: 3.2,
  unstarted: 1,
  refund: 1.5,
  failed: 1.5,
  cancel: 2,
  dip: 3.5,
  studying: 0.5,
  finished: 0.5,
  // Weekly comeback rate once quiet: per past purchase, per finished item, times (base + loyalty).
  retBuy: 0.004,
  retFin: 0.01,
  retLoyBase: 0.5,
} as const;

/** Share of considered items that end in a purchase. */
const CONSIDER_BUY = 0.65;

const PROMO_CODES = ['618SALE', 'DOUBLE11'] as const;
const EVERYDAY_CODES = ['READ20', 'VIP15', 'FRIEND10', 'STUDY30'] as const;

class UserSim {
  private readonly rng = new Rng(0);
  private readonly owned: Uint8Array;
  // Owned content, struct-of-arrays, reused across users.
  private cap = 64;
  private oItem = new Int32Array(this.cap);
  private oState = new Uint8Array(this.cap);
  private oDone = new Int32Array(this.cap);
  private oBought = new Float64Array(this.cap);
  private oStart = new Float64Array(this.cap);
  /** 1 when the item came with a membership rather than a purchase. */
  private oVia = new Uint8Array(this.cap);
  private oCount = 0;
  private readonly promos: Float64Array;
  private readonly startMs: number;

  // Per-user state, reset by run().
  private events: EventRecord[] = [];
  private userId = '';
  private zone: Zone = { tz: 'Asia/Shanghai', offsetHours: 8 };
  private signupMs = 0;
  private loyalty = 0;
  private diligence = 0;
  private memberTaste = 0;
  private couponTaste = 0;
  private favs: number[] = [];
  private favWeights: number[] = [];
  private purchases = 0;
  private finished = 0;
  private lastStudy = -Infinity;
  // Items under consideration: viewed over days or weeks, then bought or dropped.
  private cItem = new Int32Array(8);
  private cAt = new Float64Array(8);
  private cBuy = new Uint8Array(8);
  private cCount = 0;
  private lastRefund = -Infinity;
  private lastFailed = -Infinity;
  private subItem = -1;
  private subNext = 0;
  private subAutoRenew = false;
  private intensity = 1;
  private phaseAtHistoryEnd = ACTIVE;
  /** The weekly loop's state, kept between calls of advance() so a user's life can be continued. */
  private readonly st: LoopState = { phase: ACTIVE, x: 0, e: 1, fadeLeft: 0, fadeFactor: 1, cancelInFade: false, returnAt: Infinity, churnedAt: -1, week: 0, w: 0, activity: 0, purchaseRate: 0 };

  constructor(
    private readonly m: CatalogModel,
    private readonly seed: number,
    private endMs: number,
    days: number,
    horizonMs = endMs,
  ) {
    this.owned = new Uint8Array(m.items.length);
    this.startMs = endMs - days * DAY;
    // 618 (1–18 June) and Double 11 (1–11 November) in China time, for every year in range.
    const ranges: number[] = [];
    const y0 = new Date(this.startMs).getUTCFullYear();
    const y1 = new Date(Math.max(endMs, horizonMs)).getUTCFullYear();
    for (let y = y0; y <= y1; y++) {
      ranges.push(Date.UTC(y, 5, 1) - 8 * HOUR, Date.UTC(y, 5, 19) - 8 * HOUR, Date.UTC(y, 10, 1) - 8 * HOUR, Date.UTC(y, 10, 12) - 8 * HOUR);
    }
    this.promos = Float64Array.from(ranges);
  }

  run(index: number): SynthUser {
    const rng = this.rng.reseed(hashInts(this.seed, index));
    const m = this.m;
    const end = this.endMs;
    this.events = [];
    this.userId = `u${index}`;
    this.purchases = 0;
    this.finished = 0;
    this.lastStudy = -Infinity;
    this.cCount = 0;
    this.lastRefund = -Infinity;
    this.lastFailed = -Infinity;
    this.subItem = -1;
    this.subAutoRenew = false;
    for (let k = 0; k < this.oCount; k++) this.owned[this.oItem[k] as number] = 0;
    this.oCount = 0;

    const person = drawPerson(rng);
    this.zone = person.zone;
    const loyalty = 1 / (1 + Math.exp(-1.4 * rng.normal()));
    this.loyalty = loyalty;
    // Intensity: how much of their life the platform takes. Heavy users browse, study and buy more.
    const intensity = Math.exp(K.intensitySd * rng.normal() - K.intensitySd * K.intensitySd / 2);
    this.intensity = intensity;
    const activity = K.views * 0.8 * intensity * (0.5 + 0.6 * loyalty);
    this.diligence = 1 / (1 + Math.exp(-(0.9 * rng.normal() + 2.5 * (loyalty - 0.5))));
    this.memberTaste = rng.chance(K.memberShare) ? 0.35 + 0.3 * loyalty : 0.01;
    this.couponTaste = rng.next();
    const purchaseRate = K.buy * Math.pow(intensity, 0.9) * (0.25 + loyalty) * Math.exp(0.2 * rng.normal());
    this.drawTastes(rng);

    // A growing platform: signups densify toward `end`.
    const span = end - this.startMs;
    const signup = Math.min(end - MINUTE, this.startMs + span * Math.pow(rng.next(), K.growth));
    this.signupMs = signup;
    this.push(signup, 'signup', -1, null, null);
    // Many sign up to buy something specific, within hours or days.
    if (rng.chance(K.intent + 0.3 * loyalty)) this.purchase(signup + MINUTE + rng.exponential(K.intentDelayDays * DAY), null, ACTIVE);

    const st = this.st;
    st.phase = ACTIVE;
    st.x = 0.4 * rng.normal();
    st.e = Math.exp(st.x);
    st.fadeLeft = 0;
    st.fadeFactor = 1;
    st.cancelInFade = false;
    st.returnAt = Infinity;
    st.churnedAt = -1;
    st.week = 0;
    st.w = signup;
    st.activity = activity;
    st.purchaseRate = purchaseRate;
    this.advance(end);
    this.phaseAtHistoryEnd = st.phase;

    const events = this.events;
    events.sort(byTime);
    const prefix = `s${this.seed}-${index}-`;
    for (let k = 0; k < events.length; k++) (events[k] as EventRecord).eventId = prefix + k;
    const topics = this.favs.map((c) => m.categories[c] as string);
    return {
      user: {
        id: this.userId,
        email: `user${index}@example.com`,
        name: person.name,
        locale: person.locale,
        timezone: person.zone.tz,
        signupAt: new Date(signup),
      },
      events,
      truth: { loyalty, churnedAt: st.churnedAt >= 0 ? new Date(Math.min(st.churnedAt, end - 1)) : null, topics },
    };
  }

  /**
   * Simulates weeks from `st.w` up to `end`. The same loop serves the seeded history and its
   * continuation past it (see {@link UserSim.forward}), so a user's future follows from their
   * state at the end of their history.
   */
  private advance(end: number): void {
    const rng = this.rng;
    const st = this.st;
    for (; st.w < end; st.w += WEEK, st.week++) {
      const w = st.w;
      const week = st.week;
      const we = Math.min(w + WEEK, end);
      if (st.phase === QUIET) {
        if (this.subItem >= 0) this.billing(w, we, st.phase);
        if (st.returnAt >= we) {
          if (this.subItem < 0) {
            // Nothing can happen before the comeback: skip straight to its week.
            const skip = Math.floor((Math.min(st.returnAt, end) - w) / WEEK) - 1;
            if (skip > 0) {
              st.w += skip * WEEK;
              st.week += skip;
            }
          }
          continue;
        }
        st.phase = ACTIVE;
        st.churnedAt = -1;
        st.x = -0.3 + 0.3 * rng.normal();
        st.e = Math.exp(st.x);
        this.comeback(st.returnAt, we);
      }

      // Engagement: mean-reverting wander while active, steady decay while fading.
      if (st.phase === ACTIVE) {
        st.x = 0.88 * st.x + 0.3 * rng.normal();
        st.e = Math.exp(st.x - 0.15);
      } else {
        st.e *= st.fadeFactor;
      }
      const e = st.e;

      if (st.phase === ACTIVE) {
        const h = this.hazardLogit(w, week, e);
        if (rng.next() < 1 / (1 + Math.exp(-h))) {
          st.phase = FADING;
          st.fadeLeft = 4 + rng.int(9);
          st.fadeFactor = 0.82 + 0.13 * rng.next();
          st.cancelInFade = this.subItem >= 0 && this.subAutoRenew && rng.chance(0.55);
        } else if (this.subItem >= 0 && this.subAutoRenew && rng.chance(0.004)) {
          this.cancelSubscription(this.when(w, we));
        }
      }
      if (st.phase === FADING && st.cancelInFade && this.subItem >= 0 && this.subAutoRenew && rng.chance(0.5)) {
        this.cancelSubscription(this.when(w, we));
        st.cancelInFade = false;
      }

      if (this.subItem >= 0) this.billing(w, we, st.phase);

      const boost = week === 0 ? 2.5 : week === 1 ? 1.5 : 1;
      // Browsing.
      const views = rng.poisson(st.activity * e * boost);
      for (let v = 0; v < views; v++) {
        const t = week === 0 && v === 0 ? this.signupMs + rng.exponential(20 * MINUTE) : this.when(w, we);
        if (t >= end) continue;
        const item = this.oCount > 0 && rng.chance(0.3) ? (this.oItem[rng.int(this.oCount)] as number) : this.chooseItem(false);
        if (item >= 0) this.push(t, 'view', item, null, null);
      }

      // Buying: most purchases follow days or weeks of looking at the item; some are impulses.
      const promo = this.inPromo(w) || this.inPromo(we - 1) ? 1.8 : 1;
      const firstBuy = this.purchases === 0 && week < 3 ? K.firstBuy : 1;
      let p = st.purchaseRate * Math.pow(Math.min(e, 3), 1.2) * promo * firstBuy * (st.phase === FADING ? 0.3 : 1);
      if (p > 0.9) p = 0.9;
      for (let b = 0; b < 2 && rng.next() < (b === 0 ? p : p * 0.25); b++) {
        const t = this.when(w, we);
        if (rng.chance(0.25)) this.purchase(t, null, st.phase);
        else this.consider(t, this.chooseItem(true), rng.chance(CONSIDER_BUY));
      }
      this.settleConsidered(we, st.phase);

      // Studying what they own.
      this.study(w, we, e, st.phase);

      if (st.phase === FADING && --st.fadeLeft <= 0) {
        st.phase = QUIET;
        st.churnedAt = we;
        this.cCount = 0;
        // Users with a history here (purchases, finished courses) come back far more often.
        const returnRate = (0.001 + K.retBuy * Math.min(this.purchases, 6) + K.retFin * Math.min(this.finished, 3)) * (K.retLoyBase + this.loyalty);
        st.returnAt = we + Math.ceil(Math.log(1 - rng.next()) / Math.log(1 - returnRate)) * WEEK - rng.next() * WEEK;
      }
    }
  }

  /**
   * The user's seeded history (exactly as {@link UserSim.run} makes it), then their natural
   * future: the same simulation carried on from where the history ended up to `futureEnd`,
   * as if nobody ever contacted them. Future event ids are `s{seed}-{index}-f{k}`.
   */
  forward(index: number, futureEnd: number): ForwardUser {
    const history = this.run(index);
    const histEnd = this.endMs;
    this.events = [];
    this.endMs = futureEnd;
    this.st.w = histEnd;
    try {
      this.advance(futureEnd);
    } finally {
      this.endMs = histEnd;
    }
    const future = this.events.filter((e) => e.occurredAt.getTime() >= histEnd);
    future.sort(byTime);
    const prefix = `s${this.seed}-${index}-f`;
    for (let k = 0; k < future.length; k++) (future[k] as EventRecord).eventId = prefix + k;
    return {
      ...history,
      future,
      traits: { loyalty: this.loyalty, diligence: this.diligence, couponTaste: this.couponTaste, intensity: this.intensity, phaseAtEnd: PHASE_NAMES[this.phaseAtHistoryEnd] as ForwardUser['traits']['phaseAtEnd'] },
    };
  }

  /** Log-odds of starting to leave this week. */
  private hazardLogit(w: number, week: number, e: number): number {
    let h = K.hazard + K.loy * (0.5 - this.loyalty);
    if (this.purchases === 0) h += week < 6 ? 2.6 : 1.2;
    let unstarted = 0;
    for (let k = 0; k < this.oCount; k++) {
      if (this.oState[k] === UNSTARTED && !this.oVia[k] && (this.oStart[k] as number) > w && (this.oBought[k] as number) < w - 14 * DAY) unstarted++;
    }
    h += K.unstarted * Math.min(unstarted, 3);
    if (this.lastRefund <= w && this.lastRefund > w - 8 * WEEK) h += K.refund;
    if (this.lastFailed <= w && this.lastFailed > w - 6 * WEEK) h += K.failed;
    if (this.subItem >= 0 && !this.subAutoRenew) h += K.cancel;
    if (e < 0.7) h += K.dip * (0.7 - e);
    if (this.lastStudy > w - 2 * WEEK) h -= K.studying;
    if (this.finished > 0) h -= K.finished;
    return h;
  }

  private drawTastes(rng: Rng): void {
    const m = this.m;
    const k = 1 + rng.weighted([0.4, 0.4, 0.2]);
    const favs: number[] = [];
    const weights: number[] = [];
    let candidates = 0;
    for (let c = 0; c < m.categories.length; c++) if ((m.content[c] as Int32Array).length > 0) candidates++;
    while (favs.length < Math.min(k, candidates)) {
      const c = pickCumulative(m.categoryCum, rng.next());
      if (favs.includes(c)) continue;
      favs.push(c);
      weights.push(rng.exponential(1) + 0.05);
    }
    // Strongest first.
    const order = favs.map((_, i) => i).sort((a, b) => (weights[b] as number) - (weights[a] as number));
    this.favs = order.map((i) => favs[i] as number);
    this.favWeights = order.map((i) => weights[i] as number);
  }

  /** An item the user might look at or buy: a sequel, a membership, or taste × popularity. */
  private chooseItem(buying: boolean): number {
    const rng = this.rng;
    const m = this.m;
    if (this.oCount > 0 && rng.chance(buying ? 0.45 : 0.25)) {
      // Sequels of what they studied.
      let seen = 0;
      let choice = -1;
      for (let k = 0; k < this.oCount; k++) {
        const st = this.oState[k];
        if (st !== STUDYING && st !== FINISHED) continue;
        const nx = m.nextPart[this.oItem[k] as number] as number;
        if (nx >= 0 && !this.owned[nx] && rng.int(++seen) === 0) choice = nx;
      }
      if (choice >= 0) return choice;
    }
    const c =
      this.subItem >= 0 && rng.chance(0.6)
        ? (m.category[this.subItem] as number)
        : rng.chance(0.85)
          ? (this.favs[rng.weighted(this.favWeights)] as number)
          : pickCumulative(m.categoryCum, rng.next());
    if (buying && this.subItem < 0 && rng.chance(this.memberTaste)) {
      const mem = m.memberships[c] as Int32Array;
      if (mem.length > 0) return mem[rng.int(mem.length)] as number;
    }
    const list = m.content[c] as Int32Array;
    if (list.length === 0) return -1;
    const cum = m.contentCum[c] as Float64Array;
    for (let attempt = 0; attempt < 8; attempt++) {
      const item = list[pickCumulative(cum, rng.next())] as number;
      if (!buying || !this.owned[item]) return item;
    }
    return -1;
  }

  private purchase(t: number, coupon: string | null, phase: number, chosen = -1, lookFirst = true): void {
    if (t >= this.endMs) return;
    const rng = this.rng;
    const m = this.m;
    const item = chosen >= 0 ? chosen : this.chooseItem(true);
    if (item < 0 || this.owned[item]) return;
    const membership = m.isMembership[item] === 1;
    if (membership && this.subItem >= 0) return;
    if (lookFirst && rng.chance(0.85)) {
      const tv = Math.max(this.signupMs + MINUTE, t - rng.exponential(8 * HOUR));
      if (tv < t) this.push(tv, 'view', item, null, null);
    }
    if (!membership && this.subItem >= 0 && m.category[item] === m.category[this.subItem]) {
      // Included in their membership: they just start it.
      this.owned[item] = 1;
      this.push(t, 'view', item, null, null);
      this.addOwned(item, t, rng.chance(0.85) ? t + rng.exponential(2 * DAY) : Infinity, 1);
      return;
    }
    const price = m.price[item] as number;
    let amount = price;
    let code = coupon;
    if (code !== null) amount = Math.round(price * 0.7);
    else if (this.purchases === 0 && rng.chance(0.3)) {
      code = 'NEWUSER10';
      amount = Math.max(Math.round(price / 2), price - 1000);
    } else if (this.inPromo(t) && rng.chance(0.3 + 0.4 * this.couponTaste)) {
      code = PROMO_CODES[this.inPromoIndex(t)] as string;
      amount = Math.round(price * 0.8);
    } else if (rng.chance(0.08 * this.couponTaste)) {
      code = rng.pick(EVERYDAY_CODES);
      amount = Math.round(price * 0.85);
    }
    this.push(t, 'purchase', item, amount, code);
    this.purchases++;
    if (membership) {
      this.subItem = item;
      this.subNext = t + (m.periodDays[item] as number) * DAY;
      this.subAutoRenew = true;
      return;
    }
    this.owned[item] = 1;
    const willStart = rng.chance((0.4 + 0.55 * this.diligence) * (phase === FADING ? 0.4 : 1));
    const k = this.addOwned(item, t, willStart ? t + rng.exponential(3 * DAY) : Infinity);
    if (rng.chance(0.015 + 0.04 * (1 - this.loyalty) + (willStart ? 0 : 0.06))) {
      const tr = t + rng.range(0.2, 7) * DAY;
      if (tr < this.endMs) {
        this.push(tr, 'refund', item, amount, null);
        this.oState[k] = REFUNDED;
        this.lastRefund = tr;
      }
    }
  }

  /** Starts looking at an item: views spread over the coming days, then (maybe) a purchase. */
  private consider(t: number, item: number, buy: boolean): void {
    if (item < 0 || this.cCount === this.cItem.length || t >= this.endMs) return;
    const rng = this.rng;
    const span = DAY + Math.min(40 * DAY, rng.exponential(10 * DAY));
    const views = 1 + rng.poisson(K.considerViews);
    for (let v = 0; v < views; v++) this.push(t + (v === 0 ? 0 : rng.next() * span), 'view', item, null, null);
    const k = this.cCount++;
    this.cItem[k] = item;
    this.cAt[k] = t + span + rng.next() * HOUR;
    this.cBuy[k] = buy ? 1 : 0;
  }

  /** Purchases (or drops) considered items whose time has come. */
  private settleConsidered(we: number, phase: number): void {
    for (let k = 0; k < this.cCount; ) {
      const at = this.cAt[k] as number;
      if (at >= we) {
        k++;
        continue;
      }
      if (this.cBuy[k] && (phase === ACTIVE || this.rng.chance(0.4))) this.purchase(at, null, phase, this.cItem[k] as number, false);
      const last = --this.cCount;
      this.cItem[k] = this.cItem[last] as number;
      this.cAt[k] = this.cAt[last] as number;
      this.cBuy[k] = this.cBuy[last] as number;
    }
  }

  private addOwned(item: number, bought: number, start: number, via = 0): number {
    if (this.oCount === this.cap) {
      this.cap *= 2;
      this.oItem = grow(this.oItem, new Int32Array(this.cap));
      this.oState = grow(this.oState, new Uint8Array(this.cap));
      this.oDone = grow(this.oDone, new Int32Array(this.cap));
      this.oBought = grow(this.oBought, new Float64Array(this.cap));
      this.oStart = grow(this.oStart, new Float64Array(this.cap));
      this.oVia = grow(this.oVia, new Uint8Array(this.cap));
    }
    const k = this.oCount++;
    this.oItem[k] = item;
    this.oState[k] = UNSTARTED;
    this.oDone[k] = 0;
    this.oBought[k] = bought;
    this.oStart[k] = start;
    this.oVia[k] = via;
    return k;
  }

  /** Study sessions on owned items: one `lesson_progress` per session with cumulative percent. */
  private study(w: number, we: number, e: number, phase: number): void {
    const rng = this.rng;
    const m = this.m;
    let pSession = K.study * e * (0.3 + this.diligence);
    // Study stops first: disengagement shows in learning before it shows in visits.
    if (phase === FADING) pSession *= 0.1;
    if (pSession > 0.9) pSession = 0.9;
    let considered = 0;
    // Newest first, at most three items on the go.
    for (let k = this.oCount - 1; k >= 0 && considered < 3; k--) {
      const st = this.oState[k];
      if (st !== UNSTARTED && st !== STUDYING) continue;
      const start = this.oStart[k] as number;
      if (start >= we) continue;
      considered++;
      if (rng.next() >= pSession) continue;
      const lo = Math.max(w, start);
      let t1 = this.when(lo, we);
      let t2 = rng.next() < pSession * 0.35 ? this.when(lo, we) : Infinity;
      if (t2 < t1) {
        const swap = t1;
        t1 = t2;
        t2 = swap;
      }
      const item = this.oItem[k] as number;
      const lessons = m.lessons[item] as number;
      for (let s = 0; s < 2; s++) {
        const t = s === 0 ? t1 : t2;
        if (!(t < this.endMs)) break;
        const done = Math.min(lessons, (this.oDone[k] as number) + 1 + rng.poisson(0.4 + 1.2 * e));
        this.oDone[k] = done;
        this.oState[k] = STUDYING;
        this.lastStudy = t;
        this.push(t, 'lesson_progress', item, null, null, done, Math.floor((100 * done) / lessons));
        if (done === lessons) {
          this.oState[k] = FINISHED;
          this.finished++;
          const next = m.nextPart[item] as number;
          if (next >= 0 && !this.owned[next] && rng.chance(0.4 + 0.4 * this.loyalty)) this.consider(t + rng.exponential(4 * DAY), next, rng.chance(0.8));
          break;
        }
        if (rng.chance(0.04 * (1 - this.diligence))) {
          this.oState[k] = ABANDONED;
          break;
        }
      }
    }
  }

  /** Renewals due in [w, we): renew, fail (and maybe recover), or lapse. */
  private billing(w: number, we: number, phase: number): void {
    const rng = this.rng;
    const m = this.m;
    while (this.subItem >= 0 && this.subNext < we) {
      const t = this.subNext;
      const item = this.subItem;
      if (t >= this.endMs) return;
      if (!this.subAutoRenew) {
        this.endSubscription();
        return;
      }
      const pFail = phase === ACTIVE ? 0.04 : phase === FADING ? 0.35 : 0.45;
      if (rng.chance(pFail)) {
        this.push(t, 'payment_failed', item, m.price[item] as number, null);
        this.lastFailed = t;
        const recover = phase === ACTIVE ? 0.75 : 0.1;
        if (rng.chance(recover)) {
          const tr = t + rng.range(0.5, 3) * DAY;
          if (tr < this.endMs) this.push(tr, 'renewal', item, m.price[item] as number, null);
          this.subNext = t + (m.periodDays[item] as number) * DAY;
        } else {
          this.endSubscription();
        }
        continue;
      }
      if (phase === QUIET && rng.chance(0.2)) {
        // Noticed the charge coming and switched it off.
        const tc = Math.max(w, t - rng.range(0, 3) * DAY);
        this.push(tc, 'subscription_cancel', item, null, null);
        this.endSubscription();
        return;
      }
      this.push(t, 'renewal', item, m.price[item] as number, null);
      this.subNext = t + (m.periodDays[item] as number) * DAY;
    }
  }

  /** The membership lapses, and with it access to what it unlocked. */
  private endSubscription(): void {
    this.subItem = -1;
    for (let k = 0; k < this.oCount; k++) {
      if (this.oVia[k] && (this.oState[k] === UNSTARTED || this.oState[k] === STUDYING)) this.oState[k] = ABANDONED;
    }
  }

  private cancelSubscription(t: number): void {
    if (t >= this.endMs || this.subItem < 0) return;
    this.push(t, 'subscription_cancel', this.subItem, null, null);
    this.subAutoRenew = false;
  }

  /** A quiet user returns, often through a win-back coupon. */
  private comeback(t: number, we: number): void {
    const rng = this.rng;
    if (t >= this.endMs) return;
    if (rng.chance(0.4)) {
      const item = this.chooseItem(true);
      if (item < 0) return;
      this.push(t, 'coupon_redeemed', item, null, 'COMEBACK30');
      this.purchase(Math.min(t + rng.range(0.01, 2) * DAY, we + 2 * DAY), 'COMEBACK30', ACTIVE, item);
    } else {
      const item = this.chooseItem(false);
      if (item >= 0) this.push(t, 'view', item, null, null);
    }
  }

  private inPromo(t: number): boolean {
    return this.inPromoIndex(t) >= 0;
  }

  private inPromoIndex(t: number): number {
    const p = this.promos;
    for (let i = 0; i < p.length; i += 2) if (t >= (p[i] as number) && t < (p[i + 1] as number)) return (i / 2) % 2;
    return -1;
  }

  /** A time in [lo, hi), preferring waking hours in the user's time zone. */
  private when(lo: number, hi: number): number {
    const rng = this.rng;
    if (!(hi > lo)) return Infinity;
    const t = lo + (hi - lo) * rng.next();
    const off = this.zone.offsetHours * HOUR;
    const local = t + off;
    const dayStart = local - (((local % DAY) + DAY) % DAY);
    const hour = pickCumulative(HOUR_CUM, rng.next());
    const shaped = dayStart - off + hour * HOUR + rng.next() * HOUR;
    return shaped >= lo && shaped < hi ? shaped : t;
  }

  private push(t: number, type: EventType, item: number, amount: number | null, coupon: string | null, lesson = 0, percent = 0): void {
    if (!(t < this.endMs)) return;
    const itemId = item >= 0 ? (this.m.items[item] as ItemRecord).id : null;
    const money = amount !== null;
    this.events.push({
      source: DEFAULT_SOURCE,
      eventId: '',
      type,
      userId: this.userId,
      itemId,
      occurredAt: new Date(Math.floor(t)),
      amountMinor: amount,
      currency: money ? 'CNY' : null,
      quantity: type === 'purchase' ? 1 : null,
      lessonId: type === 'lesson_progress' ? `${itemId}-L${lesson}` : null,
      percent: type === 'lesson_progress' ? percent : null,
      couponCode: coupon,
    });
  }
}

function byTime(a: EventRecord, b: EventRecord): number {
  return a.occurredAt.getTime() - b.occurredAt.getTime();
}

function grow<T extends Int32Array | Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
