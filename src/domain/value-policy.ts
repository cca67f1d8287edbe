/**
 * The value policy: which offer (coupon, email or nothing) each eligible user gets when the
 * uplift model decides, and how a cycle's coupon budget and email limit are spent.
 *
 * Pure rules over values passed in. Eligibility (consent, frequency cap, quiet hours, pause)
 * and the random holdout stay in outreach-policy.ts; this only chooses the offer.
 *
 * Expected net value of an offer for one user (minor units):
 * - coupon: uplift_c × order value − P(convert | coupon) × discount. The discount is paid on
 *   every redemption, including by users who would have bought anyway: that is what makes
 *   a coupon to a "sure thing" a loss.
 * - email:  uplift_e × order value − cost per email.
 * The best positive one wins; when neither is positive the user gets nothing.
 */
import { fmix32 } from './outreach-policy.js';
import { hash32 } from './risk.js';

export type Offer = 'coupon' | 'email';

/** The uplift model's view of one user and one offer. */
export interface OfferEstimate {
  /** Incremental probability of converting in the window if given the offer (may be negative). */
  uplift: number;
  /** Probability of converting in the window if given the offer (for the coupon: of redeeming it). */
  pConvert: number;
  /**
   * False when the model has seen too few users like this one given the offer (its estimate
   * would be an extrapolation): the offer is then not chosen. Default true.
   */
  supported?: boolean;
}

export interface CouponTerms {
  kind: 'percent' | 'amount';
  /** Percent off (1–100) or an amount in minor units. */
  value: number;
}

export interface ValueSettings {
  coupon: CouponTerms;
  /** What one email costs, minor units (≥ 0). */
  emailCostMinor: number;
  /**
   * Settled coupons' discounts given ÷ the expected discounts planned for them (default 1):
   * P(convert | coupon) × the discount on the average order overstates what is given (not every
   * converter redeems; orders run below the average), and the budget and the value should
   * count what coupons really cost.
   */
  discountFactor?: number;
}

/** What {@link chooseOffer} decided for one user, and why. */
export interface OfferChoice {
  offer: Offer | 'none';
  /** Expected net value of the chosen offer (0 for none), minor units. */
  value: number;
  /** Expected cost of the chosen offer (the expected discount, or the email cost), minor units. */
  cost: number;
  coupon: { uplift: number; value: number; expectedDiscount: number; supported?: boolean };
  email: { uplift: number; value: number; supported?: boolean };
}

/** The discount a coupon gives on an order of this value, minor units. */
export function couponDiscount(terms: CouponTerms, orderValueMinor: number): number {
  if (!(orderValueMinor >= 0)) throw new RangeError(`order value must be a non-negative number of minor units (got ${String(orderValueMinor)})`);
  return terms.kind === 'percent' ? (orderValueMinor * terms.value) / 100 : Math.min(terms.value, orderValueMinor);
}

/** Picks the supported offer with the highest positive expected net value, or none. */
export function chooseOffer(est: { coupon: OfferEstimate; email: OfferEstimate; orderValueMinor: number }, s: ValueSettings): OfferChoice {
  const aov = est.orderValueMinor;
  const discount = couponDiscount(s.coupon, aov);
  const expectedDiscount = clamp01(est.coupon.pConvert) * discount * (s.discountFactor ?? 1);
  const couponValue = est.coupon.uplift * aov - expectedDiscount;
  const emailValue = est.email.uplift * aov - s.emailCostMinor;
  const couponOk = est.coupon.supported !== false;
  const emailOk = est.email.supported !== false;
  const base = {
    coupon: { uplift: est.coupon.uplift, value: couponValue, expectedDiscount, ...(couponOk ? {} : { supported: false }) },
    email: { uplift: est.email.uplift, value: emailValue, ...(emailOk ? {} : { supported: false }) },
  };
  if (couponOk && couponValue > 0 && (!emailOk || couponValue >= emailValue)) return { offer: 'coupon', value: couponValue, cost: expectedDiscount, ...base };
  if (emailOk && emailValue > 0) return { offer: 'email', value: emailValue, cost: s.emailCostMinor, ...base };
  return { offer: 'none', value: 0, cost: 0, ...base };
}

export interface BudgetLimits {
  /** Coupon money per cycle, counted at each coupon's expected discount; undefined: no limit. */
  couponBudgetMinor?: number | undefined;
  /** Email offers per cycle; undefined: no limit. */
  emailLimit?: number | undefined;
}

