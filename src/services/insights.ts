/**
 * The growth team's questions as use cases, shared by the Slack bot and the CLI reports:
 * composes the read-only store queries (src/store/insights.ts) with the campaign report and
 * a per-run cache of persona descriptions. Dependencies are passed in; `now` is the clock.
 *
 * Whole-population totals (overview, segments, the risk histogram) come from the newest
 * finished rescore run's precomputed aggregates (src/store/score-aggregates.ts), "as of" that
 * run; when that run has none they are counted live, as of now.
 */
import type { Queryable } from '../db/client.js';
import type { RiskTier } from '../domain/risk.js';
import {
  atRiskUsers,
  contactsByIds,
  countUsers,
  digestSnapshotInfo,
  findUserId,
  histogramFromCounts,
  modelCard,
  newHighRiskUsers,
  overviewCounts,
  overviewFromAggregates,
  personaDescriptions,
  rescoreRunsKey,
  riskHistogram,
  runHasScores,
  runSummary,
  saveDigestSnapshot,
  segmentStats,
  segmentStatsFromCells,
  segmentUsers,
  userCard,
  vacuumDigestBaseline,
  type ModelCard,
  type OverviewCounts,
  type PersonaDescription,
  type RankedUser,
  type RiskBucket,
  type SegmentStat,
  type UserCard,
} from '../store/insights.js';
import { OUTREACH_PAUSED } from '../store/outreach.js';
import { latestScoreAggregates, type ScoreAggregates } from '../store/score-aggregates.js';
import { existingUserIds } from '../store/user-ids.js';
import { campaignReport, type CampaignReport } from './campaign-report.js';

export type { ModelCard, OverviewCounts, PersonaDescription, RankedUser, RiskBucket, SegmentStat, UserCard } from '../store/insights.js';

export interface InsightsDeps {
  db: Queryable;
  now: () => Date;
  /** Days after outreach in which a purchase counts as a conversion (CONVERSION_WINDOW_DAYS). */
  conversionWindowDays: number;
  /**
   * How long the whole-population aggregates (overview, segments) may be reused, in ms; 0
   * (the default) recomputes every time. A newer rescore run invalidates them at once.
   */
  aggregateCacheMs?: number;
}

export interface OverviewWithHistogram extends OverviewCounts {
  histogram: RiskBucket[];
}

export interface SegmentsView {
  /** The run time the statistics describe when they come from its aggregates; null when counted live just now. */
  asOf: Date | null;
  stats: SegmentStat[];
}

export interface SegmentDetail {
  /** As in {@link SegmentsView}: the time `stat` describes (the ranked users are always current). */
  asOf: Date | null;
  stat: SegmentStat | null;
  users: RankedUser[];
}

export interface CardWithPersona extends UserCard {
  persona: PersonaDescription | null;
}

/** Days of outreach the `uplift` answer looks back over. */
export const UPLIFT_DAYS = 90;
/** Buckets of the risk histogram in `overview`. */
export const HISTOGRAM_BUCKETS = 20;

export interface Insights {
  overview(): Promise<OverviewWithHistogram>;
  segments(): Promise<SegmentsView>;
  segment(segment: string, n: number): Promise<SegmentDetail>;
  atRisk(f: { n: number; segment?: string | undefined; tier?: RiskTier | undefined }): Promise<RankedUser[]>;
  count(f: { tier?: RiskTier | undefined; segment?: string | undefined }): Promise<number>;
  /** A user's card by id or email, with their persona's description; null when no such user. */
  user(ref: { kind: 'id' | 'email'; value: string }): Promise<CardWithPersona | null>;
  /** Which of `ids` (a question's id-shaped tokens, at most a few) are users: one primary-key query. */
  knownUserIds(ids: readonly string[]): Promise<Set<string>>;
  /** Outreach planned in the last `days` days: treated vs holdout per tier. */
  campaigns(days: number): Promise<CampaignReport>;
  model(): Promise<ModelCard>;
  /** New high-risk users of a run, most value at risk first (see newHighRiskUsers). */
  digestCandidates(runId: number, n: number): Promise<{ total: number; users: RankedUser[] }>;
  /** Remembers the high tier of `runId` as the baseline for the next digest. */
  saveDigestBaseline(runId: number, by: string): Promise<number>;
  /** After the baseline's transaction committed: vacuums it so the next digest reads it index-only. */
  vacuumDigestBaseline(): Promise<void>;
  /** Whether the current scores come from `runId` (false once a newer rescore wrote). */
  runIsCurrent(runId: number): Promise<boolean>;
  /** The run the digest baseline was taken at (null before the first digest). */
  digestBaselineRun(): Promise<number | null>;
  /** Raw names and emails of some users (the caller masks them). */
  contacts(userIds: readonly string[]): Promise<{ userId: string; name: string | null; email: string | null }[]>;
}

