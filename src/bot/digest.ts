/**
 * The daily digest: after a rescore, the users who became high risk since the previous
 * digest, the 20 with the most value at risk first, posted to SLACK_DIGEST_CHANNEL as a call
 * list. Each row has three buttons (claim, called, not reachable); a click is audited and the
 * message is re-rendered from the database (the posted list and every click so far), so what
 * the channel sees is what the audit log holds.
 *
 * The channel is shared, so names and emails are always masked here; whoever calls opens the
 * full card with `/retain user <id>` (unmasked for SLACK_PII_USERS, ephemeral).
 *
 * Posting is idempotent per run: the post is recorded as `digest.posted` (target `run:<id>`)
 * together with the new baseline in one transaction; a second call for the same run does
 * nothing. A crash between the post and that commit posts again on retry (at least once).
 */
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import type { Database, Queryable } from '../db/client.js';
import type { Logger } from '../logger.js';
import { audit, auditEntries, type AuditRow } from '../services/audit.js';
import { createInsights, type RankedUser } from '../services/insights.js';
import { context, contact, esc, featureLabel, formatter, header, section, segmentLabel, tierLabel, type Block, type Formatter, type Message } from './blocks.js';
import type { Lang } from './intent.js';

/** Rows in one digest. */
export const DIGEST_SIZE = 20;
/** The actor recorded for digest posts. */
export const DIGEST_ACTOR = 'rekindle:digest';

export const DIGEST_ACTIONS = {
  digest_claim: 'claim',
  digest_called: 'called',
  digest_unreachable: 'unreachable',
} as const;
export type DigestActionId = keyof typeof DIGEST_ACTIONS;
export type DigestStatusKind = (typeof DIGEST_ACTIONS)[DigestActionId];
const CLICK_ACTIONS = Object.values(DIGEST_ACTIONS).map((a) => `digest.${a}`);

/** What the digest showed for one user (no personal data: that is read again at render time). */
export interface DigestEntry {
  userId: string;
  churnProbability: number;
  tier: string;
  segment: string | null;
  expectedValueMinor: number | null;
  valueAtRiskMinor: number | null;
  topFeature: string | null;
}

export interface DigestRecord {
  runId: number;
  lang: Lang;
  channel: string;
  ts: string;
  /** Users who became high risk; `entries` are the first DIGEST_SIZE of them. */
  total: number;
  /** The run the baseline came from, or null for the first digest. */
  baselineRunId: number | null;
  entries: DigestEntry[];
}

export interface DigestStatus {
  kind: DigestStatusKind;
  by: string;
  at: Date;
}

export interface DigestDeps {
  db: Database;
  client: WebClient;
  log: Logger;
  channel: string | undefined;
  lang: Lang;
  currency: string;
  conversionWindowDays: number;
  now: () => Date;
}

const DigestRecordSchema = z.object({
  runId: z.number().int(),
  lang: z.enum(['en', 'zh']),
  channel: z.string(),
  ts: z.string(),
  total: z.number().int(),
  baselineRunId: z.number().int().nullable(),
  entries: z.array(
    z.object({
      userId: z.string(),
      churnProbability: z.number(),
      tier: z.string(),
      segment: z.string().nullable(),
      expectedValueMinor: z.number().nullable(),
      valueAtRiskMinor: z.number().nullable(),
      topFeature: z.string().nullable(),
    }),
  ),
});

/** A button's value: which run and which user it is about. */
const ButtonValue = z.object({ r: z.number().int().positive(), u: z.string().min(1).max(200) });

const WORDS = {
  en: {
    title: (n: string) => `Call list: ${n} new high-risk user(s)`,
    none: 'No users became high risk since the previous rescore.',
    intro: (run: number, base: number | null, shown: string, total: string) =>
      `Rescore #${run}${base !== null ? ` vs #${base}` : ' (first digest: every high-risk user counts as new)'} · top ${shown} of ${total} by value at risk · contact details are masked: \`/retain user <id>\` shows the full card`,
    claim: 'Claim',
    called: 'Called',
    unreachable: 'Not reachable',
    status: { claim: 'Claimed by', called: 'Called by', unreachable: 'Not reachable — tried by' } as Record<DigestStatusKind, string>,
    line: (risk: string, value: string, segment: string) => `risk ${risk} · value at risk ${value} · ${segment}`,
    why: 'top reason',
    gone: 'This digest is no longer tracked, so the click was not recorded.',
  },
  zh: {
    title: (n: string) => `待回访名单：${n} 位新进入高风险的用户`,
    none: '自上次评分以来，没有新进入高风险的用户。',
    intro: (run: number, base: number | null, shown: string, total: string) =>
      `评分 #${run}${base !== null ? ` 对比 #${base}` : '（首次名单：所有高风险用户都算新增）'} · 按风险价值取 ${total} 人中的前 ${shown} 位 · 联系方式已打码：用 \`/retain user <id>\` 查看完整信息`,
    claim: '认领',
    called: '已致电',
    unreachable: '联系不上',
    status: { claim: '认领人', called: '已致电', unreachable: '联系不上 — 尝试人' } as Record<DigestStatusKind, string>,
    line: (risk: string, value: string, segment: string) => `风险 ${risk} · 风险价值 ${value} · ${segment}`,
    why: '主要原因',
    gone: '这份名单已不再跟踪，本次点击没有记录。',
  },
} as const;

