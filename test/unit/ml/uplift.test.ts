import { describe, expect, it } from 'vitest';
import { qiniAucScore } from '../../../src/domain/uplift-metrics.js';
import { UPLIFT_LEARNERS, UpliftModel, fitUplift, selectUplift, type UpliftData, type UpliftLearner } from '../../../src/ml/uplift.js';
import { gaussian, mulberry32 } from '../../support/prng.js';

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const NAMES = ['x0', 'x1', 'x2'];

/**
 * Three standard normal features. Baseline conversion 0.1 + 0.5·σ(2·x1) (between 0.1 and
 * 0.6, mean 0.35): risk that is NOT uplift. The offer adds 30 points when x0 > 0 and
 * nothing otherwise. x2 is noise.
 */
function synth(seed: number, n: number, pTreat: number): UpliftData {
  const rand = mulberry32(seed);
  const x = new Float64Array(n * 3);
  const treatment = new Uint8Array(n);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 3; j++) x[i * 3 + j] = gaussian(rand);
    const base = 0.1 + 0.5 * sigmoid(2 * (x[i * 3 + 1] as number));
    treatment[i] = rand() < pTreat ? 1 : 0;
    const lift = treatment[i] === 1 && (x[i * 3] as number) > 0 ? 0.3 : 0;
    y[i] = rand() < base + lift ? 1 : 0;
  }
  return { x, nRows: n, nCols: 3, treatment, y };
}

function column(d: UpliftData, j: number, sign = 1): Float64Array {
  const out = new Float64Array(d.nRows);
  for (let i = 0; i < d.nRows; i++) out[i] = sign * (d.x[i * d.nCols + j] as number);
  return out;
}

const train = synth(1, 20_000, 0.5);
const test = synth(2, 20_000, 0.5);
// A holdout as small as production's (15%): the class transformation must reweight.
const trainSmallHoldout = synth(3, 20_000, 0.85);

describe.each(UPLIFT_LEARNERS.map((l) => [l]))('%s', (learner: UpliftLearner) => {
  it.each([
    ['half holdout', train],
    ['15% holdout', trainSmallHoldout],
  ])('ranks by the feature that carries uplift, not by baseline risk (%s)', (_label, data) => {
    const model = fitUplift(data, { learner, featureNames: NAMES });
    const scores = model.predictMany(test.x, test.nRows);
    const qini = qiniAucScore(test.y, scores, test.treatment);
    const byX0 = qiniAucScore(test.y, column(test, 0), test.treatment);
    const byRisk = qiniAucScore(test.y, column(test, 1), test.treatment);
    const byLowRisk = qiniAucScore(test.y, column(test, 1, -1), test.treatment);
    // The true uplift ranking (x0 > 0 first) scores ≈ 0.12 against sklift's per-row oracle;
    // baseline risk ≈ 0 either way round.
    expect(byX0).toBeGreaterThan(0.1);
    expect(Math.abs(byRisk)).toBeLessThan(0.02);
    expect(Math.abs(byLowRisk)).toBeLessThan(0.02);
    expect(qini).toBeGreaterThan(0.09);
    expect(qini).toBeGreaterThan(byRisk + 0.08);
    expect(qini).toBeGreaterThan(byLowRisk + 0.08);
    expect(qini).toBeGreaterThan(0.85 * byX0);

    // Mean predicted uplift: ≈ 0.3 where x0 > 0 and ≈ 0 elsewhere (a logistic model
    // smooths the step, so only roughly).
    let upPos = 0;
    let nPos = 0;
    let upNeg = 0;
    for (let i = 0; i < test.nRows; i++) {
      if ((test.x[i * 3] as number) > 0) {
        upPos += scores[i] as number;
        nPos++;
      } else {
        upNeg += scores[i] as number;
      }
    }
    expect(upPos / nPos).toBeGreaterThan(0.2);
    expect(upNeg / (test.nRows - nPos)).toBeLessThan(0.08);
  });

  it('predicts consistent probabilities, and predictMany agrees with predict', () => {
    const model = fitUplift(train, { learner, featureNames: NAMES });
    const many = model.predictMany(test.x.subarray(0, 200 * 3), 200);
    for (let i = 0; i < 200; i++) {
      const p = model.predict(test.x.subarray(i * 3, i * 3 + 3));
      expect(p.uplift).toBe(many[i]);
      expect(p.pTreated).toBeGreaterThan(0);
      expect(p.pTreated).toBeLessThan(1);
      expect(p.pControl).toBeGreaterThanOrEqual(0);
      expect(p.pControl).toBeLessThanOrEqual(1);
      expect(p.uplift).toBeGreaterThan(-1);
      expect(p.uplift).toBeLessThan(1);
      if (learner === 't-learner') expect(p.pTreated - p.pControl).toBe(p.uplift);
      else expect(p.pControl).toBe(Math.min(1, Math.max(0, p.pTreated - p.uplift)));
    }
  });

  it('round-trips through JSON with identical predictions', () => {
    const model = fitUplift(trainSmallHoldout, { learner, featureNames: NAMES, lambda: 0.5 });
    const json = JSON.parse(JSON.stringify(model.toJSON())) as unknown;
    const loaded = UpliftModel.load(json);
    expect(loaded.learner).toBe(learner);
    expect(loaded.featureNames).toEqual(NAMES);
    expect(loaded.lambda).toBe(0.5);
    expect(loaded.toJSON()).toEqual(model.toJSON());
    expect(loaded.predictMany(test.x, test.nRows)).toEqual(model.predictMany(test.x, test.nRows));
    const row = [0.3, -1.2, 2];
    expect(loaded.predict(row)).toEqual(model.predict(row));
  });

  it('is deterministic', () => {
    expect(fitUplift(train, { learner, featureNames: NAMES }).toJSON()).toEqual(fitUplift(train, { learner, featureNames: NAMES }).toJSON());
  });
});

