/** Outreach knobs from config, taken once by the composition root. */
import type { Config } from '../config.js';

export interface OutreachSettings {
  campaign: string;
  holdoutFraction: number;
  frequencyCapDays: number;
  quiet: { start: string; end: string } | null;
  coupon: { kind: 'percent' | 'amount'; value: number; currency: string; expiryDays: number };
  conversionWindowDays: number;
  maxAttempts: number;
  backoffMs: number;
  leaseSeconds: number;
  from: string;
  publicBaseUrl: string;
  unsubscribeSecret: string;
  /** WEBHOOK_ALLOW_PRIVATE: outbound webhooks may go to private, loopback and link-local addresses. */
  allowPrivateWebhooks?: boolean;
  /** Who decides the offer: the risk tiers, the uplift model, or the model once its gate passes. */
  policy: 'tiers' | 'uplift' | 'auto';
  couponBudgetMinor: number | undefined;
  /** 0: the coupon budget is per cycle; N: it is for any N days in a row (coupons planned in the last N days count against it). */
  couponBudgetDays: number;
  emailLimit: number | undefined;
  emailCostMinor: number;
  exploreFraction: number;
  upliftGate: { minRows: number; minConversions: number };
}

export function outreachSettings(c: Config): OutreachSettings {
  const [start, end] = c.QUIET_HOURS === 'off' ? [] : c.QUIET_HOURS.split('-');
  return {
    campaign: c.OUTREACH_CAMPAIGN,
    holdoutFraction: c.HOLDOUT_FRACTION,
    frequencyCapDays: c.FREQUENCY_CAP_DAYS,
    quiet: start && end ? { start, end } : null,
    coupon: { kind: c.COUPON_KIND, value: c.COUPON_VALUE, currency: c.COUPON_CURRENCY, expiryDays: c.COUPON_EXPIRY_DAYS },
    conversionWindowDays: c.CONVERSION_WINDOW_DAYS,
    maxAttempts: c.DELIVERY_MAX_ATTEMPTS,
    backoffMs: c.DELIVERY_BACKOFF_MS,
    leaseSeconds: c.DELIVERY_LEASE_SECONDS,
    from: c.SMTP_FROM,
    publicBaseUrl: (c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT}`).replace(/\/$/, ''),
    // Without a configured secret, links are signed with a per-database secret (see unsubscribeSecret()).
    unsubscribeSecret: c.UNSUBSCRIBE_SECRET ?? '',
    allowPrivateWebhooks: c.WEBHOOK_ALLOW_PRIVATE,
    policy: c.OUTREACH_POLICY,
    couponBudgetMinor: c.COUPON_BUDGET,
    couponBudgetDays: c.COUPON_BUDGET_DAYS,
    emailLimit: c.EMAIL_LIMIT,
    emailCostMinor: c.EMAIL_COST_MINOR,
    exploreFraction: c.EXPLORE_FRACTION,
    upliftGate: { minRows: c.UPLIFT_MIN_ROWS, minConversions: c.UPLIFT_MIN_CONVERSIONS },
  };
}
