/**
 * What the uplift model sees of a user when an offer is planned: the churn features (as the
 * churn model transforms them), the churn probability, the RFM scores (the persona part that is
 * stable between runs: k-means cluster ids are re-drawn at every refit, so they are not used),
 * and the contact history in this campaign. Stored on each outreach row at planning time
 * (`outreach.features`), so a settled row carries exactly what the model could have known.
 */
import { FEATURE_NAMES, FEATURES } from './features.js';

/** The snapshot stored on an outreach row. Imported rows may miss parts (null). */
export interface OutreachFeatures {
  /** Raw churn features in FEATURES order. */
  v: number[];
  churn: number | null;
  /** RFM quintile scores 1–5. */
  rfm: [number, number, number] | null;
  /** Earlier outreach rows (treated or holdout) of this user in the campaign. */
  contacts: number;
  /** Days since the last of them; null when none. */
  daysSinceContact: number | null;
}

export const UPLIFT_FEATURE_NAMES: readonly string[] = [...FEATURE_NAMES, 'churn_probability', 'rfm_r', 'rfm_f', 'rfm_m', 'contacts_before', 'days_since_contact'];

const NO_CONTACT_DAYS = 365;

/**
 * The model's row for a snapshot: log1p where the churn model uses it, contact days capped at a
 * year ("never" = a year). Missing parts (imported rows) are NaN, for the caller to impute.
 */
export function upliftRow(f: OutreachFeatures, out = new Float64Array(UPLIFT_FEATURE_NAMES.length)): Float64Array {
  const n = FEATURES.length;
  for (let i = 0; i < n; i++) {
    const def = FEATURES[i]!;
    const raw = f.v[i];
    out[i] = raw === undefined || raw === null || !Number.isFinite(raw) ? Number.NaN : 'transform' in def && def.transform === 'log1p' ? Math.log1p(Math.max(0, raw)) : raw;
  }
  out[n] = f.churn ?? Number.NaN;
  out[n + 1] = f.rfm?.[0] ?? Number.NaN;
  out[n + 2] = f.rfm?.[1] ?? Number.NaN;
  out[n + 3] = f.rfm?.[2] ?? Number.NaN;
  out[n + 4] = Math.min(f.contacts, 50);
  out[n + 5] = f.daysSinceContact === null ? NO_CONTACT_DAYS : Math.min(NO_CONTACT_DAYS, Math.max(0, f.daysSinceContact));
  return out;
}

/** Replaces NaN cells by their column's mean over the rows that have it (0 when none do). Returns the means. */
export function imputeColumnMeans(x: Float64Array, nRows: number, nCols: number): Float64Array {
  const sum = new Float64Array(nCols);
  const cnt = new Float64Array(nCols);
  for (let i = 0; i < nRows; i++) {
    for (let j = 0; j < nCols; j++) {
      const v = x[i * nCols + j]!;
      if (!Number.isNaN(v)) {
        sum[j]! += v;
        cnt[j]! += 1;
      }
    }
  }
  const mean = new Float64Array(nCols);
  for (let j = 0; j < nCols; j++) mean[j] = cnt[j]! > 0 ? sum[j]! / cnt[j]! : 0;
  for (let i = 0; i < nRows * nCols; i++) if (Number.isNaN(x[i]!)) x[i] = mean[i % nCols]!;
  return mean;
}