export interface Candidate {
  userId: string;
  choice: OfferChoice;
  /** Explorers get this offer whatever the values say (still within the budget). */
  explore?: Offer | undefined;
}

export interface Allocation {
  userId: string;
  offer: Offer | 'none';
  /** 1-based rank by expected value among the users considered (explorers first, then by value). */
  rank: number;
  /** Why a user who wanted an offer got less: `budget` (no coupon money left), `email_limit`. */
  limitedBy: 'budget' | 'email_limit' | null;
  explore: boolean;
  /** Expected cost charged to the budget (coupons) or the email limit (1 per email). */
  cost: number;
}

/**
 * Spends the cycle's coupon budget and email limit on the best users first: explorers, then
 * everyone else by expected net value, highest first. A user whose coupon no longer fits the
 * budget falls back to the email if that is worth sending and the limit allows, else nothing.
 * Never exceeds either limit. Ties break by user id, so the result does not depend on the
 * order the candidates came in.
 */
export function allocate(candidates: readonly Candidate[], limits: BudgetLimits): Allocation[] {
  const budget = limits.couponBudgetMinor;
  const emailLimit = limits.emailLimit;
  if (budget !== undefined && !(budget >= 0)) throw new RangeError(`the coupon budget must be ≥ 0 (got ${String(budget)})`);
  if (emailLimit !== undefined && !(Number.isInteger(emailLimit) && emailLimit >= 0)) throw new RangeError(`the email limit must be a whole number ≥ 0 (got ${String(emailLimit)})`);
  const order = [...candidates].sort((a, b) => {
    const ea = a.explore ? 1 : 0;
    const eb = b.explore ? 1 : 0;
    if (ea !== eb) return eb - ea;
    if (b.choice.value !== a.choice.value) return b.choice.value - a.choice.value;
    return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
  });
  let spent = 0;
  let emails = 0;
  const out: Allocation[] = [];
  order.forEach((c, i) => {
    const want = c.explore ?? c.choice.offer;
    const couponCost = c.choice.coupon.expectedDiscount;
    const emailFallback = c.explore !== undefined || (c.choice.email.value > 0 && c.choice.email.supported !== false);
    let offer: Offer | 'none' = 'none';
    let limitedBy: Allocation['limitedBy'] = null;
    let cost = 0;
    if (want === 'coupon') {
      if (budget === undefined || spent + couponCost <= budget) {
        offer = 'coupon';
        cost = couponCost;
        spent += couponCost;
      } else {
        limitedBy = 'budget';
      }
    }
    if (offer === 'none' && (want === 'email' || (limitedBy === 'budget' && emailFallback))) {
      if (emailLimit === undefined || emails < emailLimit) {
        offer = 'email';
        cost = 1;
        emails++;
      } else {
        limitedBy = limitedBy ?? 'email_limit';
      }
    }
    out.push({ userId: c.userId, offer, rank: i + 1, limitedBy, explore: c.explore !== undefined, cost });
  });
  return out;
}

const DAY_MS = 86_400_000;

/**
 * The period a user's exploration draw holds for: one frequency-cap period (days since the
 * epoch ÷ the cap), so each user is drawn once per period whatever the cycle cadence. Drawn
 * per cycle instead, the users the policy leaves alone are drawn again every day with daily
 * cycles and most of them explore within a cap period (with a 14-day cap and 5%, half of
 * them). Without a cap: the cycle.
 */
export function explorationPeriod(now: Date, frequencyCapDays: number, cycleId: string): string {
  return frequencyCapDays > 0 ? `p${frequencyCapDays}-${Math.floor(now.getTime() / (frequencyCapDays * DAY_MS))}` : cycleId;
}

/**
 * Whether a user explores in this period (see {@link explorationPeriod}), and with which
 * offer: a deterministic hash of (campaign, period, user), independent of the holdout hash
 * (different key), so about `fraction` of the eligible users get a random offer per period.
 */
export function explorationOffer(userId: string, campaignSalt: string, period: string, fraction: number): Offer | undefined {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`the exploration fraction must be between 0 and 1 (got ${String(fraction)})`);
  if (fraction === 0) return undefined;
  const h = fmix32(hash32(`explore:${campaignSalt}:${period}:${userId}`));
  if (h / 0x1_0000_0000 >= fraction) return undefined;
  // The lowest bit is independent of the comparison above, which reads the high bits.
  return (h & 1) === 0 ? 'coupon' : 'email';
}

function clamp01(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p;
}
