/**
 * The `simulate` command: where the simulation's database and outbox live, the check that it
 * starts from nothing, and the printed report (the campaign report beside the ground truth).
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ValidationError } from '../domain/errors.js';
import { isExplicit } from '../config.js';
import { migrate } from '../db/migrate.js';
import { campaignReport, type CampaignReport } from '../services/campaign-report.js';
import { latestUpliftRun, type UpliftRunSummary } from '../services/uplift.js';
import { openRuntime, type Runtime } from './runtime.js';
import { simulate, type SimulationResult } from './simulate.js';

const DAY = 86_400_000;
/** With no DATABASE_URL the simulation gets an embedded database of its own, made anew each run. */
export const SIM_DIR = '.data/simulate';

export interface SimulateCommandOptions {
  days: number;
  users: number;
  seed: number;
  cycleEvery: number;
  policy?: 'tiers' | 'uplift' | 'auto' | undefined;
  start?: Date | undefined;
  reset?: boolean | undefined;
  env: Record<string, string | undefined>;
  say: (line: string) => void;
}

export interface SimulateReport extends SimulationResult {
  report: CampaignReport;
  uplift: UpliftRunSummary | null;
}

export async function runSimulateCommand(o: SimulateCommandOptions): Promise<SimulateReport> {
  const pglite = !o.env.DATABASE_URL;
  const dir = resolve(isExplicit(o.env, 'PGLITE_DIR') ? (o.env.PGLITE_DIR as string) : `${SIM_DIR}/db`);
  if (pglite) await rm(dir, { recursive: true, force: true });
  // The simulation's mail never leaves the machine: an outbox of its own database's, read back
  // by its users (so two simulations on one machine never share one).
  const outbox = pglite ? `${dir}-outbox` : resolve(`${SIM_DIR}/${new URL(o.env.DATABASE_URL as string).pathname.slice(1) || 'postgres'}-outbox`);
  const env = {
    ...o.env,
    PGLITE_DIR: dir,
    OUTBOX_DIR: outbox,
    SMTP_URL: '',
    ...(o.policy ? { OUTREACH_POLICY: o.policy } : {}),
  };
  const rt = await openRuntime({ requireMigrated: false, env });
  try {
    await migrate(rt.db);
    await ensureEmpty(rt, Boolean(o.reset));
    const start = o.start ?? new Date(Math.floor(Date.now() / DAY) * DAY - o.days * DAY);
    const result = await simulate(rt, { users: o.users, days: o.days, seed: o.seed, cycleEveryDays: o.cycleEvery, start, seedHistory: true, say: o.say });
    const report = await campaignReport(rt.db, { since: start, windowDays: rt.config.CONVERSION_WINDOW_DAYS, cycles: 12, now: new Date(result.end), currency: rt.config.COUPON_CURRENCY });
    const uplift = await latestUpliftRun(rt.db);
    return { ...result, report, uplift };
  } finally {
    await rt.close();
  }
}

/** `demo --days N`: the demo's platform carried on for N days (its own cycle's emails are answered too). */
export async function simulateAfterDemo(rt: Runtime, o: { users: number; seed: number; days: number; start: Date; say: (line: string) => void }): Promise<SimulateReport> {
  const result = await simulate(rt, { users: o.users, days: o.days, seed: o.seed, cycleEveryDays: 1, start: o.start, seedHistory: false, say: o.say });
  const report = await campaignReport(rt.db, { since: o.start, windowDays: rt.config.CONVERSION_WINDOW_DAYS, cycles: 12, now: new Date(result.end), currency: rt.config.COUPON_CURRENCY });
  return { ...result, report, uplift: await latestUpliftRun(rt.db) };
}

/** A simulation starts from an empty database, so its numbers depend on the seed alone. */
async function ensureEmpty(rt: Runtime, reset: boolean): Promise<void> {
  if (reset) {
    const tables = await rt.db.query<{ t: string }>(`select quote_ident(tablename) as t from pg_tables where schemaname = 'public'`);
    if (tables.length) await rt.db.query(`truncate ${tables.map((r) => r.t).join(', ')} restart identity`);
    return;
  }
  const [r] = await rt.db.query<{ any: boolean }>('select exists (select 1 from events) or exists (select 1 from outreach) as any');
  if (r?.any) {
    throw new ValidationError('simulate needs an empty database: the one at DATABASE_URL already holds events or outreach. Point DATABASE_URL at a new database, or pass --reset to empty this one.');
  }
}

