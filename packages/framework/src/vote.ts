/**
 * The `vote` wrapper (ALGORITHMS.md §14.6): classify by the plurality of K purifications. It wraps the
 * classifier-and-defense pair at target level (a Defense only purifies), so any defense can be
 * evaluated with and without voting.
 *
 * Draw r of a sample (evaluation row (sample, r)) runs K purifications with the noise of rows
 * (sample, r·K + k), k < K: copy k of draw 0 is EoT replica k of the inner target, so an attack with
 * EoT-K on the wrapped target differentiates the mean per-copy loss over the same K copies (the vote
 * itself is not differentiable). With `shareForward` the K copies share the `forward` draw of copy 0
 * (DensePure's inner vote); otherwise every stream is drawn independently per copy.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackTarget, GradientMode, NoiseRow, NoiseSource, NoiseStream } from '@dbp-bench/core';
import { DbpError } from '@dbp-bench/core';
import { isRecordingGradient } from './checkpoint';
import { purifiedLogits } from './policy-target';

/** How a tie between classes with the most votes is broken. */
export type VoteTies = 'lowest-index' | 'first-draw';
export const VOTE_TIES: readonly VoteTies[] = ['lowest-index', 'first-draw'];

export interface VoteOptions {
  /** K: purifications per vote (a positive integer). */
  readonly k: number;
  /** `lowest-index` (DiffBreak, Lee & Kim) or `first-draw` (DensePure: the label seen first). */
  readonly ties: VoteTies;
  /** The K copies share the forward-noise draw (DensePure); false: independent draws of every stream. */
  readonly shareForward: boolean;
}

/** Votes per class of one sample's K predictions (length `numClasses`; the counts sum to K). */
export function voteCounts(predictions: ArrayLike<number>, numClasses: number): Int32Array {
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < predictions.length; i++) {
    const c = predictions[i];
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new RangeError(`voteCounts: class ${c} outside [0, ${numClasses})`);
    counts[c]++;
  }
  return counts;
}

/** The plurality label of one sample's predictions (in draw order), ties broken by `ties`. */
export function voteLabel(predictions: ArrayLike<number>, numClasses: number, ties: VoteTies): number {
  if (predictions.length === 0) throw new RangeError('voteLabel: no predictions');
  const counts = voteCounts(predictions, numClasses);
  let best = 0;
  for (let c = 1; c < numClasses; c++) if (counts[c] > counts[best]) best = c;
  if (ties === 'lowest-index') return best;
  for (let i = 0; i < predictions.length; i++) if (counts[predictions[i]] === counts[best]) return predictions[i];
  return best;
}

/** Rows of the K copies of each row, sample-major: (sample, eot·K + k). */
export function voteRows(rows: readonly NoiseRow[], k: number): NoiseRow[] {
  const out: NoiseRow[] = [];
  for (const r of rows) for (let j = 0; j < k; j++) out.push({ sample: r.sample, eot: r.eot * k + j });
  return out;
}

/**
 * A noise source over copy rows whose `forward` draws are shared by the K copies of a vote: rows
 * (sample, e) with the same sample and floor(e / K) form a group; its forward tensor is drawn once
 * (for row (sample, floor(e / K)·K)) and repeated. Other streams pass through.
 */
export class SharedForwardNoise implements NoiseSource {
  constructor(
    private readonly base: NoiseSource,
    private readonly k: number,
  ) {}
  get rows(): readonly NoiseRow[] {
    return this.base.rows;
  }
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    if (stream.kind !== 'forward' || this.k === 1) return this.base.normal(stream, shape);
    const heads: NoiseRow[] = [];
    const where = new Map<string, number>();
    const idx = this.base.rows.map((r) => {
      const g = Math.floor(r.eot / this.k);
      const key = `${r.sample}:${g}`;
      let i = where.get(key);
      if (i === undefined) {
        i = heads.length;
        where.set(key, i);
        heads.push({ sample: r.sample, eot: g * this.k });
      }
      return i;
    });
    return tf.tidy(() => {
      const once = this.base.withRows(heads).normal(stream, [heads.length, ...shape.slice(1)]);
      return tf.gather(once, tf.tensor1d(idx, 'int32'));
    });
  }
  withRows(rows: readonly NoiseRow[]): NoiseSource {
    return new SharedForwardNoise(this.base.withRows(rows), this.k);
  }
  describe(): string {
    return `shared-forward(K=${this.k}, ${this.base.describe()})`;
  }
}

