/**
 * Gradient estimators. EoT (expectation over transformation) puts K replicas of every sample into the
 * batch dimension (rows `eotRows(samples, K)`, sample-major), micro-batched when K·B rows are too many
 * for one pass, and sums the K replica gradients per sample. BPDA is the gradient mode `bpda` of the
 * attack target (the framework's `purifyWithGradient`: identity backward through the purification, for
 * every defense); it composes with EoT.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkGradientMode,
  eotRows,
  IncompatiblePluginError,
  type Defense,
  lossFunction,
  purifyWithGradient,
  type AttackTarget,
  type GradientMode,
  type LossName,
} from '@dbp-bench/framework';

export interface EotOptions {
  /** Replicas per sample (K); 1 = a single draw. */
  readonly samples: number;
  /** Rows per forward+backward pass (K·B rows are split into chunks of this size). */
  readonly microBatch: number;
}

export interface EstimateOptions {
  readonly eot: EotOptions;
  readonly loss: LossName;
  /** Gradient mode; default: the target's. */
  readonly gradient?: GradientMode;
  /**
   * DiffAttack's deviated-reconstruction term (ALGORITHMS.md §14.2): with weight w != 0 the loss is
   * L_cls + w · L_dev through the defense's `purifyWithDeviation` (exact gradients only).
   */
  readonly deviation?: { readonly weight: number; readonly steps: 'all' | number };
  /** Also return the per-replica gradients (for the trajectory analysis). */
  readonly keepReplicaGradients?: boolean;
}

export interface GradientEstimate {
  /** Sum over the K replicas of d loss / d x, per sample: [B, H, W, C]. Caller disposes. */
  readonly grad: tf.Tensor4D;
  /** Mean loss over the K replicas, per sample. */
  readonly loss: Float32Array;
  /** Per replica (sample-major, B·K): loss, predicted class, correct. */
  readonly replicaLoss: Float32Array;
  readonly replicaPred: Int32Array;
  /** Fraction of the K replicas that classify the sample correctly. */
  readonly correctFraction: Float32Array;
  /** [B·K, H, W, C] replica gradients when asked for; caller disposes. */
  readonly replicaGrads?: tf.Tensor4D;
}

/** The defense's purifyWithDeviation, checked: exact gradients and a defense that provides it. */
function deviationOf(target: AttackTarget, gradient: GradientMode): NonNullable<Defense['purifyWithDeviation']> {
  const d = target.defense;
  if (gradient !== 'exact' || typeof d.purifyWithDeviation !== 'function') {
    throw new IncompatiblePluginError(
      `DiffAttack's deviation loss needs exact gradients through a diffusion defense with intermediate reverse states; defense '${d.id}' with gradient '${gradient}' has none`,
    );
  }
  return (x, noise, o) => d.purifyWithDeviation!(x, noise, o);
}

/**
 * EoT gradient of the per-sample loss at `x` (the adversarial point) for labels `y`. Each row is one
 * purification with the target's noise for row (sample, replica).
 */
export function estimateGradient(
  target: AttackTarget,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  sampleIndices: readonly number[],
  options: EstimateOptions,
): GradientEstimate {
  const B = x.shape[0];
  const K = Math.max(1, Math.floor(options.eot.samples));
  const mb = Math.max(1, Math.floor(options.eot.microBatch));
  const gradient = options.gradient ?? target.gradient;
  checkGradientMode(target.defense, gradient);
  if (sampleIndices.length !== B) throw new RangeError(`estimateGradient: ${sampleIndices.length} sample indices for a batch of ${B}`);
  const lossFn = lossFunction(options.loss);
  const dev = options.deviation && options.deviation.weight !== 0 ? deviationOf(target, gradient) : undefined;
  const rows = eotRows(sampleIndices, K);
  const N = B * K;
  const replicaLoss = new Float32Array(N);
  const replicaPred = new Int32Array(N);
  const parts: tf.Tensor4D[] = [];
  const yInt = tf.cast(y, 'int32') as tf.Tensor1D;
  try {
    for (let s = 0; s < N; s += mb) {
      const e = Math.min(N, s + mb);
      const idx = Array.from({ length: e - s }, (_, i) => Math.floor((s + i) / K));
      const part = tf.tidy(() => {
        const it = tf.tensor1d(idx, 'int32');
        const xr = tf.gather(x, it) as tf.Tensor4D;
        const yr = tf.gather(yInt, it) as tf.Tensor1D;
        const noise = target.noise(rows.slice(s, e));
        const f = (xx: tf.Tensor4D): tf.Tensor1D => {
          if (dev) {
            const { purified, deviation } = dev(xx, noise, { steps: options.deviation!.steps });
            const logits = target.classifier.logits(purified);
            replicaPred.set(tf.argMax(logits, 1).dataSync() as Int32Array, s);
            return tf.add(lossFn(logits, yr), tf.mul(deviation, options.deviation!.weight)) as tf.Tensor1D;
          }
          const purified = purifyWithGradient(target.defense, xx, noise, gradient);
          const logits = target.classifier.logits(purified);
          replicaPred.set(tf.argMax(logits, 1).dataSync() as Int32Array, s);
          return lossFn(logits, yr);
        };
        const { value, grad } = tf.valueAndGrad(f)(xr, tf.ones([e - s]) as tf.Tensor1D);
        replicaLoss.set(value.dataSync() as Float32Array, s);
        if (gradient === 'surrogate') {
          // The surrogate steers the step; the in-loop verdicts (step hook, any-iteration counts, the
          // attack's best-iterate choice) judge the defended process: one purification of it per
          // replica, outside the tape (ALGORITHMS.md §14.3).
          replicaPred.set(tf.argMax(target.classifier.logits(target.defense.purify(xr, noise)), 1).dataSync() as Int32Array, s);
        }
        return grad as tf.Tensor4D;
      });
      parts.push(part);
    }
  } catch (err) {
    for (const p of parts) p.dispose();
    yInt.dispose();
    throw err;
  }
  const labels = yInt.dataSync();
  yInt.dispose();
  const all = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor4D);
  if (parts.length > 1) for (const p of parts) p.dispose();
  const [, h, w, c] = x.shape;
  const grad =
    K === 1
      ? options.keepReplicaGradients
        ? all.clone()
        : all
      : tf.tidy(() => tf.sum(tf.reshape(all, [B, K, h, w, c]), 1) as tf.Tensor4D);
  let replicaGrads: tf.Tensor4D | undefined;
  if (options.keepReplicaGradients) replicaGrads = all;
  else if (grad !== all) all.dispose();
  const loss = new Float32Array(B);
  const correctFraction = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    let l = 0;
    let ok = 0;
    for (let k = 0; k < K; k++) {
      l += replicaLoss[b * K + k];
      if (replicaPred[b * K + k] === labels[b]) ok++;
    }
    loss[b] = l / K;
    correctFraction[b] = ok / K;
  }
  return { grad, loss, replicaLoss, replicaPred, correctFraction, replicaGrads };
}
