/**
 * How the synthetic platform's users respond to outreach: the simulator's hidden ground truth.
 *
 * Each user has a response profile drawn from their latent traits (never from their events):
 * - **sure things** buy in the window anyway (their natural future says so); a coupon only
 *   costs margin, because they redeem it on what they were going to buy;
 * - **coupon persuadables** (coupon lovers, the more the more loyal) buy only when given one;
 * - **reminder persuadables** (diligent, loyal learners who drifted off) buy after an email;
 * - **lost causes** have gone quiet long ago: reach fades with the time since their last
 *   event, and with it every effect;
 * - **sleeping dogs** (mostly users who never take coupons) are put off by contact: some
 *   unsubscribe, and half of the purchases they would have made in the window do not happen.
 *
 * Everything here is pure and seeded: a profile is a function of (traits, seed, user), a
 * response a function of (profile, what was received, a per-contact seed).
 */
import type { UserTraits } from './platform.js';
import { hashInts, Rng } from './prng.js';

export interface ResponseProfile {
  /** Put off by contact (a sleeping dog). */
  averse: boolean;
  /** P(buy in the window | coupon, would not have bought, fully reachable). */
  couponLift: number;
  /** P(buy in the window | email, would not have bought, fully reachable). */
  emailLift: number;
  /** P(redeem the coupon | buying in the window anyway). */
  redeemIfBuying: number;
  /** P(click a link) for an email that does not make them buy. */
  clickRate: number;
}

/** Response knobs; see the module comment. */
export const R = {
  averseScale: 0.35,
  couponScale: 0.6,
  emailScale: 0.32,
  /** Share of a sleeping dog's natural conversions in the window lost to the contact. */
  putOffLoss: 0.5,
  /** P(unsubscribe | contacted) for a sleeping dog, and for everybody else. */
  averseUnsubscribe: 0.35,
  baseUnsubscribe: 0.01,
  /** Reach halves every ~60 days without any event: exp(−days / reachDays). */
  reachDays: 90,
} as const;

const DAY = 86_400_000;

/** The user's response profile: deterministic for (traits, seed, user index). */
export function responseProfile(t: UserTraits, seed: number, index: number): ResponseProfile {
  const rng = new Rng(hashInts(hashInts(seed, index), 0x5e5b0));
  const averse = rng.chance(R.averseScale * (1 - t.couponTaste) ** 2);
  return {
    averse,
    couponLift: averse ? 0 : R.couponScale * t.couponTaste ** 2 * (0.35 + 0.65 * t.loyalty),
    emailLift: averse ? 0 : R.emailScale * t.diligence * t.loyalty,
    redeemIfBuying: 0.5 + 0.5 * t.couponTaste,
    clickRate: 0.08 + 0.2 * t.diligence,
  };
}

/** How reachable a user is, from the days since their last event (lost causes → 0). */
export function reach(daysSinceLastEvent: number): number {
  return Math.exp(-Math.max(0, daysSinceLastEvent) / R.reachDays);
}

/** What the user would do in the window with nothing: from their (realized) natural future. */
export interface Baseline {
  /** Converts in the window anyway (a purchase or renewal in it). */
  converts: boolean;
  /** Σ amounts of purchases and renewals in the window, minor units. */
  revenueMinor: number;
  /** The first purchase in the window (coupons apply to purchases, not renewals), its amount. */
  firstPurchaseMinor: number | null;
}

export interface OfferTerms {
  kind: 'percent' | 'amount';
  value: number;
}

/** The true expected outcome of one contact in its window, per offer (what sim_truth stores). */
export interface TrueEffects {
  pNone: number;
  pCoupon: number;
  pEmail: number;
  revenueNone: number;
  revenueCoupon: number;
  revenueEmail: number;
  discountCoupon: number;
}

export function discountOn(terms: OfferTerms, amountMinor: number): number {
  return terms.kind === 'percent' ? Math.round((amountMinor * terms.value) / 100) : Math.min(terms.value, amountMinor);
}

/**
 * Expected conversion, revenue (paid, net of the discount) and discount in the window for
 * each offer. `itemPriceMinor` is what a persuaded user buys (the item the email links to).
 */
