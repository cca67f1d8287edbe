/**
 * Outreach policy: who gets what, when, and who is held out.
 *
 * Pure rules over values passed in (no I/O, no clock reads: `now` is a parameter). The
 * planner (`services/plan-outreach`) loads users, scores and the last outreach per user,
 * calls {@link decide} for each and writes the resulting outreach rows.
 */
import { ValidationError } from './errors.js';
import { hash32, type RiskTier } from './risk.js';

/** How a user is reached. `none` means the tier gets nothing (low risk). */
export type Channel = 'coupon' | 'email' | 'none';
/** A channel that actually produces a message. */
export type OutreachChannel = Exclude<Channel, 'none'>;

/** Quiet hours as local wall-clock times `HH:MM` (24 h). `start === end` disables them. */
export interface QuietHours {
  start: string;
  end: string;
}

/** Why {@link decide} planned nothing for a user; listed in the order the checks run. */
export const SKIP_REASONS = ['paused', 'low_tier', 'unsubscribed', 'no_email', 'frequency_cap', 'no_value', 'budget', 'email_limit'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface PolicyUser {
  userId: string;
  tier: RiskTier;
  email: string | null;
  unsubscribed: boolean;
  /** IANA zone (`Asia/Shanghai`); null or unknown → UTC. */
  timeZone: string | null;
  /**
   * Latest outreach for this user in this campaign, *including holdout rows* (their
   * would-have-been-sent time) and rows still planned for the future. See {@link decide}.
   */
  lastMessageAt: Date | null;
  /**
   * The offer when something other than the tier decided it (the value policy, exploration);
   * `none` skips the user as `low_tier` would. Unset: the tier's channel.
   */
  offer?: Channel | undefined;
}

export interface PolicyContext {
  now: Date;
  /** Stable per campaign/policy, not per cycle: see {@link isHoldout}. */
  campaignSalt: string;
  /** Share of eligible users held out, in [0, 1]. */
  holdoutFraction: number;
  /** Minimum days between two messages to one user; 0 disables the cap. */
  frequencyCapDays: number;
  quiet: QuietHours;
  /** The global pause switch (stored in the database). */
  paused: boolean;
}

export type OutreachDecision =
  | { action: 'send'; channel: OutreachChannel; scheduledAt: Date }
  | { action: 'holdout'; channel: OutreachChannel; scheduledAt: Date }
  | { action: 'skip'; reason: SkipReason };

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The channel a risk tier is reached through: high → coupon, medium → email, low → none. */
export function channelForTier(tier: RiskTier): Channel {
  switch (tier) {
    case 'high':
      return 'coupon';
    case 'medium':
      return 'email';
    case 'low':
      return 'none';
    default:
      return assertUnreachable(tier);
  }
}

function assertUnreachable(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}

/** murmur3's fmix32 finalizer: full avalanche over the 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Whether a user belongs to the campaign's holdout group: deterministic (same answer
 * on every run, process and machine), uniform over user ids, independent of anything
 * about the user except the id.
 *
 * The key is `campaignSalt + ':' + userId`, hashed with FNV-1a (`hash32`) and then
 * murmur3's fmix32 finalizer. The finalizer matters: FNV-1a alone mixes the final
 * characters poorly into the high bits, and on 100k sequential ids like `user_00000042`
 * it put 10.6% rather than 10% in a 10% holdout (6 standard errors off), and two salts'
 * holdouts overlapped far from the independent 1%. With fmix32 both are within noise.
 * (So this is deliberately not `inSample` from risk.ts.)
 *
 * The salt is the campaign's (policy's), not the cycle id: a user stays in the holdout
 * for every cycle of one campaign, so the holdout never receives anything and the
 * comparison measures the campaign's cumulative effect. A cycle-salted holdout would
 * re-draw each day, and most "holdout" users would have been treated in an earlier
 * cycle. Change the salt only to start a new experiment (it reshuffles everyone).
 *
 * @param fraction share held out, in [0, 1]; 0 → nobody, 1 → everybody.
 */
export function isHoldout(userId: string, campaignSalt: string, fraction: number): boolean {
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`the holdout fraction must be between 0 and 1 (got ${String(fraction)})`);
  }
  if (fraction === 0) return false;
  if (fraction === 1) return true;
  return fmix32(hash32(`${campaignSalt}:${userId}`)) / 0x1_0000_0000 < fraction;
}

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * Parses a 24-hour wall-clock time `HH:MM` (`'08:00'`, `'22:30'`) into minutes after
 * midnight. Strict on purpose (two-digit hours, no seconds, no `24:00`) so a typo in
 * config fails at startup instead of silently shifting quiet hours.
 *
 * @throws ValidationError naming the bad value and the expected form.
 */