export function printSimulation(r: SimulateReport, out: (s: string) => void): void {
  const money = (minor: number | null | undefined) => (minor === null || minor === undefined || !Number.isFinite(minor) ? 'n/a' : (minor / 100).toLocaleString('en-US', { maximumFractionDigits: 0 }));
  const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`);
  out('');
  out(`Rekindle simulation — ${r.days} days from ${r.start.slice(0, 10)}, ${r.users} users, seed ${r.seed}, a cycle every ${r.cycleEveryDays === 1 ? 'day' : 'week'}, policy ${r.policy} (${r.database === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'}); ${r.seconds.toFixed(1)} s, ${r.simulatedDaysPerMinute.toFixed(1)} simulated days a minute`);
  const sent = r.cycles.reduce((a, c) => a + c.delivered, 0);
  const coupons = r.cycles.reduce((a, c) => a + c.treated.coupon, 0);
  const emails = r.cycles.reduce((a, c) => a + c.treated.email, 0);
  out(`Cycles: ${r.cycles.length}; offers: ${coupons} coupons and ${emails} emails (${sent} delivered), ${r.cycles.reduce((a, c) => a + c.holdout, 0)} held out`);
  const firstUplift = r.cycles.find((c) => c.policy === 'uplift');
  const lastFallback = [...r.cycles].reverse().find((c) => c.policyFallback)?.policyFallback;
  out(firstUplift ? `  the uplift model chose the offers from day ${firstUplift.day + 1} on; the risk tiers before` : `  the risk tiers chose every offer${lastFallback ? ` (${lastFallback})` : ''}`);
  out(`What users did: ${r.events.natural} events of their own, ${r.events.responses} purchases because of an offer, ${r.events.redeemedNatural} coupons redeemed on purchases they would have made anyway, ${r.events.dropped} purchases lost to users put off by contact, ${r.events.clicks} clicks, ${r.events.unsubscribes} unsubscribes`);
  const all = r.report.overall;
  out('');
  out(`Campaign report (settled outcomes, estimated against the holdout; ${r.report.unsettled} rows still inside their window):`);
  out(`  treated ${all.treated.n}, holdout ${all.holdout.n}; conversion ${pct(all.treated.conversionRate)} vs ${pct(all.holdout.conversionRate)}; uplift ${pct(all.uplift)} [${pct(all.upliftCi?.[0])}, ${pct(all.upliftCi?.[1])}]`);
  out(`  incremental conversions ${fmt(all.incrementalConversions)} [${fmt(all.incrementalConversionsCi?.[0])}, ${fmt(all.incrementalConversionsCi?.[1])}]; net incremental revenue ${money(all.netIncrementalRevenueMinor)} [${money(all.netIncrementalRevenueCi?.[0])}, ${money(all.netIncrementalRevenueCi?.[1])}] ${r.report.currency}; coupon cost ${money(all.couponCostMinor)}; ROI ${all.roi === null ? 'n/a' : all.roi.toFixed(2)}`);
  for (const g of r.report.offers) {
    out(`  ${g.key.padEnd(6)}: treated ${g.treated.n}, uplift ${pct(g.uplift)} [${pct(g.upliftCi?.[0])}, ${pct(g.upliftCi?.[1])}], net incremental revenue ${money(g.netIncrementalRevenueMinor)}, coupon cost ${money(g.couponCostMinor)}`);
  }
  out('');
  out('Ground truth (the simulator knows each user\'s true effect; never shown to a model):');
  for (const t of r.truth) {
    out(`  ${t.offer.padEnd(6)}: ${t.rows} treated rows, true average effect ${pct(t.averageEffect)}, true incremental conversions ${t.incrementalConversions.toFixed(1)}, true net incremental revenue ${money(t.netIncrementalRevenueMinor)}, expected discount ${money(t.expectedDiscountMinor)}`);
  }
  if (r.uplift) {
    out('');
    out(`Uplift model (run ${r.uplift.runId}${r.uplift.fallback ? `: not used — ${r.uplift.fallback}` : ''}):`);
    for (const [offer, m] of Object.entries(r.uplift.offers)) {
      if (!m) continue;
      out(`  ${offer.padEnd(6)}: held-out Qini ${m.qini.toFixed(3)} (random ${m.random.qini.toFixed(3)}, churn risk ${m.risk.qini.toFixed(3)}); AUUC ${m.auuc.toFixed(3)}; uplift at top 10/30/50% ${pct(m.upliftAt['0.1'])}/${pct(m.upliftAt['0.3'])}/${pct(m.upliftAt['0.5'])}`);
    }
  }
  out('');
  out(`Emails the users read: ${r.outbox}`);
  out('Next: npx rekindle report campaigns   ·   npx rekindle backtest --uplift');
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(1);
}
