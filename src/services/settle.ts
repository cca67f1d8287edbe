/**
 * Settling outreach outcomes: every outreach row whose conversion window has closed is
 * written once into `outreach_outcomes` (src/store/outcomes.ts holds the statement). Runs from
 * the hourly `outreach.settle` job and at the start of each cycle's plan step; any number of
 * runs may overlap.
 */
import type { Queryable } from '../db/client.js';
import type { Logger } from '../logger.js';
import { settleBatch } from '../store/outcomes.js';

/** Rows per statement: bounds the claim's locks and the statement's memory, not the total. */
export const SETTLE_BATCH = 5000;

export interface SettleDeps {
  db: Queryable;
  log: Logger;
  now: () => Date;
}

export interface SettleOptions {
  /** Days after outreach in which a purchase or renewal counts (CONVERSION_WINDOW_DAYS). */
  windowDays: number;
  /**
   * Percent off to assume for an imported coupon redeemed without a reported discount
   * (`outreach.discount_minor` null); unset: such a redemption costs 0. Our own coupons carry
   * their kind and value in `coupons`.
   */
  couponPercent?: number | undefined;
}

export interface SettleResult {
  /** Outcome rows written by this call. */
  settled: number;
  /** Of those, rows with a purchase or renewal in the window. */
  converted: number;
  /** Of those, rows whose coupon was redeemed. */
  redeemed: number;
  /** Statements run. */
  batches: number;
}

/**
 * Settles the outreach rows whose window `[coalesce(sent_at, scheduled_at), + windowDays)`
 * closed at or before `d.now()`, at most `limit` of them (default: all that are due), in
 * batches of {@link SETTLE_BATCH}. Idempotent: a settled row is never settled again.
 */
export async function settleOutreach(d: SettleDeps, o: SettleOptions, limit = Number.POSITIVE_INFINITY): Promise<SettleResult> {
  if (!Number.isInteger(o.windowDays) || o.windowDays < 1) throw new RangeError(`settleOutreach: windowDays must be a positive integer (got ${String(o.windowDays)})`);
  if (o.couponPercent !== undefined && !(Number.isInteger(o.couponPercent) && o.couponPercent >= 1 && o.couponPercent <= 100)) {
    throw new RangeError(`settleOutreach: couponPercent must be a whole percentage from 1 to 100 (got ${String(o.couponPercent)})`);
  }
  if (!(limit === Number.POSITIVE_INFINITY || (Number.isInteger(limit) && limit >= 1))) throw new RangeError(`settleOutreach: limit must be a positive integer (got ${String(limit)})`);
  // One clock reading for the whole call: every batch settles against the same cut-off.
  const now = d.now();
  const total: SettleResult = { settled: 0, converted: 0, redeemed: 0, batches: 0 };
  let left = limit;
  while (left > 0) {
    const size = Math.min(SETTLE_BATCH, left);
    const r = await settleBatch(d.db, { now, windowDays: o.windowDays, limit: size, couponPercent: o.couponPercent ?? null });
    total.batches += 1;
    total.settled += r.settled;
    total.converted += r.converted;
    total.redeemed += r.redeemed;
    left -= r.claimed;
    if (r.claimed < size) break;
  }
  if (total.settled > 0) d.log.info({ ...total, windowDays: o.windowDays, asOf: now.toISOString() }, 'outreach outcomes settled');
  return total;
}
