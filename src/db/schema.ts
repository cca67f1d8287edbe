/**
 * The Postgres schema. Tables are plural snake_case (drizzle `casing: 'snake_case'` maps
 * the camelCase fields). Changes go through `npm run db:generate` into src/db/migrations.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const tz = (name?: string) => (name ? timestamp(name, { withTimezone: true }) : timestamp({ withTimezone: true }));

export const users = pgTable(
  'users',
  {
    id: text().primaryKey(),
    /** Dense surrogate key: rescoring fans out into chunk jobs by ranges of it. */
    seq: bigserial({ mode: 'number' }).notNull().unique(),
    email: text(),
    name: text(),
    locale: text(),
    timezone: text(),
    signupAt: tz(),
    unsubscribedAt: tz(),
    createdAt: tz().notNull().defaultNow(),
    updatedAt: tz().notNull().defaultNow(),
  },
  (t) => [index().on(t.email), index('users_lower_email_idx').on(sql`lower(${t.email})`)],
);

export const items = pgTable('items', {
  id: text().primaryKey(),
  title: text(),
  itemType: text(),
  category: text(),
  tags: text().array().notNull().default(sql`'{}'::text[]`),
  description: text(),
  priceMinor: bigint({ mode: 'number' }),
  currency: text(),
  /** Where the item lives (http or https only): emails link to it through the signed click redirect. */
  url: text(),
  createdAt: tz().notNull().defaultNow(),
  updatedAt: tz().notNull().defaultNow(),
});

/** Immutable facts, idempotent on (source, event_id). No FKs: users/items rows are upserted in the same transaction. */
export const events = pgTable(
  'events',
  {
    source: text().notNull(),
    eventId: text().notNull(),
    type: text().notNull(),
    userId: text().notNull(),
    itemId: text(),
    occurredAt: tz().notNull(),
    amountMinor: bigint({ mode: 'number' }),
    currency: text(),
    quantity: integer(),
    lessonId: text(),
    percent: real(),
    couponCode: text(),
    receivedAt: tz().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.eventId] }),
    index().on(t.userId, t.occurredAt),
    index().on(t.type, t.occurredAt),
    index().on(t.itemId),
    index().on(t.couponCode).where(sql`${t.couponCode} is not null`),
    // Campaign conversions: the purchases and renewals of a time window with who paid and how much, as an index-only range.
    index('events_conversions_idx').on(t.occurredAt, t.userId, t.amountMinor).where(sql`${t.type} in ('purchase', 'renewal')`),
  ],
);

export const modelRuns = pgTable(
  'model_runs',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    kind: text().notNull(),
    status: text().notNull().default('running'),
    asOf: tz().notNull(),
    cutoff: tz(),
    horizonDays: integer(),
    /** Set when the run fell back to rules (data too thin); the reason in words. */
    fallback: text(),
    params: jsonb().notNull().default({}),
    metrics: jsonb().notNull().default({}),
    rowCount: integer(),
    positives: integer(),
    baseRate: doublePrecision(),
    error: text(),
    startedAt: tz().notNull().defaultNow(),
    finishedAt: tz(),
  },
  (t) => [index().on(t.kind, t.startedAt)],
);

export const userScores = pgTable(
  'user_scores',
  {
    userId: text().primaryKey(),
    modelRunId: bigint({ mode: 'number' }).notNull(),
    scoredAt: tz().notNull(),
    churnProbability: doublePrecision().notNull(),
    riskTier: text().notNull(),
    pAlive: doublePrecision(),
    expectedPurchases: doublePrecision(),
    /** Expected value in minor units over the horizon; value at risk = this × churn probability. */
    expectedValueMinor: doublePrecision(),
    rfmR: smallint(),
    rfmF: smallint(),
    rfmM: smallint(),
    segment: text(),
    persona: integer(),
    explanation: jsonb().notNull().default([]),
    features: jsonb(),
  },
  (t) => [
    index().on(t.riskTier),
    // The bot's at-risk lists by segment and tier, ranked by value at risk, as index-only scans.
    index('user_scores_segment_tier_value_at_risk_idx').on(
      t.segment,
      t.riskTier,
      sql`(${t.expectedValueMinor} * ${t.churnProbability}) desc nulls last`,
      t.churnProbability,
      t.expectedValueMinor,
    ),
    index().on(t.persona),
    index('user_scores_value_at_risk_idx').on(sql`(${t.expectedValueMinor} * ${t.churnProbability}) desc nulls last`),
    // The digest's high tier in user id order, with what ranks it: an index-only merge against digest_baseline_users.
    index('user_scores_high_tier_user_idx')
      .on(t.userId, t.modelRunId, t.expectedValueMinor, t.churnProbability)
      .where(sql`${t.riskTier} = 'high'`),
  ],
);