describe('t-learner', () => {
  it('recovers the conversion rates of each arm, roughly', () => {
    const model = fitUplift(train, { learner: 't-learner', featureNames: NAMES });
    // Truth: P(convert | no offer) averages 0.35 everywhere; with the offer 0.65 where
    // x0 > 0 and 0.35 elsewhere. μ₁ is logistic in x0, so it smooths the step at 0 and its
    // group means land within a few points of the truth.
    let pTPos = 0;
    let pTNeg = 0;
    let pC = 0;
    let nPos = 0;
    for (let i = 0; i < test.nRows; i++) {
      const p = model.predict(test.x.subarray(i * 3, i * 3 + 3));
      pC += p.pControl;
      if ((test.x[i * 3] as number) > 0) {
        pTPos += p.pTreated;
        nPos++;
      } else {
        pTNeg += p.pTreated;
      }
    }
    expect(pC / test.nRows).toBeCloseTo(0.35, 1);
    expect(Math.abs(pTPos / nPos - 0.65)).toBeLessThan(0.07);
    expect(Math.abs(pTNeg / (test.nRows - nPos) - 0.35)).toBeLessThan(0.07);

    // An unpenalised intercept makes μ₁ average exactly the treated rate over treated rows.
    let sumMu1 = 0;
    let yT = 0;
    let nT = 0;
    for (let i = 0; i < train.nRows; i++) {
      if (train.treatment[i] !== 1) continue;
      sumMu1 += model.predict(train.x.subarray(i * 3, i * 3 + 3)).pTreated;
      yT += train.y[i] as number;
      nT++;
    }
    expect(sumMu1 / nT).toBeCloseTo(yT / nT, 6);
  });
});

describe('class-transformation', () => {
  it('needs conversions only in the treated arm', () => {
    const d = synth(4, 2_000, 0.5);
    const y = Uint8Array.from(d.y, (v, i) => (d.treatment[i] === 0 ? 0 : v));
    const data = { ...d, y };
    expect(() => fitUplift(data, { learner: 't-learner', featureNames: NAMES })).toThrow(
      /the t-learner needs holdout rows that converted and that did not/,
    );
    const model = fitUplift(data, { learner: 'class-transformation', featureNames: NAMES });
    expect(model.predict([0, 0, 0]).pControl).toBeGreaterThanOrEqual(0);
  });
});

describe('selectUplift', () => {
  const rand = mulberry32(9);
  const mask = Uint8Array.from({ length: trainSmallHoldout.nRows }, () => (rand() < 0.3 ? 1 : 0));

  it('scores both learners on the validation rows, keeps the better Qini, and refits it on all rows', () => {
    const sel = selectUplift(trainSmallHoldout, mask, { featureNames: NAMES });
    for (const l of UPLIFT_LEARNERS) {
      expect(sel.validation[l].qini).toBeGreaterThan(0.08);
      expect(sel.validation[l].auuc).toBeGreaterThan(0.08);
    }
    const other = UPLIFT_LEARNERS.find((l) => l !== sel.learner) as UpliftLearner;
    expect(sel.validation[sel.learner].qini).toBeGreaterThanOrEqual(sel.validation[other].qini);
    expect(sel.model.learner).toBe(sel.learner);
    expect(sel.model.toJSON()).toEqual(fitUplift(trainSmallHoldout, { learner: sel.learner, featureNames: NAMES }).toJSON());

    // The validation numbers are those of a model fitted on the mask-0 rows only.
    const keep: number[] = [];
    const hold: number[] = [];
    for (let i = 0; i < mask.length; i++) (mask[i] === 0 ? keep : hold).push(i);
    const sub = (rows: number[]): UpliftData => ({
      x: Float64Array.from(rows.flatMap((i) => Array.from(trainSmallHoldout.x.subarray(i * 3, i * 3 + 3)))),
      nRows: rows.length,
      nCols: 3,
      treatment: rows.map((i) => trainSmallHoldout.treatment[i] as number),
      y: rows.map((i) => trainSmallHoldout.y[i] as number),
    });
    const valid = sub(hold);
    const m = fitUplift(sub(keep), { learner: 't-learner', featureNames: NAMES });
    expect(sel.validation['t-learner'].qini).toBe(qiniAucScore(valid.y, m.predictMany(valid.x, valid.nRows), valid.treatment));
  });

  it('is deterministic', () => {
    const a = selectUplift(trainSmallHoldout, mask, { featureNames: NAMES });
    const b = selectUplift(trainSmallHoldout, mask, { featureNames: NAMES });
    expect(b.learner).toBe(a.learner);
    expect(b.validation).toEqual(a.validation);
    expect(b.model.toJSON()).toEqual(a.model.toJSON());
  });

  it('rejects a bad mask or validation rows without both arms', () => {
    expect(() => selectUplift(train, new Uint8Array(10), { featureNames: NAMES })).toThrow(
      /validationMask must have one value per row \(20000\), got 10/,
    );
    const two = Uint8Array.from(mask, (v) => v * 2);
    expect(() => selectUplift(trainSmallHoldout, two, { featureNames: NAMES })).toThrow(/validationMask must be 0 \(train\) or 1 \(validate\)/);
    const onlyTreated = Uint8Array.from(train.treatment);
    expect(() => selectUplift(train, onlyTreated, { featureNames: NAMES })).toThrow(
      /validation rows \(mask 1\) need both treated and holdout rows/,
    );
  });
});

