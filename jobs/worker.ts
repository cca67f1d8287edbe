/**
 * The worker entry: one BullMQ Worker per queue running the catalog's handlers. Payloads are
 * validated again at dequeue; a permanent failure (bad payload, missing row) is an
 * UnrecoverableError, `RetryLaterError` sets its own delay, anything else retries with
 * exponential backoff. `close()` lets active jobs finish (SIGTERM/SIGINT in `rekindle worker`).
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { AppError } from '../src/domain/errors.js';
import { RetryLaterError } from '../src/services/deliver.js';
import { QUEUES, isJobName, parsePayload, type JobName, type QueueName } from './catalog.js';
import type { HandlerContext, Handlers } from './handlers/context.js';

export interface WorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: { scoring: number; delivery: number };
  /** BullMQ lock: a dead worker's job is picked up again once it lapses. Default 30 s. */
  lockSeconds?: number;
  handlers: Handlers;
  ctx: HandlerContext;
  /** Called when a job finishes either way (metrics hook). */
  onDone?: (name: string, ok: boolean, ms: number) => void;
}

export interface Workers {
  workers: Worker[];
  close(): Promise<void>;
}

export function backoffDelay(attemptsMade: number, _type?: string, err?: Error): number {
  if (err instanceof RetryLaterError) return err.delayMs;
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attemptsMade - 1));
}

export function startWorkers(o: WorkerOptions): Workers {
  const processor = async (job: Job) => {
    const log = o.ctx.log.child({ job: job.name, jobId: job.id });
    const started = performance.now();
    if (!isJobName(job.name)) throw new UnrecoverableError(`unknown job ${job.name}`);
    const name: JobName = job.name;
    let data: unknown;
    try {
      data = parsePayload(name, job.data);
    } catch (e) {
      log.error({ err: e }, 'job payload rejected');
      throw new UnrecoverableError((e as Error).message);
    }
    try {
      const result = await (o.handlers[name] as (d: unknown, j: Job, c: HandlerContext) => Promise<unknown>)(data, job, { ...o.ctx, log });
      o.onDone?.(name, true, performance.now() - started);
      return result;
    } catch (e) {
      o.onDone?.(name, false, performance.now() - started);
      if (e instanceof RetryLaterError) {
        log.info({ delayMs: e.delayMs, reason: e.message }, 'job will retry');
        throw e;
      }
      if (e instanceof AppError && (e.code === 'validation' || e.code === 'not_found')) throw new UnrecoverableError(e.message);
      log.error({ err: e }, 'job failed');
      throw e;
    }
  };
  const make = (queue: QueueName, concurrency: number) => {
    const w = new Worker(queue, processor, {
      connection: o.connection,
      prefix: o.prefix,
      concurrency,
      settings: { backoffStrategy: backoffDelay },
      // A crashed worker's job is picked up again after this; the DB lease guards the row meanwhile.
      lockDuration: (o.lockSeconds ?? 30) * 1000,
      stalledInterval: (o.lockSeconds ?? 30) * 1000,
    });
    w.on('error', (err) => o.ctx.log.error({ err, queue }, 'worker error'));
    return w;
  };
  const workers = [make(QUEUES.scoring, o.concurrency.scoring), make(QUEUES.delivery, o.concurrency.delivery)];
  return {
    workers,
    close: async () => {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