/**
 * The vote over K purifications of an inner target. `logits(x, rows)` outside a gradient tape (the
 * final evaluation) returns, per row, the vote counts with 0.5 added to the winning class (argmax = the
 * vote with its tie rule; floor = the counts); `predictions` gives the labels and counts directly.
 * Attacks use `classifier`, `defense` and `noise` of the wrapper, i.e. one copy per EoT replica.
 */
export class VoteTarget implements AttackTarget {
  readonly classifier: AttackTarget['classifier'];
  readonly defense: AttackTarget['defense'];
  readonly gradient: GradientMode;

  constructor(
    readonly inner: AttackTarget,
    readonly options: VoteOptions,
  ) {
    if (!Number.isInteger(options.k) || options.k < 1)
      throw new DbpError('E_ASSERT', `vote: k must be a positive integer, got ${options.k}`);
    if (!VOTE_TIES.includes(options.ties)) {
      throw new DbpError('E_ASSERT', `vote: ties must be one of ${VOTE_TIES.join(', ')}, got '${String(options.ties)}'`);
    }
    this.classifier = inner.classifier;
    this.defense = inner.defense;
    this.gradient = inner.gradient;
  }

  /** The noise of the rows as copies: EoT replica e of a sample is copy e of its first vote. */
  noise(rows: readonly NoiseRow[]): NoiseSource {
    const base = this.inner.noise(rows);
    return this.options.shareForward ? new SharedForwardNoise(base, this.options.k) : base;
  }

  /** Per row: the vote label and the per-class counts (sum K), from K purifications of that row. */
  predictions(x: tf.Tensor4D, rows: readonly NoiseRow[]): { labels: Int32Array; counts: Int32Array[]; copies: Int32Array } {
    const K = this.options.k;
    const B = x.shape[0];
    if (rows.length !== B) throw new RangeError(`VoteTarget: ${rows.length} rows for a batch of ${B}`);
    const copyRows = voteRows(rows, K);
    const { copies, numClasses } = tf.tidy(() => {
      const xr =
        K === 1
          ? x
          : (tf.gather(
              x,
              tf.tensor1d(
                copyRows.map((_, i) => Math.floor(i / K)),
                'int32',
              ),
            ) as tf.Tensor4D);
      const noise = this.noise(copyRows);
      const logits = this.classifier.logits(this.defense.purify(xr, noise));
      return { copies: tf.argMax(logits, 1).dataSync() as Int32Array, numClasses: logits.shape[1] };
    });
    const labels = new Int32Array(B);
    const counts: Int32Array[] = [];
    for (let b = 0; b < B; b++) {
      const p = copies.subarray(b * K, (b + 1) * K);
      counts.push(voteCounts(p, numClasses));
      labels[b] = voteLabel(p, numClasses, this.options.ties);
    }
    return { labels, counts, copies };
  }

  /**
   * Outside a gradient tape: the vote (see the class). Under a tape (an attack or a gradient check):
   * one differentiable copy per row, row (sample, e) being copy e, so EoT-K over these rows is the mean
   * per-copy loss over the K copies of the first vote.
   */
  logits(x: tf.Tensor4D, rows: readonly NoiseRow[]): tf.Tensor2D {
    if (isRecordingGradient()) return purifiedLogits(this.classifier, this.defense, x, this.noise(rows), this.gradient);
    const { labels, counts } = this.predictions(x, rows);
    const C = counts[0]?.length ?? 0;
    const data = new Float32Array(rows.length * C);
    counts.forEach((c, b) => {
      data.set(c, b * C);
      data[b * C + labels[b]] += 0.5;
    });
    return tf.tensor2d(data, [rows.length, C]);
  }

  describe(): string {
    const inner = (this.inner as { describe?: () => string }).describe?.() ?? 'target';
    return `vote(K=${this.options.k}, ties ${this.options.ties}${this.options.shareForward ? ', shared forward' : ''}) of ${inner}`;
  }
}
