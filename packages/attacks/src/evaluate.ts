/**
 * The final evaluation protocol for randomized defenses (ALGORITHMS.md §6.4, §11 items 3 and 5).
 *
 * Each (adversarial or clean) example is purified R times; fresh streams get a new draw per
 * purification (EoT index r of the row), keyed streams stay keyed (the DW-box known noise). Per sample
 * it records every draw's prediction and four verdicts: the first draw (single, the paper's protocol
 * with R = 1), the fraction of correct draws (mean), correct in all R draws (worst case), and the
 * plurality vote. Robustness is never decided by one lucky stochastic forward inside an attack.
 */
import * as tf from '@tensorflow/tfjs-core';
import { eotRows, type AttackTarget, type Logger } from '@dbp-bench/framework';

export interface SampleEvaluation {
  /** Dataset index of the sample. */
  readonly sample: number;
  readonly label: number;
  /** Predicted class of each of the R purifications. */
  readonly predictions: number[];
  readonly correct: boolean[];
  /** First draw correct. */
  readonly single: boolean;
  /** Fraction of the R draws that are correct. */
  readonly mean: number;
  /** Correct in all R draws (robust only if never fooled). */
  readonly worst: boolean;
  /** The label has strictly more votes than any other class (a tie counts as not robust). */
  readonly majority: boolean;
}

export interface EvaluationSummary {
  readonly n: number;
  readonly draws: number;
  /** Accuracies in [0, 1]. */
  readonly single: number;
  readonly mean: number;
  readonly worst: number;
  readonly majority: number;
}

export interface EvaluateOptions {
  /** Rows (sample × draw) per forward pass; default 64. */
  readonly microBatch?: number;
  readonly logger?: Logger;
  /** Progress label; default `evaluate`. */
  readonly label?: string;
}

function labelsOf(y: tf.Tensor1D | Int32Array | readonly number[]): Int32Array {
  if (y instanceof tf.Tensor) return Int32Array.from(y.dataSync());
  return Int32Array.from(y);
}

/** Predicted classes of R purifications per sample (sample-major, B·R). */
export function predictRandomized(
  target: AttackTarget,
  x: tf.Tensor4D,
  sampleIndices: readonly number[],
  R: number,
  options: EvaluateOptions = {},
): Int32Array {
  const B = x.shape[0];
  if (sampleIndices.length !== B) throw new RangeError(`evaluateRandomized: ${sampleIndices.length} sample indices for a batch of ${B}`);
  if (!Number.isInteger(R) || R < 1) throw new RangeError(`evaluateRandomized: R must be a positive integer (got ${R})`);
  const rows = eotRows(sampleIndices, R);
  const N = B * R;
  const mb = Math.max(1, Math.floor(options.microBatch ?? 64));
  const preds = new Int32Array(N);
  const bar = options.logger?.progress(options.label ?? 'evaluate', N);
  for (let s = 0; s < N; s += mb) {
    const e = Math.min(N, s + mb);
    const p = tf.tidy(() => {
      const idx = tf.tensor1d(
        Array.from({ length: e - s }, (_, i) => Math.floor((s + i) / R)),
        'int32',
      );
      return tf.argMax(target.logits(tf.gather(x, idx) as tf.Tensor4D, rows.slice(s, e)), 1);
    });
    preds.set(p.dataSync() as Int32Array, s);
    p.dispose();
    bar?.tick(e - s);
  }
  bar?.done();
  return preds;
}

/**
 * Evaluate `x` (clean or adversarial) with R purifications per sample. Returns one record per sample.
 */
export function evaluateRandomized(
  target: AttackTarget,
  x: tf.Tensor4D,
  y: tf.Tensor1D | Int32Array | readonly number[],
  sampleIndices: readonly number[],
  R = 1,
  options: EvaluateOptions = {},
): SampleEvaluation[] {
  const labels = labelsOf(y);
  const preds = predictRandomized(target, x, sampleIndices, R, options);
  return sampleIndices.map((sample, b) => {
    const predictions = Array.from(preds.subarray(b * R, (b + 1) * R));
    return judge(sample, labels[b], predictions);
  });
}

/** The four verdicts of one sample from its R predictions. */
export function judge(sample: number, label: number, predictions: number[]): SampleEvaluation {
  const correct = predictions.map((p) => p === label);
  const nCorrect = correct.filter(Boolean).length;
  const votes = new Map<number, number>();
  for (const p of predictions) votes.set(p, (votes.get(p) ?? 0) + 1);
  let bestOther = 0;
  for (const [cls, v] of votes) if (cls !== label) bestOther = Math.max(bestOther, v);
  return {
    sample,
    label,
    predictions,
    correct,
    single: correct[0],
    mean: nCorrect / predictions.length,
    worst: nCorrect === predictions.length,
    majority: nCorrect > bestOther,
  };
}

/** Accuracies over samples (single draw, mean over draws, worst case, majority vote). */
export function summarizeEvaluation(records: readonly SampleEvaluation[]): EvaluationSummary {
  const n = records.length;
  const avg = (f: (r: SampleEvaluation) => number): number => (n === 0 ? 0 : records.reduce((a, r) => a + f(r), 0) / n);
  return {
    n,
    draws: n === 0 ? 0 : records[0].predictions.length,
    single: avg((r) => (r.single ? 1 : 0)),
    mean: avg((r) => r.mean),
    worst: avg((r) => (r.worst ? 1 : 0)),
    majority: avg((r) => (r.majority ? 1 : 0)),
  };
}
