/** The handler map, typed from the catalog: a job without a handler does not compile. */
import type { Handlers } from './context.js';
import { deliverWebhookJob, sendEmail, sendEmailBatch, sweep } from './delivery.js';
import { finishScoring, plan, recommend, scoreChunk, startCycle } from './scoring.js';
import { settle } from './settle.js';

export const handlers: Handlers = {
  'cycle.start': startCycle,
  'churn.score-chunk': scoreChunk,
  'churn.finish': finishScoring,
  'recommend.run': recommend,
  'outreach.plan': plan,
  'outreach.send-email': sendEmail,
  'outreach.send-batch': sendEmailBatch,
  'webhook.deliver': deliverWebhookJob,
  'outreach.sweep': sweep,
  'outreach.settle': settle,
};