export function parseClock(s: string): number {
  const m = CLOCK.exec(s);
  if (!m) {
    throw new ValidationError(
      `invalid time of day ${JSON.stringify(s)}: expected HH:MM on a 24-hour clock, 00:00 to 23:59 (e.g. "08:00", "22:30")`,
    );
  }
  return Number(m[1]) * 60 + Number(m[2]);
}

// Building an Intl.DateTimeFormat costs tens of microseconds, so keep one per zone. Bounded
// because zones come from user data: garbage strings must not grow memory forever.
const formatters = new Map<string, Intl.DateTimeFormat | null>();
const MAX_FORMATTERS = 1024;

/** The formatter for a zone, or null for UTC (also for null, empty and unknown zones). */
function formatterFor(timeZone: string | null): Intl.DateTimeFormat | null {
  if (timeZone === null || timeZone === '' || timeZone === 'UTC') return null;
  const cached = formatters.get(timeZone);
  if (cached !== undefined) return cached;
  let fmt: Intl.DateTimeFormat | null;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      // h23, not hour12: false, which some ICU versions render as "24" at midnight.
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (err) {
    // Intl rejects unknown zones with a RangeError; the documented fallback is UTC.
    if (!(err instanceof RangeError)) throw err;
    fmt = null;
  }
  if (formatters.size >= MAX_FORMATTERS) formatters.clear();
  formatters.set(timeZone, fmt);
  return fmt;
}