describe('input checks', () => {
  const small = synth(5, 200, 0.5);

  it('rejects one-arm data for both learners', () => {
    for (const learner of UPLIFT_LEARNERS) {
      const allTreated = { ...small, treatment: new Uint8Array(small.nRows).fill(1) };
      expect(() => fitUplift(allTreated, { learner, featureNames: NAMES })).toThrow(/needs both treated and holdout rows \(got 200 treated rows/);
      const allHoldout = { ...small, treatment: new Uint8Array(small.nRows) };
      expect(() => fitUplift(allHoldout, { learner, featureNames: NAMES })).toThrow(/needs both treated and holdout rows/);
    }
  });

  it('rejects a treated arm without both outcomes', () => {
    const y = Uint8Array.from(small.y, (v, i) => (small.treatment[i] === 1 ? 1 : v));
    expect(() => fitUplift({ ...small, y }, { learner: 'class-transformation', featureNames: NAMES })).toThrow(
      /treated rows must include converted and not converted users/,
    );
  });

  it('rejects bad shapes, flags and values with the constraint in the message', () => {
    const opts = { learner: 't-learner' as const, featureNames: NAMES };
    expect(() => fitUplift({ ...small, nRows: 199 }, opts)).toThrow(/x must hold nRows × nCols = 199 × 3 = 597 values \(got 600\)/);
    expect(() => fitUplift(small, { ...opts, featureNames: ['a', 'b'] })).toThrow(/featureNames must name every column \(3\), got 2/);
    expect(() => fitUplift({ ...small, y: Array.from(small.y).slice(1) }, opts)).toThrow(/one value per row \(200\)/);
    const t = Uint8Array.from(small.treatment);
    t[7] = 2;
    expect(() => fitUplift({ ...small, treatment: t }, opts)).toThrow(/treatment must be 0 \(holdout\) or 1 \(treated\) \(row 7 is 2\)/);
    const y = Array.from(small.y);
    y[3] = 0.5;
    expect(() => fitUplift({ ...small, y }, opts)).toThrow(/y must be 0 or 1 \(row 3 is 0.5\)/);
    const x = Float64Array.from(small.x);
    x[3 * 3 + 1] = Number.NaN;
    expect(() => fitUplift({ ...small, x }, opts)).toThrow(/features must be finite \(row 3, column 1 is NaN\)/);
    expect(() => fitUplift(small, { ...opts, lambda: -1 })).toThrow(/lambda must be a finite number ≥ 0/);
    expect(() => fitUplift(small, { ...opts, learner: 'x-learner' as UpliftLearner })).toThrow(/learner must be/);
  });

  it('rejects bad rows at prediction and bad documents at load', () => {
    const model = fitUplift(small, { learner: 't-learner', featureNames: NAMES });
    expect(() => model.predict([1, 2])).toThrow(/row must have 3 values \(got 2\)/);
    expect(() => model.predict([1, Number.POSITIVE_INFINITY, 0])).toThrow(/feature x1 must be finite/);
    expect(() => model.predictMany(new Float64Array(5), 2)).toThrow(/x must hold/);
    const json = model.toJSON();
    expect(() => UpliftModel.load(null)).toThrow(/expected an object/);
    expect(() => UpliftModel.load({ ...json, name: 'ChurnModel' })).toThrow(/name must be "UpliftModel"/);
    expect(() => UpliftModel.load({ ...json, learner: 'x' })).toThrow(/learner must be/);
    expect(() => UpliftModel.load({ ...json, control: undefined })).toThrow(/control must be an object/);
    expect(() => UpliftModel.load({ ...json, means: [0, 0] })).toThrow(/means must have 3 entries/);
    expect(() => UpliftModel.load({ ...json, scales: [1, 0, 1] })).toThrow(/scales must be positive/);
    expect(() => UpliftModel.load({ ...json, treated: { ...json.treated, coefficients: [0, 'a', 0] } })).toThrow(
      /treated\.coefficients\[1\] must be a finite number/,
    );
  });
});
