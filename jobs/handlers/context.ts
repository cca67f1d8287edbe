/** What every handler gets: opened dependencies and settings, built once per worker process. */
import type { Job } from 'bullmq';
import type { Database } from '../../src/db/client.js';
import type { Logger } from '../../src/logger.js';
import type { Mailer } from '../../src/outreach/mailer.js';
import type { ModelSettings } from '../../src/services/model-settings.js';
import type { OutreachSettings } from '../../src/services/outreach-settings.js';
import type { JobName, Payload } from '../catalog.js';
import type { Queues } from '../enqueue.js';

export interface HandlerContext {
  db: Database;
  log: Logger;
  now: () => Date;
  mailer: Mailer;
  queues: Queues;
  model: ModelSettings;
  outreach: OutreachSettings;
  /** Called once a rescore run's scores are all written (the Slack digest). Failures are logged, not fatal. */
  afterRescore?: (runId: number) => Promise<void>;
}

export type Handler<N extends JobName> = (data: Payload<N>, job: Job, ctx: HandlerContext) => Promise<unknown>;
export type Handlers = { [N in JobName]: Handler<N> };