export function createInsights(d: InsightsDeps): Insights {
  // Persona descriptions live in the run's params (large jsonb): read once per run.
  const personaCache = new Map<number, Promise<PersonaDescription[]>>();
  const descriptionsOf = (runId: number): Promise<PersonaDescription[]> => {
    let p = personaCache.get(runId);
    if (!p) {
      p = personaDescriptions(d.db, runId);
      p.catch(() => personaCache.delete(runId));
      if (personaCache.size >= 8) personaCache.delete(personaCache.keys().next().value as number);
      personaCache.set(runId, p);
    }
    return p;
  };

  // Whole-population answers change only when a rescore writes. Read from stored aggregates
  // they cost a millisecond; counted live (no aggregates) they read every score (~0.2–0.8 s at
  // 1M users). Either way reuse them for a while, keyed by the rescore runs so a run starting,
  // finishing or getting its aggregates invalidates them at once.
  const ttl = d.aggregateCacheMs ?? 0;
  const cache = new Map<string, { at: number; run: string; value: Promise<unknown> }>();
  async function cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
    if (ttl <= 0) return compute();
    const run = await rescoreRunsKey(d.db);
    const hit = cache.get(key);
    const now = Date.now();
    if (hit && hit.run === run && now - hit.at < ttl) return hit.value as Promise<T>;
    const value = compute();
    cache.set(key, { at: now, run, value });
    value.catch(() => cache.delete(key));
    return value;
  }
  const stats = (): Promise<SegmentsView> =>
    cached('segments', async () => {
      const a = await latestScoreAggregates(d.db);
      return a ? { asOf: a.asOf, stats: segmentStatsFromCells(a.cells) } : { asOf: null, stats: await segmentStats(d.db) };
    });
  const storedHistogram = (a: ScoreAggregates | null) => a?.histograms[String(HISTOGRAM_BUCKETS)];

  return {
    overview: () =>
      cached('overview', async () => {
        const a = await latestScoreAggregates(d.db);
        const stored = storedHistogram(a);
        if (a && stored) return { ...overviewFromAggregates(a, await runSummary(d.db, a.runId)), histogram: histogramFromCounts(stored) };
        const [counts, histogram] = await Promise.all([overviewCounts(d.db, d.now()), riskHistogram(d.db, HISTOGRAM_BUCKETS)]);
        return { ...counts, histogram };
      }),
    segments: stats,
    async segment(segment, n) {
      const [view, users] = await Promise.all([stats(), segmentUsers(d.db, segment, n)]);
      return { asOf: view.asOf, stat: view.stats.find((s) => s.segment === segment) ?? null, users };
    },
    atRisk: (f) => atRiskUsers(d.db, f),
    count: (f) => countUsers(d.db, f),
    async user(ref) {
      const id = await findUserId(d.db, ref);
      if (id === null) return null;
      const card = await userCard(d.db, id, { windowDays: d.conversionWindowDays });
      if (!card) return null;
      let persona: PersonaDescription | null = null;
      if (card.score && card.score.persona !== null) {
        const list = await descriptionsOf(card.score.modelRunId);
        persona = list.find((p) => p.cluster === card.score!.persona) ?? list[card.score.persona] ?? null;
      }
      return { ...card, persona };
    },
    knownUserIds: (ids) => existingUserIds(d.db, ids),
    campaigns: (days) => {
      const now = d.now();
      return campaignReport(d.db, { since: new Date(now.getTime() - days * 86_400_000), windowDays: d.conversionWindowDays, now });
    },
    model: () => modelCard(d.db),
    digestCandidates: (runId, n) => newHighRiskUsers(d.db, runId, n),
    saveDigestBaseline: (runId, by) => saveDigestSnapshot(d.db, runId, by),
    vacuumDigestBaseline: () => vacuumDigestBaseline(d.db),
    contacts: (userIds) => contactsByIds(d.db, userIds),
    runIsCurrent: (runId) => runHasScores(d.db, runId),
    digestBaselineRun: async () => (await digestSnapshotInfo(d.db))?.runId ?? null,
  };
}


/**
 * Pauses or resumes outreach (the `outreach.paused` switch planning reads). Written here rather
 * than through store/outreach's `setSetting`, because that binds the value as `$2::jsonb`, and
 * postgres.js sends a JS boolean typed as bool, which PostgreSQL refuses to cast to jsonb
 * ("cannot cast type boolean to jsonb"); `to_jsonb($2::boolean)` stores a real JSON boolean on
 * both drivers.
 */
export async function setOutreachPaused(q: Queryable, paused: boolean, by: string): Promise<void> {
  await q.query(
    `insert into settings (key, value, updated_by) values ($1, to_jsonb($2::boolean), $3)
     on conflict (key) do update set value = excluded.value, updated_at = now(), updated_by = excluded.updated_by`,
    [OUTREACH_PAUSED, paused, by],
  );
}
