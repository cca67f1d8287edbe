/** Typed producers: queues, the flow producer, and `enqueue` validating payloads against the catalog. */
import { FlowProducer, Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOBS, QUEUES, parsePayload, type JobName, type Payload, type QueueName } from './catalog.js';

export interface Queues {
  scoring: Queue;
  delivery: Queue;
  flow: FlowProducer;
  prefix: string;
  close(): Promise<void>;
}

/** Retention: completed jobs go at once so the same deterministic id can be added again by the sweep. */
export function defaultJobOptions(name: JobName): JobsOptions {
  return {
    attempts: JOBS[name].attempts,
    backoff: { type: 'custom' },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 86_400, count: 5000 },
  };
}

export function openQueues(connection: Redis, prefix: string): Queues {
  const opts = { connection, prefix };
  const scoring = new Queue(QUEUES.scoring, opts);
  const delivery = new Queue(QUEUES.delivery, opts);
  const flow = new FlowProducer(opts);
  return {
    scoring,
    delivery,
    flow,
    prefix,
    close: async () => {
      await Promise.all([scoring.close(), delivery.close(), flow.close()]);
    },
  };
}

export function queueFor(q: Queues, name: QueueName): Queue {
  return name === QUEUES.scoring ? q.scoring : q.delivery;
}

/** Adds one job after validating its payload; a job with the same id already present is left as it is. */
export async function enqueue<N extends JobName>(q: Queues, name: N, data: Payload<N>, opts: JobsOptions & { jobId: string }): Promise<void> {
  parsePayload(name, data);
  await queueFor(q, JOBS[name].queue).add(name, data, { ...defaultJobOptions(name), ...opts });
}

/** Adds many jobs of one kind in one round trip. */
export async function enqueueBulk<N extends JobName>(q: Queues, name: N, jobs: { data: Payload<N>; opts: JobsOptions & { jobId: string } }[]): Promise<void> {
  if (jobs.length === 0) return;
  for (const j of jobs) parsePayload(name, j.data);
  const queue = queueFor(q, JOBS[name].queue);
  for (let i = 0; i < jobs.length; i += 1000) {
    await queue.addBulk(jobs.slice(i, i + 1000).map((j) => ({ name, data: j.data, opts: { ...defaultJobOptions(name), ...j.opts } })));
  }
}

/**
 * A cycle id from a time (to the second): stable across retries of the job that starts it.
 * Cycles started by hand add a suffix, so two in the same second stay apart.
 */
export function cycleIdFor(at: Date, suffix = ''): string {
  return `c${at.toISOString().slice(0, 19).replace(/[-:T]/g, '')}${suffix ? `-${suffix}` : ''}`;
}
