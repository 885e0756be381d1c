/**
 * Classification losses on logits [N, C] and integer labels [N], one home for the attacks (per-row
 * losses to be maximised), the adversarial trainers (mean cross-entropy, TRADES' KL term) and ADDT's
 * classifier guidance (mean cross-entropy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { IncompatiblePluginError } from '@dbp-bench/core';

export type LossName = 'ce' | 'cw' | 'dlr';
export const LOSS_NAMES: readonly LossName[] = ['ce', 'cw', 'dlr'];

export type LossFn = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;

function oneHot(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses).toFloat() as tf.Tensor2D;
}

/** Cross-entropy -log softmax(z)_y per row. */
export function crossEntropyLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const oh = oneHot(labels, logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(oh, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/** Mean over the rows of the cross-entropy (the training loss). */
export function meanCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(crossEntropyLoss(logits, labels)) as tf.Scalar);
}

/** Sum over the batch of KL(p || softmax(logits)) with p given as probabilities (TRADES). */
export function klSum(pClean: tf.Tensor2D, logitsAdv: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logP = tf.log(tf.maximum(pClean, 1e-12));
    return tf.sum(tf.mul(pClean, tf.sub(logP, tf.logSoftmax(logitsAdv)))) as tf.Scalar;
  });
}

/** Largest logit among the classes other than y. */
function maxOther(logits: tf.Tensor2D, oh: tf.Tensor2D): tf.Tensor1D {
  return tf.max(tf.sub(logits, tf.mul(oh, 1e9)), 1) as tf.Tensor1D;
}

/** Carlini–Wagner margin max_{i≠y} z_i − z_y (as in AutoAttack's CW loss, no confidence clamp). */
export function cwLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const oh = oneHot(labels, logits.shape[1]);
    const zy = tf.sum(tf.mul(oh, logits), 1);
    return tf.sub(maxOther(logits, oh), zy) as tf.Tensor1D;
  });
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020): −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12),
 * with z_π1 ≥ z_π2 ≥ z_π3 the sorted logits. Needs at least 3 classes.
 */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const c = logits.shape[1];
  if (c < 3) throw new IncompatiblePluginError(`the DLR loss needs at least 3 classes; the classifier has ${c}`);
  return tf.tidy(() => {
    const oh = oneHot(labels, c);
    const zy = tf.sum(tf.mul(oh, logits), 1);
    // Sorted top-3 without TopK (which has no gradient in tfjs): mask out the argmax twice.
    const m1 = tf.oneHot(tf.argMax(logits, 1), c).toFloat();
    const z1 = tf.max(logits, 1);
    const l2 = tf.sub(logits, tf.mul(m1, 1e9));
    const m2 = tf.oneHot(tf.argMax(l2, 1), c).toFloat();
    const z3 = tf.max(tf.sub(l2, tf.mul(m2, 1e9)), 1);
    const num = tf.sub(zy, maxOther(logits, oh));
    return tf.neg(tf.div(num, tf.add(tf.sub(z1, z3), 1e-12))) as tf.Tensor1D;
  });
}

/** The per-row attack loss of a name. */
export function lossFunction(name: LossName): LossFn {
  switch (name) {
    case 'ce':
      return crossEntropyLoss;
    case 'cw':
      return cwLoss;
    case 'dlr':
      return dlrLoss;
    default:
      throw new IncompatiblePluginError(`unknown loss '${String(name)}'; expected one of ${LOSS_NAMES.join(', ')}`);
  }
}
