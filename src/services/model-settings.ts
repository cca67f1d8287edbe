/** The model knobs a run needs, taken from config once by the composition root. */
import type { Config } from '../config.js';

export interface ModelSettings {
  horizonDays: number;
  minUsers: number;
  minPositives: number;
  minHistoryDays: number;
  trainSample: number;
  l2: number;
  riskHigh: number;
  riskMedium: number;
  personasK: number;
  topN: number;
  /** Users per chunk (a range of users.seq) for set-based passes. */
  chunkSize: number;
  /** Chunks a single process works on at once (one feature query while the other scores and writes). */
  concurrency: number;
  /** About this many payers are sampled to fit BG/NBD, RFM quintiles and personas. */
  fitSample: number;
}

export function modelSettings(c: Config): ModelSettings {
  return {
    horizonDays: c.CHURN_HORIZON_DAYS,
    minUsers: c.CHURN_MIN_USERS,
    minPositives: c.CHURN_MIN_POSITIVES,
    minHistoryDays: c.CHURN_MIN_HISTORY_DAYS,
    trainSample: c.CHURN_TRAIN_SAMPLE,
    l2: c.CHURN_L2,
    riskHigh: c.RISK_HIGH,
    riskMedium: c.RISK_MEDIUM,
    personasK: c.PERSONAS_K,
    topN: c.RECOMMEND_TOP_N,
    chunkSize: 50_000,
    concurrency: 2,
    fitSample: 20_000,
  };
}
