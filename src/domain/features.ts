/**
 * The behaviour features every model reads, defined in one place. The SQL that computes them
 * as of a date is src/store/features.ts; its columns are these names, in this order.
 * "Payments" are purchases and renewals. Days are whole or fractional days before `asOf`.
 * `transform: 'log1p'` marks heavy-tailed counts and money, compressed before standardising.
 */
export interface FeatureDef {
  name: string;
  description: string;
  transform?: 'log1p';
  /** Words for a persona that is far above / below the average on this feature. */
  high: string;
  low: string;
}

export const FEATURES = [
  { name: 'recency_days', description: 'days since the last payment', high: 'long since last payment', low: 'paid recently' },
  { name: 'frequency', description: 'payments ever', transform: 'log1p', high: 'buys often', low: 'rarely buys' },
  { name: 'monetary_total', description: 'net spend (payments − refunds), major units', transform: 'log1p', high: 'spends a lot', low: 'spends little' },
  { name: 'avg_order_value', description: 'average payment, major units', transform: 'log1p', high: 'big baskets', low: 'small baskets' },
  { name: 'tenure_days', description: 'days since signup (or first event)', high: 'long-time users', low: 'newcomers' },
  { name: 'payments_30d', description: 'payments in the last 30 days', high: 'bought this month', low: 'nothing this month' },
  { name: 'payments_90d', description: 'payments in the last 90 days', high: 'active buyers this quarter', low: 'quiet this quarter' },
  { name: 'payments_180d', description: 'payments in the last 180 days', high: 'active buyers this half-year', low: 'quiet this half-year' },
  { name: 'renewals', description: 'subscription renewals ever', transform: 'log1p', high: 'loyal subscribers', low: 'few renewals' },
  { name: 'refunds', description: 'refunds ever', high: 'many refunds', low: 'few refunds' },
  { name: 'refund_rate', description: 'refunds ÷ purchases', high: 'refund often', low: 'rarely refund' },
  { name: 'cancellations', description: 'times auto-renew was switched off', high: 'cancel subscriptions', low: 'keep subscriptions' },
  { name: 'views_30d', description: 'views and lesson progress in the last 30 days', transform: 'log1p', high: 'browse a lot', low: 'hardly browse' },
  { name: 'days_since_last_view', description: 'days since the last view or lesson progress (tenure if none)', high: 'stopped browsing', low: 'browsing lately' },
  { name: 'distinct_categories', description: 'categories of the items bought', high: 'broad tastes', low: 'narrow tastes' },
  { name: 'coupon_redemptions', description: 'coupons redeemed (events and purchases with a code)', high: 'coupon lovers', low: 'pay full price' },
  { name: 'completion', description: 'mean share of owned items completed (max lesson percent ÷ 100)', high: 'finish what they buy', low: 'leave courses unfinished' },
  { name: 'never_started', description: 'owned items with no lesson progress', high: 'buy and never start', low: 'start what they buy' },
  { name: 'days_until_renewal', description: 'days until the active membership renews (0 if none)', high: 'renewal far off', low: 'renewal due soon' },
  { name: 'auto_renew_off', description: '1 when auto-renew was switched off after the last membership payment', high: 'auto-renew off', low: 'auto-renew on' },
  { name: 'failed_payments_90d', description: 'failed payments in the last 90 days', high: 'payment failures', low: 'payments go through' },
  { name: 'trend', description: '(payments last 90 d − the 90 d before) ÷ (sum + 1)', high: 'buying more lately', low: 'buying less lately' },
  { name: 'membership_active', description: '1 while a membership is paid up', high: 'members', low: 'not members' },
] as const satisfies readonly FeatureDef[];

export type FeatureName = (typeof FEATURES)[number]['name'];
export const FEATURE_NAMES: readonly FeatureName[] = FEATURES.map((f) => f.name);

/** Applies each feature's transform in place on a row in FEATURES order. */
export function transformRow(row: Float64Array): Float64Array {
  FEATURES.forEach((f, i) => {
    if ('transform' in f && f.transform === 'log1p') row[i] = Math.log1p(Math.max(0, row[i]!));
  });
  return row;
}