/** Whether `timeZone` is an IANA zone this runtime knows, so edges can warn about bad data. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Local wall time minus UTC at instant `t` (ms), read through Intl. */
function offsetMs(fmt: Intl.DateTimeFormat | null, t: number): number {
  if (fmt === null) return 0;
  // Offsets are whole seconds; formatting the whole second keeps the subtraction exact.
  const sec = Math.floor(t / 1000) * 1000;
  let y = 1970;
  let mo = 1;
  let d = 1;
  let h = 0;
  let mi = 0;
  let s = 0;
  for (const p of fmt.formatToParts(sec)) {
    switch (p.type) {
      case 'year':
        y = Number(p.value);
        break;
      case 'month':
        mo = Number(p.value);
        break;
      case 'day':
        d = Number(p.value);
        break;
      case 'hour':
        h = Number(p.value);
        break;
      case 'minute':
        mi = Number(p.value);
        break;
      case 'second':
        s = Number(p.value);
        break;
      default:
        break;
    }
  }
  const wall = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC maps years 0–99 to 1900–1999.
  if (y < 100) wall.setUTCFullYear(y);
  return wall.getTime() - sec;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/**
 * The earliest instant ≥ `now` that is outside quiet hours in the user's time zone:
 * `now` itself when it is already outside, else the end of the quiet window. Delivery is
 * delayed, never dropped.
 *
 * Quiet hours are the half-open local window `[start, end)`; `start > end` crosses
 * midnight (22:00–08:00), `start < end` does not (13:00–14:00), `start === end` means no
 * quiet hours. The zone is an IANA name read through `Intl.DateTimeFormat`; null, empty or
 * unknown zones fall back to UTC (check with {@link isValidTimeZone} at the edge to warn).
 *
 * DST is handled by walking the instants, not the wall clock: within a stretch of constant
 * UTC offset, local time advances with real time, so the window's end is `now` plus the
 * wall-clock distance to `end`. If the offset changes on the way, the answer is found
 * again from the transition instant. So:
 * - an `end` that falls in a spring-forward gap (02:30 on a New York spring-forward day)
 *   resolves to the transition instant (local 03:00), the first moment past the window;
 * - in a fall-back overlap the first occurrence of `end` wins (earliest);
 * - a transition that jumps the local clock out of the window ends it there.
 * Assumes at most one offset change per 24 h, which holds for every IANA zone in use.
 */
export function quietHoursDelay(now: Date, timeZone: string | null, quiet: QuietHours): Date {
  const t0 = now.getTime();
  if (!Number.isFinite(t0)) throw new RangeError('quietHoursDelay: now is an invalid Date');
  const startMs = parseClock(quiet.start) * MINUTE_MS;
  const endMs = parseClock(quiet.end) * MINUTE_MS;
  if (startMs === endMs) return new Date(t0);
  const inWindow = (tod: number): boolean =>
    startMs < endMs ? tod >= startMs && tod < endMs : tod >= startMs || tod < endMs;

  const fmt = formatterFor(timeZone);
  let t = t0;
  // Each pass either returns or moves t to an offset transition; real zones have at most
  // one or two transitions inside a day-long window, so a handful of passes is plenty.
  for (let pass = 0; pass < 8; pass++) {
    const off = offsetMs(fmt, t);
    const tod = mod(t + off, DAY_MS);
    if (!inWindow(tod)) return new Date(t);
    // tod is inside the window so it differs from endMs: the distance is in (0, 1 day).
    const candidate = t + mod(endMs - tod, DAY_MS);
    if (offsetMs(fmt, candidate) === off) return new Date(candidate);
    t = firstOffsetChange(fmt, t, candidate, off);
  }
  throw new Error(`quietHoursDelay: no end of quiet hours found after ${now.toISOString()} in ${String(timeZone)}`);
}

/** The first ms in (lo, hi] whose offset differs from `off`, given offset(lo) = off ≠ offset(hi). */
function firstOffsetChange(fmt: Intl.DateTimeFormat | null, lo: number, hi: number, off: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetMs(fmt, mid) === off) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Consent and the frequency cap, the checks every offer passes whoever chose it: the reason a
 * user cannot be contacted now, or null. (The value policy runs these before it spends budget.)
 */
export function eligibility(user: Pick<PolicyUser, 'unsubscribed' | 'email' | 'lastMessageAt'>, ctx: Pick<PolicyContext, 'now' | 'frequencyCapDays'>): 'unsubscribed' | 'no_email' | 'frequency_cap' | null {
  if (user.unsubscribed) return 'unsubscribed';
  if (user.email === null || user.email.trim() === '') return 'no_email';
  if (user.lastMessageAt !== null && ctx.frequencyCapDays > 0 && ctx.now.getTime() - user.lastMessageAt.getTime() < ctx.frequencyCapDays * DAY_MS) {
    return 'frequency_cap';
  }
  return null;
}

/**
 * Decides what one user gets this cycle.
 *
 * Order of checks (the first that applies wins, and names the skip reason):
 * 1. `paused` — the global switch stops everything, holdout rows included, so the two
 *    groups keep accruing attribution windows at the same pace.
 * 2. `low_tier` — the tier's channel is `none`.
 * 3. `unsubscribed`, 4. `no_email` — consent; coupons go out by email too, so both apply
 *    to every channel.
 * 5. `frequency_cap` — a message within `frequencyCapDays` before `now` (or one still
 *    scheduled in the future).
 * 6. Only then the holdout split: a deterministic hash of (campaign salt, user id).
 *
 * Why eligibility comes before the split: uplift compares the treated with the holdout,
 * so the holdout must be a random sample of the users who *would* have been treated.
 * Were the split done first, the holdout would also count unsubscribed, email-less and
 * capped users who can never be treated, and the comparison would be biased. Because the
 * hash ignores everything but the id, holdout among the eligible is a uniform sample of
 * the eligible; users who fail a filter get a `skip` whichever side of the hash they fall.
 *
 * The frequency cap must see holdout rows too (`lastMessageAt` includes the last
 * holdout `scheduledAt`), or from the second cycle on capped treated users would sit out
 * while their holdout twins stay eligible, and the groups would drift apart.
 *
 * Sends and holdouts both get `scheduledAt`: the end of quiet hours in the user's zone,
 * or `now`. For the holdout it is when the message would have been sent, the start of
 * its attribution window.
 */
export function decide(user: PolicyUser, ctx: PolicyContext): OutreachDecision {
  // Check the whole context up front so bad config fails on the first user, not only on
  // the first one who happens to reach the check.
  if (!(ctx.frequencyCapDays >= 0) || !Number.isFinite(ctx.frequencyCapDays)) {
    throw new RangeError(`the frequency cap must be a finite number of days ≥ 0 (got ${String(ctx.frequencyCapDays)})`);
  }
  if (!(ctx.holdoutFraction >= 0 && ctx.holdoutFraction <= 1)) {
    throw new RangeError(`the holdout fraction must be between 0 and 1 (got ${String(ctx.holdoutFraction)})`);
  }
  if (!Number.isFinite(ctx.now.getTime())) throw new RangeError('decide: now is an invalid Date');
  parseClock(ctx.quiet.start);
  parseClock(ctx.quiet.end);
  if (ctx.paused) return { action: 'skip', reason: 'paused' };
  const channel = user.offer ?? channelForTier(user.tier);
  if (channel === 'none') return { action: 'skip', reason: 'low_tier' };
  const ineligible = eligibility(user, ctx);
  if (ineligible) return { action: 'skip', reason: ineligible };
  const scheduledAt = quietHoursDelay(ctx.now, user.timeZone, ctx.quiet);
  const action = isHoldout(user.userId, ctx.campaignSalt, ctx.holdoutFraction) ? 'holdout' : 'send';
  return { action, channel, scheduledAt };
}
