/**
 * Threat-model geometry: per-sample norms, the PGD update rules of ALGORITHMS.md §6.1/§6.2, projection
 * onto the eps-ball and the [0, 1] box, and keyed random starts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hash32, philoxNormals, philoxUniforms, type Norm } from '@dbp-bench/framework';

/** Per-sample l2 norm as [B, 1, 1, 1]. */
export function l2Norm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D);
}

/** Per-sample l_inf norm as [B, 1, 1, 1]. */
export function linfNorm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.max(tf.abs(t), [1, 2, 3], true) as tf.Tensor4D);
}

/** Per-sample norms of `delta` as numbers. */
export function perSampleNorms(delta: tf.Tensor4D, norm: Norm): Float32Array {
  const n = tf.tidy(() => (norm === 'linf' ? linfNorm(delta) : l2Norm(delta)).reshape([-1]));
  const out = n.dataSync() as Float32Array;
  n.dispose();
  return out;
}

/** Project `delta` onto the eps-ball (l_inf: clip; l2: delta · min(1, eps/||delta||)). */
export function projectBall(delta: tf.Tensor4D, norm: Norm, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf') return tf.clipByValue(delta, -eps, eps);
    const n = l2Norm(delta);
    return tf.mul(delta, tf.minimum(1, tf.div(eps, n))) as tf.Tensor4D;
  });
}

/**
 * One PGD step from `xAdv` with the (summed EoT) gradient `g`:
 * l_inf: delta ← clip(delta + α·sign(g), −ε, ε); l2: g ← g / (||g||₂ + 1e-10), delta ← delta + α·g,
 * delta ← delta·min(1, ε/||delta||₂); then x + delta is clipped to [0, 1]
 * (equivalently delta ← clip(delta, −x, 1 − x)).
 */
export function pgdStep(x: tf.Tensor4D, xAdv: tf.Tensor4D, g: tf.Tensor4D, norm: Norm, eps: number, stepSize: number): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = tf.sub(xAdv, x) as tf.Tensor4D;
    let moved: tf.Tensor4D;
    if (norm === 'linf') {
      moved = tf.add(delta, tf.mul(tf.sign(g), stepSize)) as tf.Tensor4D;
    } else {
      const gn = tf.div(g, tf.add(l2Norm(g), 1e-10));
      moved = tf.add(delta, tf.mul(gn, stepSize)) as tf.Tensor4D;
    }
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

/** rows of `next` where mask[i] is true, rows of `prev` elsewhere (mask per sample). */
export function selectRows(mask: ArrayLike<boolean | number>, next: tf.Tensor4D, prev: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const m = tf.tensor4d(Array.from(mask, (v) => (v ? 1 : 0)), [mask.length, 1, 1, 1], 'bool');
    return tf.where(tf.broadcastTo(m, next.shape), next, prev) as tf.Tensor4D;
  });
}

/**
 * Write the rows of `sub` (one per entry of `positions`) into a copy of `full` at those positions.
 */
export function scatterRows(full: tf.Tensor4D, sub: tf.Tensor4D, positions: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const n = full.shape[0];
    const map = Array.from({ length: n }, (_, i) => sub.shape[0] + i);
    positions.forEach((p, j) => (map[p] = j));
    return tf.gather(tf.concat([sub, full], 0), tf.tensor1d(map, 'int32')) as tf.Tensor4D;
  });
}

/** Rows of a tensor at `positions`. */
export function gatherRows<T extends tf.Tensor>(t: T, positions: readonly number[]): T {
  return tf.tidy(() => tf.gather(t, tf.tensor1d(positions as number[], 'int32')) as T);
}