/**
 * Totals of one finished rescore run, computed once after its last chunk (refreshScoreAggregates
 * in src/store/score-aggregates.ts) so the bot's overview, segments and histogram read one row
 * instead of every score. Cells and histograms are small fixed-shape jsonb.
 */
export const scoreAggregates = pgTable('score_aggregates', {
  modelRunId: bigint({ mode: 'number' }).primaryKey(),
  /** The run's as-of time: what "active in the last 30 days" counts back from. */
  asOf: tz().notNull(),
  /** All users when the aggregates were computed. */
  users: integer().notNull(),
  /** Users with any event in the 30 days before as_of. */
  active30d: integer('active_30d').notNull(),
  /** `[{ segment, tier, users, churnSum, valueAtRiskMinor }]`, one per (segment, tier). */
  cells: jsonb().notNull(),
  /** `{ "<buckets>": [users per bucket] }`: churn probability histograms over [0, 1]. */
  histograms: jsonb().notNull(),
  computedAt: tz().notNull().defaultNow(),
});

/** The digest's baseline: every user who was high risk at the last digested run (the run id is in settings). */
export const digestBaselineUsers = pgTable('digest_baseline_users', {
  userId: text().primaryKey(),
});

export const recommendations = pgTable(
  'recommendations',
  {
    userId: text().notNull(),
    rank: smallint().notNull(),
    itemId: text().notNull(),
    score: doublePrecision().notNull(),
    reason: jsonb().notNull(),
    modelRunId: bigint({ mode: 'number' }).notNull(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.rank] })],
);

export const outreach = pgTable(
  'outreach',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    cycleId: text().notNull(),
    userId: text().notNull(),
    tier: text().notNull(),
    channel: text().notNull(),
    holdout: boolean().notNull().default(false),
    state: text().notNull().default('planned'),
    scheduledAt: tz().notNull(),
    attempts: integer().notNull().default(0),
    messageId: text(),
    couponId: bigint({ mode: 'number' }),
    lastError: text(),
    modelRunId: bigint({ mode: 'number' }),
    churnProbability: doublePrecision(),
    /** The holdout salt: users keep their group across the cycles of one campaign. */
    campaign: text().notNull().default('default'),
    /** A sender holds the row until then; a crashed sender's lease runs out and the sweep retries. */
    leaseUntil: tz(),
    createdAt: tz().notNull().defaultNow(),
    sendingAt: tz(),
    sentAt: tz(),
    /** `rekindle` for rows we planned, `import` for past campaigns imported from another tool. */
    origin: text().notNull().default('rekindle'),
    /** What decided the offer: `tiers`, `uplift` or `explore` (imported rows: null). */
    policy: text(),
    /** Why: uplift, expected value, cost, budget rank… (shown on the user card and in outreach.planned). */
    reason: jsonb(),
    /**
     * What the uplift model learns from: the user's behaviour features at planning time
     * (`{ v: [FEATURES order], persona, contacts, daysSinceContact }`). Imported rows get them at settling.
     */
    features: jsonb(),
    /** Imported rows: the coupon code and its discount as the other tool reported them. */
    couponCode: text(),
    discountMinor: bigint({ mode: 'number' }),
    currency: text(),
    /** When the row's conversion window closed and its outcome was stored (outreach_outcomes). */
    settledAt: tz(),
  },
  (t) => [
    uniqueIndex().on(t.userId, t.cycleId),
    index().on(t.state, t.scheduledAt),
    index().on(t.cycleId),
    // Campaign reports select outreach by when it was planned.
    index().on(t.createdAt),
    // The settle job's work list: rows not yet settled, by when their window opens.
    index('outreach_unsettled_idx').on(t.scheduledAt).where(sql`${t.settledAt} is null`),
    check('outreach_state_check', sql`${t.state} in ('planned','sending','sent','failed','skipped')`),
  ],
);

/**
 * One row per settled outreach row (treated and holdout alike), written once when its
 * conversion window closed: what happened in the window. Reports and the uplift model read
 * these, never raw events over a window.
 */
export const outreachOutcomes = pgTable(
  'outreach_outcomes',
  {
    outreachId: bigint({ mode: 'number' }).primaryKey(),
    cycleId: text().notNull(),
    campaign: text().notNull(),
    userId: text().notNull(),
    tier: text().notNull(),
    /** The offer: `coupon` or `email`. */
    channel: text().notNull(),
    holdout: boolean().notNull(),
    policy: text(),
    origin: text().notNull(),
    /** The window: [windowStart, windowStart + windowDays). Sent time, or the would-be send time for the holdout. */
    windowStart: tz().notNull(),
    windowDays: integer().notNull(),
    converted: boolean().notNull(),
    /** Purchases and renewals in the window, and their amount (minor units, after any discount). */
    conversions: integer().notNull(),
    revenueMinor: bigint({ mode: 'number' }).notNull(),
    couponRedeemed: boolean().notNull(),
    /** The discount the redeemed coupon gave (minor units); 0 when not redeemed. */
    discountMinor: bigint({ mode: 'number' }).notNull(),
    clicked: boolean().notNull(),
    unsubscribed: boolean().notNull(),
    settledAt: tz().notNull().defaultNow(),
  },
  (t) => [index().on(t.windowStart), index().on(t.cycleId), index().on(t.userId)],
);

