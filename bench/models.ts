/**
 * bench:models — time and peak RSS of the model pipeline at growing sizes, with baselines.
 *
 * Per size (users seeded with --seed into a fresh scratch PostgreSQL database, dropped
 * afterwards), each phase in a child process of its own, so its peak RSS is its own:
 *   seed       seedPlatform (the real batch writer), reused by every phase of that size
 *   features   featuresAsOf over all chunks as of the end date
 *   trainset   collectTrainingSet twice (train window and the held-out window after it)
 *   train      our Newton/IRLS ChurnModel.train on the training set, AUC on the held-out set
 *   reference  ml-logistic-regression on the same standardised rows (tuned rate, fixed steps)
 *   rescore    the full scoring run: fit, features → score → write user_scores
 *   recommend  recommendAll: build the recommender, top-N for every user, write
 *   itemsim    itemCfNeighbours on the real interactions vs dense ml-distance cosine
 * Once: itemCfNeighbours on a synthetic 5k items × 100k users × 2M interactions (Zipf).
 *
 * Usage: npm run bench:models [-- --sizes 10000,100000,1000000] [--phases features,train,…]
 *        [--db URL (an already seeded database; one size; not dropped)] [--keep] [--no-synthetic]
 * Phases print `BENCH_RESULT {json}`; peak RSS comes from bench/rss-reporter.mjs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, runMeasured, scratchDatabase, table } from './support.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    seed: { type: 'string', default: '1' },
    end: { type: 'string', default: '2025-07-01T00:00:00Z' },
    phases: { type: 'string', default: 'features,trainset,train,reference,rescore,recommend,itemsim' },
    db: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'no-synthetic': { type: 'boolean', default: false },
    'ref-steps': { type: 'string' },
    'ref-max-steps': { type: 'string', default: '500' },
    'ref-budget': { type: 'string', default: '120' },
  },
});
const SIZES = args.sizes.split(',').map(Number);
const PHASES = new Set(args.phases.split(','));
if (PHASES.has('train') || PHASES.has('reference')) PHASES.add('trainset');
if (args.db && SIZES.length !== 1) throw new Error('--db reuses one seeded database: give exactly one --sizes value (its user count)');

type Result = Record<string, any> & { seconds: number };
interface PhaseRun {
  result: Result | null;
  rssMb: number | null;
  wallSeconds: number;
  error?: string;
}

async function runPhase(phase: string, target: string, extra: string[]): Promise<PhaseRun> {
  const r = await runMeasured(['--import', 'tsx', `bench/models/${phase}.ts`, target, ...extra], { LOG_LEVEL: 'warn' });
  const line = /^BENCH_RESULT (.*)$/m.exec(r.out);
  const run: PhaseRun = { result: line ? (JSON.parse(line[1]!) as Result) : null, rssMb: r.rssMb, wallSeconds: r.seconds };
  if (r.code !== 0 || !run.result) run.error = `${phase} exited with ${r.code}: ${r.err.trim().slice(-1500)}`;
  return run;
}

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const int = (v: number | null | undefined) => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en'));
const mb = (r: PhaseRun) => (r.rssMb === null ? '–' : r.rssMb.toFixed(0));
const dur = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(s < 10 ? 2 : 1)} s`);
const pass = (ok: boolean) => (ok ? 'met' : 'NOT met');
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const topDb = (db: Record<string, { calls: number; seconds: number }> | undefined, n = 4) =>
  db ? Object.entries(db).slice(0, n).map(([k, v]) => `${k} ${v.seconds.toFixed(1)} s/${v.calls}`).join(', ') : '';

interface SizeSummary {
  users: number;
  runs: Record<string, PhaseRun>;
}

async function benchSize(users: number): Promise<SizeSummary> {
  console.log(`\n== ${users.toLocaleString('en')} users (load average ${load()}) ==`);
  const scratch = args.db ? null : await scratchDatabase(`models_${users}`);
  const url = args.db ?? scratch!.url;
  const dir = mkdtempSync(join(tmpdir(), 'rk-bench-models-'));
  const data = join(dir, 'churn');
  const runs: Record<string, PhaseRun> = {};
  const end = ['--end', args.end];
  const step = async (phase: string, extra: string[], target = url, key = phase) => {
    process.stderr.write(`  ${key}… `);
    const r = await runPhase(phase, target, extra);
    process.stderr.write(r.error ? 'failed\n' : `${r.result!.seconds.toFixed(1)} s, ${mb(r)} MB\n`);
    if (r.error) console.log(`  ! ${r.error}`);
    runs[key] = r;
    return r;
  };
  try {
    if (!args.db) {
      const s = await step('seed', ['--users', String(users), '--seed', args.seed, ...end]);
      if (!s.result) return { users, runs };
    }
    if (PHASES.has('features')) await step('features', end);
    if (PHASES.has('trainset')) {
      const ts = await step('trainset', [...end, '--out', data]);
      if (ts.result) {
        if (PHASES.has('train')) {
          await step('train', ['--data', data], '-');
          // The seeded platform has fewer payers than users; time the 1M-row target on the
          // training rows resampled to 1M, once, at the largest size of the run.
          if (users === Math.max(...SIZES) && ts.result.train.rows < 1_000_000) await step('train', ['--data', data, '--rows', '1000000'], '-', 'train1m');
        }
        if (PHASES.has('reference')) await step('reference', ['--data', data, '--budget', args['ref-budget'], '--max-steps', args['ref-max-steps'], ...(args['ref-steps'] ? ['--steps', args['ref-steps']] : [])], '-');
      }
    }
    if (PHASES.has('rescore')) await step('rescore', end);
    if (PHASES.has('recommend')) await step('recommend', end);
    if (PHASES.has('itemsim')) await step('itemsim', end);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (scratch && !args.keep) await scratch.drop();
    else console.log(`  (database kept: ${url})`);
  }
  printSize(users, runs);
  return { users, runs };
}

function printSize(users: number, runs: Record<string, PhaseRun>): void {
  const r = (k: string) => runs[k]?.result ?? null;
  const seed = r('seed');
  console.log(
    seed
      ? `data: ${int(seed.users)} users, ${int(seed.events)} events (${int(seed.inserted)} inserted), ${int(seed.items)} items; seeded in ${dur(seed.seconds)}, peak RSS ${mb(runs.seed!)} MB`
      : `data: an existing database (--db), ${int(users)} users`,
  );
  const big = users >= 1_000_000;
  const rows: Record<string, string>[] = [];
  const add = (phase: string, key: string, what: (x: Result) => string, target = '') => {
    const run = runs[key];
    if (!run) return;
    rows.push({ phase, seconds: run.result ? fmt(run.result.seconds, 2) : 'failed', 'peak RSS MB': mb(run), what: run.result ? what(run.result) : (run.error ?? '').split('\n')[0]!.slice(0, 90), target });
  };
  add('features', 'features', (x) => `${int(x.rows)} rows (${int(x.payers)} payers), ${x.chunks} chunks of ${int(x.chunkSize)}, slowest ${fmt(x.slowestChunkSeconds)} s`);
  add('training set (2 windows)', 'trainset', (x) => `train ${int(x.train.rows)} rows (${fmt(x.train.seconds)} s), held-out ${int(x.test.rows)} (${fmt(x.test.seconds)} s) × ${x.features} features`);
  add('training (ours, IRLS)', 'train', (x) => `${int(x.rows)} × ${x.features}, ${x.iterations} Newton steps, AUC ${fmt(x.auc, 4)}`);
  add('training (ours) on 1M resampled rows', 'train1m', (x) => `${int(x.rows)} × ${x.features} (drawn from ${int(x.resampledFrom)}), ${x.iterations} Newton steps, AUC ${fmt(x.auc, 4)}`, runs.train1m?.result ? `< 10 s: ${pass(runs.train1m.result.seconds < 10)}` : '');
  add('training (ml-logistic-regression)', 'reference', (x) => `${int(x.rows)} rows${x.capReason ? ' (capped)' : ''}, ${x.steps} steps × 2 classifiers, AUC ${fmt(x.auc, 4)}`);
  add('rescore (fit + score + write)', 'rescore', (x) => `${int(x.scored)} scored; fit ${fmt(x.fitSeconds)} s, score+write ${fmt(x.scoreSeconds)} s`, runs.rescore?.result ? `< 60 s, < 2 GB at 1M: ${big ? `${pass(runs.rescore.result.seconds < 60)} / ${pass((runs.rescore.rssMb ?? Infinity) < 2048)}` : 'n/a'}` : '');
  add('recommend (recommendAll)', 'recommend', (x) => `${int(x.users)} users, ${int(x.recommendations)} recs; build ${fmt(x.buildSeconds)} s, top-N+write ${fmt(x.recommendSeconds)} s`);
  add('item-cf on these interactions', 'itemsim', (x) => `${int(x.items)} items × ${int(x.users)} users, ${int(x.interactions)} interactions (loaded in ${fmt(x.loadSeconds)} s)`);
  if (rows.length) console.log(`\n${table(rows)}`);

  const tr = r('train');
  const ref = r('reference');
  if (tr || ref) {
    const t: Record<string, string>[] = [];
    if (tr) t.push({ model: 'ours: IRLS, balanced weights, λ = 1 (as fitChurn)', rows: int(tr.rows), seconds: fmt(tr.seconds, 2), 'held-out AUC': fmt(tr.auc, 4), 'Δ vs reference': ref ? fmt(tr.auc - ref.auc, 4) : '–' });
    const t1 = r('train1m');
    if (t1) t.push({ model: 'ours, the same, on the rows resampled to 1M', rows: int(t1.rows), seconds: fmt(t1.seconds, 2), 'held-out AUC': fmt(t1.auc, 4), 'Δ vs reference': ref ? fmt(t1.auc - ref.auc, 4) : '–' });
    if (ref) {
      t.push({ model: "ours: IRLS, library's objective (no weights, λ = 0), same rows", rows: int(ref.rows), seconds: fmt(ref.sameRows.seconds, 2), 'held-out AUC': fmt(ref.sameRows.auc, 4), 'Δ vs reference': fmt(ref.sameRows.auc - ref.auc, 4) });
      t.push({ model: `ml-logistic-regression: rate ${ref.c}/rows, ${ref.steps} steps`, rows: int(ref.rows), seconds: fmt(ref.seconds, 2), 'held-out AUC': fmt(ref.auc, 4), 'Δ vs reference': '0' });
    }
    if (tr) t.push({ model: 'recency only (baseline ranking)', rows: '', seconds: '', 'held-out AUC': fmt(tr.recencyAuc, 4), 'Δ vs reference': ref ? fmt(tr.recencyAuc - ref.auc, 4) : '–' });
    console.log(`\nchurn training, held-out AUC on ${int(tr?.testRows ?? ref?.availableRows)} users of the next window:\n${table(t)}`);
    if (ref) {
      const steps = (t: { c: number; stepsToTolerance: number | null }) => `${t.c}: ${t.stepsToTolerance ?? `>${ref.maxSteps}`}`;
      console.log(
        `  reference: rate c/rows and steps from replaying its update on ${int(ref.tuneRows)} rows (${fmt(ref.tuneSeconds)} s, not counted), ` +
          (ref.stepsSearched ? `steps to within ${ref.tolerance} log-lik/row of the optimum by c {${ref.tuning.map(steps).join(', ')}}` : `c by log-lik after ${ref.steps} steps`) +
          ` → c = ${ref.c}, ${ref.steps} steps.\n  converged? on its ${int(ref.rows)} training rows, log-lik/row library ${fmt(ref.trainLogLik.library, 5)} vs optimum ${fmt(ref.trainLogLik.ours, 5)}; max |coefficient gap| ${fmt(ref.maxCoefficientGap, 4)} (correlated features: a flat direction that does not change predictions)`,
      );
      if (ref.capReason) console.log(`  reference rows capped to ${int(ref.rows)}: ${ref.capReason}`);
      if (tr) console.log(`  target: AUC within 0.001 of the reference: |Δ| = ${fmt(Math.abs(tr.auc - ref.auc), 4)} → ${pass(Math.abs(tr.auc - ref.auc) <= 0.001)}; speed: ours ${fmt(tr.seconds, 2)} s on ${int(tr.rows)} rows vs the library ${fmt(ref.seconds, 1)} s on ${int(ref.rows)}`);
    }
  }
  const sim = r('itemsim');
  if (sim) printItemSim('item similarity on the seeded interactions', sim, runs.itemsim!);
  const rs = r('rescore');
  const rc = r('recommend');
  if (rs || rc) {
    console.log('\nwhere the database time went (seconds / statements):');
    if (rs) console.log(`  rescore:   ${topDb(rs.db)}`);
    if (rc) console.log(`  recommend: ${topDb(rc.db)}`);
  }
}

function printItemSim(title: string, x: Result, run: PhaseRun, target = ''): void {
  const d = x.dense;
  console.log(`\n${title}: ${int(x.items)} items × ${int(x.users)} users, ${int(x.interactions)} interactions (${int(x.stats.entries)} distinct pairs, ${int(x.stats.cappedUsers)} users capped at 300 items)`);
  console.log(
    table([
      { method: 'ours: itemCfNeighbours (inverted index, exact cosine, top 50)', time: dur(x.seconds), 'peak RSS MB': mb(run), detail: `${int(x.stats.accumulations)} multiply-adds, ${int(x.neighbours)} neighbours kept` },
      { method: 'ml-distance cosine, dense Float64Array vectors, all pairs', time: `~${dur(d.extrapolatedSeconds)}`, 'peak RSS MB': '', detail: `${(d.secondsPerPair * 1e6).toFixed(0)} µs a pair (median; mean ${(d.meanSecondsPerPair * 1e6).toFixed(0)}) measured on ${int(d.pairs)} random pairs × ${int(d.allPairs)} pairs; dense matrix ${(d.matrixBytes / 2 ** 30).toFixed(1)} GiB; NaN for ${d.nanPairs} sampled pairs` },
    ]),
  );
  console.log(`  agreement: our best neighbour of ${x.agreement.checked} random items re-scored densely, max |Δ cosine| ${x.agreement.maxAbsDiff.toExponential(1)}${x.stats.cappedUsers ? ' (differs where capped users contribute)' : ''}${target ? `\n  ${target}` : ''}`);
}

async function main() {
  console.log(`bench:models — ${machine()}; load average ${load()} at start`);
  console.log(`inputs: sizes ${SIZES.map((s) => s.toLocaleString('en')).join(', ')} users; seed ${args.seed}; end ${args.end}; phases ${[...PHASES].join(', ')}; reference ${args['ref-steps'] ? `${args['ref-steps']} steps` : `steps until converged (≤ ${args['ref-max-steps']})`}, budget ${args['ref-budget']} s`);
  console.log('note: the 2 cores are shared with PostgreSQL (same machine) and with other work right now: timings are noisy, compare within a run.');
  const summaries: SizeSummary[] = [];
  for (const users of SIZES) summaries.push(await benchSize(users));

  if (!args['no-synthetic']) {
    console.log(`\n== synthetic item-cf: 5,000 items × 100,000 users × 2,000,000 interactions (load average ${load()}) ==`);
    const run = await runPhase('itemsim', '-', ['--items', '5000', '--users', '100000', '--interactions', '2000000']);
    if (run.result) printItemSim('items Zipf(1) popularity, users Zipf(0.5) activity, 20% purchases', run.result, run, `target: all neighbours < 10 s → ${dur(run.result.seconds)}: ${pass(run.result.seconds < 10)}`);
    else console.log(`  ! ${run.error}`);
  }

  if (summaries.length > 1) {
    const keys = [
      ['features', 'features'],
      ['trainset', 'training set'],
      ['train', 'training (ours)'],
      ['train1m', 'training (ours), 1M resampled rows'],
      ['reference', 'training (ml-logistic-regression)'],
      ['rescore', 'rescore'],
      ['recommend', 'recommend'],
      ['itemsim', 'item-cf (real interactions)'],
    ] as const;
    const rows = keys
      .filter(([k]) => summaries.some((s) => s.runs[k]))
      .map(([k, name]) => {
        const row: Record<string, string> = { phase: name };
        for (const s of summaries) {
          const run = s.runs[k];
          row[`${s.users.toLocaleString('en')} users`] = run?.result ? `${fmt(run.result.seconds, 1)} s / ${mb(run)} MB` : run ? 'failed' : '–';
        }
        return row;
      });
    console.log(`\ngrowth with size (seconds / peak RSS):\n${table(rows)}`);
  }
  console.log('\ntargets (2 cores): training on 1M rows × ~25 features < 10 s with AUC within 0.001 of the reference; rescore of 1M users < 60 s and < 2 GB RSS; all item-item neighbours for 5k items × 100k users × 2M interactions < 10 s.');
}

await main();
// A kept scratch database leaves its admin connection open.
process.exit(process.exitCode ?? 0);
