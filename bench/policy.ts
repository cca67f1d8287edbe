/**
 * `npm run bench:policy`: the risk-tier policy and the uplift policy, each simulated for the
 * same days on the same seed (same platform, same users, same natural futures), side by side:
 * coupon spend, incremental conversions and net incremental revenue — as the simulator's ground
 * truth knows them and as the holdout estimates them — and the uplift model's Qini. Then
 * `simulate`'s own speed at 10k users.
 *
 *   npm run bench:policy -- [--users 4000] [--days 90] [--seed 1] [--speed-users 10000] [--speed-days 14] [--budget run|cycle|none] [--json]
 *
 * The uplift policy's coupon budget (--budget): `run` (default) gives it what the tiers spent
 * over the whole run as one budget for that many days (COUPON_BUDGET with COUPON_BUDGET_DAYS =
 * --days), so "equal or lower spend" is its constraint, not luck; `cycle` gives it the tiers'
 * average spend per cycle as a per-cycle budget (the tiers spend most on the days a whole
 * frequency-cap period comes round, so this starves those days); `none` sets no budget.
 *
 * Each run gets a scratch PostgreSQL database (BENCH_PG_ADMIN_URL) and runs in a child
 * process, one after the other: run it alone on the machine.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { machine, scratchDatabase } from './support.js';

const run = promisify(execFile);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

const users = arg('users', 4000);
const days = arg('days', 90);
const seed = arg('seed', 1);
const speedUsers = arg('speed-users', 10_000);
const speedDays = arg('speed-days', 14);
const json = process.argv.includes('--json');
const budgetMode = (() => {
  const i = process.argv.indexOf('--budget');
  const v = i < 0 ? 'run' : process.argv[i + 1];
  if (v !== 'run' && v !== 'cycle' && v !== 'none') throw new Error(`--budget must be run, cycle or none (got ${String(v)})`);
  return v;
})();
const START = '2026-06-01';

interface Sim {
  seconds: number;
  simulatedDaysPerMinute: number;
  cycles: { treated: { coupon: number; email: number }; holdout: number }[];
  truth: { offer: string; rows: number; averageEffect: number; incrementalConversions: number; netIncrementalRevenueMinor: number; expectedDiscountMinor: number }[];
  report: {
    overall: {
      treated: { n: number };
      holdout: { n: number };
      uplift: number | null;
      incrementalConversions: number | null;
      incrementalConversionsCi: [number, number] | null;
      netIncrementalRevenueMinor: number | null;
      netIncrementalRevenueCi: [number, number] | null;
      couponCostMinor: number;
      roi: number | null;
    };
  };
  uplift: { runId: number; fallback: string | null; offers: Record<string, { qini: number; random: { qini: number }; risk: { qini: number } } | null> } | null;
}

async function simulate(policy: string, n: number, d: number, extraEnv: Record<string, string> = {}): Promise<Sim> {
  const db = await scratchDatabase(`policy_${policy}`);
  try {
    const { stdout } = await run(
      process.execPath,
      ['bin/rekindle.js', 'simulate', '--users', String(n), '--days', String(d), '--seed', String(seed), '--start', START, '--policy', policy, '--json'],
      { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', QUEUE_PREFIX: `bench-${policy}`, ...extraEnv }, maxBuffer: 64 * 1024 * 1024 },
    );
    return JSON.parse(stdout) as Sim;
  } finally {
    await db.drop();
  }
}

const money = (minor: number | null | undefined) => (minor === null || minor === undefined ? 'n/a' : (minor / 100).toFixed(0));
const ci = (c: [number, number] | null | undefined, f: (v: number) => string) => (c ? `[${f(c[0])}, ${f(c[1])}]` : '');

const t0 = performance.now();
if (!json) {
  console.log(`bench:policy — ${users} users, ${days} days, seed ${seed}, a cycle every day, from ${START}; ${machine()}`);
  console.log('running the tiers policy…');
}
const tiers = await simulate('tiers', users, days);
// The uplift policy's budget: what the tiers spent (see --budget). The planner counts it at each
// coupon's expected discount; the check below is on the discounts actually given.
const tiersSpend = tiers.report.overall.couponCostMinor;
const budgetMinor = budgetMode === 'none' ? null : budgetMode === 'run' ? Math.floor(tiersSpend) : Math.floor(tiersSpend / Math.max(1, tiers.cycles.length));
const budgetEnv: Record<string, string> = budgetMinor === null ? {} : { COUPON_BUDGET: String(budgetMinor), ...(budgetMode === 'run' ? { COUPON_BUDGET_DAYS: String(days) } : {}) };
const budgetText = budgetMinor === null ? 'no coupon budget' : budgetMode === 'run' ? `COUPON_BUDGET=${budgetMinor} over ${days} days (the tiers' whole spend)` : `COUPON_BUDGET=${budgetMinor} a cycle (the tiers' average spend per cycle)`;
if (!json) console.log(`  ${tiers.seconds.toFixed(0)} s; running the uplift policy with ${budgetText}…`);
const uplift = await simulate('uplift', users, days, budgetEnv);
if (!json) console.log(`  ${uplift.seconds.toFixed(0)} s; measuring simulate at ${speedUsers} users for ${speedDays} days…`);
const speed = await simulate('auto', speedUsers, speedDays);

const all = (s: Sim) => s.truth.find((t) => t.offer === 'all') ?? { rows: 0, incrementalConversions: 0, netIncrementalRevenueMinor: 0, expectedDiscountMinor: 0, averageEffect: 0 };
const rows = [tiers, uplift].map((s, i) => {
  const truth = all(s);
  const o = s.report.overall;
  return {
    policy: i === 0 ? 'tiers' : 'uplift',
    coupons: s.cycles.reduce((a, c) => a + c.treated.coupon, 0),
    emails: s.cycles.reduce((a, c) => a + c.treated.email, 0),
    couponSpendMinor: o.couponCostMinor,
    trueIncrementalConversions: truth.incrementalConversions,
    trueNetIncrementalRevenueMinor: truth.netIncrementalRevenueMinor,
    estimatedIncrementalConversions: o.incrementalConversions,
    estimatedIncrementalConversionsCi: o.incrementalConversionsCi,
    estimatedNetIncrementalRevenueMinor: o.netIncrementalRevenueMinor,
    estimatedNetIncrementalRevenueCi: o.netIncrementalRevenueCi,
    roi: o.roi,
    qini: s.uplift?.offers ?? null,
    upliftFallback: s.uplift?.fallback ?? null,
    seconds: s.seconds,
  };
});
const [a, b] = rows as [(typeof rows)[number], (typeof rows)[number]];
const gain = a.trueNetIncrementalRevenueMinor !== 0 ? b.trueNetIncrementalRevenueMinor / a.trueNetIncrementalRevenueMinor - 1 : Number.NaN;
const result = {
  inputs: { users, days, seed, start: START, cycleEveryDays: 1, budget: budgetMode, upliftCouponBudgetMinor: budgetMinor, upliftCouponBudgetDays: budgetMode === 'run' ? days : budgetMode === 'cycle' ? 0 : null, machine: machine() },
  policies: rows,
  target: {
    trueNetGain: gain,
    gainAtLeast20pct: b.trueNetIncrementalRevenueMinor >= 1.2 * a.trueNetIncrementalRevenueMinor && b.trueNetIncrementalRevenueMinor > 0,
    spendNotHigher: b.couponSpendMinor <= a.couponSpendMinor,
    holdoutSignAgrees: rows.every((r) => r.estimatedNetIncrementalRevenueMinor !== null && Math.sign(r.estimatedNetIncrementalRevenueMinor) === Math.sign(r.trueNetIncrementalRevenueMinor)),
  },
  speed: { users: speedUsers, days: speedDays, seconds: speed.seconds, simulatedDaysPerMinute: speed.simulatedDaysPerMinute },
  seconds: (performance.now() - t0) / 1000,
};

if (json) {
  console.log(JSON.stringify(result));
} else {
  console.log('');
  console.log('policy  coupons  emails  coupon spend  true incr. conv.  true net incr. revenue  holdout est. incr. conv.     holdout est. net incr. revenue   ROI');
  for (const r of rows) {
    console.log(
      `${r.policy.padEnd(7)} ${String(r.coupons).padStart(7)} ${String(r.emails).padStart(7)} ${money(r.couponSpendMinor).padStart(13)} ${r.trueIncrementalConversions.toFixed(1).padStart(16)} ${money(r.trueNetIncrementalRevenueMinor).padStart(23)}   ${(r.estimatedIncrementalConversions ?? NaN).toFixed(1).padStart(7)} ${ci(r.estimatedIncrementalConversionsCi, (v) => v.toFixed(0)).padEnd(16)} ${money(r.estimatedNetIncrementalRevenueMinor).padStart(9)} ${ci(r.estimatedNetIncrementalRevenueCi, (v) => money(v)).padEnd(20)} ${r.roi === null ? 'n/a' : r.roi.toFixed(2)}`,
    );
  }
  const q = b.qini;
  if (q) {
    for (const [offer, m] of Object.entries(q)) {
      if (m) console.log(`uplift model (${offer}): held-out Qini ${m.qini.toFixed(3)} vs random ${m.random.qini.toFixed(3)} vs churn risk ${m.risk.qini.toFixed(3)}`);
    }
  }
  if (b.upliftFallback) console.log(`uplift model at the end: ${b.upliftFallback}`);
  console.log('');
  console.log(`target: uplift ≥ 1.2 × tiers in true net incremental revenue: ${result.target.gainAtLeast20pct ? 'met' : 'NOT met'} (${(gain * 100).toFixed(0)}% more)`);
  console.log(`        at equal or lower coupon spend: ${result.target.spendNotHigher ? 'yes' : 'NO'} (${money(b.couponSpendMinor)} vs ${money(a.couponSpendMinor)})`);
  console.log(`        holdout estimate agrees in sign with the truth: ${result.target.holdoutSignAgrees ? 'yes' : 'NO'}`);
  console.log(`simulate speed: ${speedUsers} users, ${speedDays} days in ${speed.seconds.toFixed(0)} s = ${speed.simulatedDaysPerMinute.toFixed(1)} simulated days a minute (seeding included)`);
}
