/** Job schedulers (BullMQ `upsertJobScheduler`): the daily cycle, the sweep, settling outcomes, an optional recommendation refresh. */
import type { Queues } from './enqueue.js';
import { defaultJobOptions } from './enqueue.js';

export interface ScheduleConfig {
  rescoreCron: string;
  recommendCron?: string | undefined;
  sweepCron: string;
  /** Settling outreach outcomes (SETTLE_CRON). */
  settleCron: string;
  tz: string;
}

export async function upsertSchedules(q: Queues, c: ScheduleConfig): Promise<void> {
  await q.scoring.upsertJobScheduler('cycle-daily', { pattern: c.rescoreCron, tz: c.tz }, { name: 'cycle.start', data: {}, opts: defaultJobOptions('cycle.start') });
  await q.delivery.upsertJobScheduler('sweep', { pattern: c.sweepCron, tz: c.tz }, { name: 'outreach.sweep', data: {}, opts: defaultJobOptions('outreach.sweep') });
  await q.delivery.upsertJobScheduler('settle', { pattern: c.settleCron, tz: c.tz }, { name: 'outreach.settle', data: {}, opts: defaultJobOptions('outreach.settle') });
  if (c.recommendCron) {
    await q.scoring.upsertJobScheduler('recommend-refresh', { pattern: c.recommendCron, tz: c.tz }, { name: 'recommend.run', data: {}, opts: defaultJobOptions('recommend.run') });
  } else {
    await q.scoring.removeJobScheduler('recommend-refresh');
  }
}
