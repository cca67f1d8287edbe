/** Follows a cycle until it is finished (or failed, or the timeout), printing a line whenever it moves. */
import type { Queues } from '../../jobs/enqueue.js';
import { jobId } from '../../jobs/catalog.js';
import type { Database } from '../db/client.js';
import { AppError } from '../domain/errors.js';
import { cycleFinished, cycleStatus, type CycleStatus } from '../services/cycle-status.js';

export async function followCycle(db: Database, queues: Queues, cycleId: string, timeoutMs: number, say: (line: string) => void, now: () => Date = () => new Date()): Promise<CycleStatus> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const s = await cycleStatus(db, cycleId, now());
    const stage = !s.rescoreRunId
      ? 'fitting models'
      : !s.scoringDone
        ? `scoring (${s.scored} users so far)`
        : !s.recommendRunId
          ? 'recommending'
          : s.status !== 'planned'
            ? 'planning outreach'
            : `delivering: ${s.outreach.sent} sent, ${s.outreach.due} due, ${s.outreach.delayed} after quiet hours; webhooks ${s.webhooks.delivered} delivered, ${s.webhooks.pending} pending`;
    if (stage !== last) say(`cycle ${cycleId}: ${stage}`);
    last = stage;
    if (cycleFinished(s)) return s;
    for (const [queue, id] of [
      [queues.scoring, jobId.cycle(cycleId)],
      [queues.scoring, jobId.plan(cycleId)],
    ] as const) {
      const job = await queue.getJob(id);
      if (job && (await job.getState()) === 'failed') throw new CycleFailedError(`cycle ${cycleId} failed in ${job.name}: ${job.failedReason}`);
    }
    if (Date.now() > deadline) throw new CycleFailedError(`cycle ${cycleId} did not finish within ${Math.round(timeoutMs / 1000)} s (last: ${stage}); is a worker running?`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export class CycleFailedError extends AppError {
  constructor(message: string) {
    super('external', message);
  }
}
