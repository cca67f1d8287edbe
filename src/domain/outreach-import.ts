/**
 * Past campaigns imported from another tool (`rekindle import --outreach`): one row per user
 * contacted (or held out) by a campaign. Imported rows sit in the outreach table beside ours
 * and settle into outcomes the same way, so the uplift model learns from history we did not send.
 */
import { z } from 'zod';
import { AmountMinor, Currency, describeIssues, Id, Timestamp, type FieldIssue } from './events.js';

export const OUTREACH_IMPORT_COLUMNS = ['user_id', 'campaign', 'sent_at', 'offer', 'group', 'coupon_code', 'discount_minor', 'currency'] as const;
export const OUTREACH_IMPORT_REQUIRED = ['user_id', 'campaign', 'sent_at', 'offer', 'group'] as const;

export const CampaignName = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters (A-Z, a-z), digits, _ . - only');

export const OutreachImportRow = z
  .strictObject({
    user_id: Id,
    campaign: CampaignName,
    sent_at: Timestamp,
    offer: z.enum(['coupon', 'email'], { message: 'must be coupon or email' }),
    group: z.enum(['treated', 'holdout'], { message: 'must be treated or holdout' }),
    coupon_code: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional(),
    discount_minor: AmountMinor.optional(),
    currency: Currency.optional(),
  })
  .superRefine((r, ctx) => {
    // The coupon fields describe what the user was given: the holdout got nothing, and an
    // email carries no coupon. Settling reads them, so a stray code would count a redemption
    // against the wrong offer.
    const couponless = r.group === 'holdout' ? 'a holdout row got nothing, so it has no coupon' : r.offer !== 'coupon' ? 'only a coupon offer has a coupon' : null;
    if (couponless && r.coupon_code !== undefined) ctx.addIssue({ code: 'custom', path: ['coupon_code'], message: `must be empty: ${couponless}` });
    if (couponless && r.discount_minor !== undefined) ctx.addIssue({ code: 'custom', path: ['discount_minor'], message: `must be empty: ${couponless}` });
    if (r.discount_minor !== undefined && r.currency === undefined) ctx.addIssue({ code: 'custom', path: ['currency'], message: 'is required when discount_minor is given' });
  });
export type OutreachImportRow = z.infer<typeof OutreachImportRow>;

/** What an imported row becomes in the outreach table (origin `import`, tier `imported`, no policy). */
export interface ImportedOutreach {
  /** `import:<campaign>:<sent_at as UTC ISO>`: with the user id, the idempotence key. */
  cycleId: string;
  campaign: string;
  userId: string;
  channel: 'coupon' | 'email';
  holdout: boolean;
  /** `sent` for treated rows, `skipped` for the holdout (as our own holdout rows are). */
  state: 'sent' | 'skipped';
  scheduledAt: Date;
  /** Null for the holdout: nothing was sent. */
  sentAt: Date | null;
  couponCode: string | null;
  discountMinor: number | null;
  currency: string | null;
}

/** The cycle an imported row belongs to: one per campaign and send time, so a re-import matches it. */
export function importedCycleId(campaign: string, sentAt: Date): string {
  return `import:${campaign}:${sentAt.toISOString()}`;
}

export function toImportedOutreach(r: OutreachImportRow): ImportedOutreach {
  const at = new Date(r.sent_at);
  const holdout = r.group === 'holdout';
  return {
    cycleId: importedCycleId(r.campaign, at),
    campaign: r.campaign,
    userId: r.user_id,
    channel: r.offer,
    holdout,
    state: holdout ? 'skipped' : 'sent',
    scheduledAt: at,
    sentAt: holdout ? null : at,
    couponCode: r.coupon_code ?? null,
    discountMinor: r.discount_minor ?? null,
    currency: r.currency ?? null,
  };
}

/**
 * Parses one imported row (a CSV row as an object, or an NDJSON line), naming the offending
 * field: an unknown field is reported under its own name.
 */
export function parseOutreachImportRow(raw: unknown): { ok: true; row: ImportedOutreach } | { ok: false; issues: FieldIssue[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, issues: [{ field: '(row)', message: 'must be an object' }] };
  const p = OutreachImportRow.safeParse(raw);
  if (p.success) return { ok: true, row: toImportedOutreach(p.data) };
  const described = describeIssues(p.error, '', raw);
  const issues = p.error.issues.map((i, n) =>
    i.code === 'unrecognized_keys'
      ? { field: i.keys.join(', '), message: `unknown field; expected ${OUTREACH_IMPORT_COLUMNS.join(', ')}` }
      : i.code === 'custom'
        ? { field: described[n]!.field, message: i.message } // a rule across fields: its own words, even where the field is empty
        : described[n]!,
  );
  return { ok: false, issues };
}
