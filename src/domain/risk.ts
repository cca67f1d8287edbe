/** Risk tiers on churn probability: high → coupon, medium → email, low → nothing. */
export const RISK_TIERS = ['high', 'medium', 'low'] as const;
export type RiskTier = (typeof RISK_TIERS)[number];

export interface TierThresholds {
  high: number;
  medium: number;
}

export function riskTier(p: number, t: TierThresholds): RiskTier {
  if (!(t.medium < t.high)) throw new RangeError(`the medium threshold (${t.medium}) must be below the high one (${t.high})`);
  return p >= t.high ? 'high' : p >= t.medium ? 'medium' : 'low';
}

/** FNV-1a 32-bit: a stable, fast hash of an id for deterministic sampling and holdouts. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Whether `id` falls in a deterministic sample of the given fraction (0–1). */
export function inSample(id: string, fraction: number, salt = ''): boolean {
  return fraction >= 1 || hash32(salt + id) / 0x1_0000_0000 < fraction;
}
