/**
 * Helpers for attack diagnostics (contracts.ts, AttackDiagnostics): what an attack can compute from
 * the tensors it already holds, with one reduction and one read.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Per row of a gradient `[B, ...]`: true when the row is all zero or holds a NaN or an infinity (the
 * sum of absolute values is then 0, NaN or infinite), false otherwise.
 */
export function vanishedGradientRows(grad: tf.Tensor): boolean[] {
  const b = grad.shape[0] ?? 0;
  if (b === 0) return [];
  const s = tf.tidy(() => tf.sum(tf.abs(tf.reshape(grad, [b, -1])), 1));
  const v = s.dataSync();
  s.dispose();
  return Array.from(v, (x) => !(x > 0 && Number.isFinite(x)));
}
