/**
 * Intent → answer: calls the insights service, formats Block Kit, and lists the charts to
 * upload. Admin intents are checked against the viewer and audited whether they run or not.
 * No transport here: the listeners (app.ts) decide where the answer goes.
 */
import type { Logger } from '../logger.js';
import type { Queryable } from '../db/client.js';
import { audit } from '../services/audit.js';
import { campaignReport, type TrendPoint } from '../services/campaign-report.js';
import { setOutreachPaused, UPLIFT_DAYS, type Insights } from '../services/insights.js';
import type { Viewer } from './access.js';
import {
  adminRefusedMessage,
  atRiskMessage,
  campaignsMessage,
  countMessage,
  formatter,
  helpMessage,
  modelMessage,
  overviewMessage,
  plain,
  roiMessage,
  segmentLabel,
  segmentMessage,
  segmentsMessage,
  texts,
  userCardMessage,
  withExamples,
  type Message,
} from './blocks.js';
import { highRiskTrendChart, netRevenueChart, riskDistributionChart, segmentSizesChart, upliftChart } from './charts.js';
import { compareSegmentsMessage, riskTrendMessage, segmentChangeMessage } from './history-blocks.js';
import { compareSegments, runHistory, segmentChanges } from '../services/run-history.js';
import { ADMIN_INTENTS, type Intent, type Lang, type UserRef } from './intent.js';

export interface Chart {
  filename: string;
  title: string;
  render(): Promise<Buffer>;
}

export interface Answer extends Message {
  charts: Chart[];
}

export interface AnswerDeps {
  db: Queryable;
  insights: Insights;
  log: Logger;
  now: () => Date;
  /** Platform currency for money (ISO 4217). */
  currency: string;
  conversionWindowDays: number;
  queues?: { enqueueRescore(): Promise<string> } | undefined;
}

const noCharts = (m: Message): Answer => ({ ...m, charts: [] });

function refText(ref: UserRef): string {
  return ref.kind === 'email' ? ref.value : `id “${ref.value}”`;
}

/** The answer to one parsed intent, in `lang`, for `viewer`. */
export async function answerIntent(d: AnswerDeps, intent: Intent, lang: Lang, viewer: Viewer): Promise<Answer> {
  const f = formatter(lang, d.currency);
  const t = texts(lang);
  if (ADMIN_INTENTS.includes(intent.kind)) return noCharts(await adminAction(d, intent, lang, viewer));
  switch (intent.kind) {
    case 'help':
      return noCharts(helpMessage(lang));
    case 'overview': {
      const o = await d.insights.overview();
      const charts: Chart[] = [];
      if (o.payers > 0) {
        charts.push(
          { filename: 'risk-distribution.png', title: lang === 'zh' ? '流失风险分布' : 'Churn risk distribution', render: () => riskDistributionChart(o.histogram, lang) },
          {
            filename: 'segment-sizes.png',
            title: lang === 'zh' ? '各分群用户数' : 'Users by segment',
            render: () => segmentSizesChart(o.segments.map((s) => ({ label: segmentLabel(s.segment, lang), users: s.users })), lang),
          },
        );
      }
      return { ...overviewMessage(o, f), charts };
    }
    case 'segments':
      return noCharts(segmentsMessage(await d.insights.segments(), f));
    case 'segment':
      return noCharts(segmentMessage(intent.segment, await d.insights.segment(intent.segment, intent.n), f, viewer.pii));
    case 'at_risk':
      return noCharts(atRiskMessage(await d.insights.atRisk(intent), intent, f, viewer.pii));
    case 'count': {
      const [n, total] = await Promise.all([d.insights.count(intent), d.insights.count({})]);
      return noCharts(countMessage(n, total, intent, f));
    }
    case 'user':
    case 'why':
    case 'recommend': {
      // An email is personal data: a reader who may not see emails may not use one as a key
      // either (the answer would tell them whose address it is, or that it is a customer's).
      // Refused before the lookup, so not even "no such user" leaks.
      if (intent.ref.kind === 'email' && !viewer.pii) {
        await audit(d.db, { actor: viewer.actor, action: 'pii.lookup_by_email', target: intent.kind, allowed: false, details: { reason: 'no_pii_access', channelId: viewer.channelId ?? null } });
        d.log.warn({ actor: viewer.actor, intent: intent.kind }, 'lookup by email refused');
        return noCharts(withExamples(t.emailNeedsPii, lang));
      }
      const card = await d.insights.user(intent.ref);
      if (!card) return noCharts(withExamples(t.unknownUser(refText(intent.ref)), lang));
      return noCharts(userCardMessage(card, intent.kind, f, { pii: viewer.pii, now: d.now(), windowDays: d.conversionWindowDays }));
    }
    case 'campaigns':
      return noCharts(campaignsMessage(await d.insights.campaigns(intent.days), intent.days, f, 'campaigns'));
    case 'uplift': {
      const r = await d.insights.campaigns(UPLIFT_DAYS);
      const groups = [...r.tiers, r.overall]
        .filter((g) => g.treated.n > 0 && g.holdout.n > 0)
        .map((g) => ({
          tier: g.tier,
          treatedRate: g.treated.conversionRate ?? 0,
          holdoutRate: g.holdout.conversionRate ?? 0,
          ...(g.upliftCi ? { ciLow: Math.max(-1, g.upliftCi[0]), ciHigh: Math.min(1, g.upliftCi[1]) } : {}),
        }));
      const charts: Chart[] =
        groups.length > 0
          ? [{ filename: 'uplift.png', title: lang === 'zh' ? '触达组 vs 对照组' : 'Treated vs holdout', render: () => upliftChart(groups, lang) }]
          : [];
      return { ...campaignsMessage(r, UPLIFT_DAYS, f, 'uplift'), charts };
    }
    case 'roi': {
      // The campaign report itself (not insights.campaigns): this answer needs the clock, for
      // when the next window closes, and the currency the amounts are in.
      const now = d.now();
      const r = await campaignReport(d.db, { since: new Date(now.getTime() - intent.days * DAY_MS), windowDays: d.conversionWindowDays, now, currency: d.currency });
      const points = trendPoints(r.trend, d.currency);
      const charts: Chart[] = points.some((p) => p.net !== null)
        ? [{ filename: 'net-incremental-revenue.png', title: t.roiChartTitle, render: () => netRevenueChart(points, lang, d.currency) }]
        : [];
      return { ...roiMessage(r, intent.days, f), charts };
    }
    case 'model':
      return noCharts(modelMessage(await d.insights.model(), f));
    case 'segment_change':
      return noCharts(segmentChangeMessage(await segmentChanges(d.db), f));
    case 'risk_trend': {
      const points = await runHistory(d.db, intent.runs);
      const days = points.map((p) => p.asOf.toISOString().slice(0, 10));
      const series = points.map((p, i) => ({ label: days.indexOf(days[i]!) !== days.lastIndexOf(days[i]!) ? `${days[i]} #${p.runId}` : days[i]!, high: p.high }));
      const charts: Chart[] = points.length > 0 ? [{ filename: 'high-risk-trend.png', title: lang === 'zh' ? '高风险用户数趋势' : 'High-risk users per run', render: () => highRiskTrendChart(series, lang) }] : [];
      return { ...riskTrendMessage(points, intent.runs, f), charts };
    }
    case 'compare_segments':
      return noCharts(compareSegmentsMessage(await compareSegments(d.db, intent.a, intent.b), f));
    case 'rescore':
    case 'pause_outreach':
    case 'resume_outreach':
      return noCharts(await adminAction(d, intent, lang, viewer));
    default:
      return assertUnreachable(intent);
  }
}

