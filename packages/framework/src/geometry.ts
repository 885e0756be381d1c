/**
 * Threat-model geometry, one home for the attacks, the adversarial trainers' inner maximisation and
 * CGPO: per-sample norms, the ascent direction of a step (sign for l_inf, normalised gradient for
 * l_2), projection onto the eps-ball and the [0, 1] box, the PGD step, and random starts
 * (ALGORITHMS.md §6.1, §6.2, §8.5). Tensors are NHWC batches; norms are taken per sample over H·W·C.
 *
 * The sign is `tf.sign`: on the wasm backend the framework registers its own `Sign` kernel (exact for
 * every float, subnormals included; see wasm/kernels.ts), so a step never drops tiny gradient entries.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Norm } from '@dbp-bench/core';
import { hash32, philoxNormals, philoxUniforms } from '@dbp-bench/core';

/** Added to the gradient's l_2 norm before dividing in an l_2 step: g / (||g||₂ + 1e-10) (ADDT code). */
export const L2_STEP_GUARD = 1e-10;

/** Per-sample l2 norm as [B, 1, 1, 1]. */
export function l2Norm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D);
}

/** Per-sample l_inf norm as [B, 1, 1, 1]. */
export function linfNorm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.max(tf.abs(t), [1, 2, 3], true) as tf.Tensor4D);
}

/** Per-sample norm as [B, 1, 1, 1]. */
export function perSampleNorm(t: tf.Tensor4D, norm: Norm): tf.Tensor4D {
  return norm === 'linf' ? linfNorm(t) : l2Norm(t);
}

/** Per-sample norms of `delta` as numbers. */
export function perSampleNorms(delta: tf.Tensor4D, norm: Norm): Float32Array {
  const n = tf.tidy(() => perSampleNorm(delta, norm).reshape([-1]));
  const out = n.dataSync() as Float32Array;
  n.dispose();
  return out;
}

/** t / (||t|| + guard) per sample. */
export function normalizePerSample(t: tf.Tensor4D, norm: Norm, guard: number): tf.Tensor4D {
  return tf.tidy(() => tf.div(t, tf.add(perSampleNorm(t, norm), guard)) as tf.Tensor4D);
}

/** The steepest-ascent direction of a step along `g`: sign(g) for l_inf, g / (||g||₂ + 1e-10) for l_2. */
export function ascentDirection(g: tf.Tensor4D, norm: Norm): tf.Tensor4D {
  return norm === 'linf' ? tf.sign(g) : normalizePerSample(g, 'l2', L2_STEP_GUARD);
}

/** t + stepSize · ascentDirection(g) (stepSize a number, or a [B,1,1,1] tensor of per-sample sizes). */
export function ascend(t: tf.Tensor4D, g: tf.Tensor4D, norm: Norm, stepSize: number | tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => tf.add(t, tf.mul(ascentDirection(g, norm), stepSize)) as tf.Tensor4D);
}

/**
 * Project `delta` onto the eps-ball: l_inf clip to [−ε, ε]; l_2 delta · min(1, ε/(||delta||₂ + guard)).
 * The attacks use guard 0 (as the ADDT code: a zero delta gives ε/0 = ∞ and the factor 1); the
 * trainers' inner maximisation uses 1e-10.
 */
export function projectBall(delta: tf.Tensor4D, norm: Norm, eps: number, guard = 0): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.clipByValue(delta, -eps, eps);
    const n = guard === 0 ? l2Norm(delta) : tf.add(l2Norm(delta), guard);
    return tf.mul(delta, tf.minimum(1, tf.div(eps, n))) as tf.Tensor4D;
  });
}

/** x + projectBall(xAdv − x) clipped to the [0, 1] box: the nearest admissible point in the threat model. */
export function projectOntoThreat(xAdv: tf.Tensor4D, x: tf.Tensor4D, norm: Norm, eps: number, guard = 0): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(x, projectBall(tf.sub(xAdv, x) as tf.Tensor4D, norm, eps, guard)), 0, 1) as tf.Tensor4D);
}

/**
 * One PGD step from `xAdv` with the (summed EoT) gradient `g`:
 * l_inf: delta ← clip(delta + α·sign(g), −ε, ε); l2: g ← g / (||g||₂ + 1e-10), delta ← delta + α·g,
 * delta ← delta·min(1, ε/||delta||₂); then x + delta is clipped to [0, 1]
 * (equivalently delta ← clip(delta, −x, 1 − x)).
 */
export function pgdStep(x: tf.Tensor4D, xAdv: tf.Tensor4D, g: tf.Tensor4D, norm: Norm, eps: number, stepSize: number): tf.Tensor4D {
  return tf.tidy(() => {
    const moved = ascend(tf.sub(xAdv, x) as tf.Tensor4D, g, norm, stepSize);
    return tf.clipByValue(tf.add(x, projectBall(moved, norm, eps)), 0, 1) as tf.Tensor4D;
  });
}

/**
 * Keyed random start inside the eps-ball, one draw per (seed, sample, restart), independent of the
 * batch: l_inf uniform in [−ε, ε]^D; l2 a uniform direction scaled by ε·u, u ~ U(0, 1). Clipped to the box.
 */
export function randomStart(
  x: tf.Tensor4D,
  sampleIndices: readonly number[],
  norm: Norm,
  eps: number,
  seed: number,
  restart: number,
  stream = 'pgd-random-start',
): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const per = h * w * c;
  const data = new Float32Array(b * per);
  const k0 = seed >>> 0;
  const k1 = hash32(stream);
  for (let i = 0; i < b; i++) {
    const row = data.subarray(i * per, (i + 1) * per);
    if (norm === 'linf') {
      philoxUniforms(row, sampleIndices[i] >>> 0, restart >>> 0, 0, k0, k1);
      for (let j = 0; j < per; j++) row[j] = (2 * row[j] - 1) * eps;
    } else {
      philoxNormals(row, sampleIndices[i] >>> 0, restart >>> 0, 0, k0, k1);
      let s = 0;
      for (let j = 0; j < per; j++) s += row[j] * row[j];
      const u = new Float32Array(1);
      philoxUniforms(u, sampleIndices[i] >>> 0, restart >>> 0, 1, k0, k1);
      const scale = (eps * u[0]) / Math.max(Math.sqrt(s), 1e-12);
      for (let j = 0; j < per; j++) row[j] *= scale;
    }
  }
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor4d(data, [b, h, w, c])), 0, 1) as tf.Tensor4D);
}

/**
 * Random start of a whole batch from one seed (tf.random ops, so it depends on the batch): l_inf
 * x + U(−ε, ε); l_2 x + ε·r·n/(||n||₂ + 1e-10) with n ~ N(0, I) (seed) and r ~ U(0, 1) per sample
 * (seed + 1); then projectOntoThreat with `guard`. Used by the adversarial trainers, whose batches
 * are drawn per step; attacks use the batch-independent `randomStart`.
 */
export function batchRandomStart(x: tf.Tensor4D, norm: Norm, eps: number, seed: number, guard = 0): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf')
      return projectOntoThreat(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', seed)) as tf.Tensor4D, x, norm, eps, guard);
    const n = tf.randomNormal(x.shape, 0, 1, 'float32', seed) as tf.Tensor4D;
    const r = tf.randomUniform([x.shape[0], 1, 1, 1], 0, 1, 'float32', seed + 1);
    return projectOntoThreat(
      tf.add(x, tf.mul(normalizePerSample(n, 'l2', L2_STEP_GUARD), tf.mul(r, eps))) as tf.Tensor4D,
      x,
      norm,
      eps,
      guard,
    );
  });
}