function entryOf(u: RankedUser): DigestEntry {
  return {
    userId: u.userId,
    churnProbability: u.churnProbability,
    tier: u.tier,
    segment: u.segment,
    expectedValueMinor: u.expectedValueMinor,
    valueAtRiskMinor: u.valueAtRiskMinor,
    topFeature: u.topFeature,
  };
}

/**
 * The digest as Block Kit: a header, an intro, and per user a section (masked contact, risk,
 * value at risk, segment, top reason, latest status) and a row of three buttons. At most
 * 2 + 2 × DIGEST_SIZE = 42 blocks, under Slack's 50.
 */
export function digestMessage(
  r: Pick<DigestRecord, 'runId' | 'total' | 'baselineRunId' | 'entries'>,
  contacts: ReadonlyMap<string, { name: string | null; email: string | null }>,
  statuses: ReadonlyMap<string, DigestStatus>,
  f: Formatter,
): Message {
  const w = WORDS[f.lang];
  if (r.entries.length === 0) return { text: w.none, blocks: [section(w.none), context(`Rescore #${r.runId}`)] };
  const blocks: Block[] = [header(w.title(f.int(r.total))), context(w.intro(r.runId, r.baselineRunId, f.int(r.entries.length), f.int(r.total)))];
  r.entries.forEach((e, i) => {
    const c = contact(contacts.get(e.userId) ?? { name: null, email: null }, false);
    const who = [c.name, c.email].filter((x): x is string => x !== null).map(esc).join(' · ');
    const value = e.valueAtRiskMinor !== null ? f.money(e.valueAtRiskMinor) : '—';
    const reason = e.topFeature ? ` · ${w.why}: ${featureLabel(e.topFeature, f.lang)}` : '';
    const s = statuses.get(e.userId);
    const status = s ? `\n_${w.status[s.kind]} ${mention(s.by)} ${f.date(s.at)}_` : '';
    blocks.push(
      section(`*${i + 1}.* \`${esc(e.userId)}\`${who ? ` ${who}` : ''}\n${w.line(`${f.pct(e.churnProbability)} (${tierLabel(e.tier, f.lang)})`, value, segmentLabel(e.segment, f.lang))}${reason}${status}`),
      {
        type: 'actions',
        block_id: `digest:${e.userId}`.slice(0, 255),
        elements: (Object.keys(DIGEST_ACTIONS) as DigestActionId[]).map((actionId) => ({
          type: 'button' as const,
          action_id: actionId,
          text: { type: 'plain_text' as const, text: w[DIGEST_ACTIONS[actionId]] },
          value: JSON.stringify({ r: r.runId, u: e.userId }),
          ...(actionId === 'digest_claim' && !s ? { style: 'primary' as const } : {}),
        })),
      },
    );
  });
  return { text: `${w.title(f.int(r.total))}: ${r.entries.map((e) => esc(e.userId)).join(', ')}`, blocks };
}

/** `<@U123>` for a Slack user id; anything else (an actor string from the audit log) escaped as text. */
function mention(by: string): string {
  return /^[UW][A-Z0-9]{1,20}$/.test(by) ? `<@${by}>` : esc(by);
}

async function loadRecord(q: Queryable, runId: number): Promise<DigestRecord | null> {
  const rows = await auditEntries(q, { actions: ['digest.posted'], targets: [`run:${runId}`] });
  const last = rows.at(-1);
  if (!last) return null;
  const r = DigestRecordSchema.safeParse(last.details);
  return r.success ? r.data : null;
}

/** The latest click per user of one digest. */
function latestStatuses(rows: readonly AuditRow[], runId: number): Map<string, DigestStatus> {
  const out = new Map<string, DigestStatus>();
  for (const row of rows) {
    if (row.details.runId !== runId || row.target === null) continue;
    const kind = row.action.slice('digest.'.length) as DigestStatusKind;
    const by = typeof row.details.slackUserId === 'string' ? row.details.slackUserId : row.actor;
    out.set(row.target, { kind, by, at: row.at }); // rows come oldest first: the last one wins
  }
  return out;
}