const DAY_MS = 86_400_000;

/**
 * The trend as chart points in major units, each labelled by its first send day (cycle ids
 * can be long import names); two cycles starting the same day are told apart by their ids.
 */
export function trendPoints(trend: readonly TrendPoint[], currency: string): { label: string; net: number | null; ciLow?: number; ciHigh?: number }[] {
  const scale = 10 ** (new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2);
  const days = trend.map((p) => p.windowStart.slice(0, 10));
  return trend.map((p, i) => {
    const day = days[i] as string;
    const label = days.indexOf(day) !== days.lastIndexOf(day) ? `${day} ${p.cycleId}` : day;
    const net = p.netIncrementalRevenueMinor === null ? null : p.netIncrementalRevenueMinor / scale;
    const ci = net !== null && p.netIncrementalRevenueCi ? { ciLow: p.netIncrementalRevenueCi[0] / scale, ciHigh: p.netIncrementalRevenueCi[1] / scale } : {};
    return { label, net, ...ci };
  });
}

function assertUnreachable(x: never): never {
  throw new Error(`unhandled intent ${JSON.stringify(x)}`);
}

/** Runs an admin intent for an admin, refuses it for anyone else; both are audited. */
async function adminAction(d: AnswerDeps, intent: Intent, lang: Lang, viewer: Viewer): Promise<Message> {
  const t = texts(lang);
  const action = `admin.${intent.kind}`;
  if (!viewer.admin) {
    await audit(d.db, { actor: viewer.actor, action, target: intent.kind, allowed: false, details: { reason: 'not_admin', channelId: viewer.channelId ?? null } });
    d.log.warn({ actor: viewer.actor, action }, 'admin intent refused');
    return adminRefusedMessage(intent, lang);
  }
  switch (intent.kind) {
    case 'rescore': {
      if (!d.queues) {
        await audit(d.db, { actor: viewer.actor, action, target: 'rescore', allowed: true, details: { outcome: 'unavailable' } });
        return plain(t.rescoreUnavailable);
      }
      const jobId = await d.queues.enqueueRescore();
      await audit(d.db, { actor: viewer.actor, action, target: 'rescore', allowed: true, details: { outcome: 'queued', jobId } });
      return plain(t.rescoreQueued(jobId));
    }
    case 'pause_outreach':
    case 'resume_outreach': {
      const paused = intent.kind === 'pause_outreach';
      await setOutreachPaused(d.db, paused, viewer.actor);
      await audit(d.db, { actor: viewer.actor, action, target: 'outreach.paused', allowed: true, details: { paused } });
      return plain(paused ? t.paused : t.resumed);
    }
    default:
      throw new Error(`not an admin intent: ${intent.kind}`);
  }
}

