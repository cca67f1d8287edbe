/**
 * Answers about how the scored base moved across rescore runs (services/run-history.ts): which
 * segment is largest and which grew or shrank most since the previous run, the high-risk count
 * over the last runs, and two segments side by side. Numbers from the runs' stored aggregates.
 */
import type { CompareResult, SegmentChangesResult } from './history-types.js';
import { context, esc, fields, header, section, segmentLabel, type Block, type Formatter, type Message } from './blocks.js';
import type { RunPoint } from '../services/run-history.js';

const T = {
  en: {
    noRuns: 'No rescore run with stored totals yet: run a rescore first.',
    changeTitle: 'Segments since the last run',
    onlyOneRun: 'Only one run so far: sizes below, changes after the next rescore.',
    largest: (s: string, n: string) => `Largest: *${s}* (${n} users)`,
    grew: (s: string, d: string) => `Grew most: *${s}* (${d})`,
    shrank: (s: string, d: string) => `Shrank most: *${s}* (${d})`,
    noChange: 'No segment changed size.',
    asOf: (now: string, before: string | null) => (before ? `Run as of ${now}, compared with the run as of ${before}` : `Run as of ${now}`),
    trendTitle: (n: number) => `High-risk users over the last ${n} run(s)`,
    trendLine: (from: string, to: string, d: string) => `From ${from} to ${to} (${d}).`,
    compareTitle: (a: string, b: string) => `${a} vs ${b}`,
    users: 'Users',
    high: 'High risk',
    meanChurn: 'Mean churn risk',
    valueAtRisk: 'Value at risk',
  },
  zh: {
    noRuns: '还没有保存了汇总的评分：请先重新评分。',
    changeTitle: '上次评分以来的分群变化',
    onlyOneRun: '目前只有一次评分：下面是各分群人数，下次评分后可看变化。',
    largest: (s: string, n: string) => `最大分群：*${s}*（${n} 人）`,
    grew: (s: string, d: string) => `增长最多：*${s}*（${d}）`,
    shrank: (s: string, d: string) => `减少最多：*${s}*（${d}）`,
    noChange: '各分群人数没有变化。',
    asOf: (now: string, before: string | null) => (before ? `本次评分截至 ${now}，对比截至 ${before} 的评分` : `本次评分截至 ${now}`),
    trendTitle: (n: number) => `最近 ${n} 次评分的高风险用户数`,
    trendLine: (from: string, to: string, d: string) => `从 ${from} 到 ${to}（${d}）。`,
    compareTitle: (a: string, b: string) => `${a} 对比 ${b}`,
    users: '用户数',
    high: '高风险',
    meanChurn: '平均流失风险',
    valueAtRisk: '风险价值',
  },
} as const;

const signed = (f: Formatter, d: number) => `${d > 0 ? '+' : d < 0 ? '−' : '±'}${f.int(Math.abs(d))}`;

export function segmentChangeMessage(r: SegmentChangesResult | null, f: Formatter): Message {
  const t = T[f.lang];
  if (!r || r.changes.length === 0) return { text: t.noRuns, blocks: [section(t.noRuns)] };
  const [largest] = r.changes;
  const lines = [t.largest(esc(segmentLabel(largest!.segment, f.lang)), f.int(largest!.users))];
  const moved = r.changes.filter((c) => c.change !== null && c.change !== 0);
  if (!r.previous) lines.push(t.onlyOneRun);
  else if (moved.length === 0) lines.push(t.noChange);
  else {
    const up = [...moved].sort((a, b) => (b.change as number) - (a.change as number))[0]!;
    const down = [...moved].sort((a, b) => (a.change as number) - (b.change as number))[0]!;
    if ((up.change as number) > 0) lines.push(t.grew(esc(segmentLabel(up.segment, f.lang)), signed(f, up.change as number)));
    if ((down.change as number) < 0) lines.push(t.shrank(esc(segmentLabel(down.segment, f.lang)), signed(f, down.change as number)));
  }
  const table = r.changes.map((c) => `${esc(segmentLabel(c.segment, f.lang))}: ${f.int(c.users)}${c.change === null ? '' : ` (${signed(f, c.change)})`}`);
  const blocks: Block[] = [
    header(t.changeTitle),
    section(lines.join('\n')),
    section(table.join('\n')),
    context(t.asOf(f.date(r.latest.asOf), r.previous ? f.date(r.previous.asOf) : null)),
  ];
  return { text: `${t.changeTitle}: ${lines[0]!.replace(/\*/g, '')}`, blocks };
}

export function riskTrendMessage(points: readonly RunPoint[], runs: number, f: Formatter): Message {
  const t = T[f.lang];
  if (points.length === 0) return { text: t.noRuns, blocks: [section(t.noRuns)] };
  const first = points[0]!;
  const last = points.at(-1)!;
  const summary = t.trendLine(f.int(first.high), f.int(last.high), signed(f, last.high - first.high));
  const rows = points.map((p) => `${f.date(p.asOf)}: ${f.int(p.high)} / ${f.int(p.users)}`);
  return {
    text: `${t.trendTitle(points.length)}: ${summary}`,
    blocks: [header(t.trendTitle(points.length)), section(summary), section(rows.join('\n'))],
  };
}

export function compareSegmentsMessage(r: CompareResult | null, f: Formatter): Message {
  const t = T[f.lang];
  if (!r) return { text: t.noRuns, blocks: [section(t.noRuns)] };
  const a = segmentLabel(r.a.segment, f.lang);
  const b = segmentLabel(r.b.segment, f.lang);
  const row = (s: CompareResult['a']) => [
    [t.users, f.int(s.users)],
    [t.high, `${f.int(s.high)}${s.users > 0 ? ` (${f.pct(s.high / s.users)})` : ''}`],
    [t.meanChurn, s.meanChurn === null ? '—' : f.pct(s.meanChurn)],
    [t.valueAtRisk, f.money(s.valueAtRiskMinor)],
  ] as [string, string][];
  const ra = row(r.a);
  const rb = row(r.b);
  const pairs: [string, string][] = ra.map(([k, va], i) => [k, `${esc(a)}: ${va}\n${esc(b)}: ${rb[i]![1]}`]);
  return {
    text: `${t.compareTitle(esc(a), esc(b))}: ${t.users} ${f.int(r.a.users)} / ${f.int(r.b.users)}`,
    blocks: [header(t.compareTitle(a, b)), ...fields(pairs), context(t.asOf(f.date(r.asOf), null))],
  };
}