/**
 * The simulator's ground truth, one row per outreach row it saw: the user's true chance to
 * convert in the window under each offer and with nothing. Written only by `rekindle simulate`
 * and read only by tests, `simulate --json` and the bench — never by a model.
 */
export const simTruth = pgTable('sim_truth', {
  outreachId: bigint({ mode: 'number' }).primaryKey(),
  userId: text().notNull(),
  channel: text().notNull(),
  holdout: boolean().notNull(),
  /** P(convert in the window) with nothing, with a coupon, with an email. */
  pNone: doublePrecision().notNull(),
  pCoupon: doublePrecision().notNull(),
  pEmail: doublePrecision().notNull(),
  /** Expected revenue in the window (minor units, net of the discount) with nothing, a coupon, an email. */
  revenueNone: doublePrecision().notNull(),
  revenueCoupon: doublePrecision().notNull(),
  revenueEmail: doublePrecision().notNull(),
  /** Expected discount given under the coupon (minor units). */
  discountCoupon: doublePrecision().notNull(),
});

export const coupons = pgTable(
  'coupons',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    code: text().notNull().unique(),
    userId: text().notNull(),
    outreachId: bigint({ mode: 'number' }),
    kind: text().notNull(),
    value: integer().notNull(),
    currency: text(),
    expiresAt: tz().notNull(),
    redeemedAt: tz(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [index().on(t.userId), uniqueIndex().on(t.outreachId)],
);

export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: bigserial({ mode: 'number' }).primaryKey(),
  url: text().notNull(),
  secret: text().notNull(),
  eventTypes: text().array().notNull().default(sql`'{}'::text[]`),
  enabled: boolean().notNull().default(true),
  description: text(),
  createdAt: tz().notNull().defaultNow(),
});

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    endpointId: bigint({ mode: 'number' }).notNull(),
    messageId: text().notNull(),
    eventType: text().notNull(),
    payload: jsonb().notNull(),
    state: text().notNull().default('pending'),
    attempts: integer().notNull().default(0),
    lastStatus: integer(),
    lastError: text(),
    lastDurationMs: integer(),
    nextAttemptAt: tz(),
    leaseUntil: tz(),
    createdAt: tz().notNull().defaultNow(),
    deliveredAt: tz(),
  },
  (t) => [uniqueIndex().on(t.endpointId, t.messageId), index().on(t.state, t.nextAttemptAt)],
);

/** Every attempt at a webhook delivery: the log an on-call engineer reads. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    deliveryId: bigint({ mode: 'number' }).notNull(),
    attempt: integer().notNull(),
    status: integer(),
    durationMs: integer().notNull(),
    error: text(),
    at: tz().notNull().defaultNow(),
  },
  (t) => [index().on(t.deliveryId)],
);

/** One retention cycle: rescore → recommend → plan → deliver. */
export const cycles = pgTable('cycles', {
  id: text().primaryKey(),
  status: text().notNull().default('running'),
  rescoreRunId: bigint({ mode: 'number' }),
  recommendRunId: bigint({ mode: 'number' }),
  planned: integer(),
  holdout: integer(),
  /** Users the policy left out, by reason (low_tier, unsubscribed, no_email, frequency_cap, paused, no_value, budget, email_limit). */
  skipped: jsonb().notNull().default({}),
  /** Who picked the offers: `tiers` or `uplift`; and why the tiers did when the uplift model could not. */
  policy: text(),
  policyFallback: text(),
  /** The uplift model run the plan used. */
  upliftRunId: bigint({ mode: 'number' }),
  error: text(),
  startedAt: tz().notNull().defaultNow(),
  plannedAt: tz(),
  finishedAt: tz(),
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    at: tz().notNull().defaultNow(),
    actor: text().notNull(),
    action: text().notNull(),
    target: text(),
    allowed: boolean().notNull().default(true),
    details: jsonb().notNull().default({}),
  },
  (t) => [index().on(t.at)],
);

/** Small key/value switches an operator flips at run time (e.g. `outreach.paused`). */
export const settings = pgTable('settings', {
  key: text().primaryKey(),
  value: jsonb().notNull(),
  updatedAt: tz().notNull().defaultNow(),
  updatedBy: text(),
});
