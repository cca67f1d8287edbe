/**
 * Every job: its name (`area.verb`), queue, payload schema, attempts and retention. The
 * handler map is typed from this, so a job without a handler does not compile. Payloads are
 * validated when enqueued and again when a worker picks them up.
 */
import { z } from 'zod';

/** Scoring work is CPU-heavy (low concurrency); delivery is I/O (higher concurrency). */
export const QUEUES = { scoring: 'scoring', delivery: 'delivery' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

const Id = z.number().int().positive();
const CycleId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a cycle id is letters, digits, _ or -');

export const JOBS = {
  /** Fits the models of a cycle, then fans scoring out as a flow: chunks → finish → recommend → plan. */
  'cycle.start': { queue: QUEUES.scoring, schema: z.strictObject({ cycleId: CycleId.optional(), asOf: z.iso.datetime().optional() }), attempts: 2 },
  'churn.score-chunk': { queue: QUEUES.scoring, schema: z.strictObject({ runId: Id, from: z.number().int(), to: z.number().int() }), attempts: 3 },
  'churn.finish': { queue: QUEUES.scoring, schema: z.strictObject({ runId: Id, cycleId: CycleId }), attempts: 3 },
  'recommend.run': { queue: QUEUES.scoring, schema: z.strictObject({ cycleId: CycleId.optional() }), attempts: 2 },
  'outreach.plan': { queue: QUEUES.scoring, schema: z.strictObject({ cycleId: CycleId }), attempts: 3 },
  'outreach.send-email': { queue: QUEUES.delivery, schema: z.strictObject({ outreachId: Id }), attempts: 50 },
  /** Due rows, up to 100 a job; a row that fails retryably goes on alone as `outreach.send-email`. */
  'outreach.send-batch': { queue: QUEUES.delivery, schema: z.strictObject({ outreachIds: z.array(Id).min(1).max(100) }), attempts: 50 },
  'webhook.deliver': { queue: QUEUES.delivery, schema: z.strictObject({ deliveryId: Id }), attempts: 50 },
  'outreach.sweep': { queue: QUEUES.delivery, schema: z.strictObject({}), attempts: 1 },
  /** Settles outreach whose conversion window closed into outreach_outcomes (idempotent; runs may overlap). */
  'outreach.settle': { queue: QUEUES.delivery, schema: z.strictObject({}), attempts: 3 },
} as const;

export type JobName = keyof typeof JOBS;
export type Payload<N extends JobName> = z.infer<(typeof JOBS)[N]['schema']>;

export function parsePayload<N extends JobName>(name: N, data: unknown): Payload<N> {
  const r = JOBS[name].schema.safeParse(data);
  if (!r.success) throw new Error(`invalid payload for ${name}: ${r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`);
  return r.data as Payload<N>;
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

/**
 * Deterministic job ids (no ':', never all digits): enqueueing the same work twice is a
 * no-op while the first job exists, and the sweep can re-add what Redis lost.
 */
export const jobId = {
  cycle: (cycleId: string) => `cycle-${cycleId}`,
  chunk: (runId: number, from: number) => `score-${runId}-${from}`,
  finish: (runId: number) => `finish-${runId}`,
  recommend: (cycleId: string) => `recommend-${cycleId}`,
  plan: (cycleId: string) => `plan-${cycleId}`,
  email: (outreachId: number) => `email-${outreachId}`,
  /** A batch of outreach rows, named by its first and last id (the enqueuer sorts them). */
  emails: (outreachIds: readonly number[]) => `emails-${outreachIds[0]}-${outreachIds[outreachIds.length - 1]}`,
  webhook: (deliveryId: number) => `wh-${deliveryId}`,
};
