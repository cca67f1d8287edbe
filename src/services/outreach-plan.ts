/**
 * Plans a cycle's outreach: every scored user goes through the policy (consent, frequency cap,
 * the offer — risk tier or value policy —, budget, holdout, quiet hours) and the outcome is
 * written — outreach rows with their reasons and features, coupons, and outbound webhook rows —
 * in ONE transaction, unique per (user, cycle). Delivery jobs are enqueued by the caller after
 * the commit; whatever they miss, the sweep finds.
 */
import { randomBytes } from 'node:crypto';
import { FEATURE_NAMES } from '../domain/features.js';
import { channelForTier, decide, eligibility } from '../domain/outreach-policy.js';
import type { RiskTier } from '../domain/risk.js';
import { UPLIFT_FEATURE_NAMES, upliftRow, type OutreachFeatures } from '../domain/uplift-features.js';
import { allocate, chooseOffer, couponDiscount, explorationOffer, explorationPeriod, type Offer, type OfferChoice, type OfferEstimate } from '../domain/value-policy.js';
import type { Database, Queryable } from '../db/client.js';
import type { Logger } from '../logger.js';
import { couponSpendSince, enqueueWebhookEvents, insertPlanned, isOutreachPaused, type PlannedRow, type WebhookEvent } from '../store/outreach.js';
import { userSeqRange } from '../store/features.js';
import type { OutreachSettings } from './outreach-settings.js';
import { loadUpliftModels, upliftSupported, type UpliftPolicyModels } from './uplift.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 60 random bits in Crockford base32: unguessable, unambiguous to read out loud. */
export function couponCode(): string {
  const b = randomBytes(8);
  let n = b.readBigUInt64BE() >> 4n;
  let s = '';
  for (let i = 0; i < 12; i++) {
    s = CROCKFORD[Number(n & 31n)]! + s;
    n >>= 5n;
  }
  return `RK-${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

export interface PlanResult {
  cycleId: string;
  paused: boolean;
  /** Who decided the offers this cycle, and why the tiers did when the uplift model could not. */
  policy: 'tiers' | 'uplift';
  fallback: string | null;
  upliftRunId: number | null;
  planned: number;
  holdout: number;
  skipped: Record<string, number>;
  /** Expected coupon money committed to the treated this cycle (minor units). */
  couponSpendMinor: number;
  /** The coupon money this cycle could spend (COUPON_BUDGET less what the window already spent); null: no limit. */
  couponBudgetMinor: number | null;
  /** With COUPON_BUDGET_DAYS: expected coupon money planned in the window before this cycle. */
  couponBudgetSpentMinor: number;
  /** New rows to deliver now or later (not holdout). */
  toDeliver: { id: number; scheduledAt: Date }[];
  webhookDeliveries: number[];
}

interface CandidateRow {
  user_id: string;
  risk_tier: string;
  churn_probability: number;
  model_run_id: number;
  expected_value_minor: number | null;
  email: string | null;
  unsubscribed: boolean;
  timezone: string | null;
  last_sent: string | null;
  last_any: string | null;
  contacts: number;
  features: number[] | string | null;
  rfm_r: number | null;
  rfm_f: number | null;
  rfm_m: number | null;
}

/** One eligible user on the way through the policy. */
interface Eligible {
  userId: string;
  tier: RiskTier;
  churn: number;
  modelRunId: number;
  timeZone: string | null;
  lastMessageAt: Date | null;
  snapshot: OutreachFeatures;
  orderValueMinor: number;
  /** The uplift model's predictions, when it decides. */
  predicted: { coupon: OfferEstimate; email: OfferEstimate } | null;
  choice: OfferChoice;
  explore: Offer | undefined;
}

const CHUNK = 50_000;
const DAY_MS = 86_400_000;
/** start === end disables quiet hours in the policy. */
const NO_QUIET_HOURS = { start: '00:00', end: '00:00' };
const AOV = FEATURE_NAMES.indexOf('avg_order_value');
const NOTHING: OfferChoice = { offer: 'none', value: 0, cost: 0, coupon: { uplift: 0, value: 0, expectedDiscount: 0 }, email: { uplift: 0, value: 0 } };

/**
 * The uplift path's coupon cost calibration: the discounts settled coupons gave ÷ the expected
 * discounts planned for them (before calibration), shrunk towards 1 as if 100 more rows had
 * cost exactly what was expected. 1 until coupons planned by the model have settled.
 */
async function discountCalibration(q: Queryable, campaign: string): Promise<number> {
  const [r] = await q.query<{ n: number; realized: number | null; planned: number | null }>(
    `select count(*)::int as n, sum(oc.discount_minor)::float8 as realized,
            sum((o.reason->'coupon'->>'expectedDiscount')::float8 / coalesce(nullif((o.reason->>'discountFactor')::float8, 0), 1))::float8 as planned
     from outreach_outcomes oc join outreach o on o.id = oc.outreach_id
     where oc.campaign = $1 and oc.channel = 'coupon' and not oc.holdout and o.reason->'coupon'->>'expectedDiscount' is not null`,
    [campaign],
  );
  const n = Number(r?.n ?? 0);
  const planned = Number(r?.planned ?? 0);
  if (n === 0 || !(planned > 0)) return 1;
  const prior = (DISCOUNT_PRIOR_ROWS * planned) / n;
  return Math.min(5, Math.max(0.05, (Number(r?.realized ?? 0) + prior) / (planned + prior)));
}

const DISCOUNT_PRIOR_ROWS = 100;

/** How many settled coupons the prior redemption rate (1 − churn) counts as, for the tiers' budget. */
const REDEEM_PRIOR_ROWS = 100;

/** Treated coupon rows of a campaign that have settled, and how many of them were redeemed. */
async function couponRedemption(q: Queryable, campaign: string): Promise<{ issued: number; redeemed: number }> {
  const [r] = await q.query<{ issued: number; redeemed: number }>(
    `select count(*)::int as issued, count(*) filter (where coupon_redeemed)::int as redeemed from outreach_outcomes where campaign = $1 and channel = 'coupon' and not holdout`,
    [campaign],
  );
  return { issued: Number(r?.issued ?? 0), redeemed: Number(r?.redeemed ?? 0) };
}

/**
 * Plans one cycle. Two passes: every user with a score goes through consent and the frequency
 * cap, and the eligible get an offer (the risk tier's, or the value policy's from the uplift
 * model, or a random one for the exploration share); then the coupon budget and the email
 * limit are spent on the best of them, the holdout split (a hash of campaign and user) turns a
 * share of the offers into holdout rows, and everything is written in one transaction.
 */
export async function planOutreach(d: { db: Database; log: Logger; now: () => Date }, s: OutreachSettings, cycleId: string): Promise<PlanResult> {
  const now = d.now();
  const result: PlanResult = { cycleId, paused: false, policy: 'tiers', fallback: null, upliftRunId: null, planned: 0, holdout: 0, skipped: {}, couponSpendMinor: 0, couponBudgetMinor: null, couponBudgetSpentMinor: 0, toDeliver: [], webhookDeliveries: [] };
  if (await isOutreachPaused(d.db)) {
    d.log.warn({ cycleId }, 'outreach is paused: nothing planned');
    return { ...result, paused: true };
  }
  let models: UpliftPolicyModels | null = null;
  if (s.policy !== 'tiers') {
    const loaded = await loadUpliftModels(d.db);
    if ('ok' in loaded) models = loaded.ok;
    else result.fallback = `${s.policy === 'uplift' ? 'OUTREACH_POLICY is uplift, but ' : ''}${loaded.fallback}: the risk tiers decide`;
  }
  result.policy = models ? 'uplift' : 'tiers';
  result.upliftRunId = models?.runId ?? null;
  // Exploration keeps every offer in front of every kind of user for the model to learn from;
  // an explicit `tiers` policy is the plain rule, without it.
  const exploreFraction = s.policy === 'tiers' ? 0 : s.exploreFraction;
  const period = explorationPeriod(now, s.frequencyCapDays, cycleId);
  const skip = (reason: string) => (result.skipped[reason] = (result.skipped[reason] ?? 0) + 1);
  const policyCtx = { now, campaignSalt: s.campaign, holdoutFraction: s.holdoutFraction, frequencyCapDays: s.frequencyCapDays, quiet: s.quiet ?? NO_QUIET_HOURS, paused: false };
  const terms = { kind: s.coupon.kind, value: s.coupon.value };

  await d.db.transaction(async (tx: Queryable) => {
    // Pass 1: who can be contacted, and what each would get.
    const eligible: Eligible[] = [];
    const { min, max } = await userSeqRange(tx);
    const row = new Float64Array(UPLIFT_FEATURE_NAMES.length);
    for (let from = min; from <= max; from += CHUNK) {
      const candidates = await tx.query<CandidateRow>(
        `select s.user_id, s.risk_tier, s.churn_probability, s.model_run_id, s.expected_value_minor, u.email, u.unsubscribed_at is not null as unsubscribed, u.timezone,
                h.last_sent, h.last_any, coalesce(h.contacts, 0)::int as contacts, s.features, s.rfm_r, s.rfm_f, s.rfm_m
         from user_scores s join users u on u.id = s.user_id
         -- The cap counts holdout rows at their would-be time too, so both groups are capped alike.
         left join lateral (
           select max(coalesce(o.sent_at, o.scheduled_at)) filter (where o.holdout or o.state in ('planned','sending','sent')) as last_sent,
                  max(coalesce(o.sent_at, o.scheduled_at)) as last_any, count(*) as contacts
           from outreach o where o.user_id = s.user_id and o.campaign = $3) h on true
         where u.seq >= $1 and u.seq < $2`,
        [from, from + CHUNK, s.campaign],
      );
      for (const c of candidates) {
        const lastMessageAt = c.last_sent ? new Date(c.last_sent) : null;
        const ineligible = eligibility({ unsubscribed: c.unsubscribed, email: c.email, lastMessageAt }, policyCtx);
        if (ineligible) {
          skip(ineligible);
          continue;
        }
        const v = (typeof c.features === 'string' ? JSON.parse(c.features) : (c.features ?? [])) as number[];
        const snapshot: OutreachFeatures = {
          v,
          churn: Number(c.churn_probability),
          rfm: c.rfm_r === null || c.rfm_f === null || c.rfm_m === null ? null : [Number(c.rfm_r), Number(c.rfm_f), Number(c.rfm_m)],
          contacts: Number(c.contacts),
          daysSinceContact: c.last_any ? Math.max(0, (now.getTime() - new Date(c.last_any).getTime()) / DAY_MS) : null,
        };
        const tier = c.risk_tier as RiskTier;
        const aov = (v[AOV] ?? 0) * 100;
        let choice: OfferChoice;
        let predicted: Eligible['predicted'] = null;
        if (models) {
          upliftRow(snapshot, row);
          for (let j = 0; j < row.length; j++) if (Number.isNaN(row[j]!)) row[j] = models.impute[j] ?? 0;
          const pc = models.models.coupon.predict(row);
          const pe = models.models.email.predict(row);
          // An offer the model has seen too few users of this tier given is not chosen for them.
          const supported = (offer: Offer) => upliftSupported(models!, offer, c.risk_tier, s.upliftGate.minRows);
          predicted = { coupon: { uplift: pc.uplift, pConvert: pc.pTreated, supported: supported('coupon') }, email: { uplift: pe.uplift, pConvert: pe.pTreated, supported: supported('email') } };
          // Valued below, once every user has an order value.
          choice = NOTHING;
        } else {
          const channel = channelForTier(tier);
          const valueAtRisk = Number(c.churn_probability) * Number(c.expected_value_minor ?? 0);
          choice = { offer: channel === 'none' ? 'none' : channel, value: valueAtRisk, cost: 0, coupon: { uplift: 0, value: 0, expectedDiscount: 0 }, email: { uplift: 0, value: 0 } };
        }
        eligible.push({
          userId: c.user_id,
          tier,
          churn: Number(c.churn_probability),
          modelRunId: Number(c.model_run_id),
          timeZone: c.timezone,
          lastMessageAt,
          snapshot,
          orderValueMinor: aov,
          predicted,
          choice,
          explore: explorationOffer(c.user_id, s.campaign, period, exploreFraction),
        });
      }
    }
    const redemption = models ? { issued: 0, redeemed: 0 } : await couponRedemption(tx, s.campaign);
    const discountFactor = models ? await discountCalibration(tx, s.campaign) : 1;
    // Users with no purchases yet are valued at the average order of those with one.
    const withAov = eligible.filter((e) => e.orderValueMinor > 0);
    const meanAov = withAov.length ? withAov.reduce((a, e) => a + e.orderValueMinor, 0) / withAov.length : 0;
    for (const e of eligible) {
      if (!(e.orderValueMinor > 0)) e.orderValueMinor = meanAov;
      if (e.predicted) {
        e.choice = chooseOffer({ ...e.predicted, orderValueMinor: e.orderValueMinor }, { coupon: terms, emailCostMinor: s.emailCostMinor, discountFactor });
      } else {
        // The tiers know no uplift: a coupon is budgeted at its expected discount on the user's
        // average order, with the redemption rate the campaign's settled coupons measured
        // (shrunk towards the chance of staying, 1 − churn, while few have settled); a
        // high-risk user the budget cannot cover gets the win-back email instead.
        const pRedeem = (redemption.redeemed + REDEEM_PRIOR_ROWS * (1 - e.churn)) / (redemption.issued + REDEEM_PRIOR_ROWS);
        const discount = pRedeem * couponDiscount(terms, e.orderValueMinor);
        const atRisk = e.choice.offer === 'none' ? 0 : e.choice.value;
        e.choice = { ...e.choice, coupon: { uplift: 0, value: e.choice.offer === 'coupon' ? atRisk : 0, expectedDiscount: discount }, email: { uplift: 0, value: atRisk } };
      }
    }

    // Pass 2: budget and limit on the best first, then the holdout split. A budget over N days
    // is what the coupons planned in the last N days (by this campaign, treated) left of it.
    let couponBudgetMinor = s.couponBudgetMinor;
    if (couponBudgetMinor !== undefined && s.couponBudgetDays > 0) {
      result.couponBudgetSpentMinor = await couponSpendSince(tx, s.campaign, new Date(now.getTime() - s.couponBudgetDays * DAY_MS));
      couponBudgetMinor = Math.max(0, couponBudgetMinor - result.couponBudgetSpentMinor);
    }
    result.couponBudgetMinor = couponBudgetMinor ?? null;
    const alloc = allocate(
      eligible.map((e) => ({ userId: e.userId, choice: e.choice, explore: e.explore })),
      { couponBudgetMinor, emailLimit: s.emailLimit },
    );
    const byUser = new Map(eligible.map((e) => [e.userId, e]));
    const rows: PlannedRow[] = [];
    for (const a of alloc) {
      const e = byUser.get(a.userId)!;
      if (a.offer === 'none') {
        skip(a.limitedBy ?? (models ? 'no_value' : 'low_tier'));
        continue;
      }
      // Consent and the cap were checked in pass 1; decide() adds the holdout split and quiet hours.
      const decision = decide({ userId: e.userId, tier: e.tier, email: 'checked', unsubscribed: false, timeZone: e.timeZone, lastMessageAt: e.lastMessageAt, offer: a.offer }, policyCtx);
      if (decision.action === 'skip') {
        skip(decision.reason);
        continue;
      }
      const holdout = decision.action === 'holdout';
      const policy = a.explore ? 'explore' : models ? 'uplift' : 'tiers';
      if (!holdout && a.offer === 'coupon') result.couponSpendMinor += a.cost;
      rows.push({
        userId: e.userId,
        tier: e.tier,
        channel: a.offer,
        holdout,
        scheduledAt: decision.scheduledAt,
        churnProbability: e.churn,
        modelRunId: e.modelRunId,
        policy,
        features: e.snapshot,
        reason: {
          policy,
          ...(result.fallback ? { fallback: result.fallback } : {}),
          ...(models ? { upliftRunId: models.runId } : {}),
          tier: e.tier,
          churn: round(e.churn),
          orderValueMinor: Math.round(e.orderValueMinor),
          ...(models ? { coupon: roundAll(e.choice.coupon), email: roundAll(e.choice.email), discountFactor: round(discountFactor) } : {}),
          value: round(a.explore ? (a.offer === 'coupon' ? e.choice.coupon.value : e.choice.email.value) : e.choice.value),
          cost: round(a.cost),
          rank: a.rank,
          ...(a.limitedBy ? { limitedBy: a.limitedBy } : {}),
        },
        coupon:
          a.offer === 'coupon' && !holdout
            ? { code: couponCode(), kind: s.coupon.kind, value: s.coupon.value, currency: s.coupon.kind === 'amount' ? s.coupon.currency : null, expiresAt: new Date(now.getTime() + s.coupon.expiryDays * DAY_MS) }
            : null,
      });
    }

    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      const inserted = await insertPlanned(tx, cycleId, s.campaign, chunk);
      const planned = new Map(chunk.map((r) => [r.userId, r]));
      const events: WebhookEvent[] = [];
      for (const r of inserted) {
        if (r.holdout) {
          result.holdout++;
          continue;
        }
        result.planned++;
        result.toDeliver.push({ id: r.id, scheduledAt: r.scheduledAt });
        const plan = planned.get(r.userId)!;
        events.push({
          type: 'outreach.planned',
          messageId: `outreach-${r.id}-planned`,
          payload: { outreach_id: r.id, user_id: r.userId, cycle_id: cycleId, tier: plan.tier, channel: plan.channel, scheduled_at: r.scheduledAt.toISOString(), churn_probability: plan.churnProbability, policy: plan.policy, reason: plan.reason },
        });
        if (plan.coupon) {
          events.push({
            type: 'coupon.issued',
            messageId: `coupon-${plan.coupon.code}`,
            payload: { code: plan.coupon.code, user_id: r.userId, kind: plan.coupon.kind, value: plan.coupon.value, currency: plan.coupon.currency, expires_at: plan.coupon.expiresAt.toISOString(), outreach_id: r.id },
          });
        }
      }
      result.webhookDeliveries.push(...(await enqueueWebhookEvents(tx, events)));
    }
    await tx.query(
      `insert into cycles (id, planned, holdout, skipped, planned_at, policy, policy_fallback, uplift_run_id) values ($1, $2, $3, $4::text::jsonb, now(), $5, $6, $7)
       on conflict (id) do update set planned = coalesce(cycles.planned, 0) + $2, holdout = coalesce(cycles.holdout, 0) + $3, skipped = $4::text::jsonb, planned_at = now(),
         policy = $5, policy_fallback = $6, uplift_run_id = $7`,
      [cycleId, result.planned, result.holdout, JSON.stringify(result.skipped), result.policy, result.fallback, result.upliftRunId],
    );
  });
  d.log.info(
    { cycleId, policy: result.policy, fallback: result.fallback, planned: result.planned, holdout: result.holdout, skipped: result.skipped, couponSpendMinor: Math.round(result.couponSpendMinor), webhooks: result.webhookDeliveries.length },
    'outreach planned',
  );
  return result;
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

function roundAll<T extends Record<string, number | boolean | undefined>>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])) as T;
}
