/** Settling outreach outcomes: every row whose conversion window closed, once (see src/services/settle.ts). */
import { settleOutreach } from '../../src/services/settle.js';
import type { Handler } from './context.js';

export const settle: Handler<'outreach.settle'> = async (_data, _job, ctx) =>
  settleOutreach({ db: ctx.db, log: ctx.log.child({ module: 'settle' }), now: ctx.now }, { windowDays: ctx.outreach.conversionWindowDays });
