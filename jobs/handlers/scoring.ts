/** Scoring jobs: start a cycle (fit, then fan out as a flow), score a chunk, finish, recommend, plan. */
import { UnrecoverableError, type FlowJobNode } from 'bullmq';
import { finishModelRun } from '../../src/store/model-runs.js';
import { refreshScoreAggregates } from '../../src/store/score-aggregates.js';
import { publishScores } from '../../src/store/scores.js';
import { userSeqRange } from '../../src/store/features.js';
import { fitScoringModels, loadScoringModels, scoreRange, type ScoringModels } from '../../src/services/rescore.js';
import { recommendAll } from '../../src/services/recommend.js';
import { planOutreach } from '../../src/services/outreach-plan.js';
import { settleOutreach } from '../../src/services/settle.js';
import { refreshUpliftModels } from '../../src/services/uplift.js';
import { JOBS, jobId } from '../catalog.js';
import { cycleIdFor, defaultJobOptions, enqueueBulk } from '../enqueue.js';
import type { Handler } from './context.js';
import { enqueueEmails } from './delivery.js';

export const startCycle: Handler<'cycle.start'> = async (data, job, ctx) => {
  const cycleId = data.cycleId ?? cycleIdFor(new Date(job.timestamp));
  const asOf = data.asOf ? new Date(data.asOf) : ctx.now();
  await ctx.db.query(`insert into cycles (id) values ($1) on conflict (id) do nothing`, [cycleId]);
  const models = await fitScoringModels(ctx, ctx.model, asOf);
  await ctx.db.query(`update cycles set rescore_run_id = $2 where id = $1`, [cycleId, models.runId]);
  const { min, max, count } = await userSeqRange(ctx.db);
  const chunks: FlowJobNode[] = [];
  if (count > 0) {
    for (let from = min; from <= max; from += ctx.model.chunkSize) {
      chunks.push({
        name: 'churn.score-chunk',
        queueName: JOBS['churn.score-chunk'].queue,
        data: { runId: models.runId, from, to: from + ctx.model.chunkSize },
        opts: { ...defaultJobOptions('churn.score-chunk'), jobId: jobId.chunk(models.runId, from), failParentOnFailure: true },
      });
    }
  }
  // Children run first: chunks → finish → recommend → plan.
  await ctx.queues.flow.add({
    name: 'outreach.plan',
    queueName: JOBS['outreach.plan'].queue,
    data: { cycleId },
    opts: { ...defaultJobOptions('outreach.plan'), jobId: jobId.plan(cycleId) },
    children: [
      {
        name: 'recommend.run',
        queueName: JOBS['recommend.run'].queue,
        data: { cycleId },
        opts: { ...defaultJobOptions('recommend.run'), jobId: jobId.recommend(cycleId), failParentOnFailure: true },
        children: [
          {
            name: 'churn.finish',
            queueName: JOBS['churn.finish'].queue,
            data: { runId: models.runId, cycleId },
            opts: { ...defaultJobOptions('churn.finish'), jobId: jobId.finish(models.runId), failParentOnFailure: true },
            children: chunks,
          },
        ],
      },
    ],
  });
  ctx.log.info({ cycleId, runId: models.runId, chunks: chunks.length }, 'cycle started');
  return { cycleId, runId: models.runId, chunks: chunks.length };
};

// Models are loaded once per run per worker process, not once per chunk.
const modelCache = new Map<number, Promise<ScoringModels>>();

export const scoreChunk: Handler<'churn.score-chunk'> = async (data, job, ctx) => {
  let models = modelCache.get(data.runId);
  if (!models) {
    models = loadScoringModels(ctx, data.runId);
    modelCache.clear();
    modelCache.set(data.runId, models);
  }
  const r = await scoreRange(ctx, await models, data.from, data.to);
  await job.updateProgress(100);
  return { scored: r.scored };
};

export const finishScoring: Handler<'churn.finish'> = async (data, _job, ctx) => {
  const published = await publishScores(ctx.db, data.runId);
  if (published?.supersededBy) {
    await finishModelRun(ctx.db, data.runId, 'failed', { error: `not published: run ${published.supersededBy}, newer, is already live` });
    throw new UnrecoverableError(`run ${data.runId} was not published: run ${published.supersededBy}, newer, is already live`);
  }
  // A retried finish finds the run already published (null): its rows are the live ones. If
  // none are, the staging table was lost (e.g. dropped as abandoned): that is a failure.
  const n = published
    ? published.published
    : Number((await ctx.db.query<{ n: number }>('select count(*)::int as n from user_scores where model_run_id = $1', [data.runId]))[0]?.n ?? 0);
  if (!published && n === 0) {
    await finishModelRun(ctx.db, data.runId, 'failed', { error: 'its scores were not found to publish (the staging table is gone)' });
    throw new UnrecoverableError(`run ${data.runId} has no scores to publish: its staging table is gone`);
  }
  const removed = published?.removed ?? 0;
  // Tier changes were queued in the publishing transaction; a retried finish finds none new
  // here, and the sweep delivers whatever is still pending.
  const deliveries = published?.webhookDeliveries ?? [];
  await enqueueBulk(ctx.queues, 'webhook.deliver', deliveries.map((id) => ({ data: { deliveryId: id }, opts: { jobId: jobId.webhook(id) } })));
  await refreshScoreAggregates(ctx.db, data.runId).catch((err: unknown) => ctx.log.warn({ err, runId: data.runId }, 'score aggregates not refreshed: the bot counts live'));
  await finishModelRun(ctx.db, data.runId, 'done', { metrics: { scored: n } });
  if (ctx.afterRescore) {
    // A Slack outage must not hold up recommendations and outreach.
    await ctx.afterRescore(data.runId).catch((err: unknown) => ctx.log.warn({ err, runId: data.runId }, 'after-rescore hook failed'));
  }
  return { scored: n, removed, riskChanges: deliveries.length };
};

export const recommend: Handler<'recommend.run'> = async (data, job, ctx) => {
  const r = await recommendAll(ctx, ctx.model, { onProgress: (n) => void job.updateProgress(n) });
  if (data.cycleId) await ctx.db.query('update cycles set recommend_run_id = $2 where id = $1', [data.cycleId, r.modelRunId]);
  return r;
};

export const plan: Handler<'outreach.plan'> = async (data, _job, ctx) => {
  // The loop: what has settled since the last cycle feeds the uplift model this cycle plans with.
  await settleOutreach(ctx, { windowDays: ctx.outreach.conversionWindowDays });
  if (ctx.outreach.policy !== 'tiers') await refreshUpliftModels(ctx, ctx.outreach.upliftGate);
  const r = await planOutreach(ctx, ctx.outreach, data.cycleId);
  const now = ctx.now().getTime();
  await enqueueEmails(ctx.queues, r.toDeliver, now);
  await enqueueBulk(ctx.queues, 'webhook.deliver', r.webhookDeliveries.map((id) => ({ data: { deliveryId: id }, opts: { jobId: jobId.webhook(id) } })));
  await ctx.db.query(`update cycles set status = 'planned' where id = $1`, [data.cycleId]);
  return { planned: r.planned, holdout: r.holdout, skipped: r.skipped, paused: r.paused, policy: r.policy, fallback: r.fallback, webhooks: r.webhookDeliveries.length };
};
