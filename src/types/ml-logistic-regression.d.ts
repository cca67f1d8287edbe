/**
 * Types for ml-logistic-regression 2.0.0, which ships none. Written from its source
 * (src/logreg.js, src/logreg_2classes.js). The package is CommonJS (`module.exports =
 * LogisticRegression`), so under NodeNext the default import is that class.
 *
 * Behaviour worth knowing (STACK-NOTES.md): full-batch gradient ascent with a fixed
 * learning rate and step count, summed (not averaged) gradient, no intercept, no
 * regularisation, always one-vs-all.
 */
declare module 'ml-logistic-regression' {
  import type { Matrix } from 'ml-matrix';

  interface LogisticRegressionOptions {
    /** Gradient steps per binary classifier. Default 50,000. */
    numSteps?: number;
    /** Step size on the summed gradient. Default 5e-4. */
    learningRate?: number;
    /** Restored classifiers (used by `load`). */
    classifiers?: LogisticRegressionTwoClasses[];
    numberClasses?: number;
  }

  /**
   * One binary classifier of the one-vs-all ensemble. Classifier i is trained with target
   * 0 for class i and 1 for every other class, so `testScores` is P(label ≠ i): for labels
   * 0/1, classifier 0 scores P(label = 1).
   */
  class LogisticRegressionTwoClasses {
    numSteps: number;
    learningRate: number;
    /** 1 × nColumns row of weights; null before training. */
    weights: Matrix | null;
    /** `target` is an nRows × 1 column of 0/1. */
    train(features: Matrix, target: Matrix): void;
    /** σ(x·w) per row. */
    testScores(features: Matrix): number[];
    /** Rounded `testScores`. */
    predict(features: Matrix): number[];
    toJSON(): { numSteps: number; learningRate: number; weights: Matrix | null };
    static load(model: { numSteps?: number; learningRate?: number; weights?: Matrix | number[][] | null }): LogisticRegressionTwoClasses;
  }

  interface LogisticRegressionJSON {
    name: 'LogisticRegression';
    numSteps: number;
    learningRate: number;
    numberClasses: number;
    classifiers: LogisticRegressionTwoClasses[];
  }

  export default class LogisticRegression {
    constructor(options?: LogisticRegressionOptions);
    numSteps: number;
    learningRate: number;
    numberClasses: number;
    classifiers: LogisticRegressionTwoClasses[];
    /** `Y` is an nRows × 1 column of class labels 0 … k−1 (k = number of distinct labels). */
    train(X: Matrix, Y: Matrix): void;
    /** The predicted class per row (the class whose "not this class" score is lowest). */
    predict(X: Matrix): number[];
    toJSON(): LogisticRegressionJSON;
    /** @throws Error `invalid model: <name>` unless `model.name` is 'LogisticRegression'. */
    static load(model: LogisticRegressionJSON | Record<string, unknown>): LogisticRegression;
  }
}