export function trueEffects(p: ResponseProfile, b: Baseline, r: number, itemPriceMinor: number, terms: OfferTerms): TrueEffects {
  const n = b.converts ? 1 : 0;
  const firstDiscount = b.firstPurchaseMinor === null ? 0 : discountOn(terms, b.firstPurchaseMinor);
  if (p.averse) {
    const keep = 1 - R.putOffLoss;
    return {
      pNone: n,
      pCoupon: n * keep,
      pEmail: n * keep,
      revenueNone: b.revenueMinor,
      revenueCoupon: keep * (b.revenueMinor - p.redeemIfBuying * firstDiscount),
      revenueEmail: keep * b.revenueMinor,
      discountCoupon: keep * p.redeemIfBuying * firstDiscount,
    };
  }
  if (n === 1) {
    return {
      pNone: 1,
      pCoupon: 1,
      pEmail: 1,
      revenueNone: b.revenueMinor,
      revenueCoupon: b.revenueMinor - p.redeemIfBuying * firstDiscount,
      revenueEmail: b.revenueMinor,
      discountCoupon: p.redeemIfBuying * firstDiscount,
    };
  }
  const pc = p.couponLift * r;
  const pe = p.emailLift * r;
  const couponDiscount = discountOn(terms, itemPriceMinor);
  return {
    pNone: 0,
    pCoupon: pc,
    pEmail: pe,
    revenueNone: 0,
    revenueCoupon: pc * (itemPriceMinor - couponDiscount),
    revenueEmail: pe * itemPriceMinor,
    discountCoupon: pc * couponDiscount,
  };
}

/** What one contact makes the user do, drawn once. Times are offsets from the send time, ms. */
export interface Response {
  /** Buy the linked item (with the coupon's code for a coupon) at this offset. */
  buyAt: number | null;
  /** Redeem the coupon on the first natural purchase in the window. */
  redeemNatural: boolean;
  /** Drop the natural purchases and renewals in the window (put off). */
  dropNatural: boolean;
  /** Click the email's link at this offset. */
  clickAt: number | null;
  /** Unsubscribe through the email's one-click link at this offset. */
  unsubscribeAt: number | null;
}

/**
 * Draws the response to one contact. `contactSeed` must be the same for the same user and
 * contact on every run (e.g. the user index and the cycle's day), so a simulation repeats.
 */
export function drawResponse(p: ResponseProfile, offer: 'coupon' | 'email', b: Baseline, r: number, windowDays: number, contactSeed: number): Response {
  const rng = new Rng(contactSeed);
  const windowMs = windowDays * DAY;
  // Everything happens inside the window, so the truth above is exactly the expectation.
  const within = () => windowMs * (0.02 + 0.9 * rng.next());
  const out: Response = { buyAt: null, redeemNatural: false, dropNatural: false, clickAt: null, unsubscribeAt: null };
  // Four draws whatever the branch, so one contact's randomness never shifts another's.
  const u1 = rng.next();
  const u2 = rng.next();
  const u3 = rng.next();
  const u4 = rng.next();
  if (p.averse) {
    out.dropNatural = b.converts && u1 < R.putOffLoss;
    if (u2 < R.averseUnsubscribe) out.unsubscribeAt = within();
    if (offer === 'coupon' && b.firstPurchaseMinor !== null && !out.dropNatural && u3 < p.redeemIfBuying) out.redeemNatural = true;
    return out;
  }
  if (b.converts) {
    if (offer === 'coupon' && b.firstPurchaseMinor !== null && u1 < p.redeemIfBuying) out.redeemNatural = true;
  } else {
    const lift = (offer === 'coupon' ? p.couponLift : p.emailLift) * r;
    if (u1 < lift) {
      out.buyAt = within();
      out.clickAt = Math.max(0, out.buyAt - rng.next() * Math.min(out.buyAt, 2 * 3_600_000));
    }
  }
  if (out.clickAt === null && u3 < p.clickRate * r) out.clickAt = within();
  if (u4 < R.baseUnsubscribe) out.unsubscribeAt = within();
  return out;
}