async function render(d: Pick<DigestDeps, 'db' | 'currency' | 'conversionWindowDays' | 'now'>, record: DigestRecord): Promise<Message> {
  const insights = createInsights({ db: d.db, now: d.now, conversionWindowDays: d.conversionWindowDays });
  const ids = record.entries.map((e) => e.userId);
  const [contacts, clicks] = await Promise.all([insights.contacts(ids), auditEntries(d.db, { actions: CLICK_ACTIONS, targets: ids })]);
  return digestMessage(record, new Map(contacts.map((c) => [c.userId, c])), latestStatuses(clicks, record.runId), formatter(record.lang, d.currency));
}

/**
 * Posts the digest of rescore run `runId` (see the module comment). Does nothing without a
 * digest channel, when this run's digest was already posted, or when a newer rescore has
 * already replaced this run's scores.
 */
export async function postDigest(d: DigestDeps, runId: number): Promise<{ posted: boolean; total: number }> {
  const log = d.log.child({ runId });
  if (!d.channel) {
    log.info('no SLACK_DIGEST_CHANNEL: digest skipped');
    return { posted: false, total: 0 };
  }
  if (await loadRecord(d.db, runId)) {
    log.info('digest already posted for this run');
    return { posted: false, total: 0 };
  }
  const insights = createInsights({ db: d.db, now: d.now, conversionWindowDays: d.conversionWindowDays });
  if (!(await insights.runIsCurrent(runId))) {
    log.warn('the scores of this run were already replaced by a newer rescore: digest skipped');
    return { posted: false, total: 0 };
  }
  const [{ total, users }, baseline] = await Promise.all([insights.digestCandidates(runId, DIGEST_SIZE), insights.digestBaselineRun()]);
  const entries = users.map(entryOf);
  const f = formatter(d.lang, d.currency);
  const contacts = new Map(users.map((u) => [u.userId, { name: u.name, email: u.email }]));
  const message = digestMessage({ runId, total, baselineRunId: baseline, entries }, contacts, new Map(), f);
  const res = await d.client.chat.postMessage({ channel: d.channel, text: message.text, blocks: message.blocks, unfurl_links: false });
  const record: DigestRecord = { runId, lang: d.lang, channel: res.channel ?? d.channel, ts: String(res.ts), total, baselineRunId: baseline, entries };
  await d.db.transaction(async (tx) => {
    await createInsights({ db: tx, now: d.now, conversionWindowDays: d.conversionWindowDays }).saveDigestBaseline(runId, DIGEST_ACTOR);
    await audit(tx, { actor: DIGEST_ACTOR, action: 'digest.posted', target: `run:${runId}`, allowed: true, details: { ...record } });
  });
  // Outside the transaction (VACUUM cannot run in one); only speed is at stake.
  await insights.vacuumDigestBaseline().catch((err: unknown) => log.warn({ err }, 'could not vacuum the digest baseline'));
  log.info({ total, shown: entries.length, channel: record.channel }, 'digest posted');
  return { posted: true, total };
}

export interface DigestClick {
  actionId: DigestActionId;
  value: string;
  actor: string;
  slackUserId: string;
  channel: string | undefined;
  ts: string | undefined;
}

/**
 * Records one click and re-renders the digest message. Returns an ephemeral note for the
 * clicker when the click could not be recorded (unknown digest), else null.
 */
export async function handleDigestClick(d: Omit<DigestDeps, 'channel' | 'lang'>, click: DigestClick): Promise<string | null> {
  const v = ButtonValue.safeParse(safeJson(click.value));
  if (!v.success) throw new Error(`digest button value is not {r, u}: ${click.value.slice(0, 100)}`);
  const { r: runId, u: userId } = v.data;
  const record = await loadRecord(d.db, runId);
  if (!record || !record.entries.some((e) => e.userId === userId)) {
    d.log.warn({ runId, userId }, 'click on an untracked digest');
    return WORDS[record?.lang ?? 'en'].gone;
  }
  const kind = DIGEST_ACTIONS[click.actionId];
  await audit(d.db, {
    actor: click.actor,
    action: `digest.${kind}`,
    target: userId,
    allowed: true,
    details: { runId, slackUserId: click.slackUserId, channel: click.channel ?? record.channel, ts: click.ts ?? record.ts },
  });
  const message = await render(d, record);
  await d.client.chat.update({ channel: record.channel, ts: record.ts, text: message.text, blocks: message.blocks });
  return null;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
